//! Mutation inputs as the gateway stores them, and their validation.
//!
//! Every input is checked completely before anything is written. A problem is reported
//! with the input path of the field (`input.email`), the value and the expected form.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::{PhoneRegion, normalize_phone};

/// Longest accepted name, title or subject, in characters.
pub const MAX_SHORT_TEXT: usize = 200;
/// Longest accepted note or task body, in characters (GHL's appointment-note limit).
pub const MAX_LONG_TEXT: usize = 5_000;
/// Longest accepted tag, in characters.
pub const MAX_TAG: usize = 100;

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, such as `input.email`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// Collects the problems of one input.
#[derive(Debug, Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    pub fn new() -> Checker {
        Checker::default()
    }

    fn fail(&mut self, field: &str, message: String) {
        self.errors.push(FieldError {
            field: format!("input.{field}"),
            message,
        });
    }

    /// All problems found, or `Ok` when there are none.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }

    /// Trims a text field; an empty text after trimming counts as missing.
    pub fn text(
        &mut self,
        field: &str,
        value: Option<&str>,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let trimmed = value.map(str::trim).filter(|text| !text.is_empty());
        match trimmed {
            None if required => {
                self.fail(
                    field,
                    format!("input.{field} is required: give a non-empty text"),
                );
                None
            }
            None => None,
            Some(text) if text.chars().count() > max => {
                self.fail(
                    field,
                    format!(
                        "input.{field} has {} characters: use at most {max}",
                        text.chars().count()
                    ),
                );
                None
            }
            Some(text) => Some(text.to_string()),
        }
    }

    /// Checks an e-mail address and returns it trimmed.
    pub fn email(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let text = value.map(str::trim).filter(|text| !text.is_empty())?;
        if email_address::EmailAddress::from_str(text).is_err() || !text.contains('.') {
            self.fail(
                field,
                format!("input.{field} {text:?} is not a valid e-mail address: use the form name@example.org"),
            );
            return None;
        }
        Some(text.to_string())
    }

    /// Parses a phone number and returns it in E.164.
    pub fn phone(
        &mut self,
        field: &str,
        value: Option<&str>,
        region: PhoneRegion,
    ) -> Option<String> {
        let text = value.map(str::trim).filter(|text| !text.is_empty())?;
        let digits = text.chars().filter(char::is_ascii_digit).count();
        match normalize_phone(text, region) {
            Some(e164) if (7..=15).contains(&digits) => Some(e164),
            _ => {
                self.fail(
                    field,
                    format!(
                        "input.{field} {text:?} is not a phone number: use E.164 such as +15550102345, or a national number of the configured region"
                    ),
                );
                None
            }
        }
    }

    /// Checks a calendar date written `YYYY-MM-DD`.
    pub fn date(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let text = value.map(str::trim).filter(|text| !text.is_empty())?;
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) => Some(date.format("%Y-%m-%d").to_string()),
            Err(_) => {
                self.fail(
                    field,
                    format!(
                        "input.{field} {text:?} is not a date: use YYYY-MM-DD, such as 1990-04-25"
                    ),
                );
                None
            }
        }
    }

    /// Parses an ISO-8601 date-time that carries an offset.
    pub fn date_time(
        &mut self,
        field: &str,
        value: Option<&str>,
        required: bool,
    ) -> Option<DateTime<Utc>> {
        let Some(text) = value.map(str::trim).filter(|text| !text.is_empty()) else {
            if required {
                self.fail(
                    field,
                    format!("input.{field} is required: give an ISO-8601 date-time with an offset, such as 2026-12-04T15:30:00-05:00"),
                );
            }
            return None;
        };
        match DateTime::parse_from_rfc3339(text) {
            Ok(moment) => Some(moment.with_timezone(&Utc)),
            Err(_) => {
                self.fail(
                    field,
                    format!(
                        "input.{field} {text:?} is not an ISO-8601 date-time with an offset: use a form such as 2026-12-04T15:30:00-05:00 or 2026-12-04T20:30:00Z"
                    ),
                );
                None
            }
        }
    }

    /// Checks an IANA time zone name such as `America/New_York`.
    pub fn time_zone(&mut self, field: &str, value: Option<&str>) -> Option<chrono_tz::Tz> {
        let text = value.map(str::trim).filter(|text| !text.is_empty())?;
        match text.parse::<chrono_tz::Tz>() {
            Ok(zone) => Some(zone),
            Err(_) => {
                self.fail(
                    field,
                    format!("input.{field} {text:?} is not an IANA time zone: use a name such as America/New_York"),
                );
                None
            }
        }
    }

    /// Checks a list of tags and returns them trimmed, without duplicates.
    pub fn tags(
        &mut self,
        field: &str,
        value: Option<&[String]>,
        required: bool,
    ) -> Option<Vec<String>> {
        let Some(tags) = value else {
            if required {
                self.fail(
                    field,
                    format!("input.{field} is required: give at least one tag"),
                );
            }
            return None;
        };
        let mut clean: Vec<String> = Vec::new();
        for tag in tags {
            let trimmed = tag.trim();
            if trimmed.is_empty() || trimmed.chars().count() > MAX_TAG {
                self.fail(
                    field,
                    format!(
                        "input.{field} contains the tag {tag:?}: tags are 1 to {MAX_TAG} characters"
                    ),
                );
                return None;
            }
            if !clean.iter().any(|existing| existing == trimmed) {
                clean.push(trimmed.to_string());
            }
        }
        if required && clean.is_empty() {
            self.fail(
                field,
                format!("input.{field} is empty: give at least one tag"),
            );
            return None;
        }
        Some(clean)
    }

    /// Checks attribute values against the field mapping.
    pub fn attributes(
        &mut self,
        values: &[(String, serde_json::Value)],
        mappings: &[FieldMapping],
    ) -> Vec<MappedValue> {
        let mut mapped = Vec::new();
        for (name, value) in values {
            let Some(mapping) = mappings.iter().find(|m| m.casebook == *name) else {
                let known: Vec<&str> = mappings.iter().map(|m| m.casebook.as_str()).collect();
                self.fail(
                    "attributes",
                    format!(
                        "input.attributes names {name:?}, which the field mapping does not contain: use one of [{}] or add it to writes.field_mapping",
                        known.join(", ")
                    ),
                );
                continue;
            };
            let scalar = matches!(
                value,
                serde_json::Value::String(_)
                    | serde_json::Value::Number(_)
                    | serde_json::Value::Bool(_)
                    | serde_json::Value::Null
            );
            let list = value
                .as_array()
                .is_some_and(|items| items.iter().all(serde_json::Value::is_string));
            if !(scalar || list) {
                self.fail(
                    "attributes",
                    format!("input.attributes {name:?} has an object value: use a string, number, boolean, null or a list of strings"),
                );
                continue;
            }
            mapped.push(MappedValue {
                mapping: mapping.clone(),
                value: value.clone(),
            });
        }
        mapped
    }

    /// Records an error found by the caller.
    pub fn invalid(&mut self, field: &str, message: String) {
        self.fail(field, message);
    }
}

/// Contact fields to write. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// Replaces the GHL tag set when given.
    pub tags: Option<Vec<String>>,
    /// Fields to empty, by GraphQL name (`email`, `phone`, ...).
    #[serde(default)]
    pub clear: Vec<String>,
    /// Mapped attributes: written to Casebook by name and to GHL as custom fields.
    #[serde(default)]
    pub attributes: Vec<MappedValue>,
}

/// One row of the field mapping: a Casebook person attribute and the GHL custom field
/// that holds the same value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// The Casebook attribute, such as `preferred_language`.
    pub casebook: String,
    /// The GHL custom field id; GHL reads custom fields back by id only.
    pub ghl_custom_field_id: String,
    /// The GHL custom field key (`contact.preferred_language`), used for writes when given.
    pub ghl_custom_field_key: Option<String>,
}

/// A value for one mapped attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappedValue {
    pub mapping: FieldMapping,
    pub value: serde_json::Value,
}

impl ContactFields {
    /// Whether the field with this GraphQL name is to be emptied.
    pub fn clears(&self, name: &str) -> bool {
        self.clear.iter().any(|field| field == name)
    }
}

/// Task fields to write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskFields {
    pub title: Option<String>,
    pub body: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub completed: Option<bool>,
}

/// Note fields to write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoteFields {
    pub title: Option<String>,
    pub body: Option<String>,
}

/// Appointment fields to write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppointmentFields {
    pub title: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// GHL appointment status (`new`, `confirmed`, `cancelled`, `showed`, `noshow`, `invalid`).
    pub status: Option<String>,
    pub calendar_id: Option<String>,
    /// IANA zone in which times are sent to GHL; UTC when absent.
    pub time_zone: Option<String>,
    pub notes: Option<String>,
}

/// GHL's appointment statuses that a client may set.
pub const APPOINTMENT_STATUSES: [&str; 6] = [
    "new",
    "confirmed",
    "cancelled",
    "showed",
    "noshow",
    "invalid",
];

/// Formats `moment` as ISO-8601 with the offset of `zone`, as GHL's calendar API expects.
pub fn with_offset(moment: DateTime<Utc>, zone: Option<&str>) -> String {
    match zone.and_then(|name| name.parse::<chrono_tz::Tz>().ok()) {
        Some(zone) => moment.with_timezone(&zone).to_rfc3339(),
        None => moment.to_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_field_and_the_form() {
        let mut checker = Checker::new();
        checker.email("email", Some("not-an-email"));
        checker.phone("phone", Some("call me"), PhoneRegion::default());
        checker.date_time("startsAt", Some("2026-12-04T10:00:00"), true);
        checker.date("dateOfBirth", Some("04/25/1990"));
        checker.time_zone("timeZone", Some("Mars/Olympus"));
        checker.text("firstName", Some("   "), true, MAX_SHORT_TEXT);
        let errors = checker.finish().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "input.email",
                "input.phone",
                "input.startsAt",
                "input.dateOfBirth",
                "input.timeZone",
                "input.firstName"
            ]
        );
        assert!(errors[0].message.contains("not-an-email"));
        assert!(errors[2].message.contains("offset"));
    }

    #[test]
    fn good_values_are_normalised() {
        let mut checker = Checker::new();
        assert_eq!(
            checker.email("email", Some(" a@example.org ")),
            Some("a@example.org".to_string())
        );
        assert_eq!(
            checker.phone("phone", Some("(555) 010-2345"), PhoneRegion::default()),
            Some("+15550102345".to_string())
        );
        let moment = checker
            .date_time("at", Some("2026-12-04T10:00:00-05:00"), true)
            .unwrap();
        assert_eq!(moment.to_rfc3339(), "2026-12-04T15:00:00+00:00");
        assert_eq!(
            checker.tags(
                "tags",
                Some(&[" a ".to_string(), "a".to_string(), "b".to_string()]),
                true
            ),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert!(checker.finish().is_ok());
    }

    #[test]
    fn times_go_to_ghl_in_the_given_zone() {
        let moment = DateTime::parse_from_rfc3339("2026-12-04T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            with_offset(moment, Some("America/New_York")),
            "2026-12-04T10:00:00-05:00"
        );
        assert_eq!(with_offset(moment, None), "2026-12-04T15:00:00+00:00");
    }
}
