//! OAuth 2.0 of the GHL simulator: the location chooser that issues authorization codes,
//! the token endpoint with rotating refresh tokens, and the `/_sim/oauth/*` admin routes.
//!
//! It reproduces these facts of live GHL: `POST /oauth/token` takes a form-encoded body
//! and no `Version` header, access tokens last 86399 s, and every refresh returns a new
//! refresh token while the one it used stops working at once.
//!
//! Routes:
//! - `GET /oauth/chooselocation?response_type=code&client_id=..&redirect_uri=..&scope=..&state=..`
//!   simulates GHL's marketplace location chooser. It installs the app into the app's
//!   location without asking anyone and redirects (302) to `redirect_uri` with
//!   `code` and, when given, `state` added to its query. Bad input is a plain-text 400.
//! - `POST /oauth/token` exchanges an authorization code or a refresh token. Errors are
//!   `{"error", "error_description"}`: 401 `invalid_client`, otherwise 400 with
//!   `invalid_request`, `invalid_grant` or `unsupported_grant_type`.
//! - Admin routes, neither counted nor faulted: `POST /_sim/oauth/expire`,
//!   `POST /_sim/oauth/revoke-refresh`, `PUT /_sim/oauth/settings` and
//!   `GET /_sim/oauth/state`, described on their handlers.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::{GhlState, SIM_USER_ID, scopes::Scopes};
use crate::sim::{
    oauth::{self, FORM_CONTENT_TYPE, FormFields},
    seed,
};

/// Client id of the marketplace app that the simulator accepts by default.
pub const OAUTH_CLIENT_ID: &str = "sim-ghl-client";
/// Client secret of the default marketplace app.
pub const OAUTH_CLIENT_SECRET: &str = "sim-ghl-secret";
/// Lifetime of access tokens unless configured otherwise, the `expires_in` live GHL sends.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(86_399);
/// How long an authorization code can be exchanged after the chooser issued it.
pub const AUTHORIZATION_CODE_TTL: Duration = Duration::from_secs(600);
/// Path of the location chooser.
pub const CHOOSER_PATH: &str = "/oauth/chooselocation";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth/token";

/// The marketplace app that the simulator's OAuth routes know.
#[derive(Clone)]
pub struct GhlOAuthApp {
    /// Client id. Default [`OAUTH_CLIENT_ID`].
    pub client_id: String,
    /// Client secret. Default [`OAUTH_CLIENT_SECRET`].
    pub client_secret: String,
    /// Location the app is installed into, which every issued token grants. Default
    /// [`seed::GHL_LOCATION_ID`].
    pub location_id: String,
    /// Company (agency) of the location, sent as `companyId`. Default
    /// [`seed::GHL_COMPANY_ID`].
    pub company_id: String,
    /// Lifetime of issued access tokens, 1 s to 366 days. Default
    /// [`DEFAULT_ACCESS_TOKEN_TTL`].
    pub access_token_ttl: Duration,
}

impl Default for GhlOAuthApp {
    fn default() -> Self {
        GhlOAuthApp {
            client_id: OAUTH_CLIENT_ID.to_string(),
            client_secret: OAUTH_CLIENT_SECRET.to_string(),
            location_id: seed::GHL_LOCATION_ID.to_string(),
            company_id: seed::GHL_COMPANY_ID.to_string(),
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
        }
    }
}

impl std::fmt::Debug for GhlOAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlOAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("location_id", &self.location_id)
            .field("company_id", &self.company_id)
            .field("access_token_ttl", &self.access_token_ttl)
            .finish()
    }
}

impl GhlOAuthApp {
    /// Checks the app settings; the error names the invalid value and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("location_id", &self.location_id),
            ("company_id", &self.company_id),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(format!(
                "invalid GHL simulator OAuth app: {name} is blank; set a non-blank value"
            ));
        }
        oauth::validate_ttl("GHL simulator access_token_ttl", self.access_token_ttl)
    }
}

/// The location and the scopes that a token grants.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub location: String,
    pub scopes: Scopes,
}

struct AuthorizationCode {
    redirect_uri: String,
    grant: Grant,
    expires_at: Instant,
}

struct AccessToken {
    grant: Grant,
    expires_at: Instant,
}

/// Issued codes and tokens and the counters of `GET /_sim/oauth/state`.
struct Registry {
    access_token_ttl: Duration,
    codes: HashMap<String, AuthorizationCode>,
    access_tokens: HashMap<String, AccessToken>,
    /// Refresh tokens that can still be used once.
    refresh_tokens: HashMap<String, Grant>,
    refresh_tokens_issued: u64,
    /// The last [`oauth::MAX_TOKEN_HISTORY`] tokens issued, access and refresh, oldest
    /// first, for tests that search logs for them.
    issued_tokens: std::collections::VecDeque<String>,
    authorization_code_requests: u64,
    refresh_token_requests: u64,
    rejected_refresh: u64,
}

impl Registry {
    /// Issues a new access token and refresh token for `grant` and builds the token
    /// response. Expired codes and access tokens are dropped here, so the maps stay small.
    fn issue_tokens(&mut self, app: &GhlOAuthApp, grant: Grant) -> Value {
        let now = Instant::now();
        self.codes.retain(|_, code| code.expires_at > now);
        self.access_tokens.retain(|_, token| token.expires_at > now);

        let access_token = oauth::new_opaque_token();
        let refresh_token = oauth::new_opaque_token();
        let body = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl.as_secs(),
            "refresh_token": refresh_token,
            "scope": grant.scopes.to_scope_string(),
            "userType": "Location",
            "locationId": grant.location,
            "companyId": app.company_id,
            "userId": SIM_USER_ID,
        });
        self.access_tokens.insert(
            access_token.clone(),
            AccessToken {
                grant: grant.clone(),
                expires_at: oauth::expiry(now, self.access_token_ttl),
            },
        );
        oauth::remember(&mut self.issued_tokens, &access_token);
        oauth::remember(&mut self.issued_tokens, &refresh_token);
        self.refresh_tokens.insert(refresh_token, grant);
        self.refresh_tokens_issued += 1;
        body
    }
}

/// The OAuth side of one GHL simulator.
pub(super) struct OAuthServer {
    app: Option<GhlOAuthApp>,
    registry: Mutex<Registry>,
}

impl OAuthServer {
    pub fn new(app: Option<GhlOAuthApp>) -> OAuthServer {
        let access_token_ttl = app
            .as_ref()
            .map_or(DEFAULT_ACCESS_TOKEN_TTL, |app| app.access_token_ttl);
        OAuthServer {
            app,
            registry: Mutex::new(Registry {
                access_token_ttl,
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                refresh_tokens: HashMap::new(),
                refresh_tokens_issued: 0,
                issued_tokens: std::collections::VecDeque::new(),
                authorization_code_requests: 0,
                refresh_token_requests: 0,
                rejected_refresh: 0,
            }),
        }
    }

    /// Returns the location the app is installed into, if an app is configured.
    pub fn app_location(&self) -> Option<&str> {
        self.app.as_ref().map(|app| app.location_id.as_str())
    }

    /// Returns what an issued access token grants, or `None` for an unknown or expired
    /// token.
    pub fn access_grant(&self, token: &str) -> Option<Grant> {
        let registry = self.registry();
        let issued = registry.access_tokens.get(token)?;
        (issued.expires_at > Instant::now()).then(|| issued.grant.clone())
    }

    /// Locks the registry. Every change to it happens in one short critical section, so
    /// the data stays consistent after a panic elsewhere and a poisoned lock is taken over.
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Validates a chooser query and issues an authorization code. Returns the URL to
    /// redirect to, or the message of a 400.
    fn authorize(&self, raw_query: &str) -> Result<String, String> {
        let fields = FormFields::parse(raw_query.as_bytes())
            .map_err(|error| format!("invalid location chooser query: {error}"))?;
        let Some(app) = &self.app else {
            return Err(
                "this GHL simulator has no OAuth app: set GhlSimOptions::oauth to use the location chooser"
                    .to_string(),
            );
        };

        match fields.get("client_id") {
            None => return Err("missing client_id: pass the app's client id".to_string()),
            Some(client_id) if client_id != app.client_id => {
                return Err(format!(
                    "unknown client_id {client_id:?}: this simulator's app has client id {:?}",
                    app.client_id
                ));
            }
            Some(_) => {}
        }
        match fields.get("response_type") {
            Some("code") => {}
            Some(other) => {
                return Err(format!(
                    "unsupported response_type {other:?}: use response_type=code"
                ));
            }
            None => return Err("missing response_type: use response_type=code".to_string()),
        }
        let Some(redirect_uri) = fields.get("redirect_uri") else {
            return Err(
                "missing redirect_uri: pass the absolute http(s) URL that receives the code"
                    .to_string(),
            );
        };
        let mut target = parse_redirect_uri(redirect_uri)?;

        let code = oauth::new_opaque_token();
        let grant = Grant {
            location: app.location_id.clone(),
            scopes: Scopes::parse(fields.get("scope").unwrap_or_default()),
        };
        {
            let mut query = target.query_pairs_mut();
            query.append_pair("code", &code);
            if let Some(state) = fields.get("state") {
                query.append_pair("state", state);
            }
        }
        let now = Instant::now();
        let mut registry = self.registry();
        registry.codes.retain(|_, pending| pending.expires_at > now);
        registry.codes.insert(
            code,
            AuthorizationCode {
                redirect_uri: redirect_uri.to_string(),
                grant,
                expires_at: oauth::expiry(now, AUTHORIZATION_CODE_TTL),
            },
        );
        Ok(target.into())
    }

    /// Handles the fields of one token request and builds the response.
    fn exchange(&self, fields: &FormFields) -> Response {
        let mut missing = ["client_id", "client_secret", "grant_type"]
            .into_iter()
            .filter(|name| fields.get(name).is_none());
        if let Some(name) = missing.next() {
            return invalid_request(&format!(
                "missing field {name}: send client_id, client_secret and grant_type"
            ));
        }
        let client_id = fields.get("client_id").unwrap_or_default();
        let client_secret = fields.get("client_secret").unwrap_or_default();
        let grant_type = fields.get("grant_type").unwrap_or_default();

        let mut registry = self.registry();
        match grant_type {
            "authorization_code" => registry.authorization_code_requests += 1,
            "refresh_token" => registry.refresh_token_requests += 1,
            _ => {}
        }

        let Some(app) = self.app.as_ref().filter(|app| {
            app.client_id == client_id
                && bool::from(app.client_secret.as_bytes().ct_eq(client_secret.as_bytes()))
        }) else {
            return oauth::error_response(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!(
                    "client_id {client_id:?} with this client_secret is not a registered app; \
                     check the client id and secret"
                ),
            );
        };
        if let Some(user_type) = fields.get("user_type")
            && user_type != "Location"
        {
            return invalid_request(&format!(
                "unsupported user_type {user_type:?}: the simulator issues Location tokens only; \
                 send user_type=Location or omit it"
            ));
        }

        match grant_type {
            "authorization_code" => exchange_code(&mut registry, app, fields),
            "refresh_token" => exchange_refresh_token(&mut registry, app, fields),
            other => oauth::error_response(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type {other:?} is not supported: use authorization_code or refresh_token"
                ),
            ),
        }
    }
}

/// Parses a chooser `redirect_uri`: an absolute http or https URL without a fragment.
fn parse_redirect_uri(redirect_uri: &str) -> Result<url::Url, String> {
    let target = url::Url::parse(redirect_uri).map_err(|error| {
        format!("invalid redirect_uri {redirect_uri:?}: {error}; pass an absolute http(s) URL")
    })?;
    if target.scheme() != "http" && target.scheme() != "https" {
        return Err(format!(
            "invalid redirect_uri {redirect_uri:?}: the scheme must be http or https"
        ));
    }
    if target.fragment().is_some() {
        return Err(format!(
            "invalid redirect_uri {redirect_uri:?}: remove the #fragment, which OAuth forbids"
        ));
    }
    Ok(target)
}

/// Redeems an authorization code. A code is removed on its first redemption attempt by
/// the right client, so a second attempt fails even if the first one failed too.
fn exchange_code(registry: &mut Registry, app: &GhlOAuthApp, fields: &FormFields) -> Response {
    let Some(code) = fields.get("code") else {
        return invalid_request("missing field code: grant_type authorization_code needs the code");
    };
    let redeemed = registry
        .codes
        .remove(code)
        .filter(|pending| pending.expires_at > Instant::now());
    let Some(pending) = redeemed else {
        return invalid_grant(
            "the authorization code is invalid, expired or already used; \
             request a new one at /oauth/chooselocation",
        );
    };
    if let Some(redirect_uri) = fields.get("redirect_uri")
        && redirect_uri != pending.redirect_uri
    {
        return invalid_grant(&format!(
            "redirect_uri {redirect_uri:?} differs from the one the code was issued for; \
             send the same redirect_uri"
        ));
    }
    oauth::token_response(registry.issue_tokens(app, pending.grant))
}

/// Redeems a refresh token. The token stops working at once and the response carries
/// its replacement.
fn exchange_refresh_token(
    registry: &mut Registry,
    app: &GhlOAuthApp,
    fields: &FormFields,
) -> Response {
    let Some(refresh_token) = fields.get("refresh_token") else {
        return invalid_request(
            "missing field refresh_token: grant_type refresh_token needs the refresh token",
        );
    };
    let Some(grant) = registry.refresh_tokens.remove(refresh_token) else {
        registry.rejected_refresh += 1;
        return invalid_grant(
            "the refresh token is invalid or already used; every refresh returns a new \
             refresh token, so store and send the latest one, or authorize again",
        );
    };
    oauth::token_response(registry.issue_tokens(app, grant))
}

fn invalid_request(description: &str) -> Response {
    oauth::error_response(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_grant(description: &str) -> Response {
    oauth::error_response(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// Builds the chooser and token routes, which skip the token and `Version` checks.
pub(super) fn routes() -> Router<Arc<GhlState>> {
    Router::new()
        .route(
            CHOOSER_PATH,
            get(choose_location).fallback(super::route_not_found),
        )
        .route(TOKEN_PATH, post(token).fallback(super::route_not_found))
}

/// `GET /oauth/chooselocation`: issues a code and redirects to `redirect_uri`.
async fn choose_location(
    State(state): State<Arc<GhlState>>,
    RawQuery(query): RawQuery,
) -> Response {
    match state.oauth.authorize(query.as_deref().unwrap_or_default()) {
        Ok(target) => (StatusCode::FOUND, [(header::LOCATION, target)]).into_response(),
        Err(message) => {
            tracing::debug!(%message, "GHL simulator rejected a location chooser request");
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                message,
            )
                .into_response()
        }
    }
}

/// `POST /oauth/token`: exchanges a code or a refresh token for new tokens.
async fn token(State(state): State<Arc<GhlState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !oauth::has_form_body(&headers) {
        let sent = oauth::media_type(&headers).unwrap_or_else(|| "no Content-Type".to_string());
        return invalid_request(&format!(
            "POST /oauth/token takes a {FORM_CONTENT_TYPE} body, got {sent}; \
             send the fields form-encoded"
        ));
    }
    match FormFields::parse(&body) {
        Ok(fields) => state.oauth.exchange(&fields),
        Err(error) => invalid_request(&error),
    }
}

/// Builds the `/_sim/oauth/*` admin routes.
pub(super) fn admin_routes(state: Arc<GhlState>) -> Router {
    Router::new()
        .route("/_sim/oauth/expire", post(expire_access_tokens))
        .route("/_sim/oauth/revoke-refresh", post(revoke_refresh_tokens))
        .route("/_sim/oauth/settings", put(put_settings))
        .route("/_sim/oauth/state", get(get_state))
        .with_state(state)
}

/// `POST /_sim/oauth/expire`: every access token issued so far expires now (204).
async fn expire_access_tokens(State(state): State<Arc<GhlState>>) -> StatusCode {
    let now = Instant::now();
    for token in state.oauth.registry().access_tokens.values_mut() {
        token.expires_at = now;
    }
    StatusCode::NO_CONTENT
}

/// `POST /_sim/oauth/revoke-refresh`: every current refresh token counts as used (204).
async fn revoke_refresh_tokens(State(state): State<Arc<GhlState>>) -> StatusCode {
    state.oauth.registry().refresh_tokens.clear();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    access_token_ttl_s: u64,
}

/// `PUT /_sim/oauth/settings` with `{"access_token_ttl_s": N}`: access tokens issued
/// later live N seconds (204). Tokens issued earlier keep their expiry.
async fn put_settings(State(state): State<Arc<GhlState>>, body: Bytes) -> Response {
    let ttl = serde_json::from_slice::<SettingsBody>(&body)
        .map_err(|error| {
            format!(
                "invalid body for /_sim/oauth/settings: {error}; send {{\"access_token_ttl_s\": N}}"
            )
        })
        .and_then(|settings| {
            oauth::ttl_from_seconds("access_token_ttl_s", settings.access_token_ttl_s)
        });
    match ttl {
        Ok(ttl) => {
            state.oauth.registry().access_token_ttl = ttl;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => admin_bad_request(message),
    }
}

/// `GET /_sim/oauth/state`: `{"refresh_tokens_issued": N, "active_refresh_tokens": [..],
/// "issued_tokens": [..], "token_requests": {"authorization_code": N, "refresh_token": N}, "rejected_refresh": N}`.
///
/// `token_requests` counts every token request that named the grant type, accepted or
/// not. `rejected_refresh` counts refresh requests with an unknown or used refresh token.
async fn get_state(State(state): State<Arc<GhlState>>) -> Json<Value> {
    let registry = state.oauth.registry();
    let mut active: Vec<&String> = registry.refresh_tokens.keys().collect();
    active.sort();
    Json(json!({
        "refresh_tokens_issued": registry.refresh_tokens_issued,
        "active_refresh_tokens": active,
        "issued_tokens": registry.issued_tokens,
        "token_requests": {
            "authorization_code": registry.authorization_code_requests,
            "refresh_token": registry.refresh_token_requests,
        },
        "rejected_refresh": registry.rejected_refresh,
    }))
}

/// Builds the 400 of an admin route, in the shape of `POST /_sim/faults` errors.
pub(super) fn admin_bad_request(message: String) -> Response {
    tracing::warn!(%message, "GHL simulator rejected an admin request");
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "statusCode": 400, "message": message })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormFields {
        let text = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        FormFields::parse(text.as_bytes()).unwrap()
    }

    fn issue_code(server: &OAuthServer) -> String {
        let query = format!(
            "response_type=code&client_id={OAUTH_CLIENT_ID}&redirect_uri=http://127.0.0.1:9/cb"
        );
        let target = url::Url::parse(&server.authorize(&query).unwrap()).unwrap();
        target
            .query_pairs()
            .find(|(name, _)| name == "code")
            .unwrap()
            .1
            .into_owned()
    }

    fn exchange_fields(code: &str) -> FormFields {
        form(&[
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", OAUTH_CLIENT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", code),
        ])
    }

    #[test]
    fn code_lives_ten_minutes() {
        let server = OAuthServer::new(Some(GhlOAuthApp::default()));
        let code = issue_code(&server);
        let expires_at = server.registry().codes[&code].expires_at;
        let lifetime = expires_at.duration_since(Instant::now());
        assert!(lifetime > Duration::from_secs(599), "{lifetime:?}");
        assert!(lifetime <= AUTHORIZATION_CODE_TTL, "{lifetime:?}");
    }

    #[test]
    fn expired_code_is_invalid_grant() {
        let server = OAuthServer::new(Some(GhlOAuthApp::default()));
        let code = issue_code(&server);
        server.registry().codes.get_mut(&code).unwrap().expires_at = Instant::now();
        let response = server.exchange(&exchange_fields(&code));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(server.registry().codes.is_empty());
    }

    #[test]
    fn issued_access_token_grants_location() {
        let server = OAuthServer::new(Some(GhlOAuthApp::default()));
        let code = issue_code(&server);
        let response = server.exchange(&exchange_fields(&code));
        assert_eq!(response.status(), StatusCode::OK);

        let token = server
            .registry()
            .access_tokens
            .keys()
            .next()
            .unwrap()
            .clone();
        let grant = server.access_grant(&token).expect("the token is valid");
        assert_eq!(grant.location, seed::GHL_LOCATION_ID);
        assert_eq!(grant.scopes, Scopes::All);
        assert!(server.access_grant("unknown").is_none());
    }
}
