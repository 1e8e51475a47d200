//! Runs the credential and failure paths with every log level on, then searches the captured
//! log lines and GraphQL responses for tokens, client secrets and authorization codes.
//!
//! This is its own test binary because the log capture is the process-wide tracing
//! subscriber.

#[allow(dead_code)]
#[path = "it/support.rs"]
mod support;

#[allow(dead_code)]
#[path = "it/credentials_support.rs"]
mod credentials_support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use casebook_ghl_gateway::sim::{casebook, ghl, seed::Dataset};
use futures::future::join_all;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use credentials_support::{
    fresh_query, install_with_code, sim_json, sim_post, test_key, use_casebook_client_credentials,
    use_ghl_oauth,
};
use support::{API_KEY, TestApp};

/// Every log line written by the process.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const ALL_SCOPES: [&str; 4] = [
    "contacts.readonly",
    "contacts.write",
    "calendars/events.readonly",
    "calendars/events.write",
];

const WRONG_SECRET: &str = "wrong-casebook-secret-7f3a";

const BOTH_SIDES: &str = r#"
    query ($id: ID!, $casebook: ID!) {
      byCasebook: contactByCasebookId(id: $casebook) { casebook { id } tasks { id } }
      contactByGhlId(id: $id) {
        ghl { id email }
        casebook { id firstName }
        tasks { id }
        notes { id }
        history(first: 5) { edges { node { source } } }
      }
    }"#;

/// Secrets seen during the run and every response body received.
#[derive(Default)]
struct Seen {
    secrets: Vec<String>,
    responses: Vec<String>,
}

impl Seen {
    fn secret(&mut self, value: impl Into<String>) {
        let value = value.into();
        if value.len() >= 6 && !self.secrets.contains(&value) {
            self.secrets.push(value);
        }
    }

    fn response(&mut self, body: &Value) {
        self.responses.push(body.to_string());
    }

    /// Records the stored GHL tokens and every token the simulators issued.
    async fn tokens(&mut self, app: &TestApp) {
        if let Some(store) = app.gateway.gateway.token_store()
            && let Ok(Some(stored)) = store.load("demo").await
        {
            self.secret(stored.access_token.expose_secret());
            self.secret(stored.refresh_token.expose_secret());
        }
        for sim in [&app.ghl, &app.casebook] {
            let state = sim_json(app, format!("{}/_sim/oauth/state", sim.base_url)).await;
            for field in ["active_refresh_tokens", "issued_tokens"] {
                for token in state[field].as_array().into_iter().flatten() {
                    if let Some(token) = token.as_str() {
                        self.secret(token);
                    }
                }
            }
        }
    }
}

/// GHL and Casebook ids of people in both systems.
fn ghl_ids(app: &TestApp, count: usize) -> Vec<(String, String)> {
    app.dataset
        .people
        .iter()
        .filter_map(|person| {
            Some((
                person.ghl.as_ref()?.id.clone(),
                person.casebook.as_ref()?.id.clone(),
            ))
        })
        .take(count)
        .collect()
}

async fn query_all(app: &TestApp, seen: &mut Seen, ids: &[(String, String)]) {
    let bodies = join_all(ids.iter().map(|(ghl, casebook)| {
        fresh_query(app, BOTH_SIDES, json!({ "id": ghl, "casebook": casebook }))
    }))
    .await;
    for body in &bodies {
        assert!(body.get("data").is_some(), "the query is valid: {body}");
        seen.response(body);
    }
}

/// GHL OAuth and Casebook client credentials through install, refresh, renewal, revoked
/// refresh tokens, a 429, malformed JSON and an outage.
async fn run_oauth_paths(seen: &mut Seen) {
    let app = TestApp::start_with(Dataset::default(), |config| {
        use_ghl_oauth(config, &ALL_SCOPES);
        use_casebook_client_credentials(config, casebook::OAUTH_CLIENT_SECRET);
        config.upstream.ghl_limits.enabled = false;
        config.upstream.breaker.failure_threshold = 3;
    })
    .await;
    let ids = ghl_ids(&app, 10);

    query_all(&app, seen, &ids[..1]).await;
    let (status, page, code) = install_with_code(&app, "demo").await;
    assert_eq!(status, 200, "{page}");
    seen.secret(code);
    seen.tokens(&app).await;
    query_all(&app, seen, &ids).await;

    sim_post(&app, format!("{}/_sim/oauth/expire", app.ghl.base_url)).await;
    sim_post(&app, format!("{}/_sim/oauth/expire", app.casebook.base_url)).await;
    query_all(&app, seen, &ids).await;
    seen.tokens(&app).await;

    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": "/contacts/", "status": 429, "retry_after_s": 1, "times": 1 }),
    )
    .await;
    query_all(&app, seen, &ids[..1]).await;
    app.fault(
        &app.casebook,
        json!({ "method": "GET", "path": "/people/people", "status": 200, "malformed_json": true, "times": 1 }),
    )
    .await;
    query_all(&app, seen, &ids[1..2]).await;
    app.fault(
        &app.casebook,
        json!({ "method": "GET", "path": "/people/people", "status": 503, "times": 20 }),
    )
    .await;
    for id in &ids[2..8] {
        query_all(&app, seen, std::slice::from_ref(id)).await;
    }

    sim_post(
        &app,
        format!("{}/_sim/oauth/revoke-refresh", app.ghl.base_url),
    )
    .await;
    sim_post(&app, format!("{}/_sim/oauth/expire", app.ghl.base_url)).await;
    query_all(&app, seen, &ids).await;
    let (status, page, code) = install_with_code(&app, "demo").await;
    assert_eq!(status, 200, "{page}");
    seen.secret(code);
    seen.tokens(&app).await;

    let created = fresh_query(
        &app,
        r#"mutation ($input: CreateContactInput!) { createContact(input: $input) { contact { id } } }"#,
        json!({ "input": { "firstName": "Log", "lastName": "Check", "email": "log.check@example.org" } }),
    )
    .await;
    seen.response(&created);
    seen.tokens(&app).await;
}

/// Runs GHL reads through a small burst window, then past the daily reserve, with a write
/// that has to wait in the outbox.
async fn run_rate_limits(seen: &mut Seen) {
    let app = TestApp::start_with(Dataset::default(), |config| {
        use_ghl_oauth(config, &ALL_SCOPES);
        config.upstream.ghl_limits.requests = 5;
        config.upstream.ghl_limits.window_ms = 1000;
    })
    .await;
    let ids = ghl_ids(&app, 4);
    let (status, page, code) = install_with_code(&app, "demo").await;
    assert_eq!(status, 200, "{page}");
    seen.secret(code);
    query_all(&app, seen, &ids[..2]).await;

    let response = app
        .http
        .put(format!("{}/_sim/ratelimit", app.ghl.base_url))
        .json(&json!({ "daily_used": 199_500 }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    for id in &ids[2..] {
        query_all(&app, seen, std::slice::from_ref(id)).await;
    }
    let created = fresh_query(
        &app,
        r#"mutation ($input: CreateContactInput!) { createContact(input: $input) { ghl } }"#,
        json!({ "input": { "firstName": "Daily", "lastName": "Limit", "email": "daily.limit@example.org" } }),
    )
    .await;
    assert_eq!(
        created["data"]["createContact"]["ghl"], "PENDING",
        "the GHL write waits in the outbox: {created}"
    );
    seen.response(&created);
    seen.tokens(&app).await;
}

/// Runs a GHL token without the contacts scope and a wrong Casebook client secret.
async fn run_rejected_credentials(seen: &mut Seen) {
    let app = TestApp::start_with(Dataset::default(), |config| {
        use_ghl_oauth(config, &["calendars/events.readonly"]);
        use_casebook_client_credentials(config, WRONG_SECRET);
    })
    .await;
    let (status, page, code) = install_with_code(&app, "demo").await;
    assert_eq!(status, 200, "{page}");
    seen.secret(code);
    seen.tokens(&app).await;
    query_all(&app, seen, &ghl_ids(&app, 3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_errors_carry_no_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let mut seen = Seen::default();
    for secret in [
        API_KEY,
        ghl::OAUTH_CLIENT_SECRET,
        casebook::OAUTH_CLIENT_SECRET,
        WRONG_SECRET,
        ghl::DEFAULT_TOKEN,
        casebook::DEFAULT_TOKEN,
    ] {
        seen.secret(secret);
    }
    seen.secret(test_key().expose_secret());

    run_oauth_paths(&mut seen).await;
    run_rejected_credentials(&mut seen).await;
    run_rate_limits(&mut seen).await;
    // Background tasks such as the outbox worker log after the last request.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    let saved = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("log_secrets.log");
    std::fs::write(&saved, &logs).unwrap();
    eprintln!("captured logs: {}", saved.display());
    for expected in [
        "GHL app installed",
        "refreshed the GHL access token",
        "obtained a Casebook access token",
        "token request rejected",
        "circuit breaker opened",
        "retrying upstream request",
        "GHL calls of this location are paused until the daily reset",
    ] {
        assert!(logs.contains(expected), "the run logged {expected:?}");
    }
    assert!(
        seen.secrets.len() >= 14,
        "tokens and codes were collected: {}",
        seen.secrets.len()
    );
    for (index, secret) in seen.secrets.iter().enumerate() {
        assert!(
            !logs.contains(secret.as_str()),
            "secret #{index} ({} characters) appears in the logs",
            secret.len()
        );
        for body in &seen.responses {
            assert!(
                !body.contains(secret.as_str()),
                "secret #{index} appears in a response: {body}"
            );
        }
    }
}
