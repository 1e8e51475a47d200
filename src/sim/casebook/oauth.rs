//! Client-credentials token endpoint of the Casebook simulator.
//!
//! Casebook serves its token endpoint on a separate "callback URL" host. The simulator
//! serves it on the API listener at `POST /oauth2/token`, next to the
//! `/<service>/<collection>` routes. The fields `client_id`, `client_secret` and
//! `grant_type=client_credentials` are read from a form-encoded body or from the query
//! string, because an older Casebook guide puts them in the query. A body field wins
//! over a query field of the same name.
//!
//! Success is 200 `{"access_token", "token_type": "Bearer", "expires_in"}`. Every error
//! is a 400 `{"error", "error_description"}` with `error` `invalid_request` (a missing
//! or repeated field, or a body that is not form-encoded), `invalid_client` (wrong
//! credentials) or `unsupported_grant_type`.
//!
//! Admin routes, neither counted nor faulted:
//! - `POST /_sim/oauth/expire`: every issued token expires now (204).
//! - `PUT /_sim/oauth/settings` with `{"token_ttl_s": N}`: tokens issued later live N
//!   seconds (204, or 400 naming the problem).
//! - `GET /_sim/oauth/state`: `{"tokens_issued": N, "issued_tokens": [..], "token_requests": N}`, where
//!   `token_requests` counts every request the token endpoint handled, accepted or not.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::SimState;
use crate::sim::oauth::{self, FORM_CONTENT_TYPE, FormFields};

/// Client id that the simulator accepts by default.
pub const OAUTH_CLIENT_ID: &str = "sim-casebook-client";
/// Client secret that the simulator accepts by default.
pub const OAUTH_CLIENT_SECRET: &str = "sim-casebook-secret";
/// Lifetime of issued tokens unless configured otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";

struct Issued {
    token_ttl: Duration,
    /// Issued access tokens and when each expires.
    tokens: HashMap<String, Instant>,
    tokens_issued: u64,
    /// The last [`oauth::MAX_TOKEN_HISTORY`] tokens issued, oldest first, for tests that
    /// search logs for them.
    history: std::collections::VecDeque<String>,
    token_requests: u64,
}

/// Issues and checks the access tokens of one Casebook simulator.
pub(super) struct TokenIssuer {
    client_id: String,
    client_secret: String,
    issued: Mutex<Issued>,
}

impl TokenIssuer {
    pub fn new(client_id: &str, client_secret: &str, token_ttl: Duration) -> TokenIssuer {
        TokenIssuer {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            issued: Mutex::new(Issued {
                token_ttl,
                tokens: HashMap::new(),
                tokens_issued: 0,
                history: std::collections::VecDeque::new(),
                token_requests: 0,
            }),
        }
    }

    /// Locks the issued tokens. Every critical section only updates the map and counters,
    /// so a poisoned lock is taken over.
    fn issued(&self) -> MutexGuard<'_, Issued> {
        self.issued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reports whether `token` was issued here and has not expired.
    pub fn accepts(&self, token: &str) -> bool {
        self.issued()
            .tokens
            .get(token)
            .is_some_and(|expires_at| *expires_at > Instant::now())
    }

    fn credentials_match(&self, client_id: &str, client_secret: &str) -> bool {
        let id_matches = self.client_id.as_bytes().ct_eq(client_id.as_bytes());
        let secret_matches = self
            .client_secret
            .as_bytes()
            .ct_eq(client_secret.as_bytes());
        bool::from(id_matches & secret_matches)
    }

    /// Handles the merged fields of one token request and builds the response.
    fn exchange(&self, fields: &FormFields) -> Response {
        self.issued().token_requests += 1;

        let mut missing = ["client_id", "client_secret", "grant_type"]
            .into_iter()
            .filter(|name| fields.get(name).is_none());
        if let Some(name) = missing.next() {
            return invalid_request(&format!(
                "missing field {name}: send client_id, client_secret and \
                 grant_type=client_credentials"
            ));
        }
        let client_id = fields.get("client_id").unwrap_or_default();
        let client_secret = fields.get("client_secret").unwrap_or_default();
        let grant_type = fields.get("grant_type").unwrap_or_default();

        if !self.credentials_match(client_id, client_secret) {
            return oauth::error_response(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                &format!(
                    "client_id {client_id:?} with this client_secret is not a registered client; \
                     check the client id and secret"
                ),
            );
        }
        if grant_type != "client_credentials" {
            return oauth::error_response(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {grant_type:?} is not supported: use client_credentials"),
            );
        }

        let now = Instant::now();
        let access_token = oauth::new_opaque_token();
        let mut issued = self.issued();
        issued.tokens.retain(|_, expires_at| *expires_at > now);
        let expires_at = oauth::expiry(now, issued.token_ttl);
        issued.tokens.insert(access_token.clone(), expires_at);
        issued.tokens_issued += 1;
        oauth::remember(&mut issued.history, &access_token);
        oauth::token_response(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": issued.token_ttl.as_secs(),
        }))
    }
}

fn invalid_request(description: &str) -> Response {
    oauth::error_response(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// Builds the token route, which skips the bearer-token check.
pub(super) fn routes() -> Router<SimState> {
    Router::new().route(
        TOKEN_PATH,
        post(token).fallback(super::method_not_allowed("POST")),
    )
}

/// `POST /oauth2/token`: issues an access token for the client credentials.
async fn token(
    State(state): State<SimState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let fields = read_fields(&headers, query.as_deref().unwrap_or_default(), &body);
    match fields {
        Ok(fields) => state.oauth.exchange(&fields),
        Err(description) => {
            state.oauth.issued().token_requests += 1;
            invalid_request(&description)
        }
    }
}

/// Reads the fields from the body and the query string. A body must be form-encoded;
/// an empty body leaves the query string as the only source.
fn read_fields(headers: &HeaderMap, query: &str, body: &[u8]) -> Result<FormFields, String> {
    let from_query = FormFields::parse(query.as_bytes())
        .map_err(|error| format!("in the query string, {error}"))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(from_query);
    }
    if !oauth::has_form_body(headers) {
        let sent = oauth::media_type(headers).unwrap_or_else(|| "no Content-Type".to_string());
        return Err(format!(
            "POST {TOKEN_PATH} takes a {FORM_CONTENT_TYPE} body, got {sent}; send the fields \
             form-encoded in the body or in the query string"
        ));
    }
    let mut fields = FormFields::parse(body).map_err(|error| format!("in the body, {error}"))?;
    fields.fill_from(from_query);
    Ok(fields)
}

/// Builds the `/_sim/oauth/*` admin routes.
pub(super) fn admin_routes(state: SimState) -> Router {
    Router::new()
        .route("/_sim/oauth/expire", post(expire_tokens))
        .route("/_sim/oauth/settings", put(put_settings))
        .route("/_sim/oauth/state", get(get_state))
        .with_state(state)
}

async fn expire_tokens(State(state): State<SimState>) -> StatusCode {
    let now = Instant::now();
    for expires_at in state.oauth.issued().tokens.values_mut() {
        *expires_at = now;
    }
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    token_ttl_s: u64,
}

async fn put_settings(State(state): State<SimState>, body: Bytes) -> Response {
    let ttl = serde_json::from_slice::<SettingsBody>(&body)
        .map_err(|error| {
            format!("invalid body for /_sim/oauth/settings: {error}; send {{\"token_ttl_s\": N}}")
        })
        .and_then(|settings| oauth::ttl_from_seconds("token_ttl_s", settings.token_ttl_s));
    match ttl {
        Ok(ttl) => {
            state.oauth.issued().token_ttl = ttl;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => {
            tracing::warn!(%message, "Casebook simulator rejected an admin request");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "statusCode": 400, "message": message })),
            )
                .into_response()
        }
    }
}

async fn get_state(State(state): State<SimState>) -> Json<Value> {
    let issued = state.oauth.issued();
    Json(json!({
        "tokens_issued": issued.tokens_issued,
        "issued_tokens": issued.history,
        "token_requests": issued.token_requests,
    }))
}
