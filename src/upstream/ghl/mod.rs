//! GoHighLevel API v2 client for contacts, their tags, tasks, notes and appointments,
//! to read and to write.
//!
//! Every call sends `Authorization: Bearer`, `Accept: application/json` and the
//! `Version` header of its route family: [`CONTACTS_VERSION`] for `/contacts/*`,
//! [`CALENDARS_VERSION`] for `/calendars/*`. Ids are percent-encoded into the path.
//! `locationId` goes where each route expects it: in the query for the list, duplicate
//! and business routes, in the body for search, contact create and upsert, and
//! appointment create, and nowhere for updates and contact sub-resources.
//!
//! No call is retried. A write that fails with `Timeout` or `Connect` may have been
//! applied upstream.

mod inputs;
mod lenient;
mod models;
mod writes;

use std::sync::Arc;

use reqwest::Method;
use secrecy::SecretString;

use crate::credentials::Credentials;
use serde::{Serialize, de::DeserializeOwned};
use url::Url;

pub use inputs::*;
pub use models::*;

use super::{
    HttpSettings, System, UpstreamError,
    http::{Call, NotFoundTarget, Upstream, check_id, decode_json, encode_path_segment, headers},
};

/// `Version` header of the contacts family.
pub const CONTACTS_VERSION: &str = "2021-07-28";
/// `Version` header of every `/calendars/*` route.
pub const CALENDARS_VERSION: &str = "2021-04-15";

const SYSTEM: System = System::Ghl;

/// Client of one GHL sub-account (location). Cheap to clone.
#[derive(Clone, Debug)]
pub struct GhlClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    upstream: Upstream,
    location_id: String,
}

/// Route family, which decides the `Version` header.
#[derive(Clone, Copy)]
enum Family {
    Contacts,
    Calendars,
}

impl GhlClient {
    /// Builds a client for `location_id` at `base_url`, such as
    /// `https://services.leadconnectorhq.com`.
    ///
    /// Fails with `Connect` when the base URL is not an http(s) URL with a host or the
    /// location id is empty, and with `Unauthorized` when the token is empty or cannot
    /// be sent in a header.
    pub fn new(
        base_url: Url,
        location_id: String,
        token: SecretString,
        settings: &HttpSettings,
    ) -> Result<GhlClient, UpstreamError> {
        let credentials = Credentials::fixed(SYSTEM, token)?;
        GhlClient::with_credentials(base_url, location_id, credentials, settings)
    }

    /// Builds a client like [`GhlClient::new`] whose calls take their token from
    /// `credentials`, such as the location's OAuth tokens.
    pub fn with_credentials(
        base_url: Url,
        location_id: String,
        credentials: Credentials,
        settings: &HttpSettings,
    ) -> Result<GhlClient, UpstreamError> {
        let location_id = location_id.trim().to_string();
        if location_id.is_empty() {
            return Err(UpstreamError::Connect {
                system: SYSTEM,
                detail: "the GHL location id is empty; set it to the sub-account id the token belongs to"
                    .to_string(),
            });
        }
        let upstream = Upstream::with_credentials(SYSTEM, base_url, credentials, settings)?;
        Ok(GhlClient {
            inner: Arc::new(Inner {
                upstream,
                location_id,
            }),
        })
    }

    /// Returns the id of the sub-account this client reads.
    pub fn location_id(&self) -> &str {
        &self.inner.location_id
    }

    /// Reads one contact (`GET /contacts/{contactId}`).
    pub async fn get_contact(&self, id: &str) -> Result<GhlContact, UpstreamError> {
        check_id(SYSTEM, "contact", id)?;
        let path = format!("/contacts/{}", encode_path_segment(id));
        let targets = [NotFoundTarget {
            resource: "contact",
            id,
        }];
        let response: ContactResponse = self
            .get(
                "/contacts/{contactId}",
                &path,
                &[],
                Family::Contacts,
                &targets,
            )
            .await?;
        response.contact.ok_or_else(|| missing_member("contact"))
    }

    /// Searches contacts (`POST /contacts/search`); the client adds `locationId`.
    pub async fn search_contacts(
        &self,
        request: &SearchContactsRequest,
    ) -> Result<SearchContactsResponse, UpstreamError> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            location_id: &'a str,
            #[serde(flatten)]
            request: &'a SearchContactsRequest,
        }

        // Encoding fails only for non-string map keys or a failing Serialize impl, and
        // neither occurs in these types; the error branch exists to avoid a panic.
        let body = serde_json::to_vec(&Body {
            location_id: self.location_id(),
            request,
        })
        .map_err(|err| UpstreamError::BadResponse {
            system: SYSTEM,
            detail: format!("the search request could not be encoded as JSON: {err}"),
        })?;
        let url = self.inner.upstream.url("/contacts/search");
        let call = Call {
            method: Method::POST,
            route: "/contacts/search".into(),
            url,
            headers: family_headers(Family::Contacts),
            body: Some((body, "application/json")),
            not_found: &[],
        };
        let bytes = self.inner.upstream.send(call).await?;
        decode_json(SYSTEM, &bytes)
    }

    /// Lists contacts with the deprecated `GET /contacts/` route, paged by the
    /// `startAfterId`/`startAfter` cursor.
    pub async fn list_contacts(
        &self,
        params: &ListContactsParams,
    ) -> Result<ListContactsResponse, UpstreamError> {
        let mut query = vec![
            ("locationId", self.location_id().to_string()),
            ("limit", params.limit.to_string()),
        ];
        if let Some(start_after_id) = &params.start_after_id {
            query.push(("startAfterId", start_after_id.clone()));
        }
        if let Some(start_after) = params.start_after {
            query.push(("startAfter", start_after.to_string()));
        }
        if let Some(text) = params.query.as_deref().filter(|text| !text.is_empty()) {
            query.push(("query", text.to_string()));
        }
        self.get("/contacts/", "/contacts/", &query, Family::Contacts, &[])
            .await
    }

    /// Finds the contact that GHL's duplicate rule matches to `email` or `number`
    /// (`GET /contacts/search/duplicate`).
    ///
    /// Returns `None` when no contact matches, when GHL returns 404 or a "not found"
    /// 400, and without a request when both arguments are absent or blank.
    pub async fn find_duplicate(
        &self,
        email: Option<&str>,
        number: Option<&str>,
    ) -> Result<Option<GhlContact>, UpstreamError> {
        let email = email.map(str::trim).filter(|text| !text.is_empty());
        let number = number.map(str::trim).filter(|text| !text.is_empty());
        if email.is_none() && number.is_none() {
            return Ok(None);
        }

        let mut query = vec![("locationId", self.location_id().to_string())];
        if let Some(email) = email {
            query.push(("email", email.to_string()));
        }
        if let Some(number) = number {
            query.push(("number", number.to_string()));
        }
        // The target turns a 404 into `NotFound`, which becomes `None` below, so its id is unused.
        let targets = [NotFoundTarget {
            resource: "contact",
            id: "",
        }];
        let result: Result<ContactResponse, UpstreamError> = self
            .get(
                "/contacts/search/duplicate",
                "/contacts/search/duplicate",
                &query,
                Family::Contacts,
                &targets,
            )
            .await;
        match result {
            Ok(response) => Ok(response.contact),
            Err(UpstreamError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Lists the contacts of a business (`GET /contacts/business/{businessId}`), paged
    /// by `skip` and `limit`. A missing business is reported as `NotFound` with
    /// resource "business".
    pub async fn contacts_by_business(
        &self,
        business_id: &str,
        limit: u32,
        skip: u32,
        query: Option<&str>,
    ) -> Result<ListContactsResponse, UpstreamError> {
        check_id(SYSTEM, "business", business_id)?;
        let path = format!("/contacts/business/{}", encode_path_segment(business_id));
        let mut params = vec![
            ("locationId", self.location_id().to_string()),
            ("limit", limit.to_string()),
            ("skip", skip.to_string()),
        ];
        if let Some(text) = query.filter(|text| !text.is_empty()) {
            params.push(("query", text.to_string()));
        }
        let targets = [NotFoundTarget {
            resource: "business",
            id: business_id,
        }];
        self.get(
            "/contacts/business/{businessId}",
            &path,
            &params,
            Family::Contacts,
            &targets,
        )
        .await
    }

    /// Lists the tasks of a contact (`GET /contacts/{contactId}/tasks`, not paged).
    pub async fn list_tasks(&self, contact_id: &str) -> Result<Vec<GhlTask>, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        let path = format!("/contacts/{}/tasks", encode_path_segment(contact_id));
        let targets = [NotFoundTarget {
            resource: "contact",
            id: contact_id,
        }];
        let response: TaskListResponse = self
            .get(
                "/contacts/{contactId}/tasks",
                &path,
                &[],
                Family::Contacts,
                &targets,
            )
            .await?;
        Ok(response.tasks)
    }

    /// Reads one task (`GET /contacts/{contactId}/tasks/{taskId}`).
    pub async fn get_task(
        &self,
        contact_id: &str,
        task_id: &str,
    ) -> Result<GhlTask, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        check_id(SYSTEM, "task", task_id)?;
        let path = format!(
            "/contacts/{}/tasks/{}",
            encode_path_segment(contact_id),
            encode_path_segment(task_id)
        );
        let targets = [
            NotFoundTarget {
                resource: "task",
                id: task_id,
            },
            NotFoundTarget {
                resource: "contact",
                id: contact_id,
            },
        ];
        let response: TaskResponse = self
            .get(
                "/contacts/{contactId}/tasks/{taskId}",
                &path,
                &[],
                Family::Contacts,
                &targets,
            )
            .await?;
        response.task.ok_or_else(|| missing_member("task"))
    }

    /// Lists the notes of a contact (`GET /contacts/{contactId}/notes`, not paged).
    pub async fn list_notes(&self, contact_id: &str) -> Result<Vec<GhlNote>, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        let path = format!("/contacts/{}/notes", encode_path_segment(contact_id));
        let targets = [NotFoundTarget {
            resource: "contact",
            id: contact_id,
        }];
        let response: NoteListResponse = self
            .get(
                "/contacts/{contactId}/notes",
                &path,
                &[],
                Family::Contacts,
                &targets,
            )
            .await?;
        Ok(response.notes)
    }

    /// Reads one note (`GET /contacts/{contactId}/notes/{id}`).
    pub async fn get_note(
        &self,
        contact_id: &str,
        note_id: &str,
    ) -> Result<GhlNote, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        check_id(SYSTEM, "note", note_id)?;
        let path = format!(
            "/contacts/{}/notes/{}",
            encode_path_segment(contact_id),
            encode_path_segment(note_id)
        );
        let targets = [
            NotFoundTarget {
                resource: "note",
                id: note_id,
            },
            NotFoundTarget {
                resource: "contact",
                id: contact_id,
            },
        ];
        let response: NoteResponse = self
            .get(
                "/contacts/{contactId}/notes/{id}",
                &path,
                &[],
                Family::Contacts,
                &targets,
            )
            .await?;
        response.note.ok_or_else(|| missing_member("note"))
    }

    /// Lists the appointments of a contact (`GET /contacts/{contactId}/appointments`).
    /// The route belongs to the contacts family, so it sends [`CONTACTS_VERSION`].
    pub async fn list_contact_appointments(
        &self,
        contact_id: &str,
    ) -> Result<Vec<GhlAppointment>, UpstreamError> {
        check_id(SYSTEM, "contact", contact_id)?;
        let path = format!("/contacts/{}/appointments", encode_path_segment(contact_id));
        let targets = [NotFoundTarget {
            resource: "contact",
            id: contact_id,
        }];
        let response: AppointmentListResponse = self
            .get(
                "/contacts/{contactId}/appointments",
                &path,
                &[],
                Family::Contacts,
                &targets,
            )
            .await?;
        Ok(response.events)
    }

    /// Reads one appointment (`GET /calendars/events/appointments/{eventId}`). The id
    /// may be an event id, a recurring instance id or a series' master event id.
    pub async fn get_appointment(&self, event_id: &str) -> Result<GhlAppointment, UpstreamError> {
        check_id(SYSTEM, "appointment", event_id)?;
        let path = format!(
            "/calendars/events/appointments/{}",
            encode_path_segment(event_id)
        );
        let targets = [NotFoundTarget {
            resource: "appointment",
            id: event_id,
        }];
        let response: AppointmentResponse = self
            .get(
                "/calendars/events/appointments/{eventId}",
                &path,
                &[],
                Family::Calendars,
                &targets,
            )
            .await?;
        response.event.ok_or_else(|| missing_member("event"))
    }

    /// Sends a GET and decodes its JSON body.
    async fn get<T: DeserializeOwned>(
        &self,
        route: &'static str,
        path: &str,
        query: &[(&str, String)],
        family: Family,
        targets: &[NotFoundTarget<'_>],
    ) -> Result<T, UpstreamError> {
        let mut url = self.inner.upstream.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let call = Call {
            method: Method::GET,
            route: route.into(),
            url,
            headers: family_headers(family),
            body: None,
            not_found: targets,
        };
        let bytes = self.inner.upstream.send(call).await?;
        decode_json(SYSTEM, &bytes)
    }
}

fn family_headers(family: Family) -> reqwest::header::HeaderMap {
    let version = match family {
        Family::Contacts => CONTACTS_VERSION,
        Family::Calendars => CALENDARS_VERSION,
    };
    headers(&[("accept", "application/json"), ("version", version)])
}

fn missing_member(member: &str) -> UpstreamError {
    UpstreamError::BadResponse {
        system: SYSTEM,
        detail: format!("the response has no `{member}` object"),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_tests;
