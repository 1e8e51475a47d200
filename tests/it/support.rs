//! Starts the simulators and the gateway for one test.

use casebook_ghl_gateway::{
    config::Config,
    demo::config_for,
    server::{self, Gateway, RunningGateway},
    sim::{
        casebook::{self, CasebookSimOptions},
        common::RunningSim,
        ghl::{self, GhlSimOptions},
        seed::{Dataset, MatchCase, Presence, SeedPerson},
    },
};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, header},
    response::Response,
};
use serde_json::{Value, json};

pub const API_KEY: &str = "test-api-key-0123456789";

/// Both simulators and a gateway in front of them.
pub struct TestApp {
    pub dataset: Dataset,
    pub casebook: RunningSim,
    pub ghl: RunningSim,
    /// The proxy between the gateway and the GHL simulator, when the test asked for one.
    pub ghl_proxy: Option<UpstreamProxy>,
    pub gateway: RunningGateway,
    pub http: reqwest::Client,
}

impl TestApp {
    /// Starts everything with the default data set and a fresh in-memory database.
    pub async fn start() -> TestApp {
        TestApp::start_with(Dataset::default(), |_| {}).await
    }

    /// Starts everything with `dataset`, after `configure` has changed the configuration.
    pub async fn start_with(dataset: Dataset, configure: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::start_inner(dataset, configure, false).await
    }

    /// Like `start_with`, with the gateway reaching the GHL simulator through an
    /// [`UpstreamProxy`] (in `ghl_proxy`).
    pub async fn start_behind_proxy(
        dataset: Dataset,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        TestApp::start_inner(dataset, configure, true).await
    }

    async fn start_inner(
        dataset: Dataset,
        configure: impl FnOnce(&mut Config),
        ghl_proxy: bool,
    ) -> TestApp {
        // Log lines show in the output of a failing test only.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
        let loopback = "127.0.0.1:0".parse().unwrap();
        let casebook = casebook::start(loopback, &dataset, CasebookSimOptions::default())
            .await
            .expect("Casebook simulator starts");
        let ghl = ghl::start(loopback, &dataset, GhlSimOptions::default())
            .await
            .expect("GHL simulator starts");
        let ghl_proxy = match ghl_proxy {
            true => Some(UpstreamProxy::start(&ghl.base_url).await),
            false => None,
        };
        let ghl_url = ghl_proxy
            .as_ref()
            .map_or(ghl.base_url.clone(), |proxy| proxy.base_url.clone());
        let mut config = config_for(&casebook.base_url, &ghl_url, API_KEY, "sqlite::memory:");
        configure(&mut config);
        let gateway = Gateway::build(&config).await.expect("gateway builds");
        let gateway = server::start(gateway, loopback)
            .await
            .expect("gateway starts");
        TestApp {
            dataset,
            casebook,
            ghl,
            ghl_proxy,
            gateway,
            http: reqwest::Client::new(),
        }
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.gateway.base_url())
    }

    /// Runs a query with the test API key and returns the whole response body.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(self.graphql_url())
            .bearer_auth(API_KEY)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(response.status(), 200, "GraphQL requests answer 200");
        response.json().await.expect("GraphQL response is JSON")
    }

    /// Runs a query that must succeed without errors and returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// The first seeded person matching `filter`.
    pub fn person(&self, filter: impl Fn(&SeedPerson) -> bool) -> &SeedPerson {
        self.dataset
            .people
            .iter()
            .find(|person| filter(person))
            .expect("the data set has such a person")
    }

    /// A linked person whose halves share an e-mail written the same way.
    pub fn linked_person(&self) -> &SeedPerson {
        self.person(|p| p.expect_linked() && p.match_case == MatchCase::SameEmail)
    }

    pub fn casebook_only(&self) -> &SeedPerson {
        self.person(|p| p.presence == Presence::CasebookOnly && p.match_case == MatchCase::OneSided)
    }

    pub fn ghl_only(&self) -> &SeedPerson {
        self.person(|p| p.presence == Presence::GhlOnly)
    }

    /// Adds a fault to a simulator through its HTTP admin API.
    pub async fn fault(&self, sim: &RunningSim, rule: Value) {
        let response = self
            .http
            .post(format!("{}/_sim/faults", sim.base_url))
            .json(&rule)
            .send()
            .await
            .expect("simulator answers");
        assert!(
            response.status().is_success(),
            "fault accepted: {}",
            response.status()
        );
    }

    /// Clears both simulators' request statistics.
    pub fn reset_stats(&self) {
        for sim in [&self.casebook, &self.ghl] {
            sim.control.reset_stats();
        }
    }

    /// Requests a simulator received on one route, such as `GET /contacts/{contactId}`.
    pub fn calls(&self, sim: &RunningSim, route: &str) -> u64 {
        sim.control.count(route)
    }

    /// A simulator's request statistics.
    pub async fn stats(&self, sim: &RunningSim) -> Value {
        self.http
            .get(format!("{}/_sim/stats", sim.base_url))
            .send()
            .await
            .expect("simulator answers")
            .json()
            .await
            .expect("stats are JSON")
    }
}

/// The errors of a response, or an empty list.
pub fn errors(body: &Value) -> Vec<Value> {
    body.get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The `extensions.code` of every error.
pub fn error_codes(body: &Value) -> Vec<String> {
    errors(body)
        .iter()
        .filter_map(|error| error["extensions"]["code"].as_str().map(str::to_string))
        .collect()
}

/// Every contact the GHL simulator stores, with its tasks, notes and appointments.
pub async fn ghl_state(app: &TestApp) -> Vec<Value> {
    let body: Value = app
        .http
        .get(format!("{}/_sim/state/contacts", app.ghl.base_url))
        .send()
        .await
        .expect("simulator answers")
        .json()
        .await
        .expect("state is JSON");
    body["contacts"].as_array().cloned().unwrap_or_default()
}

/// Every person the Casebook simulator stores, as `{person, tasks, notes}`.
pub async fn casebook_state(app: &TestApp) -> Vec<Value> {
    let body: Value = app
        .http
        .get(format!("{}/_sim/state/people", app.casebook.base_url))
        .send()
        .await
        .expect("simulator answers")
        .json()
        .await
        .expect("state is JSON");
    body["people"].as_array().cloned().unwrap_or_default()
}

/// GHL contacts whose e-mail is `email` (case-insensitive).
pub async fn ghl_with_email(app: &TestApp, email: &str) -> Vec<Value> {
    ghl_state(app)
        .await
        .into_iter()
        .filter(|c| {
            c["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .collect()
}

/// Casebook people whose e-mail is `email` (case-insensitive), as `{person, tasks, notes}`.
pub async fn casebook_with_email(app: &TestApp, email: &str) -> Vec<Value> {
    casebook_state(app)
        .await
        .into_iter()
        .filter(|p| {
            p["person"]["attributes"]["email"]
                .as_str()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
        })
        .collect()
}

/// A configuration change that makes the outbox retry quickly.
pub fn fast_retries(config: &mut Config) {
    config.writes.backoff_base_ms = 50;
    config.writes.backoff_max_ms = 400;
    config.writes.lease_s = 2;
}

/// A request the proxy forwarded.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// When the request reached the proxy.
    pub at: Instant,
    /// Method and path, such as `GET /contacts/abc`.
    pub request: String,
}

struct ProxyState {
    target: String,
    client: reqwest::Client,
    arrivals: Mutex<Vec<Arrival>>,
    overrides: Mutex<Vec<(String, String)>>,
}

/// An HTTP proxy on 127.0.0.1 in front of one simulator. It records when each request
/// arrives, which is when the upstream counts it against a rate limit, and can replace
/// response headers, such as GHL's `X-RateLimit-*`.
pub struct UpstreamProxy {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for UpstreamProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl UpstreamProxy {
    /// Starts a proxy that forwards every request to `target`, a loopback base URL.
    pub async fn start(target: &str) -> UpstreamProxy {
        let state = Arc::new(ProxyState {
            target: target.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("proxy client builds"),
            arrivals: Mutex::new(Vec::new()),
            overrides: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(forward).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("read the bound address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        UpstreamProxy {
            base_url: format!("http://{address}"),
            state,
            task,
        }
    }

    /// Returns every request forwarded so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.state.arrivals.lock().unwrap().clone()
    }

    /// Sets header `name` to `value` on every later response.
    pub fn override_header(&self, name: &str, value: &str) {
        let mut overrides = self.state.overrides.lock().unwrap();
        overrides.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        overrides.push((name.to_string(), value.to_string()));
    }

    /// Stops replacing response headers.
    pub fn clear_overrides(&self) {
        self.state.overrides.lock().unwrap().clear();
    }
}

async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str())
        .to_string();
    state.arrivals.lock().unwrap().push(Arrival {
        at,
        request: format!("{} {}", parts.method, parts.uri.path()),
    });

    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut headers = parts.headers.clone();
    headers.remove(header::HOST);
    let upstream = state
        .client
        .request(parts.method.clone(), format!("{}{path}", state.target))
        .headers(headers)
        .body(body)
        .send()
        .await
        .expect("the simulator answers the proxy");

    let status = upstream.status();
    let mut headers = upstream.headers().clone();
    let body = upstream.bytes().await.expect("the simulator sends a body");
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONNECTION);
    for (name, value) in state.overrides.lock().unwrap().iter() {
        headers.insert(
            HeaderName::try_from(name.as_str()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Returns the largest number of instants within any time span of length `window`, where a span
/// includes its start and excludes its end.
pub fn peak_in_window(instants: &[Instant], window: Duration) -> usize {
    let mut sorted = instants.to_vec();
    sorted.sort();
    let mut peak = 0;
    let mut first = 0;
    for last in 0..sorted.len() {
        while sorted[first] + window <= sorted[last] {
            first += 1;
        }
        peak = peak.max(last - first + 1);
    }
    peak
}
