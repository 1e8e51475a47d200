//! Tests of the GHL simulator's OAuth routes over real HTTP on 127.0.0.1: the location
//! chooser, `POST /oauth/token` with code and refresh-token grants, scope checks on the
//! API routes and the `/_sim/oauth/*` admin routes.
//!
//! The token response is validated against `GetAccessCodeSuccessfulResponseDto` of GHL's
//! OpenAPI file `tests/data/specs/ghl/oauth.json`, tightened with
//! `additionalProperties: false` so that an undeclared field fails. The scope that each
//! served route requires is compared with the `security` scopes that
//! `contacts.json` and `calendars.json` declare for the operation.

use std::{sync::LazyLock, time::Duration};

use casebook_ghl_gateway::sim::{
    common::RunningSim,
    ghl::{self, GhlOAuthApp, GhlSimOptions, RateLimitSettings},
    seed::{self, Dataset},
};
use reqwest::{Method, StatusCode, header::HeaderMap, redirect};
use serde_json::{Value, json};

const VERSION: &str = "2021-07-28";
const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";
const INVALID_TOKEN_MESSAGE: &str = "Invalid token: access token is invalid";
const SCOPE_MESSAGE: &str = "The token is not authorized for this scope.";

/// Form or query fields in the order they are sent.
type FormFields = Vec<(&'static str, &'static str)>;

static DATASET: LazyLock<Dataset> = LazyLock::new(|| Dataset::generate(seed::DEFAULT_SEED, 12));

fn contact_id() -> String {
    DATASET
        .people
        .iter()
        .find_map(|person| person.ghl.as_ref())
        .expect("the data set has a GHL contact")
        .id
        .clone()
}

async fn start_sim(options: GhlSimOptions) -> RunningSim {
    ghl::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
        .await
        .expect("GHL simulator starts")
}

async fn start_default() -> RunningSim {
    start_sim(GhlSimOptions::default()).await
}

/// Builds a client that reports redirects instead of following them, so that no request
/// ever goes to the redirect URI.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("client builds")
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body arrives");
        Reply {
            status,
            headers,
            text,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }
}

/// Calls the location chooser with the given query parameters.
async fn choose(sim: &RunningSim, query: &[(&str, &str)]) -> Reply {
    let response = client()
        .get(format!("{}/oauth/chooselocation", sim.base_url))
        .query(query)
        .send()
        .await
        .expect("chooser answers");
    Reply::from(response).await
}

/// Runs the chooser for `scope` and returns the issued code.
async fn authorization_code(sim: &RunningSim, scope: &str) -> String {
    let reply = choose(
        sim,
        &[
            ("response_type", "code"),
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    let location = url::Url::parse(reply.header("location").expect("Location header")).unwrap();
    location
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.into_owned())
        .expect("the redirect carries a code")
}

/// Posts `fields` form-encoded to the token endpoint.
async fn token_request(sim: &RunningSim, fields: &[(&str, &str)]) -> Reply {
    let response = client()
        .post(format!("{}/oauth/token", sim.base_url))
        .form(fields)
        .send()
        .await
        .expect("token endpoint answers");
    Reply::from(response).await
}

async fn exchange_code(sim: &RunningSim, code: &str) -> Reply {
    token_request(
        sim,
        &[
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("client_secret", ghl::OAUTH_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("user_type", "Location"),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await
}

async fn refresh(sim: &RunningSim, refresh_token: &str) -> Reply {
    token_request(
        sim,
        &[
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("client_secret", ghl::OAUTH_CLIENT_SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("user_type", "Location"),
        ],
    )
    .await
}

/// Runs the chooser and the code exchange; returns the token response body.
async fn issue_tokens(sim: &RunningSim, scope: &str) -> Value {
    let code = authorization_code(sim, scope).await;
    let reply = exchange_code(sim, &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()
}

/// Sends an API request with a bearer token and the Version header.
async fn api(sim: &RunningSim, method: Method, path: &str, token: &str) -> Reply {
    let mut request = client()
        .request(method.clone(), format!("{}{path}", sim.base_url))
        .bearer_auth(token)
        .header("Version", VERSION);
    if method == Method::POST || method == Method::PUT {
        request = request.json(&json!({}));
    }
    Reply::from(request.send().await.expect("API answers")).await
}

async fn oauth_state(sim: &RunningSim) -> Value {
    let response = client()
        .get(format!("{}/_sim/oauth/state", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn admin_post(sim: &RunningSim, path: &str) {
    let response = client()
        .post(format!("{}{path}", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
}

async fn put_settings(sim: &RunningSim, body: &str) -> Reply {
    let response = client()
        .put(format!("{}/_sim/oauth/settings", sim.base_url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Reply::from(response).await
}

fn assert_oauth_error(reply: &Reply, status: StatusCode, error: &str, mentions: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(mentions),
        "error_description {description:?} lacks {mentions:?}"
    );
}

fn assert_api_401(reply: &Reply, message: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({ "statusCode": 401, "message": message, "error": "Unauthorized" })
    );
}

// ---------------------------------------------------------------------------------------
// Spec of the token response
// ---------------------------------------------------------------------------------------

fn load_spec(relative: &str) -> Value {
    let path = format!("{}/tests/data/specs/{relative}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read spec file {path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("invalid JSON in {path}: {error}"))
}

/// The token response schema with undeclared properties forbidden.
static TOKEN_RESPONSE_SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let spec = load_spec("ghl/oauth.json");
    let mut schema = spec["components"]["schemas"]["GetAccessCodeSuccessfulResponseDto"].clone();
    schema["additionalProperties"] = json!(false);
    jsonschema::validator_for(&schema).expect("token response schema compiles")
});

fn assert_token_schema(body: &Value) {
    let errors: Vec<String> = TOKEN_RESPONSE_SCHEMA
        .iter_errors(body)
        .map(|error| format!("{} at {}", error, error.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "token response {body} breaks the spec: {errors:?}"
    );
}

#[test]
fn token_schema_rejects_wrong_shapes() {
    let valid = json!({ "access_token": "a", "userId": "u" });
    assert!(TOKEN_RESPONSE_SCHEMA.is_valid(&valid));
    assert!(!TOKEN_RESPONSE_SCHEMA.is_valid(&json!({ "access_token": "a" })));
    assert!(!TOKEN_RESPONSE_SCHEMA.is_valid(&json!({ "userId": "u", "expires_in": "86399" })));
    assert!(!TOKEN_RESPONSE_SCHEMA.is_valid(&json!({ "userId": "u", "extra": 1 })));
}

// ---------------------------------------------------------------------------------------
// Location chooser
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn chooser_redirects_with_code_and_state() {
    let sim = start_default().await;
    let state = "a b&c=d/é";
    let reply = choose(
        &sim,
        &[
            ("response_type", "code"),
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:9/callback?tenant=x%20y"),
            ("scope", "contacts.readonly"),
            ("state", state),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    let location = reply.header("location").expect("Location header");
    assert!(
        location.starts_with("http://127.0.0.1:9/callback?tenant=x%20y&code="),
        "{location}"
    );

    let target = url::Url::parse(location).unwrap();
    let pairs: Vec<(String, String)> = target.query_pairs().into_owned().collect();
    let names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["tenant", "code", "state"]);
    assert_eq!(pairs[0].1, "x y");
    assert!(pairs[1].1.len() >= 32, "code {:?} is short", pairs[1].1);
    assert_eq!(pairs[2].1, state);

    // The chooser is counted like an API route, without the token check.
    assert_eq!(sim.control.count("GET /oauth/chooselocation"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn chooser_omits_absent_state() {
    let sim = start_default().await;
    let reply = choose(
        &sim,
        &[
            ("response_type", "code"),
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text);
    let target = url::Url::parse(reply.header("location").unwrap()).unwrap();
    let names: Vec<String> = target
        .query_pairs()
        .map(|(name, _)| name.into_owned())
        .collect();
    assert_eq!(names, ["code"]);
    assert_eq!(target.path(), "/oauth/callback");
    sim.shutdown().await;
}

#[tokio::test]
async fn chooser_rejects_bad_input() {
    let sim = start_default().await;
    let client_id = ("client_id", ghl::OAUTH_CLIENT_ID);
    let code = ("response_type", "code");
    let redirect = ("redirect_uri", REDIRECT_URI);
    let cases: Vec<(FormFields, &str)> = vec![
        (vec![code, redirect], "missing client_id"),
        (
            vec![code, ("client_id", "other-app"), redirect],
            "unknown client_id \"other-app\"",
        ),
        (vec![client_id, redirect], "missing response_type"),
        (
            vec![("response_type", "token"), client_id, redirect],
            "unsupported response_type \"token\"",
        ),
        (vec![code, client_id], "missing redirect_uri"),
        (
            vec![code, client_id, ("redirect_uri", "callback")],
            "invalid redirect_uri \"callback\"",
        ),
        (
            vec![code, client_id, ("redirect_uri", "ftp://127.0.0.1/cb")],
            "scheme must be http or https",
        ),
        (
            vec![
                code,
                client_id,
                ("redirect_uri", "http://127.0.0.1:9/cb#part"),
            ],
            "remove the #fragment",
        ),
        (
            vec![code, client_id, redirect, ("state", "1"), ("state", "2")],
            "parameter state is sent more than once",
        ),
    ];
    for (query, expected) in cases {
        let reply = choose(&sim, &query).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "query {query:?}");
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/plain"),
            "query {query:?}"
        );
        assert!(
            reply.text.contains(expected),
            "query {query:?}: message {:?} lacks {expected:?}",
            reply.text
        );
        assert!(reply.header("location").is_none());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn oauth_disabled_rejects_everything() {
    let sim = start_sim(GhlSimOptions {
        oauth: None,
        ..GhlSimOptions::default()
    })
    .await;
    let reply = choose(
        &sim,
        &[
            ("response_type", "code"),
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.text.contains("no OAuth app"), "{}", reply.text);

    let reply = exchange_code(&sim, "anything").await;
    assert_oauth_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "sim-ghl-client",
    );

    // Private integration tokens keep working.
    let reply = api(
        &sim,
        Method::GET,
        &format!("/contacts/{}", contact_id()),
        ghl::DEFAULT_TOKEN,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Authorization code grant
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn code_exchange_returns_spec_tokens() {
    let sim = start_default().await;
    let code = authorization_code(&sim, "contacts.readonly contacts.write").await;
    let reply = exchange_code(&sim, &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_token_schema(&body);

    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_399);
    assert_eq!(body["scope"], "contacts.readonly contacts.write");
    assert_eq!(body["userType"], "Location");
    assert_eq!(body["locationId"], seed::GHL_LOCATION_ID);
    assert_eq!(body["companyId"], seed::GHL_COMPANY_ID);
    assert_eq!(body["userId"], ghl::SIM_USER_ID);
    let access_token = body["access_token"].as_str().unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert!(access_token.len() >= 32, "{access_token}");
    assert!(refresh_token.len() >= 32, "{refresh_token}");
    assert_ne!(access_token, refresh_token);

    // The access token works on the API; the refresh token does not.
    let path = format!("/contacts/{}", contact_id());
    let reply = api(&sim, Method::GET, &path, access_token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["contact"]["id"], contact_id());
    let reply = api(&sim, Method::GET, &path, refresh_token).await;
    assert_api_401(&reply, INVALID_TOKEN_MESSAGE);
    sim.shutdown().await;
}

#[tokio::test]
async fn code_is_single_use() {
    let sim = start_default().await;
    let code = authorization_code(&sim, "").await;
    assert_eq!(exchange_code(&sim, &code).await.status, StatusCode::OK);
    let reply = exchange_code(&sim, &code).await;
    assert_oauth_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "already used",
    );
    assert!(!reply.text.contains(&code), "the error echoes the code");

    let reply = exchange_code(&sim, "never-issued").await;
    assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", "invalid");
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client() {
    let sim = start_default().await;
    let code = authorization_code(&sim, "").await;
    let reply = token_request(
        &sim,
        &[
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("client_secret", "wrong-secret"),
            ("grant_type", "authorization_code"),
            ("code", &code),
        ],
    )
    .await;
    assert_oauth_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "client_secret",
    );
    assert!(
        !reply.text.contains("wrong-secret"),
        "the error echoes the secret"
    );
    assert!(!reply.text.contains(ghl::OAUTH_CLIENT_SECRET));

    let reply = token_request(
        &sim,
        &[
            ("client_id", "other-app"),
            ("client_secret", ghl::OAUTH_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &code),
        ],
    )
    .await;
    assert_oauth_error(
        &reply,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "other-app",
    );

    // A request that fails client authentication leaves the code usable.
    assert_eq!(exchange_code(&sim, &code).await.status, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn redirect_uri_must_match_code() {
    let sim = start_default().await;
    let code = authorization_code(&sim, "").await;
    let reply = token_request(
        &sim,
        &[
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("client_secret", ghl::OAUTH_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ],
    )
    .await;
    assert_oauth_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "redirect_uri \"http://127.0.0.1:9/elsewhere\" differs",
    );

    // Without redirect_uri the exchange of a fresh code succeeds.
    let code = authorization_code(&sim, "").await;
    let reply = token_request(
        &sim,
        &[
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("client_secret", ghl::OAUTH_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_request_validation_errors() {
    let sim = start_default().await;
    let id = ("client_id", ghl::OAUTH_CLIENT_ID);
    let secret = ("client_secret", ghl::OAUTH_CLIENT_SECRET);
    let code_grant = ("grant_type", "authorization_code");
    let cases: Vec<(FormFields, &str, &str)> = vec![
        (
            vec![secret, code_grant],
            "invalid_request",
            "missing field client_id",
        ),
        (
            vec![id, code_grant],
            "invalid_request",
            "missing field client_secret",
        ),
        (
            vec![id, secret],
            "invalid_request",
            "missing field grant_type",
        ),
        (
            vec![id, ("client_secret", ""), code_grant],
            "invalid_request",
            "missing field client_secret",
        ),
        (
            vec![id, secret, code_grant],
            "invalid_request",
            "missing field code",
        ),
        (
            vec![id, secret, ("grant_type", "refresh_token")],
            "invalid_request",
            "missing field refresh_token",
        ),
        (
            vec![id, secret, ("grant_type", "client_credentials")],
            "unsupported_grant_type",
            "grant_type \"client_credentials\"",
        ),
        (
            vec![id, secret, ("grant_type", "password")],
            "unsupported_grant_type",
            "grant_type \"password\"",
        ),
        (
            vec![
                id,
                secret,
                code_grant,
                ("code", "c"),
                ("user_type", "Company"),
            ],
            "invalid_request",
            "user_type \"Company\"",
        ),
        (
            vec![id, id, secret, code_grant],
            "invalid_request",
            "parameter client_id is sent more than once",
        ),
    ];
    for (fields, error, mentions) in cases {
        let reply = token_request(&sim, &fields).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "fields {fields:?}");
        let body = reply.json();
        assert_eq!(body["error"], error, "fields {fields:?}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains(mentions),
            "fields {fields:?}: {description:?} lacks {mentions:?}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn json_token_body_is_rejected() {
    let sim = start_default().await;
    let code = authorization_code(&sim, "").await;
    let response = client()
        .post(format!("{}/oauth/token", sim.base_url))
        .json(&json!({
            "client_id": ghl::OAUTH_CLIENT_ID,
            "client_secret": ghl::OAUTH_CLIENT_SECRET,
            "grant_type": "authorization_code",
            "code": code,
        }))
        .send()
        .await
        .unwrap();
    let reply = Reply::from(response).await;
    assert_oauth_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "application/x-www-form-urlencoded body, got application/json",
    );

    let response = client()
        .post(format!("{}/oauth/token", sim.base_url))
        .body("client_id=x")
        .send()
        .await
        .unwrap();
    let reply = Reply::from(response).await;
    assert_oauth_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "no Content-Type",
    );

    // The rejected JSON request did not use up the code.
    assert_eq!(exchange_code(&sim, &code).await.status, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_ignores_version_and_wrong_method() {
    let sim = start_default().await;
    let code = authorization_code(&sim, "").await;
    let response = client()
        .post(format!("{}/oauth/token", sim.base_url))
        .header("Version", VERSION)
        .form(&[
            ("client_id", ghl::OAUTH_CLIENT_ID),
            ("client_secret", ghl::OAUTH_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &code),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = client()
        .get(format!("{}/oauth/token", sim.base_url))
        .send()
        .await
        .unwrap();
    let reply = Reply::from(response).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["message"], "Cannot GET /oauth/token");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Refresh token grant
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_refresh_token() {
    let sim = start_default().await;
    let first = issue_tokens(&sim, "contacts.readonly").await;
    let first_refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        oauth_state(&sim).await["active_refresh_tokens"],
        json!([first_refresh])
    );

    let reply = refresh(&sim, first_refresh).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let second = reply.json();
    assert_token_schema(&second);
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "contacts.readonly");
    assert_eq!(second["locationId"], seed::GHL_LOCATION_ID);

    // The used refresh token stops working at once.
    let reply = refresh(&sim, first_refresh).await;
    assert_oauth_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "already used",
    );
    assert!(
        !reply.text.contains(first_refresh),
        "the error echoes the token"
    );

    // The rotated one works once.
    let reply = refresh(&sim, second_refresh).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let third = reply.json();

    // Access tokens issued earlier stay valid until they expire.
    let path = format!("/contacts/{}", contact_id());
    for body in [&first, &second, &third] {
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(
            api(&sim, Method::GET, &path, token).await.status,
            StatusCode::OK
        );
    }

    let state = oauth_state(&sim).await;
    assert_eq!(state["refresh_tokens_issued"], 3);
    assert_eq!(
        state["active_refresh_tokens"],
        json!([third["refresh_token"]])
    );
    assert_eq!(
        state["token_requests"],
        json!({ "authorization_code": 1, "refresh_token": 3 })
    );
    assert_eq!(state["rejected_refresh"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn revoke_refresh_makes_refresh_fail() {
    let sim = start_default().await;
    let tokens = issue_tokens(&sim, "").await;
    admin_post(&sim, "/_sim/oauth/revoke-refresh").await;
    assert_eq!(oauth_state(&sim).await["active_refresh_tokens"], json!([]));

    let reply = refresh(&sim, tokens["refresh_token"].as_str().unwrap()).await;
    assert_oauth_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "refresh token",
    );
    assert_eq!(oauth_state(&sim).await["rejected_refresh"], 1);

    // The access token is not affected.
    let path = format!("/contacts/{}", contact_id());
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        api(&sim, Method::GET, &path, token).await.status,
        StatusCode::OK
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Expiry and settings
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn expired_access_token_is_401() {
    let sim = start_default().await;
    let tokens = issue_tokens(&sim, "").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let path = format!("/contacts/{}", contact_id());
    assert_eq!(
        api(&sim, Method::GET, &path, access_token).await.status,
        StatusCode::OK
    );

    admin_post(&sim, "/_sim/oauth/expire").await;
    let reply = api(&sim, Method::GET, &path, access_token).await;
    assert_api_401(&reply, INVALID_TOKEN_MESSAGE);

    // Static tokens do not expire, and a refresh issues a working token.
    let reply = api(&sim, Method::GET, &path, ghl::DEFAULT_TOKEN).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = refresh(&sim, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let renewed = reply.json();
    let renewed_token = renewed["access_token"].as_str().unwrap();
    assert_eq!(
        api(&sim, Method::GET, &path, renewed_token).await.status,
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn access_token_ttl_setting_applies() {
    let sim = start_default().await;
    let reply = put_settings(&sim, r#"{"access_token_ttl_s": 1}"#).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);

    let tokens = issue_tokens(&sim, "").await;
    assert_eq!(tokens["expires_in"], 1);
    let access_token = tokens["access_token"].as_str().unwrap();
    let path = format!("/contacts/{}", contact_id());
    assert_eq!(
        api(&sim, Method::GET, &path, access_token).await.status,
        StatusCode::OK
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = api(&sim, Method::GET, &path, access_token).await;
    assert_api_401(&reply, INVALID_TOKEN_MESSAGE);
    sim.shutdown().await;
}

#[tokio::test]
async fn settings_reject_bad_bodies() {
    let sim = start_default().await;
    let cases = [
        ("{not json", "invalid body"),
        ("{}", "missing field `access_token_ttl_s`"),
        (r#"{"access_token_ttl_s": 0}"#, "access_token_ttl_s 0 s"),
        (r#"{"access_token_ttl_s": -5}"#, "invalid body"),
        (r#"{"access_token_ttl_s": "60"}"#, "invalid body"),
        (r#"{"access_token_ttl_s": 40000000}"#, "use 1 to"),
        (r#"{"access_token_ttl_s": 60, "x": 1}"#, "unknown field `x`"),
    ];
    for (body, expected) in cases {
        let reply = put_settings(&sim, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "body {body}");
        let message = reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains(expected),
            "body {body}: {message:?} lacks {expected:?}"
        );
    }
    // The lifetime stayed at its default.
    assert_eq!(issue_tokens(&sim, "").await["expires_in"], 86_399);
    sim.shutdown().await;
}

#[tokio::test]
async fn app_options_set_token_fields() {
    let app = GhlOAuthApp {
        client_id: "custom-client".to_string(),
        client_secret: "custom-secret".to_string(),
        location_id: "CustomLocation000001".to_string(),
        company_id: "CustomCompany0000001".to_string(),
        access_token_ttl: Duration::from_secs(600),
    };
    let sim = start_sim(GhlSimOptions {
        oauth: Some(app),
        ..GhlSimOptions::default()
    })
    .await;
    let reply = choose(
        &sim,
        &[
            ("response_type", "code"),
            ("client_id", "custom-client"),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await;
    let target = url::Url::parse(reply.header("location").unwrap()).unwrap();
    let code = target.query_pairs().next().unwrap().1.into_owned();
    let reply = token_request(
        &sim,
        &[
            ("client_id", "custom-client"),
            ("client_secret", "custom-secret"),
            ("grant_type", "authorization_code"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["locationId"], "CustomLocation000001");
    assert_eq!(body["companyId"], "CustomCompany0000001");

    // The token covers the app's location only, so the seeded location is a 403.
    let token = body["access_token"].as_str().unwrap();
    let reply = api(
        &sim,
        Method::GET,
        &format!("/contacts/?locationId={}", seed::GHL_LOCATION_ID),
        token,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    sim.shutdown().await;
}

#[tokio::test]
async fn start_rejects_invalid_app() {
    let cases = [
        (
            GhlOAuthApp {
                client_secret: " ".to_string(),
                ..GhlOAuthApp::default()
            },
            "client_secret is blank",
        ),
        (
            GhlOAuthApp {
                access_token_ttl: Duration::ZERO,
                ..GhlOAuthApp::default()
            },
            "access_token_ttl 0 s",
        ),
    ];
    for (app, expected) in cases {
        let options = GhlSimOptions {
            oauth: Some(app),
            ..GhlSimOptions::default()
        };
        let error = ghl::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
            .await
            .err()
            .expect("start rejects the app");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn app_debug_hides_secret() {
    let text = format!("{:?}", GhlSimOptions::default());
    assert!(text.contains(ghl::OAUTH_CLIENT_ID), "{text}");
    assert!(!text.contains(ghl::OAUTH_CLIENT_SECRET), "{text}");
    assert!(!text.contains(ghl::DEFAULT_TOKEN), "{text}");
}

// ---------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn scopes_limit_oauth_tokens() {
    let sim = start_default().await;
    let contact = format!("/contacts/{}", contact_id());
    let event = "/calendars/events/appointments/NoSuchEvent000000001";

    let read_only = issue_tokens(&sim, "contacts.readonly").await;
    let token = read_only["access_token"].as_str().unwrap();
    assert_eq!(
        api(&sim, Method::GET, &contact, token).await.status,
        StatusCode::OK
    );
    let reply = api(&sim, Method::POST, "/contacts/search", token).await;
    assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_api_401(
        &api(&sim, Method::PUT, &contact, token).await,
        SCOPE_MESSAGE,
    );
    assert_api_401(
        &api(&sim, Method::POST, "/contacts/", token).await,
        SCOPE_MESSAGE,
    );
    assert_api_401(
        &api(&sim, Method::DELETE, &contact, token).await,
        SCOPE_MESSAGE,
    );
    assert_api_401(&api(&sim, Method::GET, event, token).await, SCOPE_MESSAGE);

    let calendars = issue_tokens(&sim, "calendars/events.readonly calendars/events.write").await;
    let token = calendars["access_token"].as_str().unwrap();
    assert_api_401(
        &api(&sim, Method::GET, &contact, token).await,
        SCOPE_MESSAGE,
    );
    let reply = api(&sim, Method::GET, event, token).await;
    assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    let reply = api(&sim, Method::PUT, event, token).await;
    assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);

    // An empty scope grants everything and lists every enforced scope.
    let all = issue_tokens(&sim, "").await;
    assert_eq!(
        all["scope"],
        "contacts.readonly contacts.write calendars/events.readonly calendars/events.write"
    );
    let token = all["access_token"].as_str().unwrap();
    let reply = api(&sim, Method::PUT, &contact, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    // A scope check comes after the token check: an unknown token is still "invalid".
    assert_api_401(
        &api(&sim, Method::PUT, &contact, "unknown-token").await,
        INVALID_TOKEN_MESSAGE,
    );
    sim.shutdown().await;
}

/// Replaces every `{name}` segment of an OpenAPI path template with a dummy id.
fn fill_template(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "NoSuchId000000000001"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn route_scopes_match_spec_security() {
    // Two requests per spec operation exceed GHL's burst limit.
    let sim = start_sim(GhlSimOptions {
        rate_limit: RateLimitSettings {
            max: 100_000,
            ..RateLimitSettings::default()
        },
        ..GhlSimOptions::default()
    })
    .await;
    let enforced = [
        "contacts.readonly",
        "contacts.write",
        "calendars/events.readonly",
        "calendars/events.write",
    ];
    let mut tokens = std::collections::HashMap::new();
    for scope in enforced {
        let with_scope = issue_tokens(&sim, scope).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let others: Vec<&str> = enforced
            .into_iter()
            .filter(|other| *other != scope)
            .collect();
        let without_scope = issue_tokens(&sim, &others.join(" ")).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        tokens.insert(scope, (with_scope, without_scope));
    }

    let mut checked = Vec::new();
    for file in ["ghl/contacts.json", "ghl/calendars.json"] {
        let spec = load_spec(file);
        for (template, operations) in spec["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                let Ok(method) = method.to_uppercase().parse::<Method>() else {
                    continue;
                };
                let Some(scope) = operation["security"][0]["bearer"][0].as_str() else {
                    continue;
                };
                let path = fill_template(template);
                let Some((with_scope, without_scope)) = tokens.get(scope) else {
                    // A scope the simulator never checks: the route must not be served.
                    let reply = api(&sim, method.clone(), &path, ghl::DEFAULT_TOKEN).await;
                    assert_eq!(
                        reply.status,
                        StatusCode::NOT_FOUND,
                        "{method} {template} needs {scope}, which the simulator does not check"
                    );
                    continue;
                };

                let allowed = api(&sim, method.clone(), &path, with_scope).await;
                if allowed.status == StatusCode::NOT_FOUND && allowed.text.contains("Cannot") {
                    // The simulator does not serve this operation.
                    continue;
                }
                assert_ne!(
                    allowed.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {template} with {scope}: {}",
                    allowed.text
                );
                let denied = api(&sim, method.clone(), &path, without_scope).await;
                assert_api_401(&denied, SCOPE_MESSAGE);
                checked.push(format!("{method} {template}"));
            }
        }
    }
    // Every route the simulator serves is in the spec with a scope, so all 27 were checked.
    assert_eq!(checked.len(), 27, "checked {checked:#?}");
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Stats, faults and quota
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn token_requests_count_and_fault() {
    let sim = start_default().await;
    let code = authorization_code(&sim, "").await;

    let response = client()
        .post(format!("{}/_sim/faults", sim.base_url))
        .json(&json!({ "method": "POST", "path": "/oauth/token", "status": 503, "times": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let reply = exchange_code(&sim, &code).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.json()["message"],
        "Simulated fault on POST /oauth/token"
    );
    // The faulted request never reached the endpoint, so the code still works.
    assert_eq!(exchange_code(&sim, &code).await.status, StatusCode::OK);

    let stats = sim.control.stats();
    let route = &stats["routes"]["POST /oauth/token"];
    assert_eq!(route["count"], 2);
    assert_eq!(route["statuses"]["503"], 1);
    assert_eq!(route["statuses"]["200"], 1);
    assert_eq!(
        stats["headers"]["version"]["POST /oauth/token"]["<missing>"],
        2
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_is_not_rate_limited() {
    let sim = start_default().await;
    let response = client()
        .put(format!("{}/_sim/ratelimit", sim.base_url))
        .json(&json!({ "max": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let first = issue_tokens(&sim, "").await;
    let mut refresh_token = first["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..3 {
        let reply = refresh(&sim, &refresh_token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert!(reply.header("x-ratelimit-remaining").is_none());
        refresh_token = reply.json()["refresh_token"].as_str().unwrap().to_string();
    }

    // API calls with an issued token count toward the location's quota.
    let token = first["access_token"].as_str().unwrap();
    let path = format!("/contacts/{}", contact_id());
    assert_eq!(
        api(&sim, Method::GET, &path, token).await.status,
        StatusCode::OK
    );
    let reply = api(&sim, Method::GET, &path, ghl::DEFAULT_TOKEN).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    sim.shutdown().await;
}
