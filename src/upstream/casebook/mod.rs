//! Casebook client (JSON:API). (temporary stub for the lead's branch)
#![allow(unused_variables, dead_code)]
pub mod names;
use super::{HttpSettings, UpstreamError};
use chrono::{DateTime, Utc};
#[derive(Clone)]
pub struct CasebookClient;
impl CasebookClient {
    pub fn new(
        base_url: url::Url,
        token: secrecy::SecretString,
        settings: &HttpSettings,
    ) -> Result<CasebookClient, UpstreamError> {
        Ok(CasebookClient)
    }
    pub fn with_max_url_length(self, max: usize) -> Self {
        self
    }
    pub async fn search_people(
        &self,
        query: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<Page<CasebookPerson>, UpstreamError> {
        unimplemented!()
    }
    pub async fn get_person(&self, id: &str) -> Result<CasebookPerson, UpstreamError> {
        unimplemented!()
    }
    pub async fn people_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<CasebookPerson>, UpstreamError> {
        unimplemented!()
    }
    pub async fn notes_for_people(
        &self,
        person_ids: &[String],
    ) -> Result<Vec<CasebookNote>, UpstreamError> {
        unimplemented!()
    }
    pub async fn appointments_for_people(
        &self,
        person_ids: &[String],
    ) -> Result<Vec<CasebookNote>, UpstreamError> {
        unimplemented!()
    }
    pub async fn tasks_for_people(
        &self,
        person_ids: &[String],
    ) -> Result<Vec<CasebookTask>, UpstreamError> {
        unimplemented!()
    }
    pub async fn get_note(&self, id: &str) -> Result<CasebookNote, UpstreamError> {
        unimplemented!()
    }
    pub async fn get_task(&self, id: &str) -> Result<CasebookTask, UpstreamError> {
        unimplemented!()
    }
}
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<u64>,
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct CasebookPerson {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct CasebookNote {
    pub id: String,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub note_type: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub people_ids: Vec<String>,
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct CasebookTask {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub completed: bool,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub person_id: Option<String>,
}
