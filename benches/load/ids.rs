//! Variables files for the load cases: which contacts the requests read.

use anyhow::{Context, bail};
use casebook_ghl_gateway::sim::seed::{Dataset, Presence};
use serde_json::{Value, json};

use crate::{
    check::{BodyCheck, check_response},
    target::GraphqlTarget,
};

/// Prints `[{"id": ...}]` with the gateway ids of the first `count` contacts that have both
/// a Casebook and a GHL record, so each history read touches both systems.
pub async fn print_contact_ids(target: &GraphqlTarget, count: u32) -> anyhow::Result<()> {
    if count == 0 || count > 100 {
        bail!("invalid --count {count}: use 1 to 100");
    }
    let query = "query($first: Int!) { contacts(first: $first) { edges { node { id casebookId ghlId } } } }";
    let body = json!({ "query": query, "variables": { "first": 100 } }).to_string();
    let (status, bytes) = target
        .post(body)
        .await
        .with_context(|| format!("the contacts query to {} failed", target.url))?;
    let data = check_response(BodyCheck::Gateway, status, &bytes).map_err(|failure| {
        anyhow::anyhow!(
            "the contacts query failed its check ({}): {}",
            failure.kind,
            failure.detail
        )
    })?;
    let ids = linked_contact_ids(&data, count as usize);
    if ids.is_empty() {
        bail!("the first 100 contacts include none with both a Casebook and a GHL record");
    }
    println!("{}", Value::Array(ids));
    Ok(())
}

fn linked_contact_ids(data: &Value, count: usize) -> Vec<Value> {
    let edges = data
        .pointer("/data/contacts/edges")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    edges
        .iter()
        .filter_map(|edge| edge.get("node"))
        .filter(|node| !node["casebookId"].is_null() && !node["ghlId"].is_null())
        .filter_map(|node| node["id"].as_str())
        .take(count)
        .map(|id| json!({ "id": id }))
        .collect()
}

/// Prints `[{"id": ...}]` with GHL ids of people who exist in GHL only in the seeded data.
pub fn print_ghl_only_ids(seed: u64, people: usize, count: usize) -> anyhow::Result<()> {
    if count == 0 {
        bail!("invalid --count 0: use at least 1");
    }
    let dataset = Dataset::generate(seed, people);
    let ids: Vec<Value> = dataset
        .people
        .iter()
        .filter(|person| person.presence == Presence::GhlOnly)
        .filter_map(|person| person.ghl.as_ref())
        .take(count)
        .map(|ghl| json!({ "id": ghl.id }))
        .collect();
    if ids.len() < count {
        bail!(
            "the data set of seed {seed} with {people} people has {} GHL-only contacts, fewer than --count {count}",
            ids.len()
        );
    }
    println!("{}", Value::Array(ids));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_contact_ids_skip_one_sided() {
        let data = json!({"data": {"contacts": {"edges": [
            {"node": {"id": "c1", "casebookId": "p1", "ghlId": null}},
            {"node": {"id": "c2", "casebookId": "p2", "ghlId": "g2"}},
            {"node": {"id": "c3", "casebookId": "p3", "ghlId": "g3"}}
        ]}}});
        assert_eq!(linked_contact_ids(&data, 1), vec![json!({"id": "c2"})]);
        assert_eq!(linked_contact_ids(&data, 5).len(), 2);
    }
}
