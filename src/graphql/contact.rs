//! The unified contact and the per-system records behind it.

use std::sync::Arc;

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, Edge},
};
use chrono::{DateTime, Utc};

use super::{
    RequestContext, errors,
    ids::{GlobalId, decode_cursor, encode_cursor},
    items::{Appointment, HistoryItem, LinkedItem, Note, Task},
    loaders::Loaders,
};
use crate::{
    identity::{normalize_email, normalize_phone},
    store::{ContactLink, LinkMethod},
    upstream::{
        System, UpstreamError,
        casebook::CasebookPerson,
        casebook::{CasebookNote, CasebookTask},
        ghl::{GhlAppointment, GhlContact, GhlNote, GhlTask, parse_ghl_time},
    },
    writes::state::RecordKind,
};

/// Default and largest page of `history`.
const HISTORY_DEFAULT: usize = 20;
const HISTORY_MAX: usize = 100;

/// One person as the gateway sees them: a Casebook person, a GHL contact, or both linked.
#[derive(Clone)]
pub struct Contact {
    pub link: ContactLink,
    /// The Casebook record, when the caller already read it.
    pub casebook: Option<CasebookPerson>,
    /// The GHL record, when the caller already read it.
    pub ghl: Option<Box<GhlContact>>,
    /// Whether `ghl` is a whole record rather than a search row (which lacks the names).
    pub ghl_complete: bool,
    /// Child lists read ahead, in the same round as the record.
    pub prefetched: Arc<Prefetched>,
}

type Listed<T> = Option<std::result::Result<Vec<T>, crate::upstream::UpstreamError>>;

/// Child lists read ahead of their fields, so that a contact lookup reads its record and
/// its children in one round of upstream calls instead of two.
#[derive(Default)]
pub struct Prefetched {
    casebook_tasks: Listed<CasebookTask>,
    casebook_notes: Listed<CasebookNote>,
    casebook_appointments: Listed<CasebookNote>,
    ghl_tasks: Listed<GhlTask>,
    ghl_notes: Listed<GhlNote>,
    ghl_appointments: Listed<GhlAppointment>,
}

/// Runs `load` for `id` when there is one.
async fn when<T>(id: Option<String>, load: impl AsyncFnOnce(String) -> T) -> Option<T> {
    match id {
        Some(id) => Some(load(id).await),
        None => None,
    }
}

type Loaded<T> = std::result::Result<Vec<T>, UpstreamError>;

async fn load_casebook_tasks(loaders: &Loaders, id: String) -> Loaded<CasebookTask> {
    loaders
        .casebook_tasks
        .load_one(id)
        .await
        .map(Option::unwrap_or_default)
}

async fn load_casebook_notes(loaders: &Loaders, id: String) -> Loaded<CasebookNote> {
    loaders
        .casebook_notes
        .load_one(id)
        .await
        .map(Option::unwrap_or_default)
}

async fn load_casebook_appointments(loaders: &Loaders, id: String) -> Loaded<CasebookNote> {
    loaders
        .casebook_appointments
        .load_one(id)
        .await
        .map(Option::unwrap_or_default)
}

async fn load_ghl_tasks(loaders: &Loaders, id: String) -> Loaded<GhlTask> {
    flatten_per_key(loaders.ghl_tasks.load_one(id).await)
}

async fn load_ghl_notes(loaders: &Loaders, id: String) -> Loaded<GhlNote> {
    flatten_per_key(loaders.ghl_notes.load_one(id).await)
}

async fn load_ghl_appointments(loaders: &Loaders, id: String) -> Loaded<GhlAppointment> {
    flatten_per_key(loaders.ghl_appointments.load_one(id).await)
}

/// Reads the child lists that the current field's selection asks for (directly or through
/// `history`) on the sides that exist.
pub async fn prefetch(
    ctx: &Context<'_>,
    casebook_id: Option<&str>,
    ghl_id: Option<&str>,
) -> Prefetched {
    let Ok(request) = RequestContext::get(ctx) else {
        return Prefetched::default();
    };
    let look = ctx.look_ahead();
    let history = look.field("history").exists();
    let wants = |name: &str| history || look.field(name).exists();
    let (tasks, notes, appointments) = (wants("tasks"), wants("notes"), wants("appointments"));
    let loaders = &request.loaders;
    let casebook = |wanted: bool| wanted.then_some(casebook_id).flatten().map(str::to_string);
    let ghl = |wanted: bool| wanted.then_some(ghl_id).flatten().map(str::to_string);
    let (
        casebook_tasks,
        casebook_notes,
        casebook_appointments,
        ghl_tasks,
        ghl_notes,
        ghl_appointments,
    ) = futures::join!(
        when(casebook(tasks), async |id| load_casebook_tasks(loaders, id)
            .await),
        when(casebook(notes), async |id| load_casebook_notes(loaders, id)
            .await),
        when(casebook(appointments), async |id| {
            load_casebook_appointments(loaders, id).await
        }),
        when(ghl(tasks), async |id| load_ghl_tasks(loaders, id).await),
        when(ghl(notes), async |id| load_ghl_notes(loaders, id).await),
        when(ghl(appointments), async |id| load_ghl_appointments(
            loaders, id
        )
        .await),
    );
    Prefetched {
        casebook_tasks,
        casebook_notes,
        casebook_appointments,
        ghl_tasks,
        ghl_notes,
        ghl_appointments,
    }
}

impl Contact {
    pub fn new(link: ContactLink) -> Contact {
        Contact {
            link,
            casebook: None,
            ghl: None,
            ghl_complete: false,
            prefetched: Arc::default(),
        }
    }

    async fn casebook_record(&self, ctx: &Context<'_>) -> Result<Option<CasebookPerson>> {
        let Some(id) = &self.link.casebook_id else {
            return Ok(None);
        };
        if let Some(person) = &self.casebook {
            return Ok(Some(person.clone()));
        }
        match RequestContext::get(ctx)?
            .loaders
            .casebook_people
            .load_one(id.clone())
            .await
        {
            Ok(Some(person)) => Ok(Some(person)),
            Ok(None) => Err(errors::not_found_in(
                System::Casebook,
                format!("the Casebook person {id} linked to this contact no longer exists"),
            )),
            Err(error) => Err(errors::upstream(&error)),
        }
    }

    /// The GHL record; a search row when `complete` is false and one was given.
    async fn ghl_record(&self, ctx: &Context<'_>, complete: bool) -> Result<Option<GhlContact>> {
        let Some(id) = &self.link.ghl_id else {
            return Ok(None);
        };
        if let Some(contact) = &self.ghl
            && (self.ghl_complete || !complete)
        {
            return Ok(Some((**contact).clone()));
        }
        load_ghl_contact(ctx, id).await.map(Some)
    }

    /// Both sides; a failing side is reported at the current field and left out.
    async fn both_sides(
        &self,
        ctx: &Context<'_>,
        complete: bool,
    ) -> (Option<CasebookPerson>, Option<GhlContact>) {
        let (casebook, ghl) =
            futures::join!(self.casebook_record(ctx), self.ghl_record(ctx, complete));
        (
            keep_or_report(ctx, casebook).flatten(),
            keep_or_report(ctx, ghl).flatten(),
        )
    }

    /// Reads one kind of child list from both systems, reporting a failing side at the
    /// current field, and shows linked entries once.
    #[expect(
        clippy::too_many_arguments,
        reason = "one list kind is three pairs of per-system parts"
    )]
    async fn children_of<C: Clone, G: Clone, T: LinkedItem>(
        &self,
        ctx: &Context<'_>,
        kind: RecordKind,
        prefetched: (&Listed<C>, &Listed<G>),
        casebook: impl AsyncFnOnce(&Loaders, String) -> std::result::Result<Vec<C>, UpstreamError>,
        ghl: impl AsyncFnOnce(&Loaders, String) -> std::result::Result<Vec<G>, UpstreamError>,
        from_casebook: impl Fn(C) -> T,
        from_ghl: impl Fn(G, &str) -> T,
    ) -> Vec<T> {
        let loaders = match RequestContext::get(ctx) {
            Ok(request) => &request.loaders,
            Err(error) => {
                errors::report(ctx, error);
                return Vec::new();
            }
        };
        let casebook = async {
            match (prefetched.0, &self.link.casebook_id) {
                (Some(listed), _) => listed.clone(),
                (None, Some(id)) => casebook(loaders, id.clone()).await,
                (None, None) => Ok(Vec::new()),
            }
        };
        let ghl = async {
            match (prefetched.1, &self.link.ghl_id) {
                (Some(listed), _) => listed.clone(),
                (None, Some(id)) => ghl(loaders, id.clone()).await,
                (None, None) => Ok(Vec::new()),
            }
        };
        let (casebook, ghl) = futures::join!(casebook, ghl);
        let contact_id = self.link.ghl_id.clone().unwrap_or_default();
        let mut items: Vec<T> = keep_upstream_or_report(ctx, casebook)
            .into_iter()
            .map(from_casebook)
            .collect();
        items.extend(
            keep_upstream_or_report(ctx, ghl)
                .into_iter()
                .map(|item| from_ghl(item, &contact_id)),
        );
        merge_linked(ctx, kind, &self.link.id, items).await
    }

    async fn tasks_of(&self, ctx: &Context<'_>) -> Vec<Task> {
        let prefetched = (&self.prefetched.casebook_tasks, &self.prefetched.ghl_tasks);
        self.children_of(
            ctx,
            RecordKind::Task,
            prefetched,
            load_casebook_tasks,
            load_ghl_tasks,
            Task::from_casebook,
            Task::from_ghl,
        )
        .await
    }

    async fn notes_of(&self, ctx: &Context<'_>) -> Vec<Note> {
        let prefetched = (&self.prefetched.casebook_notes, &self.prefetched.ghl_notes);
        self.children_of(
            ctx,
            RecordKind::Note,
            prefetched,
            load_casebook_notes,
            load_ghl_notes,
            Note::from_casebook,
            Note::from_ghl,
        )
        .await
    }

    async fn appointments_of(&self, ctx: &Context<'_>) -> Vec<Appointment> {
        let prefetched = (
            &self.prefetched.casebook_appointments,
            &self.prefetched.ghl_appointments,
        );
        self.children_of(
            ctx,
            RecordKind::Appointment,
            prefetched,
            load_casebook_appointments,
            load_ghl_appointments,
            Appointment::from_casebook,
            |event, _contact_id| Appointment::from_ghl(event),
        )
        .await
    }
}

/// Shows each linked entry once: the copy from the system of record stays and carries
/// the other copy's id; the other copy is dropped.
async fn merge_linked<T: LinkedItem>(
    ctx: &Context<'_>,
    kind: RecordKind,
    contact_id: &str,
    mut items: Vec<T>,
) -> Vec<T> {
    let Ok(request) = RequestContext::get(ctx) else {
        return items;
    };
    let links = match request
        .loaders
        .record_links
        .load_one(contact_id.to_string())
        .await
    {
        Ok(links) => links.unwrap_or_default(),
        Err(error) => {
            errors::report(ctx, errors::store(&error));
            return items;
        }
    };
    let links = links
        .iter()
        .filter(|(link_kind, _)| *link_kind == kind)
        .map(|(_, link)| link.clone());
    let keep = request.writes.system_of_record(kind);
    let drop = crate::writes::Writes::other_system(keep);
    for link in links {
        let (Some(casebook_id), Some(ghl_id)) = (link.casebook_id, link.ghl_id) else {
            continue;
        };
        let id_on = |system: System| match system {
            System::Casebook => casebook_id.clone(),
            System::Ghl => ghl_id.clone(),
        };
        let has_kept = items
            .iter()
            .any(|item| item.system() == keep && item.id_on(keep) == Some(id_on(keep).as_str()));
        if has_kept {
            items.retain(|item| {
                !(item.system() == drop && item.id_on(drop) == Some(id_on(drop).as_str()))
            });
        }
        for item in items.iter_mut() {
            let system = item.system();
            if item.id_on(system) == Some(id_on(system).as_str()) {
                let other = crate::writes::Writes::other_system(system);
                item.set_id_on(other, id_on(other));
            }
        }
    }
    items
}

/// Loads one GHL contact through the request's loader.
pub async fn load_ghl_contact(ctx: &Context<'_>, id: &str) -> Result<GhlContact> {
    match RequestContext::get(ctx)?
        .loaders
        .ghl_contacts
        .load_one(id.to_string())
        .await
    {
        Ok(Some(Ok(contact))) => Ok(contact),
        Ok(Some(Err(error))) => Err(errors::upstream(&error)),
        Ok(None) | Err(_) => Err(errors::not_found_in(
            System::Ghl,
            format!("GHL has no contact with id {id}"),
        )),
    }
}

fn flatten_per_key<T: Default>(
    loaded: std::result::Result<
        Option<crate::graphql::loaders::PerKey<T>>,
        std::convert::Infallible,
    >,
) -> std::result::Result<T, crate::upstream::UpstreamError> {
    match loaded {
        Ok(Some(result)) => result,
        Ok(None) => Ok(T::default()),
        Err(never) => match never {},
    }
}

fn keep_or_report<T>(ctx: &Context<'_>, result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            errors::report(ctx, error);
            None
        }
    }
}

fn keep_upstream_or_report<T: Default>(
    ctx: &Context<'_>,
    result: std::result::Result<T, crate::upstream::UpstreamError>,
) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            errors::report(ctx, errors::upstream(&error));
            T::default()
        }
    }
}

/// One mapped attribute of a contact, as each system stores it.
#[derive(async_graphql::SimpleObject)]
pub struct ContactAttribute {
    /// The Casebook attribute name.
    pub name: String,
    /// The GHL custom field id it maps to.
    pub ghl_custom_field_id: String,
    /// The value in Casebook; null when absent or when the contact has no Casebook record.
    pub casebook: Option<async_graphql::Json<serde_json::Value>>,
    /// The value in GHL; null when absent or when the contact has no GHL record.
    pub ghl: Option<async_graphql::Json<serde_json::Value>>,
}

/// Extra fields of a history page.
#[derive(async_graphql::SimpleObject)]
pub struct HistoryFields {
    /// Number of entries in the whole history, both systems together.
    pub total_count: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct HistoryCursor {
    offset: usize,
}

#[Object]
impl Contact {
    /// Opaque global id of the unified contact.
    pub async fn id(&self) -> ID {
        GlobalId::Contact(self.link.id.clone()).encode()
    }

    /// How the Casebook and GHL records were joined.
    async fn link_method(&self) -> LinkMethod {
        self.link.method
    }

    /// The Casebook person id, when the contact has a Casebook record.
    async fn casebook_id(&self) -> Option<ID> {
        self.link.casebook_id.clone().map(ID)
    }

    /// The GHL contact id, when the contact has a GHL record.
    async fn ghl_id(&self) -> Option<ID> {
        self.link.ghl_id.clone().map(ID)
    }

    /// The name to show: Casebook's names first, then GHL's, then the e-mail address.
    async fn display_name(&self, ctx: &Context<'_>) -> String {
        let (casebook, ghl) = self.both_sides(ctx, true).await;
        let joined = |first: Option<&str>, last: Option<&str>| {
            let name = [first, last]
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            (!name.is_empty()).then_some(name)
        };
        casebook
            .as_ref()
            .and_then(|p| joined(p.first_name.as_deref(), p.last_name.as_deref()))
            .or_else(|| {
                ghl.as_ref().and_then(|c| {
                    joined(c.display_first_name(), c.display_last_name()).or_else(|| c.name.clone())
                })
            })
            .or_else(|| casebook.as_ref().and_then(|p| p.email.clone()))
            .or_else(|| ghl.as_ref().and_then(|c| c.email.clone()))
            .map(|name| name.trim().to_string())
            .unwrap_or_else(|| "Unnamed contact".to_string())
    }

    /// First name, from Casebook when it has one, else from GHL.
    async fn first_name(&self, ctx: &Context<'_>) -> Option<String> {
        let (casebook, ghl) = self.both_sides(ctx, true).await;
        casebook
            .and_then(|p| p.first_name)
            .or_else(|| ghl.and_then(|c| c.display_first_name().map(str::to_string)))
    }

    /// Last name, from Casebook when it has one, else from GHL.
    async fn last_name(&self, ctx: &Context<'_>) -> Option<String> {
        let (casebook, ghl) = self.both_sides(ctx, true).await;
        casebook
            .and_then(|p| p.last_name)
            .or_else(|| ghl.and_then(|c| c.display_last_name().map(str::to_string)))
    }

    /// Distinct e-mail addresses of both records, trimmed and lower-cased.
    async fn emails(&self, ctx: &Context<'_>) -> Vec<String> {
        let (casebook, ghl) = self.both_sides(ctx, false).await;
        let raw = [casebook.and_then(|p| p.email), ghl.and_then(|c| c.email)];
        distinct(
            raw.iter()
                .flatten()
                .filter_map(|email| normalize_email(email)),
        )
    }

    /// Distinct phone numbers of both records in E.164.
    async fn phones(&self, ctx: &Context<'_>) -> Vec<String> {
        let region = match RequestContext::get(ctx) {
            Ok(request) => request.tenant.region,
            Err(_) => Default::default(),
        };
        let (casebook, ghl) = self.both_sides(ctx, false).await;
        let raw = [casebook.and_then(|p| p.phone), ghl.and_then(|c| c.phone)];
        distinct(
            raw.iter()
                .flatten()
                .filter_map(|phone| normalize_phone(phone, region)),
        )
    }

    /// The mapped attributes (`writes.field_mapping`): each Casebook attribute with the
    /// value of the GHL custom field it maps to.
    async fn attributes(&self, ctx: &Context<'_>) -> Result<Vec<ContactAttribute>> {
        let mappings = RequestContext::get(ctx)?
            .writes
            .config()
            .field_mapping
            .clone();
        if mappings.is_empty() {
            return Ok(Vec::new());
        }
        let (casebook, ghl) = self.both_sides(ctx, false).await;
        Ok(mappings
            .into_iter()
            .map(|mapping| ContactAttribute {
                casebook: casebook
                    .as_ref()
                    .and_then(|person| person.attributes.get(&mapping.casebook).cloned())
                    .map(async_graphql::Json),
                ghl: ghl
                    .as_ref()
                    .and_then(|contact| {
                        contact
                            .custom_fields
                            .iter()
                            .find(|field| field.id == mapping.ghl_custom_field_id)
                            .map(|field| field.value.clone())
                    })
                    .map(async_graphql::Json),
                name: mapping.casebook,
                ghl_custom_field_id: mapping.ghl_custom_field_id,
            })
            .collect())
    }

    /// GHL tags; Casebook has none.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(self
            .ghl_record(ctx, false)
            .await?
            .map(|c| c.tags)
            .unwrap_or_default())
    }

    /// The Casebook record; null when the contact has none.
    async fn casebook(&self, ctx: &Context<'_>) -> Result<Option<CasebookPersonRecord>> {
        let region = RequestContext::get(ctx)?.tenant.region;
        Ok(self
            .casebook_record(ctx)
            .await?
            .map(|person| CasebookPersonRecord { person, region }))
    }

    /// The GHL record; null when the contact has none.
    async fn ghl(&self) -> Option<GhlContactRecord> {
        self.link.ghl_id.clone().map(|id| GhlContactRecord {
            id,
            row: self.ghl.as_deref().cloned(),
            complete: self.ghl_complete,
        })
    }

    /// Tasks of both systems, in no particular order.
    async fn tasks(&self, ctx: &Context<'_>) -> Vec<Task> {
        self.tasks_of(ctx).await
    }

    /// Notes of both systems, in no particular order.
    async fn notes(&self, ctx: &Context<'_>) -> Vec<Note> {
        self.notes_of(ctx).await
    }

    /// Appointments of both systems, in no particular order.
    async fn appointments(&self, ctx: &Context<'_>) -> Vec<Appointment> {
        self.appointments_of(ctx).await
    }

    /// Tasks, notes and appointments of both systems in one list, newest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100; default 20.")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last entry of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, HistoryItem, HistoryFields>> {
        let first = page_size(first, HISTORY_DEFAULT, HISTORY_MAX, "first")?;
        let start = match &after {
            Some(cursor) => {
                decode_cursor::<HistoryCursor>(cursor)
                    .ok_or_else(|| {
                        errors::bad_input(
                            "after",
                            format!("after {cursor:?} is not a history cursor: pass an edge's cursor from this field"),
                        )
                    })?
                    .offset
            }
            None => 0,
        };

        let (tasks, notes, appointments) = futures::join!(
            self.tasks_of(ctx),
            self.notes_of(ctx),
            self.appointments_of(ctx)
        );
        let mut items: Vec<HistoryItem> = tasks
            .into_iter()
            .map(HistoryItem::Task)
            .chain(notes.into_iter().map(HistoryItem::Note))
            .chain(appointments.into_iter().map(HistoryItem::Appointment))
            .collect();
        // Newest first; entries without a time go last; ties by system and id.
        items.sort_by(|a, b| {
            b.sort_time()
                .cmp(&a.sort_time())
                .then_with(|| a.sort_key().cmp(&b.sort_key()))
        });

        let total = items.len();
        let end = (start + first).min(total);
        let mut connection = Connection::with_additional_fields(
            start > 0,
            end < total,
            HistoryFields { total_count: total },
        );
        for (offset, item) in items.into_iter().enumerate().take(end).skip(start) {
            connection.edges.push(Edge::new(
                encode_cursor(&HistoryCursor { offset: offset + 1 }),
                item,
            ));
        }
        Ok(connection)
    }
}

/// Checks a `first` argument.
pub fn page_size(first: Option<i32>, default: usize, max: usize, argument: &str) -> Result<usize> {
    match first {
        None => Ok(default),
        Some(value) if value >= 1 && value as usize <= max => Ok(value as usize),
        Some(value) => Err(errors::bad_input(
            argument,
            format!("{argument} is {value}: use a value from 1 to {max}"),
        )),
    }
}

fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

/// A person record in Casebook, as Casebook stores it.
pub struct CasebookPersonRecord {
    person: CasebookPerson,
    region: crate::identity::PhoneRegion,
}

#[Object(name = "CasebookPerson")]
impl CasebookPersonRecord {
    /// Casebook's person id.
    async fn id(&self) -> ID {
        ID(self.person.id.clone())
    }
    async fn first_name(&self) -> Option<&str> {
        self.person.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.person.last_name.as_deref()
    }
    /// The e-mail address as stored in Casebook.
    async fn email(&self) -> Option<&str> {
        self.person.email.as_deref()
    }
    /// The phone number as stored in Casebook.
    async fn phone(&self) -> Option<&str> {
        self.person.phone.as_deref()
    }
    /// The phone number in E.164, when it parses.
    async fn phone_e164(&self) -> Option<String> {
        self.person
            .phone
            .as_deref()
            .and_then(|phone| normalize_phone(phone, self.region))
    }
    /// Date of birth, `YYYY-MM-DD`.
    async fn date_of_birth(&self) -> Option<&str> {
        self.person.date_of_birth.as_deref()
    }
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.person.created_at
    }
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.person.updated_at
    }
}

/// A contact record in GHL, as GHL stores it.
///
/// Fields that GHL search rows carry are served from the row the gateway already has;
/// the names need the whole record, which costs one GHL call.
pub struct GhlContactRecord {
    id: String,
    row: Option<GhlContact>,
    complete: bool,
}

impl GhlContactRecord {
    async fn row(&self, ctx: &Context<'_>) -> Result<GhlContact> {
        match &self.row {
            Some(row) => Ok(row.clone()),
            None => load_ghl_contact(ctx, &self.id).await,
        }
    }

    async fn whole(&self, ctx: &Context<'_>) -> Result<GhlContact> {
        match &self.row {
            Some(row) if self.complete => Ok(row.clone()),
            _ => load_ghl_contact(ctx, &self.id).await,
        }
    }
}

/// A custom field value of a GHL contact.
#[derive(async_graphql::SimpleObject)]
pub struct GhlCustomFieldValue {
    /// The custom field's id.
    pub id: String,
    /// The value: a string, number, list or object, depending on the field type.
    pub value: async_graphql::Json<serde_json::Value>,
}

#[Object(name = "GhlContact")]
impl GhlContactRecord {
    /// GHL's contact id.
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    async fn location_id(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.location_id)
    }
    async fn first_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.whole(ctx).await?.first_name)
    }
    async fn last_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.whole(ctx).await?.last_name)
    }
    /// Full name as GHL stores it.
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.whole(ctx).await?.name)
    }
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.email)
    }
    /// Phone in E.164, as GHL stores it.
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.phone)
    }
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(self.row(ctx).await?.tags)
    }
    async fn company_name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.company_name)
    }
    async fn source(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.source)
    }
    /// GHL's contact type, such as `lead` or `customer`.
    async fn r#type(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.r#type)
    }
    async fn business_id(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.business_id)
    }
    async fn date_of_birth(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(self.row(ctx).await?.date_of_birth)
    }
    async fn date_added(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .row(ctx)
            .await?
            .date_added
            .as_deref()
            .and_then(parse_ghl_time))
    }
    async fn date_updated(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .row(ctx)
            .await?
            .date_updated
            .as_deref()
            .and_then(parse_ghl_time))
    }
    async fn custom_fields(&self, ctx: &Context<'_>) -> Result<Vec<GhlCustomFieldValue>> {
        Ok(self
            .row(ctx)
            .await?
            .custom_fields
            .into_iter()
            .map(|field| GhlCustomFieldValue {
                id: field.id,
                value: async_graphql::Json(field.value),
            })
            .collect())
    }
}
