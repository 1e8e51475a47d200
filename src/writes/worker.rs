//! The outbox worker: retries queued writes with exponential backoff and full jitter, and
//! never before the wait a failure names (`Retry-After`, GHL's daily reset).
//!
//! Entries survive a crash: an entry left `running` by a process that died is taken
//! again when its lease ends. Before repeating a create whose earlier attempt may have
//! taken effect (a timeout or a dropped connection), the worker looks for the record
//! upstream and adopts it, because upstream creates are not idempotent.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use rand::Rng;
use tracing::{error, info, warn};

use super::{
    Writes, ops,
    ops::SideWrite,
    state::{Job, Recorded},
};
use crate::{tenant::Tenant, upstream::UpstreamError};

/// Longest sleep between two looks at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Starts the worker for these tenants. It stops when the returned handle is aborted.
pub fn spawn(
    writes: Arc<Writes>,
    tenants: HashMap<String, Arc<Tenant>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        info!("outbox worker started");
        loop {
            match run_due(&writes, &tenants).await {
                Ok(ran) if ran > 0 => continue,
                Ok(_) => {}
                Err(error) => error!(error = %error, "outbox worker failed to read the outbox"),
            }
            let sleep = match writes.outbox().next_due().await {
                Ok(Some(due)) => (due - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(IDLE_POLL),
                _ => IDLE_POLL,
            };
            tokio::select! {
                _ = writes.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    })
}

/// Runs every due entry once; returns how many ran.
pub async fn run_due(
    writes: &Writes,
    tenants: &HashMap<String, Arc<Tenant>>,
) -> Result<usize, crate::store::StoreError> {
    let lease = chrono::Duration::seconds(writes.config().lease_s as i64);
    let mut ran = 0;
    while let Some(job) = writes.outbox().claim(lease).await? {
        ran += 1;
        run_job(writes, tenants, job).await?;
    }
    Ok(ran)
}

async fn run_job(
    writes: &Writes,
    tenants: &HashMap<String, Arc<Tenant>>,
    job: Job,
) -> Result<(), crate::store::StoreError> {
    let Some(tenant) = tenants.get(&job.tenant) else {
        warn!(job = %job.id, tenant = %job.tenant, "outbox entry of an unknown tenant left failed");
        return writes
            .outbox()
            .fail(&job, "UNKNOWN_TENANT", job.outcome_unknown, None)
            .await
            .map(|recorded| note_lost_lease(&job, recorded));
    };
    let write: SideWrite = match serde_json::from_str(&job.operation) {
        Ok(write) => write,
        Err(parse) => {
            error!(job = %job.id, error = %parse, "outbox entry could not be read; left failed");
            return writes
                .outbox()
                .fail(&job, "UNREADABLE_ENTRY", job.outcome_unknown, None)
                .await
                .map(|recorded| note_lost_lease(&job, recorded));
        }
    };

    let result = attempt(tenant, &job, &write).await;
    match result {
        Ok(created) => {
            writes
                .apply(tenant, job.system, &write, created.as_deref())
                .await?;
            let recorded = writes.outbox().complete(&job).await?;
            note_lost_lease(&job, recorded);
            info!(job = %job.id, tenant = %tenant.id, system = %job.system, operation = write.summary(), "outbox entry written");
            Ok(())
        }
        Err(failure) => {
            let attempts = job.attempts as u32 + 1;
            let unknown = job.outcome_unknown || (write.is_create() && failure.outcome_unknown());
            let retry_at = (failure.is_transient() && attempts < writes.config().max_attempts)
                .then(|| next_attempt_at(writes.config(), attempts, &failure));
            warn!(
                job = %job.id, tenant = %tenant.id, system = %job.system, operation = write.summary(),
                attempts, code = failure.code(), error = %failure, retry = retry_at.is_some(),
                "outbox entry failed"
            );
            let recorded = writes
                .outbox()
                .fail(&job, failure.code(), unknown, retry_at)
                .await?;
            note_lost_lease(&job, recorded);
            writes.forget_views(&tenant.id);
            Ok(())
        }
    }
}

/// Logs an attempt whose result arrived after its lease expired. Another worker has claimed
/// the entry by then, and that worker's result is the one recorded.
fn note_lost_lease(job: &Job, recorded: Recorded) {
    if recorded == Recorded::LeaseLost {
        warn!(
            job = %job.id, tenant = %job.tenant, system = %job.system,
            "outbox attempt finished after its lease expired; result dropped because another worker claimed the entry (raise writes.lease_s if this repeats)"
        );
    }
}

/// Looks for an earlier create's record when needed, then writes.
async fn attempt(
    tenant: &Tenant,
    job: &Job,
    write: &SideWrite,
) -> Result<Option<String>, UpstreamError> {
    if job.outcome_unknown
        && write.is_create()
        && let Some(existing) = ops::find_created(tenant, job.system, write).await?
    {
        info!(job = %job.id, system = %job.system, "record of an earlier attempt found; not created again");
        return Ok(Some(existing));
    }
    ops::execute(tenant, job.system, write).await
}

/// Computes the time of the next attempt after `attempts` failed ones. It comes after the
/// backoff, and no earlier than the wait the failure names, such as GHL's daily reset or the
/// end of a circuit breaker's cool-down.
pub(crate) fn next_attempt_at(
    config: &super::WriteConfig,
    attempts: u32,
    failure: &UpstreamError,
) -> DateTime<Utc> {
    let wait = backoff(config, attempts).max(failure.retry_after().unwrap_or_default());
    let now = Utc::now();
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Exponential backoff with full jitter: a random delay up to `base * 2^(attempts - 1)`,
/// capped at the configured maximum.
pub(crate) fn backoff(config: &super::WriteConfig, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let ceiling = config
        .backoff_base_ms
        .saturating_mul(1 << exponent)
        .min(config.backoff_max_ms);
    Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling))
}
