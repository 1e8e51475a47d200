//! Root query fields.

use async_graphql::{
    Context, ID, Object, Result, SimpleObject,
    connection::{Connection, Edge},
};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    RequestContext,
    contact::{Contact, load_ghl_contact, page_size, prefetch},
    errors::{self, StoreResultExt},
    ids::{GlobalId, ItemRef, decode_cursor, encode_cursor},
    items::{Appointment, Node, Note, Task},
};
use crate::{
    cache::{CacheKey, Cached, RecordKind},
    upstream::{
        System, UpstreamError,
        casebook::names::APPOINTMENT_NOTE_TYPE,
        casebook::{CasebookPerson, Page, names::MAX_PAGE_SIZE},
        ghl::{GhlContact, SearchContactsRequest, SearchContactsResponse, SearchSort},
    },
};

const CONTACTS_DEFAULT: usize = 20;
const CONTACTS_MAX: usize = 100;
/// GHL's search `query` is limited to 75 characters.
const QUERY_MAX_CHARS: usize = 75;

/// The root query fields that read contacts.
#[derive(Default)]
pub struct Query;

/// Extra fields of a contact page.
#[derive(SimpleObject)]
pub struct ContactConnectionFields {
    /// Number of unified contacts across both systems; null when it is not known, which
    /// is the case for searches, because linked pairs are counted once.
    pub total_count: Option<u64>,
}

/// Where a contact list stands: in Casebook's people, then in GHL's contacts that have
/// no Casebook record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum ListPosition {
    Casebook { offset: u64 },
    Ghl { search_after: Option<Vec<Value>> },
    Done,
}

/// A contact found while listing, before its link is known.
enum Found {
    Casebook(CasebookPerson),
    Ghl(Box<GhlContact>),
}

#[Object]
impl Query {
    /// A contact by the gateway's global id.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contact>> {
        let request = RequestContext::get(ctx)?;
        let Some(GlobalId::Contact(link_id)) = GlobalId::decode(&id) else {
            return Err(invalid_id(&id, "a Contact"));
        };
        match request
            .store
            .get(&request.tenant.id, &link_id)
            .await
            .or_internal()?
        {
            Some(link) => Ok(Some(Contact::new(link))),
            None => Err(errors::not_found(format!(
                "no contact has id {}",
                id.as_str()
            ))),
        }
    }

    /// A contact by its Casebook person id.
    async fn contact_by_casebook_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contact>> {
        let request = RequestContext::get(ctx)?;
        let native = non_empty_id(&id)?;
        let known = request
            .store
            .by_native_ids(
                &request.tenant.id,
                System::Casebook,
                std::slice::from_ref(&native),
            )
            .await
            .or_internal()?;
        let ghl_id = known.get(&native).and_then(|link| link.ghl_id.clone());
        let (person, prefetched) = futures::join!(
            request.loaders.casebook_people.load_one(native.clone()),
            prefetch(ctx, Some(&native), ghl_id.as_deref())
        );
        let person = match person {
            Ok(Some(person)) => person,
            Ok(None) => {
                return Err(errors::not_found_in(
                    System::Casebook,
                    format!("Casebook has no person with id {native}"),
                ));
            }
            Err(error) => return Err(errors::upstream(&error)),
        };
        let links = request
            .store
            .ensure_native_ids(
                &request.tenant.id,
                System::Casebook,
                std::slice::from_ref(&native),
            )
            .await
            .or_internal()?;
        let Some(link) = links.get(&native).cloned() else {
            return Err(errors::not_found_in(
                System::Casebook,
                format!("Casebook has no person with id {native}"),
            ));
        };
        let mut contact = Contact::new(link);
        contact.casebook = Some(person);
        contact.prefetched = Arc::new(prefetched);
        Ok(Some(contact))
    }

    /// A contact by its GHL contact id.
    async fn contact_by_ghl_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contact>> {
        let request = RequestContext::get(ctx)?;
        let native = non_empty_id(&id)?;
        let known = request
            .store
            .by_native_ids(
                &request.tenant.id,
                System::Ghl,
                std::slice::from_ref(&native),
            )
            .await
            .or_internal()?;
        let casebook_id = known.get(&native).and_then(|link| link.casebook_id.clone());
        let (record, prefetched) = futures::join!(
            load_ghl_contact(ctx, &native),
            prefetch(ctx, casebook_id.as_deref(), Some(&native))
        );
        let record = record?;
        let links = request
            .store
            .ensure_native_ids(
                &request.tenant.id,
                System::Ghl,
                std::slice::from_ref(&native),
            )
            .await
            .or_internal()?;
        let Some(link) = links.get(&native).cloned() else {
            return Err(errors::not_found_in(
                System::Ghl,
                format!("GHL has no contact with id {native}"),
            ));
        };
        let mut contact = Contact::new(link);
        contact.ghl = Some(Box::new(record));
        contact.ghl_complete = true;
        contact.prefetched = Arc::new(prefetched);
        Ok(Some(contact))
    }

    /// Any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let request = RequestContext::get(ctx)?;
        let Some(global) = GlobalId::decode(&id) else {
            return Err(invalid_id(&id, "a Contact, Task, Note or Appointment"));
        };
        let upstream = |error: UpstreamError| errors::upstream(&error);
        let node = match global {
            GlobalId::Contact(_) => self.contact(ctx, id).await?.map(Node::Contact),
            GlobalId::Task(ItemRef::Casebook { id }) => Some(Node::Task(Task::from_casebook(
                request
                    .tenant
                    .casebook
                    .get_task(&id)
                    .await
                    .map_err(upstream)?,
            ))),
            GlobalId::Task(ItemRef::Ghl { contact_id, id }) => {
                let contact_id = contact_id.unwrap_or_default();
                let task = request
                    .tenant
                    .ghl
                    .get_task(&contact_id, &id)
                    .await
                    .map_err(upstream)?;
                Some(Node::Task(Task::from_ghl(task, &contact_id)))
            }
            GlobalId::Note(ItemRef::Casebook { id }) => Some(Node::Note(Note::from_casebook(
                request
                    .tenant
                    .casebook
                    .get_note(&id)
                    .await
                    .map_err(upstream)?,
            ))),
            GlobalId::Note(ItemRef::Ghl { contact_id, id }) => {
                let contact_id = contact_id.unwrap_or_default();
                let note = request
                    .tenant
                    .ghl
                    .get_note(&contact_id, &id)
                    .await
                    .map_err(upstream)?;
                Some(Node::Note(Note::from_ghl(note, &contact_id)))
            }
            GlobalId::Appointment(ItemRef::Casebook { id }) => {
                let note = request
                    .tenant
                    .casebook
                    .get_note(&id)
                    .await
                    .map_err(upstream)?;
                if note.note_type.as_deref() != Some(APPOINTMENT_NOTE_TYPE) {
                    return Err(errors::not_found_in(
                        System::Casebook,
                        format!("Casebook has no appointment with id {id}"),
                    ));
                }
                Some(Node::Appointment(Appointment::from_casebook(note)))
            }
            GlobalId::Appointment(ItemRef::Ghl { id, .. }) => {
                Some(Node::Appointment(Appointment::from_ghl(
                    request
                        .tenant
                        .ghl
                        .get_appointment(&id)
                        .await
                        .map_err(upstream)?,
                )))
            }
        };
        Ok(node)
    }

    /// Contacts of both systems, each linked pair once: Casebook's people first (by last
    /// name), then GHL contacts without a Casebook record (by date added).
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Text to search for in names and e-mail addresses; at most 75 characters."
        )]
        query: Option<String>,
        #[graphql(desc = "Page size, 1 to 100; default 20.")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last contact of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, Contact, ContactConnectionFields>> {
        let request = RequestContext::get(ctx)?;
        let first = page_size(first, CONTACTS_DEFAULT, CONTACTS_MAX, "first")?;
        let query = match query
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty())
        {
            Some(q) if q.chars().count() > QUERY_MAX_CHARS => {
                return Err(errors::bad_input(
                    "query",
                    format!(
                        "query has {} characters: use at most {QUERY_MAX_CHARS}",
                        q.chars().count()
                    ),
                ));
            }
            other => other,
        };
        let start = match &after {
            Some(cursor) => decode_cursor::<ListPosition>(cursor).ok_or_else(|| {
                errors::bad_input(
                    "after",
                    format!("after {cursor:?} is not a contacts cursor: pass an edge's cursor from this field"),
                )
            })?,
            None => ListPosition::Casebook { offset: 0 },
        };

        // One more than asked tells whether another page exists.
        let wanted = first + 1;
        let mut found: Vec<(ListPosition, Found)> = Vec::with_capacity(wanted);
        let mut position = start;
        let mut casebook_total = None;
        let mut ghl_total = None;
        // With Casebook failing, the list goes on with GHL's contacts, linked ones included.
        let mut casebook_down = false;
        // With GHL failing, the list ends after Casebook's people.
        let mut ghl_down = false;
        while found.len() < wanted {
            position = match position {
                ListPosition::Casebook { offset } => {
                    let limit = (wanted - found.len()).min(MAX_PAGE_SIZE as usize) as u32;
                    let page = match people_page(request, query.as_deref(), offset, limit).await {
                        Ok(page) => page,
                        Err(error) => {
                            errors::report(ctx, error);
                            casebook_down = true;
                            position = ListPosition::Ghl { search_after: None };
                            continue;
                        }
                    };
                    casebook_total = page.total;
                    let count = page.items.len() as u64;
                    for (index, person) in page.items.iter().cloned().enumerate() {
                        let after_this = ListPosition::Casebook {
                            offset: offset + index as u64 + 1,
                        };
                        found.push((after_this, Found::Casebook(person)));
                    }
                    let next = offset + count;
                    let exhausted =
                        count < u64::from(limit) || page.total.is_some_and(|total| next >= total);
                    if exhausted {
                        ListPosition::Ghl { search_after: None }
                    } else {
                        ListPosition::Casebook { offset: next }
                    }
                }
                ListPosition::Ghl { search_after } => {
                    let page_limit = (wanted - found.len()).clamp(20, 500) as u32;
                    let search = SearchContactsRequest {
                        page_limit,
                        search_after,
                        query: query.clone(),
                        sort: vec![SearchSort::asc("dateAdded")],
                        ..SearchContactsRequest::new(page_limit)
                    };
                    let response = match ghl_search(request, &search).await {
                        Ok(response) => response,
                        Err(error) if casebook_down => return Err(error),
                        Err(error) => {
                            errors::report(ctx, error);
                            ghl_down = true;
                            position = ListPosition::Done;
                            continue;
                        }
                    };
                    ghl_total = response.total;
                    let rows = response.contacts.clone();
                    let count = rows.len();
                    let last = rows.last().and_then(|row| row.search_after.clone());
                    let kept = if casebook_down {
                        rows
                    } else {
                        ghl_rows_without_casebook(ctx, query.as_deref(), rows).await?
                    };
                    for row in kept {
                        let after_this = ListPosition::Ghl {
                            search_after: row.search_after.clone(),
                        };
                        found.push((after_this, Found::Ghl(Box::new(row))));
                    }
                    match last {
                        Some(last) if count == page_limit as usize => ListPosition::Ghl {
                            search_after: Some(last),
                        },
                        _ => ListPosition::Done,
                    }
                }
                ListPosition::Done => break,
            };
        }

        // After a GHL failure the rest of the list is unknown. A page with Casebook's people
        // reports a next page, whose request tries GHL again; an empty page ends the list.
        let has_next = found.len() > first || (ghl_down && !found.is_empty());
        found.truncate(first);
        let contacts = attach_links(ctx, found).await?;

        let total_count =
            if query.is_none() && !ghl_down && ctx.look_ahead().field("totalCount").exists() {
                match contact_total(ctx, casebook_total, ghl_total).await {
                    Ok(total) => total.filter(|_| !casebook_down),
                    Err(error) => {
                        errors::report(ctx, error);
                        None
                    }
                }
            } else {
                None
            };
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            ContactConnectionFields { total_count },
        );
        for (position, contact) in contacts {
            connection
                .edges
                .push(Edge::new(encode_cursor(&position), contact));
        }
        Ok(connection)
    }
}

/// Drops GHL rows whose linked Casebook person was already listed in the Casebook phase.
///
/// Without a query every linked person was listed. With a query, a linked person was
/// listed only if the Casebook record matches the query; that is checked here with the
/// same rule Casebook applies (case-sensitive substring of first name, last name or
/// e-mail).
async fn ghl_rows_without_casebook(
    ctx: &Context<'_>,
    query: Option<&str>,
    rows: Vec<GhlContact>,
) -> Result<Vec<GhlContact>> {
    let request = RequestContext::get(ctx)?;
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let links = request
        .store
        .by_native_ids(&request.tenant.id, System::Ghl, &ids)
        .await
        .or_internal()?;
    let partner = |row: &GhlContact| links.get(&row.id).and_then(|link| link.casebook_id.clone());

    let Some(query) = query else {
        return Ok(rows
            .into_iter()
            .filter(|row| partner(row).is_none())
            .collect());
    };
    let partner_ids: Vec<String> = rows.iter().filter_map(partner).collect();
    let people = request
        .loaders
        .casebook_people
        .load_many(partner_ids)
        .await
        .map_err(|e| errors::upstream(&e))?;
    Ok(rows
        .into_iter()
        .filter(|row| match partner(row) {
            None => true,
            Some(casebook_id) => !people
                .get(&casebook_id)
                .is_some_and(|person| casebook_matches(person, query)),
        })
        .collect())
}

/// Casebook's LIKE `%query%` over the fields the gateway searches.
fn casebook_matches(person: &CasebookPerson, query: &str) -> bool {
    [&person.first_name, &person.last_name, &person.email]
        .into_iter()
        .flatten()
        .any(|value| value.contains(query))
}

/// Turns found records into contacts, creating a one-sided contact for any record the
/// gateway has not seen yet.
async fn attach_links(
    ctx: &Context<'_>,
    found: Vec<(ListPosition, Found)>,
) -> Result<Vec<(ListPosition, Contact)>> {
    let request = RequestContext::get(ctx)?;
    let tenant = &request.tenant.id;
    let casebook_ids: Vec<String> = found
        .iter()
        .filter_map(|(_, record)| match record {
            Found::Casebook(person) => Some(person.id.clone()),
            Found::Ghl(_) => None,
        })
        .collect();
    let ghl_ids: Vec<String> = found
        .iter()
        .filter_map(|(_, record)| match record {
            Found::Ghl(contact) => Some(contact.id.clone()),
            Found::Casebook(_) => None,
        })
        .collect();
    let casebook_links = request
        .store
        .ensure_native_ids(tenant, System::Casebook, &casebook_ids)
        .await
        .or_internal()?;
    let ghl_links = request
        .store
        .ensure_native_ids(tenant, System::Ghl, &ghl_ids)
        .await
        .or_internal()?;

    let mut contacts = Vec::with_capacity(found.len());
    for (position, record) in found {
        let contact = match record {
            Found::Casebook(person) => casebook_links.get(&person.id).cloned().map(|link| {
                let mut contact = Contact::new(link);
                contact.casebook = Some(person);
                contact
            }),
            Found::Ghl(row) => ghl_links.get(&row.id).cloned().map(|link| {
                let mut contact = Contact::new(link);
                contact.ghl = Some(row);
                contact
            }),
        };
        if let Some(contact) = contact {
            contacts.push((position, contact));
        }
    }
    Ok(contacts)
}

/// Casebook people plus GHL contacts, less the pairs counted on both sides.
async fn contact_total(
    ctx: &Context<'_>,
    casebook_total: Option<u64>,
    ghl_total: Option<u64>,
) -> Result<Option<u64>> {
    let request = RequestContext::get(ctx)?;
    let casebook_total = match casebook_total {
        Some(total) => Some(total),
        None => people_page(request, None, 0, 1).await?.total,
    };
    let ghl_total = match ghl_total {
        Some(total) => Some(total),
        None => {
            ghl_search(request, &SearchContactsRequest::new(1))
                .await?
                .total
        }
    };
    let joined = request
        .store
        .count_joined(&request.tenant.id)
        .await
        .or_internal()?;
    Ok(match (casebook_total, ghl_total) {
        (Some(casebook), Some(ghl)) => Some((casebook + ghl).saturating_sub(joined)),
        _ => None,
    })
}

/// One page of Casebook people, through the list cache.
async fn people_page(
    request: &RequestContext,
    query: Option<&str>,
    offset: u64,
    limit: u32,
) -> Result<Arc<Page<CasebookPerson>>> {
    let key = CacheKey {
        tenant: Arc::from(request.tenant.id.as_str()),
        system: System::Casebook,
        kind: RecordKind::List,
        id: format!("people?query={query:?}&offset={offset}&limit={limit}"),
    };
    let client = request.tenant.casebook.clone();
    let query = query.map(str::to_string);
    let load = async move {
        let page = client
            .search_people(query.as_deref(), offset, limit)
            .await?;
        Ok(Cached::CasebookPeoplePage(Arc::new(page)))
    };
    match request.cache.get_or_load(key, request.refresh, load).await {
        Ok(Cached::CasebookPeoplePage(page)) => Ok(page),
        Ok(_) => Err(errors::not_found("Casebook returned no people page")),
        Err(error) => Err(errors::upstream(&error)),
    }
}

/// One page of a GHL contact search, through the list cache.
async fn ghl_search(
    request: &RequestContext,
    search: &SearchContactsRequest,
) -> Result<Arc<SearchContactsResponse>> {
    let key = CacheKey {
        tenant: Arc::from(request.tenant.id.as_str()),
        system: System::Ghl,
        kind: RecordKind::List,
        id: serde_json::to_string(search).unwrap_or_default(),
    };
    let client = request.tenant.ghl.clone();
    let search = search.clone();
    let load = async move {
        let response = client.search_contacts(&search).await?;
        Ok(Cached::GhlSearchPage(Arc::new(response)))
    };
    match request.cache.get_or_load(key, request.refresh, load).await {
        Ok(Cached::GhlSearchPage(response)) => Ok(response),
        Ok(_) => Err(errors::not_found("GHL returned no search page")),
        Err(error) => Err(errors::upstream(&error)),
    }
}

fn invalid_id(id: &ID, expected: &str) -> async_graphql::Error {
    errors::bad_input(
        "id",
        format!(
            "id {:?} is not the global id of {expected}: use the id field of an object this gateway returned",
            id.as_str()
        ),
    )
}

fn non_empty_id(id: &ID) -> Result<String> {
    let trimmed = id.trim();
    if trimmed.is_empty() || trimmed.contains('/') {
        return Err(errors::bad_input(
            "id",
            format!(
                "id {:?} is not a native id: pass the record's id from its own system",
                id.as_str()
            ),
        ));
    }
    Ok(trimmed.to_string())
}
