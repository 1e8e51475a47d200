//! Write calls of the GHL client: contacts, tags, tasks, notes and appointments.
//!
//! No write is retried, whatever the failure, because GHL has no idempotency keys and a
//! repeated POST may create a second record. A write that ends in `Timeout` or `Connect`
//! may therefore have been applied upstream; the caller decides how to find out.

use reqwest::Method;
use serde::{Serialize, de::DeserializeOwned};

use super::{
    ContactResponse, DeleteResponse, Family, GhlAppointment, GhlAppointmentInput, GhlClient,
    GhlContact, GhlContactInput, GhlNote, GhlNoteInput, GhlTask, GhlTaskInput, NoteResponse,
    SYSTEM, TagsResponse, TaskResponse, UpdateContactResponse, UpsertContactResponse,
    family_headers, missing_member,
};
use crate::upstream::{
    UpstreamError,
    http::{Call, ErrorClassifier, NotFoundTarget, check_id, decode_json, encode_path_segment},
};

/// Text of GHL's 400 for a contact that would duplicate an existing one.
const DUPLICATE_MESSAGE: &str = "does not allow duplicated contacts";

/// Maps GHL's duplicate-contact 400 to `Duplicate`, with the existing contact's id from
/// `meta.contactId` when the body carries it.
fn classify_duplicate(status: u16, body: &[u8], messages: &[String]) -> Option<UpstreamError> {
    if status != 400 {
        return None;
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let existing_id = parsed
        .as_ref()
        .and_then(|value| value.get("meta"))
        .and_then(|meta| meta.get("contactId"))
        .and_then(|id| id.as_str())
        .map(str::to_string);
    let mentions_duplicate = messages
        .iter()
        .any(|message| message.contains(DUPLICATE_MESSAGE));
    if existing_id.is_none() && !mentions_duplicate {
        return None;
    }
    let detail = if messages.is_empty() {
        "GHL reported a duplicate contact".to_string()
    } else {
        messages.join("; ")
    };
    Some(UpstreamError::Duplicate {
        system: SYSTEM,
        existing_id,
        detail,
    })
}

/// Encodes a request body. Encoding fails only for a failing `Serialize` impl or
/// non-string map keys, and neither occurs in these types; the error branch exists to
/// avoid a panic.
fn encode<T: Serialize>(body: &T, what: &str) -> Result<Vec<u8>, UpstreamError> {
    serde_json::to_vec(body).map_err(|err| UpstreamError::BadResponse {
        system: SYSTEM,
        detail: format!("the {what} request could not be encoded as JSON: {err}"),
    })
}

/// A body with the client's `locationId` added to `fields`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WithLocation<'a, T: Serialize> {
    location_id: &'a str,
    #[serde(flatten)]
    fields: &'a T,
}

/// Fails with `BadResponse` when a delete's body reports that nothing was deleted.
fn check_deleted(response: &DeleteResponse, what: &str) -> Result<(), UpstreamError> {
    if response.succeeded() {
        Ok(())
    } else {
        Err(UpstreamError::BadResponse {
            system: SYSTEM,
            detail: format!("GHL returned a success flag of false for the {what} delete"),
        })
    }
}

/// One write request: everything but the client.
struct Write<'a> {
    method: Method,
    route: &'static str,
    path: String,
    family: Family,
    body: Option<Vec<u8>>,
    targets: &'a [NotFoundTarget<'a>],
    classify: Option<ErrorClassifier>,
}

impl GhlClient {
    /// Creates a contact (`POST /contacts/`, 201 `{contact}`); the client adds
    /// `locationId`.
    ///
    /// When the location forbids duplicates and the e-mail or phone belongs to a
    /// contact, GHL returns 400, which becomes `Duplicate` with that contact's id.
    pub async fn create_contact(
        &self,
        input: &GhlContactInput,
    ) -> Result<GhlContact, UpstreamError> {
        let body = encode(
            &WithLocation {
                location_id: self.location_id(),
                fields: input,
            },
            "create-contact",
        )?;
        let response: ContactResponse = self
            .write(Write {
                method: Method::POST,
                route: "/contacts/",
                path: "/contacts/".to_string(),
                family: Family::Contacts,
                body: Some(body),
                targets: &[],
                classify: Some(classify_duplicate),
            })
            .await?;
        response.contact.ok_or_else(|| missing_member("contact"))
    }

    /// Updates a contact (`PUT /contacts/{contactId}`, 200 `{succeded, contact}`). Only
    /// the fields set in `input` change. An e-mail or phone of another contact becomes
    /// `Duplicate` when the location forbids duplicates.
    pub async fn update_contact(
        &self,
        id: &str,
        input: &GhlContactInput,
    ) -> Result<GhlContact, UpstreamError> {
        check_id(SYSTEM, "contact", id)?;
        let body = encode(input, "update-contact")?;
        let targets = [NotFoundTarget {
            resource: "contact",
            id,
        }];
        let response: UpdateContactResponse = self
            .write(Write {
                method: Method::PUT,
                route: "/contacts/{contactId}",
                path: format!("/contacts/{}", encode_path_segment(id)),
                family: Family::Contacts,
                body: Some(body),
                targets: &targets,
                classify: Some(classify_duplicate),
            })
            .await?;
        if response.succeded == Some(false) {
            return Err(UpstreamError::BadResponse {
                system: SYSTEM,
                detail: "GHL returned succeded: false for the contact update".to_string(),
            });
        }
        response.contact.ok_or_else(|| missing_member("contact"))
    }

    /// Creates or updates the contact that GHL matches by e-mail, then phone
    /// (`POST /contacts/upsert`, 200 `{new, contact, traceId}`); the client adds
    /// `locationId`. Returns whether a contact was created, and the contact.
    ///
    /// Fields left out of `input` keep their stored values on a matched contact.
    pub async fn upsert_contact(
        &self,
        input: &GhlContactInput,
    ) -> Result<(bool, GhlContact), UpstreamError> {
        let body = encode(
            &WithLocation {
                location_id: self.location_id(),
                fields: input,
            },
            "upsert-contact",
        )?;
        let response: UpsertContactResponse = self
            .write(Write {
                method: Method::POST,
                route: "/contacts/upsert",
                path: "/contacts/upsert".to_string(),
                family: Family::Contacts,
                body: Some(body),
                targets: &[],
                classify: Some(classify_duplicate),
            })
            .await?;
        let Some(is_new) = response.new else {
            return Err(missing_member("new"));
        };
        let contact = response.contact.ok_or_else(|| missing_member("contact"))?;
        tracing::debug!(
            trace_id = response.trace_id.as_deref().unwrap_or_default(),
            is_new,
            "GHL upsert finished"
        );
        Ok((is_new, contact))
    }

    /// Deletes a contact with its tasks, notes and appointments
    /// (`DELETE /contacts/{contactId}`, 200 `{succeded}`).
    pub async fn delete_contact(&self, id: &str) -> Result<(), UpstreamError> {
        check_id(SYSTEM, "contact", id)?;
        let targets = [NotFoundTarget {
            resource: "contact",
            id,
        }];
        let response: DeleteResponse = self
            .write(Write {
                method: Method::DELETE,
                route: "/contacts/{contactId}",
                path: format!("/contacts/{}", encode_path_segment(id)),
                family: Family::Contacts,
                body: None,
                targets: &targets,
                classify: None,
            })
            .await?;
        check_deleted(&response, "contact")
    }

    /// Adds tags to a contact (`POST /contacts/{contactId}/tags`, 201 `{tags}`) and
    /// returns the contact's tags afterwards.
    pub async fn add_tags(&self, id: &str, tags: &[String]) -> Result<Vec<String>, UpstreamError> {
        self.change_tags(Method::POST, id, tags).await
    }

    /// Removes tags from a contact (`DELETE /contacts/{contactId}/tags` with a `{tags}`
    /// body, 200 `{tags}`) and returns the contact's tags afterwards.
    pub async fn remove_tags(
        &self,
        id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, UpstreamError> {
        self.change_tags(Method::DELETE, id, tags).await
    }

    async fn change_tags(
        &self,
        method: Method,
        id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, UpstreamError> {
        check_id(SYSTEM, "contact", id)?;
        let body = encode(&serde_json::json!({ "tags": tags }), "tags")?;
        let targets = [NotFoundTarget {
            resource: "contact",
            id,
        }];
        let response: TagsResponse = self
            .write(Write {
                method,
                route: "/contacts/{contactId}/tags",
                path: format!("/contacts/{}/tags", encode_path_segment(id)),
                family: Family::Contacts,
                body: Some(body),
                targets: &targets,
                classify: None,
            })
            .await?;
        Ok(response.tags)
    }

    /// Creates a task on a contact (`POST /contacts/{contactId}/tasks`, 201 `{task}`).
    /// GHL requires `title`, `due_date` and `completed`.
    pub async fn create_task(
        &self,
        contact_id: &str,
        input: &GhlTaskInput,
    ) -> Result<GhlTask, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        let body = encode(input, "create-task")?;
        let targets = [NotFoundTarget {
            resource: "contact",
            id: contact_id,
        }];
        let response: TaskResponse = self
            .write(Write {
                method: Method::POST,
                route: "/contacts/{contactId}/tasks",
                path: format!("/contacts/{}/tasks", encode_path_segment(contact_id)),
                family: Family::Contacts,
                body: Some(body),
                targets: &targets,
                classify: None,
            })
            .await?;
        response.task.ok_or_else(|| missing_member("task"))
    }

    /// Updates a task (`PUT /contacts/{contactId}/tasks/{taskId}`, 200 `{task}`); only the
    /// fields set in `input` change.
    pub async fn update_task(
        &self,
        contact_id: &str,
        task_id: &str,
        input: &GhlTaskInput,
    ) -> Result<GhlTask, UpstreamError> {
        let body = encode(input, "update-task")?;
        self.task_write(
            Method::PUT,
            "/contacts/{contactId}/tasks/{taskId}",
            contact_id,
            task_id,
            "",
            Some(body),
        )
        .await
    }

    /// Marks a task completed or open
    /// (`PUT /contacts/{contactId}/tasks/{taskId}/completed`, 200 `{task}`).
    pub async fn complete_task(
        &self,
        contact_id: &str,
        task_id: &str,
        completed: bool,
    ) -> Result<GhlTask, UpstreamError> {
        let body = encode(
            &serde_json::json!({ "completed": completed }),
            "complete-task",
        )?;
        self.task_write(
            Method::PUT,
            "/contacts/{contactId}/tasks/{taskId}/completed",
            contact_id,
            task_id,
            "/completed",
            Some(body),
        )
        .await
    }

    /// Deletes a task (`DELETE /contacts/{contactId}/tasks/{taskId}`, 200 `{succeded}`).
    pub async fn delete_task(&self, contact_id: &str, task_id: &str) -> Result<(), UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        check_id(SYSTEM, "task", task_id)?;
        let targets = task_targets(contact_id, task_id);
        let response: DeleteResponse = self
            .write(Write {
                method: Method::DELETE,
                route: "/contacts/{contactId}/tasks/{taskId}",
                path: task_path(contact_id, task_id, ""),
                family: Family::Contacts,
                body: None,
                targets: &targets,
                classify: None,
            })
            .await?;
        check_deleted(&response, "task")
    }

    /// Sends a task write whose response is `{task}`.
    async fn task_write(
        &self,
        method: Method,
        route: &'static str,
        contact_id: &str,
        task_id: &str,
        suffix: &str,
        body: Option<Vec<u8>>,
    ) -> Result<GhlTask, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        check_id(SYSTEM, "task", task_id)?;
        let targets = task_targets(contact_id, task_id);
        let response: TaskResponse = self
            .write(Write {
                method,
                route,
                path: task_path(contact_id, task_id, suffix),
                family: Family::Contacts,
                body,
                targets: &targets,
                classify: None,
            })
            .await?;
        response.task.ok_or_else(|| missing_member("task"))
    }

    /// Creates a note on a contact (`POST /contacts/{contactId}/notes`, 201 `{note}`).
    /// GHL requires `body`.
    pub async fn create_note(
        &self,
        contact_id: &str,
        input: &GhlNoteInput,
    ) -> Result<GhlNote, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        let body = encode(input, "create-note")?;
        let targets = [NotFoundTarget {
            resource: "contact",
            id: contact_id,
        }];
        let response: NoteResponse = self
            .write(Write {
                method: Method::POST,
                route: "/contacts/{contactId}/notes",
                path: format!("/contacts/{}/notes", encode_path_segment(contact_id)),
                family: Family::Contacts,
                body: Some(body),
                targets: &targets,
                classify: None,
            })
            .await?;
        response.note.ok_or_else(|| missing_member("note"))
    }

    /// Updates a note (`PUT /contacts/{contactId}/notes/{id}`, 200 `{note}`); only the
    /// fields set in `input` change.
    pub async fn update_note(
        &self,
        contact_id: &str,
        note_id: &str,
        input: &GhlNoteInput,
    ) -> Result<GhlNote, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        check_id(SYSTEM, "note", note_id)?;
        let body = encode(input, "update-note")?;
        let targets = note_targets(contact_id, note_id);
        let response: NoteResponse = self
            .write(Write {
                method: Method::PUT,
                route: "/contacts/{contactId}/notes/{id}",
                path: note_path(contact_id, note_id),
                family: Family::Contacts,
                body: Some(body),
                targets: &targets,
                classify: None,
            })
            .await?;
        response.note.ok_or_else(|| missing_member("note"))
    }

    /// Deletes a note (`DELETE /contacts/{contactId}/notes/{id}`, 200 `{succeded}`).
    pub async fn delete_note(&self, contact_id: &str, note_id: &str) -> Result<(), UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        check_id(SYSTEM, "note", note_id)?;
        let targets = note_targets(contact_id, note_id);
        let response: DeleteResponse = self
            .write(Write {
                method: Method::DELETE,
                route: "/contacts/{contactId}/notes/{id}",
                path: note_path(contact_id, note_id),
                family: Family::Contacts,
                body: None,
                targets: &targets,
                classify: None,
            })
            .await?;
        check_deleted(&response, "note")
    }

    /// Books an appointment (`POST /calendars/events/appointments`, 200 with a flat
    /// appointment object); the client adds `locationId`. GHL requires `calendar_id`,
    /// `contact_id` and `start_time`.
    pub async fn create_appointment(
        &self,
        input: &GhlAppointmentInput,
    ) -> Result<GhlAppointment, UpstreamError> {
        let body = encode(
            &WithLocation {
                location_id: self.location_id(),
                fields: input,
            },
            "create-appointment",
        )?;
        let targets = [
            NotFoundTarget {
                resource: "contact",
                id: input.contact_id.as_deref().unwrap_or_default(),
            },
            NotFoundTarget {
                resource: "calendar",
                id: input.calendar_id.as_deref().unwrap_or_default(),
            },
        ];
        self.write(Write {
            method: Method::POST,
            route: "/calendars/events/appointments",
            path: "/calendars/events/appointments".to_string(),
            family: Family::Calendars,
            body: Some(body),
            targets: &targets,
            classify: None,
        })
        .await
    }

    /// Changes an appointment (`PUT /calendars/events/appointments/{eventId}`, 200 with
    /// a flat appointment object); only the fields set in `input` change. `contact_id`
    /// must be `None`, because GHL's edit body has no `contactId` and rejects it with 422.
    pub async fn update_appointment(
        &self,
        event_id: &str,
        input: &GhlAppointmentInput,
    ) -> Result<GhlAppointment, UpstreamError> {
        check_id(SYSTEM, "appointment", event_id)?;
        let body = encode(input, "update-appointment")?;
        let targets = [
            NotFoundTarget {
                resource: "appointment",
                id: event_id,
            },
            NotFoundTarget {
                resource: "calendar",
                id: input.calendar_id.as_deref().unwrap_or_default(),
            },
        ];
        self.write(Write {
            method: Method::PUT,
            route: "/calendars/events/appointments/{eventId}",
            path: format!(
                "/calendars/events/appointments/{}",
                encode_path_segment(event_id)
            ),
            family: Family::Calendars,
            body: Some(body),
            targets: &targets,
            classify: None,
        })
        .await
    }

    /// Deletes an appointment (`DELETE /calendars/events/{eventId}` with the body `{}`,
    /// 201 `{succeeded}`).
    pub async fn delete_appointment(&self, event_id: &str) -> Result<(), UpstreamError> {
        check_id(SYSTEM, "appointment", event_id)?;
        let targets = [NotFoundTarget {
            resource: "appointment",
            id: event_id,
        }];
        let response: DeleteResponse = self
            .write(Write {
                method: Method::DELETE,
                route: "/calendars/events/{eventId}",
                path: format!("/calendars/events/{}", encode_path_segment(event_id)),
                family: Family::Calendars,
                body: Some(b"{}".to_vec()),
                targets: &targets,
                classify: None,
            })
            .await?;
        check_deleted(&response, "appointment")
    }

    /// Sends one write and decodes its JSON body. Never retries.
    async fn write<T: DeserializeOwned>(&self, write: Write<'_>) -> Result<T, UpstreamError> {
        let call = Call {
            method: write.method,
            route: write.route.into(),
            url: self.inner.upstream.url(&write.path),
            headers: family_headers(write.family),
            body: write.body.map(|body| (body, "application/json")),
            not_found: write.targets,
        };
        let bytes = self
            .inner
            .upstream
            .send_classified(call, write.classify)
            .await?;
        decode_json(SYSTEM, &bytes)
    }
}

fn task_path(contact_id: &str, task_id: &str, suffix: &str) -> String {
    format!(
        "/contacts/{}/tasks/{}{suffix}",
        encode_path_segment(contact_id),
        encode_path_segment(task_id)
    )
}

fn task_targets<'a>(contact_id: &'a str, task_id: &'a str) -> [NotFoundTarget<'a>; 2] {
    [
        NotFoundTarget {
            resource: "task",
            id: task_id,
        },
        NotFoundTarget {
            resource: "contact",
            id: contact_id,
        },
    ]
}

fn note_path(contact_id: &str, note_id: &str) -> String {
    format!(
        "/contacts/{}/notes/{}",
        encode_path_segment(contact_id),
        encode_path_segment(note_id)
    )
}

fn note_targets<'a>(contact_id: &'a str, note_id: &'a str) -> [NotFoundTarget<'a>; 2] {
    [
        NotFoundTarget {
            resource: "note",
            id: note_id,
        },
        NotFoundTarget {
            resource: "contact",
            id: contact_id,
        },
    ]
}
