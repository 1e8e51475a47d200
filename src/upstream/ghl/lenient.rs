//! Tolerant serde readers for GHL fields whose published types disagree with their
//! examples or with live data.
//!
//! The OpenAPI files type some booleans as strings (`"isRecurring": "true"`), some
//! arrays as strings (`followers`), times as `object`, and custom field values as
//! strings although they hold numbers, arrays and objects. Each reader here accepts the
//! plausible alternatives and treats anything else as absent, so one odd field does not
//! fail a whole contact.

use serde::{Deserialize, Deserializer, de::Error as _};
use serde_json::Value;

/// Reads a required id: a string, or a number converted to text.
pub fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        other => Err(D::Error::custom(format_args!(
            "expected the id as a string, found {}",
            kind(&other)
        ))),
    }
}

/// Reads an optional string. Numbers and booleans are converted to text.
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(to_string(Value::deserialize(deserializer)?))
}

/// Reads a list of strings. A single string becomes a one-item list, and null an empty one.
pub fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => items.into_iter().filter_map(to_string).collect(),
        Value::String(text) => vec![text],
        _ => Vec::new(),
    })
}

/// Reads an optional boolean, accepting `"true"` and `"false"` as text.
pub fn bool_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(to_bool(&Value::deserialize(deserializer)?))
}

/// Reads a boolean that defaults to false when absent or unreadable.
pub fn bool_or_false<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(to_bool(&Value::deserialize(deserializer)?).unwrap_or(false))
}

/// Reads an optional count: a non-negative whole number, also written as `120.0` or `"120"`.
pub fn u64_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && *float >= 0.0 && *float <= u64::MAX as f64)
                .map(|float| float as u64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

/// Reads an optional signed integer, such as an epoch-millisecond cursor.
pub fn i64_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && float.abs() <= i64::MAX as f64)
                .map(|float| float as i64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

fn to_string(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn to_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
