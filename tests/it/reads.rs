//! Reads through the gateway: merged, one-sided and ambiguous contacts, lists and history.

use std::collections::HashSet;

use casebook_ghl_gateway::sim::seed::{MatchCase, Presence};
use serde_json::{Value, json};

use crate::support::TestApp;

const BY_CASEBOOK_ID: &str = r#"
    query ($id: ID!) {
      contactByCasebookId(id: $id) {
        id displayName linkMethod emails phones tags
        casebook { id firstName lastName email phone phoneE164 }
        ghl { id email phone firstName }
        history(first: 50) {
          totalCount
          edges { cursor node { __typename id source nativeId occurredAt title } }
          pageInfo { hasNextPage }
        }
      }
    }"#;

const BY_GHL_ID: &str = r#"
    query ($id: ID!) {
      contactByGhlId(id: $id) { id linkMethod casebook { id } ghl { id firstName lastName } }
    }"#;

#[tokio::test]
async fn linked_contact_merges_both_sides() {
    let app = TestApp::start().await;
    let person = app.linked_person();
    let casebook = person.casebook.as_ref().unwrap();
    let ghl = person.ghl.as_ref().unwrap();

    let data = app.data(BY_CASEBOOK_ID, json!({ "id": casebook.id })).await;
    let contact = &data["contactByCasebookId"];

    assert_eq!(contact["casebook"]["id"], casebook.id.as_str());
    assert_eq!(contact["ghl"]["id"], ghl.id.as_str());
    assert_eq!(contact["linkMethod"], "EMAIL");
    assert_eq!(contact["ghl"]["firstName"], ghl.first_name.as_str());
    assert_eq!(
        contact["displayName"],
        format!("{} {}", casebook.first_name, casebook.last_name)
    );
    assert_eq!(
        contact["emails"].as_array().unwrap().len(),
        1,
        "one e-mail after normalising: {contact}"
    );
    assert_eq!(contact["tags"], json!(ghl.tags));

    let expected_total = casebook.tasks.len()
        + casebook.notes.len()
        + ghl.tasks.len()
        + ghl.notes.len()
        + ghl.appointments.len();
    assert_eq!(contact["history"]["totalCount"], expected_total);
    let sources: HashSet<&str> = contact["history"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["source"].as_str().unwrap())
        .collect();
    let has_casebook_children = !(casebook.tasks.is_empty() && casebook.notes.is_empty());
    let has_ghl_children =
        !(ghl.tasks.is_empty() && ghl.notes.is_empty() && ghl.appointments.is_empty());
    assert_eq!(sources.contains("CASEBOOK"), has_casebook_children);
    assert_eq!(sources.contains("GHL"), has_ghl_children);

    // The same contact is found from the GHL side.
    let data = app.data(BY_GHL_ID, json!({ "id": ghl.id })).await;
    assert_eq!(data["contactByGhlId"]["id"], contact["id"]);
    assert_eq!(
        data["contactByGhlId"]["casebook"]["id"],
        casebook.id.as_str()
    );
}

#[tokio::test]
async fn history_is_newest_first_and_pages_by_cursor() {
    let app = TestApp::start().await;
    let person = app
        .dataset
        .people
        .iter()
        .filter(|p| p.expect_linked())
        .max_by_key(|p| {
            let c = p.casebook.as_ref().unwrap();
            let g = p.ghl.as_ref().unwrap();
            c.tasks.len() + c.notes.len() + g.tasks.len() + g.notes.len() + g.appointments.len()
        })
        .unwrap();
    let casebook_id = &person.casebook.as_ref().unwrap().id;
    let page_query = r#"
        query ($id: ID!, $after: String) {
          contactByCasebookId(id: $id) {
            history(first: 2, after: $after) {
              totalCount
              edges { cursor node { nativeId occurredAt } }
              pageInfo { hasNextPage hasPreviousPage }
            }
          }
        }"#;

    let mut after: Option<String> = None;
    let mut seen: Vec<(String, String)> = Vec::new();
    loop {
        let data = app
            .data(page_query, json!({ "id": casebook_id, "after": after }))
            .await;
        let history = &data["contactByCasebookId"]["history"];
        for edge in history["edges"].as_array().unwrap() {
            seen.push((
                edge["node"]["nativeId"].as_str().unwrap().to_string(),
                edge["node"]["occurredAt"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            ));
            after = edge["cursor"].as_str().map(str::to_string);
        }
        if !history["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            assert_eq!(seen.len() as u64, history["totalCount"].as_u64().unwrap());
            break;
        }
    }
    let unique: HashSet<&String> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice");
    let times: Vec<&String> = seen
        .iter()
        .map(|(_, time)| time)
        .filter(|t| !t.is_empty())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first: {times:?}"
    );
}

#[tokio::test]
async fn one_sided_contacts_have_a_null_side() {
    let app = TestApp::start().await;

    let casebook_only = app.casebook_only().casebook.as_ref().unwrap();
    let data = app
        .data(BY_CASEBOOK_ID, json!({ "id": casebook_only.id }))
        .await;
    let contact = &data["contactByCasebookId"];
    assert_eq!(contact["casebook"]["id"], casebook_only.id.as_str());
    assert_eq!(contact["ghl"], Value::Null);
    assert_eq!(contact["linkMethod"], "SINGLE");

    let ghl_only = app.ghl_only().ghl.as_ref().unwrap();
    let data = app.data(BY_GHL_ID, json!({ "id": ghl_only.id })).await;
    let contact = &data["contactByGhlId"];
    assert_eq!(contact["ghl"]["id"], ghl_only.id.as_str());
    assert_eq!(contact["casebook"], Value::Null);
}

#[tokio::test]
async fn differently_formatted_phones_are_linked() {
    let app = TestApp::start().await;
    let person =
        app.person(|p| p.expect_linked() && p.match_case == MatchCase::PhoneWrittenDifferently);
    let casebook = person.casebook.as_ref().unwrap();
    let ghl = person.ghl.as_ref().unwrap();
    assert_ne!(
        casebook.phone, ghl.phone,
        "the data set writes the phones differently"
    );

    let data = app.data(BY_CASEBOOK_ID, json!({ "id": casebook.id })).await;
    let contact = &data["contactByCasebookId"];
    assert_eq!(contact["ghl"]["id"], ghl.id.as_str());
    assert_eq!(contact["linkMethod"], "PHONE");
    assert_eq!(contact["phones"], json!([ghl.phone.clone().unwrap()]));
    assert_eq!(
        contact["casebook"]["phone"],
        casebook.phone.clone().unwrap().as_str()
    );
    assert_eq!(
        contact["casebook"]["phoneE164"],
        ghl.phone.clone().unwrap().as_str()
    );
}

#[tokio::test]
async fn emails_in_another_case_are_linked() {
    let app = TestApp::start().await;
    let person =
        app.person(|p| p.expect_linked() && p.match_case == MatchCase::EmailWrittenDifferently);
    let casebook = person.casebook.as_ref().unwrap();
    let ghl = person.ghl.as_ref().unwrap();

    let data = app.data(BY_CASEBOOK_ID, json!({ "id": casebook.id })).await;
    assert_eq!(data["contactByCasebookId"]["ghl"]["id"], ghl.id.as_str());
    assert_eq!(data["contactByCasebookId"]["linkMethod"], "EMAIL");
}

#[tokio::test]
async fn ambiguous_match_stays_unlinked() {
    let app = TestApp::start().await;
    let person =
        app.person(|p| p.presence == Presence::Both && p.match_case == MatchCase::Ambiguous);
    let casebook = person.casebook.as_ref().unwrap();
    let ghl = person.ghl.as_ref().unwrap();

    let data = app.data(BY_CASEBOOK_ID, json!({ "id": casebook.id })).await;
    assert_eq!(data["contactByCasebookId"]["ghl"], Value::Null);

    let data = app.data(BY_GHL_ID, json!({ "id": ghl.id })).await;
    assert_eq!(data["contactByGhlId"]["casebook"], Value::Null);
    assert_eq!(data["contactByGhlId"]["linkMethod"], "SINGLE");
}

/// Number of unified contacts the data set should produce.
fn expected_contacts(app: &TestApp) -> usize {
    app.dataset
        .people
        .iter()
        .map(|p| match p.presence {
            Presence::Both if p.expect_linked() => 1,
            Presence::Both => 2,
            _ => 1,
        })
        .sum()
}

#[tokio::test]
async fn contacts_list_covers_both_systems_once() {
    let app = TestApp::start().await;
    let page_query = r#"
        query ($after: String) {
          contacts(first: 50, after: $after) {
            totalCount
            edges { cursor node { id casebook { id } ghl { id } } }
            pageInfo { hasNextPage hasPreviousPage endCursor }
          }
        }"#;

    let mut after: Option<String> = None;
    let mut ids = Vec::new();
    let mut casebook_ids = HashSet::new();
    let mut ghl_ids = HashSet::new();
    let mut total = None;
    for _ in 0..100 {
        let data = app.data(page_query, json!({ "after": after })).await;
        let page = &data["contacts"];
        total = page["totalCount"].as_u64();
        for edge in page["edges"].as_array().unwrap() {
            let node = &edge["node"];
            ids.push(node["id"].as_str().unwrap().to_string());
            if let Some(id) = node["casebook"]["id"].as_str() {
                assert!(
                    casebook_ids.insert(id.to_string()),
                    "Casebook person {id} listed twice"
                );
            }
            if let Some(id) = node["ghl"]["id"].as_str() {
                assert!(
                    ghl_ids.insert(id.to_string()),
                    "GHL contact {id} listed twice"
                );
            }
        }
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }

    let expected = expected_contacts(&app);
    assert_eq!(ids.len(), expected);
    assert_eq!(total, Some(expected as u64));
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "every contact once");
    let seeded_casebook = app
        .dataset
        .people
        .iter()
        .filter(|p| p.casebook.is_some())
        .count();
    let seeded_ghl = app
        .dataset
        .people
        .iter()
        .filter(|p| p.ghl.is_some())
        .count();
    assert_eq!(casebook_ids.len(), seeded_casebook);
    assert_eq!(ghl_ids.len(), seeded_ghl);
}

#[tokio::test]
async fn first_page_has_linked_and_one_sided_contacts() {
    let app = TestApp::start().await;
    let data = app
        .data(
            r#"{ contacts(first: 20) {
                   edges { node { displayName casebook { id } ghl { id }
                     history(first: 10) { edges { node { source nativeId } } } } }
                 } }"#,
            json!({}),
        )
        .await;
    let edges = data["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    let linked = edges
        .iter()
        .filter(|e| !e["node"]["casebook"].is_null() && !e["node"]["ghl"].is_null())
        .count();
    let casebook_only = edges.iter().filter(|e| e["node"]["ghl"].is_null()).count();
    assert!(linked > 0, "some contacts carry both sides");
    assert!(casebook_only > 0, "some contacts exist in Casebook only");
}

#[tokio::test]
async fn search_finds_contacts_on_both_sides() {
    let app = TestApp::start().await;
    let ghl_only = app.ghl_only().ghl.as_ref().unwrap();
    let email = ghl_only.email.clone().unwrap();
    let data = app
        .data(
            r#"query ($q: String) { contacts(query: $q, first: 10) { edges { node { ghl { id } casebook { id } } } } }"#,
            json!({ "q": email }),
        )
        .await;
    let ghl_ids: Vec<&str> = data["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["ghl"]["id"].as_str())
        .collect();
    assert!(ghl_ids.contains(&ghl_only.id.as_str()), "{data}");
}

#[tokio::test]
async fn node_resolves_every_kind() {
    let app = TestApp::start().await;
    let person = app.linked_person();
    let casebook_id = &person.casebook.as_ref().unwrap().id;
    let data = app.data(BY_CASEBOOK_ID, json!({ "id": casebook_id })).await;
    let contact = &data["contactByCasebookId"];

    let mut ids = vec![contact["id"].as_str().unwrap().to_string()];
    for edge in contact["history"]["edges"].as_array().unwrap() {
        ids.push(edge["node"]["id"].as_str().unwrap().to_string());
    }
    for id in ids {
        let data = app
            .data(
                "query ($id: ID!) { node(id: $id) { __typename id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            data["node"]["id"],
            id.as_str(),
            "node({id}) returns the same object"
        );
    }

    let data = app
        .data(
            "query ($id: ID!) { contact(id: $id) { id } }",
            json!({ "id": contact["id"] }),
        )
        .await;
    assert_eq!(data["contact"]["id"], contact["id"]);
}
