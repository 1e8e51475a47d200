//! Root mutation fields: writes that reach both systems, and the outbox views.

use async_graphql::{
    Context, Enum, ErrorExtensions, ID, InputObject, Object, Result, SimpleObject,
};
use chrono::{DateTime, Utc};

use super::{
    RequestContext,
    contact::Contact,
    errors::{self, StoreResultExt},
    ids::{GlobalId, ItemRef},
    items::{Appointment, Note, Task},
};
use crate::{
    store::{ContactLink, LinkMethod, StoreError},
    upstream::{System, UpstreamError},
    writes::{
        Outcome, RecordTarget, SyncStatus, WriteError, Writes,
        fields::{
            APPOINTMENT_STATUSES, AppointmentFields, Checker, ContactFields, FieldError,
            MAX_LONG_TEXT, MAX_SHORT_TEXT, NoteFields, TaskFields,
        },
        ops::SideWrite,
        state::{Job, JobStatus, RecordKind},
    },
};

/// The root mutation.
pub struct Mutation;

/// Contact fields that `updateContact` can empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ContactField {
    Email,
    Phone,
    DateOfBirth,
}

impl ContactField {
    fn name(self) -> &'static str {
        match self {
            ContactField::Email => "email",
            ContactField::Phone => "phone",
            ContactField::DateOfBirth => "dateOfBirth",
        }
    }
}

/// A new contact, written to Casebook and GHL.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct CreateContactInput {
    /// Idempotency key: a second call with the same value returns the first result.
    pub client_mutation_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// Any common notation; stored as E.164.
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// GHL tags.
    pub tags: Option<Vec<String>>,
    /// Mapped attributes (`writes.field_mapping`): Casebook attribute and GHL custom field.
    pub attributes: Option<Vec<AttributeInput>>,
}

/// Changes to a contact. Absent fields stay as they are; `clear` empties fields.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct UpdateContactInput {
    pub client_mutation_id: Option<String>,
    pub id: ID,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<String>,
    /// Replaces the whole GHL tag set; use `addContactTags` to add.
    pub tags: Option<Vec<String>>,
    /// Mapped attributes (`writes.field_mapping`).
    pub attributes: Option<Vec<AttributeInput>>,
    /// Fields to empty on both systems.
    #[serde(skip)]
    pub clear: Option<Vec<ContactField>>,
}

/// A contact matched by e-mail, then phone; created when nothing matches. Empty or absent
/// fields never overwrite stored values.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct UpsertContactInput {
    pub client_mutation_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Mapped attributes (`writes.field_mapping`).
    pub attributes: Option<Vec<AttributeInput>>,
    /// Fields to empty on a matched contact; nothing else is ever emptied by an upsert.
    #[serde(skip)]
    pub clear: Option<Vec<ContactField>>,
}

/// A value of a mapped attribute, by its Casebook name.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct AttributeInput {
    /// The Casebook attribute, such as `preferred_language`.
    pub name: String,
    /// A string, number, boolean, null or list of strings.
    pub value: async_graphql::Json<serde_json::Value>,
}

/// A contact to act on by id.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct ContactIdInput {
    pub client_mutation_id: Option<String>,
    pub id: ID,
}

/// Tags to add to or remove from a contact's GHL record.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct ContactTagsInput {
    pub client_mutation_id: Option<String>,
    pub id: ID,
    pub tags: Vec<String>,
}

/// A Casebook person and a GHL contact to join by hand.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct LinkContactsInput {
    pub client_mutation_id: Option<String>,
    pub casebook_id: ID,
    pub ghl_id: ID,
}

/// A new task on a contact.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct CreateTaskInput {
    pub client_mutation_id: Option<String>,
    pub contact_id: ID,
    pub title: String,
    pub body: Option<String>,
    /// ISO-8601 with an offset, such as `2026-12-04T15:30:00-05:00`.
    pub due_at: String,
    pub completed: Option<bool>,
}

/// Changes to a task.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct UpdateTaskInput {
    pub client_mutation_id: Option<String>,
    pub id: ID,
    pub title: Option<String>,
    pub body: Option<String>,
    pub due_at: Option<String>,
    pub completed: Option<bool>,
}

/// A task, note or appointment to act on by id.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct RecordIdInput {
    pub client_mutation_id: Option<String>,
    pub id: ID,
}

/// A new note on a contact.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct CreateNoteInput {
    pub client_mutation_id: Option<String>,
    pub contact_id: ID,
    pub title: Option<String>,
    pub body: String,
}

/// Changes to a note.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct UpdateNoteInput {
    pub client_mutation_id: Option<String>,
    pub id: ID,
    pub title: Option<String>,
    pub body: Option<String>,
}

/// A new appointment on a contact: a GHL calendar event and a Casebook Meeting note.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct CreateAppointmentInput {
    pub client_mutation_id: Option<String>,
    pub contact_id: ID,
    pub title: String,
    /// ISO-8601 with an offset.
    pub starts_at: String,
    /// ISO-8601 with an offset; default 30 minutes after the start.
    pub ends_at: Option<String>,
    /// IANA zone in which GHL receives the times, such as `America/New_York`; default UTC.
    pub time_zone: Option<String>,
    /// GHL calendar; default `writes.default_calendar_id`.
    pub calendar_id: Option<String>,
    /// GHL status: new, confirmed, cancelled, showed, noshow or invalid.
    pub status: Option<String>,
    pub notes: Option<String>,
}

/// Changes to an appointment.
#[derive(Debug, Clone, InputObject, serde::Serialize)]
pub struct UpdateAppointmentInput {
    pub client_mutation_id: Option<String>,
    pub id: ID,
    pub title: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub time_zone: Option<String>,
    pub status: Option<String>,
    pub notes: Option<String>,
}

/// Result of a contact mutation.
pub struct ContactPayload {
    client_mutation_id: Option<String>,
    outcome: Outcome,
}

#[Object]
impl ContactPayload {
    async fn client_mutation_id(&self) -> Option<&str> {
        self.client_mutation_id.as_deref()
    }
    /// The contact as it reads now.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<Contact>> {
        let request = RequestContext::get(ctx)?;
        let Some(id) = &self.outcome.contact_id else {
            return Ok(None);
        };
        Ok(request
            .store
            .get(&request.tenant.id, id)
            .await
            .or_internal()?
            .map(Contact::new))
    }
    /// Where the write stands in Casebook.
    async fn casebook(&self) -> SyncStatus {
        self.outcome.casebook_status()
    }
    /// Where the write stands in GHL.
    async fn ghl(&self) -> SyncStatus {
        self.outcome.ghl_status()
    }
    /// Outbox entries left by this mutation, for `syncStatus` and `retrySync`.
    async fn sync_ids(&self) -> Vec<ID> {
        self.outcome.sync_ids.iter().cloned().map(ID).collect()
    }
}

/// Result of a delete.
#[derive(SimpleObject)]
pub struct DeletePayload {
    pub client_mutation_id: Option<String>,
    /// The global id of the deleted object.
    pub deleted_id: ID,
    pub casebook: SyncStatus,
    pub ghl: SyncStatus,
    pub sync_ids: Vec<ID>,
}

/// Result of `unlinkContacts`: the two contacts that the link was split into.
#[derive(SimpleObject)]
pub struct UnlinkPayload {
    pub client_mutation_id: Option<String>,
    pub casebook_contact: Contact,
    pub ghl_contact: Contact,
}

/// Result of a task, note or appointment mutation.
pub struct RecordPayload {
    client_mutation_id: Option<String>,
    outcome: Outcome,
}

impl RecordPayload {
    async fn read<T>(
        &self,
        ctx: &Context<'_>,
        casebook: impl AsyncFn(&RequestContext, &str) -> Result<T, UpstreamError>,
        ghl: impl AsyncFn(&RequestContext, &str, &str) -> Result<T, UpstreamError>,
    ) -> Result<Option<T>> {
        let request = RequestContext::get(ctx)?;
        let Some(record) = &self.outcome.record else {
            return Ok(None);
        };
        let read = match (&record.casebook_id, &record.ghl_id) {
            (Some(id), _) if self.outcome.casebook_status() == SyncStatus::Synced => {
                casebook(request, id).await
            }
            (_, Some(id)) => {
                ghl(
                    request,
                    record.ghl_contact_id.as_deref().unwrap_or_default(),
                    id,
                )
                .await
            }
            (Some(id), None) => casebook(request, id).await,
            (None, None) => return Ok(None),
        };
        read.map(Some).map_err(|error| errors::upstream(&error))
    }

    fn link_ids(&self, casebook_id: &mut Option<String>, ghl_id: &mut Option<String>) {
        if let Some(record) = &self.outcome.record {
            if casebook_id.is_none() {
                casebook_id.clone_from(&record.casebook_id);
            }
            if ghl_id.is_none() {
                ghl_id.clone_from(&record.ghl_id);
            }
        }
    }
}

#[Object]
impl RecordPayload {
    async fn client_mutation_id(&self) -> Option<&str> {
        self.client_mutation_id.as_deref()
    }
    /// The task as it reads now; null for other mutations.
    async fn task(&self, ctx: &Context<'_>) -> Result<Option<Task>> {
        if self.outcome.record.as_ref().map(|r| r.kind) != Some(RecordKind::Task) {
            return Ok(None);
        }
        let task = self
            .read(
                ctx,
                async |request, id| {
                    request
                        .tenant
                        .casebook
                        .get_task(id)
                        .await
                        .map(Task::from_casebook)
                },
                async |request, contact, id| {
                    request
                        .tenant
                        .ghl
                        .get_task(contact, id)
                        .await
                        .map(|t| Task::from_ghl(t, contact))
                },
            )
            .await?;
        Ok(task.map(|mut task| {
            self.link_ids(&mut task.casebook_id, &mut task.ghl_id);
            task
        }))
    }
    /// The note as it reads now; null for other mutations.
    async fn note(&self, ctx: &Context<'_>) -> Result<Option<Note>> {
        if self.outcome.record.as_ref().map(|r| r.kind) != Some(RecordKind::Note) {
            return Ok(None);
        }
        let note = self
            .read(
                ctx,
                async |request, id| {
                    request
                        .tenant
                        .casebook
                        .get_note(id)
                        .await
                        .map(Note::from_casebook)
                },
                async |request, contact, id| {
                    request
                        .tenant
                        .ghl
                        .get_note(contact, id)
                        .await
                        .map(|n| Note::from_ghl(n, contact))
                },
            )
            .await?;
        Ok(note.map(|mut note| {
            self.link_ids(&mut note.casebook_id, &mut note.ghl_id);
            note
        }))
    }
    /// The appointment as it reads now; null for other mutations.
    async fn appointment(&self, ctx: &Context<'_>) -> Result<Option<Appointment>> {
        if self.outcome.record.as_ref().map(|r| r.kind) != Some(RecordKind::Appointment) {
            return Ok(None);
        }
        let appointment = self
            .read(
                ctx,
                async |request, id| {
                    request
                        .tenant
                        .casebook
                        .get_note(id)
                        .await
                        .map(Appointment::from_casebook)
                },
                async |request, _contact, id| {
                    request
                        .tenant
                        .ghl
                        .get_appointment(id)
                        .await
                        .map(Appointment::from_ghl)
                },
            )
            .await?;
        Ok(appointment.map(|mut appointment| {
            self.link_ids(&mut appointment.casebook_id, &mut appointment.ghl_id);
            appointment
        }))
    }
    async fn casebook(&self) -> SyncStatus {
        self.outcome.casebook_status()
    }
    async fn ghl(&self) -> SyncStatus {
        self.outcome.ghl_status()
    }
    async fn sync_ids(&self) -> Vec<ID> {
        self.outcome.sync_ids.iter().cloned().map(ID).collect()
    }
}

/// An outbox entry: a write to one system that is queued, running, done or failed.
pub struct SyncJob(pub Job);

#[Object]
impl SyncJob {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The system the write goes to.
    async fn system(&self) -> System {
        self.0.system
    }
    /// What the write does, such as `create contact`.
    async fn operation(&self) -> &str {
        &self.0.summary
    }
    async fn status(&self) -> JobStatus {
        self.0.status
    }
    async fn attempts(&self) -> i64 {
        self.0.attempts
    }
    /// Whether an earlier attempt may have taken effect; the worker then looks for the
    /// record before it creates it again.
    async fn outcome_unknown(&self) -> bool {
        self.0.outcome_unknown
    }
    /// The `extensions.code` of the last failure.
    async fn last_error_code(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == JobStatus::Pending)
            .then_some(self.0.next_attempt_at)
            .flatten()
    }
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.0.created_at
    }
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.updated_at
    }
}

/// Maps a write failure to the client-facing error.
fn write_error(error: WriteError) -> async_graphql::Error {
    match error {
        WriteError::Invalid(problems) => invalid(problems),
        WriteError::NotFound(message) => errors::not_found(message),
        WriteError::Conflict(message) => {
            async_graphql::Error::new(message).extend_with(|_, e| e.set("code", "CONFLICT"))
        }
        WriteError::Upstream(error) => errors::upstream(&error),
        WriteError::Store(error) => errors::store(&error),
        WriteError::KeyMismatch => errors::bad_input(
            "clientMutationId",
            "this idempotency key was already used for a different mutation or input: use a new key",
        ),
        WriteError::KeyBusy => async_graphql::Error::new(
            "another request with this idempotency key is still running: retry in a few seconds",
        )
        .extend_with(|_, e| e.set("code", "CONFLICT")),
    }
}

/// `BAD_USER_INPUT` naming the first invalid field, with every problem in `extensions.problems`.
fn invalid(problems: Vec<FieldError>) -> async_graphql::Error {
    let first = problems.first().cloned().unwrap_or(FieldError {
        field: "input".to_string(),
        message: "invalid input".to_string(),
    });
    let message = if problems.len() > 1 {
        format!(
            "{} (and {} more problems)",
            first.message,
            problems.len() - 1
        )
    } else {
        first.message.clone()
    };
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", "BAD_USER_INPUT");
        extensions.set("argument", first.field.as_str());
        let list: Vec<async_graphql::Value> = problems
            .iter()
            .map(|problem| {
                let mut entry = async_graphql::indexmap::IndexMap::new();
                entry.insert(
                    async_graphql::Name::new("field"),
                    async_graphql::Value::from(problem.field.as_str()),
                );
                entry.insert(
                    async_graphql::Name::new("message"),
                    async_graphql::Value::from(problem.message.as_str()),
                );
                async_graphql::Value::Object(entry)
            })
            .collect();
        extensions.set("problems", async_graphql::Value::List(list));
    })
}

fn store_error(error: StoreError) -> WriteError {
    WriteError::Store(error)
}

/// The idempotency key of one mutation field: `clientMutationId`, else the
/// `Idempotency-Key` header qualified by the field's response key.
fn idempotency_key(ctx: &Context<'_>, client_mutation_id: &Option<String>) -> Option<String> {
    if let Some(id) = client_mutation_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        return Some(format!("client:{id}"));
    }
    let request = RequestContext::get(ctx).ok()?;
    let header = request.idempotency_key.as_deref()?;
    Some(format!(
        "header:{header}:{}",
        ctx.item.node.response_key().node
    ))
}

/// Runs a mutation through the idempotency store.
async fn run<I: serde::Serialize, F>(
    ctx: &Context<'_>,
    name: &str,
    input: &I,
    client_mutation_id: &Option<String>,
    body: F,
) -> Result<Outcome>
where
    F: AsyncFnOnce(&RequestContext) -> Result<Outcome, WriteError>,
{
    let request = RequestContext::get(ctx)?;
    let key = idempotency_key(ctx, client_mutation_id);
    let fingerprint = format!(
        "{name}:{}",
        serde_json::to_string(input).unwrap_or_default()
    );
    request
        .writes
        .idempotent(
            &request.tenant.id,
            key.as_deref(),
            &fingerprint,
            body(request),
        )
        .await
        .map_err(write_error)
}

/// The contact behind a global id.
async fn contact_link(
    request: &RequestContext,
    id: &ID,
    field: &str,
) -> Result<ContactLink, WriteError> {
    let Some(GlobalId::Contact(link_id)) = GlobalId::decode(id) else {
        return Err(WriteError::Invalid(vec![FieldError {
            field: format!("input.{field}"),
            message: format!(
                "input.{field} {:?} is not a contact id: use the id field of a Contact",
                id.as_str()
            ),
        }]));
    };
    request
        .store
        .get(&request.tenant.id, &link_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| WriteError::NotFound(format!("no contact has id {}", id.as_str())))
}

/// The sides of an existing task, note or appointment behind a global id.
async fn record_target(
    request: &RequestContext,
    id: &ID,
    kind: RecordKind,
) -> Result<RecordTarget, WriteError> {
    let decoded = GlobalId::decode(id);
    let item = match (kind, decoded) {
        (RecordKind::Task, Some(GlobalId::Task(item)))
        | (RecordKind::Note, Some(GlobalId::Note(item)))
        | (RecordKind::Appointment, Some(GlobalId::Appointment(item))) => item,
        _ => {
            return Err(WriteError::Invalid(vec![FieldError {
                field: "input.id".to_string(),
                message: format!(
                    "input.id {:?} is not the id of a {}: use the id field of that object",
                    id.as_str(),
                    kind.as_str()
                ),
            }]));
        }
    };
    let tenant = &request.tenant;
    let links = request.writes.records();
    let system = item.system();
    if let Some(link) = links
        .find(&tenant.id, kind, system, item.native_id())
        .await
        .map_err(store_error)?
    {
        let contact = request
            .store
            .get(&tenant.id, &link.contact_id)
            .await
            .map_err(store_error)?;
        let person = contact
            .as_ref()
            .and_then(|c| c.casebook_id.clone())
            .unwrap_or_default();
        let ghl_owner = link
            .ghl_contact_id
            .clone()
            .or_else(|| contact.as_ref().and_then(|c| c.ghl_id.clone()))
            .unwrap_or_default();
        return Ok(RecordTarget {
            link_id: Some(link.id),
            contact_id: Some(link.contact_id),
            casebook: link.casebook_id.map(|id| (id, person)),
            ghl: link.ghl_id.map(|id| (id, ghl_owner)),
        });
    }

    // A record the gateway did not write: one side only; its owner comes from upstream.
    let upstream = WriteError::Upstream;
    let target = match item {
        ItemRef::Casebook { id } => {
            let owner = match kind {
                RecordKind::Task => {
                    tenant
                        .casebook
                        .get_task(&id)
                        .await
                        .map_err(upstream)?
                        .person_id
                }
                RecordKind::Note | RecordKind::Appointment => tenant
                    .casebook
                    .get_note(&id)
                    .await
                    .map_err(upstream)?
                    .people_ids
                    .first()
                    .cloned(),
            };
            RecordTarget {
                casebook: Some((id, owner.unwrap_or_default())),
                ..RecordTarget::default()
            }
        }
        ItemRef::Ghl { contact_id, id } => {
            let owner = match (kind, contact_id) {
                (_, Some(contact)) => contact,
                (_, None) => tenant
                    .ghl
                    .get_appointment(&id)
                    .await
                    .map_err(upstream)?
                    .contact_id
                    .unwrap_or_default(),
            };
            RecordTarget {
                ghl: Some((id, owner)),
                ..RecordTarget::default()
            }
        }
    };
    Ok(target)
}

/// The contact fields of a mutation input, before validation.
struct RawContact<'a> {
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    /// Whether both names must be given (creates).
    names_required: bool,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    date_of_birth: Option<&'a str>,
    tags: Option<&'a [String]>,
    attributes: Option<&'a [AttributeInput]>,
}

fn contact_fields(
    checker: &mut Checker,
    request: &RequestContext,
    raw: RawContact<'_>,
) -> ContactFields {
    let RawContact {
        first_name,
        last_name,
        names_required,
        email,
        phone,
        date_of_birth,
        tags,
        attributes,
    } = raw;
    let values: Vec<(String, serde_json::Value)> = attributes
        .unwrap_or_default()
        .iter()
        .map(|attribute| (attribute.name.trim().to_string(), attribute.value.0.clone()))
        .collect();
    ContactFields {
        first_name: checker.text("firstName", first_name, names_required, MAX_SHORT_TEXT),
        last_name: checker.text("lastName", last_name, names_required, MAX_SHORT_TEXT),
        email: checker.email("email", email),
        phone: checker.phone("phone", phone, request.tenant.region),
        date_of_birth: checker.date("dateOfBirth", date_of_birth),
        tags: checker.tags("tags", tags, false),
        clear: Vec::new(),
        attributes: checker.attributes(&values, &request.writes.config().field_mapping),
    }
}

fn appointment_status(checker: &mut Checker, status: Option<&str>) -> Option<String> {
    let status = status.map(str::trim).filter(|s| !s.is_empty())?;
    if APPOINTMENT_STATUSES.contains(&status) {
        Some(status.to_string())
    } else {
        checker.invalid(
            "status",
            format!(
                "input.status {status:?} is not an appointment status: use one of {}",
                APPOINTMENT_STATUSES.join(", ")
            ),
        );
        None
    }
}

fn record_payload(input_id: &Option<String>, outcome: Outcome) -> RecordPayload {
    RecordPayload {
        client_mutation_id: input_id.clone(),
        outcome,
    }
}

fn delete_payload(input_id: &Option<String>, deleted_id: ID, outcome: Outcome) -> DeletePayload {
    DeletePayload {
        client_mutation_id: input_id.clone(),
        deleted_id,
        casebook: outcome.casebook_status(),
        ghl: outcome.ghl_status(),
        sync_ids: outcome.sync_ids.into_iter().map(ID).collect(),
    }
}

#[Object]
impl Mutation {
    /// Creates a contact in both systems and links the two records.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        input: CreateContactInput,
    ) -> Result<ContactPayload> {
        let outcome = run(
            ctx,
            "createContact",
            &input,
            &input.client_mutation_id,
            async |request| {
                let mut checker = Checker::new();
                let fields = contact_fields(
                    &mut checker,
                    request,
                    RawContact {
                        first_name: Some(&input.first_name),
                        last_name: Some(&input.last_name),
                        names_required: true,
                        email: input.email.as_deref(),
                        phone: input.phone.as_deref(),
                        date_of_birth: input.date_of_birth.as_deref(),
                        tags: input.tags.as_deref(),
                        attributes: input.attributes.as_deref(),
                    },
                );
                checker.finish().map_err(WriteError::Invalid)?;
                request.writes.create_contact(&request.tenant, fields).await
            },
        )
        .await?;
        Ok(ContactPayload {
            client_mutation_id: input.client_mutation_id,
            outcome,
        })
    }

    /// Changes a contact on every system that has it.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        input: UpdateContactInput,
    ) -> Result<ContactPayload> {
        let outcome = run(
            ctx,
            "updateContact",
            &input,
            &input.client_mutation_id,
            async |request| {
                let mut checker = Checker::new();
                let mut fields = contact_fields(
                    &mut checker,
                    request,
                    RawContact {
                        first_name: input.first_name.as_deref(),
                        last_name: input.last_name.as_deref(),
                        names_required: false,
                        email: input.email.as_deref(),
                        phone: input.phone.as_deref(),
                        date_of_birth: input.date_of_birth.as_deref(),
                        tags: input.tags.as_deref(),
                        attributes: input.attributes.as_deref(),
                    },
                );
                fields.clear = input
                    .clear
                    .iter()
                    .flatten()
                    .map(|field| field.name().to_string())
                    .collect();
                checker.finish().map_err(WriteError::Invalid)?;
                let link = contact_link(request, &input.id, "id").await?;
                request
                    .writes
                    .update_contact(&request.tenant, &link, fields)
                    .await
            },
        )
        .await?;
        Ok(ContactPayload {
            client_mutation_id: input.client_mutation_id,
            outcome,
        })
    }

    /// Updates the contact that matches by e-mail (then phone), or creates one. Fields
    /// that are absent or empty never overwrite stored values.
    async fn upsert_contact(
        &self,
        ctx: &Context<'_>,
        input: UpsertContactInput,
    ) -> Result<ContactPayload> {
        let outcome = run(
            ctx,
            "upsertContact",
            &input,
            &input.client_mutation_id,
            async |request| {
                let mut checker = Checker::new();
                let mut fields = contact_fields(
                    &mut checker,
                    request,
                    RawContact {
                        first_name: input.first_name.as_deref(),
                        last_name: input.last_name.as_deref(),
                        names_required: false,
                        email: input.email.as_deref(),
                        phone: input.phone.as_deref(),
                        date_of_birth: input.date_of_birth.as_deref(),
                        tags: input.tags.as_deref(),
                        attributes: input.attributes.as_deref(),
                    },
                );
                fields.clear = input
                    .clear
                    .iter()
                    .flatten()
                    .map(|field| field.name().to_string())
                    .collect();
                if fields.email.is_none() && fields.phone.is_none() {
                    checker.invalid(
                        "email",
                        "input.email or input.phone is required to match a contact".to_string(),
                    );
                }
                checker.finish().map_err(WriteError::Invalid)?;
                match request.writes.find_match(&request.tenant, &fields).await? {
                    Some(link) => {
                        request
                            .writes
                            .update_contact(&request.tenant, &link, fields)
                            .await
                    }
                    None => {
                        let mut checker = Checker::new();
                        checker.text(
                            "firstName",
                            fields.first_name.as_deref(),
                            true,
                            MAX_SHORT_TEXT,
                        );
                        checker.text(
                            "lastName",
                            fields.last_name.as_deref(),
                            true,
                            MAX_SHORT_TEXT,
                        );
                        checker.finish().map_err(WriteError::Invalid)?;
                        request.writes.create_contact(&request.tenant, fields).await
                    }
                }
            },
        )
        .await?;
        Ok(ContactPayload {
            client_mutation_id: input.client_mutation_id,
            outcome,
        })
    }

    /// Deletes a contact in both systems.
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        input: ContactIdInput,
    ) -> Result<DeletePayload> {
        let outcome = run(
            ctx,
            "deleteContact",
            &input,
            &input.client_mutation_id,
            async |request| {
                let link = contact_link(request, &input.id, "id").await?;
                request.writes.delete_contact(&request.tenant, &link).await
            },
        )
        .await?;
        Ok(delete_payload(
            &input.client_mutation_id,
            input.id.clone(),
            outcome,
        ))
    }

    /// Adds tags to the contact's GHL record.
    async fn add_contact_tags(
        &self,
        ctx: &Context<'_>,
        input: ContactTagsInput,
    ) -> Result<ContactPayload> {
        change_tags(ctx, input, true).await
    }

    /// Removes tags from the contact's GHL record.
    async fn remove_contact_tags(
        &self,
        ctx: &Context<'_>,
        input: ContactTagsInput,
    ) -> Result<ContactPayload> {
        change_tags(ctx, input, false).await
    }

    /// Joins a Casebook person and a GHL contact into one contact by hand.
    async fn link_contacts(
        &self,
        ctx: &Context<'_>,
        input: LinkContactsInput,
    ) -> Result<ContactPayload> {
        let outcome = run(
            ctx,
            "linkContacts",
            &input,
            &input.client_mutation_id,
            async |request| {
                let tenant = &request.tenant;
                tenant
                    .casebook
                    .get_person(&input.casebook_id)
                    .await
                    .map_err(WriteError::Upstream)?;
                tenant
                    .ghl
                    .get_contact(&input.ghl_id)
                    .await
                    .map_err(WriteError::Upstream)?;
                let link = request
                    .store
                    .link_pair(
                        &tenant.id,
                        &input.casebook_id,
                        &input.ghl_id,
                        LinkMethod::Manual,
                    )
                    .await
                    .map_err(|error| match error {
                        StoreError::Conflict(message) => {
                            WriteError::Conflict(format!("{message}: unlink it first"))
                        }
                        other => WriteError::Store(other),
                    })?;
                Ok(Outcome {
                    contact_id: Some(link.id),
                    casebook: Some(SyncStatus::NotApplicable),
                    ghl: Some(SyncStatus::NotApplicable),
                    ..Outcome::default()
                })
            },
        )
        .await?;
        Ok(ContactPayload {
            client_mutation_id: input.client_mutation_id,
            outcome,
        })
    }

    /// Splits a linked contact into a Casebook contact and a GHL contact.
    async fn unlink_contacts(
        &self,
        ctx: &Context<'_>,
        input: ContactIdInput,
    ) -> Result<UnlinkPayload> {
        let request = RequestContext::get(ctx)?;
        let link = contact_link(request, &input.id, "id")
            .await
            .map_err(write_error)?;
        let (casebook, ghl) = request
            .store
            .unlink(&request.tenant.id, &link.id)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(message) => write_error(WriteError::Conflict(message)),
                other => errors::store(&other),
            })?;
        Ok(UnlinkPayload {
            client_mutation_id: input.client_mutation_id,
            casebook_contact: Contact::new(casebook),
            ghl_contact: Contact::new(ghl),
        })
    }

    /// Creates a task on the contact in both systems.
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
    ) -> Result<RecordPayload> {
        let outcome = run(
            ctx,
            "createTask",
            &input,
            &input.client_mutation_id,
            async |request| {
                let mut checker = Checker::new();
                let fields = TaskFields {
                    title: checker.text("title", Some(&input.title), true, MAX_SHORT_TEXT),
                    body: checker.text("body", input.body.as_deref(), false, MAX_LONG_TEXT),
                    due_at: checker.date_time("dueAt", Some(&input.due_at), true),
                    completed: input.completed,
                };
                checker.finish().map_err(WriteError::Invalid)?;
                let link = contact_link(request, &input.contact_id, "contactId").await?;
                request
                    .writes
                    .create_record(
                        &request.tenant,
                        &link,
                        RecordKind::Task,
                        Writes::task_create(fields),
                    )
                    .await
            },
        )
        .await?;
        Ok(record_payload(&input.client_mutation_id, outcome))
    }

    /// Changes a task in every system that has it.
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        input: UpdateTaskInput,
    ) -> Result<RecordPayload> {
        let outcome = run(
            ctx,
            "updateTask",
            &input,
            &input.client_mutation_id,
            async |request| {
                let mut checker = Checker::new();
                let fields = TaskFields {
                    title: checker.text("title", input.title.as_deref(), false, MAX_SHORT_TEXT),
                    body: checker.text("body", input.body.as_deref(), false, MAX_LONG_TEXT),
                    due_at: checker.date_time("dueAt", input.due_at.as_deref(), false),
                    completed: input.completed,
                };
                checker.finish().map_err(WriteError::Invalid)?;
                let target = record_target(request, &input.id, RecordKind::Task).await?;
                request
                    .writes
                    .change_record(
                        &request.tenant,
                        RecordKind::Task,
                        &target,
                        |owner, native_id| SideWrite::UpdateTask {
                            owner,
                            native_id,
                            fields: fields.clone(),
                        },
                        false,
                    )
                    .await
            },
        )
        .await?;
        Ok(record_payload(&input.client_mutation_id, outcome))
    }

    /// Marks a task done or not done in every system that has it.
    async fn complete_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        completed: bool,
        client_mutation_id: Option<String>,
    ) -> Result<RecordPayload> {
        let input = serde_json::json!({ "id": id.as_str(), "completed": completed });
        let outcome = run(
            ctx,
            "completeTask",
            &input,
            &client_mutation_id,
            async |request| {
                let target = record_target(request, &id, RecordKind::Task).await?;
                let fields = TaskFields {
                    completed: Some(completed),
                    ..TaskFields::default()
                };
                request
                    .writes
                    .change_record(
                        &request.tenant,
                        RecordKind::Task,
                        &target,
                        |owner, native_id| SideWrite::UpdateTask {
                            owner,
                            native_id,
                            fields: fields.clone(),
                        },
                        false,
                    )
                    .await
            },
        )
        .await?;
        Ok(record_payload(&client_mutation_id, outcome))
    }

    /// Deletes a task in every system that has it.
    async fn delete_task(&self, ctx: &Context<'_>, input: RecordIdInput) -> Result<DeletePayload> {
        delete_record(ctx, input, RecordKind::Task).await
    }

    /// Creates a note on the contact in both systems.
    async fn create_note(
        &self,
        ctx: &Context<'_>,
        input: CreateNoteInput,
    ) -> Result<RecordPayload> {
        let outcome = run(
            ctx,
            "createNote",
            &input,
            &input.client_mutation_id,
            async |request| {
                let mut checker = Checker::new();
                let fields = NoteFields {
                    title: checker.text("title", input.title.as_deref(), false, MAX_SHORT_TEXT),
                    body: checker.text("body", Some(&input.body), true, MAX_LONG_TEXT),
                };
                checker.finish().map_err(WriteError::Invalid)?;
                let link = contact_link(request, &input.contact_id, "contactId").await?;
                request
                    .writes
                    .create_record(
                        &request.tenant,
                        &link,
                        RecordKind::Note,
                        Writes::note_create(fields),
                    )
                    .await
            },
        )
        .await?;
        Ok(record_payload(&input.client_mutation_id, outcome))
    }

    /// Changes a note in every system that has it.
    async fn update_note(
        &self,
        ctx: &Context<'_>,
        input: UpdateNoteInput,
    ) -> Result<RecordPayload> {
        let outcome = run(
            ctx,
            "updateNote",
            &input,
            &input.client_mutation_id,
            async |request| {
                let mut checker = Checker::new();
                let fields = NoteFields {
                    title: checker.text("title", input.title.as_deref(), false, MAX_SHORT_TEXT),
                    body: checker.text("body", input.body.as_deref(), false, MAX_LONG_TEXT),
                };
                checker.finish().map_err(WriteError::Invalid)?;
                let target = record_target(request, &input.id, RecordKind::Note).await?;
                request
                    .writes
                    .change_record(
                        &request.tenant,
                        RecordKind::Note,
                        &target,
                        |owner, native_id| SideWrite::UpdateNote {
                            owner,
                            native_id,
                            fields: fields.clone(),
                        },
                        false,
                    )
                    .await
            },
        )
        .await?;
        Ok(record_payload(&input.client_mutation_id, outcome))
    }

    /// Deletes a note in every system that has it.
    async fn delete_note(&self, ctx: &Context<'_>, input: RecordIdInput) -> Result<DeletePayload> {
        delete_record(ctx, input, RecordKind::Note).await
    }

    /// Creates an appointment: a GHL calendar event and a Casebook Meeting note.
    async fn create_appointment(
        &self,
        ctx: &Context<'_>,
        input: CreateAppointmentInput,
    ) -> Result<RecordPayload> {
        let outcome = run(ctx, "createAppointment", &input, &input.client_mutation_id, async |request| {
            let mut checker = Checker::new();
            let starts_at = checker.date_time("startsAt", Some(&input.starts_at), true);
            let ends_at = checker.date_time("endsAt", input.ends_at.as_deref(), false);
            if let (Some(start), Some(end)) = (starts_at, ends_at)
                && end <= start {
                    checker.invalid("endsAt", "input.endsAt is not after input.startsAt: give a later end".to_string());
                }
            let fields = AppointmentFields {
                title: checker.text("title", Some(&input.title), true, MAX_SHORT_TEXT),
                starts_at,
                ends_at: ends_at.or(starts_at.map(|start| start + chrono::Duration::minutes(30))),
                status: appointment_status(&mut checker, input.status.as_deref()),
                calendar_id: checker
                    .text("calendarId", input.calendar_id.as_deref(), false, MAX_SHORT_TEXT)
                    .or_else(|| request.writes.config().default_calendar_id.clone()),
                time_zone: checker.time_zone("timeZone", input.time_zone.as_deref()).map(|zone| zone.name().to_string()),
                notes: checker.text("notes", input.notes.as_deref(), false, MAX_LONG_TEXT),
            };
            let link = contact_link(request, &input.contact_id, "contactId").await?;
            if link.ghl_id.is_some() && fields.calendar_id.is_none() {
                checker.invalid(
                    "calendarId",
                    "input.calendarId is required to write the appointment to GHL: give a GHL calendar id, or configure writes.default_calendar_id".to_string(),
                );
            }
            checker.finish().map_err(WriteError::Invalid)?;
            request
                .writes
                .create_record(&request.tenant, &link, RecordKind::Appointment, Writes::appointment_create(fields))
                .await
        })
        .await?;
        Ok(record_payload(&input.client_mutation_id, outcome))
    }

    /// Changes an appointment in every system that has it.
    async fn update_appointment(
        &self,
        ctx: &Context<'_>,
        input: UpdateAppointmentInput,
    ) -> Result<RecordPayload> {
        let outcome = run(
            ctx,
            "updateAppointment",
            &input,
            &input.client_mutation_id,
            async |request| {
                let mut checker = Checker::new();
                let fields = AppointmentFields {
                    title: checker.text("title", input.title.as_deref(), false, MAX_SHORT_TEXT),
                    starts_at: checker.date_time("startsAt", input.starts_at.as_deref(), false),
                    ends_at: checker.date_time("endsAt", input.ends_at.as_deref(), false),
                    status: appointment_status(&mut checker, input.status.as_deref()),
                    calendar_id: None,
                    time_zone: checker
                        .time_zone("timeZone", input.time_zone.as_deref())
                        .map(|zone| zone.name().to_string()),
                    notes: checker.text("notes", input.notes.as_deref(), false, MAX_LONG_TEXT),
                };
                checker.finish().map_err(WriteError::Invalid)?;
                let target = record_target(request, &input.id, RecordKind::Appointment).await?;
                request
                    .writes
                    .change_record(
                        &request.tenant,
                        RecordKind::Appointment,
                        &target,
                        |owner, native_id| SideWrite::UpdateAppointment {
                            owner,
                            native_id,
                            fields: fields.clone(),
                        },
                        false,
                    )
                    .await
            },
        )
        .await?;
        Ok(record_payload(&input.client_mutation_id, outcome))
    }

    /// Deletes an appointment in every system that has it.
    async fn delete_appointment(
        &self,
        ctx: &Context<'_>,
        input: RecordIdInput,
    ) -> Result<DeletePayload> {
        delete_record(ctx, input, RecordKind::Appointment).await
    }

    /// Queues an outbox entry to run now, also after it failed.
    async fn retry_sync(&self, ctx: &Context<'_>, id: ID) -> Result<SyncJob> {
        let request = RequestContext::get(ctx)?;
        let job = request
            .writes
            .outbox()
            .retry_now(&request.tenant.id, &id)
            .await
            .or_internal()?
            .ok_or_else(|| errors::not_found(format!("no outbox entry has id {}", id.as_str())))?;
        request.writes.forget_views(&request.tenant.id);
        request.writes.wake_worker();
        Ok(SyncJob(job))
    }
}

async fn change_tags(
    ctx: &Context<'_>,
    input: ContactTagsInput,
    add: bool,
) -> Result<ContactPayload> {
    let name = if add {
        "addContactTags"
    } else {
        "removeContactTags"
    };
    let outcome = run(
        ctx,
        name,
        &input,
        &input.client_mutation_id,
        async |request| {
            let mut checker = Checker::new();
            let tags = checker
                .tags("tags", Some(&input.tags), true)
                .unwrap_or_default();
            checker.finish().map_err(WriteError::Invalid)?;
            let link = contact_link(request, &input.id, "id").await?;
            request
                .writes
                .change_tags(&request.tenant, &link, tags, add)
                .await
        },
    )
    .await?;
    Ok(ContactPayload {
        client_mutation_id: input.client_mutation_id,
        outcome,
    })
}

async fn delete_record(
    ctx: &Context<'_>,
    input: RecordIdInput,
    kind: RecordKind,
) -> Result<DeletePayload> {
    let name = format!("delete:{}", kind.as_str());
    let outcome = run(
        ctx,
        &name,
        &input,
        &input.client_mutation_id,
        async |request| {
            let target = record_target(request, &input.id, kind).await?;
            request
                .writes
                .change_record(
                    &request.tenant,
                    kind,
                    &target,
                    |owner, native_id| match kind {
                        RecordKind::Task => SideWrite::DeleteTask { owner, native_id },
                        RecordKind::Note => SideWrite::DeleteNote { owner, native_id },
                        RecordKind::Appointment => {
                            SideWrite::DeleteAppointment { owner, native_id }
                        }
                    },
                    true,
                )
                .await
        },
    )
    .await?;
    Ok(delete_payload(
        &input.client_mutation_id,
        input.id.clone(),
        outcome,
    ))
}

/// Outbox queries.
#[derive(Default)]
pub struct SyncQuery;

#[Object]
impl SyncQuery {
    /// Outbox entries that are not done yet (pending, running or failed), oldest first.
    async fn pending_syncs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Largest number of entries, 1 to 500; default 100.")] first: Option<i32>,
    ) -> Result<Vec<SyncJob>> {
        let request = RequestContext::get(ctx)?;
        let limit = super::contact::page_size(first, 100, 500, "first")? as u32;
        let jobs = request
            .writes
            .outbox()
            .open(&request.tenant.id, limit)
            .await
            .or_internal()?;
        Ok(jobs.into_iter().map(SyncJob).collect())
    }

    /// One outbox entry, done ones included.
    async fn sync_status(&self, ctx: &Context<'_>, id: ID) -> Result<Option<SyncJob>> {
        let request = RequestContext::get(ctx)?;
        let job = request
            .writes
            .outbox()
            .get(&request.tenant.id, &id)
            .await
            .or_internal()?;
        Ok(job.map(SyncJob))
    }
}
