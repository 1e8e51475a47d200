//! Tests of the Casebook simulator's client-credentials token endpoint
//! `POST /oauth2/token` and its `/_sim/oauth/*` admin routes, over real HTTP on
//! 127.0.0.1.

use std::{sync::LazyLock, time::Duration};

use casebook_ghl_gateway::sim::{
    casebook::{self, CasebookSimOptions},
    common::RunningSim,
    seed::{self, Dataset},
};
use casebook_ghl_gateway::upstream::casebook::names;
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::{Value, json};

const EXPIRED_DETAIL: &str = "The bearer token is not valid. Request a new token and retry.";

/// Form or query fields in the order they are sent.
type FormFields = Vec<(&'static str, &'static str)>;

static DATASET: LazyLock<Dataset> = LazyLock::new(|| Dataset::generate(seed::DEFAULT_SEED, 12));

async fn start_sim(options: CasebookSimOptions) -> RunningSim {
    casebook::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
        .await
        .expect("Casebook simulator starts")
}

async fn start_default() -> RunningSim {
    start_sim(CasebookSimOptions::default()).await
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn reply_of(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body arrives");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("body is not JSON ({error}): {text}"));
    Reply {
        status,
        headers,
        body,
    }
}

const CREDENTIALS: [(&str, &str); 3] = [
    ("client_id", casebook::OAUTH_CLIENT_ID),
    ("client_secret", casebook::OAUTH_CLIENT_SECRET),
    ("grant_type", "client_credentials"),
];

/// Sends the token request with `body` fields form-encoded and `query` fields in the
/// query string; an empty `body` sends no body.
async fn token_request(sim: &RunningSim, body: &[(&str, &str)], query: &[(&str, &str)]) -> Reply {
    let mut request = reqwest::Client::new()
        .post(format!("{}/oauth2/token", sim.base_url))
        .query(query);
    if !body.is_empty() {
        request = request.form(body);
    }
    reply_of(request.send().await.expect("token endpoint answers")).await
}

async fn issue_token(sim: &RunningSim) -> Value {
    let reply = token_request(sim, &CREDENTIALS, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn list_people(sim: &RunningSim, token: &str) -> Reply {
    let response = reqwest::Client::new()
        .get(format!("{}{}", sim.base_url, names::PEOPLE.path()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    reply_of(response).await
}

fn assert_token_error(reply: &Reply, error: &str, mentions: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.body["error"], error, "{}", reply.body);
    let description = reply.body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(mentions),
        "error_description {description:?} lacks {mentions:?}"
    );
}

fn assert_expired(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.body["errors"][0]["detail"], EXPIRED_DETAIL);
}

async fn oauth_state(sim: &RunningSim) -> Value {
    reqwest::Client::new()
        .get(format!("{}/_sim/oauth/state", sim.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn put_settings(sim: &RunningSim, body: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .put(format!("{}/_sim/oauth/settings", sim.base_url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn form_credentials_issue_working_token() {
    let sim = start_default().await;
    let reply = token_request(&sim, &CREDENTIALS, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let body = &reply.body;
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access_token", "expires_in", "token_type"]);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert!(token.len() >= 32, "{token}");

    let reply = list_people(&sim, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(!reply.body["data"].as_array().unwrap().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn query_credentials_are_accepted() {
    let sim = start_default().await;
    let reply = token_request(&sim, &[], &CREDENTIALS).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.body["access_token"].as_str().unwrap();
    assert_eq!(list_people(&sim, token).await.status, StatusCode::OK);

    // Fields may be split between the query string and the body.
    let reply = token_request(
        &sim,
        &[("client_secret", casebook::OAUTH_CLIENT_SECRET)],
        &[
            ("client_id", casebook::OAUTH_CLIENT_ID),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // A body field wins over the query field of the same name.
    let reply = token_request(&sim, &CREDENTIALS, &[("client_secret", "wrong-secret")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_invalid_client() {
    let sim = start_default().await;
    let cases = [
        [
            ("client_id", casebook::OAUTH_CLIENT_ID),
            ("client_secret", "wrong-secret"),
            ("grant_type", "client_credentials"),
        ],
        [
            ("client_id", "other-client"),
            ("client_secret", casebook::OAUTH_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
        ],
    ];
    for fields in cases {
        let reply = token_request(&sim, &fields, &[]).await;
        assert_token_error(&reply, "invalid_client", "client_secret");
        let text = reply.body.to_string();
        assert!(
            !text.contains("wrong-secret"),
            "the error echoes the secret"
        );
        assert!(!text.contains(casebook::OAUTH_CLIENT_SECRET));
    }
    // Query-string credentials are checked the same way.
    let reply = token_request(
        &sim,
        &[],
        &[
            ("client_id", casebook::OAUTH_CLIENT_ID),
            ("client_secret", "wrong-secret"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_token_error(&reply, "invalid_client", casebook::OAUTH_CLIENT_ID);
    sim.shutdown().await;
}

#[tokio::test]
async fn request_errors_name_the_problem() {
    let sim = start_default().await;
    let id = ("client_id", casebook::OAUTH_CLIENT_ID);
    let secret = ("client_secret", casebook::OAUTH_CLIENT_SECRET);
    let grant = ("grant_type", "client_credentials");
    let cases: Vec<(FormFields, &str, &str)> = vec![
        (
            vec![secret, grant],
            "invalid_request",
            "missing field client_id",
        ),
        (
            vec![id, grant],
            "invalid_request",
            "missing field client_secret",
        ),
        (
            vec![id, secret],
            "invalid_request",
            "missing field grant_type",
        ),
        (
            vec![id, secret, ("grant_type", "")],
            "invalid_request",
            "missing field grant_type",
        ),
        (
            vec![id, secret, ("grant_type", "password")],
            "unsupported_grant_type",
            "grant_type \"password\"",
        ),
        (
            vec![id, secret, ("grant_type", "authorization_code")],
            "unsupported_grant_type",
            "use client_credentials",
        ),
        (
            vec![id, id, secret, grant],
            "invalid_request",
            "parameter client_id is sent more than once",
        ),
    ];
    for (fields, error, mentions) in cases {
        let reply = token_request(&sim, &fields, &[]).await;
        assert_token_error(&reply, error, mentions);
    }

    // No fields at all.
    let reply = token_request(&sim, &[], &[]).await;
    assert_token_error(&reply, "invalid_request", "missing field client_id");
    sim.shutdown().await;
}

#[tokio::test]
async fn non_form_body_is_rejected() {
    let sim = start_default().await;
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/token", sim.base_url))
        .json(&json!({
            "client_id": casebook::OAUTH_CLIENT_ID,
            "client_secret": casebook::OAUTH_CLIENT_SECRET,
            "grant_type": "client_credentials",
        }))
        .send()
        .await
        .unwrap();
    let reply = reply_of(response).await;
    assert_token_error(
        &reply,
        "invalid_request",
        "application/x-www-form-urlencoded body, got application/json",
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_token_is_401() {
    let sim = start_default().await;
    let token = issue_token(&sim).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(list_people(&sim, &token).await.status, StatusCode::OK);

    let response = reqwest::Client::new()
        .post(format!("{}/_sim/oauth/expire", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let reply = list_people(&sim, &token).await;
    assert_expired(&reply);
    assert_eq!(reply.headers["www-authenticate"], "Bearer");

    // Static tokens do not expire, and a new token works.
    assert_eq!(
        list_people(&sim, casebook::DEFAULT_TOKEN).await.status,
        StatusCode::OK
    );
    let token = issue_token(&sim).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(list_people(&sim, &token).await.status, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_ttl_setting_applies() {
    let sim = start_default().await;
    let (status, body) = put_settings(&sim, r#"{"token_ttl_s": 1}"#).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let issued = issue_token(&sim).await;
    assert_eq!(issued["expires_in"], 1);
    let token = issued["access_token"].as_str().unwrap();
    assert_eq!(list_people(&sim, token).await.status, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_expired(&list_people(&sim, token).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn settings_reject_bad_bodies() {
    let sim = start_default().await;
    let cases = [
        ("{not json", "invalid body"),
        ("{}", "missing field `token_ttl_s`"),
        (r#"{"token_ttl_s": 0}"#, "token_ttl_s 0 s"),
        (r#"{"token_ttl_s": "60"}"#, "invalid body"),
        (r#"{"token_ttl_s": 60, "ttl": 1}"#, "unknown field `ttl`"),
    ];
    for (body, expected) in cases {
        let (status, answer) = put_settings(&sim, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "body {body}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected),
            "body {body}: {message:?} lacks {expected:?}"
        );
    }
    assert_eq!(issue_token(&sim).await["expires_in"], 3600);
    sim.shutdown().await;
}

#[tokio::test]
async fn state_counts_requests_and_tokens() {
    let sim = start_default().await;
    issue_token(&sim).await;
    issue_token(&sim).await;
    let reply = token_request(&sim, &[("client_id", "x")], &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/token", sim.base_url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let state = oauth_state(&sim).await;
    assert_eq!(state["tokens_issued"], 2);
    assert_eq!(state["token_requests"], 4);
    assert_eq!(state["issued_tokens"].as_array().unwrap().len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_route_counts_and_faults() {
    let sim = start_default().await;
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.base_url))
        .json(&json!({ "path": "/oauth2/token", "status": 503, "times": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let reply = token_request(&sim, &CREDENTIALS, &[]).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.body["errors"][0]["detail"],
        "Simulated fault on POST /oauth2/token"
    );
    issue_token(&sim).await;

    let stats = sim.control.stats();
    let route = &stats["routes"]["POST /oauth2/token"];
    assert_eq!(route["count"], 2);
    assert_eq!(route["statuses"]["503"], 1);
    assert_eq!(route["statuses"]["200"], 1);
    // The faulted request never reached the endpoint.
    assert_eq!(oauth_state(&sim).await["token_requests"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_route_allows_post_only() {
    let sim = start_default().await;
    let response = reqwest::Client::new()
        .get(format!("{}/oauth2/token", sim.base_url))
        .send()
        .await
        .unwrap();
    let reply = reply_of(response).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers["allow"], "POST");
    sim.shutdown().await;
}

#[tokio::test]
async fn options_set_credentials_and_ttl() {
    let options = CasebookSimOptions {
        tokens: Vec::new(),
        client_id: "custom-client".to_string(),
        client_secret: "custom-secret".to_string(),
        token_ttl: Duration::from_secs(120),
        ..CasebookSimOptions::default()
    };
    let debug = format!("{options:?}");
    assert!(debug.contains("custom-client"), "{debug}");
    assert!(!debug.contains("custom-secret"), "{debug}");

    let sim = start_sim(options).await;
    let reply = token_request(&sim, &CREDENTIALS, &[]).await;
    assert_token_error(&reply, "invalid_client", casebook::OAUTH_CLIENT_ID);
    let reply = token_request(
        &sim,
        &[
            ("client_id", "custom-client"),
            ("client_secret", "custom-secret"),
            ("grant_type", "client_credentials"),
        ],
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["expires_in"], 120);

    // With no static tokens, only issued tokens are accepted.
    let token = reply.body["access_token"].as_str().unwrap();
    assert_eq!(list_people(&sim, token).await.status, StatusCode::OK);
    assert_expired(&list_people(&sim, casebook::DEFAULT_TOKEN).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn start_rejects_invalid_options() {
    let cases = [
        (
            CasebookSimOptions {
                client_secret: String::new(),
                ..CasebookSimOptions::default()
            },
            "client_secret must not be blank",
        ),
        (
            CasebookSimOptions {
                token_ttl: Duration::ZERO,
                ..CasebookSimOptions::default()
            },
            "token_ttl 0 s",
        ),
    ];
    for (options, expected) in cases {
        let error = casebook::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
            .await
            .err()
            .expect("start rejects the options");
        assert!(error.to_string().contains(expected), "{error}");
    }
}
