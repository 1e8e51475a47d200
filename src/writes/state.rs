//! The write-side tables: record links, the outbox and idempotency keys.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{AnyPool, Row, any::AnyRow};
use uuid::Uuid;

use crate::{
    store::{Backend, MAX_BIND, StoreError, numbered_placeholders},
    upstream::System,
};

/// Timestamps are stored as RFC 3339 UTC text with milliseconds, which sorts by time.
pub fn timestamp(moment: DateTime<Utc>) -> String {
    moment.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|moment| moment.with_timezone(&Utc))
}

/// The kind of a linked child record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Task,
    Note,
    Appointment,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Task => "task",
            RecordKind::Note => "note",
            RecordKind::Appointment => "appointment",
        }
    }

    /// Reads the value `as_str` stores; `None` for any other text.
    fn from_db(value: &str) -> Option<RecordKind> {
        match value {
            "task" => Some(RecordKind::Task),
            "note" => Some(RecordKind::Note),
            "appointment" => Some(RecordKind::Appointment),
            _ => None,
        }
    }
}

/// A task, note or appointment written to both systems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLink {
    pub id: String,
    pub contact_id: String,
    pub casebook_id: Option<String>,
    pub ghl_id: Option<String>,
    pub ghl_contact_id: Option<String>,
}

/// Record links of one database.
#[derive(Clone)]
pub struct RecordLinks {
    pool: AnyPool,
}

impl RecordLinks {
    pub fn new(pool: AnyPool) -> RecordLinks {
        RecordLinks { pool }
    }

    /// Creates a link with no native id yet.
    pub async fn create(
        &self,
        tenant: &str,
        kind: RecordKind,
        contact_id: &str,
        ghl_contact_id: Option<&str>,
    ) -> Result<RecordLink, StoreError> {
        let id = Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO record_links (id, tenant, kind, contact_id, ghl_contact_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(kind.as_str())
        .bind(contact_id)
        .bind(ghl_contact_id)
        .bind(timestamp(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(RecordLink {
            id,
            contact_id: contact_id.to_string(),
            casebook_id: None,
            ghl_id: None,
            ghl_contact_id: ghl_contact_id.map(str::to_string),
        })
    }

    /// Records the native id of one side.
    pub async fn set_native_id(
        &self,
        tenant: &str,
        id: &str,
        system: System,
        native_id: &str,
    ) -> Result<(), StoreError> {
        let column = match system {
            System::Casebook => "casebook_id",
            System::Ghl => "ghl_id",
        };
        sqlx::query(&format!(
            "UPDATE record_links SET {column} = $1 WHERE tenant = $2 AND id = $3"
        ))
        .bind(native_id)
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The link of a native record, if it was written through the gateway.
    pub async fn find(
        &self,
        tenant: &str,
        kind: RecordKind,
        system: System,
        native_id: &str,
    ) -> Result<Option<RecordLink>, StoreError> {
        let column = match system {
            System::Casebook => "casebook_id",
            System::Ghl => "ghl_id",
        };
        let row = sqlx::query(&format!(
            "SELECT id, contact_id, casebook_id, ghl_id, ghl_contact_id FROM record_links
             WHERE tenant = $1 AND kind = $2 AND {column} = $3"
        ))
        .bind(tenant)
        .bind(kind.as_str())
        .bind(native_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| record_from_row(&row)))
    }

    /// A link by its own id.
    pub async fn find_by_id(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<RecordLink>, StoreError> {
        let row = sqlx::query(
            "SELECT id, contact_id, casebook_id, ghl_id, ghl_contact_id FROM record_links WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| record_from_row(&row)))
    }

    /// Reads every link under each of `contact_ids`, with its kind, keyed by contact id.
    /// Contacts without links are absent from the map.
    pub async fn for_contacts(
        &self,
        tenant: &str,
        contact_ids: &[String],
    ) -> Result<HashMap<String, Vec<(RecordKind, RecordLink)>>, StoreError> {
        let mut found: HashMap<String, Vec<(RecordKind, RecordLink)>> = HashMap::new();
        for chunk in contact_ids.chunks(MAX_BIND) {
            let sql = format!(
                "SELECT id, kind, contact_id, casebook_id, ghl_id, ghl_contact_id FROM record_links
                 WHERE tenant = $1 AND contact_id IN ({})",
                numbered_placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(tenant);
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let Some(kind) = RecordKind::from_db(row.get::<&str, _>("kind")) else {
                    continue;
                };
                let link = record_from_row(&row);
                found
                    .entry(link.contact_id.clone())
                    .or_default()
                    .push((kind, link));
            }
        }
        Ok(found)
    }

    /// Removes a link.
    pub async fn delete(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM record_links WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn record_from_row(row: &AnyRow) -> RecordLink {
    RecordLink {
        id: row.get("id"),
        contact_id: row.get("contact_id"),
        casebook_id: row.get("casebook_id"),
        ghl_id: row.get("ghl_id"),
        ghl_contact_id: row.get("ghl_contact_id"),
    }
}

/// State of an outbox entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum JobStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A worker is running it.
    Running,
    /// Written upstream.
    Done,
    /// Gave up; `retrySync` queues it again.
    Failed,
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    fn from_db(value: &str) -> JobStatus {
        match value {
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            _ => JobStatus::Pending,
        }
    }
}

/// One outbox entry.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub tenant: String,
    pub system: System,
    pub operation: String,
    pub summary: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub outcome_unknown: bool,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The end of the lease as stored, set while the entry is `running`. Each claim writes a
    /// new value, so a report with an older value comes from a worker that lost the entry.
    pub lease_until: Option<String>,
}

/// The outcome of recording an attempt's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Yes,
    /// The lease expired and another worker claimed the entry, so this result was dropped.
    LeaseLost,
}

/// The durable outbox.
#[derive(Clone)]
pub struct Outbox {
    pool: AnyPool,
    backend: Backend,
}

const JOB_COLUMNS: &str =
    "id, tenant, system, operation, summary, status, attempts, outcome_unknown,
    next_attempt_at, last_error, created_at, updated_at, lease_until";

impl Outbox {
    pub fn new(pool: AnyPool) -> Outbox {
        let backend = Backend::of_pool(&pool);
        Outbox { pool, backend }
    }

    /// Adds a write to run as soon as a worker is free.
    pub async fn enqueue(
        &self,
        tenant: &str,
        system: System,
        operation: &str,
        summary: &str,
        outcome_unknown: bool,
        last_error: Option<&str>,
    ) -> Result<String, StoreError> {
        let id = Uuid::new_v4().to_string();
        let now = timestamp(Utc::now());
        sqlx::query(
            "INSERT INTO outbox (id, tenant, system, operation, summary, status, attempts, outcome_unknown,
                                 next_attempt_at, last_error, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(system.as_str())
        .bind(operation)
        .bind(summary)
        .bind(i64::from(outcome_unknown))
        .bind(&now)
        .bind(last_error)
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Records a write whose first attempt failed with `error`, in the state that
    /// [`Outbox::fail`] leaves: it runs again at `retry_at`, or is marked failed when
    /// `retry_at` is `None`.
    ///
    /// The entry is written whole in one statement. An `enqueue` followed by `fail` would
    /// leave a moment in which a worker, of this process or another, can take the entry
    /// before its retry time.
    #[allow(clippy::too_many_arguments)]
    pub async fn enqueue_failed(
        &self,
        tenant: &str,
        system: System,
        operation: &str,
        summary: &str,
        error: &str,
        outcome_unknown: bool,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<String, StoreError> {
        let id = Uuid::new_v4().to_string();
        let now = timestamp(Utc::now());
        let status = if retry_at.is_some() {
            JobStatus::Pending
        } else {
            JobStatus::Failed
        };
        sqlx::query(
            "INSERT INTO outbox (id, tenant, system, operation, summary, status, attempts, outcome_unknown,
                                 next_attempt_at, last_error, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $10)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(system.as_str())
        .bind(operation)
        .bind(summary)
        .bind(status.as_str())
        .bind(i64::from(outcome_unknown))
        .bind(retry_at.map_or_else(|| now.clone(), timestamp))
        .bind(error)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Takes the next due entry and leases it to the caller for `lease`.
    ///
    /// Entries left `running` by a process that died are taken again once their lease
    /// has passed. Processes that share the database never take the same entry while its
    /// lease lasts.
    pub async fn claim(&self, lease: chrono::Duration) -> Result<Option<Job>, StoreError> {
        const DUE: &str = "((status = 'pending' AND next_attempt_at <= $2)
                            OR (status = 'running' AND lease_until <= $2))";
        let skip_locked = match self.backend {
            // A concurrent claim skips the row another transaction is taking instead of
            // waiting for it and then finding it leased.
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            // SQLite runs one write at a time on the whole database.
            Backend::Sqlite => "",
        };
        // The outer `DUE` checks the row again: after waiting for another transaction's
        // update, PostgreSQL re-evaluates the outer condition on the new row but does not
        // run the subquery again.
        let now = Utc::now();
        let row = sqlx::query(&format!(
            "UPDATE outbox SET status = 'running', lease_until = $1, updated_at = $2
             WHERE id = (
                 SELECT id FROM outbox WHERE {DUE}
                 ORDER BY next_attempt_at LIMIT 1{skip_locked}
             ) AND {DUE}
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(timestamp(now + lease))
        .bind(timestamp(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| job_from_row(&row)))
    }

    /// Marks an entry written, unless `job`'s lease has passed to another worker.
    pub async fn complete(&self, job: &Job) -> Result<Recorded, StoreError> {
        let result = sqlx::query(
            "UPDATE outbox SET status = 'done', attempts = attempts + 1, lease_until = NULL, last_error = NULL,
                               updated_at = $1
             WHERE id = $2 AND status = 'running' AND lease_until = $3",
        )
        .bind(timestamp(Utc::now()))
        .bind(&job.id)
        .bind(job.lease_until.as_deref().unwrap_or_default())
        .execute(&self.pool)
        .await?;
        Ok(recorded(result.rows_affected()))
    }

    /// Records a failed attempt, unless `job`'s lease has passed to another worker. The entry
    /// runs again at `retry_at`, or is marked failed when `retry_at` is `None`.
    pub async fn fail(
        &self,
        job: &Job,
        error: &str,
        outcome_unknown: bool,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<Recorded, StoreError> {
        let status = if retry_at.is_some() {
            JobStatus::Pending
        } else {
            JobStatus::Failed
        };
        let result = sqlx::query(
            "UPDATE outbox SET status = $1, attempts = attempts + 1, lease_until = NULL, last_error = $2,
                               outcome_unknown = CASE WHEN $3 = 1 THEN 1 ELSE outcome_unknown END,
                               next_attempt_at = $4, updated_at = $5
             WHERE id = $6 AND status = 'running' AND lease_until = $7",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(i64::from(outcome_unknown))
        .bind(timestamp(retry_at.unwrap_or_else(Utc::now)))
        .bind(timestamp(Utc::now()))
        .bind(&job.id)
        .bind(job.lease_until.as_deref().unwrap_or_default())
        .execute(&self.pool)
        .await?;
        Ok(recorded(result.rows_affected()))
    }

    /// Removes an entry.
    pub async fn delete(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM outbox WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Queues a pending or failed entry to run now. Returns `None` for an unknown id.
    pub async fn retry_now(&self, tenant: &str, id: &str) -> Result<Option<Job>, StoreError> {
        let now = timestamp(Utc::now());
        sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = $1, updated_at = $2
             WHERE tenant = $3 AND id = $4 AND status IN ('pending', 'failed')",
        )
        .bind(&now)
        .bind(&now)
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.get(tenant, id).await
    }

    /// One entry of a tenant.
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM outbox WHERE tenant = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| job_from_row(&row)))
    }

    /// Entries of a tenant that are not done, oldest first.
    pub async fn open(&self, tenant: &str, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM outbox WHERE tenant = $1 AND status != 'done'
             ORDER BY created_at LIMIT $2"
        ))
        .bind(tenant)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(job_from_row).collect())
    }

    /// The earliest time an entry becomes due, to sleep until then.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<String> = sqlx::query_scalar(
            "SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END)
             FROM outbox WHERE status IN ('pending', 'running')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(next.as_deref().and_then(parse_timestamp))
    }
}

fn recorded(rows: u64) -> Recorded {
    if rows == 0 {
        Recorded::LeaseLost
    } else {
        Recorded::Yes
    }
}

fn job_from_row(row: &AnyRow) -> Job {
    let system = match row.get::<&str, _>("system") {
        "CASEBOOK" => System::Casebook,
        _ => System::Ghl,
    };
    Job {
        id: row.get("id"),
        tenant: row.get("tenant"),
        system,
        operation: row.get("operation"),
        summary: row.get("summary"),
        status: JobStatus::from_db(row.get::<&str, _>("status")),
        attempts: row.get("attempts"),
        outcome_unknown: row.get::<i64, _>("outcome_unknown") != 0,
        next_attempt_at: parse_timestamp(row.get::<&str, _>("next_attempt_at")),
        last_error: row.get("last_error"),
        created_at: parse_timestamp(row.get::<&str, _>("created_at")),
        updated_at: parse_timestamp(row.get::<&str, _>("updated_at")),
        lease_until: row.get("lease_until"),
    }
}

/// What the idempotency table holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// The caller holds the key and must run the mutation.
    Claimed,
    /// Another call with this key is running.
    InProgress,
    /// The mutation ran; this is its stored outcome.
    Done(String),
    /// The key was used for a different mutation or input.
    Mismatch,
}

/// Idempotency keys.
#[derive(Clone)]
pub struct IdempotencyKeys {
    pool: AnyPool,
}

impl IdempotencyKeys {
    pub fn new(pool: AnyPool) -> IdempotencyKeys {
        IdempotencyKeys { pool }
    }

    /// Claims `key` for a request with `request_hash`, or reports who holds it.
    pub async fn claim(
        &self,
        tenant: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<KeyState, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (tenant, key, request_hash, state, created_at)
             VALUES ($1, $2, $3, 'in_progress', $4) ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(key)
        .bind(request_hash)
        .bind(timestamp(Utc::now()))
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(KeyState::Claimed);
        }
        let row = sqlx::query("SELECT request_hash, state, outcome FROM idempotency_keys WHERE tenant = $1 AND key = $2")
            .bind(tenant)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            // Released between the insert and the read: try once more.
            return Ok(KeyState::InProgress);
        };
        if row.get::<&str, _>("request_hash") != request_hash {
            return Ok(KeyState::Mismatch);
        }
        Ok(
            match (
                row.get::<&str, _>("state"),
                row.get::<Option<String>, _>("outcome"),
            ) {
                ("done", Some(outcome)) => KeyState::Done(outcome),
                _ => KeyState::InProgress,
            },
        )
    }

    /// Stores the outcome of the mutation that holds `key`.
    pub async fn finish(&self, tenant: &str, key: &str, outcome: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', outcome = $1 WHERE tenant = $2 AND key = $3",
        )
        .bind(outcome)
        .bind(tenant)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Releases `key` after a mutation that wrote nothing, so it can be used again.
    pub async fn release(&self, tenant: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2 AND state = 'in_progress'",
        )
        .bind(tenant)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    use crate::store::{
        LinkStore,
        testing::{backend_tests, replica_tests},
    };

    backend_tests!(
        claimed_job_is_not_claimed_twice_until_its_lease_ends,
        lost_lease_result_is_dropped,
        failed_job_waits_and_retry_now_requeues_it,
        idempotency_key_states,
        outcome_unknown_stays_set_after_later_failures,
        failed_first_attempt_waits_for_its_retry_time,
        open_lists_unfinished_jobs_up_to_the_limit,
        record_links_round_trip,
        record_links_of_many_contacts,
    );

    replica_tests!(
        outbox_entries_are_claimed_once_across_replicas,
        idempotency_key_is_claimed_once_across_replicas,
    );

    /// Claims the next due entry for 30 s, which the test expects to exist.
    async fn claim_due(outbox: &Outbox) -> Job {
        outbox
            .claim(chrono::Duration::seconds(30))
            .await
            .unwrap()
            .expect("a due outbox entry")
    }

    async fn pool(url: &str) -> AnyPool {
        LinkStore::connect(url).await.unwrap().pool().clone()
    }

    async fn claimed_job_is_not_claimed_twice_until_its_lease_ends(url: &str) {
        let outbox = Outbox::new(pool(url).await);
        outbox
            .enqueue("t", System::Ghl, "{}", "create contact", false, None)
            .await
            .unwrap();
        let first = outbox
            .claim(chrono::Duration::milliseconds(100))
            .await
            .unwrap();
        assert!(first.is_some());
        assert!(
            outbox
                .claim(chrono::Duration::milliseconds(100))
                .await
                .unwrap()
                .is_none()
        );
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let again = outbox.claim(chrono::Duration::seconds(30)).await.unwrap();
        assert_eq!(
            again.map(|job| job.id),
            first.map(|job| job.id),
            "an expired lease is taken again"
        );
    }

    async fn lost_lease_result_is_dropped(url: &str) {
        let outbox = Outbox::new(pool(url).await);
        let id = outbox
            .enqueue("t", System::Ghl, "{}", "create contact", false, None)
            .await
            .unwrap();
        let first_claim = outbox
            .claim(chrono::Duration::milliseconds(50))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        let second_claim = claim_due(&outbox).await;
        assert_eq!(second_claim.id, id);

        assert_eq!(
            outbox.complete(&first_claim).await.unwrap(),
            Recorded::LeaseLost,
            "a late success of the first worker leaves the second worker's attempt running"
        );
        assert_eq!(
            outbox.fail(&first_claim, "503", false, None).await.unwrap(),
            Recorded::LeaseLost
        );
        let job = outbox.get("t", &id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(job.attempts, 0);

        assert_eq!(
            outbox
                .fail(&second_claim, "TIMEOUT", true, None)
                .await
                .unwrap(),
            Recorded::Yes
        );
        let job = outbox.get("t", &id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(job.last_error.as_deref(), Some("TIMEOUT"));
        assert!(job.outcome_unknown);
    }

    async fn failed_job_waits_and_retry_now_requeues_it(url: &str) {
        let outbox = Outbox::new(pool(url).await);
        let id = outbox
            .enqueue("t", System::Ghl, "{}", "create contact", false, None)
            .await
            .unwrap();
        let job = claim_due(&outbox).await;
        outbox.fail(&job, "503", false, None).await.unwrap();
        assert_eq!(
            outbox.get("t", &id).await.unwrap().unwrap().status,
            JobStatus::Failed
        );
        assert!(
            outbox
                .claim(chrono::Duration::seconds(30))
                .await
                .unwrap()
                .is_none()
        );
        outbox.retry_now("t", &id).await.unwrap();
        let job = claim_due(&outbox).await;
        assert_eq!(job.id, id);
        assert_eq!(outbox.complete(&job).await.unwrap(), Recorded::Yes);
        assert!(outbox.open("t", 10).await.unwrap().is_empty());
    }

    async fn idempotency_key_states(url: &str) {
        let keys = IdempotencyKeys::new(pool(url).await);
        assert_eq!(keys.claim("t", "k", "h1").await.unwrap(), KeyState::Claimed);
        assert_eq!(
            keys.claim("t", "k", "h1").await.unwrap(),
            KeyState::InProgress
        );
        assert_eq!(
            keys.claim("t", "k", "h2").await.unwrap(),
            KeyState::Mismatch
        );
        keys.finish("t", "k", "{\"ok\":true}").await.unwrap();
        assert_eq!(
            keys.claim("t", "k", "h1").await.unwrap(),
            KeyState::Done("{\"ok\":true}".to_string())
        );
        assert_eq!(
            keys.claim("other", "k", "h1").await.unwrap(),
            KeyState::Claimed,
            "keys are per tenant"
        );
    }

    async fn outcome_unknown_stays_set_after_later_failures(url: &str) {
        let outbox = Outbox::new(pool(url).await);
        let id = outbox
            .enqueue("t", System::Ghl, "{}", "create contact", false, None)
            .await
            .unwrap();
        let retry_at = Utc::now() - chrono::Duration::seconds(1);

        let job = claim_due(&outbox).await;
        outbox
            .fail(&job, "TIMEOUT", true, Some(retry_at))
            .await
            .unwrap();
        let job = outbox.get("t", &id).await.unwrap().unwrap();
        assert!(job.outcome_unknown);
        assert_eq!(job.status, JobStatus::Pending);
        assert_eq!(job.attempts, 1);
        assert_eq!(job.last_error.as_deref(), Some("TIMEOUT"));

        let job = claim_due(&outbox).await;
        outbox
            .fail(&job, "503", false, Some(retry_at))
            .await
            .unwrap();
        let job = outbox.get("t", &id).await.unwrap().unwrap();
        assert!(job.outcome_unknown, "a later plain failure keeps the flag");
        assert_eq!(job.attempts, 2);
        let due = outbox.next_due().await.unwrap().unwrap();
        assert_eq!(timestamp(due), timestamp(retry_at));
    }

    async fn failed_first_attempt_waits_for_its_retry_time(url: &str) {
        let outbox = Outbox::new(pool(url).await);
        let retry_at = Utc::now() + chrono::Duration::seconds(60);
        let waiting = outbox
            .enqueue_failed(
                "t",
                System::Ghl,
                "{}",
                "create contact",
                "503",
                true,
                Some(retry_at),
            )
            .await
            .unwrap();
        let given_up = outbox
            .enqueue_failed("t", System::Ghl, "{}", "update contact", "400", false, None)
            .await
            .unwrap();

        assert!(
            outbox
                .claim(chrono::Duration::seconds(30))
                .await
                .unwrap()
                .is_none(),
            "neither entry is due"
        );
        let job = outbox.get("t", &waiting).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Pending);
        assert_eq!(job.attempts, 1);
        assert!(job.outcome_unknown);
        assert_eq!(job.last_error.as_deref(), Some("503"));
        assert_eq!(
            job.next_attempt_at.map(timestamp),
            Some(timestamp(retry_at))
        );
        let job = outbox.get("t", &given_up).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Failed);
        assert_eq!(job.last_error.as_deref(), Some("400"));
        assert_eq!(
            outbox.next_due().await.unwrap().map(timestamp),
            Some(timestamp(retry_at))
        );
    }

    async fn open_lists_unfinished_jobs_up_to_the_limit(url: &str) {
        let outbox = Outbox::new(pool(url).await);
        assert_eq!(outbox.next_due().await.unwrap(), None);
        let mut ids = Vec::new();
        for n in 0..3 {
            let summary = format!("write {n}");
            ids.push(
                outbox
                    .enqueue("t", System::Casebook, "{}", &summary, false, None)
                    .await
                    .unwrap(),
            );
            // Entries created in one millisecond would tie on `created_at`.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let job = claim_due(&outbox).await;
        assert_eq!(job.id, ids[0]);
        outbox.complete(&job).await.unwrap();

        let open = outbox.open("t", 1).await.unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].id, ids[1], "oldest unfinished entry first");
        assert_eq!(open[0].system, System::Casebook);
        assert_eq!(outbox.open("t", 10).await.unwrap().len(), 2);
        assert!(outbox.open("other", 10).await.unwrap().is_empty());
    }

    async fn record_links_of_many_contacts(url: &str) {
        let records = RecordLinks::new(pool(url).await);
        let task = records
            .create("t", RecordKind::Task, "contact-1", None)
            .await
            .unwrap();
        let note = records
            .create("t", RecordKind::Note, "contact-1", None)
            .await
            .unwrap();
        let other = records
            .create("t", RecordKind::Appointment, "contact-2", None)
            .await
            .unwrap();
        records
            .create("other-tenant", RecordKind::Task, "contact-1", None)
            .await
            .unwrap();

        let ids = ["contact-1", "contact-2", "contact-3"].map(str::to_string);
        let found = records.for_contacts("t", &ids).await.unwrap();

        let mut first: Vec<(RecordKind, String)> = found["contact-1"]
            .iter()
            .map(|(kind, link)| (*kind, link.id.clone()))
            .collect();
        first.sort_by_key(|(kind, _)| kind.as_str());
        assert_eq!(
            first,
            [(RecordKind::Note, note.id), (RecordKind::Task, task.id)]
        );
        assert_eq!(
            found["contact-2"],
            [(RecordKind::Appointment, other.clone())]
        );
        assert!(!found.contains_key("contact-3"));
        assert_eq!(found.len(), 2, "other tenants' links stay out");
    }

    async fn record_links_round_trip(url: &str) {
        let records = RecordLinks::new(pool(url).await);
        let link = records
            .create("t", RecordKind::Task, "contact-1", Some("g-contact"))
            .await
            .unwrap();
        records
            .set_native_id("t", &link.id, System::Casebook, "cb-task")
            .await
            .unwrap();
        records
            .set_native_id("t", &link.id, System::Ghl, "ghl-task")
            .await
            .unwrap();

        let found = records
            .find("t", RecordKind::Task, System::Ghl, "ghl-task")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.casebook_id.as_deref(), Some("cb-task"));
        assert_eq!(found.ghl_contact_id.as_deref(), Some("g-contact"));
        assert_eq!(
            records.find_by_id("t", &link.id).await.unwrap(),
            Some(found)
        );
        assert!(
            records
                .find("t", RecordKind::Note, System::Ghl, "ghl-task")
                .await
                .unwrap()
                .is_none(),
            "kinds are separate"
        );
        let by_contact = records
            .for_contacts("t", &["contact-1".to_string()])
            .await
            .unwrap();
        assert_eq!(by_contact["contact-1"].len(), 1);

        records.delete("t", &link.id).await.unwrap();
        assert_eq!(records.find_by_id("t", &link.id).await.unwrap(), None);
    }

    /// Two replicas with eight workers each drain one outbox; every entry runs once.
    async fn outbox_entries_are_claimed_once_across_replicas(url: &str) {
        const JOBS: usize = 40;
        let replicas = [Outbox::new(pool(url).await), Outbox::new(pool(url).await)];
        let mut enqueued = HashSet::new();
        for n in 0..JOBS {
            let id = replicas[n % 2]
                .enqueue("t", System::Ghl, "{}", "create contact", false, None)
                .await
                .unwrap();
            enqueued.insert(id);
        }

        let mut workers = Vec::new();
        for worker in 0..16 {
            let outbox = replicas[worker % 2].clone();
            workers.push(tokio::spawn(async move {
                let mut claimed = Vec::new();
                while let Some(job) = outbox.claim(chrono::Duration::seconds(60)).await.unwrap() {
                    claimed.push(job.id);
                }
                claimed
            }));
        }
        let mut claimed = Vec::new();
        for worker in workers {
            claimed.extend(worker.await.unwrap());
        }

        let distinct: HashSet<String> = claimed.iter().cloned().collect();
        assert_eq!(claimed.len(), JOBS, "no entry is claimed twice");
        assert_eq!(distinct, enqueued, "every entry is claimed");
    }

    /// Sixteen concurrent calls with one key on two replicas: one of them runs the mutation.
    async fn idempotency_key_is_claimed_once_across_replicas(url: &str) {
        let replicas = [
            IdempotencyKeys::new(pool(url).await),
            IdempotencyKeys::new(pool(url).await),
        ];
        let mut calls = Vec::new();
        for call in 0..16 {
            let keys = replicas[call % 2].clone();
            calls.push(tokio::spawn(async move {
                keys.claim("t", "key-1", "hash").await.unwrap()
            }));
        }
        let mut states = Vec::new();
        for call in calls {
            states.push(call.await.unwrap());
        }

        let claimed = states
            .iter()
            .filter(|state| **state == KeyState::Claimed)
            .count();
        assert_eq!(claimed, 1, "{states:?}");
        assert!(
            states
                .iter()
                .all(|state| matches!(state, KeyState::Claimed | KeyState::InProgress)),
            "{states:?}"
        );
    }
}
