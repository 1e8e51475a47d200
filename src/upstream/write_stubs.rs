//! Placeholder write API until the client branches land; removed at merge.
#![allow(dead_code, unused_variables, missing_docs)]

use serde::Serialize;

use super::{
    UpstreamError,
    ghl::{GhlAppointment, GhlClient, GhlContact, GhlNote, GhlTask},
};

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlContactInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tags: Option<Vec<String>>,
    pub company_name: Option<String>,
    pub source: Option<String>,
    pub date_of_birth: Option<String>,
    pub custom_fields: Option<Vec<GhlCustomFieldInput>>,
}
#[derive(Debug, Clone, Serialize)]
pub struct GhlCustomFieldInput {
    pub id: Option<String>,
    pub key: Option<String>,
    pub field_value: serde_json::Value,
}
#[derive(Debug, Clone, Default, Serialize)]
pub struct GhlTaskInput {
    pub title: Option<String>,
    pub body: Option<String>,
    pub due_date: Option<String>,
    pub completed: Option<bool>,
    pub assigned_to: Option<String>,
}
#[derive(Debug, Clone, Default, Serialize)]
pub struct GhlNoteInput {
    pub body: Option<String>,
    pub title: Option<String>,
    pub user_id: Option<String>,
}
#[derive(Debug, Clone, Default, Serialize)]
pub struct GhlAppointmentInput {
    pub calendar_id: Option<String>,
    pub contact_id: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub title: Option<String>,
    pub appointment_status: Option<String>,
    pub address: Option<String>,
    pub description: Option<String>,
    pub ignore_free_slot_validation: Option<bool>,
}

impl GhlClient {
    pub async fn create_contact(
        &self,
        input: &GhlContactInput,
    ) -> Result<GhlContact, UpstreamError> {
        unimplemented!()
    }
    pub async fn update_contact(
        &self,
        id: &str,
        input: &GhlContactInput,
    ) -> Result<GhlContact, UpstreamError> {
        unimplemented!()
    }
    pub async fn upsert_contact(
        &self,
        input: &GhlContactInput,
    ) -> Result<(bool, GhlContact), UpstreamError> {
        unimplemented!()
    }
    pub async fn delete_contact(&self, id: &str) -> Result<(), UpstreamError> {
        unimplemented!()
    }
    pub async fn add_tags(&self, id: &str, tags: &[String]) -> Result<Vec<String>, UpstreamError> {
        unimplemented!()
    }
    pub async fn remove_tags(
        &self,
        id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, UpstreamError> {
        unimplemented!()
    }
    pub async fn create_task(
        &self,
        contact_id: &str,
        input: &GhlTaskInput,
    ) -> Result<GhlTask, UpstreamError> {
        unimplemented!()
    }
    pub async fn update_task(
        &self,
        contact_id: &str,
        task_id: &str,
        input: &GhlTaskInput,
    ) -> Result<GhlTask, UpstreamError> {
        unimplemented!()
    }
    pub async fn complete_task(
        &self,
        contact_id: &str,
        task_id: &str,
        completed: bool,
    ) -> Result<GhlTask, UpstreamError> {
        unimplemented!()
    }
    pub async fn delete_task(&self, contact_id: &str, task_id: &str) -> Result<(), UpstreamError> {
        unimplemented!()
    }
    pub async fn create_note(
        &self,
        contact_id: &str,
        input: &GhlNoteInput,
    ) -> Result<GhlNote, UpstreamError> {
        unimplemented!()
    }
    pub async fn update_note(
        &self,
        contact_id: &str,
        note_id: &str,
        input: &GhlNoteInput,
    ) -> Result<GhlNote, UpstreamError> {
        unimplemented!()
    }
    pub async fn delete_note(&self, contact_id: &str, note_id: &str) -> Result<(), UpstreamError> {
        unimplemented!()
    }
    pub async fn create_appointment(
        &self,
        input: &GhlAppointmentInput,
    ) -> Result<GhlAppointment, UpstreamError> {
        unimplemented!()
    }
    pub async fn update_appointment(
        &self,
        event_id: &str,
        input: &GhlAppointmentInput,
    ) -> Result<GhlAppointment, UpstreamError> {
        unimplemented!()
    }
    pub async fn delete_appointment(&self, event_id: &str) -> Result<(), UpstreamError> {
        unimplemented!()
    }
}
