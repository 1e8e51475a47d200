//! Request handlers of the Casebook simulator's writes (POST, PATCH and DELETE) and of
//! the test-only state listing. The rules themselves live in [`super::write`].

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::SimState;
use super::document::{self, Origin};
use super::schema::{self, ResourceSchema};
use super::store::Record;
use super::write::{self, WriteError};
use crate::upstream::casebook::names;

/// `POST /<service>/<collection>`: creates a resource; 201 with the resource and a
/// `Location` header.
pub(super) async fn create_resource(
    state: SimState,
    schema: &'static ResourceSchema,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let document = match read_write_body(&headers, body) {
        Ok(document) => document,
        Err(error) => return write_error(schema, "create", None, error),
    };
    let origin = Origin::from_headers(&headers);

    let required = state.required(schema);
    let result = write::create(
        &mut state.write(),
        schema,
        &document,
        required,
        chrono::Utc::now(),
    );
    let record = match result {
        Ok(record) => record,
        Err(error) => return write_error(schema, "create", None, error),
    };
    tracing::debug!(
        resource_type = schema.type_name(),
        id = %record.id,
        "Casebook simulator created a resource"
    );

    let resource = document::resource_object(schema, &record, &HashMap::new(), &origin);
    let location = origin.url(&format!("{}/{}", schema.collection.path(), record.id));
    let mut response = document::response(
        StatusCode::CREATED,
        &json!({ "data": resource, "links": { "self": location } }),
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `PATCH /<service>/<collection>/{id}`: writes the sent members; 200 with the resource.
pub(super) async fn update_resource(
    state: SimState,
    schema: &'static ResourceSchema,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return invalid_path_id();
    };
    let document = match read_write_body(&headers, body) {
        Ok(document) => document,
        Err(error) => return write_error(schema, "update", Some(&id), error),
    };
    let origin = Origin::from_headers(&headers);

    let required = state.required(schema);
    let result = write::update(
        &mut state.write(),
        schema,
        &id,
        &document,
        required,
        chrono::Utc::now(),
    );
    let record = match result {
        Ok(record) => record,
        Err(error) => return write_error(schema, "update", Some(&id), error),
    };

    let resource = document::resource_object(schema, &record, &HashMap::new(), &origin);
    let self_link = origin.url(&format!("{}/{}", schema.collection.path(), record.id));
    document::response(
        StatusCode::OK,
        &json!({ "data": resource, "links": { "self": self_link } }),
    )
}

/// `DELETE /<service>/<collection>/{id}`: 204 with no body, or 404.
pub(super) async fn delete_resource(
    state: SimState,
    schema: &'static ResourceSchema,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = id else {
        return invalid_path_id();
    };
    let result = write::delete(&mut state.write(), schema, &id);
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => write_error(schema, "delete", Some(&id), error),
    }
}

/// Checks the media type of a write and parses its body as JSON.
fn read_write_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json, WriteError> {
    write::check_media_type(headers)?;
    let body = body.map_err(|rejection| {
        WriteError::new(
            rejection.status(),
            format!(
                "The request body could not be read: {}.",
                rejection.body_text()
            ),
            None,
        )
    })?;
    write::parse_body(&body)
}

/// Logs a rejected write and renders its error document.
fn write_error(
    schema: &ResourceSchema,
    action: &'static str,
    id: Option<&str>,
    error: WriteError,
) -> Response {
    let details: Vec<&str> = error
        .errors
        .iter()
        .map(|object| object.detail.as_str())
        .collect();
    tracing::debug!(
        resource_type = schema.type_name(),
        action,
        id,
        status = error.status.as_u16(),
        details = ?details,
        "Casebook simulator rejected a write"
    );
    document::errors_response(error.status, &error.errors)
}

fn invalid_path_id() -> Response {
    document::error_response(
        StatusCode::BAD_REQUEST,
        "The id in the path is not valid percent-encoded UTF-8.",
        None,
    )
}

/// `GET /_sim/state/people`: every person with the tasks and notes linked to them,
/// plus the tasks and notes linked to no stored person, as plain JSON.
///
/// Shape: `{"people": [{"person": <resource>, "tasks": [<resource>], "notes":
/// [<resource>]}], "unlinked_tasks": [...], "unlinked_notes": [...]}`. People are in id
/// order; a note that involves several people is listed under each of them.
pub(super) async fn state_of_people(State(state): State<SimState>, headers: HeaderMap) -> Response {
    let origin = Origin::from_headers(&headers);
    let no_fieldsets = HashMap::new();
    let render = |schema: &ResourceSchema, record: &Record| {
        document::resource_object(schema, record, &no_fieldsets, &origin)
    };

    let store = state.read();
    let links = |record: &Record, relationship: &str, person_id: &str| {
        record
            .related_ids(relationship)
            .iter()
            .any(|id| id == person_id)
    };
    let people: Vec<Json> = store
        .records(&schema::PEOPLE)
        .map(|person| {
            let tasks: Vec<Json> = store
                .records(&schema::TASKS)
                .filter(|task| links(task, names::task::PERSON, &person.id))
                .map(|task| render(&schema::TASKS, task))
                .collect();
            let notes: Vec<Json> = store
                .records(&schema::NOTES)
                .filter(|note| links(note, names::note::PEOPLE, &person.id))
                .map(|note| render(&schema::NOTES, note))
                .collect();
            json!({
                "person": render(&schema::PEOPLE, person),
                "tasks": tasks,
                "notes": notes,
            })
        })
        .collect();

    let unlinked = |schema: &ResourceSchema, relationship: &str| -> Vec<Json> {
        store
            .records(schema)
            .filter(|record| {
                !record
                    .related_ids(relationship)
                    .iter()
                    .any(|id| store.get(&schema::PEOPLE, id).is_some())
            })
            .map(|record| render(schema, record))
            .collect()
    };
    let body = json!({
        "people": people,
        "unlinked_tasks": unlinked(&schema::TASKS, names::task::PERSON),
        "unlinked_notes": unlinked(&schema::NOTES, names::note::PEOPLE),
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}
