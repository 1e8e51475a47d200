//! The resource types the Casebook simulator serves: their attributes, value kinds and
//! relationships, all named from the provisional table in `upstream::casebook::names`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value as Json;

use crate::upstream::casebook::names::{self, Collection};

/// The kind of value an attribute contains, which decides how filter values are parsed
/// and how values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    /// A string compared byte by byte, so comparisons are case-sensitive.
    Text,
    /// A calendar date written `YYYY-MM-DD`.
    Date,
    /// An instant written in RFC 3339 UTC, such as `2025-03-04T15:00:00Z`. Fractions of a
    /// second are written only when the stored instant has them.
    DateTime,
}

impl AttrKind {
    /// Parses a filter value written in a query string into a value of this kind.
    ///
    /// The error describes the expected format, for use in a 400 `detail`.
    pub fn parse(self, raw: &str) -> Result<Value, String> {
        match self {
            AttrKind::Text => Ok(Value::Text(raw.to_string())),
            AttrKind::Date => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| format!("'{raw}' is not a date; write it as YYYY-MM-DD")),
            AttrKind::DateTime => DateTime::parse_from_rfc3339(raw)
                .map(|moment| Value::DateTime(moment.with_timezone(&Utc)))
                .map_err(|_| {
                    format!(
                        "'{raw}' is not an RFC 3339 date-time; write it like 2025-03-04T15:00:00Z"
                    )
                }),
        }
    }
}

/// An attribute value held by the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Null,
    Text(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl Value {
    /// Wraps an optional string, mapping `None` to `Null`.
    pub fn text(value: Option<&str>) -> Value {
        value.map_or(Value::Null, |text| Value::Text(text.to_string()))
    }

    /// Wraps an optional instant, mapping `None` to `Null`.
    pub fn date_time(value: Option<DateTime<Utc>>) -> Value {
        value.map_or(Value::Null, Value::DateTime)
    }

    /// Returns the value as written in a JSON:API document, or `None` for null.
    pub fn render(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Text(text) => Some(text.clone()),
            Value::Date(date) => Some(date.format("%Y-%m-%d").to_string()),
            Value::DateTime(moment) => Some(moment.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }

    /// Converts the value to a JSON document member.
    pub fn to_json(&self) -> Json {
        self.render().map_or(Json::Null, Json::String)
    }
}

/// A relationship from one resource type to another.
#[derive(Debug)]
pub struct RelationshipSchema {
    /// The relationship name, as written in `relationships`, `include` and filter paths.
    pub name: &'static str,
    /// The collection that the related resources belong to.
    pub target: Collection,
    /// Whether the relationship is to-many (linkage is an array) or to-one.
    pub to_many: bool,
}

/// One served resource type.
#[derive(Debug)]
pub struct ResourceSchema {
    pub collection: Collection,
    /// Attributes in the order they are rendered.
    pub attributes: &'static [(&'static str, AttrKind)],
    pub relationships: &'static [RelationshipSchema],
    /// Attributes that the server sets and a write document may not contain.
    pub read_only: &'static [&'static str],
    /// Attributes that accept only the listed values (or null), by attribute name.
    pub allowed_values: &'static [(&'static str, &'static [&'static str])],
    /// Attributes that a write may not set to null.
    pub not_null: &'static [&'static str],
}

impl ResourceSchema {
    /// Returns the JSON:API `type` of the resources.
    pub fn type_name(&self) -> &'static str {
        self.collection.type_name
    }

    /// Looks up the named attribute and its kind, or returns `None` when the type has no such attribute.
    pub fn attribute(&self, name: &str) -> Option<(&'static str, AttrKind)> {
        self.attributes
            .iter()
            .find(|(attribute, _)| *attribute == name)
            .copied()
    }

    /// Looks up the named relationship, or returns `None` when the type has no such relationship.
    pub fn relationship(&self, name: &str) -> Option<&'static RelationshipSchema> {
        let relationships: &'static [RelationshipSchema] = self.relationships;
        relationships.iter().find(|r| r.name == name)
    }

    /// Reports whether a write document may set the attribute.
    pub fn is_writable(&self, name: &str) -> bool {
        self.attribute(name).is_some() && !self.read_only.contains(&name)
    }

    /// Lists the attribute names that a write document may set, comma-separated.
    pub fn writable_list(&self) -> String {
        let names: Vec<&str> = self
            .attributes
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !self.read_only.contains(name))
            .collect();
        names.join(", ")
    }

    /// Returns the values an attribute is limited to, or `None` when any value of its
    /// kind is accepted.
    pub fn allowed_values(&self, name: &str) -> Option<&'static [&'static str]> {
        self.allowed_values
            .iter()
            .find(|(attribute, _)| *attribute == name)
            .map(|(_, values)| *values)
    }

    /// Lists the attribute names, comma-separated, for error messages.
    pub fn attribute_list(&self) -> String {
        let names: Vec<&str> = self.attributes.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }

    /// Lists the relationship names, comma-separated, or `none` when the type has none.
    pub fn relationship_list(&self) -> String {
        if self.relationships.is_empty() {
            return "none".to_string();
        }
        let names: Vec<&str> = self.relationships.iter().map(|r| r.name).collect();
        names.join(", ")
    }
}

/// People, with the attributes in `names::person`.
pub static PEOPLE: ResourceSchema = ResourceSchema {
    collection: names::PEOPLE,
    attributes: &[
        (names::person::FIRST_NAME, AttrKind::Text),
        (names::person::LAST_NAME, AttrKind::Text),
        (names::person::EMAIL, AttrKind::Text),
        (names::person::PHONE, AttrKind::Text),
        (names::person::DATE_OF_BIRTH, AttrKind::Date),
        (names::person::HISPANIC_OR_LATINO, AttrKind::Text),
        (names::person::PREFERRED_LANGUAGE, AttrKind::Text),
        (names::person::CREATED_AT, AttrKind::DateTime),
        (names::person::UPDATED_AT, AttrKind::DateTime),
    ],
    relationships: &[],
    read_only: &[names::person::CREATED_AT, names::person::UPDATED_AT],
    allowed_values: &[(
        names::person::HISPANIC_OR_LATINO,
        &names::person::HISPANIC_OR_LATINO_VALUES,
    )],
    not_null: &[],
};

/// Notes, with the attributes in `names::note` and a to-many link to the people involved.
pub static NOTES: ResourceSchema = ResourceSchema {
    collection: names::NOTES,
    attributes: &[
        (names::note::SUBJECT, AttrKind::Text),
        (names::note::BODY, AttrKind::Text),
        (names::note::NOTE_TYPE, AttrKind::Text),
        (names::note::OCCURRED_AT, AttrKind::DateTime),
        (names::note::ENDS_AT, AttrKind::DateTime),
        (names::note::CREATED_AT, AttrKind::DateTime),
        (names::note::UPDATED_AT, AttrKind::DateTime),
    ],
    relationships: &[RelationshipSchema {
        name: names::note::PEOPLE,
        target: names::PEOPLE,
        to_many: true,
    }],
    read_only: &[names::note::CREATED_AT, names::note::UPDATED_AT],
    allowed_values: &[(names::note::NOTE_TYPE, &names::ALL_NOTE_TYPES)],
    not_null: &[],
};

/// Tasks, with the attributes in `names::task` and a to-one link to their person.
pub static TASKS: ResourceSchema = ResourceSchema {
    collection: names::TASKS,
    attributes: &[
        (names::task::TITLE, AttrKind::Text),
        (names::task::DESCRIPTION, AttrKind::Text),
        (names::task::DUE_AT, AttrKind::DateTime),
        (names::task::STATUS, AttrKind::Text),
        (names::task::COMPLETED_AT, AttrKind::DateTime),
        (names::task::CREATED_AT, AttrKind::DateTime),
        (names::task::UPDATED_AT, AttrKind::DateTime),
    ],
    relationships: &[RelationshipSchema {
        name: names::task::PERSON,
        target: names::PEOPLE,
        to_many: false,
    }],
    // The server derives `completed_at` from changes of `status`.
    read_only: &[
        names::task::COMPLETED_AT,
        names::task::CREATED_AT,
        names::task::UPDATED_AT,
    ],
    allowed_values: &[(
        names::task::STATUS,
        &[names::task::STATUS_OPEN, names::task::STATUS_COMPLETED],
    )],
    // A create without a status gets `open`.
    not_null: &[names::task::STATUS],
};

/// Every served resource type.
pub static SCHEMAS: [&ResourceSchema; 3] = [&PEOPLE, &NOTES, &TASKS];

/// Looks up the schema of the resources with this JSON:API `type`.
pub fn by_type(type_name: &str) -> Option<&'static ResourceSchema> {
    SCHEMAS
        .iter()
        .copied()
        .find(|schema| schema.type_name() == type_name)
}

/// Lists the served type names, comma-separated, for error messages.
pub fn type_list() -> String {
    let names: Vec<&str> = SCHEMAS.iter().map(|schema| schema.type_name()).collect();
    names.join(", ")
}
