//! Request-scoped DataLoaders: resolvers ask these, never the clients.
//!
//! Casebook takes many ids in one JSON:API request, so its loaders batch. GHL has no
//! multi-id read, so its loaders remove duplicate keys and run one call per key
//! concurrently; each key gets its own result, so one failing contact does not fail the
//! others. Results are matched to keys by id, never by position.

use std::{collections::HashMap, convert::Infallible, future::Future, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use futures::{StreamExt, future::BoxFuture, stream};

use crate::{
    tenant::Tenant,
    upstream::{
        UpstreamError,
        casebook::{CasebookNote, CasebookPerson, CasebookTask},
        ghl::{GhlAppointment, GhlClient, GhlContact, GhlNote, GhlTask},
    },
};

/// Calls to GHL that one loader runs at the same time.
const GHL_CONCURRENCY: usize = 8;
/// How long a loader waits to gather keys into one batch.
const BATCH_DELAY: Duration = Duration::from_millis(1);

/// A value loaded per key from GHL: each key succeeds or fails alone.
pub type PerKey<T> = Result<T, UpstreamError>;

/// All loaders of one request.
pub struct Loaders {
    pub casebook_people: DataLoader<CasebookPeople>,
    pub casebook_tasks: DataLoader<CasebookTasks>,
    pub casebook_notes: DataLoader<CasebookNotes>,
    pub casebook_appointments: DataLoader<CasebookAppointments>,
    pub ghl_contacts: DataLoader<GhlPerKey<GhlContact>>,
    pub ghl_tasks: DataLoader<GhlPerKey<Vec<GhlTask>>>,
    pub ghl_notes: DataLoader<GhlPerKey<Vec<GhlNote>>>,
    pub ghl_appointments: DataLoader<GhlPerKey<Vec<GhlAppointment>>>,
}

impl Loaders {
    /// Builds the loaders of one request for `tenant`.
    pub fn new(tenant: &Arc<Tenant>) -> Loaders {
        fn loader<T: Loader<String>>(inner: T) -> DataLoader<T> {
            DataLoader::new(inner, tokio::spawn).delay(BATCH_DELAY)
        }
        let ghl = tenant.ghl.clone();
        Loaders {
            casebook_people: loader(CasebookPeople(tenant.clone())),
            casebook_tasks: loader(CasebookTasks(tenant.clone())),
            casebook_notes: loader(CasebookNotes(tenant.clone())),
            casebook_appointments: loader(CasebookAppointments(tenant.clone())),
            ghl_contacts: loader(GhlPerKey::new(ghl.clone(), |client, id| {
                Box::pin(async move { client.get_contact(&id).await })
            })),
            ghl_tasks: loader(GhlPerKey::new(ghl.clone(), |client, id| {
                Box::pin(async move { client.list_tasks(&id).await })
            })),
            ghl_notes: loader(GhlPerKey::new(ghl.clone(), |client, id| {
                Box::pin(async move { client.list_notes(&id).await })
            })),
            ghl_appointments: loader(GhlPerKey::new(ghl, |client, id| {
                Box::pin(async move { client.list_contact_appointments(&id).await })
            })),
        }
    }
}

/// Casebook people by id.
pub struct CasebookPeople(Arc<Tenant>);

impl Loader<String> for CasebookPeople {
    type Value = CasebookPerson;
    type Error = UpstreamError;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, CasebookPerson>, UpstreamError>> + Send {
        let tenant = self.0.clone();
        let keys = keys.to_vec();
        async move {
            let people = tenant.casebook.people_by_ids(&keys).await?;
            Ok(people
                .into_iter()
                .map(|person| (person.id.clone(), person))
                .collect())
        }
    }
}

/// Groups children by the person ids they belong to, with an empty list for every key.
fn group_by_person<T: Clone>(
    keys: &[String],
    items: Vec<T>,
    owners: impl Fn(&T) -> Vec<String>,
) -> HashMap<String, Vec<T>> {
    let mut grouped: HashMap<String, Vec<T>> =
        keys.iter().map(|key| (key.clone(), Vec::new())).collect();
    for item in items {
        for owner in owners(&item) {
            if let Some(list) = grouped.get_mut(&owner) {
                list.push(item.clone());
            }
        }
    }
    grouped
}

/// Casebook tasks by person id.
pub struct CasebookTasks(Arc<Tenant>);

impl Loader<String> for CasebookTasks {
    type Value = Vec<CasebookTask>;
    type Error = UpstreamError;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Vec<CasebookTask>>, UpstreamError>> + Send
    {
        let tenant = self.0.clone();
        let keys = keys.to_vec();
        async move {
            let tasks = tenant.casebook.tasks_for_people(&keys).await?;
            Ok(group_by_person(&keys, tasks, |task| {
                task.person_id.iter().cloned().collect()
            }))
        }
    }
}

/// Casebook notes by person id (every note type but the appointment stand-in).
pub struct CasebookNotes(Arc<Tenant>);

impl Loader<String> for CasebookNotes {
    type Value = Vec<CasebookNote>;
    type Error = UpstreamError;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Vec<CasebookNote>>, UpstreamError>> + Send
    {
        let tenant = self.0.clone();
        let keys = keys.to_vec();
        async move {
            let notes = tenant.casebook.notes_for_people(&keys).await?;
            Ok(group_by_person(&keys, notes, |note| {
                note.people_ids.clone()
            }))
        }
    }
}

/// Casebook appointment stand-ins (Meeting notes) by person id.
pub struct CasebookAppointments(Arc<Tenant>);

impl Loader<String> for CasebookAppointments {
    type Value = Vec<CasebookNote>;
    type Error = UpstreamError;

    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, Vec<CasebookNote>>, UpstreamError>> + Send
    {
        let tenant = self.0.clone();
        let keys = keys.to_vec();
        async move {
            let notes = tenant.casebook.appointments_for_people(&keys).await?;
            Ok(group_by_person(&keys, notes, |note| {
                note.people_ids.clone()
            }))
        }
    }
}

type GhlFetch<T> = dyn Fn(GhlClient, String) -> BoxFuture<'static, PerKey<T>> + Send + Sync;

/// One GHL read per key, run concurrently; each key keeps its own result.
pub struct GhlPerKey<T> {
    client: GhlClient,
    fetch: Arc<GhlFetch<T>>,
}

impl<T> GhlPerKey<T> {
    fn new(
        client: GhlClient,
        fetch: impl Fn(GhlClient, String) -> BoxFuture<'static, PerKey<T>> + Send + Sync + 'static,
    ) -> Self {
        GhlPerKey {
            client,
            fetch: Arc::new(fetch),
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
        let client = self.client.clone();
        let fetch = self.fetch.clone();
        // DataLoader already removes duplicate keys within a batch.
        let keys = keys.to_vec();
        async move {
            let results = stream::iter(keys)
                .map(|key| {
                    let call = fetch(client.clone(), key.clone());
                    async move { (key, call.await) }
                })
                .buffer_unordered(GHL_CONCURRENCY)
                .collect::<HashMap<_, _>>()
                .await;
            Ok(results)
        }
    }
}
