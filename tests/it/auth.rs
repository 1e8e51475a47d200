//! Client authentication on `/graphql`.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn missing_or_wrong_key_is_401() {
    let app = TestApp::start().await;
    let body = json!({ "query": "{ contacts(first: 1) { edges { cursor } } }" });
    let cases: [(&str, Option<&str>); 4] = [
        ("no header", None),
        ("wrong key", Some("Bearer wrong-key")),
        ("wrong scheme", Some("Basic dGVzdDp0ZXN0")),
        ("empty key", Some("Bearer ")),
    ];
    let before = app.stats(&app.ghl).await["total"].as_u64().unwrap()
        + app.stats(&app.casebook).await["total"].as_u64().unwrap();
    for (case, header) in cases {
        let mut request = app.http.post(app.graphql_url()).json(&body);
        if let Some(value) = header {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{case}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{case}"
        );
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            json["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{case}"
        );
    }
    let after = app.stats(&app.ghl).await["total"].as_u64().unwrap()
        + app.stats(&app.casebook).await["total"].as_u64().unwrap();
    assert_eq!(after, before, "rejected requests reach no upstream");
}

#[tokio::test]
async fn health_needs_no_key() {
    let app = TestApp::start().await;
    let response = app
        .http
        .get(format!("{}/healthz", app.gateway.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .http
        .get(format!("{}/readyz", app.gateway.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn graphiql_page_is_served() {
    let app = TestApp::start().await;
    let response = app.http.get(app.graphql_url()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("graphiql"), "GraphiQL page");
}

#[tokio::test]
async fn malformed_body_is_checked_after_the_key() {
    let app = TestApp::start().await;
    let send = |key: Option<&'static str>| {
        let mut request = app
            .http
            .post(app.graphql_url())
            .header("Content-Type", "application/json")
            .body("{bad");
        if let Some(key) = key {
            request = request.header("Authorization", key);
        }
        request.send()
    };

    let without_key = send(None).await.unwrap();
    assert_eq!(without_key.status(), 401);

    let with_key = send(Some("bearer test-api-key-0123456789")).await.unwrap();
    assert_eq!(with_key.status(), 400, "a lower-case scheme is accepted");
    let body: serde_json::Value = with_key.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}
