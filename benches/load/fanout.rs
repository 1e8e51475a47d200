//! Upstream requests and wall time of one `contacts(first: N)` query with every child list.

use std::{collections::BTreeMap, path::PathBuf, time::Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    check::{BodyCheck, check_response},
    load::append_record,
    target::{GraphqlTarget, NamedUrl},
    upstream::{self, SimCounts},
};

/// Everything `load fanout` needs.
pub struct FanoutSpec {
    pub case: String,
    pub target: GraphqlTarget,
    pub first: u32,
    pub query_file: PathBuf,
    pub ghl_sim: NamedUrl,
    pub casebook_sim: NamedUrl,
    pub casebook_batch_size: u32,
    pub cold_only: bool,
    pub out: PathBuf,
}

/// One execution of the query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Execution {
    pub wall_ms: f64,
    /// The failure kind when the response failed its check.
    pub failure: Option<String>,
    pub casebook: SimCounts,
    pub ghl: SimCounts,
}

/// The results-file line of `load fanout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutRecord {
    pub kind: String,
    pub case: String,
    pub first: u32,
    /// Contacts on the page that have a Casebook record.
    pub casebook_contacts: u64,
    /// Contacts on the page that have a GHL record.
    pub ghl_contacts: u64,
    pub casebook_batch_size: u32,
    /// 1 people page + 3 child kinds x ceil(Casebook contacts / batch size).
    pub expected_casebook: u64,
    /// 1 search + 3 child kinds x GHL contacts.
    pub expected_ghl: u64,
    pub cold: Execution,
    pub warm: Option<Execution>,
}

/// Expected Casebook requests: one people page, then one batched request per child kind
/// for every `batch_size` people.
pub fn expected_casebook(casebook_contacts: u64, batch_size: u32) -> u64 {
    1 + 3 * casebook_contacts.div_ceil(u64::from(batch_size.max(1)))
}

/// Expected GHL requests: one search, then tasks, notes and appointments of each contact,
/// because GHL has no multi-contact read.
// NOTE: a page of Casebook people only needs no GHL search, because the gateway takes
// their GHL ids from its link store; the measured count is then one below this.
pub fn expected_ghl(ghl_contacts: u64) -> u64 {
    1 + 3 * ghl_contacts
}

async fn execute(spec: &FanoutSpec, body: &str) -> anyhow::Result<(Execution, Option<Value>)> {
    let sims = [spec.casebook_sim.clone(), spec.ghl_sim.clone()];
    upstream::reset(&sims).await?;
    let started = Instant::now();
    let (status, bytes) = spec
        .target
        .post(body.to_string())
        .await
        .with_context(|| format!("the contacts query to {} failed", spec.target.url))?;
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let checked = check_response(BodyCheck::Gateway, status, &bytes);
    let mut counts = upstream::read(&sims).await?;
    let execution = Execution {
        wall_ms,
        failure: checked.as_ref().err().map(|failure| {
            eprintln!(
                "  {} failed its check ({}): {}",
                spec.case, failure.kind, failure.detail
            );
            failure.kind.clone()
        }),
        casebook: counts.remove("casebook").unwrap_or_default(),
        ghl: counts.remove("ghl").unwrap_or_default(),
    };
    Ok((execution, checked.ok()))
}

/// Counts the contacts of the page with a Casebook and with a GHL record.
fn count_sides(data: &Value) -> anyhow::Result<(u64, u64)> {
    let Some(edges) = data
        .pointer("/data/contacts/edges")
        .and_then(Value::as_array)
    else {
        bail!("the response has no data.contacts.edges array");
    };
    let has = |edge: &Value, side: &str| {
        edge.get("node")
            .and_then(|node| node.get(side))
            .is_some_and(|record| !record.is_null())
    };
    let casebook = edges.iter().filter(|edge| has(edge, "casebook")).count() as u64;
    let ghl = edges.iter().filter(|edge| has(edge, "ghl")).count() as u64;
    Ok((casebook, ghl))
}

/// Runs the query cold (the first time on this gateway), then once more warm, and appends
/// one record.
pub async fn run(spec: FanoutSpec) -> anyhow::Result<()> {
    let query = std::fs::read_to_string(&spec.query_file).with_context(|| {
        format!(
            "could not read the query file {}",
            spec.query_file.display()
        )
    })?;
    let body = json!({ "query": query, "variables": { "first": spec.first } }).to_string();

    let (cold, cold_data) = execute(&spec, &body).await?;
    let (casebook_contacts, ghl_contacts) = match &cold_data {
        Some(data) => count_sides(data)?,
        None => (0, 0),
    };
    let warm = if spec.cold_only {
        None
    } else {
        Some(execute(&spec, &body).await?.0)
    };

    let record = FanoutRecord {
        kind: "fanout".to_string(),
        case: spec.case.clone(),
        first: spec.first,
        casebook_contacts,
        ghl_contacts,
        casebook_batch_size: spec.casebook_batch_size,
        expected_casebook: expected_casebook(casebook_contacts, spec.casebook_batch_size),
        expected_ghl: expected_ghl(ghl_contacts),
        cold,
        warm,
    };
    print_summary(&record);
    append_record(&spec.out, &serde_json::to_value(&record)?)
}

fn routes(counts: &SimCounts) -> String {
    let parts: BTreeMap<&str, u64> = counts
        .routes
        .iter()
        .map(|(route, count)| (route.as_str(), *count))
        .collect();
    parts
        .iter()
        .map(|(route, count)| format!("{route} x{count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_summary(record: &FanoutRecord) {
    println!(
        "{}: {} contacts ({} with Casebook, {} with GHL), cold {:.1} ms",
        record.case,
        record.first,
        record.casebook_contacts,
        record.ghl_contacts,
        record.cold.wall_ms
    );
    let mut executions = vec![("cold", &record.cold)];
    if let Some(warm) = &record.warm {
        executions.push(("warm", warm));
    }
    for (name, execution) in executions {
        println!(
            "  {name}: Casebook {} requests ({}), GHL {} requests ({}){}",
            execution.casebook.total,
            routes(&execution.casebook),
            execution.ghl.total,
            routes(&execution.ghl),
            execution
                .failure
                .as_deref()
                .map(|kind| format!(", FAILED: {kind}"))
                .unwrap_or_default()
        );
    }
    println!(
        "  expected cold: Casebook 1 + 3 x ceil({} / {}) = {}, GHL 1 + 3 x {} = {}",
        record.casebook_contacts,
        record.casebook_batch_size,
        record.expected_casebook,
        record.ghl_contacts,
        record.expected_ghl
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_counts_follow_formula() {
        assert_eq!(expected_casebook(30, 100), 4);
        assert_eq!(expected_casebook(30, 20), 7);
        assert_eq!(expected_casebook(0, 20), 1);
        assert_eq!(expected_ghl(25), 76);
    }

    #[test]
    fn count_sides_reads_nodes() {
        let data = json!({"data": {"contacts": {"edges": [
            {"node": {"casebook": {"id": "1"}, "ghl": {"id": "a"}}},
            {"node": {"casebook": {"id": "2"}, "ghl": null}},
            {"node": {"casebook": null, "ghl": {"id": "b"}}}
        ]}}});
        assert_eq!(count_sides(&data).unwrap(), (2, 2));
        assert!(count_sides(&json!({"data": {}})).is_err());
    }
}
