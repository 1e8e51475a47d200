//! Infrastructure shared by both simulators: request counters, recorded headers, added
//! latency, scripted faults, the `/_sim/*` admin routes and a loopback server.
//!
//! A simulator builds its own `axum::Router` and passes it to [`instrument`], which wraps
//! every route with the middleware below and adds the admin routes:
//!
//! - `GET /_sim/stats` returns [`SimControl::stats`]; `DELETE /_sim/stats` resets it (204).
//! - `POST /_sim/faults` takes one [`FaultRule`] or an array of them and returns 201
//!   `{"faults": <number of rules now active>}`; `DELETE /_sim/faults` removes them all (204).
//!
//! Admin routes are not counted, not faulted, not delayed and need no credentials.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

/// Key under which a request without the recorded header is counted.
const MISSING_HEADER: &str = "<missing>";
/// Route template under which requests that match no route are counted.
const UNMATCHED_ROUTE: &str = "<unmatched>";
/// How long [`RunningSim::shutdown`] waits for open requests before it aborts the server.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Counters and scripted faults of one simulator; cheap to clone (Arc inside).
#[derive(Clone, Default)]
pub struct SimControl {
    inner: Arc<ControlInner>,
}

#[derive(Default)]
struct ControlInner {
    latency: Mutex<Duration>,
    recorded_headers: Mutex<Vec<&'static str>>,
    stats: Mutex<Stats>,
    faults: Mutex<Vec<FaultRule>>,
}

#[derive(Default)]
struct Stats {
    total: u64,
    routes: BTreeMap<String, RouteStats>,
    /// Header name → route → header value → count.
    headers: BTreeMap<&'static str, BTreeMap<String, BTreeMap<String, u64>>>,
}

#[derive(Default)]
struct RouteStats {
    count: u64,
    statuses: BTreeMap<u16, u64>,
}

/// Locks a mutex, taking over the data if a panicking thread poisoned it. Every critical
/// section here only updates counters, so the data stays consistent after such a panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SimControl {
    /// Creates a control with no latency, no recorded headers, empty stats and no faults.
    pub fn new() -> SimControl {
        SimControl::default()
    }

    /// Added to every request before it is handled (for benchmarks); default zero.
    ///
    /// Admin routes are not delayed.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.inner.latency) = latency;
    }

    /// Record the values of this request header per route in the stats (GHL uses "version").
    ///
    /// The name is matched case-insensitively and reported in the stats as given.
    pub fn record_header(&self, name: &'static str) {
        let mut names = lock(&self.inner.recorded_headers);
        if !names.iter().any(|known| known.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }

    /// The same JSON that GET /_sim/stats returns.
    ///
    /// Shape: `{"total": N, "routes": {"GET /a/{id}": {"count": N, "statuses": {"200": N}}},
    /// "headers": {"version": {"GET /a/{id}": {"2021-07-28": N, "<missing>": N}}}}`.
    pub fn stats(&self) -> Value {
        let stats = lock(&self.inner.stats);
        let routes: serde_json::Map<String, Value> = stats
            .routes
            .iter()
            .map(|(route, route_stats)| {
                let statuses: serde_json::Map<String, Value> = route_stats
                    .statuses
                    .iter()
                    .map(|(status, count)| (status.to_string(), json!(count)))
                    .collect();
                (
                    route.clone(),
                    json!({ "count": route_stats.count, "statuses": statuses }),
                )
            })
            .collect();
        let headers: serde_json::Map<String, Value> = stats
            .headers
            .iter()
            .map(|(name, per_route)| (name.to_string(), json!(per_route)))
            .collect();
        json!({ "total": stats.total, "routes": routes, "headers": headers })
    }

    /// Sets every counter back to zero. Recorded header names, latency and faults stay.
    pub fn reset_stats(&self) {
        *lock(&self.inner.stats) = Stats::default();
    }

    /// Number of requests seen for "METHOD /route/template" (e.g. "GET /contacts/{contactId}"), 0 if none.
    pub fn count(&self, route: &str) -> u64 {
        lock(&self.inner.stats)
            .routes
            .get(route)
            .map_or(0, |route_stats| route_stats.count)
    }

    /// Number of requests seen on all routes, admin routes excluded.
    pub fn total(&self) -> u64 {
        lock(&self.inner.stats).total
    }

    /// Appends a fault rule. Rules are tried in the order they were added and the first one
    /// that matches a request applies.
    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.inner.faults).push(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Number of fault rules that can still apply.
    pub fn fault_count(&self) -> usize {
        lock(&self.inner.faults).len()
    }

    fn latency(&self) -> Duration {
        *lock(&self.inner.latency)
    }

    /// Counts one request and the values of the recorded headers it carries.
    fn record_request(&self, route: &str, request: &Request) {
        let names = lock(&self.inner.recorded_headers).clone();
        let mut stats = lock(&self.inner.stats);
        stats.total += 1;
        stats.routes.entry(route.to_string()).or_default().count += 1;
        for name in names {
            let value = match request.headers().get(name) {
                Some(value) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
                None => MISSING_HEADER.to_string(),
            };
            let per_value = stats
                .headers
                .entry(name)
                .or_default()
                .entry(route.to_string())
                .or_default();
            per_value.entry(MISSING_HEADER.to_string()).or_insert(0);
            *per_value.entry(value).or_insert(0) += 1;
        }
    }

    fn record_status(&self, route: &str, status: StatusCode) {
        let mut stats = lock(&self.inner.stats);
        let route_stats = stats.routes.entry(route.to_string()).or_default();
        *route_stats.statuses.entry(status.as_u16()).or_insert(0) += 1;
    }

    /// Finds the first rule matching this request, uses up one of its `times` and returns a
    /// copy of it. A rule whose `times` reaches zero is removed.
    fn take_fault(&self, method: &str, path: &str) -> Option<FaultRule> {
        let mut faults = lock(&self.inner.faults);
        let position = faults.iter().position(|rule| rule.matches(method, path))?;
        let rule = faults[position].clone();
        if let Some(times) = faults[position].times.as_mut() {
            *times = times.saturating_sub(1);
            if *times == 0 {
                faults.remove(position);
            }
        }
        Some(rule)
    }
}

/// One scripted fault: the JSON body of POST /_sim/faults.
///
/// A rule with only `delay_ms` or `delay_after_ms` lets the simulator handle the request.
/// Otherwise the first of these replaces the response: `drop_connection`, `malformed_json`,
/// `status`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// HTTP method to match, e.g. "POST" (case-insensitive); `None` matches any method.
    pub method: Option<String>,
    /// Prefix of the request path to match, e.g. "/contacts/".
    pub path: String,
    /// Status of the fault response, which carries the simulator's own error body.
    pub status: Option<u16>,
    /// Number of matching requests the rule applies to; `None` applies until cleared.
    pub times: Option<u32>,
    /// Value in seconds of a `Retry-After` header added to the fault response.
    pub retry_after_s: Option<u64>,
    /// Milliseconds to wait before the request is handled, with or without a status.
    pub delay_ms: Option<u64>,
    /// Milliseconds to hold the finished response back. The request has already been
    /// handled, so a write is kept even when the client stops waiting. A client with a
    /// shorter timeout then gets a timeout for a write that succeeded.
    #[serde(default)]
    pub delay_after_ms: Option<u64>,
    /// Sends the response headers, then cuts the connection in the middle of the body.
    #[serde(default)]
    pub drop_connection: bool,
    /// Responds 200 (or `status`) with a truncated JSON body.
    #[serde(default)]
    pub malformed_json: bool,
}

impl FaultRule {
    /// Checks the values a JSON body cannot check by type. The error names the value and
    /// the accepted range.
    pub fn validate(&self) -> Result<(), String> {
        if !self.path.starts_with('/') {
            return Err(format!(
                "invalid fault rule: path {:?} must start with '/', e.g. \"/contacts/\"",
                self.path
            ));
        }
        if let Some(status) = self.status
            && !(100..=599).contains(&status)
        {
            return Err(format!(
                "invalid fault rule: status {status} is not an HTTP status; use 100 to 599"
            ));
        }
        if self.times == Some(0) {
            return Err(
                "invalid fault rule: times 0 would never apply; use 1 or more, or omit it"
                    .to_string(),
            );
        }
        if let Some(method) = &self.method
            && (method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            return Err(format!(
                "invalid fault rule: method {method:?} is not an HTTP method, e.g. \"GET\""
            ));
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let method_matches = self
            .method
            .as_deref()
            .is_none_or(|expected| expected.eq_ignore_ascii_case(method));
        method_matches && path.starts_with(&self.path)
    }

    /// Reports whether the rule replaces the response rather than only delaying it.
    fn replaces_response(&self) -> bool {
        self.drop_connection || self.malformed_json || self.status.is_some()
    }
}

/// Error body writer of one simulator, because each system has its own error shape.
pub trait ErrorBody: Send + Sync + 'static {
    /// Builds the complete error response for `status`, with `detail` as the message.
    fn error_response(&self, status: StatusCode, detail: &str) -> Response;
}

#[derive(Clone)]
struct InstrumentState {
    control: SimControl,
    errors: Arc<dyn ErrorBody>,
}

/// Wraps a simulator's router: latency, request counting by route template (axum MatchedPath),
/// recorded headers, fault injection, and the admin routes below (which are not counted,
/// not faulted and need no auth). Unknown routes are counted under "METHOD <unmatched>".
///
/// Call it on the finished router, after any fallback and layers of the simulator itself,
/// so that counting and faults happen before the simulator's own checks such as auth.
pub fn instrument(router: Router, control: SimControl, errors: Arc<dyn ErrorBody>) -> Router {
    let state = InstrumentState {
        control: control.clone(),
        errors,
    };
    let instrumented = router.layer(middleware::from_fn_with_state(state, handle_request));
    // `merge` keeps the fallback of `instrumented`, so unknown routes stay counted.
    admin_router(control).merge(instrumented)
}

async fn handle_request(
    State(state): State<InstrumentState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_string();
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_string();
    let route = format!("{method} {template}");
    state.control.record_request(&route, &request);

    let latency = state.control.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let fault = state.control.take_fault(&method, request.uri().path());
    let delay_after = fault.as_ref().and_then(|rule| rule.delay_after_ms);
    let response = match fault {
        Some(rule) => {
            if let Some(delay) = rule.delay_ms {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if rule.replaces_response() {
                fault_response(&rule, &route, state.errors.as_ref())
            } else {
                next.run(request).await
            }
        }
        None => next.run(request).await,
    };

    // The status is counted before the hold-back, because a client that times out closes
    // the connection and this future is then dropped during the sleep.
    state.control.record_status(&route, response.status());
    if let Some(delay) = delay_after {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    response
}

/// Builds the response a fault rule scripts. Only called when the rule replaces the response.
fn fault_response(rule: &FaultRule, route: &str, errors: &dyn ErrorBody) -> Response {
    // `validate` keeps statuses in range. A rule added through `add_fault` without
    // validation falls back to 500.
    let status = rule
        .status
        .map(|code| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));

    let mut response = if rule.drop_connection {
        dropped_connection_response(status.unwrap_or(StatusCode::OK))
    } else if rule.malformed_json {
        malformed_json_response(status.unwrap_or(StatusCode::OK))
    } else {
        let status = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        errors.error_response(status, &format!("Simulated fault on {route}"))
    };

    if let Some(seconds) = rule.retry_after_s {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Sends the headers and the start of a JSON body, then fails the body stream, which makes
/// hyper abort the connection before the body is complete.
fn dropped_connection_response(status: StatusCode) -> Response {
    let first_chunk = futures::stream::iter([Ok::<Bytes, std::io::Error>(Bytes::from_static(
        b"{\"contacts\":[{\"id\":",
    ))]);
    let failure = futures::stream::once(async {
        // A short pause lets the headers and the first chunk reach the client first.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated connection drop",
        ))
    });
    let body = Body::from_stream(futures::StreamExt::chain(first_chunk, failure));
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn malformed_json_response(status: StatusCode) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        "{\"contact\":{\"id\":\"truncat",
    )
        .into_response()
}

fn admin_router(control: SimControl) -> Router {
    Router::new()
        .route("/_sim/stats", get(get_stats).delete(delete_stats))
        .route(
            "/_sim/faults",
            axum::routing::post(post_faults).delete(delete_faults),
        )
        .with_state(control)
}

async fn get_stats(State(control): State<SimControl>) -> Json<Value> {
    Json(control.stats())
}

async fn delete_stats(State(control): State<SimControl>) -> StatusCode {
    control.reset_stats();
    StatusCode::NO_CONTENT
}

async fn delete_faults(State(control): State<SimControl>) -> StatusCode {
    control.clear_faults();
    StatusCode::NO_CONTENT
}

async fn post_faults(State(control): State<SimControl>, body: Bytes) -> Response {
    match parse_fault_rules(&body) {
        Ok(rules) => {
            for rule in rules {
                control.add_fault(rule);
            }
            (
                StatusCode::CREATED,
                Json(json!({ "faults": control.fault_count() })),
            )
                .into_response()
        }
        Err(message) => {
            tracing::warn!(%message, "rejected a fault rule");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "statusCode": 400, "message": message })),
            )
                .into_response()
        }
    }
}

/// Parses the body of POST /_sim/faults: one rule object or an array of them.
fn parse_fault_rules(body: &[u8]) -> Result<Vec<FaultRule>, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| format!("invalid JSON body for /_sim/faults: {error}"))?;
    let rules = match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                serde_json::from_value::<FaultRule>(item)
                    .map_err(|error| format!("invalid fault rule at index {index}: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Object(_) => vec![
            serde_json::from_value::<FaultRule>(value)
                .map_err(|error| format!("invalid fault rule: {error}"))?,
        ],
        other => {
            return Err(format!(
                "invalid fault rule: expected a JSON object or an array of objects, got {other}"
            ));
        }
    };
    for rule in &rules {
        rule.validate()?;
    }
    Ok(rules)
}

/// A simulator serving on a loopback port.
///
/// Dropping it stops the server as [`RunningSim::shutdown`] does, without waiting.
pub struct RunningSim {
    /// The bound address, with the port picked by the OS when port 0 was requested.
    pub addr: std::net::SocketAddr,
    /// `http://IP:PORT`, without a trailing slash.
    pub base_url: String,
    /// The counters and faults of this simulator.
    pub control: SimControl,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningSim {
    /// Stops accepting connections and waits up to 5 seconds for open requests to finish,
    /// then aborts the server task.
    pub async fn shutdown(mut self) {
        if let Some(sender) = self.shutdown.take() {
            // The receiver is gone only if the server already stopped.
            let _ = sender.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            tracing::warn!(addr = %self.addr, "simulator did not stop within the grace period; aborting it");
            task.abort();
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// Binds `listen` (port 0 picks a free port) and serves `router` in a tokio task.
pub async fn serve(
    listen: std::net::SocketAddr,
    router: Router,
    control: SimControl,
) -> std::io::Result<RunningSim> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown_sender, shutdown_receiver) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let signal = async move {
            // A dropped sender also means "stop".
            let _ = shutdown_receiver.await;
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::error!(%addr, %error, "simulator server failed");
        }
    });
    tracing::info!(%addr, "simulator listening");
    Ok(RunningSim {
        addr,
        base_url: format!("http://{addr}"),
        control,
        shutdown: Some(shutdown_sender),
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Writes errors as `{"error": <status>, "detail": <detail>}` so tests can tell them apart.
    struct TestErrors;

    impl ErrorBody for TestErrors {
        fn error_response(&self, status: StatusCode, detail: &str) -> Response {
            (
                status,
                Json(json!({ "error": status.as_u16(), "detail": detail })),
            )
                .into_response()
        }
    }

    async fn start_test_sim() -> (RunningSim, reqwest::Client) {
        let control = SimControl::new();
        control.record_header("version");
        let router = Router::new()
            .route(
                "/items/{itemId}",
                get(|| async { Json(json!({ "item": { "id": "a" } })) }),
            )
            .route(
                "/items/",
                axum::routing::post(|| async { (StatusCode::CREATED, Json(json!({}))) }),
            );
        let router = instrument(router, control.clone(), Arc::new(TestErrors));
        let sim = serve("127.0.0.1:0".parse().unwrap(), router, control)
            .await
            .unwrap();
        (sim, reqwest::Client::new())
    }

    async fn post_faults_json(sim: &RunningSim, client: &reqwest::Client, body: Value) {
        let response = client
            .post(format!("{}/_sim/faults", sim.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "fault rule rejected: {body}");
    }

    #[tokio::test]
    async fn serve_binds_loopback_port() {
        let (sim, _) = start_test_sim().await;
        assert!(sim.addr.ip().is_loopback());
        assert_ne!(sim.addr.port(), 0);
        assert_eq!(
            sim.base_url,
            format!("http://127.0.0.1:{}", sim.addr.port())
        );
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_connections() {
        let (sim, _) = start_test_sim().await;
        let url = format!("{}/items/a", sim.base_url);
        sim.shutdown().await;
        let result = reqwest::Client::new().get(&url).send().await;
        assert!(result.is_err(), "server still answered after shutdown");
    }

    #[tokio::test]
    async fn stats_count_by_route_template() {
        let (sim, client) = start_test_sim().await;
        for id in ["a", "b", "c"] {
            client
                .get(format!("{}/items/{id}", sim.base_url))
                .header("Version", "2021-07-28")
                .send()
                .await
                .unwrap();
        }
        client
            .post(format!("{}/items/", sim.base_url))
            .send()
            .await
            .unwrap();

        assert_eq!(sim.control.count("GET /items/{itemId}"), 3);
        assert_eq!(sim.control.count("POST /items/"), 1);
        assert_eq!(sim.control.count("DELETE /items/"), 0);
        assert_eq!(sim.control.total(), 4);

        let stats = sim.control.stats();
        assert_eq!(stats["total"], 4);
        assert_eq!(stats["routes"]["GET /items/{itemId}"]["count"], 3);
        assert_eq!(stats["routes"]["GET /items/{itemId}"]["statuses"]["200"], 3);
        assert_eq!(stats["routes"]["POST /items/"]["statuses"]["201"], 1);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn stats_record_header_values() {
        let (sim, client) = start_test_sim().await;
        for version in [Some("2021-07-28"), Some("2021-07-28"), None] {
            let mut request = client.get(format!("{}/items/a", sim.base_url));
            if let Some(version) = version {
                request = request.header("Version", version);
            }
            request.send().await.unwrap();
        }
        client
            .post(format!("{}/items/", sim.base_url))
            .header("Version", "2021-07-28")
            .send()
            .await
            .unwrap();

        let stats = sim.control.stats();
        let versions = &stats["headers"]["version"];
        assert_eq!(versions["GET /items/{itemId}"]["2021-07-28"], 2);
        assert_eq!(versions["GET /items/{itemId}"]["<missing>"], 1);
        assert_eq!(versions["POST /items/"]["2021-07-28"], 1);
        assert_eq!(versions["POST /items/"]["<missing>"], 0);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn stats_count_unmatched_routes() {
        let (sim, client) = start_test_sim().await;
        let response = client
            .get(format!("{}/nothing/here", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(sim.control.count("GET <unmatched>"), 1);
        assert_eq!(sim.control.total(), 1);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn admin_routes_are_not_counted() {
        let (sim, client) = start_test_sim().await;
        client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        let stats: Value = client
            .get(format!("{}/_sim/stats", sim.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stats["total"], 1);
        assert_eq!(stats, sim.control.stats());
        assert_eq!(sim.control.total(), 1);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn delete_stats_resets_counters() {
        let (sim, client) = start_test_sim().await;
        client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        let response = client
            .delete(format!("{}/_sim/stats", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(sim.control.total(), 0);
        assert_eq!(sim.control.count("GET /items/{itemId}"), 0);
        assert_eq!(sim.control.stats()["routes"], json!({}));

        client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        sim.control.reset_stats();
        assert_eq!(sim.control.total(), 0);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn fault_status_uses_error_body_and_retry_after() {
        let (sim, client) = start_test_sim().await;
        post_faults_json(
            &sim,
            &client,
            json!({ "method": "get", "path": "/items/", "status": 429, "retry_after_s": 7 }),
        )
        .await;

        let response = client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], 429);
        assert_eq!(body["detail"], "Simulated fault on GET /items/{itemId}");

        // The rule matches GET only.
        let response = client
            .post(format!("{}/items/", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);

        // A faulted request is still counted, with the faulted status.
        let stats = sim.control.stats();
        assert_eq!(stats["routes"]["GET /items/{itemId}"]["statuses"]["429"], 1);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn fault_times_limits_matches() {
        let (sim, client) = start_test_sim().await;
        post_faults_json(
            &sim,
            &client,
            json!({ "path": "/items/a", "status": 503, "times": 2 }),
        )
        .await;
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let response = client
                .get(format!("{}/items/a", sim.base_url))
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        assert_eq!(statuses, [503, 503, 200]);
        assert_eq!(sim.control.fault_count(), 0);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn fault_path_is_prefix() {
        let (sim, client) = start_test_sim().await;
        post_faults_json(&sim, &client, json!({ "path": "/items/b", "status": 500 })).await;
        let other = client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
        let matching = client
            .get(format!("{}/items/bcd", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(matching.status(), 500);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn fault_delay_without_status_passes_through() {
        let (sim, client) = start_test_sim().await;
        post_faults_json(&sim, &client, json!({ "path": "/items/", "delay_ms": 300 })).await;
        let started = Instant::now();
        let response = client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["item"]["id"], "a");
        sim.shutdown().await;
    }

    /// Starts a simulator whose `POST /items/` counts the writes it handles.
    async fn start_counting_sim() -> (RunningSim, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let writes = Arc::new(AtomicUsize::new(0));
        let counter = writes.clone();
        let router = Router::new().route(
            "/items/",
            axum::routing::post(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    (
                        StatusCode::CREATED,
                        Json(json!({ "item": { "id": "new" } })),
                    )
                }
            }),
        );
        let control = SimControl::new();
        let router = instrument(router, control.clone(), Arc::new(TestErrors));
        let sim = serve("127.0.0.1:0".parse().unwrap(), router, control)
            .await
            .unwrap();
        (sim, writes)
    }

    #[tokio::test]
    async fn fault_delay_after_holds_response() {
        let (sim, writes) = start_counting_sim().await;
        let client = reqwest::Client::new();
        post_faults_json(
            &sim,
            &client,
            json!({ "method": "POST", "path": "/items/", "delay_after_ms": 300, "times": 1 }),
        )
        .await;

        let started = Instant::now();
        let response = client
            .post(format!("{}/items/", sim.base_url))
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["item"]["id"], "new");
        assert_eq!(writes.load(std::sync::atomic::Ordering::SeqCst), 1);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn fault_delay_after_keeps_write_on_timeout() {
        let (sim, writes) = start_counting_sim().await;
        let client = reqwest::Client::new();
        post_faults_json(
            &sim,
            &client,
            json!({ "path": "/items/", "delay_after_ms": 2000 }),
        )
        .await;

        let impatient = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let error = impatient
            .post(format!("{}/items/", sim.base_url))
            .send()
            .await
            .expect_err("the response is held back beyond the client timeout");
        assert!(error.is_timeout(), "{error:?}");

        // The write happened and its status was counted although no client received it.
        assert_eq!(writes.load(std::sync::atomic::Ordering::SeqCst), 1);
        let stats = sim.control.stats();
        assert_eq!(stats["routes"]["POST /items/"]["statuses"]["201"], 1);
        sim.shutdown().await;
    }

    #[test]
    fn fault_rule_delay_after_defaults_to_none() {
        let rule: FaultRule = serde_json::from_value(json!({ "path": "/a" })).unwrap();
        assert_eq!(rule.delay_after_ms, None);
        let rule: FaultRule =
            serde_json::from_value(json!({ "path": "/a", "delay_after_ms": 50 })).unwrap();
        assert_eq!(rule.delay_after_ms, Some(50));
        assert!(!rule.replaces_response());
        assert!(rule.validate().is_ok());
    }

    #[tokio::test]
    async fn fault_drop_connection_breaks_body() {
        let (sim, client) = start_test_sim().await;
        post_faults_json(
            &sim,
            &client,
            json!({ "path": "/items/", "drop_connection": true, "times": 1 }),
        )
        .await;
        let response = client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.bytes().await;
        assert!(body.is_err(), "body arrived complete: {body:?}");

        // The next request is answered normally on a new connection.
        let response = client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn fault_malformed_json_truncates_body() {
        let (sim, client) = start_test_sim().await;
        post_faults_json(
            &sim,
            &client,
            json!({ "path": "/items/", "malformed_json": true }),
        )
        .await;
        let response = client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn latency_delays_requests() {
        let (sim, client) = start_test_sim().await;
        sim.control.set_latency(Duration::from_millis(200));
        let started = Instant::now();
        client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200));

        sim.control.set_latency(Duration::ZERO);
        let started = Instant::now();
        client
            .get(format!("{}/_sim/stats", sim.base_url))
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_millis(200));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn post_faults_accepts_array() {
        let (sim, client) = start_test_sim().await;
        let response = client
            .post(format!("{}/_sim/faults", sim.base_url))
            .json(&json!([
                { "path": "/items/a", "status": 500 },
                { "path": "/items/b", "status": 502 },
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "faults": 2 }));

        let response = client
            .delete(format!("{}/_sim/faults", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(sim.control.fault_count(), 0);
        let response = client
            .get(format!("{}/items/a", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn post_faults_rejects_bad_bodies() {
        let (sim, client) = start_test_sim().await;
        let cases: [(&str, &str); 6] = [
            ("{not json", "invalid JSON body"),
            (
                r#"{"path": "/a", "colour": "red"}"#,
                "unknown field `colour`",
            ),
            (r#"{"status": 500}"#, "missing field `path`"),
            (r#"{"path": "/a", "status": 1000}"#, "status 1000"),
            (r#"[{"path": "/a"}, {"path": "a"}]"#, "path \"a\""),
            ("42", "expected a JSON object"),
        ];
        for (body, expected) in cases {
            let response = client
                .post(format!("{}/_sim/faults", sim.base_url))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "body {body}");
            let answer: Value = response.json().await.unwrap();
            let message = answer["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(expected),
                "body {body}: message {message:?} lacks {expected:?}"
            );
        }
        assert_eq!(sim.control.fault_count(), 0);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn faults_skip_admin_routes() {
        let (sim, client) = start_test_sim().await;
        post_faults_json(&sim, &client, json!({ "path": "/", "status": 500 })).await;
        let response = client
            .get(format!("{}/_sim/stats", sim.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        sim.shutdown().await;
    }

    #[test]
    fn fault_rule_matching() {
        let rule: FaultRule =
            serde_json::from_value(json!({ "method": "POST", "path": "/contacts/" })).unwrap();
        assert!(rule.matches("POST", "/contacts/search"));
        assert!(!rule.matches("GET", "/contacts/search"));
        assert!(!rule.matches("POST", "/calendars/"));
        assert!(!rule.replaces_response());
    }
}
