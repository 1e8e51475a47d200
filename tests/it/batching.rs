//! Upstream call counts: batching, deduplication, caching and tenant isolation.

use std::collections::BTreeMap;

use casebook_ghl_gateway::{
    config::Config,
    demo::config_for,
    server::{self, Gateway},
    sim::{
        casebook::{self, CasebookSimOptions},
        ghl::{self, GhlSimOptions},
        seed::Dataset,
    },
};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::{API_KEY, TestApp};

const THIRTY_WITH_CHILDREN: &str = r#"{
  contacts(first: 30) {
    edges { node {
      casebook { id } ghl { id }
      tasks { id } notes { id } appointments { id }
    } }
  }
}"#;

/// Native ids on one page of `contacts`.
fn page_ids(data: &Value, side: &str) -> Vec<String> {
    data["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|edge| edge["node"][side]["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn thirty_contacts_need_one_call_per_casebook_kind_and_no_duplicate_ghl_call() {
    let app = TestApp::start().await;
    app.reset_stats();

    let data = app.data(THIRTY_WITH_CHILDREN, json!({})).await;

    let casebook_people = page_ids(&data, "casebook");
    let ghl_contacts = page_ids(&data, "ghl");
    assert_eq!(
        casebook_people.len(),
        30,
        "the first page is Casebook's people"
    );
    let distinct_ghl = ghl_contacts
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    assert_eq!(distinct_ghl, ghl_contacts.len());

    // Casebook: one people page, then one batch per child kind (notes and the Meeting
    // notes that stand in for appointments share the notes route).
    assert_eq!(app.calls(&app.casebook, "GET /people/people"), 1);
    assert_eq!(app.calls(&app.casebook, "GET /tasks/tasks"), 1);
    assert_eq!(app.calls(&app.casebook, "GET /attachments/notes"), 2);
    assert_eq!(app.casebook.control.total(), 4);

    // GHL: one read per linked contact and child kind, never the same contact twice,
    // and no whole-contact read because the page asked only for ids.
    let linked = ghl_contacts.len() as u64;
    assert_eq!(
        app.calls(&app.ghl, "GET /contacts/{contactId}/tasks"),
        linked
    );
    assert_eq!(
        app.calls(&app.ghl, "GET /contacts/{contactId}/notes"),
        linked
    );
    assert_eq!(
        app.calls(&app.ghl, "GET /contacts/{contactId}/appointments"),
        linked
    );
    assert_eq!(app.calls(&app.ghl, "GET /contacts/{contactId}"), 0);
    assert_eq!(app.ghl.control.total(), 3 * linked);
}

#[tokio::test]
async fn casebook_children_come_in_batches_of_the_configured_size() {
    const BATCH: usize = 7;
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.upstream.casebook_max_ids_per_request = BATCH;
    })
    .await;
    app.reset_stats();

    let data = app.data(THIRTY_WITH_CHILDREN, json!({})).await;

    let people = page_ids(&data, "casebook").len();
    assert_eq!(people, 30);
    let batches = people.div_ceil(BATCH) as u64;
    assert_eq!(app.calls(&app.casebook, "GET /tasks/tasks"), batches);
    assert_eq!(
        app.calls(&app.casebook, "GET /attachments/notes"),
        2 * batches
    );
    assert_eq!(app.calls(&app.casebook, "GET /people/people"), 1);
}

#[tokio::test]
async fn repeated_query_within_ttl_makes_no_upstream_call() {
    let app = TestApp::start().await;
    let first = app.data(THIRTY_WITH_CHILDREN, json!({})).await;
    app.reset_stats();

    let second = app.data(THIRTY_WITH_CHILDREN, json!({})).await;

    assert_eq!(first, second);
    assert_eq!(
        app.casebook.control.total(),
        0,
        "{}",
        app.casebook.control.stats()
    );
    assert_eq!(app.ghl.control.total(), 0, "{}", app.ghl.control.stats());
}

#[tokio::test]
async fn named_query_repeat_reuses_whole_response() {
    let app = TestApp::start().await;
    let id = app.ghl_only().ghl.as_ref().unwrap().id.clone();
    // One named operation, sent without `operationName`, as most clients do.
    let query =
        "query GhlContact($id: ID!) { contactByGhlId(id: $id) { ghl { id } tasks { id } } }";
    let first = app.data(query, json!({ "id": id })).await;
    let metrics = app.gateway.gateway.metrics();
    let record_hits = metrics.sum("gateway_cache_hits_total", &[("kind", "contact")]);
    let response_hits = metrics.sum("gateway_cache_hits_total", &[("kind", "list")]);

    let second = app.data(query, json!({ "id": id })).await;

    assert_eq!(first, second);
    assert_eq!(
        metrics.sum("gateway_cache_hits_total", &[("kind", "list")]),
        response_hits + 1,
        "the stored response is reused"
    );
    assert_eq!(
        metrics.sum("gateway_cache_hits_total", &[("kind", "contact")]),
        record_hits,
        "the query is not executed again"
    );
}

#[tokio::test]
async fn no_cache_header_reads_through() {
    let app = TestApp::start().await;
    app.data(THIRTY_WITH_CHILDREN, json!({})).await;
    app.reset_stats();

    let response = app
        .http
        .post(app.graphql_url())
        .bearer_auth(API_KEY)
        .header("Cache-Control", "no-cache")
        .json(&json!({ "query": THIRTY_WITH_CHILDREN }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    assert_eq!(app.calls(&app.casebook, "GET /tasks/tasks"), 1);
    assert!(app.calls(&app.ghl, "GET /contacts/{contactId}/tasks") > 0);
    app.reset_stats();
    app.data(THIRTY_WITH_CHILDREN, json!({})).await;
    assert_eq!(
        app.casebook.control.total() + app.ghl.control.total(),
        0,
        "refreshed entries serve the next read"
    );
}

#[tokio::test]
async fn concurrent_cold_requests_share_upstream_calls() {
    let app = TestApp::start().await;
    let ghl_id = app.ghl_only().ghl.as_ref().unwrap().id.clone();
    app.reset_stats();

    let query = "query ($id: ID!) { contactByGhlId(id: $id) { ghl { firstName email } tasks { id } notes { id } } }";
    let responses = join_all((0..20).map(|_| app.query(query, json!({ "id": ghl_id })))).await;

    for body in &responses {
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(body, &responses[0]);
    }
    assert_eq!(app.calls(&app.ghl, "GET /contacts/{contactId}"), 1);
    assert_eq!(app.calls(&app.ghl, "GET /contacts/{contactId}/tasks"), 1);
    assert_eq!(app.calls(&app.ghl, "GET /contacts/{contactId}/notes"), 1);
}

#[tokio::test]
async fn metrics_count_upstream_calls_and_cache_outcomes() {
    let app = TestApp::start().await;
    app.data(THIRTY_WITH_CHILDREN, json!({})).await;
    app.data(THIRTY_WITH_CHILDREN, json!({})).await;

    let metrics = app.gateway.gateway.metrics();
    assert!(metrics.sum("gateway_cache_hits_total", &[]) > 0);
    assert!(metrics.sum("gateway_cache_misses_total", &[]) > 0);
    let text = app
        .http
        .get(format!("{}/metrics", app.gateway.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("gateway_cache_hits_total"), "{text}");
    assert!(text.contains("gateway_upstream_requests_total"), "{text}");
}

/// The default data set with every name changed, so a record read under the wrong tenant
/// would show.
fn renamed(dataset: &Dataset) -> Dataset {
    let mut other = dataset.clone();
    for person in &mut other.people {
        if let Some(casebook) = person.casebook.as_mut() {
            casebook.first_name = format!("Other{}", casebook.first_name);
        }
        if let Some(ghl) = person.ghl.as_mut() {
            ghl.first_name = format!("Other{}", ghl.first_name);
        }
    }
    other
}

#[tokio::test]
async fn tenants_with_the_same_native_ids_never_see_each_other() {
    let loopback = "127.0.0.1:0".parse().unwrap();
    let first = Dataset::default();
    let second = renamed(&first);
    let mut sims = Vec::new();
    for dataset in [&first, &second] {
        let casebook = casebook::start(loopback, dataset, CasebookSimOptions::default())
            .await
            .unwrap();
        let ghl = ghl::start(loopback, dataset, GhlSimOptions::default())
            .await
            .unwrap();
        sims.push((casebook, ghl));
    }
    let tenant = |index: usize, key: &str| {
        let (casebook, ghl) = &sims[index];
        config_for(&casebook.base_url, &ghl.base_url, key, "sqlite::memory:")
            .tenants
            .into_values()
            .next()
            .unwrap()
    };
    let mut config: Config = config_for(
        &sims[0].0.base_url,
        &sims[0].1.base_url,
        "key-first",
        "sqlite::memory:",
    );
    config.tenants = BTreeMap::from([
        ("first".to_string(), tenant(0, "key-first")),
        ("second".to_string(), tenant(1, "key-second")),
    ]);
    let gateway = server::start(Gateway::build(&config).await.unwrap(), loopback)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/graphql", gateway.base_url());

    let person = first.linked().next().unwrap();
    let casebook_id = &person.casebook.as_ref().unwrap().id;
    let ghl_id = &person.ghl.as_ref().unwrap().id;
    let query = json!({
        "query": "query ($c: ID!, $g: ID!) {
            a: contactByCasebookId(id: $c) { casebook { firstName } ghl { firstName } tasks { title } }
            b: contactByGhlId(id: $g) { ghl { firstName } casebook { firstName } } }",
        "variables": { "c": casebook_id, "g": ghl_id },
    });
    // Each tenant reads twice, so the second read of each comes from a warm cache.
    for round in 0..2 {
        for (key, prefix) in [("key-first", ""), ("key-second", "Other")] {
            let body: Value = http
                .post(&url)
                .bearer_auth(key)
                .json(&query)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(body.get("errors").is_none(), "{body:#}");
            let expected = format!("{prefix}{}", person.first_name);
            for path in [
                ["a", "casebook"],
                ["a", "ghl"],
                ["b", "ghl"],
                ["b", "casebook"],
            ] {
                assert_eq!(
                    body["data"][path[0]][path[1]]["firstName"],
                    expected.as_str(),
                    "round {round}, tenant {key}, {path:?}: {body:#}"
                );
            }
        }
    }
}
