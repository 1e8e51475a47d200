//! Tasks, notes and appointments from either system, and the interfaces they share.

use async_graphql::{ID, Interface, Object};
use chrono::{DateTime, Utc};

use super::{
    contact::Contact,
    ids::{GlobalId, ItemRef},
};
use crate::upstream::{
    System,
    casebook::CasebookNote,
    casebook::CasebookTask,
    ghl::{GhlAppointment, GhlNote, GhlTask, parse_ghl_time},
};

/// Any object the gateway can find again by its global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    Contact(Contact),
    Task(Task),
    Note(Note),
    Appointment(Appointment),
}

/// An entry of a contact's history: a task, a note or an appointment from either system.
#[derive(Interface, Clone)]
#[graphql(
    field(name = "id", ty = "ID", desc = "Opaque global id."),
    field(
        name = "source",
        ty = "System",
        desc = "The system the entry comes from."
    ),
    field(
        name = "native_id",
        ty = "String",
        desc = "The entry's id in its own system."
    ),
    field(
        name = "title",
        ty = "Option<String>",
        desc = "Short title or subject."
    ),
    field(
        name = "occurred_at",
        ty = "Option<DateTime<Utc>>",
        desc = "The moment the history is ordered by: a task's due time, a note's time, an appointment's start."
    )
)]
pub enum HistoryItem {
    Task(Task),
    Note(Note),
    Appointment(Appointment),
}

/// A task, note or appointment that may be linked to its copy on the other system.
pub trait LinkedItem {
    /// The system the entry was read from.
    fn system(&self) -> System;
    /// The entry's native id on `system`.
    fn id_on(&self, system: System) -> Option<&str>;
    /// Records the id of the linked copy on `system`.
    fn set_id_on(&mut self, system: System, id: String);
}

macro_rules! linked_item {
    ($type:ty) => {
        impl LinkedItem for $type {
            fn system(&self) -> System {
                self.item.system()
            }
            fn id_on(&self, system: System) -> Option<&str> {
                match system {
                    System::Casebook => self.casebook_id.as_deref(),
                    System::Ghl => self.ghl_id.as_deref(),
                }
            }
            fn set_id_on(&mut self, system: System, id: String) {
                match system {
                    System::Casebook => self.casebook_id = Some(id),
                    System::Ghl => self.ghl_id = Some(id),
                }
            }
        }
    };
}

linked_item!(Task);
linked_item!(Note);
linked_item!(Appointment);

impl HistoryItem {
    /// The time the history is sorted by, newest first.
    pub fn sort_time(&self) -> Option<DateTime<Utc>> {
        match self {
            HistoryItem::Task(task) => task.due_at,
            HistoryItem::Note(note) => note.occurred_at.or(note.created_at),
            HistoryItem::Appointment(appointment) => appointment.starts_at,
        }
    }

    /// A stable tie-break for entries with the same time.
    pub fn sort_key(&self) -> (System, String) {
        let item = match self {
            HistoryItem::Task(task) => &task.item,
            HistoryItem::Note(note) => &note.item,
            HistoryItem::Appointment(appointment) => &appointment.item,
        };
        (item.system(), item.native_id().to_string())
    }
}

/// A task from Casebook or GHL.
#[derive(Debug, Clone)]
pub struct Task {
    pub item: ItemRef,
    /// The Casebook id, also when the entry was read from GHL and is linked.
    pub casebook_id: Option<String>,
    /// The GHL id, also when the entry was read from Casebook and is linked.
    pub ghl_id: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub completed: bool,
    pub completed_at: Option<DateTime<Utc>>,
    pub assigned_to: Option<String>,
}

impl Task {
    pub fn from_casebook(task: CasebookTask) -> Task {
        Task {
            casebook_id: Some(task.id.clone()),
            ghl_id: None,
            item: ItemRef::Casebook { id: task.id },
            title: task.title,
            body: task.description,
            due_at: task.due_at,
            completed: task.completed,
            completed_at: task.completed_at,
            assigned_to: None,
        }
    }

    pub fn from_ghl(task: GhlTask, contact_id: &str) -> Task {
        Task {
            due_at: task.due_date.as_deref().and_then(parse_ghl_time),
            casebook_id: None,
            ghl_id: Some(task.id.clone()),
            item: ItemRef::Ghl {
                contact_id: Some(
                    task.contact_id
                        .clone()
                        .unwrap_or_else(|| contact_id.to_string()),
                ),
                id: task.id,
            },
            title: task.title,
            body: task.body,
            completed: task.completed,
            completed_at: None,
            assigned_to: task.assigned_to,
        }
    }
}

#[Object]
impl Task {
    /// Opaque global id.
    async fn id(&self) -> ID {
        GlobalId::Task(self.item.clone()).encode()
    }
    /// The system the task comes from.
    async fn source(&self) -> System {
        self.item.system()
    }
    /// The task's id in its own system.
    async fn native_id(&self) -> String {
        self.item.native_id().to_string()
    }
    /// The id in Casebook, when the entry exists there (linked entries have both ids).
    async fn casebook_id(&self) -> Option<ID> {
        self.casebook_id.clone().map(ID)
    }
    /// The id in GHL, when the entry exists there (linked entries have both ids).
    async fn ghl_id(&self) -> Option<ID> {
        self.ghl_id.clone().map(ID)
    }
    async fn title(&self) -> Option<String> {
        self.title.clone()
    }
    /// Description (Casebook) or body (GHL).
    async fn body(&self) -> Option<String> {
        self.body.clone()
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.due_at
    }
    async fn completed(&self) -> bool {
        self.completed
    }
    /// When the task was completed; Casebook only.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at
    }
    /// The assigned user's id in GHL.
    async fn assigned_to(&self) -> Option<String> {
        self.assigned_to.clone()
    }
    /// The task's due time.
    async fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.due_at
    }
}

/// A note from Casebook or GHL.
#[derive(Debug, Clone)]
pub struct Note {
    pub item: ItemRef,
    /// The Casebook id, also when the entry was read from GHL and is linked.
    pub casebook_id: Option<String>,
    /// The GHL id, also when the entry was read from Casebook and is linked.
    pub ghl_id: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub note_type: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
}

impl Note {
    pub fn from_casebook(note: CasebookNote) -> Note {
        Note {
            casebook_id: Some(note.id.clone()),
            ghl_id: None,
            item: ItemRef::Casebook { id: note.id },
            title: note.subject,
            body: note.body,
            note_type: note.note_type,
            occurred_at: note.occurred_at,
            created_at: note.created_at,
        }
    }

    pub fn from_ghl(note: GhlNote, contact_id: &str) -> Note {
        let created_at = note.date_added.as_deref().and_then(parse_ghl_time);
        Note {
            casebook_id: None,
            ghl_id: Some(note.id.clone()),
            item: ItemRef::Ghl {
                contact_id: Some(
                    note.contact_id
                        .clone()
                        .unwrap_or_else(|| contact_id.to_string()),
                ),
                id: note.id,
            },
            title: note.title,
            body: note.body,
            note_type: None,
            occurred_at: None,
            created_at,
        }
    }
}

#[Object]
impl Note {
    /// Opaque global id.
    async fn id(&self) -> ID {
        GlobalId::Note(self.item.clone()).encode()
    }
    /// The system the note comes from.
    async fn source(&self) -> System {
        self.item.system()
    }
    /// The note's id in its own system.
    async fn native_id(&self) -> String {
        self.item.native_id().to_string()
    }
    /// The id in Casebook, when the entry exists there (linked entries have both ids).
    async fn casebook_id(&self) -> Option<ID> {
        self.casebook_id.clone().map(ID)
    }
    /// The id in GHL, when the entry exists there (linked entries have both ids).
    async fn ghl_id(&self) -> Option<ID> {
        self.ghl_id.clone().map(ID)
    }
    /// Subject (Casebook) or title (GHL).
    async fn title(&self) -> Option<String> {
        self.title.clone()
    }
    async fn body(&self) -> Option<String> {
        self.body.clone()
    }
    /// Casebook's note type, such as `Progress`; null for GHL notes.
    async fn note_type(&self) -> Option<String> {
        self.note_type.clone()
    }
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created_at
    }
    /// When the interaction happened, or else when the note was written.
    async fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.occurred_at.or(self.created_at)
    }
}

/// An appointment: a GHL calendar event, or a Casebook Meeting note standing in for one.
#[derive(Debug, Clone)]
pub struct Appointment {
    pub item: ItemRef,
    /// The Casebook id, also when the entry was read from GHL and is linked.
    pub casebook_id: Option<String>,
    /// The GHL id, also when the entry was read from Casebook and is linked.
    pub ghl_id: Option<String>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub calendar_id: Option<String>,
    pub notes: Option<String>,
}

impl Appointment {
    pub fn from_casebook(note: CasebookNote) -> Appointment {
        Appointment {
            casebook_id: Some(note.id.clone()),
            ghl_id: None,
            item: ItemRef::Casebook { id: note.id },
            title: note.subject,
            status: None,
            starts_at: note.occurred_at,
            ends_at: note.ends_at,
            calendar_id: None,
            notes: note.body,
        }
    }

    pub fn from_ghl(event: GhlAppointment) -> Appointment {
        Appointment {
            casebook_id: None,
            ghl_id: Some(event.id.clone()),
            item: ItemRef::Ghl {
                contact_id: None,
                id: event.id,
            },
            title: event.title,
            status: event.appointment_status.or(event.status),
            starts_at: event.start_time.as_deref().and_then(parse_ghl_time),
            ends_at: event.end_time.as_deref().and_then(parse_ghl_time),
            calendar_id: event.calendar_id,
            notes: event.notes,
        }
    }
}

#[Object]
impl Appointment {
    /// Opaque global id.
    async fn id(&self) -> ID {
        GlobalId::Appointment(self.item.clone()).encode()
    }
    /// The system the appointment comes from.
    async fn source(&self) -> System {
        self.item.system()
    }
    /// The appointment's id in its own system.
    async fn native_id(&self) -> String {
        self.item.native_id().to_string()
    }
    /// The id in Casebook, when the entry exists there (linked entries have both ids).
    async fn casebook_id(&self) -> Option<ID> {
        self.casebook_id.clone().map(ID)
    }
    /// The id in GHL, when the entry exists there (linked entries have both ids).
    async fn ghl_id(&self) -> Option<ID> {
        self.ghl_id.clone().map(ID)
    }
    async fn title(&self) -> Option<String> {
        self.title.clone()
    }
    /// GHL's appointment status (`confirmed`, `showed`, ...); null for Casebook.
    async fn status(&self) -> Option<String> {
        self.status.clone()
    }
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.starts_at
    }
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.ends_at
    }
    /// The GHL calendar; null for Casebook.
    async fn calendar_id(&self) -> Option<String> {
        self.calendar_id.clone()
    }
    async fn notes(&self) -> Option<String> {
        self.notes.clone()
    }
    /// The appointment's start.
    async fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.starts_at
    }
}
