//! Route handlers of the GHL simulator's read endpoints.
//!
//! Every handler runs after [`super::authenticate`], so the request carries the
//! [`TokenLocation`] of its token. Query strings are validated like GHL's request DTOs:
//! an unknown parameter is a 422 `property <name> should not exist`.

use std::sync::Arc;

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
};
use serde_json::{Value, json};

use super::{
    ApiError, GhlState, TokenLocation, forbidden_location, parse_json_body,
    search::{self},
    store::{Contact, Store, normalize_phone},
};

type Reply = Result<Json<Value>, ApiError>;

/// Default and maximum `limit` of the deprecated `GET /contacts/`.
const LIST_DEFAULT_LIMIT: u64 = 20;
const LIST_MAX_LIMIT: u64 = 100;
/// Default `limit` of `GET /contacts/business/{businessId}`.
const BUSINESS_DEFAULT_LIMIT: u64 = 25;

/// Query parameters in the order they were sent.
struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// One `property X should not exist` message per parameter outside `allowed`.
    fn unknown(&self, allowed: &[&str]) -> Vec<String> {
        let mut messages: Vec<String> = Vec::new();
        for (key, _) in &self.0 {
            let message = format!("property {key} should not exist");
            if !allowed.contains(&key.as_str()) && !messages.contains(&message) {
                messages.push(message);
            }
        }
        messages
    }

    /// Checks the required `locationId` against the token's location. A missing value adds
    /// messages to `errors`, and another location is a 403.
    fn location_id(&self, token: &TokenLocation, errors: &mut Vec<String>) -> Result<(), ApiError> {
        match self.get("locationId") {
            Some(id) if !id.is_empty() => {
                if id == token.0 {
                    Ok(())
                } else {
                    Err(forbidden_location())
                }
            }
            _ => {
                errors.push("locationId should not be empty".to_string());
                errors.push("locationId must be a string".to_string());
                Ok(())
            }
        }
    }
}

/// Reads an integer query parameter within `min..=max`, or `default` when it is absent.
fn integer_param(
    params: &QueryParams,
    name: &str,
    default: u64,
    min: u64,
    max: Option<u64>,
    errors: &mut Vec<String>,
) -> u64 {
    let Some(text) = params.get(name) else {
        return default;
    };
    match text.trim().parse::<u64>() {
        Ok(value) if value < min => {
            errors.push(format!("{name} must not be less than {min}"));
            default
        }
        Ok(value) if max.is_some_and(|max| value > max) => {
            errors.push(format!(
                "{name} must not be greater than {}",
                max.unwrap_or(value)
            ));
            default
        }
        Ok(value) => value,
        Err(_) => {
            errors.push(format!(
                "{name} must be a number conforming to the specified constraints, got {text:?}"
            ));
            default
        }
    }
}

/// Looks up a contact of the token's location, or returns the not-found or 403 error.
fn find_contact<'a>(
    state: &GhlState,
    store: &'a Store,
    token: &TokenLocation,
    contact_id: &str,
) -> Result<&'a Contact, ApiError> {
    let contact = store
        .contact(contact_id)
        .ok_or_else(|| state.not_found("Contact", contact_id))?;
    if contact.location_id != token.0 {
        return Err(forbidden_location());
    }
    Ok(contact)
}

fn json_ok(body: Value) -> Reply {
    Ok(Json(body))
}

/// `GET /contacts/{contactId}` → `{contact}`.
pub(super) async fn get_contact(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
) -> Reply {
    let store = state.store();
    let contact = find_contact(&state, &store, &token, &contact_id)?;
    json_ok(json!({ "contact": contact.to_detail_json() }))
}

/// `POST /contacts/search` → `{contacts, total}`.
pub(super) async fn search_contacts(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    body: Bytes,
) -> Reply {
    let body = parse_json_body(&body)?;
    let Value::Object(body) = body else {
        return Err(ApiError::Message {
            status: StatusCode::BAD_REQUEST,
            message: "The request body must be a JSON object, \
                      e.g. {\"locationId\": \"...\", \"pageLimit\": 20}"
                .to_string(),
        });
    };
    // GHL's guards check the location before the body is validated.
    if let Some(Value::String(location)) = body.get("locationId")
        && !location.is_empty()
        && *location != token.0
    {
        return Err(forbidden_location());
    }
    let request = search::parse_request(&body).map_err(ApiError::Unprocessable)?;
    let store = state.store();
    json_ok(search::execute(
        &request,
        store.contacts_in(&request.location_id),
    ))
}

/// `GET /contacts/` (deprecated) → `{contacts, count, meta}` with a keyset cursor of
/// `startAfter` (epoch ms of `dateAdded`) and `startAfterId`.
pub(super) async fn list_contacts(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Reply {
    let params = QueryParams(params);
    let mut errors =
        params.unknown(&["locationId", "startAfterId", "startAfter", "query", "limit"]);
    params.location_id(&token, &mut errors)?;
    let limit = integer_param(
        &params,
        "limit",
        LIST_DEFAULT_LIMIT,
        1,
        Some(LIST_MAX_LIMIT),
        &mut errors,
    );
    let start_after = match params.get("startAfter") {
        None => None,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(millis) => Some(millis),
            Err(_) => {
                errors.push(format!(
                    "startAfter must be a number conforming to the specified constraints, \
                     got {text:?}; pass the dateAdded of the last contact in epoch milliseconds"
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Unprocessable(errors));
    }

    let store = state.store();
    let query = params.get("query").unwrap_or_default();
    let contacts: Vec<&Contact> = store
        .contacts_in(&token.0)
        .into_iter()
        .filter(|contact| contact.matches_query(query))
        .collect();

    let start_after_id = params.get("startAfterId").filter(|id| !id.is_empty());
    let cursor: Option<(i64, Option<&str>)> = match (start_after, start_after_id) {
        (Some(millis), id) => Some((millis, id)),
        (None, Some(id)) => {
            let Some(anchor) = store.contact(id).filter(|c| c.location_id == token.0) else {
                return Err(ApiError::Unprocessable(vec![format!(
                    "startAfterId {id:?} is not a contact of this location; \
                     pass the id of the last contact of the previous page"
                )]));
            };
            Some((anchor.date_added.timestamp_millis(), Some(id)))
        }
        (None, None) => None,
    };
    let start = match cursor {
        None => 0,
        Some((millis, id)) => contacts
            .iter()
            .position(|contact| {
                let own = contact.date_added.timestamp_millis();
                match id {
                    Some(id) => (own, contact.id.as_str()) > (millis, id),
                    None => own > millis,
                }
            })
            .unwrap_or(contacts.len()),
    };

    let limit = limit as usize;
    let page: Vec<&Contact> = contacts.iter().skip(start).take(limit).copied().collect();
    let total = contacts.len();
    let has_more = start + page.len() < total;
    let current_page = start / limit + 1;
    let last = page.last();

    let next_page_url = match (has_more, last) {
        (true, Some(last)) => {
            let mut query_string = url::form_urlencoded::Serializer::new(String::new());
            query_string.append_pair("locationId", &token.0);
            query_string.append_pair(
                "startAfter",
                &last.date_added.timestamp_millis().to_string(),
            );
            query_string.append_pair("startAfterId", &last.id);
            if let Some(limit) = params.get("limit") {
                query_string.append_pair("limit", limit);
            }
            if !query.is_empty() {
                query_string.append_pair("query", query);
            }
            let host = headers
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
                .unwrap_or("localhost");
            json!(format!("http://{host}/contacts/?{}", query_string.finish()))
        }
        _ => Value::Null,
    };

    let rows: Vec<Value> = page
        .iter()
        .map(|contact| contact.to_list_row_json())
        .collect();
    json_ok(json!({
        "contacts": rows,
        "count": total,
        "meta": {
            "total": total,
            "nextPageUrl": next_page_url,
            "startAfterId": last.map(|c| c.id.clone()),
            "startAfter": last.map(|c| c.date_added.timestamp_millis()),
            "currentPage": current_page,
            "nextPage": has_more.then_some(current_page + 1),
            "prevPage": (current_page > 1).then(|| current_page - 1),
        },
    }))
}

/// `GET /contacts/search/duplicate?locationId&email&number` → `{contact}`, with `contact`
/// null when nothing matches. A match on e-mail wins over a match on phone.
pub(super) async fn find_duplicate(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Query(params): Query<Vec<(String, String)>>,
) -> Reply {
    let params = QueryParams(params);
    let mut errors = params.unknown(&["locationId", "email", "number"]);
    params.location_id(&token, &mut errors)?;
    let email = params
        .get("email")
        .map(str::trim)
        .filter(|email| !email.is_empty());
    let number = params
        .get("number")
        .map(str::trim)
        .filter(|number| !number.is_empty());
    if email.is_none() && number.is_none() {
        errors.push(
            "email or number should not be empty: pass the e-mail, the phone number, or both"
                .to_string(),
        );
    }
    let wanted_phone = number.and_then(normalize_phone);
    if number.is_some() && wanted_phone.is_none() {
        errors.push(format!(
            "number {:?} is not a phone number; pass it in E.164, e.g. +14231645160",
            number.unwrap_or_default()
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Unprocessable(errors));
    }

    let store = state.store();
    let contacts = store.contacts_in(&token.0);
    let by_email = email.and_then(|email| {
        contacts.iter().find(|contact| {
            contact
                .email
                .as_deref()
                .is_some_and(|own| own.eq_ignore_ascii_case(email))
        })
    });
    // Stored phones are already E.164, so only the requested number needs normalising.
    let by_phone = wanted_phone.and_then(|wanted| {
        contacts
            .iter()
            .find(|contact| contact.phone.as_deref() == Some(wanted.as_str()))
    });
    let contact = by_email
        .or(by_phone)
        .map(|contact| contact.to_detail_json());
    json_ok(json!({ "contact": contact }))
}

/// `GET /contacts/business/{businessId}?locationId&limit&skip&query` → `{contacts, count}`.
/// `limit` and `skip` arrive as strings.
pub(super) async fn business_contacts(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(business_id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Reply {
    let params = QueryParams(params);
    let mut errors = params.unknown(&["locationId", "limit", "skip", "query"]);
    params.location_id(&token, &mut errors)?;
    let limit = integer_param(
        &params,
        "limit",
        BUSINESS_DEFAULT_LIMIT,
        1,
        None,
        &mut errors,
    );
    let skip = integer_param(&params, "skip", 0, 0, None, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Unprocessable(errors));
    }

    let store = state.store();
    let query = params.get("query").unwrap_or_default();
    let contacts: Vec<&Contact> = store
        .contacts_in(&token.0)
        .into_iter()
        .filter(|contact| contact.business_id.as_deref() == Some(business_id.as_str()))
        .filter(|contact| contact.matches_query(query))
        .collect();
    let rows: Vec<Value> = contacts
        .iter()
        .skip(skip as usize)
        .take(limit as usize)
        .map(|contact| contact.to_list_row_json())
        .collect();
    json_ok(json!({ "contacts": rows, "count": contacts.len() }))
}

/// `GET /contacts/{contactId}/tasks` → `{tasks}`.
pub(super) async fn list_tasks(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
) -> Reply {
    let store = state.store();
    let contact = find_contact(&state, &store, &token, &contact_id)?;
    let tasks: Vec<Value> = contact
        .tasks
        .iter()
        .map(|task| task.to_json(&contact.id))
        .collect();
    json_ok(json!({ "tasks": tasks }))
}

/// `GET /contacts/{contactId}/tasks/{taskId}` → `{task}`.
pub(super) async fn get_task(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path((contact_id, task_id)): Path<(String, String)>,
) -> Reply {
    let store = state.store();
    let contact = find_contact(&state, &store, &token, &contact_id)?;
    let task = contact
        .tasks
        .iter()
        .find(|task| task.id == task_id)
        .ok_or_else(|| state.not_found("Task", &task_id))?;
    json_ok(json!({ "task": task.to_json(&contact.id) }))
}

/// `GET /contacts/{contactId}/notes` → `{notes}`.
pub(super) async fn list_notes(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
) -> Reply {
    let store = state.store();
    let contact = find_contact(&state, &store, &token, &contact_id)?;
    let notes: Vec<Value> = contact
        .notes
        .iter()
        .map(|note| note.to_json(&contact.id))
        .collect();
    json_ok(json!({ "notes": notes }))
}

/// `GET /contacts/{contactId}/notes/{id}` → `{note}`.
pub(super) async fn get_note(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path((contact_id, note_id)): Path<(String, String)>,
) -> Reply {
    let store = state.store();
    let contact = find_contact(&state, &store, &token, &contact_id)?;
    let note = contact
        .notes
        .iter()
        .find(|note| note.id == note_id)
        .ok_or_else(|| state.not_found("Note", &note_id))?;
    json_ok(json!({ "note": note.to_json(&contact.id) }))
}

/// `GET /contacts/{contactId}/appointments` → `{events}`, ordered by start time.
pub(super) async fn contact_appointments(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
) -> Reply {
    let store = state.store();
    let contact = find_contact(&state, &store, &token, &contact_id)?;
    let mut appointments: Vec<_> = contact.appointments.iter().collect();
    appointments.sort_by_key(|appointment| appointment.start_time);
    let events: Vec<Value> = appointments
        .iter()
        .map(|appointment| appointment.to_contact_event_json(contact))
        .collect();
    json_ok(json!({ "events": events }))
}

/// `GET /calendars/events/appointments/{eventId}` → `{event}`.
pub(super) async fn get_calendar_event(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(event_id): Path<String>,
) -> Reply {
    let store = state.store();
    let (contact, appointment) = store
        .appointment(&event_id)
        .ok_or_else(|| state.not_found("Event", &event_id))?;
    if contact.location_id != token.0 {
        return Err(forbidden_location());
    }
    json_ok(json!({ "event": appointment.to_calendar_event_json(contact) }))
}
