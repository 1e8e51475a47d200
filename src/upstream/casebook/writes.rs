//! Casebook writes: create, update and delete of people, tasks and notes, and the
//! e-mail look-up that finds a person after a create whose outcome is unknown.
//!
//! Bodies are JSON:API 1.0 documents sent as `application/vnd.api+json`. Only the
//! `Some` fields of an input are written, so an update leaves every other attribute as
//! it is. No call is retried here. A POST that times out or loses its connection may
//! still have created the record, so the caller must look it up (for a person, with
//! [`CasebookClient::people_by_email`]) before it creates it again.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{
    CasebookClient, CasebookNote, CasebookPerson, CasebookTask, SYSTEM, bad_response,
    jsonapi::{Document, PrimaryData, Resource},
    names::{self, Collection, filter_op, note, person, task},
    query::Param,
    unique,
};
use crate::upstream::{
    UpstreamError,
    http::{Call, NotFoundTarget, check_id, encode_path_segment, headers},
};

/// Attributes of a person to write; `None` attributes are left out of the document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CasebookPersonInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Date of birth written `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// Further attributes by their Casebook name, such as tenant-defined ones.
    pub extra: Map<String, Value>,
}

/// Attributes and the person link of a task to write; `None` fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CasebookTaskInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// Written as `status`: `completed` for true, `open` for false.
    pub completed: Option<bool>,
    /// Written as the to-one relationship `person`.
    pub person_id: Option<String>,
}

/// Attributes and people of a note to write; `None` fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CasebookNoteInput {
    pub subject: Option<String>,
    pub body: Option<String>,
    /// One of the six published note types; `names::APPOINTMENT_NOTE_TYPE` for an
    /// appointment.
    pub note_type: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Written as the to-many relationship `people`, which replaces the whole list on
    /// update.
    pub people_ids: Option<Vec<String>>,
}

/// The `attributes` and `relationships` members of one write document.
#[derive(Debug, Default)]
struct Members {
    attributes: Map<String, Value>,
    relationships: Map<String, Value>,
}

impl Members {
    fn text(&mut self, name: &str, value: &Option<String>) {
        if let Some(value) = value {
            self.attributes
                .insert(name.to_string(), Value::String(value.clone()));
        }
    }

    fn time(&mut self, name: &str, value: &Option<DateTime<Utc>>) {
        if let Some(value) = value {
            self.attributes
                .insert(name.to_string(), Value::String(format_time(value)));
        }
    }
}

impl CasebookPersonInput {
    fn members(&self) -> Members {
        let mut members = Members::default();
        members.text(person::FIRST_NAME, &self.first_name);
        members.text(person::LAST_NAME, &self.last_name);
        members.text(person::EMAIL, &self.email);
        members.text(person::PHONE, &self.phone);
        members.text(person::DATE_OF_BIRTH, &self.date_of_birth);
        for (name, value) in &self.extra {
            members.attributes.insert(name.clone(), value.clone());
        }
        members
    }
}

impl CasebookTaskInput {
    fn members(&self) -> Members {
        let mut members = Members::default();
        members.text(task::TITLE, &self.title);
        members.text(task::DESCRIPTION, &self.description);
        members.time(task::DUE_AT, &self.due_at);
        if let Some(completed) = self.completed {
            let status = if completed {
                task::STATUS_COMPLETED
            } else {
                task::STATUS_OPEN
            };
            members
                .attributes
                .insert(task::STATUS.to_string(), Value::String(status.to_string()));
        }
        if let Some(person_id) = &self.person_id {
            members.relationships.insert(
                task::PERSON.to_string(),
                json!({ "data": person_identifier(person_id) }),
            );
        }
        members
    }
}

impl CasebookNoteInput {
    fn members(&self) -> Members {
        let mut members = Members::default();
        members.text(note::SUBJECT, &self.subject);
        members.text(note::BODY, &self.body);
        members.text(note::NOTE_TYPE, &self.note_type);
        members.time(note::OCCURRED_AT, &self.occurred_at);
        members.time(note::ENDS_AT, &self.ends_at);
        if let Some(people_ids) = &self.people_ids {
            let linkage: Vec<Value> = people_ids.iter().map(|id| person_identifier(id)).collect();
            members
                .relationships
                .insert(note::PEOPLE.to_string(), json!({ "data": linkage }));
        }
        members
    }
}

impl CasebookClient {
    /// Creates a person and returns it as stored, with its new id.
    ///
    /// Sent once. A missing or invalid attribute becomes `Rejected` with status 422 and
    /// one message per problem, each naming its `source.pointer`.
    pub async fn create_person(
        &self,
        input: &CasebookPersonInput,
    ) -> Result<CasebookPerson, UpstreamError> {
        let resource = self.create(&names::PEOPLE, input.members()).await?;
        CasebookPerson::from_resource(&resource)
    }

    /// Writes the `Some` attributes of `input` to person `id` and returns the person as
    /// stored. An unknown id becomes `NotFound`.
    pub async fn update_person(
        &self,
        id: &str,
        input: &CasebookPersonInput,
    ) -> Result<CasebookPerson, UpstreamError> {
        let resource = self
            .update(&names::PEOPLE, "person", id, input.members())
            .await?;
        CasebookPerson::from_resource(&resource)
    }

    /// Deletes person `id`. An unknown id becomes `NotFound`.
    pub async fn delete_person(&self, id: &str) -> Result<(), UpstreamError> {
        self.delete(&names::PEOPLE, "person", id).await
    }

    /// Creates a task and returns it as stored. `completed` is sent as `status`
    /// (`completed` or `open`) and `person_id` as the `person` relationship.
    ///
    /// Sent once; see [`CasebookClient::create_person`] for the error cases.
    pub async fn create_task(
        &self,
        input: &CasebookTaskInput,
    ) -> Result<CasebookTask, UpstreamError> {
        let resource = self.create(&names::TASKS, input.members()).await?;
        CasebookTask::from_resource(&resource)
    }

    /// Writes the `Some` fields of `input` to task `id` and returns the task as stored.
    /// An unknown id becomes `NotFound`.
    pub async fn update_task(
        &self,
        id: &str,
        input: &CasebookTaskInput,
    ) -> Result<CasebookTask, UpstreamError> {
        let resource = self
            .update(&names::TASKS, "task", id, input.members())
            .await?;
        CasebookTask::from_resource(&resource)
    }

    /// Deletes task `id`. An unknown id becomes `NotFound`.
    pub async fn delete_task(&self, id: &str) -> Result<(), UpstreamError> {
        self.delete(&names::TASKS, "task", id).await
    }

    /// Creates a note (a Meeting note for an appointment) and returns it as stored.
    /// `people_ids` is sent as the to-many `people` relationship.
    ///
    /// Sent once; see [`CasebookClient::create_person`] for the error cases.
    pub async fn create_note(
        &self,
        input: &CasebookNoteInput,
    ) -> Result<CasebookNote, UpstreamError> {
        let resource = self.create(&names::NOTES, input.members()).await?;
        CasebookNote::from_resource(&resource)
    }

    /// Writes the `Some` fields of `input` to note `id` and returns the note as stored.
    /// `people_ids` replaces the whole list of people. An unknown id becomes `NotFound`.
    pub async fn update_note(
        &self,
        id: &str,
        input: &CasebookNoteInput,
    ) -> Result<CasebookNote, UpstreamError> {
        let resource = self
            .update(&names::NOTES, "note", id, input.members())
            .await?;
        CasebookNote::from_resource(&resource)
    }

    /// Deletes note `id`. An unknown id becomes `NotFound`.
    pub async fn delete_note(&self, id: &str) -> Result<(), UpstreamError> {
        self.delete(&names::NOTES, "note", id).await
    }

    /// People whose e-mail attribute equals one of `emails` exactly (Casebook filters
    /// are case-sensitive), for finding a record after an outcome-unknown create.
    ///
    /// Blank e-mails are skipped. The result is ordered by the position of the e-mail
    /// in `emails`, then by id, and lists each person once.
    pub async fn people_by_email(
        &self,
        emails: &[String],
    ) -> Result<Vec<CasebookPerson>, UpstreamError> {
        let mut seen = HashSet::new();
        let requested: Vec<&str> = emails
            .iter()
            .map(String::as_str)
            .filter(|email| !email.trim().is_empty())
            .filter(|email| seen.insert(*email))
            .collect();
        // The bracket filter splits its value at commas and reads `null` as null, so
        // such e-mails go in a JSON filter each.
        let (listable, single): (Vec<&str>, Vec<&str>) = requested
            .iter()
            .partition(|email| !email.contains(',') && **email != "null");

        let mut resources = self
            .batch(&names::PEOPLE, person::EMAIL, &listable, &[])
            .await?;
        for email in single {
            let filter = json!({ (person::EMAIL): { (filter_op::EQ): email } }).to_string();
            let params: Vec<Param> = vec![("filter".to_string(), filter)];
            resources.extend(self.fetch_all(&names::PEOPLE, &params).await?);
        }

        let mut people = Vec::new();
        for resource in unique(resources) {
            let person = CasebookPerson::from_resource(&resource)?;
            let position = person
                .email
                .as_deref()
                .and_then(|email| requested.iter().position(|candidate| *candidate == email));
            if let Some(position) = position {
                people.push((position, person));
            }
        }
        people.sort_by(|(left_position, left), (right_position, right)| {
            left_position
                .cmp(right_position)
                .then_with(|| left.id.cmp(&right.id))
        });
        Ok(people.into_iter().map(|(_, person)| person).collect())
    }

    /// POSTs a new resource of `collection` and returns the created resource.
    async fn create(
        &self,
        collection: &Collection,
        members: Members,
    ) -> Result<Resource, UpstreamError> {
        let document = write_document(collection, None, members);
        let url = self.inner.upstream.url(&collection.path());
        let body = self
            .send_write(Method::POST, collection.path(), url, Some(document), &[])
            .await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(bad_response(format!(
                "the create of a `{}` resource returned no document, so its id is unknown",
                collection.type_name
            )));
        }
        let resource = single_resource(Document::parse(&body)?, collection)?;
        Ok(resource)
    }

    /// PATCHes resource `id` of `collection` and returns it as stored. A 204 response
    /// carries no document, so the resource is then read with a GET.
    async fn update(
        &self,
        collection: &Collection,
        resource_name: &'static str,
        id: &str,
        members: Members,
    ) -> Result<Resource, UpstreamError> {
        check_id(SYSTEM, resource_name, id)?;
        let document = write_document(collection, Some(id), members);
        let url = self.resource_url(collection, id);
        let targets = [NotFoundTarget {
            resource: resource_name,
            id,
        }];
        let route = format!("{}/{{id}}", collection.path());
        let body = self
            .send_write(Method::PATCH, route, url, Some(document), &targets)
            .await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return self.get_one(collection, resource_name, id).await;
        }

        let resource = single_resource(Document::parse(&body)?, collection)?;
        if !resource.id.eq_ignore_ascii_case(id) {
            return Err(bad_response(format!(
                "updated one `{}` resource and got another id back",
                collection.type_name
            )));
        }
        Ok(resource)
    }

    /// DELETEs resource `id` of `collection`.
    async fn delete(
        &self,
        collection: &Collection,
        resource_name: &'static str,
        id: &str,
    ) -> Result<(), UpstreamError> {
        check_id(SYSTEM, resource_name, id)?;
        let url = self.resource_url(collection, id);
        let targets = [NotFoundTarget {
            resource: resource_name,
            id,
        }];
        let route = format!("{}/{{id}}", collection.path());
        self.send_write(Method::DELETE, route, url, None, &targets)
            .await?;
        Ok(())
    }

    fn resource_url(&self, collection: &Collection, id: &str) -> url::Url {
        let path = format!("{}/{}", collection.path(), encode_path_segment(id));
        self.inner.upstream.url(&path)
    }

    async fn send_write(
        &self,
        method: Method,
        route: String,
        url: url::Url,
        document: Option<Value>,
        targets: &[NotFoundTarget<'_>],
    ) -> Result<Vec<u8>, UpstreamError> {
        let call = Call {
            method,
            route: route.into(),
            url,
            headers: headers(&[
                ("accept", names::MEDIA_TYPE),
                ("accept-version", names::ACCEPT_VERSION),
            ]),
            body: document.map(|document| (document.to_string().into_bytes(), names::MEDIA_TYPE)),
            not_found: targets,
        };
        self.inner.upstream.send(call).await
    }
}

/// Builds `{"data": {"type", "id"?, "attributes", "relationships"?}}`.
fn write_document(collection: &Collection, id: Option<&str>, members: Members) -> Value {
    let mut resource = Map::new();
    resource.insert(
        "type".to_string(),
        Value::String(collection.type_name.to_string()),
    );
    if let Some(id) = id {
        resource.insert("id".to_string(), Value::String(id.to_string()));
    }
    resource.insert("attributes".to_string(), Value::Object(members.attributes));
    if !members.relationships.is_empty() {
        resource.insert(
            "relationships".to_string(),
            Value::Object(members.relationships),
        );
    }
    json!({ "data": resource })
}

fn person_identifier(id: &str) -> Value {
    json!({ "type": names::PEOPLE.type_name, "id": id })
}

/// Writes an instant in RFC 3339 UTC, with a fraction only when it has one.
fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Returns the one resource of a write response after checking its type.
fn single_resource(document: Document, collection: &Collection) -> Result<Resource, UpstreamError> {
    let resource = match document.data {
        PrimaryData::One(resource) => resource,
        PrimaryData::Null | PrimaryData::Many(_) => {
            return Err(bad_response(format!(
                "expected one `{}` resource in the write response",
                collection.type_name
            )));
        }
    };
    resource.expect_type(collection)?;
    Ok(resource)
}

#[cfg(test)]
mod tests;
