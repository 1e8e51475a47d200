//! Retries, the circuit breaker and unreadable upstream answers.

use std::time::{Duration, Instant};

use casebook_ghl_gateway::sim::seed::Dataset;
use serde_json::{Value, json};

use crate::support::{TestApp, error_codes, errors};

const GHL_CONTACT: &str = "query ($id: ID!) { contactByGhlId(id: $id) { ghl { firstName } } }";

#[tokio::test]
async fn rate_limited_read_is_retried_after_retry_after() {
    let app = TestApp::start().await;
    let ghl = app.ghl_only().ghl.as_ref().unwrap().clone();
    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": format!("/contacts/{}", ghl.id), "status": 429, "retry_after_s": 1, "times": 1 }),
    )
    .await;
    app.reset_stats();

    let started = Instant::now();
    let data = app.data(GHL_CONTACT, json!({ "id": ghl.id })).await;

    assert_eq!(
        data["contactByGhlId"]["ghl"]["firstName"],
        ghl.first_name.as_str()
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(
        app.calls(&app.ghl, "GET /contacts/{contactId}"),
        2,
        "one retry"
    );
}

#[tokio::test]
async fn writes_are_not_retried_blindly() {
    // A long backoff keeps the outbox worker from retrying during the test.
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.writes.backoff_base_ms = 60_000;
        config.writes.backoff_max_ms = 60_000;
    })
    .await;
    app.fault(
        &app.ghl,
        json!({ "method": "POST", "path": "/contacts/", "status": 503, "times": 1 }),
    )
    .await;
    app.reset_stats();

    let data = app
        .data(
            "mutation { createContact(input: { firstName: \"No\", lastName: \"Retry\", email: \"no.retry@example.org\" }) { ghl } }",
            json!({}),
        )
        .await;

    assert_eq!(data["createContact"]["ghl"], "PENDING");
    assert_eq!(
        app.calls(&app.ghl, "POST /contacts/"),
        1,
        "the POST went once; the outbox owns the retry"
    );
}

#[tokio::test]
async fn breaker_opens_on_casebook_outage_and_closes_after_recovery() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.upstream.breaker.failure_threshold = 3;
        config.upstream.breaker.cool_down_ms = 1_500;
        config.upstream.retry.max_attempts = 1;
        config.cache.enabled = false;
    })
    .await;
    let person = app.linked_person();
    let ghl_id = person.ghl.as_ref().unwrap().id.clone();
    let query =
        "query ($id: ID!) { contactByGhlId(id: $id) { ghl { email } casebook { firstName } } }";
    app.fault(
        &app.casebook,
        json!({ "path": "/people/people", "status": 503 }),
    )
    .await;
    app.reset_stats();

    let mut codes = Vec::new();
    for _ in 0..6 {
        let body = app.query(query, json!({ "id": ghl_id })).await;
        assert_eq!(
            body["data"]["contactByGhlId"]["ghl"]["email"],
            json!(person.ghl.as_ref().unwrap().email),
            "{body:#}"
        );
        codes.extend(error_codes(&body));
    }
    assert!(
        codes.iter().all(|code| code == "UPSTREAM_UNAVAILABLE"),
        "{codes:?}"
    );
    assert_eq!(
        app.calls(&app.casebook, "GET /people/people"),
        3,
        "calls stop once the breaker is open"
    );

    app.casebook.control.clear_faults();
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let data = app.data(query, json!({ "id": ghl_id })).await;
    assert_eq!(
        data["contactByGhlId"]["casebook"]["firstName"],
        person.casebook.as_ref().unwrap().first_name.as_str(),
        "Casebook is used again after the cool-down"
    );
}

/// Casebook returns 503 for a whole minute while a client keeps reading twice a second.
#[tokio::test]
async fn minute_long_casebook_outage_opens_breaker() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.upstream.breaker.cool_down_ms = 10_000;
        config.cache.enabled = false;
    })
    .await;
    let person = app.linked_person();
    let ghl_id = person.ghl.as_ref().unwrap().id.clone();
    let email = json!(person.ghl.as_ref().unwrap().email);
    let query =
        "query ($id: ID!) { contactByGhlId(id: $id) { ghl { email } casebook { firstName } } }";
    app.fault(
        &app.casebook,
        json!({ "path": "/people/people", "status": 503 }),
    )
    .await;
    app.reset_stats();

    let outage = Instant::now();
    let mut queries = 0;
    while outage.elapsed() < Duration::from_secs(60) {
        let body = app.query(query, json!({ "id": ghl_id })).await;
        assert_eq!(
            body["data"]["contactByGhlId"]["ghl"]["email"], email,
            "{body:#}"
        );
        assert_eq!(body["data"]["contactByGhlId"]["casebook"], Value::Null);
        assert_eq!(error_codes(&body), vec!["UPSTREAM_UNAVAILABLE"], "{body:#}");
        queries += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let calls = app.calls(&app.casebook, "GET /people/people");
    assert!(queries >= 100, "the client kept reading: {queries}");
    // Five failed attempts open the breaker, then one probe per 10 s cool-down.
    assert!(calls <= 12, "{calls} Casebook calls in {queries} queries");

    app.casebook.control.clear_faults();
    let recovery = Instant::now();
    loop {
        let body = app.query(query, json!({ "id": ghl_id })).await;
        if errors(&body).is_empty() {
            assert_eq!(
                body["data"]["contactByGhlId"]["casebook"]["firstName"],
                person.casebook.as_ref().unwrap().first_name.as_str()
            );
            break;
        }
        assert!(
            recovery.elapsed() < Duration::from_secs(15),
            "Casebook is used again within one cool-down: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn malformed_json_is_a_bad_response_and_not_cached() {
    let app = TestApp::start().await;
    let ghl = app.ghl_only().ghl.as_ref().unwrap().clone();
    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": format!("/contacts/{}", ghl.id), "malformed_json": true, "times": 1 }),
    )
    .await;

    let body = app.query(GHL_CONTACT, json!({ "id": ghl.id })).await;
    assert_eq!(
        error_codes(&body),
        vec!["UPSTREAM_BAD_RESPONSE".to_string()],
        "{body:#}"
    );
    assert_eq!(errors(&body)[0]["extensions"]["system"], "GHL");
    assert_eq!(body["data"]["contactByGhlId"], Value::Null);

    let data = app.data(GHL_CONTACT, json!({ "id": ghl.id })).await;
    assert_eq!(
        data["contactByGhlId"]["ghl"]["firstName"],
        ghl.first_name.as_str(),
        "the bad answer was not cached"
    );
}

const CREATE_CONTACT: &str = r#"
    mutation ($input: CreateContactInput!) {
      createContact(input: $input) { casebook ghl contact { casebook { id } ghl { id } } }
    }"#;

#[tokio::test]
async fn slow_query_gets_gateway_timeout_error() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.query_timeout_s = 1;
    })
    .await;
    let ghl = app.ghl_only().ghl.as_ref().unwrap().clone();
    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": format!("/contacts/{}", ghl.id), "delay_ms": 3000 }),
    )
    .await;

    let response = app
        .http
        .post(app.graphql_url())
        .bearer_auth(crate::support::API_KEY)
        .json(&json!({ "query": GHL_CONTACT, "variables": { "id": ghl.id } }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.expect("a GraphQL error body");
    assert_eq!(error_codes(&body), ["GATEWAY_TIMEOUT"]);
    let message = errors(&body)[0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("1 s"), "{message}");
    assert!(message.contains("query_timeout_s"), "{message}");
}

#[tokio::test]
async fn mutation_outlives_query_timeout_and_disconnect() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.query_timeout_s = 1;
    })
    .await;
    // GHL creates the contact, then sends its response 2 s later.
    app.fault(
        &app.ghl,
        json!({ "method": "POST", "path": "/contacts/", "delay_after_ms": 2000, "times": 2 }),
    )
    .await;

    let input = |email: &str| json!({ "firstName": "Slow", "lastName": "Write", "email": email });
    let data = app
        .data(
            CREATE_CONTACT,
            json!({ "input": input("slow.write@example.org") }),
        )
        .await;
    assert_eq!(data["createContact"]["casebook"], "SYNCED");
    assert_eq!(data["createContact"]["ghl"], "SYNCED");

    // A client that gives up after 300 ms: the gateway still finishes both writes.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let abandoned = client
        .post(app.graphql_url())
        .bearer_auth(crate::support::API_KEY)
        .json(&json!({ "query": CREATE_CONTACT, "variables": { "input": input("gone.away@example.org") } }))
        .send()
        .await;
    assert!(abandoned.is_err(), "the client timed out");
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let body = app
        .query(
            "{ contacts(query: \"gone.away@example.org\", first: 5) { edges { node { casebook { id } ghl { id } } } } }",
            json!({}),
        )
        .await;
    let edges = body["data"]["contacts"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), 1, "{body:#}");
    assert!(edges[0]["node"]["casebook"]["id"].is_string(), "{body:#}");
    assert!(edges[0]["node"]["ghl"]["id"].is_string(), "{body:#}");
}
