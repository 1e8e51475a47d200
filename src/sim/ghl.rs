//! HTTP simulator of the GoHighLevel (LeadConnector) API v2: contacts, their tags, tasks,
//! notes and appointments, and calendar appointments, to read and to write.
//!
//! It reproduces what a GHL client sees on the wire. The bearer-token and `Version` header
//! checks return GHL's 401 bodies, and a `locationId` the token does not cover is a 403.
//! Validation errors are 422 bodies whose `message` is an array. Each endpoint has its own
//! envelope, and every API response carries `X-RateLimit-*` headers. The data comes from
//! [`seed::Dataset`], and writes change it for every later read.
//!
//! A token is either a private integration token from [`GhlSimOptions::tokens`], which
//! has every scope, or an access token issued by the OAuth routes of [`oauth`]. An
//! issued token carries the scopes requested at the location chooser (see [`scopes`]).
//! Each location has a burst and a daily quota ([`rate_limit`]), and a request past
//! either gets GHL's 429.
//!
//! `GET /_sim/state/contacts` returns every stored contact with its tasks, notes and
//! appointments, so that tests can check what a write left behind. It needs no
//! credentials, is not counted, and takes `?locationId=` to list one location only.
//!
//! Layers, outermost first: quota counting and rate-limit headers, then
//! [`common::instrument`] (stats, latency, faults, `/_sim/*` admin routes), then the 429
//! of a request over the quota, then token, `Version` and scope checks, then the route
//! handlers. The OAuth chooser and token routes skip the token checks and the quota.

mod body;
mod contact_input;
mod contact_writes;
mod handlers;
pub mod oauth;
pub mod rate_limit;
pub mod scopes;
mod search;
mod store;
mod subresource_writes;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use serde_json::{Value, json};

use crate::sim::{
    common::{self, ErrorBody, RunningSim, SimControl},
    seed,
};

pub use oauth::{GhlOAuthApp, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET};
pub use rate_limit::RateLimitSettings;
pub use store::{LANGUAGE_FIELD_ID, LANGUAGE_FIELD_KEY, SIM_GROUP_ID, SIM_USER_ID};

/// Bearer token accepted by default, bound to [`seed::GHL_LOCATION_ID`].
pub const DEFAULT_TOKEN: &str = "ghl-sim-token";

/// `Version` header values GHL publishes; any of them is accepted on every route.
pub const PUBLISHED_VERSIONS: [&str; 4] = ["2021-04-15", "2021-07-28", "2023-02-21", "v3"];

/// Default burst limit: requests per location in one [`RATE_WINDOW`].
pub const RATE_LIMIT_MAX: u64 = 100;
/// Default length of the sliding burst window.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Default daily limit per location.
pub const RATE_LIMIT_DAILY: u64 = 200_000;

/// Settings of one GHL simulator.
#[derive(Clone)]
pub struct GhlSimOptions {
    /// Private integration tokens accepted, each bound to one location id and granting
    /// every scope. Default: {"ghl-sim-token": seed::GHL_LOCATION_ID}.
    pub tokens: HashMap<String, String>,
    /// Status for an unknown contact/task/note id: 400 (what live GHL has been seen to return,
    /// `{"statusCode":400,"message":"Contact with id <x> not found"}`) by default, or 404.
    pub not_found_status: u16,
    /// The location's "Allow Duplicate Contact" setting. When false (the default), a
    /// create whose e-mail or phone matches an existing contact is a 400 naming it.
    pub allow_duplicate_contacts: bool,
    /// The marketplace app of the OAuth routes. Default: [`GhlOAuthApp::default`]. With
    /// `None`, the chooser and the token endpoint reject every request.
    pub oauth: Option<GhlOAuthApp>,
    /// The initial quota of every location, which `PUT /_sim/ratelimit` can change later.
    /// Default: [`RateLimitSettings::default`].
    pub rate_limit: RateLimitSettings,
}

impl Default for GhlSimOptions {
    fn default() -> Self {
        GhlSimOptions {
            tokens: HashMap::from([(DEFAULT_TOKEN.to_string(), seed::GHL_LOCATION_ID.to_string())]),
            not_found_status: 400,
            allow_duplicate_contacts: false,
            oauth: Some(GhlOAuthApp::default()),
            rate_limit: RateLimitSettings::default(),
        }
    }
}

impl std::fmt::Debug for GhlSimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens stay out of logs; only the locations they grant are shown.
        let mut locations: Vec<&String> = self.tokens.values().collect();
        locations.sort();
        f.debug_struct("GhlSimOptions")
            .field("token_locations", &locations)
            .field("not_found_status", &self.not_found_status)
            .field("allow_duplicate_contacts", &self.allow_duplicate_contacts)
            .field("oauth", &self.oauth)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

impl GhlSimOptions {
    /// Checks the options; the error names the invalid value and the accepted ones.
    pub fn validate(&self) -> Result<(), String> {
        if self.not_found_status != 400 && self.not_found_status != 404 {
            return Err(format!(
                "invalid GHL simulator not_found_status {}: use 400 or 404",
                self.not_found_status
            ));
        }
        if self.tokens.is_empty() {
            return Err(
                "the GHL simulator needs at least one token: add one to GhlSimOptions::tokens"
                    .to_string(),
            );
        }
        if let Some((_, location)) = self
            .tokens
            .iter()
            .find(|(token, location)| token.trim().is_empty() || location.trim().is_empty())
        {
            return Err(format!(
                "invalid GHL simulator token entry for location {location:?}: \
                 tokens and location ids must not be blank"
            ));
        }
        if let Some(app) = &self.oauth {
            app.validate()?;
        }
        self.rate_limit.validate()
    }
}

/// Shared state of the route handlers.
struct GhlState {
    store: RwLock<store::Store>,
    tokens: HashMap<String, String>,
    not_found_status: StatusCode,
    allow_duplicate_contacts: bool,
    oauth: oauth::OAuthServer,
    rate_limits: rate_limit::RateLimiter,
}

/// The location a request's token grants, stored in the request extensions by
/// [`authenticate`].
#[derive(Debug, Clone)]
struct TokenLocation(String);

impl GhlState {
    fn store(&self) -> std::sync::RwLockReadGuard<'_, store::Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the store for a write. Each write handler holds the lock from its checks to
    /// its change, so concurrent writes cannot both pass a duplicate check.
    fn store_mut(&self) -> std::sync::RwLockWriteGuard<'_, store::Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Builds the error for an id that does not exist, e.g. `resource` "Contact".
    fn not_found(&self, resource: &str, id: &str) -> ApiError {
        ApiError::Message {
            status: self.not_found_status,
            message: format!("{resource} with id {id} not found"),
        }
    }

    /// Returns what the request's bearer token grants: a private integration token has
    /// every scope, an issued access token the scopes it was requested with. Unknown and
    /// expired tokens grant nothing.
    fn grant_of(&self, headers: &HeaderMap) -> Option<oauth::Grant> {
        let token = bearer_token(headers)?;
        match self.tokens.get(token) {
            Some(location) => Some(oauth::Grant {
                location: location.clone(),
                scopes: scopes::Scopes::All,
            }),
            None => self.oauth.access_grant(token),
        }
    }
}

/// Error bodies in GHL's shape: `{statusCode, message}` for 400, `message` as an array
/// for 422, and `{statusCode, message, error}` with the reason phrase otherwise.
pub struct GhlErrors;

impl ErrorBody for GhlErrors {
    fn error_response(&self, status: StatusCode, detail: &str) -> Response {
        error_response(status, detail)
    }
}

/// Builds a GHL error response with one message.
fn error_response(status: StatusCode, message: &str) -> Response {
    tracing::debug!(
        status = status.as_u16(),
        message,
        "GHL simulator error response"
    );
    let body = match status {
        StatusCode::BAD_REQUEST => json!({ "statusCode": 400, "message": message }),
        StatusCode::UNPROCESSABLE_ENTITY => json!({
            "statusCode": 422,
            "message": [message],
            "error": "Unprocessable Entity",
        }),
        other => json!({
            "statusCode": other.as_u16(),
            "message": message,
            "error": other.canonical_reason().unwrap_or("Error"),
        }),
    };
    (status, Json(body)).into_response()
}

/// A handler error, rendered in GHL's error shape.
#[derive(Debug)]
enum ApiError {
    /// An error with one message.
    Message { status: StatusCode, message: String },
    /// A 422 validation error with every problem found.
    Unprocessable(Vec<String>),
    /// The 400 for a contact write that would duplicate an existing contact.
    Duplicate {
        contact_id: String,
        contact_name: Option<String>,
        matching_field: store::MatchingField,
    },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Message { status, message } => error_response(status, &message),
            ApiError::Unprocessable(messages) => unprocessable_response(messages),
            ApiError::Duplicate {
                contact_id,
                contact_name,
                matching_field,
            } => duplicate_response(contact_id, contact_name, matching_field),
        }
    }
}

/// Builds GHL's 400 for a duplicate contact, whose `meta` names the existing contact.
fn duplicate_response(
    contact_id: String,
    contact_name: Option<String>,
    matching_field: store::MatchingField,
) -> Response {
    tracing::debug!(
        contact_id,
        matching_field = matching_field.as_str(),
        "GHL simulator rejected a duplicate contact"
    );
    let mut meta = serde_json::Map::new();
    meta.insert("contactId".into(), json!(contact_id));
    if let Some(name) = contact_name {
        meta.insert("contactName".into(), json!(name));
    }
    meta.insert("matchingField".into(), json!(matching_field.as_str()));
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "statusCode": 400,
            "message": "This location does not allow duplicated contacts.",
            "meta": meta,
        })),
    )
        .into_response()
}

/// Builds GHL's 422 validation response, whose `message` is an array.
fn unprocessable_response(messages: Vec<String>) -> Response {
    tracing::debug!(
        ?messages,
        "GHL simulator rejected a request as unprocessable"
    );
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "statusCode": 422,
            "message": messages,
            "error": "Unprocessable Entity",
        })),
    )
        .into_response()
}

/// Builds the 403 for a location the token does not cover.
fn forbidden_location() -> ApiError {
    ApiError::Message {
        status: StatusCode::FORBIDDEN,
        message: "The token does not have access to this location.".to_string(),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Builds the instrumented GHL router over a copy of `dataset`.
///
/// An invalid `options.not_found_status` is replaced by 400 with a warning; [`start`]
/// rejects it instead.
pub fn router(dataset: &seed::Dataset, options: GhlSimOptions, control: SimControl) -> Router {
    let not_found_status = match options.not_found_status {
        404 => StatusCode::NOT_FOUND,
        400 => StatusCode::BAD_REQUEST,
        other => {
            tracing::warn!(
                not_found_status = other,
                "invalid GHL simulator not_found_status; using 400"
            );
            StatusCode::BAD_REQUEST
        }
    };
    let oauth = oauth::OAuthServer::new(options.oauth);
    let known_locations = options
        .tokens
        .values()
        .map(String::as_str)
        .chain(oauth.app_location());
    let rate_limits = rate_limit::RateLimiter::new(options.rate_limit, known_locations);
    let state = Arc::new(GhlState {
        store: RwLock::new(store::Store::seeded(dataset)),
        tokens: options.tokens,
        not_found_status,
        allow_duplicate_contacts: options.allow_duplicate_contacts,
        oauth,
        rate_limits,
    });

    let api = Router::new()
        .route(
            "/contacts/",
            get(handlers::list_contacts).post(contact_writes::create_contact),
        )
        .route(
            "/contacts",
            get(handlers::list_contacts).post(contact_writes::create_contact),
        )
        .route("/contacts/upsert", post(contact_writes::upsert_contact))
        .route("/contacts/search", post(handlers::search_contacts))
        .route("/contacts/search/duplicate", get(handlers::find_duplicate))
        .route(
            "/contacts/business/{businessId}",
            get(handlers::business_contacts),
        )
        .route(
            "/contacts/{contactId}",
            get(handlers::get_contact)
                .put(contact_writes::update_contact)
                .delete(contact_writes::delete_contact),
        )
        .route(
            "/contacts/{contactId}/tags",
            post(contact_writes::add_tags).delete(contact_writes::remove_tags),
        )
        .route(
            "/contacts/{contactId}/tasks",
            get(handlers::list_tasks).post(subresource_writes::create_task),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}",
            get(handlers::get_task)
                .put(subresource_writes::update_task)
                .delete(subresource_writes::delete_task),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}/completed",
            put(subresource_writes::complete_task),
        )
        .route(
            "/contacts/{contactId}/notes",
            get(handlers::list_notes).post(subresource_writes::create_note),
        )
        .route(
            "/contacts/{contactId}/notes/{id}",
            get(handlers::get_note)
                .put(subresource_writes::update_note)
                .delete(subresource_writes::delete_note),
        )
        .route(
            "/contacts/{contactId}/appointments",
            get(handlers::contact_appointments),
        )
        .route(
            "/calendars/events/appointments",
            post(subresource_writes::create_appointment),
        )
        .route(
            "/calendars/events/appointments/{eventId}",
            get(handlers::get_calendar_event).put(subresource_writes::update_appointment),
        )
        .route(
            "/calendars/events/{eventId}",
            delete(subresource_writes::delete_appointment),
        )
        .method_not_allowed_fallback(route_not_found)
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .merge(oauth::routes())
        .fallback(route_not_found)
        .layer(middleware::from_fn(reject_over_quota))
        .with_state(state.clone());

    // These admin routes are merged after `instrument`, so they are neither counted nor
    // faulted.
    let admin_routes = Router::new()
        .route("/_sim/state/contacts", get(contact_writes::state_contacts))
        .with_state(state.clone())
        .merge(oauth::admin_routes(state.clone()))
        .merge(rate_limit::admin_routes(state.clone()));

    control.record_header("version");
    common::instrument(api, control, Arc::new(GhlErrors))
        .merge(admin_routes)
        .layer(middleware::from_fn_with_state(
            state,
            add_rate_limit_headers,
        ))
}

/// Validates the options, binds `listen` and serves the simulator in a tokio task.
pub async fn start(
    listen: SocketAddr,
    dataset: &seed::Dataset,
    options: GhlSimOptions,
) -> std::io::Result<RunningSim> {
    options
        .validate()
        .map_err(|message| std::io::Error::new(std::io::ErrorKind::InvalidInput, message))?;
    let control = SimControl::new();
    let app = router(dataset, options, control.clone());
    common::serve(listen, app, control).await
}

/// Responds to unknown routes and methods with a 404 `Cannot METHOD /path`, the body
/// GHL's NestJS server writes.
async fn route_not_found(request: Request) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("Cannot {} {}", request.method(), request.uri().path()),
    )
}

/// Checks the bearer token, the `Version` header and the token's scopes, then stores the
/// token's location for the handlers.
// NOTE: live GHL's order of checks when several of them fail is not documented; this
// simulator reports the token first and the scope last.
async fn authenticate(
    State(state): State<Arc<GhlState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(grant) = state.grant_of(request.headers()) else {
        return error_response(
            StatusCode::UNAUTHORIZED,
            "Invalid token: access token is invalid",
        );
    };

    match request.headers().get("version") {
        None => {
            return error_response(StatusCode::UNAUTHORIZED, "version header was not found.");
        }
        Some(value) => {
            let known = value
                .to_str()
                .is_ok_and(|version| PUBLISHED_VERSIONS.contains(&version.trim()));
            if !known {
                return error_response(StatusCode::UNAUTHORIZED, "version header is invalid");
            }
        }
    }

    if let Some(scope) = scopes::required_scope(request.method(), request.uri().path())
        && !grant.scopes.allows(scope)
    {
        tracing::debug!(
            scope,
            path = request.uri().path(),
            "GHL simulator rejected a token without the required scope"
        );
        return error_response(
            StatusCode::UNAUTHORIZED,
            "The token is not authorized for this scope.",
        );
    }

    request
        .extensions_mut()
        .insert(TokenLocation(grant.location));
    next.run(request).await
}

/// Counts each API request toward its token's location quota and adds GHL's
/// `X-RateLimit-*` headers to the response. Requests without a valid token, the OAuth
/// routes and the `/_sim/` routes are not counted.
///
/// The outcome travels in the request extensions to [`reject_over_quota`], which runs
/// inside [`common::instrument`] so that a 429 shows up in the stats.
async fn add_rate_limit_headers(
    State(state): State<Arc<GhlState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/_sim/") || path.starts_with("/oauth/") {
        return next.run(request).await;
    }
    let admission = match state.grant_of(request.headers()) {
        Some(grant) => state.rate_limits.admit(&grant.location),
        None => state.rate_limits.unmetered(),
    };
    request.extensions_mut().insert(admission);

    let mut response = next.run(request).await;
    admission.add_headers(response.headers_mut());
    response
}

/// Responds with GHL's 429 to a request that [`add_rate_limit_headers`] found over its
/// location's quota. The request is not served, and the response has no `Retry-After`.
async fn reject_over_quota(request: Request, next: Next) -> Response {
    let over_quota = request
        .extensions()
        .get::<rate_limit::Admission>()
        .is_some_and(|admission| !admission.admitted);
    if over_quota {
        return error_response(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
    }
    next.run(request).await
}

/// Parses a JSON request body as GHL does: an empty body is `{}`, and text that is not
/// JSON is a 400 with a message naming the problem.
fn parse_json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|error| ApiError::Message {
        status: StatusCode::BAD_REQUEST,
        message: format!("Invalid JSON in request body: {error}; send a JSON object"),
    })
}
