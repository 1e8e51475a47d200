//! GoHighLevel API v2 client. (temporary stub for the lead's branch)
#![allow(unused_variables, dead_code)]
use super::{HttpSettings, UpstreamError};
use chrono::{DateTime, Utc};

pub const CONTACTS_VERSION: &str = "2021-07-28";
pub const CALENDARS_VERSION: &str = "2021-04-15";

#[derive(Clone)]
pub struct GhlClient {
    location_id: String,
}
impl GhlClient {
    pub fn new(
        base_url: url::Url,
        location_id: String,
        token: secrecy::SecretString,
        settings: &HttpSettings,
    ) -> Result<GhlClient, UpstreamError> {
        Ok(GhlClient { location_id })
    }
    pub fn location_id(&self) -> &str {
        &self.location_id
    }
    pub async fn get_contact(&self, id: &str) -> Result<GhlContact, UpstreamError> {
        unimplemented!()
    }
    pub async fn search_contacts(
        &self,
        request: &SearchContactsRequest,
    ) -> Result<SearchContactsResponse, UpstreamError> {
        unimplemented!()
    }
    pub async fn list_tasks(&self, contact_id: &str) -> Result<Vec<GhlTask>, UpstreamError> {
        unimplemented!()
    }
    pub async fn get_task(
        &self,
        contact_id: &str,
        task_id: &str,
    ) -> Result<GhlTask, UpstreamError> {
        unimplemented!()
    }
    pub async fn list_notes(&self, contact_id: &str) -> Result<Vec<GhlNote>, UpstreamError> {
        unimplemented!()
    }
    pub async fn get_note(
        &self,
        contact_id: &str,
        note_id: &str,
    ) -> Result<GhlNote, UpstreamError> {
        unimplemented!()
    }
    pub async fn list_contact_appointments(
        &self,
        contact_id: &str,
    ) -> Result<Vec<GhlAppointment>, UpstreamError> {
        unimplemented!()
    }
    pub async fn get_appointment(&self, event_id: &str) -> Result<GhlAppointment, UpstreamError> {
        unimplemented!()
    }
}
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GhlContact {
    pub id: String,
    pub location_id: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub company_name: Option<String>,
    pub source: Option<String>,
    pub business_id: Option<String>,
    pub date_of_birth: Option<String>,
    pub date_added: Option<String>,
    pub date_updated: Option<String>,
    pub custom_fields: Vec<GhlCustomFieldValue>,
    pub search_after: Option<Vec<serde_json::Value>>,
    pub r#type: Option<String>,
    pub dnd: Option<bool>,
}
impl GhlContact {
    pub fn display_first_name(&self) -> Option<&str> {
        None
    }
    pub fn display_last_name(&self) -> Option<&str> {
        None
    }
    pub fn date_added_utc(&self) -> Option<DateTime<Utc>> {
        None
    }
    pub fn date_updated_utc(&self) -> Option<DateTime<Utc>> {
        None
    }
}
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GhlCustomFieldValue {
    pub id: String,
    pub value: serde_json::Value,
}
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SearchContactsRequest {
    pub page_limit: u32,
    pub page: Option<u32>,
    pub search_after: Option<Vec<serde_json::Value>>,
    pub query: Option<String>,
    pub filters: Vec<SearchFilter>,
    pub sort: Vec<SearchSort>,
}
#[derive(Debug, Clone, serde::Serialize)]
pub enum SearchFilter {
    A,
}
impl SearchFilter {
    pub fn eq(field: &str, value: impl Into<serde_json::Value>) -> SearchFilter {
        SearchFilter::A
    }
    pub fn any(f: Vec<SearchFilter>) -> SearchFilter {
        SearchFilter::A
    }
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchSort {
    pub field: String,
    pub direction: String,
}
#[derive(Debug, Clone, Default)]
pub struct SearchContactsResponse {
    pub contacts: Vec<GhlContact>,
    pub total: Option<u64>,
}
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GhlTask {
    pub id: String,
    pub title: Option<String>,
    pub body: Option<String>,
    pub assigned_to: Option<String>,
    pub due_date: Option<String>,
    pub completed: bool,
    pub contact_id: Option<String>,
}
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GhlNote {
    pub id: String,
    pub body: Option<String>,
    pub user_id: Option<String>,
    pub date_added: Option<String>,
    pub contact_id: Option<String>,
    pub title: Option<String>,
}
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct GhlAppointment {
    pub id: String,
    pub calendar_id: Option<String>,
    pub contact_id: Option<String>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub appointment_status: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub date_added: Option<String>,
    pub address: Option<String>,
    pub notes: Option<String>,
}
pub fn parse_ghl_time(s: &str) -> Option<DateTime<Utc>> {
    None
}
