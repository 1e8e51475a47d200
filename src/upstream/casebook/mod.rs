//! Casebook client (JSON:API) for people, notes, appointment notes and tasks: reads
//! here, writes in the `writes` module.
//!
//! Every call sends `Authorization: Bearer`, `Accept: application/vnd.api+json` and
//! `Accept-Version: v0`. Paths, types, attributes and filter names come from `names.rs`.
//! Batch reads filter by a comma-separated id list (crnk's any-of), split the ids so that
//! no URL exceeds the configured length, follow `page[offset]` paging to the end, and
//! match results to the requested ids by id, never by position.

pub mod jsonapi;
mod models;
pub mod names;
pub mod query;
mod writes;

use std::{collections::HashSet, sync::Arc};

use futures::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use secrecy::SecretString;

use crate::credentials::Credentials;
use url::Url;

pub use models::{CasebookNote, CasebookPerson, CasebookTask, Page};
pub use writes::{CasebookNoteInput, CasebookPersonInput, CasebookTaskInput};

use self::{
    jsonapi::{Document, PrimaryData, Resource},
    names::Collection,
    query::Param,
};
use super::{
    HttpSettings, System, UpstreamError,
    http::{Call, NotFoundTarget, Upstream, check_id, encode_path_segment, headers},
};

const SYSTEM: System = System::Casebook;

/// Default for [`CasebookClient::with_max_url_length`], in bytes. 2000 stays below the
/// URL limits of common proxies and servers (8 KiB in nginx and Apache by default).
pub const DEFAULT_MAX_URL_LENGTH: usize = 2000;

/// Default for [`CasebookClient::with_max_ids_per_request`]: one full page of people.
pub const DEFAULT_MAX_IDS_PER_REQUEST: usize = names::MAX_PAGE_SIZE as usize;

/// Number of id chunks fetched at the same time by one batch read.
const CHUNK_CONCURRENCY: usize = 4;

/// Upper bound on pages followed by one request chain, which stops a server that keeps
/// returning full pages from looping the client forever.
const MAX_PAGES: u64 = 1000;

/// Client of one Casebook tenant. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CasebookClient {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    upstream: Upstream,
    max_url_length: usize,
    max_ids_per_request: usize,
}

impl CasebookClient {
    /// Builds a client for the tenant at `base_url`, such as `https://api.casebook.net`.
    ///
    /// Fails with `Connect` when the base URL is not an http(s) URL with a host, and
    /// with `Unauthorized` when the token is empty or cannot be sent in a header.
    pub fn new(
        base_url: Url,
        token: SecretString,
        settings: &HttpSettings,
    ) -> Result<CasebookClient, UpstreamError> {
        let credentials = Credentials::fixed(SYSTEM, token)?;
        CasebookClient::with_credentials(base_url, credentials, settings)
    }

    /// Builds a client like [`CasebookClient::new`] whose calls take their token from
    /// `credentials`, such as client credentials.
    pub fn with_credentials(
        base_url: Url,
        credentials: Credentials,
        settings: &HttpSettings,
    ) -> Result<CasebookClient, UpstreamError> {
        let upstream = Upstream::with_credentials(SYSTEM, base_url, credentials, settings)?;
        Ok(CasebookClient {
            inner: Arc::new(Inner {
                upstream,
                max_url_length: DEFAULT_MAX_URL_LENGTH,
                max_ids_per_request: DEFAULT_MAX_IDS_PER_REQUEST,
            }),
        })
    }

    /// Longest URL the id-batch reads produce; batches are split to stay under it.
    /// Default 2000. An id too long to fit even alone is treated as not found.
    pub fn with_max_url_length(mut self, max: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_url_length = max;
        self
    }

    /// Largest number of ids in one id-batch request (the batch size). Default 100.
    pub fn with_max_ids_per_request(mut self, max: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_ids_per_request = max.max(1);
        self
    }

    /// Lists people sorted by last name, first name and id, starting at `offset`.
    ///
    /// With a non-blank `query`, keeps people whose first name, last name or e-mail
    /// contains it. The match is case-sensitive upstream. A `limit` above
    /// `names::MAX_PAGE_SIZE` is served from several upstream pages.
    pub async fn search_people(
        &self,
        query: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<Page<CasebookPerson>, UpstreamError> {
        let mut params: Vec<Param> = Vec::new();
        if let Some(text) = query.map(str::trim).filter(|text| !text.is_empty()) {
            params.push(("filter".to_string(), query::people_search_filter(text)));
        }
        params.push(("sort".to_string(), query::people_sort()));

        let mut items = Vec::new();
        let mut total = None;
        let mut next_offset = offset;
        let mut remaining = limit;
        while remaining > 0 {
            let page_size = remaining.min(names::MAX_PAGE_SIZE);
            let document = self
                .fetch_page(&names::PEOPLE, &params, next_offset, page_size)
                .await?;
            total = document.total().or(total);
            let resources = collection_resources(document, &names::PEOPLE)?;
            let received = resources.len() as u64;
            for resource in &resources {
                items.push(CasebookPerson::from_resource(resource)?);
            }

            next_offset += received;
            remaining = remaining.saturating_sub(received as u32);
            if is_last_page(received, page_size, next_offset, total) {
                break;
            }
        }
        Ok(Page { items, total })
    }

    /// Reads one person.
    pub async fn get_person(&self, id: &str) -> Result<CasebookPerson, UpstreamError> {
        let resource = self.get_one(&names::PEOPLE, "person", id).await?;
        CasebookPerson::from_resource(&resource)
    }

    /// Reads the people with the given ids, in the order of `ids`; ids without a person
    /// are left out, and so are duplicates.
    pub async fn people_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<CasebookPerson>, UpstreamError> {
        let requested = clean_ids(ids);
        let resources = self.batch(&names::PEOPLE, "id", &requested, &[]).await?;

        let mut found = std::collections::HashMap::new();
        for resource in &resources {
            let person = CasebookPerson::from_resource(resource)?;
            found.insert(person.id.clone(), person);
        }
        Ok(requested
            .iter()
            .filter_map(|id| found.remove(*id))
            .collect())
    }

    /// Reads the notes involving any of `person_ids`, limited to `names::NOTE_TYPES`.
    ///
    /// A note is returned once even when it involves several of the people. Notes
    /// without a `people` linkage to a requested person are dropped, because they
    /// cannot be attributed.
    pub async fn notes_for_people(
        &self,
        person_ids: &[String],
    ) -> Result<Vec<CasebookNote>, UpstreamError> {
        let notes = self
            .notes_of_types(person_ids, &names::NOTE_TYPES.join(","))
            .await?;
        Ok(notes
            .into_iter()
            .filter(|note| {
                note.note_type
                    .as_deref()
                    .is_none_or(|note_type| names::NOTE_TYPES.contains(&note_type))
            })
            .collect())
    }

    /// Reads the notes of type `names::APPOINTMENT_NOTE_TYPE` involving any of
    /// `person_ids`. Casebook has no scheduling API, so these notes represent appointments.
    pub async fn appointments_for_people(
        &self,
        person_ids: &[String],
    ) -> Result<Vec<CasebookNote>, UpstreamError> {
        let notes = self
            .notes_of_types(person_ids, names::APPOINTMENT_NOTE_TYPE)
            .await?;
        Ok(notes
            .into_iter()
            .filter(CasebookNote::is_appointment)
            .collect())
    }

    /// Reads the tasks about any of `person_ids`.
    pub async fn tasks_for_people(
        &self,
        person_ids: &[String],
    ) -> Result<Vec<CasebookTask>, UpstreamError> {
        let requested = clean_ids(person_ids);
        let filter_path = format!("{}.id", names::task::PERSON);
        let resources = self
            .batch(&names::TASKS, &filter_path, &requested, &[])
            .await?;

        let requested: HashSet<&str> = requested.into_iter().collect();
        let mut tasks = Vec::new();
        for resource in unique(resources) {
            let task = CasebookTask::from_resource(&resource)?;
            if task
                .person_id
                .as_deref()
                .is_some_and(|person_id| requested.contains(person_id))
            {
                tasks.push(task);
            }
        }
        Ok(tasks)
    }

    /// Reads one note of any type.
    pub async fn get_note(&self, id: &str) -> Result<CasebookNote, UpstreamError> {
        let resource = self.get_one(&names::NOTES, "note", id).await?;
        CasebookNote::from_resource(&resource)
    }

    /// Reads one task.
    pub async fn get_task(&self, id: &str) -> Result<CasebookTask, UpstreamError> {
        let resource = self.get_one(&names::TASKS, "task", id).await?;
        CasebookTask::from_resource(&resource)
    }

    async fn notes_of_types(
        &self,
        person_ids: &[String],
        note_types: &str,
    ) -> Result<Vec<CasebookNote>, UpstreamError> {
        let requested = clean_ids(person_ids);
        let filter_path = format!("{}.id", names::note::PEOPLE);
        let type_filter = [(
            query::filter_name(names::note::NOTE_TYPE),
            note_types.to_string(),
        )];
        let resources = self
            .batch(&names::NOTES, &filter_path, &requested, &type_filter)
            .await?;

        let requested: HashSet<&str> = requested.into_iter().collect();
        let mut notes = Vec::new();
        for resource in unique(resources) {
            let note = CasebookNote::from_resource(&resource)?;
            if note
                .people_ids
                .iter()
                .any(|id| requested.contains(id.as_str()))
            {
                notes.push(note);
            }
        }
        Ok(notes)
    }

    /// Reads one resource by id from `collection`.
    async fn get_one(
        &self,
        collection: &Collection,
        resource_name: &'static str,
        id: &str,
    ) -> Result<Resource, UpstreamError> {
        check_id(SYSTEM, resource_name, id)?;
        let path = format!("{}/{}", collection.path(), encode_path_segment(id));
        let url = self.inner.upstream.url(&path);
        let targets = [NotFoundTarget {
            resource: resource_name,
            id,
        }];
        let route = format!("{}/{{id}}", collection.path());
        let body = self.send_get(route, url, &targets).await?;
        let not_found = || UpstreamError::NotFound {
            system: SYSTEM,
            resource: resource_name,
            id: id.to_string(),
        };

        let resource = match Document::parse(&body)?.data {
            PrimaryData::One(resource) => resource,
            PrimaryData::Null => return Err(not_found()),
            PrimaryData::Many(_) => {
                return Err(bad_response(format!(
                    "expected one `{}` resource, got an array",
                    collection.type_name
                )));
            }
        };
        resource.expect_type(collection)?;
        if !resource.id.eq_ignore_ascii_case(id) {
            return Err(bad_response(format!(
                "asked for one `{}` resource and got another id",
                collection.type_name
            )));
        }
        Ok(resource)
    }

    /// Reads every resource of `collection` whose `filter_path` is one of `ids`, in
    /// URL-bounded chunks, each followed through all its pages.
    async fn batch(
        &self,
        collection: &Collection,
        filter_path: &str,
        ids: &[&str],
        extra: &[Param],
    ) -> Result<Vec<Resource>, UpstreamError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let base = self.inner.upstream.url(&collection.path());
        let id_filter = query::filter_name(filter_path);
        let params_for = |joined: &str| -> Vec<Param> {
            let mut params = vec![(id_filter.clone(), joined.to_string())];
            params.extend_from_slice(extra);
            params
        };
        // Measured with the widest offset any page could carry.
        let url_for = |joined: &str| {
            let mut params = params_for(joined);
            params.extend(query::page_params(u64::MAX, names::MAX_PAGE_SIZE));
            query::with_query(base.clone(), &params)
        };

        let (chunks, too_long) = query::chunk_ids(
            ids,
            self.inner.max_url_length,
            self.inner.max_ids_per_request,
            url_for,
        );
        if !too_long.is_empty() {
            tracing::debug!(
                skipped = too_long.len(),
                max_url_length = self.inner.max_url_length,
                "ids too long for one request were treated as not found"
            );
        }

        // Owned parameter lists keep the stream's future `Send` for any caller.
        let requests: Vec<Vec<Param>> = chunks
            .iter()
            .map(|chunk| params_for(&chunk.join(",")))
            .collect();
        let pages = stream::iter(requests)
            .map(|params| async move { self.fetch_all(collection, &params).await })
            .buffer_unordered(CHUNK_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// Follows `page[offset]` until `meta.totalResourceCount` is reached or, without a
    /// total, until a short page.
    // NOTE: the batch reads send no sort, so the page order is the server's default. A
    // record inserted between two page reads can shift a neighbour across the boundary.
    async fn fetch_all(
        &self,
        collection: &Collection,
        params: &[Param],
    ) -> Result<Vec<Resource>, UpstreamError> {
        let mut resources = Vec::new();
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let document = self
                .fetch_page(collection, params, offset, names::MAX_PAGE_SIZE)
                .await?;
            let total = document.total();
            let page = collection_resources(document, collection)?;
            let received = page.len() as u64;
            resources.extend(page);
            offset += received;
            if is_last_page(received, names::MAX_PAGE_SIZE, offset, total) {
                return Ok(resources);
            }
        }
        Err(bad_response(format!(
            "paging did not end after {MAX_PAGES} pages of `{}`",
            collection.type_name
        )))
    }

    async fn fetch_page(
        &self,
        collection: &Collection,
        params: &[Param],
        offset: u64,
        limit: u32,
    ) -> Result<Document, UpstreamError> {
        let mut all = params.to_vec();
        all.extend(query::page_params(offset, limit));
        let url = query::with_query(self.inner.upstream.url(&collection.path()), &all);
        let body = self.send_get(collection.path(), url, &[]).await?;
        Document::parse(&body)
    }

    async fn send_get(
        &self,
        route: String,
        url: Url,
        targets: &[NotFoundTarget<'_>],
    ) -> Result<Vec<u8>, UpstreamError> {
        let call = Call {
            method: Method::GET,
            route: route.into(),
            url,
            headers: headers(&[
                ("accept", names::MEDIA_TYPE),
                ("accept-version", names::ACCEPT_VERSION),
            ]),
            body: None,
            not_found: targets,
        };
        self.inner.upstream.send(call).await
    }
}

/// Returns true when paging stops after a page of `received` records requested with
/// `page_size`.
///
/// A known total wins, so a server that caps pages below `page_size` is still followed
/// to the end. Without a total, a short page is the last.
fn is_last_page(received: u64, page_size: u32, next_offset: u64, total: Option<u64>) -> bool {
    if received == 0 {
        return true;
    }
    match total {
        Some(total) => next_offset >= total,
        None => received < u64::from(page_size),
    }
}

/// Returns the resources of a collection response after checking each one's type.
fn collection_resources(
    document: Document,
    collection: &Collection,
) -> Result<Vec<Resource>, UpstreamError> {
    let resources = document.into_resources();
    for resource in &resources {
        resource.expect_type(collection)?;
    }
    Ok(resources)
}

/// Drops empty ids, duplicates and ids containing a comma, which the any-of filter
/// would split; no Casebook id (a UUID) contains one.
fn clean_ids(ids: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    ids.iter()
        .map(String::as_str)
        .filter(|id| !id.trim().is_empty() && !id.contains(','))
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Keeps the first resource of each id; chunks and pages may overlap.
fn unique(resources: Vec<Resource>) -> Vec<Resource> {
    let mut seen = HashSet::new();
    resources
        .into_iter()
        .filter(|resource| seen.insert(resource.id.clone()))
        .collect()
}

fn bad_response(detail: String) -> UpstreamError {
    UpstreamError::BadResponse {
        system: SYSTEM,
        detail,
    }
}

#[cfg(test)]
mod tests;
