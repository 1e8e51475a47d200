//! Route handlers that write contacts and their tags, and the unauthenticated state view
//! under `/_sim/state/`.
//!
//! Every handler checks the body first: 400 for text that is not a JSON object, 403 for a
//! `locationId` the token does not cover, 422 for invalid properties. Then it looks up the
//! contact and changes the store under one write lock.

use std::sync::Arc;

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde_json::{Value, json};

use super::{
    ApiError, GhlState, TokenLocation,
    body::BodyFields,
    contact_input::{ContactInput, ContactWrite, unique_tags},
    forbidden_location,
    store::{Contact, MatchingField, Store, now_millis},
};

/// A JSON reply with its status.
type Created = Result<(StatusCode, Json<Value>), ApiError>;

/// Looks up a contact of the token's location for a change, or returns the not-found or
/// 403 error.
pub(super) fn find_contact_mut<'a>(
    state: &GhlState,
    store: &'a mut Store,
    token: &TokenLocation,
    contact_id: &str,
) -> Result<&'a mut Contact, ApiError> {
    let contact = store
        .contact_mut(contact_id)
        .ok_or_else(|| state.not_found("Contact", contact_id))?;
    if contact.location_id != token.0 {
        return Err(forbidden_location());
    }
    Ok(contact)
}

/// Builds the duplicate-contact 400 naming `existing`.
fn duplicate_error(existing: &Contact, matching_field: MatchingField) -> ApiError {
    let name = existing.full_name();
    ApiError::Duplicate {
        contact_id: existing.id.clone(),
        contact_name: (!name.is_empty()).then_some(name),
        matching_field,
    }
}

/// Returns the duplicate-contact error when the location forbids duplicates and the
/// e-mail or phone of `input` belongs to another contact than `except`.
fn check_duplicate(
    state: &GhlState,
    store: &Store,
    location_id: &str,
    input: &ContactInput,
    except: Option<&str>,
) -> Result<(), ApiError> {
    if state.allow_duplicate_contacts {
        return Ok(());
    }
    match store.find_match(location_id, input.email(), input.phone(), except) {
        Some((existing, field)) => Err(duplicate_error(existing, field)),
        None => Ok(()),
    }
}

/// `POST /contacts/` → 201 `{contact}` in the create shape (`CreateContactSchema`).
///
/// When the location forbids duplicates, an e-mail or phone that matches an existing
/// contact is a 400 whose `meta` names that contact. The e-mail is compared first.
pub(super) async fn create_contact(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    body: Bytes,
) -> Created {
    let mut fields = BodyFields::parse(&body, &ContactWrite::Create.allowed_properties())?;
    fields.location_id(&token)?;
    let input = ContactInput::read(&mut fields, ContactWrite::Create);
    fields.finish()?;

    let mut store = state.store_mut();
    check_duplicate(&state, &store, &token.0, &input, None)?;
    let id = store.new_id();
    let contact = input.into_new_contact(id, &token.0, now_millis());
    let reply = json!({ "contact": contact.to_created_json() });
    tracing::debug!(contact_id = %contact.id, "GHL simulator created a contact");
    store.insert(contact);
    Ok((StatusCode::CREATED, Json(reply)))
}

/// `PUT /contacts/{contactId}` → 200 `{succeded, contact}` (GHL's spelling). The body may
/// not carry `locationId`, because the contact implies the location.
pub(super) async fn update_contact(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Created {
    let mut fields = BodyFields::parse(&body, &ContactWrite::Update.allowed_properties())?;
    let input = ContactInput::read(&mut fields, ContactWrite::Update);
    fields.finish()?;

    let mut store = state.store_mut();
    find_contact_mut(&state, &mut store, &token, &contact_id)?;
    check_duplicate(&state, &store, &token.0, &input, Some(&contact_id))?;
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    input.apply_to(contact, now_millis());
    let reply = json!({ "succeded": true, "contact": contact.to_detail_json() });
    Ok((StatusCode::OK, Json(reply)))
}

/// `DELETE /contacts/{contactId}` → 200 `{succeded}`. The contact's tasks, notes and
/// appointments are removed with it.
pub(super) async fn delete_contact(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
) -> Created {
    let mut store = state.store_mut();
    find_contact_mut(&state, &mut store, &token, &contact_id)?;
    store.remove(&contact_id);
    tracing::debug!(contact_id, "GHL simulator deleted a contact");
    Ok((StatusCode::OK, Json(json!({ "succeded": true }))))
}

/// `POST /contacts/upsert` → 200 `{new, contact, traceId}`, also for a new contact.
///
/// The contact with the same e-mail is updated, else the one with the same phone, else a
/// new contact is created. Properties the body leaves out keep their stored values. With
/// `createNewIfDuplicateAllowed: true` on a location that allows duplicates, no matching
/// is done and a new contact is always created.
pub(super) async fn upsert_contact(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    body: Bytes,
) -> Created {
    let mut fields = BodyFields::parse(&body, &ContactWrite::Upsert.allowed_properties())?;
    fields.location_id(&token)?;
    let input = ContactInput::read(&mut fields, ContactWrite::Upsert);
    fields.finish()?;

    let mut store = state.store_mut();
    let skip_matching = input.create_new_if_duplicate_allowed && state.allow_duplicate_contacts;
    let matched = if skip_matching {
        None
    } else {
        store
            .find_match(&token.0, input.email(), input.phone(), None)
            .map(|(contact, _)| contact.id.clone())
    };

    // NOTE: the matched contact takes the body's e-mail and phone even when another
    // contact has the same phone. Live GHL's behaviour in that case is not documented.
    let now = now_millis();
    let (is_new, detail) = match matched.and_then(|id| store.contact_mut(&id)) {
        Some(contact) => {
            input.apply_to(contact, now);
            (false, contact.to_detail_json())
        }
        None => {
            let id = store.new_id();
            let contact = input.into_new_contact(id, &token.0, now);
            let detail = contact.to_detail_json();
            store.insert(contact);
            (true, detail)
        }
    };
    let reply = json!({
        "new": is_new,
        "contact": detail,
        "traceId": uuid::Uuid::new_v4().to_string(),
    });
    Ok((StatusCode::OK, Json(reply)))
}

/// Reads the `{tags}` body of the tag routes.
fn read_tags(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let mut fields = BodyFields::parse(body, &["tags"])?;
    let tags = fields.required_string_list("tags");
    fields.finish()?;
    Ok(unique_tags(tags.unwrap_or_default()))
}

/// `POST /contacts/{contactId}/tags` `{tags}` → 201 `{tags}`: the contact's tags after
/// adding those it lacked (compared case-insensitively).
pub(super) async fn add_tags(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Created {
    let tags = read_tags(&body)?;
    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let mut combined = contact.tags.clone();
    combined.extend(tags);
    contact.tags = unique_tags(combined);
    contact.date_updated = now_millis();
    Ok((StatusCode::CREATED, Json(json!({ "tags": contact.tags }))))
}

/// `DELETE /contacts/{contactId}/tags` with a `{tags}` body → 200 `{tags}`: the
/// contact's tags after removing those named (compared case-insensitively).
pub(super) async fn remove_tags(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Created {
    let tags = read_tags(&body)?;
    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    contact.tags.retain(|kept| {
        !tags
            .iter()
            .any(|removed| removed.eq_ignore_ascii_case(kept))
    });
    contact.date_updated = now_millis();
    Ok((StatusCode::OK, Json(json!({ "tags": contact.tags }))))
}

/// `GET /_sim/state/contacts[?locationId=…]` → `{contacts, total}`: every stored contact,
/// ordered by `dateAdded`, with its `tasks`, `notes` and `appointments`. Needs no
/// credentials and is not counted in the stats.
pub(super) async fn state_contacts(
    State(state): State<Arc<GhlState>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Json<Value> {
    let location = params
        .iter()
        .find(|(key, _)| key == "locationId")
        .map(|(_, value)| value.as_str());
    let store = state.store();
    let contacts: Vec<Value> = store
        .all_contacts()
        .into_iter()
        .filter(|contact| location.is_none_or(|wanted| contact.location_id == wanted))
        .map(Contact::to_state_json)
        .collect();
    let total = contacts.len();
    Json(json!({ "contacts": contacts, "total": total }))
}
