//! Checks of one GraphQL response: what counts as a failure.

use clap::ValueEnum;
use serde_json::Value;

/// Which gateway's responses are checked, which decides the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BodyCheck {
    /// Our gateway: HTTP 200, a JSON object, no `errors` key, `data` with no null root field.
    Gateway,
    /// The Hive Gateway peer: the gateway rules, and no `__typename` ending in `DTO`
    /// anywhere, because the peer returns upstream errors as union members such as
    /// `UnauthorizedDTO` inside `data` (its success types end in `Dto`, so the match is
    /// case-sensitive).
    Peer,
}

/// A failed check: the kind names the failure in the counters, and the detail is an
/// example kept for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: String,
    pub detail: String,
}

impl Failure {
    fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut detail: String = detail.into();
        if detail.len() > 300 {
            let mut cut = 300;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
            detail.push_str("...");
        }
        Failure {
            kind: kind.into(),
            detail,
        }
    }

    /// Classifies a request that got no HTTP response (refused, reset, timed out).
    pub fn transport(error: &reqwest::Error) -> Self {
        let kind = if error.is_timeout() {
            "timeout"
        } else if error.is_connect() {
            "connect"
        } else {
            "transport"
        };
        Failure::new(kind, error.to_string())
    }
}

/// Checks one response; `Ok` carries the parsed body for callers that read it further.
pub fn check_response(check: BodyCheck, status: u16, body: &[u8]) -> Result<Value, Failure> {
    if status != 200 {
        return Err(Failure::new(
            format!("http_{status}"),
            String::from_utf8_lossy(body),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| Failure::new("invalid_json", format!("{error}")))?;
    let Some(object) = value.as_object() else {
        return Err(Failure::new("not_an_object", value.to_string()));
    };
    if let Some(errors) = object.get("errors") {
        return Err(Failure::new("graphql_errors", errors.to_string()));
    }
    let Some(data) = object.get("data").and_then(Value::as_object) else {
        return Err(Failure::new("missing_data", value.to_string()));
    };
    if let Some((field, _)) = data.iter().find(|(_, v)| v.is_null()) {
        return Err(Failure::new(
            "null_root_field",
            format!("data.{field} is null"),
        ));
    }
    if check == BodyCheck::Peer
        && let Some(typename) = find_error_typename(&value)
    {
        return Err(Failure::new(
            format!("typename_{typename}"),
            value.to_string(),
        ));
    }
    Ok(value)
}

/// Finds the first `__typename` whose value ends in `DTO`, depth first.
fn find_error_typename(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("__typename")
                && name.ends_with("DTO")
            {
                return Some(name);
            }
            map.values().find_map(find_error_typename)
        }
        Value::Array(items) => items.iter().find_map(find_error_typename),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(check: BodyCheck, status: u16, body: &str) -> Option<String> {
        check_response(check, status, body.as_bytes())
            .err()
            .map(|failure| failure.kind)
    }

    #[test]
    fn check_accepts_clean_data() {
        let body = r#"{"data":{"contact":{"id":"1"}}}"#;
        assert_eq!(kind(BodyCheck::Gateway, 200, body), None);
        assert_eq!(kind(BodyCheck::Peer, 200, body), None);
    }

    #[test]
    fn check_rejects_status_errors_and_nulls() {
        let cases = [
            (503, r#"{"data":{"a":1}}"#, "http_503"),
            (200, "not json", "invalid_json"),
            (200, "[1]", "not_an_object"),
            (
                200,
                r#"{"data":{"a":1},"errors":[{"message":"x"}]}"#,
                "graphql_errors",
            ),
            (200, r#"{"data":null}"#, "missing_data"),
            (200, r#"{"data":{"contact":null}}"#, "null_root_field"),
        ];
        for (status, body, expected) in cases {
            assert_eq!(
                kind(BodyCheck::Gateway, status, body).as_deref(),
                Some(expected),
                "{body}"
            );
        }
    }

    #[test]
    fn peer_check_rejects_dto_typenames() {
        let body = r#"{"data":{"get_contact":{"__typename":"ContactsByIdSuccessfulResponseDto",
            "contact":{"tasks":{"__typename":"UnauthorizedDTO","message":"no"}}}}}"#;
        assert_eq!(
            kind(BodyCheck::Peer, 200, body).as_deref(),
            Some("typename_UnauthorizedDTO")
        );
        assert_eq!(kind(BodyCheck::Gateway, 200, body), None);
    }

    #[test]
    fn peer_check_accepts_success_dto_suffix() {
        let body = r#"{"data":{"t":{"__typename":"TasksListSuccessfulResponseDto","tasks":[]}}}"#;
        assert_eq!(kind(BodyCheck::Peer, 200, body), None);
    }
}
