//! Casebook records as the gateway uses them, read from JSON:API resources through the
//! names in `names.rs`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    jsonapi::Resource,
    names::{self, note, person, task},
};
use crate::upstream::UpstreamError;

/// One page of a collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Number of matching records across all pages, from `meta.totalResourceCount`.
    pub total: Option<u64>,
}

/// A Casebook person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CasebookPerson {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Date of birth as sent, normally `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Every attribute as sent, for tenant-defined attributes that the field mapping names.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// A Casebook note. Notes of type `names::APPOINTMENT_NOTE_TYPE` represent
/// appointments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CasebookNote {
    pub id: String,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// One of `names::NOTE_TYPES` or `names::APPOINTMENT_NOTE_TYPE`.
    pub note_type: Option<String>,
    /// When the interaction happened; General notes have none.
    pub occurred_at: Option<DateTime<Utc>>,
    /// End of an appointment-like note.
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Ids of the people involved.
    pub people_ids: Vec<String>,
}

/// A Casebook task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CasebookTask {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// True when the task's status is `names::task::STATUS_COMPLETED`.
    pub completed: bool,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Id of the person the task is about.
    pub person_id: Option<String>,
}

impl CasebookPerson {
    /// Reads a `people` resource.
    pub fn from_resource(resource: &Resource) -> Result<CasebookPerson, UpstreamError> {
        resource.expect_type(&names::PEOPLE)?;
        Ok(CasebookPerson {
            id: resource.id.clone(),
            first_name: resource.string(person::FIRST_NAME),
            last_name: resource.string(person::LAST_NAME),
            email: resource.string(person::EMAIL),
            phone: resource.string(person::PHONE),
            date_of_birth: resource.string(person::DATE_OF_BIRTH),
            created_at: resource.time(person::CREATED_AT),
            updated_at: resource.time(person::UPDATED_AT),
            attributes: resource.attributes.clone(),
        })
    }
}

impl CasebookNote {
    /// Reads a `notes` resource.
    pub fn from_resource(resource: &Resource) -> Result<CasebookNote, UpstreamError> {
        resource.expect_type(&names::NOTES)?;
        Ok(CasebookNote {
            id: resource.id.clone(),
            subject: resource.string(note::SUBJECT),
            body: resource.string(note::BODY),
            note_type: resource.string(note::NOTE_TYPE),
            occurred_at: resource.time(note::OCCURRED_AT),
            ends_at: resource.time(note::ENDS_AT),
            created_at: resource.time(note::CREATED_AT),
            updated_at: resource.time(note::UPDATED_AT),
            people_ids: resource.related_ids(note::PEOPLE),
        })
    }

    /// Returns true when this note represents an appointment.
    pub fn is_appointment(&self) -> bool {
        self.note_type.as_deref() == Some(names::APPOINTMENT_NOTE_TYPE)
    }
}

impl CasebookTask {
    /// Reads a `tasks` resource.
    pub fn from_resource(resource: &Resource) -> Result<CasebookTask, UpstreamError> {
        resource.expect_type(&names::TASKS)?;
        let status = resource.string(task::STATUS);
        Ok(CasebookTask {
            id: resource.id.clone(),
            title: resource.string(task::TITLE),
            description: resource.string(task::DESCRIPTION),
            due_at: resource.time(task::DUE_AT),
            completed: status.as_deref() == Some(task::STATUS_COMPLETED),
            completed_at: resource.time(task::COMPLETED_AT),
            created_at: resource.time(task::CREATED_AT),
            updated_at: resource.time(task::UPDATED_AT),
            person_id: resource.related_id(task::PERSON),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::casebook::jsonapi::Document;
    use serde_json::json;

    fn resource(value: serde_json::Value) -> Resource {
        Document::from_value(json!({ "data": value }))
            .unwrap()
            .into_resources()
            .remove(0)
    }

    #[test]
    fn person_attributes_mapped() {
        let person = CasebookPerson::from_resource(&resource(json!({
            "type": names::PEOPLE.type_name, "id": "p1",
            "attributes": {
                (person::FIRST_NAME): "Ada", (person::LAST_NAME): "Abbott",
                (person::EMAIL): "ada@example.org", (person::PHONE): "(555) 010-2345",
                (person::DATE_OF_BIRTH): "1990-02-03",
                (person::CREATED_AT): "2024-01-02T03:04:05Z"
            }
        })))
        .unwrap();
        assert_eq!(person.first_name.as_deref(), Some("Ada"));
        assert_eq!(person.phone.as_deref(), Some("(555) 010-2345"));
        assert_eq!(person.date_of_birth.as_deref(), Some("1990-02-03"));
        assert!(person.created_at.is_some());
        assert_eq!(person.updated_at, None);
    }

    #[test]
    fn note_links_people() {
        let note = CasebookNote::from_resource(&resource(json!({
            "type": names::NOTES.type_name, "id": "n1",
            "attributes": {(note::NOTE_TYPE): names::APPOINTMENT_NOTE_TYPE, (note::OCCURRED_AT): "2024-01-02T03:04:05Z"},
            "relationships": {(note::PEOPLE): {"data": [{"type": "people", "id": "p1"}]}}
        })))
        .unwrap();
        assert_eq!(note.people_ids, vec!["p1"]);
        assert!(note.is_appointment());
        assert!(note.occurred_at.is_some());
    }

    #[test]
    fn task_status_read() {
        let task = CasebookTask::from_resource(&resource(json!({
            "type": names::TASKS.type_name, "id": "t1",
            "attributes": {(task::STATUS): task::STATUS_COMPLETED},
            "relationships": {(task::PERSON): {"data": {"type": "people", "id": "p9"}}}
        })))
        .unwrap();
        assert!(task.completed);
        assert_eq!(task.person_id.as_deref(), Some("p9"));

        let open = CasebookTask::from_resource(&resource(json!({
            "type": names::TASKS.type_name, "id": "t2",
            "attributes": {(task::STATUS): task::STATUS_OPEN}
        })))
        .unwrap();
        assert!(!open.completed);
    }

    #[test]
    fn wrong_type_rejected() {
        let err = CasebookTask::from_resource(&resource(json!({"type": "people", "id": "x"})))
            .unwrap_err();
        assert!(matches!(err, UpstreamError::BadResponse { .. }));
    }
}
