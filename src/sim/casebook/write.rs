//! Create, update and delete in the Casebook simulator, from JSON:API 1.0 write
//! documents.
//!
//! A request is checked in the order below, and the first failing step decides the
//! status:
//! 1. 415 for a body that is not `application/vnd.api+json`;
//! 2. 400 for invalid JSON or a document without a `data` resource object;
//! 3. 409 for a `type` of another collection, or a PATCH `id` that differs from the URL;
//! 4. 403 for a client-generated id on create;
//! 5. 404 for an unknown id;
//! 6. 422 for everything else. A 422 lists every unknown, read-only, invalid or missing
//!    attribute and every invalid relationship at once, each with its `source.pointer`.
//!
//! Design choices where Casebook publishes nothing: ids are random UUIDs, timestamps
//! are the server clock, deleting a person also deletes the tasks about that person and
//! the notes that involve no other person, and a task's `completed_at` follows its
//! `status`.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use super::document::ErrorObject;
use super::schema::{self, RelationshipSchema, ResourceSchema, Value};
use super::store::{Record, Store};
use crate::upstream::casebook::names;

const INVALID_ATTRIBUTE: &str = "Invalid Attribute";
const INVALID_RELATIONSHIP: &str = "Invalid Relationship";

/// A rejected write: the response status and its error objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub status: StatusCode,
    pub errors: Vec<ErrorObject>,
}

impl WriteError {
    /// Builds an error with one error object titled by the status's reason phrase.
    pub fn new(status: StatusCode, detail: impl Into<String>, pointer: Option<&str>) -> Self {
        WriteError {
            status,
            errors: vec![ErrorObject {
                title: status.canonical_reason().unwrap_or("Error"),
                detail: detail.into(),
                pointer: pointer.map(str::to_string),
            }],
        }
    }

    fn unprocessable(errors: Vec<ErrorObject>) -> Self {
        WriteError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        }
    }

    fn not_found(schema: &ResourceSchema, id: &str) -> Self {
        WriteError::new(
            StatusCode::NOT_FOUND,
            format!("No {} record with id {id}.", schema.type_name()),
            None,
        )
    }
}

/// The attribute values and relationship linkage that one write sets, by name.
#[derive(Debug, Default)]
struct Changes {
    attributes: BTreeMap<&'static str, Value>,
    relationships: BTreeMap<&'static str, Vec<String>>,
}

/// Whether the document creates a resource or updates the one with this id.
#[derive(Debug, Clone, Copy)]
enum Mode<'a> {
    Create,
    Update(&'a str),
}

/// Checks that a request body is sent as `application/vnd.api+json` without media type
/// parameters, as JSON:API 1.0 requires.
pub fn check_media_type(headers: &HeaderMap) -> Result<(), WriteError> {
    let unsupported = |detail: String| {
        Err(WriteError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            detail,
            None,
        ))
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return unsupported(format!(
            "Missing Content-Type header. Send the body as Content-Type: {}.",
            names::MEDIA_TYPE
        ));
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let (essence, parameters) = match text.split_once(';') {
        Some((essence, parameters)) => (essence.trim(), Some(parameters.trim())),
        None => (text.trim(), None),
    };
    if !essence.eq_ignore_ascii_case(names::MEDIA_TYPE) {
        return unsupported(format!(
            "Content-Type '{text}' is not supported. Send the body as Content-Type: {}.",
            names::MEDIA_TYPE
        ));
    }
    if parameters.is_some_and(|parameters| !parameters.is_empty()) {
        return unsupported(format!(
            "Content-Type '{text}' has media type parameters, which JSON:API 1.0 does not \
             allow. Send Content-Type: {} with no parameters.",
            names::MEDIA_TYPE
        ));
    }
    Ok(())
}

/// Parses a request body as JSON.
pub fn parse_body(body: &[u8]) -> Result<Json, WriteError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WriteError::new(
            StatusCode::BAD_REQUEST,
            "The request body is empty. Send a JSON:API document: {\"data\": {\"type\": ..., \"attributes\": {...}}}.",
            None,
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        WriteError::new(
            StatusCode::BAD_REQUEST,
            format!("The request body is not valid JSON: {error}."),
            None,
        )
    })
}

/// Creates a resource from a POST document and returns the stored record.
pub fn create(
    store: &mut Store,
    schema: &'static ResourceSchema,
    document: &Json,
    required: &[&'static str],
    now: DateTime<Utc>,
) -> Result<Record, WriteError> {
    let resource = resource_object(schema, document, Mode::Create)?;
    let raw_attributes = member_object(resource, "attributes")?;
    let raw_relationships = member_object(resource, "relationships")?;

    let mut problems = Vec::new();
    let mut changes = Changes {
        attributes: read_attributes(schema, raw_attributes, &mut problems),
        relationships: read_relationships(schema, raw_relationships, store, &mut problems),
    };
    check_required(
        required,
        raw_attributes,
        &changes,
        Mode::Create,
        &mut problems,
    );
    if schema.type_name() == names::TASKS.type_name {
        changes
            .attributes
            .entry(names::task::STATUS)
            .or_insert_with(|| Value::Text(names::task::STATUS_OPEN.to_string()));
    }

    let mut record = Record {
        id: uuid::Uuid::new_v4().to_string(),
        attributes: BTreeMap::new(),
        relationships: BTreeMap::new(),
    };
    apply(schema, &mut record, changes, now);
    check_time_order(schema, &record, raw_attributes, &mut problems);
    if !problems.is_empty() {
        return Err(WriteError::unprocessable(problems));
    }

    record
        .attributes
        .insert(created_at(schema), Value::DateTime(now));
    store.insert(schema, record.clone());
    Ok(record)
}

/// Updates the resource `id` from a PATCH document and returns the stored record.
///
/// Only the attributes and relationships in the document change. A to-many linkage
/// replaces the whole relationship.
pub fn update(
    store: &mut Store,
    schema: &'static ResourceSchema,
    id: &str,
    document: &Json,
    required: &[&'static str],
    now: DateTime<Utc>,
) -> Result<Record, WriteError> {
    let resource = resource_object(schema, document, Mode::Update(id))?;
    let raw_attributes = member_object(resource, "attributes")?;
    let raw_relationships = member_object(resource, "relationships")?;
    let Some(existing) = store.get(schema, id) else {
        return Err(WriteError::not_found(schema, id));
    };
    let mut record = existing.clone();

    let mut problems = Vec::new();
    let changes = Changes {
        attributes: read_attributes(schema, raw_attributes, &mut problems),
        relationships: read_relationships(schema, raw_relationships, store, &mut problems),
    };
    check_required(
        required,
        raw_attributes,
        &changes,
        Mode::Update(id),
        &mut problems,
    );
    apply(schema, &mut record, changes, now);
    check_time_order(schema, &record, raw_attributes, &mut problems);
    if !problems.is_empty() {
        return Err(WriteError::unprocessable(problems));
    }

    store.insert(schema, record.clone());
    Ok(record)
}

/// Deletes the resource `id`.
///
/// Deleting a person also deletes the tasks about that person and the notes that
/// involve no other person, and removes the person from the notes that involve others.
pub fn delete(
    store: &mut Store,
    schema: &'static ResourceSchema,
    id: &str,
) -> Result<(), WriteError> {
    if store.remove(schema, id).is_none() {
        return Err(WriteError::not_found(schema, id));
    }
    if schema.type_name() == names::PEOPLE.type_name {
        remove_person_links(store, id);
    }
    Ok(())
}

fn remove_person_links(store: &mut Store, person_id: &str) {
    let linked_tasks: Vec<String> = store
        .records(&schema::TASKS)
        .filter(|task| task.related_ids(names::task::PERSON) == [person_id])
        .map(|task| task.id.clone())
        .collect();
    for task_id in linked_tasks {
        store.remove(&schema::TASKS, &task_id);
    }

    let linked_notes: Vec<Record> = store
        .records(&schema::NOTES)
        .filter(|note| {
            note.related_ids(names::note::PEOPLE)
                .iter()
                .any(|id| id == person_id)
        })
        .cloned()
        .collect();
    for mut note in linked_notes {
        let people = note.relationships.entry(names::note::PEOPLE).or_default();
        people.retain(|id| id != person_id);
        if people.is_empty() {
            store.remove(&schema::NOTES, &note.id);
        } else {
            store.insert(&schema::NOTES, note);
        }
    }
}

/// Returns the `data` resource object after checking its `type` and `id`.
fn resource_object<'d>(
    schema: &ResourceSchema,
    document: &'d Json,
    mode: Mode<'_>,
) -> Result<&'d Map<String, Json>, WriteError> {
    let bad_request = |detail: String, pointer: &str| {
        WriteError::new(StatusCode::BAD_REQUEST, detail, Some(pointer))
    };
    let type_name = schema.type_name();

    let Some(top) = document.as_object() else {
        return Err(bad_request(
            "The document must be a JSON object with a data member.".to_string(),
            "",
        ));
    };
    let Some(Json::Object(resource)) = top.get("data") else {
        return Err(bad_request(
            format!(
                "The document needs a data member holding one resource object, as in \
                 {{\"data\": {{\"type\": \"{type_name}\", \"attributes\": {{...}}}}}}."
            ),
            "/data",
        ));
    };

    match resource.get("type") {
        Some(Json::String(sent)) if sent == type_name => {}
        Some(Json::String(sent)) => {
            return Err(WriteError::new(
                StatusCode::CONFLICT,
                format!(
                    "Resource type '{sent}' does not match {}, which takes type '{type_name}'.",
                    schema.collection.path()
                ),
                Some("/data/type"),
            ));
        }
        _ => {
            return Err(bad_request(
                format!("data.type is missing or not a string; send \"type\": \"{type_name}\"."),
                "/data/type",
            ));
        }
    }

    match (mode, resource.get("id")) {
        (Mode::Create, None) => {}
        (Mode::Create, Some(_)) => {
            return Err(WriteError::new(
                StatusCode::FORBIDDEN,
                "Client-generated ids are not supported. Leave out data.id; the response \
                 carries the id the server assigns.",
                Some("/data/id"),
            ));
        }
        (Mode::Update(url_id), Some(Json::String(sent))) if sent == url_id => {}
        (Mode::Update(url_id), Some(Json::String(sent))) => {
            return Err(WriteError::new(
                StatusCode::CONFLICT,
                format!("data.id '{sent}' does not match the id '{url_id}' in the URL."),
                Some("/data/id"),
            ));
        }
        (Mode::Update(url_id), _) => {
            return Err(bad_request(
                format!("data.id is missing or not a string; send \"id\": \"{url_id}\"."),
                "/data/id",
            ));
        }
    }
    Ok(resource)
}

/// Returns the `attributes` or `relationships` object of a resource, `None` when it is
/// absent or null.
fn member_object<'d>(
    resource: &'d Map<String, Json>,
    member: &str,
) -> Result<Option<&'d Map<String, Json>>, WriteError> {
    match resource.get(member) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(object)) => Ok(Some(object)),
        Some(_) => Err(WriteError::new(
            StatusCode::BAD_REQUEST,
            format!("data.{member} must be a JSON object."),
            Some(&format!("/data/{member}")),
        )),
    }
}

/// Validates every sent attribute and returns the valid values. Each problem is added
/// to `problems` with the attribute's pointer.
fn read_attributes(
    schema: &ResourceSchema,
    raw: Option<&Map<String, Json>>,
    problems: &mut Vec<ErrorObject>,
) -> BTreeMap<&'static str, Value> {
    let mut values = BTreeMap::new();
    for (name, sent) in raw.into_iter().flatten() {
        match read_attribute(schema, name, sent) {
            Ok((attribute, value)) => {
                values.insert(attribute, value);
            }
            Err(detail) => problems.push(ErrorObject {
                title: INVALID_ATTRIBUTE,
                detail,
                pointer: Some(attribute_pointer(name)),
            }),
        }
    }
    values
}

/// Validates one attribute, or returns the detail of the problem.
fn read_attribute(
    schema: &ResourceSchema,
    name: &str,
    sent: &Json,
) -> Result<(&'static str, Value), String> {
    let type_name = schema.type_name();
    let Some((attribute, kind)) = schema.attribute(name) else {
        return Err(format!(
            "Unknown attribute '{name}' for {type_name}. Writable attributes: {}.",
            schema.writable_list()
        ));
    };
    if !schema.is_writable(attribute) {
        return Err(format!(
            "Attribute '{attribute}' is set by the server and cannot be written; leave it out."
        ));
    }

    let text = match sent {
        Json::Null if schema.not_null.contains(&attribute) => {
            return Err(not_null_detail(schema, attribute));
        }
        Json::Null => return Ok((attribute, Value::Null)),
        Json::String(text) => text,
        other => {
            return Err(format!(
                "Attribute '{attribute}' must be a string or null, got {}.",
                json_kind(other)
            ));
        }
    };
    let value = kind
        .parse(text)
        .map_err(|problem| format!("Attribute '{attribute}': {problem}."))?;
    if let Some(allowed) = schema.allowed_values(attribute)
        && !allowed.contains(&text.as_str())
    {
        return Err(format!(
            "'{text}' is not a valid {attribute}. Use one of: {}.",
            allowed.join(", ")
        ));
    }
    Ok((attribute, value))
}

fn not_null_detail(schema: &ResourceSchema, attribute: &str) -> String {
    match schema.allowed_values(attribute) {
        Some(allowed) => format!(
            "Attribute '{attribute}' cannot be null. Use one of: {}.",
            allowed.join(", ")
        ),
        None => format!("Attribute '{attribute}' cannot be null."),
    }
}

/// Validates every sent relationship and returns the linked ids. Each problem is added
/// to `problems` with the relationship's pointer.
fn read_relationships(
    schema: &ResourceSchema,
    raw: Option<&Map<String, Json>>,
    store: &Store,
    problems: &mut Vec<ErrorObject>,
) -> BTreeMap<&'static str, Vec<String>> {
    let mut linkage = BTreeMap::new();
    for (name, member) in raw.into_iter().flatten() {
        let result = match schema.relationship(name) {
            Some(relationship) => read_linkage(relationship, member, store),
            None => Err(format!(
                "Unknown relationship '{name}' for {}. Relationships: {}.",
                schema.type_name(),
                schema.relationship_list()
            )),
        };
        match result {
            Ok((relationship, ids)) => {
                linkage.insert(relationship, ids);
            }
            Err(detail) => problems.push(ErrorObject {
                title: INVALID_RELATIONSHIP,
                detail,
                pointer: Some(format!("/data/relationships/{name}")),
            }),
        }
    }
    linkage
}

/// Reads the linkage of one relationship and checks that every target exists.
fn read_linkage(
    relationship: &'static RelationshipSchema,
    member: &Json,
    store: &Store,
) -> Result<(&'static str, Vec<String>), String> {
    let name = relationship.name;
    let target = relationship.target.type_name;
    let example = format!("{{\"type\": \"{target}\", \"id\": \"...\"}}");
    let Some(data) = member.as_object().and_then(|object| object.get("data")) else {
        return Err(format!(
            "Relationship '{name}' must be an object with a data member, as in {{\"data\": {}}}.",
            if relationship.to_many {
                format!("[{example}]")
            } else {
                example.clone()
            }
        ));
    };

    let identifiers: Vec<&Json> = match (relationship.to_many, data) {
        (false, Json::Null) => Vec::new(),
        (false, Json::Object(_)) => vec![data],
        (false, _) => {
            return Err(format!(
                "Relationship '{name}' is to-one; send one resource identifier {example} or null."
            ));
        }
        (true, Json::Array(items)) => items.iter().collect(),
        (true, _) => {
            return Err(format!(
                "Relationship '{name}' is to-many; send an array of resource identifiers \
                 [{example}], or [] to clear it."
            ));
        }
    };

    let target_schema = schema::by_type(target);
    let mut ids: Vec<String> = Vec::new();
    for (index, identifier) in identifiers.into_iter().enumerate() {
        let position = if relationship.to_many {
            format!("{name}.data[{index}]")
        } else {
            format!("{name}.data")
        };
        let sent_type = identifier.get("type").and_then(Json::as_str);
        let sent_id = identifier.get("id").and_then(Json::as_str);
        let (Some(sent_type), Some(sent_id)) = (sent_type, sent_id) else {
            return Err(format!(
                "{position} must be a resource identifier with string type and id, as in {example}."
            ));
        };
        if sent_type != target {
            return Err(format!(
                "{position} has type '{sent_type}', but '{name}' links to type '{target}'."
            ));
        }
        let exists =
            target_schema.is_some_and(|target_schema| store.get(target_schema, sent_id).is_some());
        if !exists {
            return Err(format!(
                "{position} links {target} record '{sent_id}', which does not exist. \
                 Create it first or link an existing record."
            ));
        }
        if !ids.iter().any(|id| id == sent_id) {
            ids.push(sent_id.to_string());
        }
    }
    Ok((name, ids))
}

/// Writes `changes` into `record`, derives the task completion time and stamps
/// `updated_at`.
fn apply(schema: &ResourceSchema, record: &mut Record, changes: Changes, now: DateTime<Utc>) {
    let was_completed = is_completed(record);
    for (name, value) in changes.attributes {
        record.attributes.insert(name, value);
    }
    for (name, ids) in changes.relationships {
        record.relationships.insert(name, ids);
    }

    if schema.type_name() == names::TASKS.type_name {
        let completed_at = match (was_completed, is_completed(record)) {
            (false, true) => Value::DateTime(now),
            (_, false) => Value::Null,
            (true, true) => record.attribute(names::task::COMPLETED_AT),
        };
        record
            .attributes
            .insert(names::task::COMPLETED_AT, completed_at);
    }
    record
        .attributes
        .insert(updated_at(schema), Value::DateTime(now));
}

fn is_completed(record: &Record) -> bool {
    record.attribute(names::task::STATUS) == Value::Text(names::task::STATUS_COMPLETED.to_string())
}

/// Rejects a note that ends before it starts. Only checked when the document sets one
/// of the two times, so that stored data never blocks an unrelated change.
fn check_time_order(
    schema: &ResourceSchema,
    record: &Record,
    raw_attributes: Option<&Map<String, Json>>,
    problems: &mut Vec<ErrorObject>,
) {
    use names::note::{ENDS_AT, OCCURRED_AT};

    if schema.type_name() != names::NOTES.type_name {
        return;
    }
    let sent = |name: &str| raw_attributes.is_some_and(|attributes| attributes.contains_key(name));
    if !sent(ENDS_AT) && !sent(OCCURRED_AT) {
        return;
    }
    let (Value::DateTime(starts), Value::DateTime(ends)) =
        (record.attribute(OCCURRED_AT), record.attribute(ENDS_AT))
    else {
        return;
    };
    if ends < starts {
        let pointer_name = if sent(ENDS_AT) { ENDS_AT } else { OCCURRED_AT };
        problems.push(ErrorObject {
            title: INVALID_ATTRIBUTE,
            detail: format!(
                "{ENDS_AT} ({}) is before {OCCURRED_AT} ({}). Send an end time at or after the start.",
                Value::DateTime(ends).render().unwrap_or_default(),
                Value::DateTime(starts).render().unwrap_or_default()
            ),
            pointer: Some(attribute_pointer(pointer_name)),
        });
    }
}

/// Reports required attributes that a create leaves out, and required attributes that
/// a create or update sets to null or blank text. A PATCH that leaves a required
/// attribute out keeps its stored value. Values that failed validation were reported
/// already and are skipped.
fn check_required(
    required: &[&'static str],
    raw_attributes: Option<&Map<String, Json>>,
    changes: &Changes,
    mode: Mode<'_>,
    problems: &mut Vec<ErrorObject>,
) {
    for name in required {
        let sent = raw_attributes.is_some_and(|attributes| attributes.contains_key(*name));
        let detail = match (sent, changes.attributes.get(name)) {
            (false, _) if matches!(mode, Mode::Create) => {
                format!(
                    "Attribute '{name}' is required for this tenant and is missing; send a non-blank value."
                )
            }
            (true, Some(value)) if is_blank(value) => {
                format!(
                    "Attribute '{name}' is required for this tenant and cannot be null or blank."
                )
            }
            _ => continue,
        };
        problems.push(ErrorObject {
            title: INVALID_ATTRIBUTE,
            detail,
            pointer: Some(attribute_pointer(name)),
        });
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Text(text) => text.trim().is_empty(),
        Value::Date(_) | Value::DateTime(_) => false,
    }
}

fn attribute_pointer(name: &str) -> String {
    format!("/data/attributes/{}", escape_pointer_token(name))
}

/// Escapes `~` and `/` in a JSON Pointer reference token (RFC 6901).
fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn created_at(schema: &ResourceSchema) -> &'static str {
    match schema.type_name() {
        type_name if type_name == names::NOTES.type_name => names::note::CREATED_AT,
        type_name if type_name == names::TASKS.type_name => names::task::CREATED_AT,
        _ => names::person::CREATED_AT,
    }
}

fn updated_at(schema: &ResourceSchema) -> &'static str {
    match schema.type_name() {
        type_name if type_name == names::NOTES.type_name => names::note::UPDATED_AT,
        type_name if type_name == names::TASKS.type_name => names::task::UPDATED_AT,
        _ => names::person::UPDATED_AT,
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::seed::Dataset;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn headers_with(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        headers
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn media_type_rules() {
        assert!(check_media_type(&headers_with(names::MEDIA_TYPE)).is_ok());
        assert!(check_media_type(&headers_with("application/VND.api+json ")).is_ok());
        assert!(check_media_type(&headers_with("application/vnd.api+json;")).is_ok());
        for rejected in [
            "application/json",
            "application/vnd.api+json; ext=bulk",
            "text/plain",
        ] {
            let error = check_media_type(&headers_with(rejected)).unwrap_err();
            assert_eq!(
                error.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{rejected}"
            );
        }
        let missing = check_media_type(&HeaderMap::new()).unwrap_err();
        assert_eq!(missing.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn pointer_escapes_slash_and_tilde() {
        let mut store = Store::default();
        let document = json!({"data": {"type": "people", "attributes": {
            "first_name": "A", "last_name": "B", "a/b~c": "x"
        }}});
        let error = create(&mut store, &schema::PEOPLE, &document, &[], now()).unwrap_err();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error.errors[0].pointer.as_deref(),
            Some("/data/attributes/a~1b~0c")
        );
        assert!(store.is_empty(&schema::PEOPLE));
    }

    #[test]
    fn create_stamps_server_fields() {
        let mut store = Store::default();
        let document = json!({"data": {"type": "people", "attributes": {"first_name": "A"}}});
        let record = create(&mut store, &schema::PEOPLE, &document, &[], now()).unwrap();
        assert_eq!(
            record.attribute(names::person::CREATED_AT),
            Value::DateTime(now())
        );
        assert_eq!(
            record.attribute(names::person::UPDATED_AT),
            Value::DateTime(now())
        );
        assert_eq!(store.get(&schema::PEOPLE, &record.id), Some(&record));
    }

    #[test]
    fn person_delete_cascades_to_own_records() {
        let data = Dataset::generate(7, 20);
        let mut store = Store::from_dataset(&data);
        let person = data
            .people
            .iter()
            .filter_map(|p| p.casebook.as_ref())
            .find(|p| !p.tasks.is_empty() && !p.notes.is_empty())
            .unwrap();
        let tasks_before = store.len(&schema::TASKS);
        let notes_before = store.len(&schema::NOTES);

        delete(&mut store, &schema::PEOPLE, &person.id).unwrap();
        assert_eq!(store.len(&schema::TASKS), tasks_before - person.tasks.len());
        assert_eq!(store.len(&schema::NOTES), notes_before - person.notes.len());
        let again = delete(&mut store, &schema::PEOPLE, &person.id).unwrap_err();
        assert_eq!(again.status, StatusCode::NOT_FOUND);
    }
}
