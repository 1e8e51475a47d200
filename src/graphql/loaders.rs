//! Request-scoped DataLoaders: resolvers ask these, never the clients.
//!
//! Every loader reads the shared record cache first. Casebook takes many ids in one
//! JSON:API request, so its loaders load all misses of a batch in one call. GHL has no
//! multi-id read, so its loaders run one call per distinct key, a bounded number at a
//! time, and each key keeps its own result: one failing contact does not fail the others.
//! Results are matched to keys by id, never by position.

use std::{collections::HashMap, convert::Infallible, future::Future, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use futures::{StreamExt, future::BoxFuture, stream};
use serde::Deserialize;

use crate::{
    cache::{Cached, RecordCache, RecordKind},
    store::StoreError,
    tenant::Tenant,
    upstream::{
        System, UpstreamError,
        casebook::{CasebookClient, CasebookNote, CasebookPerson, CasebookTask},
        ghl::{GhlAppointment, GhlClient, GhlContact, GhlNote, GhlTask},
    },
    writes::state::{RecordKind as LinkedKind, RecordLink, RecordLinks},
};

/// Loader settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoaderConfig {
    /// How long a loader waits to gather keys into one batch, in microseconds. Default 1000.
    pub batch_delay_us: u64,
    /// GHL calls that one loader starts at the same time. Default 100; the location's
    /// limits (`upstream.ghl_limits`) bound them again across all requests.
    pub ghl_concurrency: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_delay_us: 1_000,
            ghl_concurrency: 100,
        }
    }
}

/// A value loaded per key from GHL: each key succeeds or fails alone.
pub type PerKey<T> = Result<T, UpstreamError>;

/// What every loader of one request shares.
#[derive(Clone)]
struct Scope {
    tenant: Arc<str>,
    cache: RecordCache,
    /// Ignore cached entries and replace them (`Cache-Control: no-cache`).
    refresh: bool,
}

/// All loaders of one request.
pub struct Loaders {
    pub casebook_people: DataLoader<CasebookPeople>,
    pub casebook_tasks: DataLoader<CasebookChildren<CasebookTask>>,
    pub casebook_notes: DataLoader<CasebookChildren<CasebookNote>>,
    pub casebook_appointments: DataLoader<CasebookChildren<CasebookNote>>,
    pub ghl_contacts: DataLoader<GhlPerKey<GhlContact>>,
    pub ghl_tasks: DataLoader<GhlPerKey<Vec<GhlTask>>>,
    pub ghl_notes: DataLoader<GhlPerKey<Vec<GhlNote>>>,
    pub ghl_appointments: DataLoader<GhlPerKey<Vec<GhlAppointment>>>,
    /// Links of tasks, notes and appointments written to both systems, by contact id.
    pub record_links: DataLoader<RecordLinksByContact>,
}

impl Loaders {
    /// Builds the loaders of one request for `tenant`.
    pub fn new(
        tenant: &Tenant,
        cache: RecordCache,
        refresh: bool,
        config: &LoaderConfig,
        records: RecordLinks,
    ) -> Loaders {
        let delay = Duration::from_micros(config.batch_delay_us);
        let scope = Scope {
            tenant: Arc::from(tenant.id.as_str()),
            cache,
            refresh,
        };
        let casebook = tenant.casebook.clone();
        let ghl = tenant.ghl.clone();
        let concurrency = config.ghl_concurrency.max(1);
        Loaders {
            record_links: with_delay(
                delay,
                RecordLinksByContact {
                    tenant: scope.tenant.clone(),
                    records,
                },
            ),
            casebook_people: with_delay(
                delay,
                CasebookPeople {
                    scope: scope.clone(),
                    client: casebook.clone(),
                },
            ),
            casebook_tasks: with_delay(
                delay,
                CasebookChildren::new(
                    scope.clone(),
                    casebook.clone(),
                    RecordKind::Tasks,
                    CasebookChildKind::Tasks,
                ),
            ),
            casebook_notes: with_delay(
                delay,
                CasebookChildren::new(
                    scope.clone(),
                    casebook.clone(),
                    RecordKind::Notes,
                    CasebookChildKind::Notes,
                ),
            ),
            casebook_appointments: with_delay(
                delay,
                CasebookChildren::new(
                    scope.clone(),
                    casebook,
                    RecordKind::Appointments,
                    CasebookChildKind::Appointments,
                ),
            ),
            ghl_contacts: with_delay(
                delay,
                GhlPerKey::new(
                    scope.clone(),
                    ghl.clone(),
                    RecordKind::Contact,
                    concurrency,
                    |client, id| {
                        Box::pin(async move {
                            client
                                .get_contact(&id)
                                .await
                                .map(|c| Cached::GhlContact(Arc::new(c)))
                        })
                    },
                    |cached| match cached {
                        Cached::GhlContact(contact) => Some((**contact).clone()),
                        _ => None,
                    },
                    "contact",
                ),
            ),
            ghl_tasks: with_delay(
                delay,
                GhlPerKey::new(
                    scope.clone(),
                    ghl.clone(),
                    RecordKind::Tasks,
                    concurrency,
                    |client, id| {
                        Box::pin(async move {
                            client
                                .list_tasks(&id)
                                .await
                                .map(|t| Cached::GhlTasks(Arc::new(t)))
                        })
                    },
                    |cached| match cached {
                        Cached::GhlTasks(tasks) => Some((**tasks).clone()),
                        _ => None,
                    },
                    "contact",
                ),
            ),
            ghl_notes: with_delay(
                delay,
                GhlPerKey::new(
                    scope.clone(),
                    ghl.clone(),
                    RecordKind::Notes,
                    concurrency,
                    |client, id| {
                        Box::pin(async move {
                            client
                                .list_notes(&id)
                                .await
                                .map(|n| Cached::GhlNotes(Arc::new(n)))
                        })
                    },
                    |cached| match cached {
                        Cached::GhlNotes(notes) => Some((**notes).clone()),
                        _ => None,
                    },
                    "contact",
                ),
            ),
            ghl_appointments: with_delay(
                delay,
                GhlPerKey::new(
                    scope,
                    ghl,
                    RecordKind::Appointments,
                    concurrency,
                    |client, id| {
                        Box::pin(async move {
                            client
                                .list_contact_appointments(&id)
                                .await
                                .map(|a| Cached::GhlAppointments(Arc::new(a)))
                        })
                    },
                    |cached| match cached {
                        Cached::GhlAppointments(appointments) => Some((**appointments).clone()),
                        _ => None,
                    },
                    "contact",
                ),
            ),
        }
    }
}

fn with_delay<T: Loader<String>>(delay: Duration, inner: T) -> DataLoader<T> {
    DataLoader::new(inner, tokio::spawn).delay(delay)
}

/// Record links by contact id, read from the gateway's database in one query per batch.
/// Nothing is kept between loads, so a mutation's payload reads the links it just wrote.
pub struct RecordLinksByContact {
    tenant: Arc<str>,
    records: RecordLinks,
}

impl Loader<String> for RecordLinksByContact {
    type Value = Arc<Vec<(LinkedKind, RecordLink)>>;
    type Error = Arc<StoreError>;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Self::Value>, Self::Error>> + Send {
        let tenant = self.tenant.clone();
        let records = self.records.clone();
        let keys = keys.to_vec();
        async move {
            let found = records
                .for_contacts(&tenant, &keys)
                .await
                .map_err(Arc::new)?;
            Ok(found
                .into_iter()
                .map(|(contact_id, links)| (contact_id, Arc::new(links)))
                .collect())
        }
    }
}

/// Casebook people by id.
pub struct CasebookPeople {
    scope: Scope,
    client: CasebookClient,
}

impl Loader<String> for CasebookPeople {
    type Value = CasebookPerson;
    type Error = UpstreamError;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, CasebookPerson>, UpstreamError>> + Send {
        let scope = self.scope.clone();
        let client = self.client.clone();
        let keys = keys.to_vec();
        async move {
            let found = scope
                .cache
                .get_or_load_many(
                    &scope.tenant,
                    System::Casebook,
                    RecordKind::Contact,
                    &keys,
                    scope.refresh,
                    move |missing| async move {
                        let people = client.people_by_ids(&missing).await?;
                        Ok(people
                            .into_iter()
                            .map(|person| {
                                (person.id.clone(), Cached::CasebookPerson(Arc::new(person)))
                            })
                            .collect())
                    },
                )
                .await?;
            Ok(found
                .into_iter()
                .filter_map(|(id, cached)| match cached {
                    Cached::CasebookPerson(person) => Some((id, (*person).clone())),
                    _ => None,
                })
                .collect())
        }
    }
}

/// Which Casebook child list a loader reads.
#[derive(Debug, Clone, Copy)]
pub enum CasebookChildKind {
    Tasks,
    Notes,
    Appointments,
}

/// A child record of Casebook people: a task or a note.
pub trait CasebookChild: Clone + Send + Sync + 'static {
    /// The ids of the people the record belongs to.
    fn owners(&self) -> Vec<String>;
    fn wrap(items: Vec<Self>) -> Cached;
    fn unwrap(cached: &Cached) -> Option<Vec<Self>>;
}

impl CasebookChild for CasebookTask {
    fn owners(&self) -> Vec<String> {
        self.person_id.iter().cloned().collect()
    }
    fn wrap(items: Vec<Self>) -> Cached {
        Cached::CasebookTasks(Arc::new(items))
    }
    fn unwrap(cached: &Cached) -> Option<Vec<Self>> {
        match cached {
            Cached::CasebookTasks(items) => Some((**items).clone()),
            _ => None,
        }
    }
}

impl CasebookChild for CasebookNote {
    fn owners(&self) -> Vec<String> {
        self.people_ids.clone()
    }
    fn wrap(items: Vec<Self>) -> Cached {
        Cached::CasebookNotes(Arc::new(items))
    }
    fn unwrap(cached: &Cached) -> Option<Vec<Self>> {
        match cached {
            Cached::CasebookNotes(items) => Some((**items).clone()),
            _ => None,
        }
    }
}

/// Tasks, notes or appointment stand-ins of Casebook people, by person id.
pub struct CasebookChildren<T> {
    scope: Scope,
    client: CasebookClient,
    kind: RecordKind,
    child: CasebookChildKind,
    _items: std::marker::PhantomData<fn() -> T>,
}

impl<T> CasebookChildren<T> {
    fn new(
        scope: Scope,
        client: CasebookClient,
        kind: RecordKind,
        child: CasebookChildKind,
    ) -> Self {
        CasebookChildren {
            scope,
            client,
            kind,
            child,
            _items: std::marker::PhantomData,
        }
    }
}

/// Reads the children of these people, chosen by `child`.
async fn fetch_casebook_children(
    client: CasebookClient,
    child: CasebookChildKind,
    person_ids: Vec<String>,
) -> Result<Vec<Cached>, UpstreamError> {
    Ok(match child {
        CasebookChildKind::Tasks => {
            let tasks = client.tasks_for_people(&person_ids).await?;
            group_by_person(&person_ids, tasks)
                .into_iter()
                .map(CasebookTask::wrap)
                .collect()
        }
        CasebookChildKind::Notes => {
            let notes = client.notes_for_people(&person_ids).await?;
            group_by_person(&person_ids, notes)
                .into_iter()
                .map(CasebookNote::wrap)
                .collect()
        }
        CasebookChildKind::Appointments => {
            let notes = client.appointments_for_people(&person_ids).await?;
            group_by_person(&person_ids, notes)
                .into_iter()
                .map(CasebookNote::wrap)
                .collect()
        }
    })
}

impl<T: CasebookChild> Loader<String> for CasebookChildren<T> {
    type Value = Vec<T>;
    type Error = UpstreamError;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Vec<T>>, UpstreamError>> + Send {
        let scope = self.scope.clone();
        let client = self.client.clone();
        let (kind, child) = (self.kind, self.child);
        let keys = keys.to_vec();
        async move {
            let found = scope
                .cache
                .get_or_load_many(
                    &scope.tenant,
                    System::Casebook,
                    kind,
                    &keys,
                    scope.refresh,
                    move |missing| async move {
                        let lists = fetch_casebook_children(client, child, missing.clone()).await?;
                        Ok(missing.into_iter().zip(lists).collect())
                    },
                )
                .await?;
            Ok(found
                .into_iter()
                .map(|(id, cached)| {
                    let items = T::unwrap(&cached).unwrap_or_default();
                    (id, items)
                })
                .collect())
        }
    }
}

/// Groups children by the people they belong to, in the order of `person_ids`, with an
/// empty list for a person who has none.
fn group_by_person<T: CasebookChild>(person_ids: &[String], items: Vec<T>) -> Vec<Vec<T>> {
    let mut grouped: HashMap<&str, Vec<T>> = person_ids
        .iter()
        .map(|id| (id.as_str(), Vec::new()))
        .collect();
    for item in items {
        for owner in item.owners() {
            if let Some(list) = grouped.get_mut(owner.as_str()) {
                list.push(item.clone());
            }
        }
    }
    person_ids
        .iter()
        .map(|id| grouped.remove(id.as_str()).unwrap_or_default())
        .collect()
}

type GhlFetch =
    dyn Fn(GhlClient, String) -> BoxFuture<'static, Result<Cached, UpstreamError>> + Send + Sync;
type GhlUnwrap<T> = dyn Fn(&Cached) -> Option<T> + Send + Sync;

/// One GHL read per key through the cache, run concurrently; each key keeps its own result.
pub struct GhlPerKey<T> {
    scope: Scope,
    client: GhlClient,
    kind: RecordKind,
    concurrency: usize,
    fetch: Arc<GhlFetch>,
    unwrap: Arc<GhlUnwrap<T>>,
    /// The resource named when GHL has no record for the key.
    resource: &'static str,
}

impl<T> GhlPerKey<T> {
    fn new(
        scope: Scope,
        client: GhlClient,
        kind: RecordKind,
        concurrency: usize,
        fetch: impl Fn(GhlClient, String) -> BoxFuture<'static, Result<Cached, UpstreamError>>
        + Send
        + Sync
        + 'static,
        unwrap: impl Fn(&Cached) -> Option<T> + Send + Sync + 'static,
        resource: &'static str,
    ) -> Self {
        GhlPerKey {
            scope,
            client,
            kind,
            concurrency,
            fetch: Arc::new(fetch),
            unwrap: Arc::new(unwrap),
            resource,
        }
    }
}

impl<T: Send + Sync + Clone + 'static> Loader<String> for GhlPerKey<T> {
    type Value = PerKey<T>;
    type Error = Infallible;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, PerKey<T>>, Infallible>> + Send {
        let scope = self.scope.clone();
        let client = self.client.clone();
        let fetch = self.fetch.clone();
        let unwrap = self.unwrap.clone();
        let (kind, concurrency, resource) = (self.kind, self.concurrency, self.resource);
        // DataLoader has already removed duplicate keys within the batch.
        let keys = keys.to_vec();
        async move {
            let results = stream::iter(keys)
                .map(|id| {
                    let key = crate::cache::CacheKey {
                        tenant: scope.tenant.clone(),
                        system: System::Ghl,
                        kind,
                        id: id.clone(),
                    };
                    let call = fetch(client.clone(), id.clone());
                    let cache = scope.cache.clone();
                    let unwrap = unwrap.clone();
                    async move {
                        // A 404 is cached as a negative entry.
                        let load = async move {
                            match call.await {
                                Err(UpstreamError::NotFound { .. }) => Ok(Cached::Missing),
                                other => other,
                            }
                        };
                        let value = match cache.get_or_load(key, scope.refresh, load).await {
                            Ok(cached) => unwrap(&cached).ok_or(UpstreamError::NotFound {
                                system: System::Ghl,
                                resource,
                                id: id.clone(),
                            }),
                            Err(error) => Err(error),
                        };
                        (id, value)
                    }
                })
                .buffer_unordered(concurrency)
                .collect::<HashMap<_, _>>()
                .await;
            Ok(results)
        }
    }
}
