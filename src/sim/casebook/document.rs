//! JSON:API 1.0 documents written by the Casebook simulator: resource objects, compound
//! documents with `included`, pagination links and error objects.

use std::collections::{HashMap, HashSet};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header, uri::Authority};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};

use super::query::{Page, PageStyle, Query};
use super::schema::{self, RelationshipSchema, ResourceSchema};
use super::store::{Record, Store};
use crate::upstream::casebook::names;

/// The scheme and authority that absolute links start with, such as
/// `http://127.0.0.1:4000`, or empty when the request had no usable `Host` header, in
/// which case links are root-relative paths.
#[derive(Debug, Clone)]
pub struct Origin(String);

impl Origin {
    /// Reads the origin from the request's `Host` header. The simulator serves plain
    /// HTTP only, so the scheme is always `http`.
    pub fn from_headers(headers: &HeaderMap) -> Origin {
        let authority = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse::<Authority>().ok());
        match authority {
            Some(authority) => Origin(format!("http://{authority}")),
            None => Origin(String::new()),
        }
    }

    /// Prefixes a root-relative path with this origin.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// Builds a response with the JSON:API media type.
pub fn response(status: StatusCode, document: &Json) -> Response {
    let mut response = (status, document.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(names::MEDIA_TYPE),
    );
    response
}

/// Builds a JSON:API error document with one error object. `parameter` becomes
/// `source.parameter` when set.
pub fn error_document(status: StatusCode, detail: &str, parameter: Option<&str>) -> Json {
    let mut error = Map::new();
    error.insert("status".into(), Json::String(status.as_str().to_string()));
    error.insert(
        "title".into(),
        Json::String(status.canonical_reason().unwrap_or("Error").to_string()),
    );
    error.insert("detail".into(), Json::String(detail.to_string()));
    if let Some(parameter) = parameter {
        error.insert("source".into(), json!({ "parameter": parameter }));
    }
    json!({ "errors": [Json::Object(error)] })
}

/// Builds an error response in the JSON:API shape.
pub fn error_response(status: StatusCode, detail: &str, parameter: Option<&str>) -> Response {
    response(status, &error_document(status, detail, parameter))
}

/// One JSON:API error object of a rejected write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorObject {
    /// Short summary that is the same for every error of its kind, such as
    /// `Invalid Attribute`.
    pub title: &'static str,
    /// Explanation that names the value and the fix.
    pub detail: String,
    /// JSON Pointer to the member of the request document at fault, written as
    /// `source.pointer`.
    pub pointer: Option<String>,
}

/// Builds an error response with one error object per entry of `errors`, each
/// carrying `status` as its `status` member.
pub fn errors_response(status: StatusCode, errors: &[ErrorObject]) -> Response {
    let objects: Vec<Json> = errors
        .iter()
        .map(|error| {
            let mut object = Map::new();
            object.insert("status".into(), Json::String(status.as_str().to_string()));
            object.insert("title".into(), Json::String(error.title.to_string()));
            object.insert("detail".into(), Json::String(error.detail.clone()));
            if let Some(pointer) = &error.pointer {
                object.insert("source".into(), json!({ "pointer": pointer }));
            }
            Json::Object(object)
        })
        .collect();
    response(status, &json!({ "errors": objects }))
}

/// Renders one resource object, applying the sparse fieldset for its type if the query
/// has one.
pub fn resource_object(
    schema: &ResourceSchema,
    record: &Record,
    fields: &HashMap<&'static str, Vec<String>>,
    origin: &Origin,
) -> Json {
    let selected = fields.get(schema.type_name());
    let is_selected = |name: &str| selected.is_none_or(|names| names.iter().any(|n| n == name));

    let mut attributes = Map::new();
    for (name, _) in schema
        .attributes
        .iter()
        .filter(|(name, _)| is_selected(name))
    {
        attributes.insert((*name).to_string(), record.attribute(name).to_json());
    }

    let mut relationships = Map::new();
    for relationship in schema.relationships.iter().filter(|r| is_selected(r.name)) {
        relationships.insert(
            relationship.name.to_string(),
            json!({ "data": linkage(relationship, record) }),
        );
    }

    let mut object = Map::new();
    object.insert("type".into(), Json::String(schema.type_name().to_string()));
    object.insert("id".into(), Json::String(record.id.clone()));
    object.insert("attributes".into(), Json::Object(attributes));
    if !relationships.is_empty() {
        object.insert("relationships".into(), Json::Object(relationships));
    }
    let self_link = origin.url(&format!("{}/{}", schema.collection.path(), record.id));
    object.insert("links".into(), json!({ "self": self_link }));
    Json::Object(object)
}

/// Builds the resource linkage of one relationship: an array for to-many, an object or
/// null for to-one.
fn linkage(relationship: &RelationshipSchema, record: &Record) -> Json {
    let identifiers = record
        .related_ids(relationship.name)
        .iter()
        .map(|id| json!({ "type": relationship.target.type_name, "id": id }));
    if relationship.to_many {
        Json::Array(identifiers.collect())
    } else {
        identifiers.into_iter().next().unwrap_or(Json::Null)
    }
}

/// Renders the `included` array: every resource linked from `primary` through the
/// requested relationships, once each, in order of first appearance. Linked ids that
/// are not in the store are skipped.
pub fn included(store: &Store, primary: &[&Record], query: &Query, origin: &Origin) -> Vec<Json> {
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut rendered = Vec::new();
    for record in primary {
        for relationship in &query.include {
            let Some(target) = schema::by_type(relationship.target.type_name) else {
                continue;
            };
            for id in record.related_ids(relationship.name) {
                let Some(related) = store.get(target, id) else {
                    continue;
                };
                if seen.insert((target.type_name(), related.id.as_str())) {
                    rendered.push(resource_object(target, related, &query.fields, origin));
                }
            }
        }
    }
    rendered
}

/// Builds the collection `links` object: self, first, prev, next and last. Each link
/// repeats the request's other parameters in their order and ends with the page
/// parameters in the style the request used. `prev` and `next` are null at the ends.
pub fn pagination_links(
    origin: &Origin,
    path: &str,
    raw_query: &str,
    page: Page,
    total: u64,
) -> Json {
    let other_parameters: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(name, _)| !name.starts_with("page["))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let link = |offset: u64| -> Json {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &other_parameters {
            serializer.append_pair(name, value);
        }
        match page.style {
            PageStyle::Offset => {
                serializer.append_pair("page[offset]", &offset.to_string());
                serializer.append_pair("page[limit]", &page.limit.to_string());
            }
            PageStyle::Number => {
                let number = (offset / page.limit).saturating_add(1);
                serializer.append_pair("page[number]", &number.to_string());
                serializer.append_pair("page[size]", &page.limit.to_string());
            }
        }
        Json::String(origin.url(&format!("{path}?{}", serializer.finish())))
    };

    let last_offset = if total == 0 {
        0
    } else {
        (total - 1) / page.limit * page.limit
    };
    let prev = (page.offset > 0).then(|| link(page.offset.saturating_sub(page.limit)));
    let next_offset = page.offset.saturating_add(page.limit);
    let next = (next_offset < total).then(|| link(next_offset));
    json!({
        "self": link(page.offset),
        "first": link(0),
        "prev": prev.unwrap_or(Json::Null),
        "next": next.unwrap_or(Json::Null),
        "last": link(last_offset),
    })
}
