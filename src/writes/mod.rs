//! Write-through to both systems: validation, order, links, outbox and idempotency.
//!
//! A mutation runs in these steps:
//! 1. The GraphQL layer validates the whole input (`fields::Checker`); invalid input
//!    writes nothing.
//! 2. `Writes::idempotent` looks up the idempotency key; a replay returns the stored
//!    outcome and writes nothing, and a concurrent call with the same key waits for it.
//! 3. The system of record of the entity kind is written first, then the other system.
//!    A definite rejection of the first write ends the mutation with nothing written.
//! 4. Native ids of created records are stored in the link tables, and the cache
//!    entries the write touched are invalidated.
//! 5. A write that fails for a transient reason goes to the outbox (`PENDING`); the
//!    worker in `worker.rs` retries it with backoff. A definite rejection of the second
//!    write is kept there as `FAILED` so that `retrySync` can queue it again.

pub mod fields;
pub mod ops;
pub mod state;
pub mod worker;

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tracing::warn;

use self::{
    fields::{AppointmentFields, ContactFields, FieldError, NoteFields, TaskFields},
    ops::SideWrite,
    state::{IdempotencyKeys, KeyState, Outbox, RecordKind, RecordLinks},
};
use crate::{
    cache::{self, RecordCache},
    identity::{KeyKind, MatchKey},
    store::{ContactLink, LinkMethod, LinkStore, StoreError},
    tenant::Tenant,
    upstream::{System, UpstreamError},
};

/// A configured system, as written in the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemName {
    Casebook,
    Ghl,
}

impl SystemName {
    fn system(self) -> System {
        match self {
            SystemName::Casebook => System::Casebook,
            SystemName::Ghl => System::Ghl,
        }
    }
}

/// Which system is written first for each entity kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemOfRecord {
    pub contact: SystemName,
    pub task: SystemName,
    pub note: SystemName,
    pub appointment: SystemName,
}

impl Default for SystemOfRecord {
    fn default() -> Self {
        SystemOfRecord {
            contact: SystemName::Casebook,
            task: SystemName::Casebook,
            note: SystemName::Casebook,
            appointment: SystemName::Ghl,
        }
    }
}

/// Write settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriteConfig {
    /// The system written first, per entity kind. Default Casebook, except appointments (GHL).
    pub system_of_record: SystemOfRecord,
    /// Attempts of an outbox entry before it is marked failed. Default 12.
    pub max_attempts: u32,
    /// First retry delay of the outbox, in milliseconds; it doubles per attempt. Default 500.
    pub backoff_base_ms: u64,
    /// Longest retry delay, in milliseconds. Default 60000.
    pub backoff_max_ms: u64,
    /// How long a worker holds an entry before another process may take it, in seconds. Default 60.
    pub lease_s: u64,
    /// How long a mutation waits for another call with the same idempotency key, in seconds. Default 30.
    pub idempotency_wait_s: u64,
    /// GHL calendar for appointments created without a `calendarId`. Default none.
    pub default_calendar_id: Option<String>,
    /// Casebook person attributes written to GHL custom fields, and read back from them.
    pub field_mapping: Vec<fields::FieldMapping>,
}

impl Default for WriteConfig {
    fn default() -> Self {
        WriteConfig {
            system_of_record: SystemOfRecord::default(),
            max_attempts: 12,
            backoff_base_ms: 500,
            backoff_max_ms: 60_000,
            lease_s: 60,
            idempotency_wait_s: 30,
            default_calendar_id: None,
            field_mapping: Vec::new(),
        }
    }
}

impl WriteConfig {
    /// Checks the values, naming the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 || self.backoff_base_ms == 0 || self.lease_s == 0 {
            return Err(
                "writes.max_attempts, writes.backoff_base_ms and writes.lease_s must be at least 1"
                    .to_string(),
            );
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            return Err(format!(
                "writes.backoff_max_ms ({}) is below writes.backoff_base_ms ({}): raise it",
                self.backoff_max_ms, self.backoff_base_ms
            ));
        }
        Ok(())
    }
}

/// Where a write stands on one system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum SyncStatus {
    /// Written.
    Synced,
    /// Waiting in the outbox; the worker will finish it.
    Pending,
    /// The system rejected the write; see `pendingSyncs` and `retrySync`.
    Failed,
    /// The write does not concern this system.
    NotApplicable,
}

/// A child record touched by a mutation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub kind: RecordKind,
    pub casebook_id: Option<String>,
    pub ghl_id: Option<String>,
    pub ghl_contact_id: Option<String>,
}

/// The sides of an existing task, note or appointment: `(native id, owner)` per system,
/// where the owner is the Casebook person id or the GHL contact id.
#[derive(Debug, Clone, Default)]
pub struct RecordTarget {
    /// The record link, when the record was written through the gateway.
    pub link_id: Option<String>,
    /// The gateway contact, when known.
    pub contact_id: Option<String>,
    pub casebook: Option<(String, String)>,
    pub ghl: Option<(String, String)>,
}

/// What a mutation did; stored under its idempotency key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The gateway contact the mutation concerns.
    pub contact_id: Option<String>,
    pub record: Option<RecordRef>,
    /// The global id of a deleted object.
    pub deleted_id: Option<String>,
    pub casebook: Option<SyncStatus>,
    pub ghl: Option<SyncStatus>,
    /// Outbox entries the mutation left behind.
    pub sync_ids: Vec<String>,
}

impl Outcome {
    fn status(&self, system: System) -> SyncStatus {
        match system {
            System::Casebook => self.casebook,
            System::Ghl => self.ghl,
        }
        .unwrap_or(SyncStatus::NotApplicable)
    }

    fn set(&mut self, system: System, side: &SideOutcome) {
        let status = Some(side.status);
        match system {
            System::Casebook => self.casebook = status,
            System::Ghl => self.ghl = status,
        }
        if let Some(job) = &side.job_id {
            self.sync_ids.push(job.clone());
        }
    }

    /// The status on Casebook.
    pub fn casebook_status(&self) -> SyncStatus {
        self.status(System::Casebook)
    }

    /// The status on GHL.
    pub fn ghl_status(&self) -> SyncStatus {
        self.status(System::Ghl)
    }
}

/// A mutation that could not run.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Upstream(UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the idempotency key was already used for a different mutation or input")]
    KeyMismatch,
    #[error("another request with the same idempotency key is still running")]
    KeyBusy,
}

/// The result of one side's write.
#[derive(Debug, Clone)]
struct SideOutcome {
    status: SyncStatus,
    job_id: Option<String>,
    error: Option<UpstreamError>,
}

impl SideOutcome {
    fn not_applicable() -> SideOutcome {
        SideOutcome {
            status: SyncStatus::NotApplicable,
            job_id: None,
            error: None,
        }
    }
}

/// The write service shared by all requests.
pub struct Writes {
    store: LinkStore,
    records: RecordLinks,
    outbox: Outbox,
    keys: IdempotencyKeys,
    cache: RecordCache,
    config: WriteConfig,
    wake: Arc<Notify>,
}

fn other(system: System) -> System {
    match system {
        System::Casebook => System::Ghl,
        System::Ghl => System::Casebook,
    }
}

impl Writes {
    pub fn new(store: LinkStore, cache: RecordCache, config: WriteConfig) -> Writes {
        let pool = store.pool().clone();
        Writes {
            store,
            records: RecordLinks::new(pool.clone()),
            outbox: Outbox::new(pool.clone()),
            keys: IdempotencyKeys::new(pool),
            cache,
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn records(&self) -> &RecordLinks {
        &self.records
    }

    pub fn config(&self) -> &WriteConfig {
        &self.config
    }

    /// Drops the tenant's cached list pages and query responses, which include the
    /// outbox views, after an outbox entry changed.
    pub fn forget_views(&self, tenant: &str) {
        self.cache.invalidate_lists(tenant);
    }

    /// Wakes the worker, after an entry was queued.
    pub fn wake_worker(&self) {
        self.wake.notify_one();
    }

    /// Runs `run` once per idempotency key.
    ///
    /// Without a key, `run` simply runs. With a key, the first call runs and stores its
    /// outcome; a later call with the same key and request returns that outcome, and a
    /// concurrent one waits for it.
    pub async fn idempotent<F>(
        &self,
        tenant: &str,
        key: Option<&str>,
        request: &str,
        run: F,
    ) -> Result<Outcome, WriteError>
    where
        F: Future<Output = Result<Outcome, WriteError>>,
    {
        let Some(key) = key else {
            return run.await;
        };
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(self.config.idempotency_wait_s);
        loop {
            match self.keys.claim(tenant, key, request).await? {
                KeyState::Claimed => break,
                KeyState::Done(stored) => {
                    return serde_json::from_str(&stored).map_err(|error| {
                        WriteError::Conflict(format!(
                            "the stored outcome could not be read: {error}"
                        ))
                    });
                }
                KeyState::Mismatch => return Err(WriteError::KeyMismatch),
                KeyState::InProgress if tokio::time::Instant::now() >= deadline => {
                    return Err(WriteError::KeyBusy);
                }
                KeyState::InProgress => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
        let result = run.await;
        match &result {
            Ok(outcome) => {
                let stored = serde_json::to_string(outcome).unwrap_or_default();
                self.keys.finish(tenant, key, &stored).await?;
            }
            Err(_) => self.keys.release(tenant, key).await?,
        }
        result
    }

    /// Runs one side's write now; a failure goes to the outbox.
    async fn write_side(
        &self,
        tenant: &Tenant,
        system: System,
        write: SideWrite,
    ) -> Result<SideOutcome, StoreError> {
        match ops::execute(tenant, system, &write).await {
            Ok(created) => match self.apply(tenant, system, &write, created.as_deref()).await {
                Ok(()) => Ok(SideOutcome {
                    status: SyncStatus::Synced,
                    job_id: None,
                    error: None,
                }),
                // The upstream matched a record that another contact already owns, such as
                // GHL answering a create with an existing contact's id.
                Err(StoreError::Conflict(reason)) => {
                    warn!(tenant = %tenant.id, system = %system, reason = %reason, "write matched a record of another contact");
                    let operation = serde_json::to_string(&write).unwrap_or_default();
                    let job = self
                        .outbox
                        .enqueue_failed(
                            &tenant.id,
                            system,
                            &operation,
                            write.summary(),
                            "CONFLICT",
                            false,
                            None,
                        )
                        .await?;
                    Ok(SideOutcome {
                        status: SyncStatus::Failed,
                        job_id: Some(job),
                        error: Some(UpstreamError::Duplicate {
                            system,
                            existing_id: created,
                            detail: reason,
                        }),
                    })
                }
                Err(error) => Err(error),
            },
            Err(error) => {
                let operation = serde_json::to_string(&write).unwrap_or_default();
                let unknown = write.is_create() && error.outcome_unknown();
                warn!(
                    tenant = %tenant.id, system = %system, operation = write.summary(),
                    code = error.code(), error = %error, transient = error.is_transient(),
                    "write failed; recorded in the outbox"
                );
                // The failed call was the first attempt; the worker makes the next one
                // after the first backoff delay or the wait the error names.
                let retry_at = error
                    .is_transient()
                    .then(|| worker::next_attempt_at(&self.config, 1, &error));
                let job = self
                    .outbox
                    .enqueue_failed(
                        &tenant.id,
                        system,
                        &operation,
                        write.summary(),
                        error.code(),
                        unknown,
                        retry_at,
                    )
                    .await?;
                let status = if retry_at.is_some() {
                    self.wake_worker();
                    SyncStatus::Pending
                } else {
                    SyncStatus::Failed
                };
                Ok(SideOutcome {
                    status,
                    job_id: Some(job),
                    error: Some(error),
                })
            }
        }
    }

    /// Records what a successful write created and drops the cache entries it touched.
    pub(crate) async fn apply(
        &self,
        tenant: &Tenant,
        system: System,
        write: &SideWrite,
        created: Option<&str>,
    ) -> Result<(), StoreError> {
        let tenant_key: Arc<str> = Arc::from(tenant.id.as_str());
        match (write, created) {
            (SideWrite::CreateContact { contact_id, .. }, Some(native)) => {
                self.store
                    .set_native_id(&tenant.id, contact_id, system, native)
                    .await?;
                self.cache
                    .invalidate_contact(&tenant_key, system, native)
                    .await;
            }
            (
                SideWrite::CreateTask {
                    record_id, owner, ..
                }
                | SideWrite::CreateNote {
                    record_id, owner, ..
                }
                | SideWrite::CreateAppointment {
                    record_id, owner, ..
                },
                Some(native),
            ) => {
                self.records
                    .set_native_id(&tenant.id, record_id, system, native)
                    .await?;
                self.cache
                    .invalidate_contact(&tenant_key, system, owner)
                    .await;
            }
            (
                SideWrite::UpdateContact { native_id, .. }
                | SideWrite::DeleteContact { native_id }
                | SideWrite::AddTags { native_id, .. }
                | SideWrite::RemoveTags { native_id, .. },
                _,
            ) => {
                self.cache
                    .invalidate_contact(&tenant_key, system, native_id)
                    .await
            }
            (
                SideWrite::UpdateTask { owner, .. }
                | SideWrite::DeleteTask { owner, .. }
                | SideWrite::UpdateNote { owner, .. }
                | SideWrite::DeleteNote { owner, .. }
                | SideWrite::UpdateAppointment { owner, .. }
                | SideWrite::DeleteAppointment { owner, .. },
                _,
            ) => {
                for kind in [
                    cache::RecordKind::Tasks,
                    cache::RecordKind::Notes,
                    cache::RecordKind::Appointments,
                ] {
                    self.cache
                        .invalidate_record(&tenant_key, system, kind, owner)
                        .await;
                }
            }
            _ => {}
        }
        self.cache.invalidate_lists(&tenant.id);
        Ok(())
    }

    /// Writes the system of record first, then the other system. A definite rejection
    /// of the first write stops before the second.
    async fn write_both(
        &self,
        tenant: &Tenant,
        first: System,
        writes: [(System, Option<SideWrite>); 2],
    ) -> Result<(Outcome, Option<UpstreamError>), WriteError> {
        let mut outcome = Outcome::default();
        let mut ordered = writes;
        ordered.sort_by_key(|(system, _)| *system != first);
        let mut first_error = None;
        for (index, (system, write)) in ordered.into_iter().enumerate() {
            let side = match write {
                Some(write) => self.write_side(tenant, system, write).await?,
                None => SideOutcome::not_applicable(),
            };
            if index == 0
                && side.status == SyncStatus::Failed
                && let Some(error) = side.error.clone()
            {
                // Nothing was written and the caller gets the error, so no entry is kept.
                if let Some(job) = &side.job_id {
                    self.outbox.delete(&tenant.id, job).await?;
                }
                return Err(WriteError::Upstream(error));
            }
            if first_error.is_none() {
                first_error = side.error.clone();
            }
            outcome.set(system, &side);
        }
        Ok((outcome, first_error))
    }

    /// Creates a contact on both systems and links the two records.
    pub async fn create_contact(
        &self,
        tenant: &Tenant,
        fields: ContactFields,
    ) -> Result<Outcome, WriteError> {
        let link = self
            .store
            .create_contact(&tenant.id, LinkMethod::Gateway)
            .await?;
        let write = |_: System| {
            Some(SideWrite::CreateContact {
                contact_id: link.id.clone(),
                fields: fields.clone(),
            })
        };
        let first = self.config.system_of_record.contact.system();
        let result = self
            .write_both(
                tenant,
                first,
                [
                    (System::Casebook, write(System::Casebook)),
                    (System::Ghl, write(System::Ghl)),
                ],
            )
            .await;
        match result {
            Ok((mut outcome, _)) => {
                outcome.contact_id = Some(link.id);
                Ok(outcome)
            }
            Err(error) => {
                self.store.delete_contact(&tenant.id, &link.id).await?;
                Err(error)
            }
        }
    }

    /// Changes the fields of a contact on every system that has it.
    pub async fn update_contact(
        &self,
        tenant: &Tenant,
        link: &ContactLink,
        fields: ContactFields,
    ) -> Result<Outcome, WriteError> {
        let write = |native: &Option<String>| {
            native.clone().map(|native_id| SideWrite::UpdateContact {
                native_id,
                fields: fields.clone(),
            })
        };
        let first = self.config.system_of_record.contact.system();
        let (mut outcome, _) = self
            .write_both(
                tenant,
                first,
                [
                    (System::Casebook, write(&link.casebook_id)),
                    (System::Ghl, write(&link.ghl_id)),
                ],
            )
            .await?;
        outcome.contact_id = Some(link.id.clone());
        Ok(outcome)
    }

    /// Finds the contact that `fields` match by e-mail or phone, as GHL's upsert does.
    pub async fn find_match(
        &self,
        tenant: &Tenant,
        fields: &ContactFields,
    ) -> Result<Option<ContactLink>, WriteError> {
        let mut keys = Vec::new();
        if let Some(email) = fields
            .email
            .as_deref()
            .and_then(crate::identity::normalize_email)
        {
            keys.push(MatchKey {
                kind: KeyKind::Email,
                value: email,
            });
        }
        if let Some(phone) = &fields.phone {
            keys.push(MatchKey {
                kind: KeyKind::Phone,
                value: phone.clone(),
            });
        }
        // E-mail first, then phone, like GHL's default priority.
        for key in &keys {
            for system in [System::Casebook, System::Ghl] {
                let found = self
                    .store
                    .records_with_keys(&tenant.id, system, std::slice::from_ref(key))
                    .await?;
                let ids: Vec<String> = found.into_iter().map(|(id, _)| id).collect();
                let links = self.store.by_native_ids(&tenant.id, system, &ids).await?;
                let mut distinct: Vec<ContactLink> = Vec::new();
                for link in links.into_values() {
                    if !distinct.iter().any(|known| known.id == link.id) {
                        distinct.push(link);
                    }
                }
                match distinct.len() {
                    0 => {}
                    1 => return Ok(distinct.pop()),
                    _ => {
                        return Err(WriteError::Conflict(format!(
                            "the {} matches {} contacts: update one of them by id",
                            key.kind.as_str(),
                            distinct.len()
                        )));
                    }
                }
            }
        }
        // Records created in GHL since the last scan are found through GHL's own lookup.
        if let Some(contact) = tenant
            .ghl
            .find_duplicate(fields.email.as_deref(), fields.phone.as_deref())
            .await
            .map_err(WriteError::Upstream)?
        {
            let links = self
                .store
                .ensure_native_ids(&tenant.id, System::Ghl, std::slice::from_ref(&contact.id))
                .await?;
            return Ok(links.get(&contact.id).cloned());
        }
        Ok(None)
    }

    /// Deletes a contact on every system that has it, then its link.
    pub async fn delete_contact(
        &self,
        tenant: &Tenant,
        link: &ContactLink,
    ) -> Result<Outcome, WriteError> {
        let write = |native: &Option<String>| {
            native
                .clone()
                .map(|native_id| SideWrite::DeleteContact { native_id })
        };
        let first = self.config.system_of_record.contact.system();
        let (outcome, _) = self
            .write_both(
                tenant,
                first,
                [
                    (System::Casebook, write(&link.casebook_id)),
                    (System::Ghl, write(&link.ghl_id)),
                ],
            )
            .await?;
        self.store.delete_contact(&tenant.id, &link.id).await?;
        Ok(outcome)
    }

    /// Adds or removes GHL tags; Casebook has no tags.
    pub async fn change_tags(
        &self,
        tenant: &Tenant,
        link: &ContactLink,
        tags: Vec<String>,
        add: bool,
    ) -> Result<Outcome, WriteError> {
        let Some(native_id) = link.ghl_id.clone() else {
            return Err(WriteError::Invalid(vec![FieldError {
                field: "input.id".to_string(),
                message: "the contact has no GHL record, and tags exist only in GHL: link a GHL contact first".to_string(),
            }]));
        };
        let write = if add {
            SideWrite::AddTags { native_id, tags }
        } else {
            SideWrite::RemoveTags { native_id, tags }
        };
        let (mut outcome, _) = self
            .write_both(
                tenant,
                System::Ghl,
                [(System::Ghl, Some(write)), (System::Casebook, None)],
            )
            .await?;
        outcome.contact_id = Some(link.id.clone());
        Ok(outcome)
    }

    /// Creates a task, note or appointment on every system the contact exists on.
    pub async fn create_record(
        &self,
        tenant: &Tenant,
        link: &ContactLink,
        kind: RecordKind,
        build: impl Fn(String, String) -> SideWrite,
    ) -> Result<Outcome, WriteError> {
        let record = self
            .records
            .create(&tenant.id, kind, &link.id, link.ghl_id.as_deref())
            .await?;
        let write =
            |owner: &Option<String>| owner.clone().map(|owner| build(record.id.clone(), owner));
        let first = self.first_for(kind);
        let result = self
            .write_both(
                tenant,
                first,
                [
                    (System::Casebook, write(&link.casebook_id)),
                    (System::Ghl, write(&link.ghl_id)),
                ],
            )
            .await;
        let (mut outcome, _) = match result {
            Ok(done) => done,
            Err(error) => {
                self.records.delete(&tenant.id, &record.id).await?;
                return Err(error);
            }
        };
        let stored = self
            .records
            .find_by_id(&tenant.id, &record.id)
            .await?
            .unwrap_or(record);
        outcome.contact_id = Some(link.id.clone());
        outcome.record = Some(RecordRef {
            kind,
            casebook_id: stored.casebook_id,
            ghl_id: stored.ghl_id,
            ghl_contact_id: stored.ghl_contact_id,
        });
        Ok(outcome)
    }

    /// Changes or deletes a task, note or appointment on every system that has it.
    ///
    /// `build` receives the owner (person or contact id) and the native id of one side.
    pub async fn change_record(
        &self,
        tenant: &Tenant,
        kind: RecordKind,
        target: &RecordTarget,
        build: impl Fn(String, String) -> SideWrite,
        deleting: bool,
    ) -> Result<Outcome, WriteError> {
        let casebook = target.casebook.clone().map(|(id, owner)| build(owner, id));
        let ghl = target.ghl.clone().map(|(id, owner)| build(owner, id));
        let first = self.first_for(kind);
        let (mut outcome, _) = self
            .write_both(
                tenant,
                first,
                [(System::Casebook, casebook), (System::Ghl, ghl)],
            )
            .await?;
        if deleting && let Some(link_id) = &target.link_id {
            self.records.delete(&tenant.id, link_id).await?;
        }
        outcome.contact_id = target.contact_id.clone();
        outcome.record = Some(RecordRef {
            kind,
            casebook_id: target.casebook.as_ref().map(|(id, _)| id.clone()),
            ghl_id: target.ghl.as_ref().map(|(id, _)| id.clone()),
            ghl_contact_id: target.ghl.as_ref().map(|(_, owner)| owner.clone()),
        });
        Ok(outcome)
    }

    /// The system written first for `kind`, whose copy reads show for linked entries.
    pub fn system_of_record(&self, kind: RecordKind) -> System {
        self.first_for(kind)
    }

    fn first_for(&self, kind: RecordKind) -> System {
        let of_record = &self.config.system_of_record;
        match kind {
            RecordKind::Task => of_record.task.system(),
            RecordKind::Note => of_record.note.system(),
            RecordKind::Appointment => of_record.appointment.system(),
        }
    }

    /// Task fields for a create.
    pub fn task_create(fields: TaskFields) -> impl Fn(String, String) -> SideWrite {
        move |record_id, owner| SideWrite::CreateTask {
            record_id,
            owner,
            fields: fields.clone(),
        }
    }

    /// Note fields for a create.
    pub fn note_create(fields: NoteFields) -> impl Fn(String, String) -> SideWrite {
        move |record_id, owner| SideWrite::CreateNote {
            record_id,
            owner,
            fields: fields.clone(),
        }
    }

    /// Appointment fields for a create.
    pub fn appointment_create(fields: AppointmentFields) -> impl Fn(String, String) -> SideWrite {
        move |record_id, owner| SideWrite::CreateAppointment {
            record_id,
            owner,
            fields: fields.clone(),
        }
    }

    /// Same system, other side.
    pub fn other_system(system: System) -> System {
        other(system)
    }
}
