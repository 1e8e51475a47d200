//! The Casebook names that the gateway depends on, in one table.
//!
//! Casebook publishes the `/people/people` and `/attachments/notes` paths, but not the
//! person attributes, the task and appointment resources, the relationship names or the
//! filter operator spellings. The values below follow the conventions Casebook does
//! publish (plural snake_case types, snake_case attributes, crnk's query grammar) and are
//! provisional: replace them here when a tenant's real API description is available.
//! The client and the simulator both read this table, so they stay in step.

/// A JSON:API collection: `/<service>/<collection>` with resources of `type_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// First path segment: the Casebook back-end service.
    pub service: &'static str,
    /// Second path segment: the collection inside that service.
    pub collection: &'static str,
    /// The JSON:API `type` of the resources.
    pub type_name: &'static str,
}

impl Collection {
    /// The collection path, such as `/people/people`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.collection)
    }
}

/// People (published path; the type name is inferred).
pub const PEOPLE: Collection = Collection {
    service: "people",
    collection: "people",
    type_name: "people",
};

/// Notes, served by the attachments service (published path; the type is inferred).
pub const NOTES: Collection = Collection {
    service: "attachments",
    collection: "notes",
    type_name: "notes",
};

/// Tasks. Casebook has a Tasks + Workflows service whose paths are unpublished.
pub const TASKS: Collection = Collection {
    service: "tasks",
    collection: "tasks",
    type_name: "tasks",
};

/// Person attributes.
pub mod person {
    pub const FIRST_NAME: &str = "first_name";
    pub const LAST_NAME: &str = "last_name";
    pub const EMAIL: &str = "email";
    pub const PHONE: &str = "phone";
    pub const DATE_OF_BIRTH: &str = "date_of_birth";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    /// Published attribute; it accepts only `HISPANIC_OR_LATINO_VALUES`.
    pub const HISPANIC_OR_LATINO: &str = "hispanic_or_latino";
    /// A tenant-defined attribute that the demo maps to a GHL custom field.
    pub const PREFERRED_LANGUAGE: &str = "preferred_language";
    /// The four values Casebook publishes for `HISPANIC_OR_LATINO`.
    pub const HISPANIC_OR_LATINO_VALUES: [&str; 4] =
        ["yes", "no", "unable to determine", "unknown"];
}

/// Note attributes and relationships.
pub mod note {
    pub const SUBJECT: &str = "subject";
    pub const BODY: &str = "body";
    /// One of the six published note types: General, Service Delivery, Contact,
    /// Progress, Meeting, Email.
    pub const NOTE_TYPE: &str = "note_type";
    /// When the interaction happened; every note type but General carries one.
    pub const OCCURRED_AT: &str = "occurred_at";
    /// When an appointment-like note ends (stand-in attribute, see `APPOINTMENT_NOTE_TYPE`).
    pub const ENDS_AT: &str = "ends_at";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    /// To-many relationship to the people involved.
    pub const PEOPLE: &str = "people";
}

/// Task attributes and relationships.
pub mod task {
    pub const TITLE: &str = "title";
    pub const DESCRIPTION: &str = "description";
    pub const DUE_AT: &str = "due_at";
    /// `open` or `completed`.
    pub const STATUS: &str = "status";
    pub const STATUS_OPEN: &str = "open";
    pub const STATUS_COMPLETED: &str = "completed";
    pub const COMPLETED_AT: &str = "completed_at";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    /// To-one relationship to the person the task is about.
    pub const PERSON: &str = "person";
}

/// Casebook publishes no scheduling API. Notes of this type, which carry an
/// `occurred_at` date-time, stand in for appointments; all other types are notes.
pub const APPOINTMENT_NOTE_TYPE: &str = "Meeting";

/// The note types that are read as notes rather than appointments.
pub const NOTE_TYPES: [&str; 5] = [
    "General",
    "Service Delivery",
    "Contact",
    "Progress",
    "Email",
];

/// All six published note types: `NOTE_TYPES` and `APPOINTMENT_NOTE_TYPE`.
pub const ALL_NOTE_TYPES: [&str; 6] = [
    "General",
    "Service Delivery",
    "Contact",
    "Progress",
    APPOINTMENT_NOTE_TYPE,
    "Email",
];

/// crnk's filter operators, written as `filter[<path>][<OP>]=<value>`.
pub mod filter_op {
    pub const EQ: &str = "EQ";
    pub const NEQ: &str = "NEQ";
    pub const LIKE: &str = "LIKE";
    pub const GT: &str = "GT";
    pub const GE: &str = "GE";
    pub const LT: &str = "LT";
    pub const LE: &str = "LE";
}

/// Pagination parameters (crnk's default offset paging). Casebook's default page size is 10.
pub const PAGE_OFFSET: &str = "page[offset]";
pub const PAGE_LIMIT: &str = "page[limit]";
/// Largest page the simulator serves and the client requests.
pub const MAX_PAGE_SIZE: u32 = 100;
/// `meta` member that carries the total number of matching records.
pub const META_TOTAL: &str = "totalResourceCount";

/// The JSON:API media type, sent as `Content-Type` and `Accept`.
pub const MEDIA_TYPE: &str = "application/vnd.api+json";
/// Sent as `Accept-Version` by Casebook's own client code.
pub const ACCEPT_VERSION: &str = "v0";
