//! A generic reader of JSON:API 1.0 response documents.
//!
//! It accepts `data` as an object, an array or null, reads each resource's `type`, `id`,
//! `attributes` and relationship linkage (an identifier, an array of them, or null), and
//! keeps `included` and `meta`. Structural faults, such as a resource without a string
//! `id`, are reported as `BadResponse` with the position of the fault.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::upstream::{System, UpstreamError, http::describe_json_error};

use super::names::{self, Collection};

const SYSTEM: System = System::Casebook;

/// A parsed JSON:API document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub data: PrimaryData,
    /// Side-loaded resources from `include=`.
    pub included: Vec<Resource>,
    /// Top-level `meta`; empty when absent.
    pub meta: Map<String, Value>,
}

/// The top-level `data` member.
#[derive(Debug, Clone, PartialEq)]
pub enum PrimaryData {
    Null,
    One(Resource),
    Many(Vec<Resource>),
}

/// One resource object.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub type_name: String,
    pub id: String,
    /// `attributes`; empty when absent or null.
    pub attributes: Map<String, Value>,
    /// Linkage of each relationship, by relationship name.
    pub relationships: BTreeMap<String, Linkage>,
}

/// The `data` member of one relationship.
#[derive(Debug, Clone, PartialEq)]
pub enum Linkage {
    /// The relationship has no `data` member (for example, links only).
    Absent,
    /// An empty to-one relationship.
    Null,
    One(Identifier),
    Many(Vec<Identifier>),
}

/// A resource identifier object: `{type, id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    pub type_name: String,
    pub id: String,
}

impl Document {
    /// Parses a response body.
    pub fn parse(body: &[u8]) -> Result<Document, UpstreamError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|err| bad(describe_json_error(&err)))?;
        Document::from_value(value)
    }

    /// Reads a document from an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Document, UpstreamError> {
        let Value::Object(mut top) = value else {
            return Err(bad("the document is not a JSON object"));
        };

        let data = match top.remove("data") {
            None => return Err(bad("the document has no `data` member")),
            Some(Value::Null) => PrimaryData::Null,
            Some(Value::Array(items)) => PrimaryData::Many(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| Resource::from_value(item, &format!("data[{index}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Some(item @ Value::Object(_)) => PrimaryData::One(Resource::from_value(item, "data")?),
            Some(_) => return Err(bad("`data` is neither an object, an array nor null")),
        };

        let included = match top.remove("included") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| Resource::from_value(item, &format!("included[{index}]")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("`included` is not an array")),
        };

        let meta = match top.remove("meta") {
            Some(Value::Object(meta)) => meta,
            _ => Map::new(),
        };

        Ok(Document {
            data,
            included,
            meta,
        })
    }

    /// Returns the primary resources as a list: none for null, one for an object.
    pub fn into_resources(self) -> Vec<Resource> {
        match self.data {
            PrimaryData::Null => Vec::new(),
            PrimaryData::One(resource) => vec![resource],
            PrimaryData::Many(resources) => resources,
        }
    }

    /// Returns the total number of matching records, from `meta.totalResourceCount`.
    pub fn total(&self) -> Option<u64> {
        match self.meta.get(names::META_TOTAL)? {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }
}

impl Resource {
    fn from_value(value: Value, position: &str) -> Result<Resource, UpstreamError> {
        let Value::Object(mut object) = value else {
            return Err(bad(format!("{position} is not a resource object")));
        };
        let type_name = match object.remove("type") {
            Some(Value::String(type_name)) => type_name,
            _ => return Err(bad(format!("{position} has no string `type`"))),
        };
        let id = match object.remove("id") {
            Some(Value::String(id)) if !id.is_empty() => id,
            _ => return Err(bad(format!("{position} has no string `id`"))),
        };
        let attributes = match object.remove("attributes") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(attributes)) => attributes,
            Some(_) => return Err(bad(format!("{position}.attributes is not an object"))),
        };

        let mut relationships = BTreeMap::new();
        match object.remove("relationships") {
            None | Some(Value::Null) => {}
            Some(Value::Object(members)) => {
                for (name, relationship) in members {
                    let at = format!("{position}.relationships.{name}");
                    relationships.insert(name, Linkage::from_relationship(relationship, &at)?);
                }
            }
            Some(_) => return Err(bad(format!("{position}.relationships is not an object"))),
        }

        Ok(Resource {
            type_name,
            id,
            attributes,
            relationships,
        })
    }

    /// Fails with `BadResponse` unless the resource has the collection's type.
    pub fn expect_type(&self, collection: &Collection) -> Result<(), UpstreamError> {
        if self.type_name == collection.type_name {
            Ok(())
        } else {
            Err(bad(format!(
                "expected resources of type `{}`, got `{}`",
                collection.type_name, self.type_name
            )))
        }
    }

    /// Reads a string attribute. Numbers and booleans are converted to text, and other
    /// values read as absent.
    pub fn string(&self, name: &str) -> Option<String> {
        match self.attributes.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    /// Reads a date-time attribute with [`parse_casebook_time`].
    pub fn time(&self, name: &str) -> Option<DateTime<Utc>> {
        match self.attributes.get(name)? {
            Value::String(text) => parse_casebook_time(text),
            _ => None,
        }
    }

    /// Returns the ids linked by a to-many relationship. A to-one linkage gives at most one id.
    pub fn related_ids(&self, name: &str) -> Vec<String> {
        match self.relationships.get(name) {
            Some(Linkage::One(identifier)) => vec![identifier.id.clone()],
            Some(Linkage::Many(identifiers)) => identifiers
                .iter()
                .map(|identifier| identifier.id.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Returns the id linked by a to-one relationship, or the first id of a to-many one.
    pub fn related_id(&self, name: &str) -> Option<String> {
        match self.relationships.get(name)? {
            Linkage::One(identifier) => Some(identifier.id.clone()),
            Linkage::Many(identifiers) => {
                identifiers.first().map(|identifier| identifier.id.clone())
            }
            Linkage::Absent | Linkage::Null => None,
        }
    }
}

impl Linkage {
    fn from_relationship(value: Value, position: &str) -> Result<Linkage, UpstreamError> {
        let Value::Object(mut relationship) = value else {
            return Err(bad(format!("{position} is not an object")));
        };
        match relationship.remove("data") {
            None => Ok(Linkage::Absent),
            Some(Value::Null) => Ok(Linkage::Null),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    Identifier::from_value(item, &format!("{position}.data[{index}]"))
                })
                .collect::<Result<_, _>>()
                .map(Linkage::Many),
            Some(item) => {
                Identifier::from_value(item, &format!("{position}.data")).map(Linkage::One)
            }
        }
    }
}

impl Identifier {
    fn from_value(value: Value, position: &str) -> Result<Identifier, UpstreamError> {
        let Value::Object(mut object) = value else {
            return Err(bad(format!("{position} is not a resource identifier")));
        };
        let type_name = match object.remove("type") {
            Some(Value::String(type_name)) => type_name,
            _ => return Err(bad(format!("{position} has no string `type`"))),
        };
        let id = match object.remove("id") {
            Some(Value::String(id)) if !id.is_empty() => id,
            _ => return Err(bad(format!("{position} has no string `id`"))),
        };
        Ok(Identifier { type_name, id })
    }
}

/// Parses a Casebook time stamp into UTC.
///
/// Accepts RFC 3339 (`2024-05-01T09:30:00Z`, offsets, fractions) and a plain date
/// `2024-05-01`, read as midnight UTC. A date-time without a zone is read as UTC.
// NOTE: Casebook's date-time format is unpublished; its own client code sends plain
// dates even for `_at` attributes, hence the date fallback.
pub fn parse_casebook_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(Utc.from_utc_datetime(&naive));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    date.and_hms_opt(0, 0, 0)
        .map(|naive| Utc.from_utc_datetime(&naive))
}

fn bad(detail: impl Into<String>) -> UpstreamError {
    UpstreamError::BadResponse {
        system: SYSTEM,
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Document, UpstreamError> {
        Document::from_value(value)
    }

    #[test]
    fn object_array_and_null_data() {
        let one = parse(json!({"data": {"type": "people", "id": "p1"}})).unwrap();
        assert_eq!(one.into_resources().len(), 1);

        let many = parse(
            json!({"data": [{"type": "people", "id": "p1"}, {"type": "people", "id": "p2"}]}),
        )
        .unwrap();
        assert_eq!(many.into_resources().len(), 2);

        let null = parse(json!({"data": null})).unwrap();
        assert_eq!(null.data, PrimaryData::Null);
    }

    #[test]
    fn linkage_shapes() {
        let document = parse(json!({
            "data": {
                "type": "notes", "id": "n1",
                "attributes": {"subject": "Hello", "count": 3},
                "relationships": {
                    "people": {"data": [{"type": "people", "id": "p1"}, {"type": "people", "id": "p2"}]},
                    "person": {"data": {"type": "people", "id": "p3"}},
                    "parent": {"data": null},
                    "author": {"links": {"related": "/x"}}
                }
            },
            "included": [{"type": "people", "id": "p1"}],
            "meta": {"totalResourceCount": 7}
        }))
        .unwrap();

        assert_eq!(document.total(), Some(7));
        assert_eq!(document.included.len(), 1);
        let resource = document.into_resources().remove(0);
        assert_eq!(resource.related_ids("people"), vec!["p1", "p2"]);
        assert_eq!(resource.related_id("person").as_deref(), Some("p3"));
        assert_eq!(resource.related_id("parent"), None);
        assert_eq!(resource.relationships["author"], Linkage::Absent);
        assert_eq!(resource.string("subject").as_deref(), Some("Hello"));
        assert_eq!(resource.string("count").as_deref(), Some("3"));
        assert_eq!(resource.string("missing"), None);
    }

    #[test]
    fn missing_id_is_bad_response() {
        let err = parse(json!({"data": [{"type": "people", "id": "p1"}, {"type": "people"}]}))
            .unwrap_err();
        assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
        assert!(err.to_string().contains("data[1]"), "{err}");

        let numeric = parse(json!({"data": {"type": "people", "id": 5}})).unwrap_err();
        assert!(matches!(numeric, UpstreamError::BadResponse { .. }));
    }

    #[test]
    fn missing_data_is_bad_response() {
        let err = parse(json!({"errors": [{"detail": "x"}]})).unwrap_err();
        assert!(matches!(err, UpstreamError::BadResponse { .. }));
        assert!(Document::parse(b"not json").is_err());
    }

    #[test]
    fn wrong_type_detected() {
        let resource = parse(json!({"data": {"type": "notes", "id": "n1"}}))
            .unwrap()
            .into_resources()
            .remove(0);
        assert!(resource.expect_type(&names::PEOPLE).is_err());
        assert!(resource.expect_type(&names::NOTES).is_ok());
    }

    #[test]
    fn casebook_times() {
        assert_eq!(
            parse_casebook_time("2024-05-01T09:30:00.250+02:00").map(|time| time.to_rfc3339()),
            Some("2024-05-01T07:30:00.250+00:00".to_string())
        );
        assert_eq!(
            parse_casebook_time("2024-05-01"),
            Some(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            parse_casebook_time("2024-05-01T09:30:00"),
            Some(Utc.with_ymd_and_hms(2024, 5, 1, 9, 30, 0).unwrap())
        );
        assert_eq!(parse_casebook_time("yesterday"), None);
    }
}
