//! One write to one system, as the outbox stores it, and how it runs.

use serde::{Deserialize, Serialize};

use super::fields::{AppointmentFields, ContactFields, NoteFields, TaskFields, with_offset};
use crate::{
    tenant::Tenant,
    upstream::{
        System, UpstreamError,
        casebook::names::{APPOINTMENT_NOTE_TYPE, NOTE_TYPES},
        casebook::{CasebookNoteInput, CasebookPersonInput, CasebookTaskInput},
        ghl::{
            GhlAppointmentInput, GhlContactInput, GhlCustomFieldInput, GhlNoteInput, GhlTaskInput,
            parse_ghl_time,
        },
    },
};

/// The note type of notes written through the gateway.
const GENERAL_NOTE_TYPE: &str = NOTE_TYPES[0];

/// A write to one system. `owner` is the Casebook person id or the GHL contact id that a
/// child record belongs to; `contact_id` and `record_id` are the gateway's own link ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SideWrite {
    CreateContact {
        contact_id: String,
        fields: ContactFields,
    },
    UpdateContact {
        native_id: String,
        fields: ContactFields,
    },
    DeleteContact {
        native_id: String,
    },
    AddTags {
        native_id: String,
        tags: Vec<String>,
    },
    RemoveTags {
        native_id: String,
        tags: Vec<String>,
    },
    CreateTask {
        record_id: String,
        owner: String,
        fields: TaskFields,
    },
    UpdateTask {
        owner: String,
        native_id: String,
        fields: TaskFields,
    },
    DeleteTask {
        owner: String,
        native_id: String,
    },
    CreateNote {
        record_id: String,
        owner: String,
        fields: NoteFields,
    },
    UpdateNote {
        owner: String,
        native_id: String,
        fields: NoteFields,
    },
    DeleteNote {
        owner: String,
        native_id: String,
    },
    CreateAppointment {
        record_id: String,
        owner: String,
        fields: AppointmentFields,
    },
    UpdateAppointment {
        owner: String,
        native_id: String,
        fields: AppointmentFields,
    },
    DeleteAppointment {
        owner: String,
        native_id: String,
    },
}

impl SideWrite {
    /// A short description for `pendingSyncs`, without personal data.
    pub fn summary(&self) -> &'static str {
        match self {
            SideWrite::CreateContact { .. } => "create contact",
            SideWrite::UpdateContact { .. } => "update contact",
            SideWrite::DeleteContact { .. } => "delete contact",
            SideWrite::AddTags { .. } => "add contact tags",
            SideWrite::RemoveTags { .. } => "remove contact tags",
            SideWrite::CreateTask { .. } => "create task",
            SideWrite::UpdateTask { .. } => "update task",
            SideWrite::DeleteTask { .. } => "delete task",
            SideWrite::CreateNote { .. } => "create note",
            SideWrite::UpdateNote { .. } => "update note",
            SideWrite::DeleteNote { .. } => "delete note",
            SideWrite::CreateAppointment { .. } => "create appointment",
            SideWrite::UpdateAppointment { .. } => "update appointment",
            SideWrite::DeleteAppointment { .. } => "delete appointment",
        }
    }

    /// Whether the write creates a record, which upstream creates never make idempotent.
    pub fn is_create(&self) -> bool {
        matches!(
            self,
            SideWrite::CreateContact { .. }
                | SideWrite::CreateTask { .. }
                | SideWrite::CreateNote { .. }
                | SideWrite::CreateAppointment { .. }
        )
    }
}

/// Runs `write` on `system`. Returns the native id of a created record.
///
/// A delete of a record that no longer exists counts as done. A GHL duplicate-contact
/// answer adopts the existing contact and applies the fields to it.
pub async fn execute(
    tenant: &Tenant,
    system: System,
    write: &SideWrite,
) -> Result<Option<String>, UpstreamError> {
    let result = match system {
        System::Casebook => execute_casebook(tenant, write).await,
        System::Ghl => execute_ghl(tenant, write).await,
    };
    match result {
        Err(UpstreamError::NotFound { .. }) if is_delete(write) => Ok(None),
        other => other,
    }
}

fn is_delete(write: &SideWrite) -> bool {
    matches!(
        write,
        SideWrite::DeleteContact { .. }
            | SideWrite::DeleteTask { .. }
            | SideWrite::DeleteNote { .. }
            | SideWrite::DeleteAppointment { .. }
    )
}

/// Text that empties a field upstream.
// NOTE: both clients leave `None` fields out of the body, so an emptied field is sent as
// an empty string rather than null.
fn cleared(fields: &ContactFields, name: &str, value: &Option<String>) -> Option<String> {
    if fields.clears(name) {
        Some(String::new())
    } else {
        value.clone()
    }
}

fn person_input(fields: &ContactFields) -> CasebookPersonInput {
    CasebookPersonInput {
        first_name: fields.first_name.clone(),
        last_name: fields.last_name.clone(),
        email: cleared(fields, "email", &fields.email),
        phone: cleared(fields, "phone", &fields.phone),
        date_of_birth: cleared(fields, "dateOfBirth", &fields.date_of_birth),
        extra: fields
            .attributes
            .iter()
            .map(|attribute| (attribute.mapping.casebook.clone(), attribute.value.clone()))
            .collect(),
    }
}

fn ghl_contact_input(fields: &ContactFields) -> GhlContactInput {
    GhlContactInput {
        first_name: fields.first_name.clone(),
        last_name: fields.last_name.clone(),
        email: cleared(fields, "email", &fields.email),
        phone: cleared(fields, "phone", &fields.phone),
        date_of_birth: cleared(fields, "dateOfBirth", &fields.date_of_birth),
        tags: fields.tags.clone(),
        custom_fields: (!fields.attributes.is_empty()).then(|| {
            fields
                .attributes
                .iter()
                .map(|attribute| match &attribute.mapping.ghl_custom_field_key {
                    Some(key) => GhlCustomFieldInput::by_key(key.clone(), attribute.value.clone()),
                    None => GhlCustomFieldInput::by_id(
                        attribute.mapping.ghl_custom_field_id.clone(),
                        attribute.value.clone(),
                    ),
                })
                .collect()
        }),
        ..GhlContactInput::default()
    }
}

fn ghl_task_input(fields: &TaskFields, creating: bool) -> GhlTaskInput {
    GhlTaskInput {
        title: fields.title.clone(),
        body: fields.body.clone(),
        due_date: fields
            .due_at
            .map(|due| due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        completed: fields.completed.or(creating.then_some(false)),
        assigned_to: None,
    }
}

fn casebook_task_input(fields: &TaskFields, person_id: Option<&str>) -> CasebookTaskInput {
    CasebookTaskInput {
        title: fields.title.clone(),
        description: fields.body.clone(),
        due_at: fields.due_at,
        completed: fields.completed,
        person_id: person_id.map(str::to_string),
    }
}

/// Casebook requires a subject; a note written without a title takes the start of its body.
fn note_subject(fields: &NoteFields) -> Option<String> {
    fields.title.clone().or_else(|| {
        fields
            .body
            .as_deref()
            .map(|body| body.chars().take(60).collect::<String>())
    })
}

fn casebook_appointment_input(
    fields: &AppointmentFields,
    person_id: Option<&str>,
) -> CasebookNoteInput {
    CasebookNoteInput {
        subject: fields.title.clone(),
        body: fields.notes.clone().or_else(|| fields.title.clone()),
        note_type: person_id.map(|_| APPOINTMENT_NOTE_TYPE.to_string()),
        occurred_at: fields.starts_at,
        ends_at: fields.ends_at,
        people_ids: person_id.map(|id| vec![id.to_string()]),
    }
}

fn ghl_appointment_input(
    fields: &AppointmentFields,
    contact_id: Option<&str>,
) -> GhlAppointmentInput {
    let zone = fields.time_zone.as_deref();
    GhlAppointmentInput {
        calendar_id: fields.calendar_id.clone(),
        contact_id: contact_id.map(str::to_string),
        start_time: fields.starts_at.map(|at| with_offset(at, zone)),
        end_time: fields.ends_at.map(|at| with_offset(at, zone)),
        title: fields.title.clone(),
        appointment_status: fields.status.clone(),
        address: None,
        description: fields.notes.clone(),
        // The appointment is copied from a record that exists, not booked into a free slot.
        ignore_free_slot_validation: contact_id.map(|_| true),
    }
}

async fn execute_casebook(
    tenant: &Tenant,
    write: &SideWrite,
) -> Result<Option<String>, UpstreamError> {
    let client = &tenant.casebook;
    match write {
        SideWrite::CreateContact { fields, .. } => {
            Ok(Some(client.create_person(&person_input(fields)).await?.id))
        }
        SideWrite::UpdateContact { native_id, fields } => client
            .update_person(native_id, &person_input(fields))
            .await
            .map(|_| None),
        SideWrite::DeleteContact { native_id } => {
            client.delete_person(native_id).await.map(|_| None)
        }
        // Casebook has no tags.
        SideWrite::AddTags { .. } | SideWrite::RemoveTags { .. } => Ok(None),
        SideWrite::CreateTask { owner, fields, .. } => Ok(Some(
            client
                .create_task(&casebook_task_input(fields, Some(owner)))
                .await?
                .id,
        )),
        SideWrite::UpdateTask {
            native_id, fields, ..
        } => client
            .update_task(native_id, &casebook_task_input(fields, None))
            .await
            .map(|_| None),
        SideWrite::DeleteTask { native_id, .. } => {
            client.delete_task(native_id).await.map(|_| None)
        }
        SideWrite::CreateNote { owner, fields, .. } => {
            let input = CasebookNoteInput {
                subject: note_subject(fields),
                body: fields.body.clone(),
                note_type: Some(GENERAL_NOTE_TYPE.to_string()),
                occurred_at: None,
                ends_at: None,
                people_ids: Some(vec![owner.clone()]),
            };
            Ok(Some(client.create_note(&input).await?.id))
        }
        SideWrite::UpdateNote {
            native_id, fields, ..
        } => {
            let input = CasebookNoteInput {
                subject: fields.title.clone(),
                body: fields.body.clone(),
                ..CasebookNoteInput::default()
            };
            client.update_note(native_id, &input).await.map(|_| None)
        }
        SideWrite::DeleteNote { native_id, .. }
        | SideWrite::DeleteAppointment { native_id, .. } => {
            client.delete_note(native_id).await.map(|_| None)
        }
        SideWrite::CreateAppointment { owner, fields, .. } => Ok(Some(
            client
                .create_note(&casebook_appointment_input(fields, Some(owner)))
                .await?
                .id,
        )),
        SideWrite::UpdateAppointment {
            native_id, fields, ..
        } => client
            .update_note(native_id, &casebook_appointment_input(fields, None))
            .await
            .map(|_| None),
    }
}

async fn execute_ghl(tenant: &Tenant, write: &SideWrite) -> Result<Option<String>, UpstreamError> {
    let client = &tenant.ghl;
    match write {
        SideWrite::CreateContact { fields, .. } => {
            match client.create_contact(&ghl_contact_input(fields)).await {
                Ok(contact) => Ok(Some(contact.id)),
                Err(UpstreamError::Duplicate {
                    existing_id: Some(existing),
                    ..
                }) => {
                    client
                        .update_contact(&existing, &ghl_contact_input(fields))
                        .await?;
                    Ok(Some(existing))
                }
                Err(error) => Err(error),
            }
        }
        SideWrite::UpdateContact { native_id, fields } => client
            .update_contact(native_id, &ghl_contact_input(fields))
            .await
            .map(|_| None),
        SideWrite::DeleteContact { native_id } => {
            client.delete_contact(native_id).await.map(|_| None)
        }
        SideWrite::AddTags { native_id, tags } => {
            client.add_tags(native_id, tags).await.map(|_| None)
        }
        SideWrite::RemoveTags { native_id, tags } => {
            client.remove_tags(native_id, tags).await.map(|_| None)
        }
        SideWrite::CreateTask { owner, fields, .. } => Ok(Some(
            client
                .create_task(owner, &ghl_task_input(fields, true))
                .await?
                .id,
        )),
        SideWrite::UpdateTask {
            owner,
            native_id,
            fields,
        } => {
            let input = ghl_task_input(fields, false);
            let only_completion =
                fields.title.is_none() && fields.body.is_none() && fields.due_at.is_none();
            match (only_completion, fields.completed) {
                (true, Some(completed)) => client
                    .complete_task(owner, native_id, completed)
                    .await
                    .map(|_| None),
                _ => client
                    .update_task(owner, native_id, &input)
                    .await
                    .map(|_| None),
            }
        }
        SideWrite::DeleteTask { owner, native_id } => {
            client.delete_task(owner, native_id).await.map(|_| None)
        }
        SideWrite::CreateNote { owner, fields, .. } => {
            let input = GhlNoteInput {
                body: fields.body.clone(),
                title: fields.title.clone(),
                user_id: None,
            };
            Ok(Some(client.create_note(owner, &input).await?.id))
        }
        SideWrite::UpdateNote {
            owner,
            native_id,
            fields,
        } => {
            let input = GhlNoteInput {
                body: fields.body.clone(),
                title: fields.title.clone(),
                user_id: None,
            };
            client
                .update_note(owner, native_id, &input)
                .await
                .map(|_| None)
        }
        SideWrite::DeleteNote { owner, native_id } => {
            client.delete_note(owner, native_id).await.map(|_| None)
        }
        SideWrite::CreateAppointment { owner, fields, .. } => Ok(Some(
            client
                .create_appointment(&ghl_appointment_input(fields, Some(owner)))
                .await?
                .id,
        )),
        SideWrite::UpdateAppointment {
            native_id, fields, ..
        } => client
            .update_appointment(native_id, &ghl_appointment_input(fields, None))
            .await
            .map(|_| None),
        SideWrite::DeleteAppointment { native_id, .. } => {
            client.delete_appointment(native_id).await.map(|_| None)
        }
    }
}

/// Looks for the record a create may already have made, after a failure whose outcome
/// is unknown. Returns its native id when exactly one record matches.
pub async fn find_created(
    tenant: &Tenant,
    system: System,
    write: &SideWrite,
) -> Result<Option<String>, UpstreamError> {
    let found: Vec<String> = match (system, write) {
        (System::Ghl, SideWrite::CreateContact { fields, .. }) => tenant
            .ghl
            .find_duplicate(fields.email.as_deref(), fields.phone.as_deref())
            .await?
            .map(|contact| contact.id)
            .into_iter()
            .collect(),
        (System::Casebook, SideWrite::CreateContact { fields, .. }) => match &fields.email {
            Some(email) => tenant
                .casebook
                .people_by_email(std::slice::from_ref(email))
                .await?
                .into_iter()
                .filter(|person| {
                    person.first_name == fields.first_name && person.last_name == fields.last_name
                })
                .map(|person| person.id)
                .collect(),
            // NOTE: without an e-mail address there is nothing exact to search Casebook by,
            // so the create is repeated.
            None => Vec::new(),
        },
        (System::Ghl, SideWrite::CreateTask { owner, fields, .. }) => tenant
            .ghl
            .list_tasks(owner)
            .await?
            .into_iter()
            .filter(|task| {
                task.title == fields.title
                    && task.due_date.as_deref().and_then(parse_ghl_time) == fields.due_at
            })
            .map(|task| task.id)
            .collect(),
        (System::Casebook, SideWrite::CreateTask { owner, fields, .. }) => tenant
            .casebook
            .tasks_for_people(std::slice::from_ref(owner))
            .await?
            .into_iter()
            .filter(|task| task.title == fields.title && task.due_at == fields.due_at)
            .map(|task| task.id)
            .collect(),
        (System::Ghl, SideWrite::CreateNote { owner, fields, .. }) => tenant
            .ghl
            .list_notes(owner)
            .await?
            .into_iter()
            .filter(|note| note.body == fields.body)
            .map(|note| note.id)
            .collect(),
        (System::Casebook, SideWrite::CreateNote { owner, fields, .. }) => tenant
            .casebook
            .notes_for_people(std::slice::from_ref(owner))
            .await?
            .into_iter()
            .filter(|note| note.body == fields.body && note.subject == note_subject(fields))
            .map(|note| note.id)
            .collect(),
        (System::Ghl, SideWrite::CreateAppointment { owner, fields, .. }) => tenant
            .ghl
            .list_contact_appointments(owner)
            .await?
            .into_iter()
            .filter(|event| {
                event.title == fields.title
                    && event.start_time.as_deref().and_then(parse_ghl_time) == fields.starts_at
            })
            .map(|event| event.id)
            .collect(),
        (System::Casebook, SideWrite::CreateAppointment { owner, fields, .. }) => tenant
            .casebook
            .appointments_for_people(std::slice::from_ref(owner))
            .await?
            .into_iter()
            .filter(|note| note.subject == fields.title && note.occurred_at == fields.starts_at)
            .map(|note| note.id)
            .collect(),
        _ => Vec::new(),
    };
    Ok(match found.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    })
}
