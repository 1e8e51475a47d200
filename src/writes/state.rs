//! The write-side tables: record links, the outbox and idempotency keys.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use crate::{store::StoreError, upstream::System};

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
    pool: SqlitePool,
}

impl RecordLinks {
    pub fn new(pool: SqlitePool) -> RecordLinks {
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
             VALUES (?, ?, ?, ?, ?, ?)",
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
            "UPDATE record_links SET {column} = ? WHERE tenant = ? AND id = ?"
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
             WHERE tenant = ? AND kind = ? AND {column} = ?"
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
            "SELECT id, contact_id, casebook_id, ghl_id, ghl_contact_id FROM record_links WHERE tenant = ? AND id = ?",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| record_from_row(&row)))
    }

    /// Every link of one kind under a contact.
    pub async fn for_contact(
        &self,
        tenant: &str,
        kind: RecordKind,
        contact_id: &str,
    ) -> Result<Vec<RecordLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, contact_id, casebook_id, ghl_id, ghl_contact_id FROM record_links
             WHERE tenant = ? AND kind = ? AND contact_id = ?",
        )
        .bind(tenant)
        .bind(kind.as_str())
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(record_from_row).collect())
    }

    /// Removes a link.
    pub async fn delete(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM record_links WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn record_from_row(row: &sqlx::sqlite::SqliteRow) -> RecordLink {
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
}

/// The durable outbox.
#[derive(Clone)]
pub struct Outbox {
    pool: SqlitePool,
}

const JOB_COLUMNS: &str =
    "id, tenant, system, operation, summary, status, attempts, outcome_unknown,
    next_attempt_at, last_error, created_at, updated_at";

impl Outbox {
    pub fn new(pool: SqlitePool) -> Outbox {
        Outbox { pool }
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
             VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(system.as_str())
        .bind(operation)
        .bind(summary)
        .bind(outcome_unknown)
        .bind(&now)
        .bind(last_error)
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Takes the next due entry and leases it to the caller for `lease`.
    ///
    /// Entries left `running` by a process that died are taken again once their lease
    /// has passed.
    pub async fn claim(&self, lease: chrono::Duration) -> Result<Option<Job>, StoreError> {
        let now = Utc::now();
        let row = sqlx::query(&format!(
            "UPDATE outbox SET status = 'running', lease_until = ?, updated_at = ?
             WHERE id = (
                 SELECT id FROM outbox
                 WHERE (status = 'pending' AND next_attempt_at <= ?)
                    OR (status = 'running' AND lease_until <= ?)
                 ORDER BY next_attempt_at LIMIT 1
             )
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(timestamp(now + lease))
        .bind(timestamp(now))
        .bind(timestamp(now))
        .bind(timestamp(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| job_from_row(&row)))
    }

    /// Marks an entry written.
    pub async fn complete(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = 'done', attempts = attempts + 1, lease_until = NULL, last_error = NULL,
                               updated_at = ? WHERE id = ?",
        )
        .bind(timestamp(Utc::now()))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: the entry runs again at `retry_at`, or is marked
    /// failed when `retry_at` is `None`.
    pub async fn fail(
        &self,
        id: &str,
        error: &str,
        outcome_unknown: bool,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let status = if retry_at.is_some() {
            JobStatus::Pending
        } else {
            JobStatus::Failed
        };
        sqlx::query(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, lease_until = NULL, last_error = ?,
                               outcome_unknown = MAX(outcome_unknown, ?), next_attempt_at = ?, updated_at = ?
             WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(outcome_unknown)
        .bind(timestamp(retry_at.unwrap_or_else(Utc::now)))
        .bind(timestamp(Utc::now()))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes an entry.
    pub async fn delete(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM outbox WHERE tenant = ? AND id = ?")
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
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ?
             WHERE tenant = ? AND id = ? AND status IN ('pending', 'failed')",
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
            "SELECT {JOB_COLUMNS} FROM outbox WHERE tenant = ? AND id = ?"
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
            "SELECT {JOB_COLUMNS} FROM outbox WHERE tenant = ? AND status != 'done'
             ORDER BY created_at LIMIT ?"
        ))
        .bind(tenant)
        .bind(limit)
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

fn job_from_row(row: &sqlx::sqlite::SqliteRow) -> Job {
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
    pool: SqlitePool,
}

impl IdempotencyKeys {
    pub fn new(pool: SqlitePool) -> IdempotencyKeys {
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
             VALUES (?, ?, ?, 'in_progress', ?) ON CONFLICT DO NOTHING",
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
        let row = sqlx::query("SELECT request_hash, state, outcome FROM idempotency_keys WHERE tenant = ? AND key = ?")
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
            "UPDATE idempotency_keys SET state = 'done', outcome = ? WHERE tenant = ? AND key = ?",
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
            "DELETE FROM idempotency_keys WHERE tenant = ? AND key = ? AND state = 'in_progress'",
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
    use crate::store::LinkStore;

    async fn pool() -> SqlitePool {
        LinkStore::connect("sqlite::memory:")
            .await
            .unwrap()
            .pool()
            .clone()
    }

    #[tokio::test]
    async fn claimed_job_is_not_claimed_twice_until_its_lease_ends() {
        let outbox = Outbox::new(pool().await);
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

    #[tokio::test]
    async fn failed_job_waits_and_retry_now_requeues_it() {
        let outbox = Outbox::new(pool().await);
        let id = outbox
            .enqueue("t", System::Ghl, "{}", "create contact", false, None)
            .await
            .unwrap();
        outbox.claim(chrono::Duration::seconds(30)).await.unwrap();
        outbox.fail(&id, "503", false, None).await.unwrap();
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
        assert_eq!(
            outbox
                .claim(chrono::Duration::seconds(30))
                .await
                .unwrap()
                .unwrap()
                .id,
            id
        );
        outbox.complete(&id).await.unwrap();
        assert!(outbox.open("t", 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn idempotency_key_states() {
        let keys = IdempotencyKeys::new(pool().await);
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
}
