//! Test helpers: a recording stub HTTP server on 127.0.0.1 and a tracing layer that
//! captures span fields.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::Response,
};
use tracing::{
    Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{Layer, layer::Context, prelude::*, registry::LookupSpan};
use url::Url;

use super::{System, UpstreamError};

/// A request the stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path as sent, still percent-encoded.
    pub path: String,
    /// Query as sent, still encoded.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    /// Returns a header value as text, or "" when absent.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// Returns the decoded query parameters, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect()
    }

    /// Returns the first decoded value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Returns the path and query as they appear on the request line.
    pub fn target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }
}

/// What the stub sends back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Time to wait before sending the reply.
    pub delay: Option<Duration>,
}

impl Reply {
    /// Builds a JSON reply.
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: None,
        }
    }

    /// Builds a reply with a raw body.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Delays the reply.
    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }
}

type Responder = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A stub server on 127.0.0.1 with an OS-assigned port; it stops when dropped.
pub struct Stub {
    pub base: Url,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    /// Starts a stub whose every reply comes from `responder`.
    pub async fn start(responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Stub {
        Stub::start_at("/", responder).await
    }

    /// Starts a stub and returns a base URL with `prefix` as its path.
    pub async fn start_at(
        prefix: &str,
        responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Stub {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Responder> = Arc::new(responder);
        let recorded = requests.clone();

        let app = Router::new().fallback(move |request: Request| {
            let responder = responder.clone();
            let recorded = recorded.clone();
            async move { answer(request, &*responder, &recorded).await }
        });

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("read the bound address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let base = Url::parse(&format!("http://{address}{prefix}")).expect("stub base URL");
        Stub {
            base,
            requests,
            task,
        }
    }

    /// Returns the requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("request log").clone()
    }

    /// Returns the only request received, and fails the test when there are more or none.
    pub fn single_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request: {requests:#?}"
        );
        requests.into_iter().next().expect("one request")
    }

    /// Returns `host:port` of the stub.
    pub fn authority(&self) -> String {
        format!(
            "{}:{}",
            self.base.host_str().unwrap_or_default(),
            self.base.port().unwrap_or_default()
        )
    }
}

async fn answer(request: Request, responder: &Responder, log: &Mutex<Vec<Recorded>>) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default()
        .to_vec();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    log.lock().expect("request log").push(recorded.clone());

    let reply = responder(&recorded);
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).expect("valid status");
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            HeaderName::try_from(name).expect("header name"),
            HeaderValue::try_from(value).expect("header value"),
        );
    }
    response
}

/// Returns a base URL on a loopback port that nothing listens on.
pub async fn closed_port_url() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("read the bound address");
    drop(listener);
    Url::parse(&format!("http://{address}/")).expect("closed-port URL")
}

/// Asserts that neither the Display nor the Debug text of `err` contains any of
/// `secrets` (tokens, URLs, host:port pairs).
pub fn assert_no_leak(err: &UpstreamError, secrets: &[&str]) {
    let display = err.to_string();
    let debug = format!("{err:?}");
    for secret in secrets {
        assert!(
            !display.contains(secret),
            "Display leaks {secret:?}: {display}"
        );
        assert!(!debug.contains(secret), "Debug leaks {secret:?}: {debug}");
    }
    assert!(
        !display.contains("http://"),
        "Display contains a URL: {display}"
    );
    assert!(!debug.contains("http://"), "Debug contains a URL: {debug}");
}

/// Asserts the error's system.
pub fn assert_system(err: &UpstreamError, system: System) {
    assert_eq!(err.system(), system, "{err:?}");
}

/// Spans recorded by [`SpanCapture`]: name and fields in text form.
#[derive(Debug, Clone)]
pub struct CapturedSpan {
    pub name: String,
    pub fields: BTreeMap<String, String>,
}

/// A tracing layer that records every closed span.
#[derive(Clone, Default)]
pub struct SpanCapture {
    spans: Arc<Mutex<Vec<CapturedSpan>>>,
}

struct FieldMap(BTreeMap<String, String>);

impl Visit for FieldMap {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl SpanCapture {
    /// Installs the capture as the thread's default subscriber until the guard drops.
    pub fn install() -> (SpanCapture, tracing::subscriber::DefaultGuard) {
        let capture = SpanCapture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let guard = tracing::subscriber::set_default(subscriber);
        // Another test thread may have registered a callsite while this dispatcher was being
        // added and cached "never interested" for it. A rebuild queries this dispatcher again.
        tracing::callsite::rebuild_interest_cache();
        (capture, guard)
    }

    /// Returns the spans closed so far.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        self.spans.lock().expect("span log").clone()
    }
}

impl<S> Layer<S> for SpanCapture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut fields = FieldMap(BTreeMap::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<FieldMap>()
        {
            values.record(fields);
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let fields = span
                .extensions_mut()
                .remove::<FieldMap>()
                .map(|fields| fields.0)
                .unwrap_or_default();
            self.spans.lock().expect("span log").push(CapturedSpan {
                name: span.name().to_string(),
                fields,
            });
        }
    }
}
