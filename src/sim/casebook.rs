//! HTTP simulator of the Casebook JSON:API services: people, notes and tasks.
//!
//! Routes, type names, attributes and relationships come from
//! `upstream::casebook::names`. Every body is `application/vnd.api+json`. The query
//! language follows crnk's URL conventions and is described in [`query`]. Requests need
//! `Authorization: Bearer <token>` with one of the configured tokens; `Accept-Version`
//! is accepted and ignored but counted in the stats. The records live in memory behind
//! a lock and are seeded from the Casebook half of every seeded person.
//!
//! Served routes, all `GET`:
//! - `/<service>`: a listing of that service's collections as `links`;
//! - `/people/people` and `/people/people/{id}`;
//! - `/attachments/notes` and `/attachments/notes/{id}`;
//! - `/tasks/tasks` and `/tasks/tasks/{id}`.
//!
//! Other methods on these paths get 405, unknown paths 404, bad queries 400, all as
//! JSON:API error documents.

pub mod document;
pub mod query;
pub mod schema;
pub mod store;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use serde_json::{Map, Value as Json, json};
use subtle::ConstantTimeEq;

use self::document::Origin;
use self::query::{ParseOptions, QueryError, Target};
use self::schema::{ResourceSchema, SCHEMAS};
use self::store::{Record, Store};
use crate::sim::common::{self, ErrorBody, RunningSim, SimControl};
use crate::sim::seed::Dataset;
use crate::upstream::casebook::names;

/// The bearer token the simulator accepts unless configured otherwise.
pub const DEFAULT_TOKEN: &str = "casebook-sim-token";

/// Request header whose values the stats record per route.
const ACCEPT_VERSION_HEADER: &str = "accept-version";

/// Settings of one Casebook simulator.
#[derive(Clone)]
pub struct CasebookSimOptions {
    /// Accepted bearer tokens. Default: [`DEFAULT_TOKEN`]. An empty list rejects every
    /// request with 401.
    pub tokens: Vec<String>,
    /// Largest page size served. A larger `page[limit]` or `page[size]` gets 400.
    /// Default [`names::MAX_PAGE_SIZE`]. A value of 0 is treated as 1.
    pub max_page_size: u32,
    /// Reject unknown query parameters and unknown attribute paths with 400, as crnk
    /// does by default. When false, they are ignored. Default true.
    pub strict_parameters: bool,
}

impl Default for CasebookSimOptions {
    fn default() -> Self {
        CasebookSimOptions {
            tokens: vec![DEFAULT_TOKEN.to_string()],
            max_page_size: names::MAX_PAGE_SIZE,
            strict_parameters: true,
        }
    }
}

impl fmt::Debug for CasebookSimOptions {
    /// Writes the options with the number of tokens in place of the tokens themselves.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CasebookSimOptions")
            .field("tokens", &format_args!("<{} redacted>", self.tokens.len()))
            .field("max_page_size", &self.max_page_size)
            .field("strict_parameters", &self.strict_parameters)
            .finish()
    }
}

/// Shared state of the request handlers.
#[derive(Clone)]
struct SimState {
    store: Arc<RwLock<Store>>,
    options: Arc<CasebookSimOptions>,
}

impl SimState {
    /// Locks the store for reading. A handler that panicked while holding the lock left
    /// no partial write, because reads never mutate, so a poisoned lock is taken over.
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            max_page_size: self.options.max_page_size.max(1),
            strict: self.options.strict_parameters,
        }
    }

    fn accepts(&self, token: &str) -> bool {
        self.options
            .tokens
            .iter()
            .any(|accepted| bool::from(accepted.as_bytes().ct_eq(token.as_bytes())))
    }
}

/// Writes fault responses as JSON:API error documents.
struct JsonApiErrors;

impl ErrorBody for JsonApiErrors {
    fn error_response(&self, status: StatusCode, detail: &str) -> Response {
        document::error_response(status, detail, None)
    }
}

/// Builds the instrumented simulator router over a fresh store seeded from `dataset`.
///
/// The stats of `control` record the `Accept-Version` header per route.
pub fn router(dataset: &Dataset, options: CasebookSimOptions, control: SimControl) -> Router {
    control.record_header(ACCEPT_VERSION_HEADER);
    let state = SimState {
        store: Arc::new(RwLock::new(Store::from_dataset(dataset))),
        options: Arc::new(options),
    };

    let mut app: Router<SimState> = Router::new();
    for service in services() {
        app = app.route(&format!("/{service}"), only_get(get(service_root)));
    }
    for schema in SCHEMAS {
        let path = schema.collection.path();
        let list = move |State(state): State<SimState>, headers: HeaderMap, uri: Uri| {
            list_resources(state, schema, headers, uri)
        };
        let fetch =
            move |State(state): State<SimState>,
                  id: Result<Path<String>, PathRejection>,
                  headers: HeaderMap,
                  uri: Uri| { fetch_resource(state, schema, id, headers, uri) };
        app = app
            .route(&path, only_get(get(list)))
            .route(&format!("{path}/{{id}}"), only_get(get(fetch)));
    }

    let app = app
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state);
    common::instrument(app, control, Arc::new(JsonApiErrors))
}

/// Binds `listen` (port 0 picks a free port) and serves a simulator seeded from `dataset`.
pub async fn start(
    listen: SocketAddr,
    dataset: &Dataset,
    options: CasebookSimOptions,
) -> std::io::Result<RunningSim> {
    let control = SimControl::new();
    let app = router(dataset, options, control.clone());
    common::serve(listen, app, control).await
}

/// Lists the distinct service segments of the served collections, in table order.
fn services() -> Vec<&'static str> {
    let mut services: Vec<&'static str> = Vec::new();
    for schema in SCHEMAS {
        if !services.contains(&schema.collection.service) {
            services.push(schema.collection.service);
        }
    }
    services
}

/// Responds to methods other than GET and HEAD with a JSON:API 405.
fn only_get(route: MethodRouter<SimState>) -> MethodRouter<SimState> {
    route.fallback(method_not_allowed)
}

/// Checks `Authorization: Bearer <token>` before any route runs.
async fn authenticate(State(state): State<SimState>, request: Request, next: Next) -> Response {
    let header_value = request.headers().get(header::AUTHORIZATION);
    let problem = match header_value.map(HeaderValue::to_str) {
        None => Some("Missing Authorization header. Send Authorization: Bearer <token>."),
        Some(Err(_)) => Some("The Authorization header is not valid ASCII."),
        Some(Ok(value)) => match bearer_token(value) {
            None => Some("The Authorization header must use the Bearer scheme: Bearer <token>."),
            Some(token) if state.accepts(token) => None,
            Some(_) => Some("The bearer token is not valid. Request a new token and retry."),
        },
    };
    let Some(detail) = problem else {
        return next.run(request).await;
    };

    tracing::debug!(
        method = %request.method(),
        path = request.uri().path(),
        detail,
        "rejected a Casebook simulator request with 401"
    );
    let mut response = document::error_response(StatusCode::UNAUTHORIZED, detail, None);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Extracts the token from a `Bearer <token>` header value. The scheme is
/// case-insensitive.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `GET /<service>`: links to the collections the service serves.
async fn service_root(State(state): State<SimState>, headers: HeaderMap, uri: Uri) -> Response {
    let service = uri.path().trim_start_matches('/');
    if state.options.strict_parameters {
        let first = uri
            .query()
            .and_then(|raw| url::form_urlencoded::parse(raw.as_bytes()).next());
        if let Some((name, _)) = first {
            let error = QueryError {
                parameter: name.into_owned(),
                detail: format!("The /{service} listing takes no query parameters."),
            };
            return bad_query(&error);
        }
    }

    let origin = Origin::from_headers(&headers);
    let links: Map<String, Json> = SCHEMAS
        .iter()
        .filter(|schema| schema.collection.service == service)
        .map(|schema| {
            let path = schema.collection.path();
            (
                schema.collection.collection.to_string(),
                Json::String(origin.url(&path)),
            )
        })
        .collect();
    document::response(StatusCode::OK, &json!({ "links": links }))
}

/// `GET /<service>/<collection>`: one page of the matching resources.
async fn list_resources(
    state: SimState,
    schema: &'static ResourceSchema,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let raw_query = uri.query().unwrap_or("");
    let query = match query::parse(raw_query, schema, Target::Collection, state.parse_options()) {
        Ok(query) => query,
        Err(error) => return bad_query(&error),
    };
    let origin = Origin::from_headers(&headers);

    let store = state.read();
    let selected = store.select(schema, &query.filter, &query.sort);
    let total = selected.len() as u64;
    let page: Vec<&Record> = selected
        .into_iter()
        .skip(usize::try_from(query.page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(query.page.limit).unwrap_or(usize::MAX))
        .collect();

    let data: Vec<Json> = page
        .iter()
        .map(|record| document::resource_object(schema, record, &query.fields, &origin))
        .collect();
    let links = document::pagination_links(&origin, uri.path(), raw_query, query.page, total);
    let mut body = json!({
        "data": data,
        "meta": { names::META_TOTAL: total },
        "links": links,
    });
    if !query.include.is_empty() {
        body["included"] = Json::Array(document::included(&store, &page, &query, &origin));
    }
    document::response(StatusCode::OK, &body)
}

/// `GET /<service>/<collection>/{id}`: one resource, or 404.
async fn fetch_resource(
    state: SimState,
    schema: &'static ResourceSchema,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Ok(Path(id)) = id else {
        return document::error_response(
            StatusCode::BAD_REQUEST,
            "The id in the path is not valid percent-encoded UTF-8.",
            None,
        );
    };
    let query = match query::parse(
        uri.query().unwrap_or(""),
        schema,
        Target::Single,
        state.parse_options(),
    ) {
        Ok(query) => query,
        Err(error) => return bad_query(&error),
    };
    let origin = Origin::from_headers(&headers);

    let store = state.read();
    let Some(record) = store.get(schema, &id) else {
        let detail = format!("No {} record with id {id}.", schema.type_name());
        tracing::debug!(%detail, "Casebook simulator responded 404");
        return document::error_response(StatusCode::NOT_FOUND, &detail, None);
    };

    let self_link = match uri.query() {
        Some(raw) => format!("{}?{raw}", uri.path()),
        None => uri.path().to_string(),
    };
    let mut body = json!({
        "data": document::resource_object(schema, record, &query.fields, &origin),
        "links": { "self": origin.url(&self_link) },
    });
    if !query.include.is_empty() {
        body["included"] = Json::Array(document::included(&store, &[record], &query, &origin));
    }
    document::response(StatusCode::OK, &body)
}

fn bad_query(error: &QueryError) -> Response {
    tracing::debug!(
        parameter = %error.parameter,
        detail = %error.detail,
        "Casebook simulator rejected a query parameter"
    );
    document::error_response(
        StatusCode::BAD_REQUEST,
        &error.detail,
        Some(&error.parameter),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let detail = format!(
        "Method {method} is not allowed on {}. This simulator serves GET only.",
        uri.path()
    );
    let mut response = document::error_response(StatusCode::METHOD_NOT_ALLOWED, &detail, None);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    let collections: Vec<String> = SCHEMAS
        .iter()
        .map(|schema| schema.collection.path())
        .collect();
    let detail = format!(
        "No route for {method} {}. Served collections: {}, each with /{{id}}.",
        uri.path(),
        collections.join(", ")
    );
    document::error_response(StatusCode::NOT_FOUND, &detail, None)
}
