//! Pieces shared by the OAuth 2.0 token endpoints of both simulators: form parsing,
//! opaque token values, token lifetimes and the error body of RFC 6749 section 5.2.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// Media type of a token request body.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Maximum token lifetime that options and the admin routes accept: 366 days.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Fields of one form-encoded parameter list, such as a token request body.
#[derive(Debug, Default, Clone)]
pub struct FormFields(HashMap<String, String>);

impl FormFields {
    /// Parses `application/x-www-form-urlencoded` text. A name sent twice is an error,
    /// because RFC 6749 section 3.2 forbids repeated parameters in a token request.
    pub fn parse(raw: &[u8]) -> Result<FormFields, String> {
        let mut fields = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(raw) {
            if fields.contains_key(name.as_ref()) {
                return Err(format!(
                    "parameter {name} is sent more than once; send it once"
                ));
            }
            fields.insert(name.into_owned(), value.into_owned());
        }
        Ok(FormFields(fields))
    }

    /// Returns the value of `name`. An empty value counts as missing.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Adds every field of `other` whose name this list does not contain yet.
    pub fn fill_from(&mut self, other: FormFields) {
        for (name, value) in other.0 {
            self.0.entry(name).or_insert(value);
        }
    }
}

/// Returns the media type of the request's `Content-Type` header without parameters,
/// e.g. `application/json` for `application/json; charset=utf-8`.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

/// Reports whether the request declares a form-encoded body.
pub fn has_form_body(headers: &HeaderMap) -> bool {
    media_type(headers).as_deref() == Some(FORM_CONTENT_TYPE)
}

/// Creates an opaque token value: a random UUID v4 as 32 lower-case hex digits, which
/// carries 122 random bits.
pub fn new_opaque_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Converts a lifetime in seconds from options or an admin route into a `Duration`.
/// The error names `name`, the value and the accepted range.
pub fn ttl_from_seconds(name: &str, seconds: u64) -> Result<Duration, String> {
    let ttl = Duration::from_secs(seconds);
    validate_ttl(name, ttl)?;
    Ok(ttl)
}

/// Checks that a token lifetime is at least one second and at most [`MAX_TOKEN_TTL`].
pub fn validate_ttl(name: &str, ttl: Duration) -> Result<(), String> {
    if ttl < Duration::from_secs(1) || ttl > MAX_TOKEN_TTL {
        return Err(format!(
            "invalid {name} {} s: use 1 to {} seconds",
            ttl.as_secs_f64(),
            MAX_TOKEN_TTL.as_secs()
        ));
    }
    Ok(())
}

/// Returns the instant at which something issued at `now` with lifetime `ttl` expires.
/// [`validate_ttl`] keeps lifetimes small enough that the addition cannot overflow.
pub fn expiry(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl).unwrap_or_else(|| now + MAX_TOKEN_TTL)
}

/// Builds a successful token response with the `Cache-Control: no-store` and
/// `Pragma: no-cache` headers that RFC 6749 section 5.1 requires.
pub fn token_response(body: Value) -> Response {
    let mut response = (StatusCode::OK, Json(body)).into_response();
    add_no_store(&mut response);
    response
}

/// Builds an RFC 6749 error response `{"error": <code>, "error_description": <text>}`.
pub fn error_response(status: StatusCode, error: &'static str, description: &str) -> Response {
    tracing::debug!(
        status = status.as_u16(),
        error,
        description,
        "simulator token endpoint rejected a request"
    );
    let body = json!({ "error": error, "error_description": description });
    let mut response = (status, Json(body)).into_response();
    add_no_store(&mut response);
    response
}

fn add_no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Maximum number of issued tokens a simulator keeps for `GET /_sim/oauth/state`.
pub const MAX_TOKEN_HISTORY: usize = 1000;

/// Appends `token` to `history`, dropping the oldest entry past [`MAX_TOKEN_HISTORY`].
pub fn remember(history: &mut std::collections::VecDeque<String>, token: &str) {
    if history.len() == MAX_TOKEN_HISTORY {
        history.pop_front();
    }
    history.push_back(token.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_decode_and_reject_repeats() {
        let fields = FormFields::parse(b"a=1&b=x+y%26z&c=").unwrap();
        assert_eq!(fields.get("a"), Some("1"));
        assert_eq!(fields.get("b"), Some("x y&z"));
        assert_eq!(fields.get("c"), None);
        assert_eq!(fields.get("d"), None);

        let error = FormFields::parse(b"a=1&a=2").unwrap_err();
        assert!(error.contains("parameter a"), "{error}");
    }

    #[test]
    fn form_fields_fill_keeps_existing_values() {
        let mut body = FormFields::parse(b"a=body").unwrap();
        body.fill_from(FormFields::parse(b"a=query&b=query").unwrap());
        assert_eq!(body.get("a"), Some("body"));
        assert_eq!(body.get("b"), Some("query"));
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let mut headers = HeaderMap::new();
        assert_eq!(media_type(&headers), None);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
        );
        assert!(has_form_body(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!has_form_body(&headers));
    }

    #[test]
    fn opaque_tokens_are_long_and_distinct() {
        let first = new_opaque_token();
        let second = new_opaque_token();
        assert_eq!(first.len(), 32);
        assert_ne!(first, second);
    }

    #[test]
    fn ttl_range_is_checked() {
        assert_eq!(ttl_from_seconds("ttl", 1).unwrap(), Duration::from_secs(1));
        assert!(ttl_from_seconds("ttl", MAX_TOKEN_TTL.as_secs()).is_ok());
        let error = ttl_from_seconds("token_ttl_s", 0).unwrap_err();
        assert!(error.contains("token_ttl_s 0 s"), "{error}");
        assert!(ttl_from_seconds("ttl", MAX_TOKEN_TTL.as_secs() + 1).is_err());
        assert!(validate_ttl("ttl", Duration::from_millis(500)).is_err());
    }
}
