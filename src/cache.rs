//! The record cache shared by all requests (moka).
//!
//! Keys carry the tenant, the system, the record kind and the native id, so one tenant's
//! record can never answer another tenant's lookup even when both upstreams use the same
//! ids. Entries are weighed by their serialised size under a capacity in MB, expire per
//! kind after a time to live or an idle time, and 404s are kept briefly as negative
//! entries. Concurrent misses for one key share one upstream call.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{FutureExt, future::join_all};
use moka::{Expiry, future::Cache, notification::RemovalCause};
use serde::Deserialize;

use crate::{
    metrics::{CACHE_EVICTIONS, CACHE_HITS, CACHE_MISSES, Metrics},
    upstream::{
        System, UpstreamError,
        casebook::{CasebookNote, CasebookPerson, CasebookTask, Page},
        ghl::{GhlAppointment, GhlContact, GhlNote, GhlTask, SearchContactsResponse},
    },
};

/// The kind of record a cache entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A Casebook person or a GHL contact.
    Contact,
    /// The tasks of one person or contact.
    Tasks,
    /// The notes of one person or contact.
    Notes,
    /// The appointments of one person or contact.
    Appointments,
    /// One page of a contact list or search.
    List,
}

impl RecordKind {
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Contact,
        RecordKind::Tasks,
        RecordKind::Notes,
        RecordKind::Appointments,
        RecordKind::List,
    ];

    /// The kinds that belong to one person or contact.
    pub const OF_CONTACT: [RecordKind; 4] = [
        RecordKind::Contact,
        RecordKind::Tasks,
        RecordKind::Notes,
        RecordKind::Appointments,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Contact => "contact",
            RecordKind::Tasks => "tasks",
            RecordKind::Notes => "notes",
            RecordKind::Appointments => "appointments",
            RecordKind::List => "list",
        }
    }
}

/// A cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub tenant: Arc<str>,
    pub system: System,
    pub kind: RecordKind,
    /// The record's native id; for child lists, the id of the person or contact.
    pub id: String,
}

/// A cached upstream answer.
#[derive(Debug, Clone)]
pub enum Cached {
    CasebookPerson(Arc<CasebookPerson>),
    CasebookTasks(Arc<Vec<CasebookTask>>),
    /// Notes, or the Meeting notes that stand in for appointments.
    CasebookNotes(Arc<Vec<CasebookNote>>),
    GhlContact(Arc<GhlContact>),
    GhlTasks(Arc<Vec<GhlTask>>),
    GhlNotes(Arc<Vec<GhlNote>>),
    GhlAppointments(Arc<Vec<GhlAppointment>>),
    /// One page of Casebook people.
    CasebookPeoplePage(Arc<Page<CasebookPerson>>),
    /// One page of a GHL contact search.
    GhlSearchPage(Arc<SearchContactsResponse>),
    /// A whole GraphQL response body of a query without errors.
    Response(Arc<Vec<u8>>),
    /// The upstream answered that the record does not exist.
    Missing,
}

impl Cached {
    /// Approximate heap size in bytes: the length of the value as JSON.
    fn weight(&self) -> usize {
        let json = match self {
            Cached::CasebookPerson(v) => serde_json::to_vec(&**v),
            Cached::CasebookTasks(v) => serde_json::to_vec(&**v),
            Cached::CasebookNotes(v) => serde_json::to_vec(&**v),
            Cached::GhlContact(v) => serde_json::to_vec(&**v),
            Cached::GhlTasks(v) => serde_json::to_vec(&**v),
            Cached::GhlNotes(v) => serde_json::to_vec(&**v),
            Cached::GhlAppointments(v) => serde_json::to_vec(&**v),
            Cached::CasebookPeoplePage(v) => serde_json::to_vec(&**v),
            Cached::GhlSearchPage(v) => serde_json::to_vec(&**v),
            Cached::Response(bytes) => return bytes.len(),
            Cached::Missing => Ok(Vec::new()),
        };
        json.map(|bytes| bytes.len()).unwrap_or(1024)
    }
}

/// Time to live and idle time of one record kind.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindPolicy {
    /// Seconds an entry lives after it is written.
    pub ttl_s: u64,
    /// Seconds an entry lives after it was last read, within its time to live.
    pub idle_s: u64,
}

/// Cache settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Whether records are cached at all; `false` reads every record from the upstreams.
    /// Default true.
    pub enabled: bool,
    /// Largest total size of the entries, in MB (serialised size). Default 64.
    pub capacity_mb: u64,
    /// Seconds a "does not exist" answer is kept. Default 30.
    pub negative_ttl_s: u64,
    /// Contacts and people. Default 300 s to live, 120 s idle.
    pub contact: KindPolicy,
    /// Task lists. Default 60 s to live, 60 s idle.
    pub tasks: KindPolicy,
    /// Note lists. Default 60 s to live, 60 s idle.
    pub notes: KindPolicy,
    /// Appointment lists. Default 60 s to live, 60 s idle.
    pub appointments: KindPolicy,
    /// Pages of contact lists and searches, and whole query responses. Default 30 s to
    /// live, 30 s idle.
    pub lists: KindPolicy,
    /// Keep whole responses of queries that had no errors, per tenant, until the time to
    /// live of `lists` or the next write of the tenant. Default true.
    pub responses: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        let children = KindPolicy {
            ttl_s: 60,
            idle_s: 60,
        };
        CacheConfig {
            enabled: true,
            capacity_mb: 64,
            negative_ttl_s: 30,
            contact: KindPolicy {
                ttl_s: 300,
                idle_s: 120,
            },
            tasks: children,
            notes: children,
            appointments: children,
            lists: KindPolicy {
                ttl_s: 30,
                idle_s: 30,
            },
            responses: true,
        }
    }
}

impl CacheConfig {
    fn policy(&self, kind: RecordKind) -> KindPolicy {
        match kind {
            RecordKind::Contact => self.contact,
            RecordKind::Tasks => self.tasks,
            RecordKind::Notes => self.notes,
            RecordKind::Appointments => self.appointments,
            RecordKind::List => self.lists,
        }
    }

    /// Checks the values, naming the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && self.capacity_mb == 0 {
            return Err(
                "cache.capacity_mb is 0: use at least 1, or set cache.enabled = false".to_string(),
            );
        }
        for kind in RecordKind::ALL {
            let policy = self.policy(kind);
            if policy.ttl_s == 0 || policy.idle_s == 0 {
                return Err(format!(
                    "cache.{}: ttl_s and idle_s must be at least 1 second",
                    kind.as_str()
                ));
            }
        }
        Ok(())
    }
}

struct PerKindExpiry(CacheConfig);

impl Expiry<CacheKey, Cached> for PerKindExpiry {
    fn expire_after_create(
        &self,
        key: &CacheKey,
        value: &Cached,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(self.time_to_live(key, value))
    }

    fn expire_after_read(
        &self,
        key: &CacheKey,
        value: &Cached,
        read_at: Instant,
        _duration_until_expiry: Option<Duration>,
        last_modified_at: Instant,
    ) -> Option<Duration> {
        let remaining = self
            .time_to_live(key, value)
            .saturating_sub(read_at.saturating_duration_since(last_modified_at));
        let idle = Duration::from_secs(self.0.policy(key.kind).idle_s);
        Some(remaining.min(idle))
    }

    fn expire_after_update(
        &self,
        key: &CacheKey,
        value: &Cached,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.time_to_live(key, value))
    }
}

impl PerKindExpiry {
    fn time_to_live(&self, key: &CacheKey, value: &Cached) -> Duration {
        match value {
            Cached::Missing => Duration::from_secs(self.0.negative_ttl_s),
            _ => Duration::from_secs(self.0.policy(key.kind).ttl_s),
        }
    }
}

fn response_key(tenant: &Arc<str>, key: &str) -> CacheKey {
    CacheKey {
        tenant: tenant.clone(),
        system: System::Casebook,
        kind: RecordKind::List,
        id: format!("response:{key}"),
    }
}

/// The process-wide record cache; cheap to clone.
#[derive(Clone)]
pub struct RecordCache {
    entries: Option<Cache<CacheKey, Cached>>,
    metrics: Metrics,
}

impl RecordCache {
    /// Builds the cache described by `config`.
    pub fn new(config: &CacheConfig, metrics: Metrics) -> RecordCache {
        if !config.enabled {
            return RecordCache {
                entries: None,
                metrics,
            };
        }
        let evictions = metrics.clone();
        let entries = Cache::builder()
            .name("records")
            .max_capacity(config.capacity_mb.saturating_mul(1024 * 1024))
            .weigher(|key: &CacheKey, value: &Cached| {
                let bytes = key.id.len() + key.tenant.len() + value.weight() + 64;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(PerKindExpiry(config.clone()))
            .eviction_listener(move |key: Arc<CacheKey>, _value, cause| {
                if cause == RemovalCause::Size {
                    evictions.increment(CACHE_EVICTIONS, &[("kind", key.kind.as_str())]);
                }
            })
            .support_invalidation_closures()
            .build();
        RecordCache {
            entries: Some(entries),
            metrics,
        }
    }

    /// A cache that stores nothing.
    pub fn disabled(metrics: Metrics) -> RecordCache {
        RecordCache {
            entries: None,
            metrics,
        }
    }

    /// Whether entries are kept at all.
    pub fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// Reads one key, calling `load` on a miss.
    ///
    /// Concurrent misses for the same key wait for one `load`. With `refresh`, the
    /// cached entry is ignored and replaced by what `load` returns. Errors are not cached.
    pub async fn get_or_load<F>(
        &self,
        key: CacheKey,
        refresh: bool,
        load: F,
    ) -> Result<Cached, UpstreamError>
    where
        F: Future<Output = Result<Cached, UpstreamError>> + Send,
    {
        let Some(entries) = &self.entries else {
            self.count(CACHE_MISSES, key.kind);
            return load.await;
        };
        if refresh {
            self.count(CACHE_MISSES, key.kind);
            let value = load.await?;
            entries.insert(key, value.clone()).await;
            return Ok(value);
        }
        let loaded = AtomicBool::new(false);
        let kind = key.kind;
        let result = entries
            .try_get_with(key, async {
                loaded.store(true, Ordering::Relaxed);
                load.await
            })
            .await
            .map_err(|error| (*error).clone());
        let outcome = if loaded.load(Ordering::Relaxed) {
            CACHE_MISSES
        } else {
            CACHE_HITS
        };
        self.count(outcome, kind);
        result
    }

    /// Reads many keys of one kind, loading all misses with one call of `load_batch`.
    ///
    /// `load_batch` receives the missing ids and returns a value per id it found; ids it
    /// leaves out are cached as `Missing`. Concurrent misses of the same key in another
    /// batch wait for that batch rather than loading again.
    pub async fn get_or_load_many<F, Fut>(
        &self,
        tenant: &Arc<str>,
        system: System,
        kind: RecordKind,
        ids: &[String],
        refresh: bool,
        load_batch: F,
    ) -> Result<HashMap<String, Cached>, UpstreamError>
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<HashMap<String, Cached>, UpstreamError>> + Send + 'static,
    {
        let key = |id: &String| CacheKey {
            tenant: tenant.clone(),
            system,
            kind,
            id: id.clone(),
        };
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        match &self.entries {
            Some(entries) if !refresh => {
                for id in ids {
                    match entries.get(&key(id)).await {
                        Some(value) => {
                            self.count(CACHE_HITS, kind);
                            found.insert(id.clone(), value);
                        }
                        None => missing.push(id.clone()),
                    }
                }
            }
            _ => missing = ids.to_vec(),
        }
        if missing.is_empty() {
            return Ok(found);
        }

        // The batch runs only if at least one key's loader is polled: keys already being
        // loaded by another request wait for that request instead.
        let batch = load_batch(missing.clone())
            .map(|result| result.map(Arc::new))
            .boxed()
            .shared();
        let loads = missing.iter().map(|id| {
            let batch = batch.clone();
            let wanted = id.clone();
            let load = async move {
                let values = batch.await?;
                Ok(values.get(&wanted).cloned().unwrap_or(Cached::Missing))
            };
            self.get_or_load(key(id), refresh, load)
        });
        for (id, value) in missing.iter().zip(join_all(loads).await) {
            found.insert(id.clone(), value?);
        }
        Ok(found)
    }

    /// A stored response body for `key` of `tenant`.
    pub async fn response(&self, tenant: &Arc<str>, key: &str) -> Option<Arc<Vec<u8>>> {
        let entries = self.entries.as_ref()?;
        let found = entries.get(&response_key(tenant, key)).await;
        match found {
            Some(Cached::Response(body)) => {
                self.count(CACHE_HITS, RecordKind::List);
                Some(body)
            }
            _ => None,
        }
    }

    /// Stores a response body for `key` of `tenant`.
    pub async fn store_response(&self, tenant: &Arc<str>, key: &str, body: Vec<u8>) {
        if let Some(entries) = &self.entries {
            entries
                .insert(response_key(tenant, key), Cached::Response(Arc::new(body)))
                .await;
        }
    }

    /// Removes one record.
    pub async fn invalidate_record(
        &self,
        tenant: &Arc<str>,
        system: System,
        kind: RecordKind,
        id: &str,
    ) {
        if let Some(entries) = &self.entries {
            entries
                .invalidate(&CacheKey {
                    tenant: tenant.clone(),
                    system,
                    kind,
                    id: id.to_string(),
                })
                .await;
        }
    }

    /// Removes a person or contact together with its task, note and appointment lists.
    pub async fn invalidate_contact(&self, tenant: &Arc<str>, system: System, id: &str) {
        for kind in RecordKind::OF_CONTACT {
            self.invalidate_record(tenant, system, kind, id).await;
        }
    }

    /// Removes every cached list page of one tenant, after a write that may change them.
    pub fn invalidate_lists(&self, tenant: &str) {
        if let Some(entries) = &self.entries {
            let tenant: Arc<str> = Arc::from(tenant);
            let _ = entries.invalidate_entries_if(move |key, _| {
                key.kind == RecordKind::List && key.tenant == tenant
            });
        }
    }

    /// Removes every entry of one tenant.
    pub fn invalidate_tenant(&self, tenant: &str) {
        if let Some(entries) = &self.entries {
            let tenant: Arc<str> = Arc::from(tenant);
            let _ = entries.invalidate_entries_if(move |key, _| key.tenant == tenant);
        }
    }

    /// Number of entries, after pending maintenance has run.
    pub async fn entry_count(&self) -> u64 {
        match &self.entries {
            Some(entries) => {
                entries.run_pending_tasks().await;
                entries.entry_count()
            }
            None => 0,
        }
    }

    fn count(&self, name: &'static str, kind: RecordKind) {
        self.metrics.increment(name, &[("kind", kind.as_str())]);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn cache() -> (RecordCache, Metrics) {
        let metrics = Metrics::new();
        (
            RecordCache::new(&CacheConfig::default(), metrics.clone()),
            metrics,
        )
    }

    fn key(tenant: &str, id: &str) -> CacheKey {
        CacheKey {
            tenant: Arc::from(tenant),
            system: System::Ghl,
            kind: RecordKind::Tasks,
            id: id.to_string(),
        }
    }

    fn tasks(count: usize) -> Cached {
        Cached::GhlTasks(Arc::new(vec![GhlTask::default(); count]))
    }

    fn task_count(value: &Cached) -> usize {
        match value {
            Cached::GhlTasks(tasks) => tasks.len(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn second_read_is_a_hit() {
        let (cache, metrics) = cache();
        cache
            .get_or_load(key("a", "c1"), false, async { Ok(tasks(2)) })
            .await
            .unwrap();
        let again = cache
            .get_or_load(key("a", "c1"), false, async {
                panic!("must not load again")
            })
            .await
            .unwrap();
        assert_eq!(task_count(&again), 2);
        assert_eq!(metrics.sum(CACHE_HITS, &[]), 1);
        assert_eq!(metrics.sum(CACHE_MISSES, &[]), 1);
    }

    #[tokio::test]
    async fn tenants_never_share_entries() {
        let (cache, _) = cache();
        cache
            .get_or_load(key("a", "same-id"), false, async { Ok(tasks(1)) })
            .await
            .unwrap();
        let other = cache
            .get_or_load(key("b", "same-id"), false, async { Ok(tasks(5)) })
            .await
            .unwrap();
        assert_eq!(task_count(&other), 5);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load() {
        let (cache, _) = cache();
        let loads = Arc::new(AtomicUsize::new(0));
        let reads = (0..20).map(|_| {
            let loads = loads.clone();
            cache.get_or_load(key("a", "c1"), false, async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(tasks(1))
            })
        });
        for result in join_all(reads).await {
            assert_eq!(task_count(&result.unwrap()), 1);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let (cache, _) = cache();
        let failure = UpstreamError::Unavailable {
            system: System::Ghl,
            status: 503,
        };
        let first = cache
            .get_or_load(key("a", "c1"), false, async { Err(failure) })
            .await;
        assert!(first.is_err());
        let second = cache
            .get_or_load(key("a", "c1"), false, async { Ok(tasks(1)) })
            .await;
        assert_eq!(task_count(&second.unwrap()), 1);
    }

    #[tokio::test]
    async fn refresh_replaces_the_entry() {
        let (cache, _) = cache();
        cache
            .get_or_load(key("a", "c1"), false, async { Ok(tasks(1)) })
            .await
            .unwrap();
        cache
            .get_or_load(key("a", "c1"), true, async { Ok(tasks(3)) })
            .await
            .unwrap();
        let read = cache
            .get_or_load(key("a", "c1"), false, async { panic!("must not load") })
            .await
            .unwrap();
        assert_eq!(task_count(&read), 3);
    }

    #[tokio::test]
    async fn batch_loads_only_misses_and_marks_absent_ids() {
        let (cache, _) = cache();
        let tenant: Arc<str> = Arc::from("a");
        cache
            .get_or_load(key("a", "known"), false, async { Ok(tasks(1)) })
            .await
            .unwrap();
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let asked_in_batch = asked.clone();
        let ids = vec!["known".to_string(), "new".to_string(), "absent".to_string()];
        let found = cache
            .get_or_load_many(
                &tenant,
                System::Ghl,
                RecordKind::Tasks,
                &ids,
                false,
                move |missing| {
                    *asked_in_batch.lock().unwrap() = missing;
                    async { Ok(HashMap::from([("new".to_string(), tasks(2))])) }
                },
            )
            .await
            .unwrap();
        assert_eq!(
            *asked.lock().unwrap(),
            vec!["new".to_string(), "absent".to_string()]
        );
        assert_eq!(task_count(&found["known"]), 1);
        assert_eq!(task_count(&found["new"]), 2);
        assert!(matches!(found["absent"], Cached::Missing));
    }

    #[tokio::test]
    async fn contact_invalidation_drops_children() {
        let (cache, _) = cache();
        let tenant: Arc<str> = Arc::from("a");
        cache
            .get_or_load(key("a", "c1"), false, async { Ok(tasks(1)) })
            .await
            .unwrap();
        cache.invalidate_contact(&tenant, System::Ghl, "c1").await;
        let reloaded = cache
            .get_or_load(key("a", "c1"), false, async { Ok(tasks(4)) })
            .await
            .unwrap();
        assert_eq!(task_count(&reloaded), 4);
    }

    #[test]
    fn zero_ttl_is_rejected() {
        let mut config = CacheConfig::default();
        config.notes.ttl_s = 0;
        let message = config.validate().unwrap_err();
        assert!(message.contains("cache.notes"), "{message}");
    }
}
