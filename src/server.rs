//! The HTTP server: `/graphql` behind API-key authentication, GraphiQL, `/healthz`, `/readyz`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse, rejection::GraphQLRejection};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use tokio::{net::TcpListener, task::JoinHandle};
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};
use tracing::{error, info};

use crate::{
    cache::RecordCache,
    config::{Config, ConfigError},
    credentials::store::TokenStore,
    graphql::{GatewaySchema, RequestContext, build_schema, loaders::LoaderConfig},
    linking,
    metrics::Metrics,
    oauth_install,
    store::{LinkStore, StoreError},
    tenant::Tenant,
    upstream::limits::LimitsRegistry,
    writes::{Writes, worker},
};

/// Maximum time of a request to a route other than `/graphql`. GraphQL queries have their
/// own limit (`query_timeout_s`), and mutations have none.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A gateway that could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not open the database: {0}")]
    Store(#[from] StoreError),
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Everything the request handlers share.
pub struct Gateway {
    schema: GatewaySchema,
    store: LinkStore,
    cache: RecordCache,
    metrics: Metrics,
    loader_config: LoaderConfig,
    writes: Arc<Writes>,
    /// Reuse whole responses of queries (`cache.responses`).
    cache_responses: bool,
    /// Maximum run time of a query (`query_timeout_s`).
    query_timeout: Duration,
    worker: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    tenants: Vec<Arc<Tenant>>,
    /// Stored OAuth tokens and install states, when a key for them is configured.
    token_store: Option<TokenStore>,
    /// The GraphiQL page, when it is enabled.
    graphiql: Option<String>,
}

impl Gateway {
    /// Builds the clients, opens the database and runs the first linking scan when the
    /// configuration asks for it.
    pub async fn build(config: &Config) -> Result<Arc<Gateway>, StartError> {
        Self::build_with_graphiql_key(config, None).await
    }

    /// Like `build`, with GraphiQL sending `Authorization: Bearer <key>` on every query.
    pub async fn build_with_graphiql_key(
        config: &Config,
        graphiql_key: Option<&str>,
    ) -> Result<Arc<Gateway>, StartError> {
        config.validate()?;
        let store =
            LinkStore::connect_with(&config.database.url, config.database.max_connections).await?;
        let metrics = Metrics::new();
        let limits = LimitsRegistry::new(metrics.clone());
        let token_store = config
            .token_cipher()?
            .map(|cipher| TokenStore::new(store.pool().clone(), cipher, "ghl"));
        let mut tenants = Vec::with_capacity(config.tenants.len());
        for (id, tenant) in &config.tenants {
            tenants.push(Arc::new(Tenant::from_config(
                id,
                tenant,
                config,
                &metrics,
                &limits,
                token_store.as_ref(),
            )?));
        }
        let graphiql = config.graphiql.then(|| {
            let authorization = graphiql_key.map(|key| format!("Bearer {key}"));
            let mut page = GraphiQLSource::build()
                .endpoint("/graphql")
                .title("casebook-ghl-gateway");
            if let Some(value) = authorization.as_deref() {
                page = page.header("Authorization", value);
            }
            page.finish()
        });
        let cache = RecordCache::new(&config.cache, metrics.clone());
        let writes = Arc::new(Writes::new(
            store.clone(),
            cache.clone(),
            config.writes.clone(),
        ));
        let gateway = Arc::new(Gateway {
            schema: build_schema(),
            store,
            cache,
            metrics,
            loader_config: config.loaders.clone(),
            writes,
            cache_responses: config.cache.enabled && config.cache.responses,
            query_timeout: Duration::from_secs(config.query_timeout_s),
            worker: std::sync::Mutex::new(None),
            tenants,
            token_store,
            graphiql,
        });

        if config.linking.reconcile_on_start {
            for tenant in &gateway.tenants {
                // A tenant whose upstream is down still starts; the next scan retries.
                if let Err(error) = linking::reconcile(tenant, &gateway.store).await {
                    error!(tenant = %tenant.id, error = %error, "first reconcile failed");
                }
            }
        }
        if config.linking.reconcile_interval_s > 0 {
            gateway.spawn_reconcile_loop(Duration::from_secs(config.linking.reconcile_interval_s));
        }
        let tenants_by_id = gateway
            .tenants
            .iter()
            .map(|tenant| (tenant.id.clone(), tenant.clone()))
            .collect();
        let worker = worker::spawn(gateway.writes.clone(), tenants_by_id);
        if let Ok(mut slot) = gateway.worker.lock() {
            *slot = Some(worker);
        }
        Ok(gateway)
    }

    fn spawn_reconcile_loop(self: &Arc<Self>, interval: Duration) {
        let gateway = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(gateway) = gateway.upgrade() else {
                    return;
                };
                for tenant in &gateway.tenants {
                    if let Err(error) = linking::reconcile(tenant, &gateway.store).await {
                        error!(tenant = %tenant.id, error = %error, "reconcile failed");
                    }
                }
            }
        });
    }

    /// The gateway's database.
    pub fn store(&self) -> &LinkStore {
        &self.store
    }

    /// The record cache shared by all requests.
    pub fn cache(&self) -> &RecordCache {
        &self.cache
    }

    /// The write service.
    pub fn writes(&self) -> &Arc<Writes> {
        &self.writes
    }

    /// Stops the outbox worker; queued entries stay in the database.
    pub fn stop_worker(&self) {
        if let Ok(mut slot) = self.worker.lock()
            && let Some(worker) = slot.take()
        {
            worker.abort();
        }
    }

    /// Looks up the tenant with this id.
    pub fn tenant(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.tenants.iter().find(|tenant| tenant.id == id)
    }

    /// Stored OAuth tokens and install states, when configured.
    pub fn token_store(&self) -> Option<&TokenStore> {
        self.token_store.as_ref()
    }

    /// The process counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The HTTP routes.
    pub fn router(self: &Arc<Self>) -> Router {
        let others = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ready))
            .route("/metrics", get(metrics))
            .route("/oauth/ghl/install", get(oauth_install::install))
            .route("/oauth/ghl/callback", get(oauth_install::callback))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::GATEWAY_TIMEOUT,
                REQUEST_TIMEOUT,
            ));
        Router::new()
            .route("/graphql", get(graphiql).post(graphql))
            .merge(others)
            // Spans carry the path only: query strings such as the OAuth callback's code
            // stay out of the logs.
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        path = request.uri().path(),
                    )
                }),
            )
            .with_state(self.clone())
    }

    /// Finds the tenant whose API key the request carries.
    ///
    /// Every configured key is compared in constant time, so the time taken does not
    /// tell which key or tenant came close.
    fn authenticate(&self, headers: &HeaderMap) -> Option<Arc<Tenant>> {
        let presented = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))?
            .1
            .trim()
            .as_bytes();
        let mut matched: Option<Arc<Tenant>> = None;
        for tenant in &self.tenants {
            for key in &tenant.api_keys {
                if bool::from(key.expose_secret().as_bytes().ct_eq(presented)) {
                    matched = Some(tenant.clone());
                }
            }
        }
        matched
    }
}

async fn graphql(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    request: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let Some(tenant) = gateway.authenticate(&headers) else {
        return unauthorized();
    };
    // The body is read after the key is checked, so an unauthenticated caller learns nothing.
    let request = match request {
        Ok(request) => request,
        Err(rejection) => {
            tracing::debug!(error = %rejection.0, "request body is not a GraphQL request");
            let body = serde_json::json!({
                "errors": [{
                    "message": "the request body is not a GraphQL request: send JSON such as {\"query\": \"{ contacts { totalCount } }\"} with Content-Type: application/json",
                    "extensions": { "code": "BAD_REQUEST" }
                }]
            });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let refresh = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-cache"));
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_string);
    let mut request = request.into_inner();
    let tenant_key: Arc<str> = Arc::from(tenant.id.as_str());
    let response_key = gateway.cache_responses.then(|| {
        format!(
            "{}\u{1f}{}\u{1f}{}",
            request.operation_name.as_deref().unwrap_or_default(),
            request.query,
            serde_json::to_string(&request.variables).unwrap_or_default()
        )
    });
    if let (Some(key), false) = (&response_key, refresh)
        && let Some(body) = gateway.cache.response(&tenant_key, key).await
    {
        return ([(header::CONTENT_TYPE, "application/json")], body.to_vec()).into_response();
    }
    // The document parsed here is kept in the request, so execution does not parse it again.
    let operation_name = request.operation_name.clone();
    let (parsed, is_query) = match request.parsed_query() {
        Ok(document) => (
            true,
            is_query_operation(document, operation_name.as_deref()),
        ),
        Err(_) => (false, false),
    };

    let context = RequestContext::new(
        tenant,
        gateway.store.clone(),
        gateway.cache.clone(),
        refresh,
        &gateway.loader_config,
        gateway.writes.clone(),
        idempotency_key,
    );
    let request = request
        .data(context)
        .data(crate::graphql::nulls::FieldErrors::default());
    let mut response = if is_query {
        match tokio::time::timeout(gateway.query_timeout, gateway.schema.execute(request)).await {
            Ok(response) => response,
            Err(_) => return query_timed_out(gateway.query_timeout),
        }
    } else {
        // A mutation runs in a task of its own, so that neither a slow upstream nor a client
        // that disconnects stops it between the writes to the two systems.
        let schema = gateway.schema.clone();
        match tokio::spawn(async move { schema.execute(request).await }).await {
            Ok(response) => response,
            Err(failure) => {
                error!(error = %failure, "GraphQL execution task failed");
                async_graphql::Response::from_errors(vec![async_graphql::ServerError::new(
                    "the request failed inside the gateway; the server log has the details",
                    None,
                )])
            }
        }
    };
    label_uncoded_errors(&mut response, parsed);
    if let (Some(key), true, true) = (response_key, is_query, response.is_ok())
        && let Ok(body) = serde_json::to_vec(&response)
    {
        gateway.cache.store_response(&tenant_key, &key, body).await;
    }
    GraphQLResponse::from(response).into_response()
}

/// Builds the response to a query that ran longer than `limit`.
fn query_timed_out(limit: Duration) -> Response {
    let seconds = limit.as_secs();
    tracing::warn!(
        limit_s = seconds,
        "query stopped after the query time limit"
    );
    let body = serde_json::json!({
        "errors": [{
            "message": format!(
                "the query ran longer than {seconds} s and was stopped: request fewer records \
                 (a smaller `first`, fewer child lists), or raise query_timeout_s"
            ),
            "extensions": { "code": "GATEWAY_TIMEOUT" }
        }]
    });
    (StatusCode::GATEWAY_TIMEOUT, Json(body)).into_response()
}

/// Adds `extensions.code` to each error that has none, using `parsed` to tell parse errors
/// apart. The gateway's own errors all carry a code, but async-graphql's parse, validation
/// and argument errors do not.
fn label_uncoded_errors(response: &mut async_graphql::Response, parsed: bool) {
    for error in &mut response.errors {
        let coded = error
            .extensions
            .as_ref()
            .is_some_and(|values| values.get("code").is_some());
        if coded {
            continue;
        }
        let code = if !parsed {
            "GRAPHQL_PARSE_FAILED"
        } else if error.path.is_empty() {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            "BAD_USER_INPUT"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

/// Whether the operation a request runs is a query (the only kind whose response may be
/// reused).
fn is_query_operation(
    document: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        // A document with one named operation runs it without an operation name.
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    operation.is_some_and(|operation| operation.node.ty == OperationType::Query)
}

async fn graphiql(State(gateway): State<Arc<Gateway>>) -> Response {
    match &gateway.graphiql {
        Some(page) => Html(page.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "GraphiQL is turned off: set graphiql = true in the configuration, or POST queries to /graphql",
        )
            .into_response(),
    }
}

async fn ready(State(gateway): State<Arc<Gateway>>) -> Response {
    match gateway.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            error!(error = %error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        gateway.metrics.render(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    let body = serde_json::json!({
        "errors": [{
            "message": "missing or invalid API key: send the header Authorization: Bearer <api key>",
            "extensions": { "code": "UNAUTHENTICATED" }
        }]
    });
    let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"casebook-ghl-gateway\""),
    );
    response
}

/// A gateway serving on a socket.
pub struct RunningGateway {
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningGateway {
    /// The base URL, such as `http://127.0.0.1:4000`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for open requests to finish.
    pub async fn shutdown(self) {
        self.gateway.stop_worker();
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (after Ctrl-C or SIGTERM when started by `serve`).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves the gateway until `RunningGateway::shutdown`, Ctrl-C or SIGTERM.
pub async fn start(gateway: Arc<Gateway>, addr: SocketAddr) -> Result<RunningGateway, StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = gateway.router();
    let task = tokio::spawn(async move {
        let signal = async {
            tokio::select! {
                _ = stopped => {}
                _ = shutdown_signal() => {}
            }
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await
        {
            error!(error = %error, "server stopped with an error");
        }
        info!("server stopped");
    });
    info!(%addr, "gateway listening");
    Ok(RunningGateway {
        addr,
        gateway,
        shutdown,
        task,
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    /// Parses `query` and returns whether the operation it runs is a query.
    fn is_query(query: &str, operation_name: Option<&str>) -> bool {
        async_graphql::parser::parse_query(query)
            .is_ok_and(|document| super::is_query_operation(&document, operation_name))
    }

    #[test]
    fn query_operations_are_recognised() {
        assert!(is_query("{ contacts { totalCount } }", None));
        assert!(is_query(
            "query One($id: ID!) { contact(id: $id) { id } }",
            None
        ));
        assert!(is_query("query A { a } mutation B { b }", Some("A")));
        assert!(!is_query("query A { a } mutation B { b }", Some("B")));
        assert!(!is_query("query A { a } query B { b }", None));
        assert!(!is_query("mutation M { m }", None));
        assert!(!is_query("not graphql", None));
    }
}
