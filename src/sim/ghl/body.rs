//! Validation of JSON request bodies in the style of GHL's request DTOs.
//!
//! GHL's NestJS server whitelists every body: a property the DTO does not declare is a 422
//! `property <name> should not exist`. Each failed check adds one message, and the handler
//! responds with all of them at once in a 422 whose `message` is an array. Messages name
//! the field, the value received and the expected form.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::{ApiError, TokenLocation, forbidden_location, parse_json_body};
use axum::http::StatusCode;

/// Example ISO-8601 time with an offset, used in messages.
pub(super) const TIME_EXAMPLE: &str = "2021-06-23T03:30:00+05:30";

/// A field of a partial update: left out, sent as null, or sent with a value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Patch<T> {
    Absent,
    Null,
    Set(T),
}

impl<T> Patch<T> {
    /// Writes the change into `target`: `Absent` keeps it, `Null` clears it.
    pub fn apply_to(self, target: &mut Option<T>) {
        match self {
            Patch::Absent => {}
            Patch::Null => *target = None,
            Patch::Set(value) => *target = Some(value),
        }
    }

    /// Returns the value when one was sent.
    pub fn value(&self) -> Option<&T> {
        match self {
            Patch::Set(value) => Some(value),
            Patch::Absent | Patch::Null => None,
        }
    }

    /// Reports whether the field was sent, as a value or as null.
    pub fn is_sent(&self) -> bool {
        !matches!(self, Patch::Absent)
    }
}

/// A JSON object body and the validation messages collected while reading it.
pub(super) struct BodyFields {
    object: Map<String, Value>,
    errors: Vec<String>,
}

impl BodyFields {
    /// Parses `body` as a JSON object. Every property outside `allowed` adds a
    /// `property X should not exist` message. A body that is not JSON, or not an object,
    /// is a 400.
    pub fn parse(body: &[u8], allowed: &[&str]) -> Result<BodyFields, ApiError> {
        let Value::Object(object) = parse_json_body(body)? else {
            return Err(ApiError::Message {
                status: StatusCode::BAD_REQUEST,
                message: "The request body must be a JSON object, e.g. {\"title\": \"Call back\"}"
                    .to_string(),
            });
        };
        let errors = object
            .keys()
            .filter(|key| !allowed.contains(&key.as_str()))
            .map(|key| format!("property {key} should not exist"))
            .collect();
        Ok(BodyFields { object, errors })
    }

    /// Adds a validation message.
    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    /// Returns the raw value of a property, if it was sent.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.object.get(name)
    }

    /// Checks the required `locationId` against the token's location. A missing value adds
    /// messages, and another location is a 403 at once, because GHL's guards run before
    /// the body is validated.
    pub fn location_id(&mut self, token: &TokenLocation) -> Result<(), ApiError> {
        match self.object.get("locationId") {
            Some(Value::String(id)) if !id.is_empty() => {
                if *id == token.0 {
                    Ok(())
                } else {
                    Err(forbidden_location())
                }
            }
            _ => {
                self.error("locationId should not be empty".to_string());
                self.error("locationId must be a string".to_string());
                Ok(())
            }
        }
    }

    /// Reads an optional string. Null is accepted only when `nullable`; surrounding
    /// white space is removed.
    pub fn string(&mut self, name: &str, nullable: bool) -> Patch<String> {
        match self.object.get(name) {
            None => Patch::Absent,
            Some(Value::Null) if nullable => Patch::Null,
            Some(Value::String(text)) => Patch::Set(text.trim().to_string()),
            Some(other) => {
                let message = format!("{name} must be a string, got {other}");
                self.error(message);
                Patch::Absent
            }
        }
    }

    /// Reads a required, non-empty string.
    pub fn required_string(&mut self, name: &str) -> Option<String> {
        match self.object.get(name) {
            Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_string()),
            Some(Value::String(_)) => {
                self.error(format!("{name} should not be empty"));
                None
            }
            None | Some(Value::Null) => {
                self.error(format!("{name} should not be empty"));
                self.error(format!("{name} must be a string"));
                None
            }
            Some(other) => {
                let message = format!("{name} must be a string, got {other}");
                self.error(message);
                None
            }
        }
    }

    /// Reads an optional string that must not be empty when sent.
    pub fn non_empty_string(&mut self, name: &str) -> Option<String> {
        match self.string(name, false) {
            Patch::Set(text) if text.is_empty() => {
                self.error(format!("{name} should not be empty"));
                None
            }
            Patch::Set(text) => Some(text),
            Patch::Absent | Patch::Null => None,
        }
    }

    /// Reads an optional boolean; null is not accepted.
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.object.get(name) {
            None => None,
            Some(Value::Bool(flag)) => Some(*flag),
            Some(other) => {
                let message = format!("{name} must be a boolean value, got {other}");
                self.error(message);
                None
            }
        }
    }

    /// Reads a required boolean.
    pub fn required_boolean(&mut self, name: &str) -> Option<bool> {
        if !self.object.contains_key(name) {
            self.error(format!("{name} must be a boolean value"));
            return None;
        }
        self.boolean(name)
    }

    /// Reads an optional array of non-empty strings, each trimmed.
    pub fn string_list(&mut self, name: &str) -> Option<Vec<String>> {
        let items = match self.object.get(name)? {
            Value::Array(items) => items.clone(),
            other => {
                let message = format!("{name} must be an array of strings, got {other}");
                self.error(message);
                return None;
            }
        };
        let mut values = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(text) if !text.trim().is_empty() => {
                    values.push(text.trim().to_string());
                }
                Value::String(_) => self.error(format!("{name}.{index} should not be empty")),
                other => self.error(format!(
                    "each value in {name} must be a string, got {other} at index {index}"
                )),
            }
        }
        Some(values)
    }

    /// Reads a required array of non-empty strings.
    pub fn required_string_list(&mut self, name: &str) -> Option<Vec<String>> {
        if !self.object.contains_key(name) {
            self.error(format!(
                "{name} must be an array of strings, e.g. [\"housing\"]"
            ));
            return None;
        }
        self.string_list(name)
    }

    /// Reads an optional string that must be one of `allowed`.
    pub fn one_of(&mut self, name: &str, allowed: &[&str]) -> Option<String> {
        let Patch::Set(value) = self.string(name, false) else {
            return None;
        };
        if allowed.contains(&value.as_str()) {
            Some(value)
        } else {
            self.error(format!(
                "{name} must be one of the following values: {}, got {value:?}",
                allowed.join(", ")
            ));
            None
        }
    }

    /// Reads an ISO-8601 time that carries `Z` or an offset, such as [`TIME_EXAMPLE`].
    pub fn time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let Patch::Set(text) = self.string(name, false) else {
            return None;
        };
        match parse_time_with_offset(&text) {
            Ok(time) => Some(time),
            Err(problem) => {
                self.error(format!("{name} {problem}"));
                None
            }
        }
    }

    /// Reads a required ISO-8601 time with an offset.
    pub fn required_time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        if !self.object.contains_key(name) {
            self.error(format!(
                "{name} must be a valid ISO 8601 date string, e.g. {TIME_EXAMPLE}"
            ));
            return None;
        }
        self.time(name)
    }

    /// Returns a 422 with every message collected, or `Ok` when there is none.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Unprocessable(self.errors))
        }
    }
}

/// Parses an ISO-8601 time that names its offset. The error completes a sentence that
/// starts with the field name.
pub(super) fn parse_time_with_offset(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let without_offset = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .any(|format| NaiveDateTime::parse_from_str(text, format).is_ok());
    if without_offset {
        Err(format!(
            "{text:?} has no time zone offset; send ISO 8601 with an offset, e.g. {TIME_EXAMPLE}"
        ))
    } else {
        Err(format!(
            "must be a valid ISO 8601 date string, got {text:?}; send e.g. {TIME_EXAMPLE}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(body: Value, allowed: &[&str]) -> BodyFields {
        BodyFields::parse(body.to_string().as_bytes(), allowed).expect("an object body")
    }

    fn messages(fields: BodyFields) -> Vec<String> {
        match fields.finish() {
            Ok(()) => Vec::new(),
            Err(ApiError::Unprocessable(messages)) => messages,
            Err(other) => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn unknown_properties_listed() {
        let body = fields(json!({ "title": "a", "colour": 1, "size": 2 }), &["title"]);
        assert_eq!(
            messages(body),
            vec![
                "property colour should not exist",
                "property size should not exist"
            ]
        );
    }

    #[test]
    fn non_object_body_is_400() {
        let result = BodyFields::parse(b"[1, 2]", &[]);
        assert!(
            matches!(result, Err(ApiError::Message { status, .. }) if status == StatusCode::BAD_REQUEST)
        );
        let result = BodyFields::parse(b"", &[]);
        assert!(result.is_ok(), "an empty body reads as {{}}");
    }

    #[test]
    fn string_patch_states() {
        let mut body = fields(
            json!({ "a": " x ", "b": null, "c": 5, "d": null }),
            &["a", "b", "c", "d"],
        );
        assert_eq!(body.string("a", false), Patch::Set("x".to_string()));
        assert_eq!(body.string("b", true), Patch::Null);
        assert_eq!(body.string("missing", true), Patch::Absent);
        assert_eq!(body.string("c", true), Patch::Absent);
        assert_eq!(body.string("d", false), Patch::Absent);
        assert_eq!(
            messages(body),
            vec!["c must be a string, got 5", "d must be a string, got null"]
        );
    }

    #[test]
    fn required_fields_named() {
        let mut body = fields(
            json!({ "title": "", "completed": "yes" }),
            &["title", "completed"],
        );
        assert_eq!(body.required_string("title"), None);
        assert_eq!(body.required_string("body"), None);
        assert_eq!(body.required_boolean("completed"), None);
        assert_eq!(body.required_boolean("pinned"), None);
        assert_eq!(
            messages(body),
            vec![
                "title should not be empty",
                "body should not be empty",
                "body must be a string",
                "completed must be a boolean value, got \"yes\"",
                "pinned must be a boolean value",
            ]
        );
    }

    #[test]
    fn string_lists_checked_per_item() {
        let mut body = fields(json!({ "tags": ["a", 3, " ", " b "] }), &["tags"]);
        assert_eq!(
            body.string_list("tags"),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            messages(body),
            vec![
                "each value in tags must be a string, got 3 at index 1",
                "tags.2 should not be empty"
            ]
        );
    }

    #[test]
    fn times_need_an_offset() {
        let utc = parse_time_with_offset("2021-06-23T03:30:00+05:30").unwrap();
        assert_eq!(utc.to_rfc3339(), "2021-06-22T22:00:00+00:00");
        assert!(parse_time_with_offset("2020-10-25T11:00:00Z").is_ok());

        let error = parse_time_with_offset("2021-06-23T03:30:00").unwrap_err();
        assert!(error.contains("has no time zone offset"), "{error}");
        let error = parse_time_with_offset("tomorrow").unwrap_err();
        assert!(error.contains("must be a valid ISO 8601"), "{error}");
    }

    #[test]
    fn one_of_lists_allowed_values() {
        let mut body = fields(json!({ "status": "maybe" }), &["status"]);
        assert_eq!(body.one_of("status", &["new", "confirmed"]), None);
        assert_eq!(
            messages(body),
            vec!["status must be one of the following values: new, confirmed, got \"maybe\""]
        );
    }
}
