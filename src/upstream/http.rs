//! Settings and the HTTP transport shared by both upstream clients.
//!
//! [`Upstream`] sends one request, records it in an `upstream.request` span and turns
//! every failure into an [`UpstreamError`]. Classification happens only here, so both
//! clients map statuses and transport causes the same way. Error values never carry the
//! request URL, its query string or the bearer token.

use std::{borrow::Cow, error::Error as StdError, io, sync::Arc, time::Duration};

use reqwest::{
    Method, StatusCode,
    header::{self, HeaderMap, HeaderValue},
};
use serde::de::DeserializeOwned;
use tracing::{Instrument, field::Empty};
use url::Url;

use super::{
    System, UpstreamError,
    limits::{CallLimits, RateLimitHeaders},
    resilience::{Admission, Breaker, BreakerConfig, RetryConfig, counts_as_outage, is_retryable},
};
use crate::{
    credentials::{Bearer, Credentials},
    metrics::{Metrics, UPSTREAM_REQUESTS},
};

/// Timeouts and limits shared by both upstream clients.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Time allowed to open a TCP connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, from sending to the last byte of the body.
    pub request_timeout: Duration,
    /// Largest response body, in bytes, that a client reads before it gives up with
    /// `BadResponse`.
    pub max_response_bytes: usize,
    /// Counters that every call is recorded in, when set.
    pub metrics: Option<Metrics>,
    /// Limits every call waits for before it is sent, when set.
    pub limits: Option<Arc<CallLimits>>,
    /// Retries of idempotent requests.
    pub retry: RetryConfig,
    /// The circuit breaker of this upstream.
    pub breaker: BreakerConfig,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 16 * 1024 * 1024,
            metrics: None,
            limits: None,
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

/// Maximum length of one upstream message kept in an error, in characters.
const MAX_MESSAGE_CHARS: usize = 300;
/// Maximum number of upstream messages kept in one error.
const MAX_MESSAGES: usize = 10;
/// Maximum error body read for its messages, in bytes.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A record that a by-id call may report as missing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotFoundTarget<'a> {
    /// Resource name used in `UpstreamError::NotFound`, such as "contact".
    pub resource: &'static str,
    /// The id the caller asked for.
    pub id: &'a str,
}

/// One request to send.
#[derive(Clone)]
pub(crate) struct Call<'a> {
    pub method: Method,
    /// Route template for the span, such as `/contacts/{contactId}`.
    pub route: Cow<'static, str>,
    pub url: Url,
    /// Headers on top of `Authorization`.
    pub headers: HeaderMap,
    /// Request body and its media type.
    pub body: Option<(Vec<u8>, &'static str)>,
    /// Records a 404 may refer to. The first is the default, and a later one is chosen
    /// when the upstream message names its resource ("Contact with id … not found").
    /// When empty, a 404 is reported as `Rejected`, because it then means that the
    /// route itself is unknown upstream.
    pub not_found: &'a [NotFoundTarget<'a>],
}

/// Maps a non-2xx response to a more specific error than the status alone gives, or
/// returns `None` to keep the status mapping. It receives the status, the error body (at
/// most 64 KiB) and the body's messages with the token already removed.
pub(crate) type ErrorClassifier = fn(u16, &[u8], &[String]) -> Option<UpstreamError>;

/// The transport for one upstream system: a `reqwest::Client` plus base URL and token.
#[derive(Clone)]
pub(crate) struct Upstream {
    system: System,
    client: reqwest::Client,
    base_url: Url,
    credentials: Credentials,
    max_response_bytes: usize,
    metrics: Option<Metrics>,
    limits: Option<Arc<CallLimits>>,
    retry: RetryConfig,
    breaker: Arc<Breaker>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The base URL and the token stay out of Debug output, which may reach logs.
        f.debug_struct("Upstream")
            .field("system", &self.system)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// Builds the transport after checking the base URL. Every call takes its
    /// `Authorization` header from `credentials`.
    pub fn with_credentials(
        system: System,
        base_url: Url,
        credentials: Credentials,
        settings: &HttpSettings,
    ) -> Result<Upstream, UpstreamError> {
        let config_error = |detail: String| UpstreamError::Connect { system, detail };

        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(config_error(format!(
                "the {system} base URL uses the scheme `{}`; use http or https",
                base_url.scheme()
            )));
        }
        if base_url.cannot_be_a_base() || base_url.host().is_none() {
            return Err(config_error(format!(
                "the {system} base URL has no host; use a URL such as https://host/"
            )));
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err(config_error(format!(
                "the {system} base URL contains user credentials; remove them and configure the token instead"
            )));
        }

        // Redirects are not followed and proxy variables are ignored, so a request only
        // ever goes to the configured host.
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|err| {
                config_error(format!(
                    "the {system} HTTP client could not be built: {}",
                    err.without_url()
                ))
            })?;

        let mut base_url = base_url;
        base_url.set_query(None);
        base_url.set_fragment(None);

        Ok(Upstream {
            system,
            client,
            base_url,
            credentials,
            max_response_bytes: settings.max_response_bytes,
            metrics: settings.metrics.clone(),
            limits: settings.limits.clone(),
            retry: settings.retry,
            breaker: Arc::new(Breaker::new(settings.breaker)),
        })
    }

    /// Joins `path` to the base URL, keeping any path prefix of the base.
    ///
    /// `path` starts with `/`, and its id segments must already be encoded with
    /// [`encode_path_segment`].
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        let prefix = self.base_url.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    /// Sends `call` and returns the body of a 2xx response.
    pub async fn send(&self, call: Call<'_>) -> Result<Vec<u8>, UpstreamError> {
        self.send_classified(call, None).await
    }

    /// Sends `call` like [`Upstream::send`], but lets `classify` map an error response
    /// before the status mapping applies.
    ///
    /// Idempotent requests (GET, PUT, DELETE) are retried on a burst 429, 502, 503, 504 and
    /// failed connections, honouring `Retry-After`, within the retry budget. Other requests
    /// are sent once. While the circuit breaker is open, calls fail fast with `CircuitOpen`,
    /// and while the location's GHL calls are paused for the daily quota, with `RateLimited`.
    pub async fn send_classified(
        &self,
        call: Call<'_>,
        classify: Option<ErrorClassifier>,
    ) -> Result<Vec<u8>, UpstreamError> {
        let idempotent = matches!(
            call.method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD
        );
        let started = std::time::Instant::now();
        let budget = Duration::from_millis(self.retry.budget_ms);
        let mut attempt = 1;
        let mut renewed = false;
        loop {
            // Checked before the breaker, so that a call that is not sent never takes the
            // breaker's probe.
            if let Some(limits) = &self.limits {
                limits.check_daily()?;
            }
            if let Admission::Reject(retry_after) = self.breaker.admit() {
                return Err(UpstreamError::CircuitOpen {
                    system: self.system,
                    retry_after,
                });
            }
            let bearer = self.credentials.bearer().await?;
            let result = self.send_once(call.clone(), classify, &bearer).await;
            let outage = result.as_ref().err().is_some_and(counts_as_outage);
            if self.breaker.record(outage) {
                tracing::warn!(system = self.system.as_str(), route = %call.route, "circuit breaker opened");
            }
            let error = match result {
                Ok(body) => return Ok(body),
                Err(error) => error,
            };
            // A 401 means the request was not carried out, so even a POST is sent again,
            // once, with a renewed token.
            if let UpstreamError::Unauthorized { detail, .. } = &error
                && !renewed
                && self.credentials.renewable()
                && token_may_be_stale(detail)
            {
                renewed = true;
                tracing::info!(system = self.system.as_str(), route = %call.route, "token rejected; renewing it and sending the request again");
                self.credentials.renew(&bearer).await?;
                continue;
            }
            if !idempotent || !is_retryable(&error) || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let retry_after = match &error {
                UpstreamError::RateLimited { retry_after, .. } => *retry_after,
                _ => None,
            };
            let wait = self.retry.delay(attempt, retry_after);
            if started.elapsed() + wait > budget {
                return Err(error);
            }
            tracing::info!(
                system = self.system.as_str(), route = %call.route, attempt,
                wait_ms = wait.as_millis() as u64, code = error.code(), "retrying upstream request"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Sends `call` once.
    async fn send_once(
        &self,
        call: Call<'_>,
        classify: Option<ErrorClassifier>,
        bearer: &Bearer,
    ) -> Result<Vec<u8>, UpstreamError> {
        let span = tracing::info_span!(
            "upstream.request",
            system = self.system.as_str(),
            http.method = %call.method,
            route = %call.route,
            http.status_code = Empty,
            duration_ms = Empty,
            error.code = Empty,
        );
        let _permit = match &self.limits {
            Some(limits) => Some(limits.acquire().instrument(span.clone()).await?),
            None => None,
        };
        let method = call.method.clone();
        let route = call.route.clone();
        let mut status = None;
        let started = std::time::Instant::now();
        let result = self
            .send_inner(call, classify, bearer, &mut status)
            .instrument(span.clone())
            .await;
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        if let Err(err) = &result {
            span.record("error.code", err.code());
        }
        if let Some(metrics) = &self.metrics {
            let status = status.map(|code| code.to_string());
            metrics.increment(
                UPSTREAM_REQUESTS,
                &[
                    ("system", self.system.as_str()),
                    ("method", method.as_str()),
                    ("route", &route),
                    ("status", status.as_deref().unwrap_or("none")),
                ],
            );
        }
        result
    }

    async fn send_inner(
        &self,
        call: Call<'_>,
        classify: Option<ErrorClassifier>,
        bearer: &Bearer,
        status_out: &mut Option<u16>,
    ) -> Result<Vec<u8>, UpstreamError> {
        let mut request = self
            .client
            .request(call.method.clone(), call.url)
            .header(header::AUTHORIZATION, bearer.header.clone())
            .headers(call.headers);
        if let Some((body, media_type)) = call.body {
            request = request.header(header::CONTENT_TYPE, media_type).body(body);
        }

        let mut response = request
            .send()
            .await
            .map_err(|err| self.transport_error(err))?;
        let status = response.status();
        *status_out = Some(status.as_u16());
        tracing::Span::current().record("http.status_code", status.as_u16());
        let rate_limit = RateLimitHeaders::from_headers(response.headers(), chrono::Utc::now());
        if let Some(limits) = &self.limits {
            limits.observe(&rate_limit, status.as_u16());
        }

        if status.is_success() {
            return self
                .read_body(&mut response, self.max_response_bytes)
                .await?
                .ok_or_else(|| UpstreamError::BadResponse {
                    system: self.system,
                    detail: format!(
                        "the response body is larger than the limit of {} bytes",
                        self.max_response_bytes
                    ),
                });
        }

        let retry_after = parse_retry_after(response.headers());
        // A failure while reading an error body must not hide the status.
        let body = self
            .read_body(&mut response, MAX_ERROR_BODY_BYTES)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let messages = error_messages(&body, bearer);
        if let Some(error) =
            classify.and_then(|classify| classify(status.as_u16(), &body, &messages))
        {
            return Err(error);
        }
        Err(self.status_error(status, messages, retry_after, &rate_limit, call.not_found))
    }

    /// Reads the body up to `limit` bytes; `Ok(None)` when it is longer.
    async fn read_body(
        &self,
        response: &mut reqwest::Response,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, UpstreamError> {
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Ok(None);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.transport_error(err))?
        {
            if body.len() + chunk.len() > limit {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    /// Maps a non-2xx status to its error variant.
    fn status_error(
        &self,
        status: StatusCode,
        messages: Vec<String>,
        retry_after: Option<Duration>,
        rate_limit: &RateLimitHeaders,
        not_found: &[NotFoundTarget<'_>],
    ) -> UpstreamError {
        let system = self.system;
        let code = status.as_u16();
        let detail = || {
            if messages.is_empty() {
                "the response carried no message".to_string()
            } else {
                messages.join("; ")
            }
        };

        match code {
            401 => UpstreamError::Unauthorized {
                system,
                detail: detail(),
            },
            403 => UpstreamError::Forbidden {
                system,
                detail: detail(),
            },
            404 if !not_found.is_empty() => not_found_error(system, &messages, not_found),
            // GHL returns 400 "Contact with id … not found" for an unknown id.
            400 if !not_found.is_empty() && mentions_not_found(&messages) => {
                not_found_error(system, &messages, not_found)
            }
            408 => UpstreamError::Timeout { system },
            429 => rate_limit.rate_limited(system, retry_after, chrono::Utc::now()),
            400..=499 => UpstreamError::Rejected {
                system,
                status: code,
                messages,
            },
            500..=599 => UpstreamError::Unavailable {
                system,
                status: code,
            },
            _ => UpstreamError::BadResponse {
                system,
                detail: format!("unexpected HTTP status {code}; redirects are not followed"),
            },
        }
    }

    /// Maps a reqwest transport error to `Timeout`, `Connect` or `BadResponse`.
    ///
    /// The text is built here rather than taken from reqwest, whose messages include
    /// the request URL.
    fn transport_error(&self, err: reqwest::Error) -> UpstreamError {
        let system = self.system;
        if err.is_timeout() {
            return UpstreamError::Timeout { system };
        }
        let io_kind = io_error_kind(&err);
        let detail = match io_kind {
            Some(io::ErrorKind::ConnectionRefused) => "connection refused",
            Some(io::ErrorKind::ConnectionReset) => "connection reset by the server",
            Some(io::ErrorKind::ConnectionAborted) => "connection aborted",
            Some(io::ErrorKind::NotConnected) => "not connected",
            Some(io::ErrorKind::AddrNotAvailable) => "address not available",
            Some(io::ErrorKind::TimedOut) => return UpstreamError::Timeout { system },
            Some(io::ErrorKind::UnexpectedEof) => {
                "the connection closed before the response was complete"
            }
            _ if err.is_connect() => "the connection could not be opened",
            _ if err.is_body() || err.is_decode() => {
                return UpstreamError::BadResponse {
                    system,
                    detail: "the response body could not be read".to_string(),
                };
            }
            _ => "the request could not be sent or the connection was dropped",
        };
        UpstreamError::Connect {
            system,
            detail: detail.to_string(),
        }
    }
}

/// Extracts the messages of an error body, with the token removed and each shortened.
fn error_messages(body: &[u8], bearer: &Bearer) -> Vec<String> {
    extract_messages(body)
        .into_iter()
        .take(MAX_MESSAGES)
        .map(|message| truncate_chars(&bearer.scrub(&message), MAX_MESSAGE_CHARS))
        .collect()
}

/// Returns whether a 401 may come from an expired or revoked token, so that a renewed
/// token can help. GHL also returns 401 for a missing scope or `Version` header, and renewing
/// changes neither.
fn token_may_be_stale(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    !(lower.contains("scope") || lower.contains("version header"))
}

/// Deserializes a 2xx body, turning a mismatch into `BadResponse`.
///
/// The detail keeps serde's description and position but drops quoted values, which
/// could be personal data.
pub(crate) fn decode_json<T: DeserializeOwned>(
    system: System,
    body: &[u8],
) -> Result<T, UpstreamError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(UpstreamError::BadResponse {
            system,
            detail: "the response body is empty; expected a JSON document".to_string(),
        });
    }
    serde_json::from_slice(body).map_err(|err| UpstreamError::BadResponse {
        system,
        detail: describe_json_error(&err),
    })
}

/// Describes a serde_json error without the values it quotes.
pub(crate) fn describe_json_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let summary = match err.classify() {
        Category::Io => "the body could not be read".to_string(),
        Category::Syntax | Category::Eof => "the body is not valid JSON".to_string(),
        Category::Data => format!(
            "the JSON does not match the expected shape ({})",
            redact_quoted(&err.to_string())
        ),
    };
    if err.line() == 0 {
        summary
    } else {
        format!("{summary} at line {}, column {}", err.line(), err.column())
    }
}

/// Replaces every double-quoted part of `text` with `"…"`.
fn redact_quoted(text: &str) -> String {
    // serde_json appends " at line L column C"; the caller adds its own position.
    let text = match text.rfind(" at line ") {
        Some(index) => &text[..index],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for ch in text.chars() {
        if ch == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(ch);
        }
    }
    out
}

/// Percent-encodes one path segment: every byte outside `A-Z a-z 0-9 - . _ ~` is
/// escaped. Run [`check_id`] first, because `.` and `..` stay dot segments even when
/// encoded (URL parsers treat `%2E%2E` as `..`).
pub(crate) fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Rejects ids that cannot name a record before any request is sent.
///
/// An empty id would turn `/contacts/{id}` into the collection route, and `.` or `..`
/// would climb the path, so such ids are reported as not found.
pub(crate) fn check_id(
    system: System,
    resource: &'static str,
    id: &str,
) -> Result<(), UpstreamError> {
    let trimmed = id.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        return Err(UpstreamError::NotFound {
            system,
            resource,
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Builds a header map from static names and values.
pub(crate) fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        map.insert(
            header::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    map
}

fn not_found_error(
    system: System,
    messages: &[String],
    targets: &[NotFoundTarget<'_>],
) -> UpstreamError {
    let text = messages.join(" ").to_ascii_lowercase();
    let target = targets
        .iter()
        .skip(1)
        .find(|target| text.contains(target.resource))
        .unwrap_or(&targets[0]);
    UpstreamError::NotFound {
        system,
        resource: target.resource,
        id: target.id.to_string(),
    }
}

fn mentions_not_found(messages: &[String]) -> bool {
    messages
        .iter()
        .any(|message| message.to_ascii_lowercase().contains("not found"))
}

/// Reads the messages of a GHL or Casebook error body.
///
/// GHL sends `{"message": "…"}` or `{"message": ["…", "…"]}`; Casebook (JSON:API)
/// sends `{"errors": [{"detail": "…", "title": "…", "source": {"pointer": "…"}}]}`,
/// read as `<pointer>: <detail>` (or `<parameter>: <detail>`) when a source is given;
/// OAuth endpoints send `{"error": "…", "error_description": "…"}`. A body that is not
/// JSON yields no messages.
pub(crate) fn extract_messages(body: &[u8]) -> Vec<String> {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(body) else {
        return Vec::new();
    };
    let mut messages = Vec::new();

    match object.get("message") {
        Some(serde_json::Value::String(text)) => messages.push(text.clone()),
        Some(serde_json::Value::Array(items)) => {
            messages.extend(items.iter().filter_map(value_text));
        }
        _ => {}
    }

    if let Some(serde_json::Value::Array(errors)) = object.get("errors") {
        for error in errors {
            let text = ["detail", "title", "code"]
                .iter()
                .find_map(|member| error.get(member).and_then(value_text));
            let source = error.get("source").and_then(|source| {
                ["pointer", "parameter"]
                    .iter()
                    .find_map(|member| source.get(member).and_then(value_text))
            });
            match (source, text) {
                (Some(source), Some(text)) => messages.push(format!("{source}: {text}")),
                (None, Some(text)) => messages.push(text),
                (Some(source), None) => messages.push(source),
                (None, None) => {}
            }
        }
    }

    if messages.is_empty() {
        let oauth = ["error_description", "error"]
            .iter()
            .find_map(|member| object.get(*member).and_then(value_text));
        messages.extend(oauth);
    }
    messages
}

fn value_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Parses `Retry-After` as delay seconds or as an HTTP date.
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn io_error_kind(err: &reqwest::Error) -> Option<io::ErrorKind> {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io_error) = cause.downcast_ref::<io::Error>() {
            return Some(io_error.kind());
        }
        source = cause.source();
    }
    None
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segment_encoding() {
        assert_eq!(encode_path_segment("abc-XYZ_09.~"), "abc-XYZ_09.~");
        assert_eq!(encode_path_segment("a/b"), "a%2Fb");
        assert_eq!(encode_path_segment("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(encode_path_segment("100%"), "100%25");
        assert_eq!(encode_path_segment("a..b"), "a..b");
        assert_eq!(encode_path_segment("é"), "%C3%A9");
    }

    #[test]
    fn unusable_ids_rejected() {
        for id in ["", "  ", ".", "..", " .. "] {
            let err = check_id(System::Ghl, "contact", id).unwrap_err();
            assert!(
                matches!(
                    err,
                    UpstreamError::NotFound {
                        resource: "contact",
                        ..
                    }
                ),
                "{id:?}: {err:?}"
            );
        }
        assert!(check_id(System::Ghl, "contact", "...").is_ok());
        assert!(check_id(System::Ghl, "contact", "c1").is_ok());
    }

    #[test]
    fn messages_from_each_error_shape() {
        assert_eq!(
            extract_messages(br#"{"statusCode":400,"message":"Contact with id x not found"}"#),
            vec!["Contact with id x not found"]
        );
        assert_eq!(
            extract_messages(br#"{"statusCode":422,"message":["a","b"],"error":"x"}"#),
            vec!["a", "b"]
        );
        assert_eq!(
            extract_messages(
                br#"{"errors":[{"status":"422","title":"T","detail":"D"},{"title":"T2"}]}"#
            ),
            vec!["D", "T2"]
        );
        assert_eq!(
            extract_messages(
                br#"{"errors":[{"detail":"D","source":{"pointer":"/data/attributes/x"}},{"title":"T","source":{"parameter":"sort"}}]}"#
            ),
            vec!["/data/attributes/x: D", "sort: T"]
        );
        assert_eq!(
            extract_messages(br#"{"error":"invalid_client"}"#),
            vec!["invalid_client"]
        );
        assert!(extract_messages(b"<html>502</html>").is_empty());
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let mut map = HeaderMap::new();
        map.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&map), Some(Duration::from_secs(7)));

        map.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&map), Some(Duration::ZERO));

        map.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&map), None);
    }

    #[test]
    fn quoted_values_redacted() {
        let err = serde_json::from_str::<u64>(r#""jane@example.org""#).unwrap_err();
        let detail = describe_json_error(&err);
        assert!(!detail.contains("jane"), "{detail}");
        assert!(detail.contains("line 1"), "{detail}");
    }

    #[test]
    fn long_messages_truncated() {
        let text = "x".repeat(MAX_MESSAGE_CHARS + 50);
        let short = truncate_chars(&text, MAX_MESSAGE_CHARS);
        assert_eq!(short.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
