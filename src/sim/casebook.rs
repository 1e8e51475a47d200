//! HTTP simulator of the Casebook JSON:API services: people, notes and tasks.
//!
//! Routes, type names, attributes and relationships come from
//! `upstream::casebook::names`. Every body is `application/vnd.api+json`. The query
//! language follows crnk's URL conventions and is described in [`query`]; the write
//! rules are described in [`write`]. Requests need `Authorization: Bearer <token>` with
//! one of the configured tokens or an unexpired token from the client-credentials
//! endpoint in [`oauth`]; `Accept-Version` is accepted and ignored but counted in the
//! stats. The records live in memory behind a lock and are seeded from the Casebook
//! half of every seeded person.
//!
//! Served routes:
//! - `GET /<service>`: a listing of that service's collections as `links`;
//! - `GET` and `POST` on `/people/people`, `/attachments/notes` and `/tasks/tasks`;
//! - `GET`, `PATCH` and `DELETE` on `/people/people/{id}`, `/attachments/notes/{id}`
//!   and `/tasks/tasks/{id}`;
//! - `POST /oauth2/token`: the client-credentials token endpoint, without credentials;
//! - `GET /_sim/state/people`, without credentials and outside the stats: every person
//!   with their tasks and notes, for tests that check what a write stored;
//! - `/_sim/oauth/*`: admin routes of the token endpoint, described in [`oauth`].
//!
//! Other methods on these paths get 405, unknown paths 404, bad queries 400, all as
//! JSON:API error documents.

pub mod document;
pub mod oauth;
pub mod query;
pub mod schema;
pub mod store;
pub mod write;
mod write_handlers;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
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

pub use self::oauth::{OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET};

/// The bearer token the simulator accepts unless configured otherwise.
pub const DEFAULT_TOKEN: &str = "casebook-sim-token";

/// Request header whose values the stats record per route.
const ACCEPT_VERSION_HEADER: &str = "accept-version";

/// Path of the unauthenticated state listing for tests.
pub const STATE_PATH: &str = "/_sim/state/people";

/// Methods served on a collection path and on a resource path, for the `Allow` header.
const COLLECTION_METHODS: &str = "GET, HEAD, POST";
const RESOURCE_METHODS: &str = "GET, HEAD, PATCH, DELETE";

/// Attributes that a create must set to a non-blank value, by resource type.
///
/// Casebook lets each tenant choose its mandatory fields, so these lists are
/// configurable. An update may not set a required attribute to null or blank text.
/// Names that are not writable attributes of the type are ignored with a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredAttributes {
    /// Default: `first_name`, `last_name`.
    pub people: Vec<String>,
    /// Default: `subject`, `body`, `note_type`.
    pub notes: Vec<String>,
    /// Default: `title`.
    pub tasks: Vec<String>,
}

impl Default for RequiredAttributes {
    fn default() -> Self {
        let owned = |list: &[&str]| list.iter().map(|name| name.to_string()).collect();
        RequiredAttributes {
            people: owned(&[names::person::FIRST_NAME, names::person::LAST_NAME]),
            notes: owned(&[
                names::note::SUBJECT,
                names::note::BODY,
                names::note::NOTE_TYPE,
            ]),
            tasks: owned(&[names::task::TITLE]),
        }
    }
}

impl RequiredAttributes {
    /// Returns the list for resources of this JSON:API type; empty for unknown types.
    pub fn for_type(&self, type_name: &str) -> &[String] {
        if type_name == names::PEOPLE.type_name {
            &self.people
        } else if type_name == names::NOTES.type_name {
            &self.notes
        } else if type_name == names::TASKS.type_name {
            &self.tasks
        } else {
            &[]
        }
    }
}

/// Settings of one Casebook simulator.
#[derive(Clone)]
pub struct CasebookSimOptions {
    /// Accepted static bearer tokens, valid forever. Default: [`DEFAULT_TOKEN`]. With an
    /// empty list, only tokens from `POST /oauth2/token` are accepted.
    pub tokens: Vec<String>,
    /// Largest page size served. A larger `page[limit]` or `page[size]` gets 400.
    /// Default [`names::MAX_PAGE_SIZE`]. A value of 0 is treated as 1.
    pub max_page_size: u32,
    /// Reject unknown query parameters and unknown attribute paths with 400, as crnk
    /// does by default. When false, they are ignored. Default true.
    pub strict_parameters: bool,
    /// Attributes a create must set, per resource type. Default
    /// [`RequiredAttributes::default`].
    pub required_attributes: RequiredAttributes,
    /// Client id that `POST /oauth2/token` accepts. Default [`OAUTH_CLIENT_ID`].
    pub client_id: String,
    /// Client secret that `POST /oauth2/token` accepts. Default [`OAUTH_CLIENT_SECRET`].
    pub client_secret: String,
    /// Lifetime of the tokens that `POST /oauth2/token` issues, 1 s to 366 days.
    /// Default one hour.
    pub token_ttl: Duration,
}

impl Default for CasebookSimOptions {
    fn default() -> Self {
        CasebookSimOptions {
            tokens: vec![DEFAULT_TOKEN.to_string()],
            max_page_size: names::MAX_PAGE_SIZE,
            strict_parameters: true,
            required_attributes: RequiredAttributes::default(),
            client_id: OAUTH_CLIENT_ID.to_string(),
            client_secret: OAUTH_CLIENT_SECRET.to_string(),
            token_ttl: oauth::DEFAULT_TOKEN_TTL,
        }
    }
}

impl CasebookSimOptions {
    /// Checks the client credentials and the token lifetime; the error names the
    /// invalid value and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.client_id.trim().is_empty() || self.client_secret.trim().is_empty() {
            return Err(
                "invalid Casebook simulator options: client_id and client_secret must not be blank"
                    .to_string(),
            );
        }
        crate::sim::oauth::validate_ttl("Casebook simulator token_ttl", self.token_ttl)
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
            .field("required_attributes", &self.required_attributes)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("token_ttl", &self.token_ttl)
            .finish()
    }
}

/// Shared state of the request handlers.
#[derive(Clone)]
struct SimState {
    store: Arc<RwLock<Store>>,
    options: Arc<CasebookSimOptions>,
    /// Required attributes per type name, limited to writable attributes.
    required: Arc<HashMap<&'static str, Vec<&'static str>>>,
    oauth: Arc<oauth::TokenIssuer>,
}

impl SimState {
    /// Locks the store for reading. A handler that panicked while holding the lock left
    /// no partial write (see [`SimState::write`]), so a poisoned lock is taken over.
    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the store for writing. Writes validate and build a whole record before a
    /// single insert or remove, so a panic cannot leave half a record behind and a
    /// poisoned lock is taken over.
    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn required(&self, schema: &ResourceSchema) -> &[&'static str] {
        self.required
            .get(schema.type_name())
            .map_or(&[][..], Vec::as_slice)
    }

    fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            max_page_size: self.options.max_page_size.max(1),
            strict: self.options.strict_parameters,
        }
    }

    /// Reports whether `token` is a static token or an unexpired issued one.
    fn accepts(&self, token: &str) -> bool {
        let is_static = self
            .options
            .tokens
            .iter()
            .any(|accepted| bool::from(accepted.as_bytes().ct_eq(token.as_bytes())));
        is_static || self.oauth.accepts(token)
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
    let required = resolve_required(&options.required_attributes);
    let oauth = oauth::TokenIssuer::new(
        &options.client_id,
        &options.client_secret,
        options.token_ttl,
    );
    let state = SimState {
        store: Arc::new(RwLock::new(Store::from_dataset(dataset))),
        options: Arc::new(options),
        required: Arc::new(required),
        oauth: Arc::new(oauth),
    };

    let mut app: Router<SimState> = Router::new();
    for service in services() {
        app = app.route(
            &format!("/{service}"),
            get(service_root).fallback(method_not_allowed("GET, HEAD")),
        );
    }
    for schema in SCHEMAS {
        let path = schema.collection.path();
        app = app
            .route(&path, collection_routes(schema))
            .route(&format!("{path}/{{id}}"), resource_routes(schema));
    }

    // The token route joins after the `authenticate` layer, so it needs no token, but
    // before `instrument`, so it is counted and can be faulted.
    let app = app
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .merge(oauth::routes())
        .with_state(state.clone());
    // The admin routes join after `instrument`, so they are not counted, faulted or
    // authenticated.
    let admin_routes = Router::new()
        .route(STATE_PATH, get(write_handlers::state_of_people))
        .with_state(state.clone())
        .merge(oauth::admin_routes(state));
    common::instrument(app, control, Arc::new(JsonApiErrors)).merge(admin_routes)
}

/// `GET` and `POST` on a collection path.
fn collection_routes(schema: &'static ResourceSchema) -> MethodRouter<SimState> {
    let list = move |State(state): State<SimState>, headers: HeaderMap, uri: Uri| {
        list_resources(state, schema, headers, uri)
    };
    let create = move |State(state): State<SimState>,
                       headers: HeaderMap,
                       body: Result<Bytes, BytesRejection>| {
        write_handlers::create_resource(state, schema, headers, body)
    };
    get(list)
        .post(create)
        .fallback(method_not_allowed(COLLECTION_METHODS))
}

/// `GET`, `PATCH` and `DELETE` on a resource path.
fn resource_routes(schema: &'static ResourceSchema) -> MethodRouter<SimState> {
    let fetch = move |State(state): State<SimState>,
                      id: Result<Path<String>, PathRejection>,
                      headers: HeaderMap,
                      uri: Uri| { fetch_resource(state, schema, id, headers, uri) };
    let update = move |State(state): State<SimState>,
                       id: Result<Path<String>, PathRejection>,
                       headers: HeaderMap,
                       body: Result<Bytes, BytesRejection>| {
        write_handlers::update_resource(state, schema, id, headers, body)
    };
    let delete = move |State(state): State<SimState>, id: Result<Path<String>, PathRejection>| {
        write_handlers::delete_resource(state, schema, id)
    };
    get(fetch)
        .patch(update)
        .delete(delete)
        .fallback(method_not_allowed(RESOURCE_METHODS))
}

/// Resolves the configured required attributes to the schema's names. Names that are
/// not writable attributes of their type are dropped with a warning, because no create
/// could ever set them.
fn resolve_required(required: &RequiredAttributes) -> HashMap<&'static str, Vec<&'static str>> {
    let mut resolved = HashMap::new();
    for schema in SCHEMAS {
        let mut names: Vec<&'static str> = Vec::new();
        for name in required.for_type(schema.type_name()) {
            match schema.attribute(name) {
                Some((attribute, _)) if schema.is_writable(attribute) => {
                    if !names.contains(&attribute) {
                        names.push(attribute);
                    }
                }
                _ => tracing::warn!(
                    resource_type = schema.type_name(),
                    attribute = %name,
                    writable = %schema.writable_list(),
                    "ignored a required attribute that is not a writable attribute of its type"
                ),
            }
        }
        resolved.insert(schema.type_name(), names);
    }
    resolved
}

/// Validates the options, binds `listen` (port 0 picks a free port) and serves a
/// simulator seeded from `dataset`.
pub async fn start(
    listen: SocketAddr,
    dataset: &Dataset,
    options: CasebookSimOptions,
) -> std::io::Result<RunningSim> {
    options
        .validate()
        .map_err(|message| std::io::Error::new(std::io::ErrorKind::InvalidInput, message))?;
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

/// Builds a handler that responds with a JSON:API 405 naming the `allowed` methods.
fn method_not_allowed(
    allowed: &'static str,
) -> impl Fn(Method, Uri) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |method: Method, uri: Uri| {
        let detail = format!(
            "Method {method} is not allowed on {}. Allowed methods: {allowed}.",
            uri.path()
        );
        let mut response = document::error_response(StatusCode::METHOD_NOT_ALLOWED, &detail, None);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allowed));
        std::future::ready(response)
    }
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
