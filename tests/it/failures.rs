//! Upstream failures become GraphQL errors with a path and a code; the other side is served.

use serde_json::{Value, json};

use crate::support::{TestApp, error_codes, errors};

const BOTH_SIDES: &str = r#"
    query ($id: ID!) {
      contactByCasebookId(id: $id) {
        id
        casebook { id firstName }
        ghl { id email }
      }
    }"#;

const BOTH_SIDES_BY_GHL: &str = r#"
    query ($id: ID!) {
      contactByGhlId(id: $id) {
        id
        casebook { id firstName }
        ghl { id email firstName }
        tasks { source nativeId }
      }
    }"#;

/// Fails Casebook's person reads with `status` and checks the code, the path and the GHL data.
async fn casebook_failure_keeps_ghl(status: u16, expected_code: &str) {
    let app = TestApp::start().await;
    let person = app.linked_person();
    let ghl = person.ghl.as_ref().unwrap();
    app.fault(
        &app.casebook,
        json!({ "method": "GET", "path": "/people/people", "status": status }),
    )
    .await;

    let body = app.query(BOTH_SIDES_BY_GHL, json!({ "id": ghl.id })).await;

    let contact = &body["data"]["contactByGhlId"];
    assert_eq!(
        contact["ghl"]["id"],
        ghl.id.as_str(),
        "GHL side still served: {body:#}"
    );
    assert_eq!(contact["ghl"]["email"], json!(ghl.email));
    assert_eq!(contact["casebook"], Value::Null);
    assert!(
        contact.as_object().unwrap().contains_key("casebook"),
        "a failed nullable field is present as null: {body:#}"
    );
    let errors = errors(&body);
    let casebook_error = errors
        .iter()
        .find(|e| e["path"] == json!(["contactByGhlId", "casebook"]))
        .unwrap_or_else(|| panic!("an error at contactByGhlId.casebook: {body:#}"));
    assert_eq!(casebook_error["extensions"]["code"], expected_code);
    assert_eq!(casebook_error["extensions"]["system"], "CASEBOOK");
    assert_no_secrets(&app, &body);
}

#[tokio::test]
async fn casebook_500_is_upstream_unavailable() {
    casebook_failure_keeps_ghl(500, "UPSTREAM_UNAVAILABLE").await;
}

#[tokio::test]
async fn casebook_401_is_upstream_unauthorized() {
    casebook_failure_keeps_ghl(401, "UPSTREAM_UNAUTHORIZED").await;
}

#[tokio::test]
async fn ghl_404_is_not_found_and_keeps_casebook() {
    let app = TestApp::start().await;
    let person = app.linked_person();
    let casebook = person.casebook.as_ref().unwrap();
    let ghl = person.ghl.as_ref().unwrap();
    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": format!("/contacts/{}", ghl.id), "status": 404 }),
    )
    .await;

    let body = app.query(BOTH_SIDES, json!({ "id": casebook.id })).await;

    let contact = &body["data"]["contactByCasebookId"];
    assert_eq!(
        contact["casebook"]["firstName"],
        casebook.first_name.as_str(),
        "{body:#}"
    );
    assert_eq!(contact["ghl"]["email"], Value::Null);
    let error = errors(&body)
        .into_iter()
        .find(|e| e["path"] == json!(["contactByCasebookId", "ghl", "email"]))
        .unwrap_or_else(|| panic!("an error at the GHL field: {body:#}"));
    assert_eq!(error["extensions"]["code"], "NOT_FOUND");
    assert_eq!(error["extensions"]["system"], "GHL");
    assert_no_secrets(&app, &body);
}

#[tokio::test]
async fn ghl_failure_keeps_casebook() {
    let app = TestApp::start().await;
    let person = app.linked_person();
    let casebook = person.casebook.as_ref().unwrap();
    let ghl = person.ghl.as_ref().unwrap();
    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": format!("/contacts/{}", ghl.id), "status": 500 }),
    )
    .await;

    let body = app.query(BOTH_SIDES, json!({ "id": casebook.id })).await;

    let contact = &body["data"]["contactByCasebookId"];
    assert_eq!(
        contact["casebook"]["firstName"],
        casebook.first_name.as_str()
    );
    assert_eq!(
        contact["ghl"]["id"],
        ghl.id.as_str(),
        "the id needs no GHL call: {body:#}"
    );
    assert_eq!(contact["ghl"]["email"], Value::Null);
    let ghl_error = errors(&body)
        .into_iter()
        .find(|e| e["path"] == json!(["contactByCasebookId", "ghl", "email"]))
        .unwrap_or_else(|| panic!("an error at the GHL field: {body:#}"));
    assert_eq!(ghl_error["extensions"]["code"], "UPSTREAM_UNAVAILABLE");
    assert_eq!(ghl_error["extensions"]["system"], "GHL");
    assert_eq!(ghl_error["extensions"]["upstreamStatus"], 500);
    assert_no_secrets(&app, &body);
}

#[tokio::test]
async fn ghl_unauthorized_tasks_keep_casebook_tasks() {
    let app = TestApp::start().await;
    let person = app
        .dataset
        .people
        .iter()
        .find(|p| p.expect_linked() && !p.casebook.as_ref().unwrap().tasks.is_empty())
        .unwrap();
    let casebook = person.casebook.as_ref().unwrap();
    let ghl = person.ghl.as_ref().unwrap();
    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": format!("/contacts/{}/tasks", ghl.id), "status": 401 }),
    )
    .await;

    let body = app
        .query(
            "query ($id: ID!) { contactByCasebookId(id: $id) { tasks { source nativeId } } }",
            json!({ "id": casebook.id }),
        )
        .await;

    let tasks = body["data"]["contactByCasebookId"]["tasks"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        tasks.len(),
        casebook.tasks.len(),
        "Casebook tasks still served: {body:#}"
    );
    assert!(tasks.iter().all(|t| t["source"] == "CASEBOOK"));
    assert_eq!(
        error_codes(&body),
        vec!["UPSTREAM_UNAUTHORIZED".to_string()]
    );
    assert_eq!(
        errors(&body)[0]["path"],
        json!(["contactByCasebookId", "tasks"])
    );
    assert_no_secrets(&app, &body);
}

#[tokio::test]
async fn unknown_native_ids_are_not_found() {
    let app = TestApp::start().await;
    let body = app
        .query(BOTH_SIDES_BY_GHL, json!({ "id": "NoSuchContact00000000" }))
        .await;
    assert_eq!(body["data"]["contactByGhlId"], Value::Null);
    assert_eq!(error_codes(&body), vec!["NOT_FOUND".to_string()]);

    let body = app
        .query(
            BOTH_SIDES,
            json!({ "id": "00000000-0000-4000-8000-000000000000" }),
        )
        .await;
    assert_eq!(body["data"]["contactByCasebookId"], Value::Null);
    assert_eq!(error_codes(&body), vec!["NOT_FOUND".to_string()]);
}

#[tokio::test]
async fn bad_arguments_are_bad_user_input() {
    let app = TestApp::start().await;
    let cases = [
        ("{ contacts(first: 0) { edges { cursor } } }", "first"),
        ("{ contacts(first: 101) { edges { cursor } } }", "first"),
        (
            r#"{ contacts(after: "not-a-cursor") { edges { cursor } } }"#,
            "after",
        ),
        (r#"{ contact(id: "garbage") { id } }"#, "id"),
        (r#"{ node(id: "garbage") { id } }"#, "id"),
    ];
    for (query, argument) in cases {
        let body = app.query(query, json!({})).await;
        assert_eq!(
            error_codes(&body),
            vec!["BAD_USER_INPUT".to_string()],
            "{query}: {body:#}"
        );
        assert_eq!(
            errors(&body)[0]["extensions"]["argument"],
            argument,
            "{query}"
        );
    }
}

#[tokio::test]
async fn every_ghl_call_sends_the_version_of_its_family() {
    let app = TestApp::start().await;
    let person = app
        .dataset
        .people
        .iter()
        .find(|p| p.expect_linked() && !p.ghl.as_ref().unwrap().appointments.is_empty())
        .unwrap();
    let ghl = person.ghl.as_ref().unwrap();
    let data = app
        .data(
            r#"query ($id: ID!) { contactByGhlId(id: $id) {
                 ghl { firstName } tasks { id } notes { id } appointments { id source }
                 history(first: 50) { edges { node { id } } } } }"#,
            json!({ "id": ghl.id }),
        )
        .await;
    // Follow one GHL appointment by id, which uses the calendars family.
    let appointment = data["contactByGhlId"]["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source"] == "GHL")
        .unwrap()["id"]
        .clone();
    app.data(
        "query ($id: ID!) { node(id: $id) { id } }",
        json!({ "id": appointment }),
    )
    .await;

    let stats = app.stats(&app.ghl).await;
    let versions = stats["headers"]["version"]
        .as_object()
        .expect("versions recorded");
    assert!(!versions.is_empty());
    for (route, values) in versions {
        let values = values.as_object().unwrap();
        let expected = if route.contains("/calendars/") {
            "2021-04-15"
        } else {
            "2021-07-28"
        };
        let sent: Vec<&String> = values
            .iter()
            .filter(|(_, count)| count.as_u64().unwrap_or(0) > 0)
            .map(|(value, _)| value)
            .collect();
        assert_eq!(sent, vec![expected], "route {route} received {values:?}");
    }
    assert!(
        versions.keys().any(|route| route.contains("/calendars/")),
        "{versions:?}"
    );
}

/// No upstream URL, token or raw upstream body may reach a client.
fn assert_no_secrets(app: &TestApp, body: &Value) {
    let text = body.to_string();
    for secret in [
        app.casebook.base_url.as_str(),
        app.ghl.base_url.as_str(),
        "127.0.0.1",
        "sim-token",
        "statusCode",
        "\"errors\":[{\"status\"",
    ] {
        assert!(!text.contains(secret), "response leaks {secret:?}: {text}");
    }
}

#[tokio::test]
async fn graphql_errors_of_every_kind_carry_a_code() {
    let app = TestApp::start().await;
    let cases = [
        (
            "{ contacts(first: 1 { totalCount } }",
            "GRAPHQL_PARSE_FAILED",
        ),
        ("{ contacts { noSuchField } }", "GRAPHQL_VALIDATION_FAILED"),
        (
            "{ contacts(first: \"ten\") { totalCount } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (query, expected) in cases {
        let body = app.query(query, json!({})).await;
        assert_eq!(error_codes(&body), [expected], "{query}: {body:#}");
    }

    let body = app
        .query(
            "query ($n: Int) { contacts(first: $n) { totalCount } }",
            json!({ "n": "ten" }),
        )
        .await;
    let codes = error_codes(&body);
    assert!(!codes.is_empty(), "{body:#}");
    assert_eq!(codes.len(), errors(&body).len(), "{body:#}");
}

#[tokio::test]
async fn ghl_search_failure_keeps_casebook_matches() {
    let app = TestApp::start().await;
    let person = app.linked_person();
    let last_name = person.casebook.as_ref().unwrap().last_name.clone();
    let casebook_matches = app
        .dataset
        .people
        .iter()
        .filter_map(|p| p.casebook.as_ref())
        .filter(|c| c.last_name.contains(&last_name) || c.first_name.contains(&last_name))
        .count();
    app.fault(
        &app.ghl,
        json!({ "method": "POST", "path": "/contacts/search", "status": 503, "times": 100 }),
    )
    .await;

    let query = "query ($q: String) { contacts(query: $q, first: 100) { pageInfo { hasNextPage } edges { node { casebook { lastName } } } } }";
    let body = app.query(query, json!({ "q": last_name })).await;

    let edges = body["data"]["contacts"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty(), "{body:#}");
    assert!(edges.len() >= casebook_matches.min(100), "{body:#}");
    for edge in edges {
        assert!(edge["node"]["casebook"]["lastName"].is_string(), "{body:#}");
    }
    assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body:#}");
    assert_eq!(errors(&body)[0]["extensions"]["system"], "GHL");
    assert_eq!(errors(&body)[0]["path"], json!(["contacts"]));
    assert_eq!(
        body["data"]["contacts"]["pageInfo"]["hasNextPage"], true,
        "the next page tries GHL again"
    );
}

#[tokio::test]
async fn both_systems_failing_fails_the_contact_list() {
    let app = TestApp::start().await;
    app.fault(
        &app.ghl,
        json!({ "method": "POST", "path": "/contacts/search", "status": 503, "times": 100 }),
    )
    .await;
    app.fault(
        &app.casebook,
        json!({ "method": "GET", "path": "/people/people", "status": 503, "times": 100 }),
    )
    .await;

    let body = app
        .query(
            "{ contacts(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;

    assert_eq!(body["data"], Value::Null, "{body:#}");
    let codes = error_codes(&body);
    assert!(!codes.is_empty(), "{body:#}");
    assert!(
        codes.iter().all(|code| code == "UPSTREAM_UNAVAILABLE"),
        "{body:#}"
    );
}
