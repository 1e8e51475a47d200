//! Route handlers that write a contact's tasks and notes, and calendar appointments.
//!
//! Task and note routes hang below `/contacts/{contactId}` and respond in the contacts
//! family's envelopes (`{task}`, `{note}`, `{succeded}`). Appointment routes live under
//! `/calendars/events` and respond with a flat object on create and edit, and with a 201
//! `{succeeded}` on delete.

use std::sync::Arc;

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{
    ApiError, GhlState, SIM_USER_ID, TokenLocation,
    body::BodyFields,
    contact_writes::find_contact_mut,
    forbidden_location,
    store::{Appointment, Contact, Note, Task, now_millis},
};
use crate::sim::seed;

/// A JSON reply with its status.
type Created = Result<(StatusCode, Json<Value>), ApiError>;

const TASK_PROPERTIES: [&str; 5] = ["title", "body", "dueDate", "completed", "assignedTo"];
const NOTE_PROPERTIES: [&str; 5] = ["userId", "body", "title", "color", "pinned"];
/// Properties of the appointment edit body; create adds `locationId` and `contactId`.
const APPOINTMENT_EDIT_PROPERTIES: [&str; 15] = [
    "title",
    "meetingLocationType",
    "meetingLocationId",
    "overrideLocationConfig",
    "appointmentStatus",
    "assignedUserId",
    "description",
    "address",
    "ignoreDateRange",
    "toNotify",
    "ignoreFreeSlotValidation",
    "rrule",
    "calendarId",
    "startTime",
    "endTime",
];
const APPOINTMENT_STATUSES: [&str; 6] = [
    "new",
    "confirmed",
    "cancelled",
    "showed",
    "noshow",
    "invalid",
];
const MEETING_LOCATION_TYPES: [&str; 7] = [
    "custom", "zoom", "gmeet", "phone", "address", "ms_teams", "google",
];
/// Length of an appointment created without `endTime`.
// NOTE: live GHL takes the length from the calendar's slot settings, which the simulator
// does not model; 30 minutes is the simulator's fixed choice.
const DEFAULT_APPOINTMENT_LENGTH: Duration = Duration::minutes(30);

// ---------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------

/// The checked fields of a task body; `None` leaves a stored value unchanged.
struct TaskFields {
    title: Option<String>,
    body: Option<String>,
    due_date: Option<DateTime<Utc>>,
    completed: Option<bool>,
    assigned_to: Option<String>,
}

/// Reads a task body. On create, `title`, `dueDate` and `completed` are required.
fn read_task(body: &[u8], create: bool) -> Result<TaskFields, ApiError> {
    let mut fields = BodyFields::parse(body, &TASK_PROPERTIES)?;
    let task = if create {
        TaskFields {
            title: fields.required_string("title"),
            body: fields.string("body", false).value().cloned(),
            due_date: fields.required_time("dueDate"),
            completed: fields.required_boolean("completed"),
            assigned_to: fields.non_empty_string("assignedTo"),
        }
    } else {
        TaskFields {
            title: fields.non_empty_string("title"),
            body: fields.string("body", false).value().cloned(),
            due_date: fields.time("dueDate"),
            completed: fields.boolean("completed"),
            assigned_to: fields.non_empty_string("assignedTo"),
        }
    };
    fields.finish()?;
    Ok(task)
}

fn find_task_mut<'a>(
    state: &GhlState,
    contact: &'a mut Contact,
    task_id: &str,
) -> Result<&'a mut Task, ApiError> {
    contact
        .tasks
        .iter_mut()
        .find(|task| task.id == task_id)
        .ok_or_else(|| state.not_found("Task", task_id))
}

/// `POST /contacts/{contactId}/tasks` → 201 `{task}`.
pub(super) async fn create_task(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Created {
    let fields = read_task(&body, true)?;
    let mut store = state.store_mut();
    find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let id = store.new_id();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let task = Task {
        id,
        title: fields.title.unwrap_or_default(),
        body: fields.body.unwrap_or_default(),
        assigned_to: fields.assigned_to,
        due_date: fields.due_date.unwrap_or_else(now_millis),
        completed: fields.completed.unwrap_or(false),
    };
    let reply = json!({ "task": task.to_json(&contact.id) });
    contact.tasks.push(task);
    Ok((StatusCode::CREATED, Json(reply)))
}

/// `PUT /contacts/{contactId}/tasks/{taskId}` → 200 `{task}`; every property is optional.
pub(super) async fn update_task(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path((contact_id, task_id)): Path<(String, String)>,
    body: Bytes,
) -> Created {
    let fields = read_task(&body, false)?;
    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let task = find_task_mut(&state, contact, &task_id)?;
    if let Some(title) = fields.title {
        task.title = title;
    }
    if let Some(text) = fields.body {
        task.body = text;
    }
    if let Some(due_date) = fields.due_date {
        task.due_date = due_date;
    }
    if let Some(completed) = fields.completed {
        task.completed = completed;
    }
    if let Some(user) = fields.assigned_to {
        task.assigned_to = Some(user);
    }
    let reply = json!({ "task": task.to_json(&contact_id) });
    Ok((StatusCode::OK, Json(reply)))
}

/// `PUT /contacts/{contactId}/tasks/{taskId}/completed` `{completed}` → 200 `{task}`.
pub(super) async fn complete_task(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path((contact_id, task_id)): Path<(String, String)>,
    body: Bytes,
) -> Created {
    let mut fields = BodyFields::parse(&body, &["completed"])?;
    let completed = fields.required_boolean("completed");
    fields.finish()?;

    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let task = find_task_mut(&state, contact, &task_id)?;
    task.completed = completed.unwrap_or(task.completed);
    let reply = json!({ "task": task.to_json(&contact_id) });
    Ok((StatusCode::OK, Json(reply)))
}

/// `DELETE /contacts/{contactId}/tasks/{taskId}` → 200 `{succeded}`.
pub(super) async fn delete_task(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path((contact_id, task_id)): Path<(String, String)>,
) -> Created {
    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    find_task_mut(&state, contact, &task_id)?;
    contact.tasks.retain(|task| task.id != task_id);
    Ok((StatusCode::OK, Json(json!({ "succeded": true }))))
}

// ---------------------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------------------

/// The checked fields of a note body; `None` leaves a stored value unchanged.
struct NoteFields {
    body: Option<String>,
    user_id: Option<String>,
    title: Option<String>,
    color: Option<String>,
    pinned: Option<bool>,
}

/// Reads a note body. On create, `body` is required.
fn read_note(body: &[u8], create: bool) -> Result<NoteFields, ApiError> {
    let mut fields = BodyFields::parse(body, &NOTE_PROPERTIES)?;
    let note = NoteFields {
        body: if create {
            fields.required_string("body")
        } else {
            fields.non_empty_string("body")
        },
        user_id: fields.non_empty_string("userId"),
        title: fields.string("title", false).value().cloned(),
        color: fields.string("color", false).value().cloned(),
        pinned: fields.boolean("pinned"),
    };
    fields.finish()?;
    Ok(note)
}

/// `POST /contacts/{contactId}/notes` → 201 `{note}`.
pub(super) async fn create_note(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Created {
    let fields = read_note(&body, true)?;
    let mut store = state.store_mut();
    find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let id = store.new_id();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let note = Note {
        id,
        body: fields.body.unwrap_or_default(),
        user_id: fields.user_id,
        title: fields.title,
        color: fields.color,
        pinned: fields.pinned,
        date_added: now_millis(),
    };
    let reply = json!({ "note": note.to_json(&contact.id) });
    contact.notes.push(note);
    Ok((StatusCode::CREATED, Json(reply)))
}

/// `PUT /contacts/{contactId}/notes/{id}` → 200 `{note}`; every property is optional.
pub(super) async fn update_note(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path((contact_id, note_id)): Path<(String, String)>,
    body: Bytes,
) -> Created {
    let fields = read_note(&body, false)?;
    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let note = contact
        .notes
        .iter_mut()
        .find(|note| note.id == note_id)
        .ok_or_else(|| state.not_found("Note", &note_id))?;
    if let Some(text) = fields.body {
        note.body = text;
    }
    if let Some(user) = fields.user_id {
        note.user_id = Some(user);
    }
    if let Some(title) = fields.title {
        note.title = Some(title);
    }
    if let Some(color) = fields.color {
        note.color = Some(color);
    }
    if let Some(pinned) = fields.pinned {
        note.pinned = Some(pinned);
    }
    let reply = json!({ "note": note.to_json(&contact_id) });
    Ok((StatusCode::OK, Json(reply)))
}

/// `DELETE /contacts/{contactId}/notes/{id}` → 200 `{succeded}`.
pub(super) async fn delete_note(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path((contact_id, note_id)): Path<(String, String)>,
) -> Created {
    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    if !contact.notes.iter().any(|note| note.id == note_id) {
        return Err(state.not_found("Note", &note_id));
    }
    contact.notes.retain(|note| note.id != note_id);
    Ok((StatusCode::OK, Json(json!({ "succeded": true }))))
}

// ---------------------------------------------------------------------------------------
// Appointments
// ---------------------------------------------------------------------------------------

/// The checked fields of an appointment body; `None` leaves a stored value unchanged.
struct AppointmentFields {
    calendar_id: Option<String>,
    /// Create only.
    contact_id: Option<String>,
    start_time: Option<DateTime<Utc>>,
    end_time: Option<DateTime<Utc>>,
    title: Option<String>,
    appointment_status: Option<String>,
    assigned_user_id: Option<String>,
    description: Option<String>,
    address: Option<String>,
    meeting_location_type: Option<String>,
    /// Kept only when `ignoreFreeSlotValidation` is true, as GHL honours it only then.
    rrule: Option<String>,
}

/// Reads an appointment body. Create requires `calendarId`, `locationId`, `contactId`
/// and `startTime`; edit accepts neither `locationId` nor `contactId`.
fn read_appointment(
    body: &[u8],
    token: &TokenLocation,
    create: bool,
) -> Result<AppointmentFields, ApiError> {
    let mut allowed = APPOINTMENT_EDIT_PROPERTIES.to_vec();
    if create {
        allowed.extend(["locationId", "contactId"]);
    }
    let mut fields = BodyFields::parse(body, &allowed)?;
    if create {
        fields.location_id(token)?;
    }

    let (calendar_id, contact_id, start_time) = if create {
        (
            fields.required_string("calendarId"),
            fields.required_string("contactId"),
            fields.required_time("startTime"),
        )
    } else {
        (
            fields.non_empty_string("calendarId"),
            None,
            fields.time("startTime"),
        )
    };
    let end_time = fields.time("endTime");
    if let (Some(start), Some(end)) = (start_time, end_time)
        && end <= start
    {
        fields.error(format!(
            "endTime must be after startTime, got startTime {} and endTime {}",
            start.to_rfc3339(),
            end.to_rfc3339()
        ));
    }
    // These are accepted and checked but change nothing the simulator stores.
    fields.non_empty_string("meetingLocationId");
    for flag in [
        "overrideLocationConfig",
        "ignoreDateRange",
        "toNotify",
        "ignoreFreeSlotValidation",
    ] {
        fields.boolean(flag);
    }
    let honour_rrule = fields.raw("ignoreFreeSlotValidation") == Some(&Value::Bool(true));
    let rrule = fields.non_empty_string("rrule").filter(|_| honour_rrule);

    let appointment = AppointmentFields {
        calendar_id,
        contact_id,
        start_time,
        end_time,
        title: fields.string("title", false).value().cloned(),
        appointment_status: fields.one_of("appointmentStatus", &APPOINTMENT_STATUSES),
        assigned_user_id: fields.non_empty_string("assignedUserId"),
        description: fields.string("description", false).value().cloned(),
        address: fields.string("address", false).value().cloned(),
        meeting_location_type: fields.one_of("meetingLocationType", &MEETING_LOCATION_TYPES),
        rrule,
    };
    fields.finish()?;
    Ok(appointment)
}

/// Checks that `calendar_id` names one of the simulator's calendars.
fn check_calendar(state: &GhlState, calendar_id: &str) -> Result<(), ApiError> {
    if seed::GHL_CALENDAR_IDS.contains(&calendar_id) {
        Ok(())
    } else {
        Err(state.not_found("Calendar", calendar_id))
    }
}

/// `POST /calendars/events/appointments` → 200 with the flat appointment object.
///
/// Free slots are not modelled, so every time is accepted.
// NOTE: without `endTime` the appointment lasts 30 minutes, without `title` it is named
// after the contact, and without `appointmentStatus` it is `confirmed`. Live GHL takes
// these from the calendar's settings, which the simulator does not model.
pub(super) async fn create_appointment(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    body: Bytes,
) -> Created {
    let fields = read_appointment(&body, &token, true)?;
    let calendar_id = fields.calendar_id.unwrap_or_default();
    let contact_id = fields.contact_id.unwrap_or_default();
    check_calendar(&state, &calendar_id)?;

    let mut store = state.store_mut();
    find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let id = store.new_id();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)?;
    let now = now_millis();
    let start_time = fields.start_time.unwrap_or(now);
    let meeting_location_type = match (&fields.meeting_location_type, &fields.address) {
        (Some(kind), _) => kind.clone(),
        (None, Some(_)) => "custom".to_string(),
        (None, None) => "default".to_string(),
    };
    let title = fields.title.unwrap_or_else(|| match contact.full_name() {
        name if name.is_empty() => "Appointment".to_string(),
        name => name,
    });
    let appointment = Appointment {
        id,
        calendar_id,
        title,
        appointment_status: fields
            .appointment_status
            .unwrap_or_else(|| "confirmed".to_string()),
        assigned_user_id: fields
            .assigned_user_id
            .unwrap_or_else(|| SIM_USER_ID.to_string()),
        notes: String::new(),
        description: fields.description,
        address: fields.address.unwrap_or_default(),
        meeting_location_type,
        rrule: fields.rrule,
        start_time,
        end_time: fields
            .end_time
            .unwrap_or(start_time + DEFAULT_APPOINTMENT_LENGTH),
        date_added: now,
        date_updated: now,
    };
    let reply = appointment.to_flat_json(contact);
    contact.appointments.push(appointment);
    Ok((StatusCode::OK, Json(reply)))
}

/// Finds the contact that owns appointment `event_id` and checks its location.
fn appointment_owner(
    state: &GhlState,
    token: &TokenLocation,
    event_id: &str,
) -> Result<String, ApiError> {
    let store = state.store();
    let (contact, _) = store
        .appointment(event_id)
        .ok_or_else(|| state.not_found("Event", event_id))?;
    if contact.location_id != token.0 {
        return Err(forbidden_location());
    }
    Ok(contact.id.clone())
}

/// `PUT /calendars/events/appointments/{eventId}` → 200 with the flat appointment
/// object. The body may carry neither `locationId` nor `contactId`.
// NOTE: a new `startTime` without `endTime` keeps the appointment's length; live GHL's
// rule for this case is not documented.
pub(super) async fn update_appointment(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(event_id): Path<String>,
    body: Bytes,
) -> Created {
    let fields = read_appointment(&body, &token, false)?;
    if let Some(calendar_id) = &fields.calendar_id {
        check_calendar(&state, calendar_id)?;
    }
    // The owner is looked up under the read lock first. The write lock below repeats the
    // lookup, so a delete that runs between the two is reported as not found.
    let contact_id = appointment_owner(&state, &token, &event_id)?;
    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)
        .map_err(|_| state.not_found("Event", &event_id))?;
    let Some(appointment) = contact
        .appointments
        .iter_mut()
        .find(|appointment| appointment.id == event_id)
    else {
        return Err(state.not_found("Event", &event_id));
    };

    let start_time = fields.start_time.unwrap_or(appointment.start_time);
    let end_time = match (fields.start_time, fields.end_time) {
        (_, Some(end)) => end,
        (Some(start), None) => start + (appointment.end_time - appointment.start_time),
        (None, None) => appointment.end_time,
    };
    if end_time <= start_time {
        return Err(ApiError::Unprocessable(vec![format!(
            "endTime must be after startTime, got startTime {} and endTime {}",
            start_time.to_rfc3339(),
            end_time.to_rfc3339()
        )]));
    }
    appointment.start_time = start_time;
    appointment.end_time = end_time;
    if let Some(calendar_id) = fields.calendar_id {
        appointment.calendar_id = calendar_id;
    }
    if let Some(title) = fields.title {
        appointment.title = title;
    }
    if let Some(status) = fields.appointment_status {
        appointment.appointment_status = status;
    }
    if let Some(user) = fields.assigned_user_id {
        appointment.assigned_user_id = user;
    }
    if let Some(text) = fields.description {
        appointment.description = Some(text);
    }
    if let Some(address) = fields.address {
        appointment.address = address;
        if fields.meeting_location_type.is_none() {
            appointment.meeting_location_type = "custom".to_string();
        }
    }
    if let Some(kind) = fields.meeting_location_type {
        appointment.meeting_location_type = kind;
    }
    if fields.rrule.is_some() {
        appointment.rrule = fields.rrule;
    }
    appointment.date_updated = now_millis();

    let appointment = appointment.clone();
    Ok((StatusCode::OK, Json(appointment.to_flat_json(contact))))
}

/// `DELETE /calendars/events/{eventId}` with the body `{}` → 201 `{succeeded}` (spelt
/// correctly here, unlike the contact routes).
pub(super) async fn delete_appointment(
    State(state): State<Arc<GhlState>>,
    Extension(token): Extension<TokenLocation>,
    Path(event_id): Path<String>,
    body: Bytes,
) -> Created {
    let fields = BodyFields::parse(&body, &[])?;
    fields.finish()?;
    let contact_id = appointment_owner(&state, &token, &event_id)?;
    let mut store = state.store_mut();
    let contact = find_contact_mut(&state, &mut store, &token, &contact_id)
        .map_err(|_| state.not_found("Event", &event_id))?;
    let before = contact.appointments.len();
    contact
        .appointments
        .retain(|appointment| appointment.id != event_id);
    if contact.appointments.len() == before {
        return Err(state.not_found("Event", &event_id));
    }
    Ok((StatusCode::CREATED, Json(json!({ "succeeded": true }))))
}
