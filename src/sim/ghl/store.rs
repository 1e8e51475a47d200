//! In-memory records of the GHL simulator and the JSON shapes GHL writes them in.
//!
//! Contacts, tasks, notes and appointments are seeded from [`seed::Dataset`]. Each record
//! type renders itself in the exact shape of one API response: a contact has three shapes
//! (GET by id, search row, list row) because GHL uses three different schemas for them.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::sim::seed::{self, Dataset};

/// User id that owns seeded tasks, notes and appointments; the data set has no GHL users.
pub const SIM_USER_ID: &str = "SimUser0000000000001";
/// Calendar group that seeded appointments belong to.
pub const SIM_GROUP_ID: &str = "SimGroup000000000001";
/// Custom field seeded on every contact: the preferred language.
pub const LANGUAGE_FIELD_ID: &str = "SimFieldLanguage0001";
/// Key of the preferred-language custom field, which writes may use in place of its id.
pub const LANGUAGE_FIELD_KEY: &str = "contact.preferred_language";

const LANGUAGES: [&str; 4] = ["English", "Spanish", "French", "Arabic"];

/// One GHL contact with its children.
///
/// Empty `first_name` and `last_name` mean the contact has no such name; the JSON shapes
/// leave them out.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub location_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// E.164. Writes must normalise with [`normalize_phone`] because lookups compare the
    /// stored value.
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub business_id: Option<String>,
    pub company_name: Option<String>,
    pub source: Option<String>,
    /// `lead` or `customer`.
    pub contact_type: String,
    pub dnd: bool,
    /// Per-channel do-not-disturb settings, as written: `{"SMS": {"status": ...}, ...}`.
    pub dnd_settings: Option<Value>,
    /// Inbound do-not-disturb settings, as written: `{"all": {"status": ...}}`.
    pub inbound_dnd_settings: Option<Value>,
    /// Two-letter country code.
    pub country: Option<String>,
    /// IANA time zone name.
    pub timezone: Option<String>,
    pub gender: Option<String>,
    pub address1: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub website: Option<String>,
    /// User id of the owner.
    pub assigned_to: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    /// Custom field id and value, in the order the fields were first written.
    pub custom_fields: Vec<(String, Value)>,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
    pub tasks: Vec<Task>,
    pub notes: Vec<Note>,
    pub appointments: Vec<Appointment>,
}

/// A task of a contact.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub body: String,
    pub assigned_to: Option<String>,
    pub due_date: DateTime<Utc>,
    pub completed: bool,
}

/// A note of a contact.
#[derive(Debug, Clone)]
pub struct Note {
    pub id: String,
    pub body: String,
    pub user_id: Option<String>,
    pub title: Option<String>,
    /// Display colour, such as `#FFAA00`.
    pub color: Option<String>,
    pub pinned: Option<bool>,
    pub date_added: DateTime<Utc>,
}

/// A calendar appointment booked for a contact.
#[derive(Debug, Clone)]
pub struct Appointment {
    pub id: String,
    pub calendar_id: String,
    pub title: String,
    /// `confirmed`, `showed`, `noshow`, `cancelled`, ...
    pub appointment_status: String,
    pub assigned_user_id: String,
    pub notes: String,
    pub description: Option<String>,
    pub address: String,
    /// `custom`, `zoom`, `gmeet`, `phone`, `address`, `ms_teams`, `google` or `default`.
    pub meeting_location_type: String,
    /// RFC 5545 recurrence rule; the simulator stores it but does not expand it.
    pub rrule: Option<String>,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
}

/// Every record of the simulator, keyed by contact id.
#[derive(Debug, Clone)]
pub struct Store {
    contacts: BTreeMap<String, Contact>,
    /// Source of the ids of created records; seeded from the data set, so a run that
    /// sends the same writes gets the same ids.
    ids: ChaCha8Rng,
}

/// The field on which a new contact matched an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchingField {
    Email,
    Phone,
}

impl MatchingField {
    /// Returns the value of `meta.matchingField` in GHL's duplicate-contact error.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchingField::Email => "email",
            MatchingField::Phone => "phone",
        }
    }
}

impl Store {
    /// Builds the store from every GHL half of the data set, in location
    /// [`seed::GHL_LOCATION_ID`].
    pub fn seeded(dataset: &Dataset) -> Store {
        let contacts = dataset
            .people
            .iter()
            .filter_map(|person| {
                let seeded = person.ghl.as_ref()?;
                Some((seeded.id.clone(), contact_from_seed(person.index, seeded)))
            })
            .collect();
        Store {
            contacts,
            ids: ChaCha8Rng::seed_from_u64(dataset.seed ^ CREATED_ID_SEED),
        }
    }

    /// Returns the contact with this id, in any location.
    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.contacts.get(id)
    }

    /// Returns the contact with this id for a change, in any location.
    pub fn contact_mut(&mut self, id: &str) -> Option<&mut Contact> {
        self.contacts.get_mut(id)
    }

    /// Adds a contact, replacing any contact with the same id.
    pub fn insert(&mut self, contact: Contact) {
        self.contacts.insert(contact.id.clone(), contact);
    }

    /// Removes a contact together with its tasks, notes and appointments.
    pub fn remove(&mut self, id: &str) -> Option<Contact> {
        self.contacts.remove(id)
    }

    /// Returns every contact of every location, ordered as [`Store::contacts_in`] orders
    /// them.
    pub fn all_contacts(&self) -> Vec<&Contact> {
        let mut contacts: Vec<&Contact> = self.contacts.values().collect();
        contacts.sort_by(|a, b| {
            a.date_added
                .cmp(&b.date_added)
                .then_with(|| a.id.cmp(&b.id))
        });
        contacts
    }

    /// Contacts of one location, ordered by `dateAdded` and then id: the default order of
    /// both the search and the deprecated list.
    pub fn contacts_in(&self, location_id: &str) -> Vec<&Contact> {
        let mut contacts = self.all_contacts();
        contacts.retain(|contact| contact.location_id == location_id);
        contacts
    }

    /// Finds the appointment with this id and the contact it belongs to.
    pub fn appointment(&self, id: &str) -> Option<(&Contact, &Appointment)> {
        self.contacts.values().find_map(|contact| {
            contact
                .appointments
                .iter()
                .find(|appointment| appointment.id == id)
                .map(|appointment| (contact, appointment))
        })
    }

    /// Finds the contact of `location_id` that GHL's duplicate rule matches: the first
    /// with the same e-mail (case-insensitive), else the first with the same E.164 phone.
    /// The contact `except` is skipped, so that an update does not match itself.
    pub fn find_match(
        &self,
        location_id: &str,
        email: Option<&str>,
        phone: Option<&str>,
        except: Option<&str>,
    ) -> Option<(&Contact, MatchingField)> {
        let candidates: Vec<&Contact> = self
            .contacts_in(location_id)
            .into_iter()
            .filter(|contact| Some(contact.id.as_str()) != except)
            .collect();
        let by_email = email.and_then(|email| {
            candidates.iter().find(|contact| {
                contact
                    .email
                    .as_deref()
                    .is_some_and(|own| own.eq_ignore_ascii_case(email))
            })
        });
        if let Some(contact) = by_email {
            return Some((contact, MatchingField::Email));
        }
        let by_phone = phone.and_then(|phone| {
            candidates
                .iter()
                .find(|contact| contact.phone.as_deref() == Some(phone))
        });
        by_phone.map(|contact| (*contact, MatchingField::Phone))
    }

    /// Creates a 20-character alphanumeric id, the shape GHL uses, that no contact or
    /// appointment has yet.
    pub fn new_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        loop {
            let id: String = (0..20)
                .map(|_| ALPHABET[self.ids.gen_range(0..ALPHABET.len())] as char)
                .collect();
            if !self.contacts.contains_key(&id) && self.appointment(&id).is_none() {
                return id;
            }
        }
    }
}

/// Mixed into the data set's seed for the ids of created records, so that they differ
/// from the seeded ids.
const CREATED_ID_SEED: u64 = 0x6768_6c5f_7772_6974;

fn contact_from_seed(index: usize, seeded: &seed::GhlContactSeed) -> Contact {
    // The data set has no do-not-disturb flag or contact type, so both are derived from
    // the person's index: about one contact in thirteen has DND on, one in four is a customer.
    let dnd = index % 13 == 5;
    Contact {
        id: seeded.id.clone(),
        location_id: seed::GHL_LOCATION_ID.to_string(),
        first_name: seeded.first_name.clone(),
        last_name: seeded.last_name.clone(),
        email: seeded.email.clone(),
        phone: seeded.phone.clone(),
        tags: seeded.tags.clone(),
        business_id: seeded.business_id.clone(),
        company_name: seeded.company_name.clone(),
        source: Some(seeded.source.clone()),
        contact_type: if index % 4 == 3 { "customer" } else { "lead" }.to_string(),
        dnd,
        dnd_settings: dnd.then(seeded_dnd_settings),
        inbound_dnd_settings: None,
        country: Some("US".to_string()),
        timezone: Some("America/New_York".to_string()),
        gender: None,
        address1: None,
        city: None,
        state: None,
        postal_code: None,
        website: None,
        assigned_to: None,
        date_of_birth: None,
        custom_fields: vec![(
            LANGUAGE_FIELD_ID.to_string(),
            Value::String(LANGUAGES[index % LANGUAGES.len()].to_string()),
        )],
        date_added: seeded.date_added,
        date_updated: seeded.date_updated,
        tasks: seeded
            .tasks
            .iter()
            .map(|task| Task {
                id: task.id.clone(),
                title: task.title.clone(),
                body: task.body.clone(),
                assigned_to: Some(SIM_USER_ID.to_string()),
                due_date: task.due_date,
                completed: task.completed,
            })
            .collect(),
        notes: seeded
            .notes
            .iter()
            .map(|note| Note {
                id: note.id.clone(),
                body: note.body.clone(),
                user_id: Some(SIM_USER_ID.to_string()),
                title: None,
                color: None,
                pinned: None,
                date_added: note.date_added,
            })
            .collect(),
        appointments: seeded
            .appointments
            .iter()
            .map(|appointment| Appointment {
                id: appointment.id.clone(),
                calendar_id: appointment.calendar_id.clone(),
                title: appointment.title.clone(),
                appointment_status: appointment.status.clone(),
                assigned_user_id: SIM_USER_ID.to_string(),
                notes: String::new(),
                description: None,
                address: "Community Center, Room 2".to_string(),
                meeting_location_type: "address".to_string(),
                rrule: None,
                start_time: appointment.start_time,
                end_time: appointment.end_time,
                date_added: appointment.date_added,
                date_updated: appointment.date_added,
            })
            .collect(),
    }
}

/// Returns the current time, cut to whole milliseconds as GHL stores times.
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// Formats a timestamp as GHL writes contact, task and note times: `2021-07-02T05:18:26.704Z`.
pub fn iso_millis(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Formats a timestamp as the contact-appointments endpoint writes it: `2021-07-16 11:00:00`
/// (UTC, no zone).
pub fn space_separated(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Formats a timestamp as the calendar endpoints write it: ISO-8601 with an offset,
/// `2023-09-25T16:00:00+00:00`.
// NOTE: live GHL writes these in the location's time zone; the simulator always writes UTC
// with an explicit +00:00 offset, which names the same instant.
pub fn iso_with_offset(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Normalises a phone number to E.164, reading numbers without a country code as US
/// numbers. Returns `None` when the text has no digits.
pub fn normalize_phone(text: &str) -> Option<String> {
    if let Ok(number) = phonenumber::parse(Some(phonenumber::country::Id::US), text) {
        return Some(number.format().mode(phonenumber::Mode::E164).to_string());
    }
    // The parser rejects some fictional numbers; fall back to the digits alone.
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        0 => None,
        10 if !text.trim_start().starts_with('+') => Some(format!("+1{digits}")),
        _ => Some(format!("+{digits}")),
    }
}

impl Contact {
    /// `First Last`, as GHL fills `name`.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }

    /// Reports whether the contact contains `query` (case-insensitive) in its name, e-mail
    /// or phone. Digits in the query are also matched against the phone digits alone.
    pub fn matches_query(&self, query: &str) -> bool {
        let query = query.trim().to_lowercase();
        if query.is_empty() {
            return true;
        }
        let name = self.full_name().to_lowercase();
        let email = self.email.as_deref().unwrap_or_default().to_lowercase();
        let phone = self.phone.as_deref().unwrap_or_default();
        if name.contains(&query) || email.contains(&query) || phone.contains(&query) {
            return true;
        }
        let query_digits: String = query.chars().filter(char::is_ascii_digit).collect();
        let only_phone_characters = query
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if only_phone_characters && query_digits.len() >= 3 {
            let phone_digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            return phone_digits.contains(&query_digits);
        }
        false
    }

    /// Renders the contact as `GET /contacts/{contactId}` returns it (`GetContectByIdSchema`).
    /// The update and upsert responses use the same shape.
    pub fn to_detail_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        let full_name = self.full_name();
        if !full_name.is_empty() {
            object.insert("name".into(), json!(full_name));
        }
        object.insert("locationId".into(), json!(self.location_id));
        self.insert_names(&mut object);

        if let Some(email) = &self.email {
            object.insert("email".into(), json!(email));
            object.insert("emailLowerCase".into(), json!(email.to_lowercase()));
        }
        insert_some(&mut object, "timezone", &self.timezone);
        insert_some(&mut object, "companyName", &self.company_name);
        insert_some(&mut object, "phone", &self.phone);

        object.insert("dnd".into(), json!(self.dnd));
        insert_some(&mut object, "dndSettings", &self.dnd_settings);
        object.insert("type".into(), json!(self.contact_type));
        insert_some(&mut object, "source", &self.source);
        insert_some(&mut object, "assignedTo", &self.assigned_to);
        self.insert_address(&mut object, "address1");
        insert_some(&mut object, "website", &self.website);
        object.insert("tags".into(), json!(self.tags));
        if let Some(date) = self.date_of_birth {
            object.insert(
                "dateOfBirth".into(),
                json!(date.format("%Y-%m-%d").to_string()),
            );
        }

        object.insert("dateAdded".into(), json!(iso_millis(self.date_added)));
        object.insert("dateUpdated".into(), json!(iso_millis(self.date_updated)));
        self.insert_lower_case_names(&mut object);

        object.insert("customFields".into(), self.custom_fields_json());
        insert_some(&mut object, "businessId", &self.business_id);
        Value::Object(object)
    }

    /// Renders the contact as `POST /contacts/` returns it (`CreateContactSchema`): no
    /// `name` or `timezone`, a few flags the other shapes lack, and `dateOfBirth` as ISO
    /// midnight UTC with `birthMonth` and `birthDay`.
    pub fn to_created_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("dateAdded".into(), json!(iso_millis(self.date_added)));
        object.insert("dateUpdated".into(), json!(iso_millis(self.date_updated)));
        object.insert("deleted".into(), json!(false));
        object.insert("tags".into(), json!(self.tags));
        object.insert("type".into(), json!(self.contact_type));
        object.insert("customFields".into(), self.custom_fields_json());
        object.insert("locationId".into(), json!(self.location_id));
        self.insert_names(&mut object);
        self.insert_lower_case_names(&mut object);

        if let Some(email) = &self.email {
            object.insert("email".into(), json!(email));
            object.insert("emailLowerCase".into(), json!(email.to_lowercase()));
        }
        object.insert("bounceEmail".into(), json!(false));
        object.insert("unsubscribeEmail".into(), json!(false));
        object.insert("dnd".into(), json!(self.dnd));
        insert_some(&mut object, "dndSettings", &self.dnd_settings);
        insert_some(&mut object, "phone", &self.phone);
        self.insert_address(&mut object, "address1");
        insert_some(&mut object, "website", &self.website);
        insert_some(&mut object, "source", &self.source);
        insert_some(&mut object, "companyName", &self.company_name);

        if let Some(date) = self.date_of_birth {
            let midnight = date.and_time(chrono::NaiveTime::MIN).and_utc();
            object.insert("dateOfBirth".into(), json!(iso_millis(midnight)));
            // NOTE: the spec example pairs 1990-09-25 with birthMonth 8, so the month is
            // taken to be zero-based, as JavaScript's Date.getMonth() returns it.
            object.insert("birthMonth".into(), json!(date.month0()));
            object.insert("birthDay".into(), json!(date.day()));
        }
        object.insert("offers".into(), json!([]));
        object.insert("products".into(), json!([]));
        insert_some(&mut object, "businessId", &self.business_id);
        insert_some(&mut object, "assignedTo", &self.assigned_to);
        Value::Object(object)
    }

    /// Renders the contact as a `POST /contacts/search` row. The caller adds `searchAfter`,
    /// which depends on the sort of the request.
    pub fn to_search_row_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("locationId".into(), json!(self.location_id));
        self.insert_lower_case_first_last(&mut object);

        if let Some(email) = &self.email {
            object.insert("email".into(), json!(email));
            object.insert("validEmail".into(), json!(true));
        }
        if let Some(phone) = &self.phone {
            object.insert("phone".into(), json!(phone));
            object.insert("phoneLabel".into(), json!("Mobile"));
        }

        object.insert("additionalEmails".into(), json!([]));
        object.insert("additionalPhones".into(), json!([]));
        if let Some(company) = &self.company_name {
            object.insert("companyName".into(), json!(company));
            object.insert("businessName".into(), json!(company));
        }
        insert_some(&mut object, "businessId", &self.business_id);

        self.insert_address(&mut object, "address");
        insert_some(&mut object, "source", &self.source);
        object.insert("type".into(), json!(self.contact_type));
        object.insert("dnd".into(), json!(self.dnd));
        insert_some(&mut object, "dndSettings", &self.dnd_settings);

        object.insert("tags".into(), json!(self.tags));
        object.insert("customFields".into(), self.custom_fields_json());
        insert_some(&mut object, "assignedTo", &self.assigned_to);
        object.insert("followers".into(), json!([]));
        object.insert("opportunities".into(), json!([]));
        if let Some(date) = self.date_of_birth {
            object.insert(
                "dateOfBirth".into(),
                json!(date.format("%Y-%m-%d").to_string()),
            );
        }

        object.insert("dateAdded".into(), json!(iso_millis(self.date_added)));
        object.insert("dateUpdated".into(), json!(iso_millis(self.date_updated)));
        Value::Object(object)
    }

    /// Renders the contact as a row of `GET /contacts/` and
    /// `GET /contacts/business/{businessId}` (`ContactsSearchSchema`).
    // NOTE: the spec lists only the fields up to `followers`. The name and phone fields are
    // added because a list without them is of little use to a client.
    pub fn to_list_row_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("locationId".into(), json!(self.location_id));
        insert_some(&mut object, "email", &self.email);
        insert_some(&mut object, "timezone", &self.timezone);
        insert_some(&mut object, "country", &self.country);
        insert_some(&mut object, "source", &self.source);
        object.insert("dateAdded".into(), json!(iso_millis(self.date_added)));
        object.insert("customFields".into(), self.custom_fields_json());
        object.insert("tags".into(), json!(self.tags));
        insert_some(&mut object, "businessId", &self.business_id);
        object.insert("attributions".into(), json!([]));
        object.insert("followers".into(), json!([]));
        self.insert_names(&mut object);
        let full_name = self.full_name();
        if !full_name.is_empty() {
            object.insert("contactName".into(), json!(full_name));
        }
        insert_some(&mut object, "phone", &self.phone);
        Value::Object(object)
    }

    /// Renders the contact with every stored field and its tasks, notes and appointments,
    /// for `GET /_sim/state/contacts`. The contact fields use the GET-by-id shape, plus
    /// `gender` and `inboundDndSettings`, which that shape lacks.
    pub fn to_state_json(&self) -> Value {
        let mut value = self.to_detail_json();
        if let Value::Object(object) = &mut value {
            insert_some(object, "gender", &self.gender);
            insert_some(object, "inboundDndSettings", &self.inbound_dnd_settings);
            let tasks: Vec<Value> = self.tasks.iter().map(|t| t.to_json(&self.id)).collect();
            let notes: Vec<Value> = self.notes.iter().map(|n| n.to_json(&self.id)).collect();
            let appointments: Vec<Value> = self
                .appointments
                .iter()
                .map(|appointment| appointment.to_calendar_event_json(self))
                .collect();
            object.insert("tasks".into(), Value::Array(tasks));
            object.insert("notes".into(), Value::Array(notes));
            object.insert("appointments".into(), Value::Array(appointments));
        }
        value
    }

    /// Inserts `firstName` and `lastName` when they are not empty.
    fn insert_names(&self, object: &mut Map<String, Value>) {
        if !self.first_name.is_empty() {
            object.insert("firstName".into(), json!(self.first_name));
        }
        if !self.last_name.is_empty() {
            object.insert("lastName".into(), json!(self.last_name));
        }
    }

    /// Inserts `firstNameLowerCase` and `lastNameLowerCase` when the names are not empty.
    fn insert_lower_case_first_last(&self, object: &mut Map<String, Value>) {
        if !self.first_name.is_empty() {
            object.insert(
                "firstNameLowerCase".into(),
                json!(self.first_name.to_lowercase()),
            );
        }
        if !self.last_name.is_empty() {
            object.insert(
                "lastNameLowerCase".into(),
                json!(self.last_name.to_lowercase()),
            );
        }
    }

    /// Inserts the lower-cased first, full and last names that GET and create carry.
    fn insert_lower_case_names(&self, object: &mut Map<String, Value>) {
        self.insert_lower_case_first_last(object);
        let full_name = self.full_name();
        if !full_name.is_empty() {
            object.insert("fullNameLowerCase".into(), json!(full_name.to_lowercase()));
        }
    }

    /// Inserts the postal address, with the street under `street_key` (`address1` in the
    /// GET and create shapes, `address` in search rows, which have no `website`).
    fn insert_address(&self, object: &mut Map<String, Value>, street_key: &str) {
        insert_some(object, street_key, &self.address1);
        insert_some(object, "city", &self.city);
        insert_some(object, "state", &self.state);
        insert_some(object, "country", &self.country);
        insert_some(object, "postalCode", &self.postal_code);
    }

    fn custom_fields_json(&self) -> Value {
        Value::Array(
            self.custom_fields
                .iter()
                .map(|(id, value)| json!({ "id": id, "value": value }))
                .collect(),
        )
    }
}

/// Inserts `value` under `key` when it is present.
fn insert_some<T: serde::Serialize>(object: &mut Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(value) = value {
        object.insert(key.into(), json!(value));
    }
}

fn seeded_dnd_settings() -> Value {
    json!({
        "SMS": { "status": "active", "message": "Replied STOP", "code": "103" },
        "Call": { "status": "active", "message": "Asked not to be called", "code": "103" },
    })
}

impl Task {
    /// Renders the task as the tasks endpoints return it (`TaskSchema`).
    pub fn to_json(&self, contact_id: &str) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("title".into(), json!(self.title));
        object.insert("body".into(), json!(self.body));
        if let Some(user) = &self.assigned_to {
            object.insert("assignedTo".into(), json!(user));
        }
        object.insert("dueDate".into(), json!(iso_millis(self.due_date)));
        object.insert("completed".into(), json!(self.completed));
        object.insert("contactId".into(), json!(contact_id));
        Value::Object(object)
    }
}

impl Note {
    /// Renders the note as the notes endpoints return it (`GetNoteSchema`).
    pub fn to_json(&self, contact_id: &str) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("body".into(), json!(self.body));
        insert_some(&mut object, "userId", &self.user_id);
        object.insert("dateAdded".into(), json!(iso_millis(self.date_added)));
        object.insert("contactId".into(), json!(contact_id));
        insert_some(&mut object, "title", &self.title);
        insert_some(&mut object, "color", &self.color);
        insert_some(&mut object, "pinned", &self.pinned);
        Value::Object(object)
    }
}

impl Appointment {
    /// Legacy `status` that accompanies `appointmentStatus` on the contact-appointments
    /// endpoint: `booked` for an appointment that is still planned.
    fn legacy_status(&self) -> &str {
        match self.appointment_status.as_str() {
            "confirmed" | "new" => "booked",
            other => other,
        }
    }

    /// Renders the appointment as `GET /contacts/{contactId}/appointments` returns it
    /// (`GetEventSchema`), with space-separated UTC times.
    pub fn to_contact_event_json(&self, contact: &Contact) -> Value {
        json!({
            "id": self.id,
            "calendarId": self.calendar_id,
            "status": self.legacy_status(),
            "title": self.title,
            "assignedUserId": self.assigned_user_id,
            "notes": self.notes,
            "startTime": space_separated(self.start_time),
            "endTime": space_separated(self.end_time),
            "address": self.address,
            "locationId": contact.location_id,
            "contactId": contact.id,
            "groupId": SIM_GROUP_ID,
            "appointmentStatus": self.appointment_status,
            "users": [self.assigned_user_id],
            "dateAdded": space_separated(self.date_added),
            "dateUpdated": space_separated(self.date_updated),
            "assignedResources": [],
        })
    }

    /// Renders the appointment as `GET /calendars/events/appointments/{eventId}` returns it
    /// (`CalendarEventDTO`), with ISO-8601 times that carry an offset.
    pub fn to_calendar_event_json(&self, contact: &Contact) -> Value {
        let mut value = json!({
            "id": self.id,
            "address": self.address,
            "title": self.title,
            "calendarId": self.calendar_id,
            "locationId": contact.location_id,
            "contactId": contact.id,
            "groupId": SIM_GROUP_ID,
            "appointmentStatus": self.appointment_status,
            "assignedUserId": self.assigned_user_id,
            "users": [self.assigned_user_id],
            "notes": self.notes,
            "startTime": iso_with_offset(self.start_time),
            "endTime": iso_with_offset(self.end_time),
            "dateAdded": iso_with_offset(self.date_added),
            "dateUpdated": iso_with_offset(self.date_updated),
            "assignedResources": [],
            "createdBy": { "userId": self.assigned_user_id, "source": "calendar_page" },
        });
        if let Value::Object(object) = &mut value {
            object.insert("isRecurring".into(), json!(self.rrule.is_some()));
            insert_some(object, "rrule", &self.rrule);
            insert_some(object, "description", &self.description);
        }
        value
    }

    /// Renders the appointment as the create and edit routes return it: a flat object
    /// (`AppointmentSchemaResponse`) with ISO-8601 times that carry an offset.
    pub fn to_flat_json(&self, contact: &Contact) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("calendarId".into(), json!(self.calendar_id));
        object.insert("locationId".into(), json!(contact.location_id));
        object.insert("contactId".into(), json!(contact.id));
        object.insert("startTime".into(), json!(iso_with_offset(self.start_time)));
        object.insert("endTime".into(), json!(iso_with_offset(self.end_time)));
        object.insert("title".into(), json!(self.title));
        object.insert(
            "meetingLocationType".into(),
            json!(self.meeting_location_type),
        );
        object.insert("appointmentStatus".into(), json!(self.appointment_status));
        object.insert("assignedUserId".into(), json!(self.assigned_user_id));
        object.insert("address".into(), json!(self.address));
        object.insert("isRecurring".into(), json!(self.rrule.is_some()));
        insert_some(&mut object, "rrule", &self.rrule);
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_formats_match_ghl_examples() {
        let time = Utc
            .with_ymd_and_hms(2021, 7, 2, 5, 18, 26)
            .unwrap()
            .checked_add_signed(chrono::Duration::milliseconds(704))
            .unwrap();
        assert_eq!(iso_millis(time), "2021-07-02T05:18:26.704Z");
        assert_eq!(space_separated(time), "2021-07-02 05:18:26");
        assert_eq!(iso_with_offset(time), "2021-07-02T05:18:26+00:00");
    }

    #[test]
    fn normalize_phone_formats() {
        for text in [
            "(555) 010-2345",
            "555-010-2345",
            "555.010.2345",
            "+1 555 010 2345",
            "+15550102345",
            "15550102345",
        ] {
            assert_eq!(
                normalize_phone(text).as_deref(),
                Some("+15550102345"),
                "{text}"
            );
        }
        assert_eq!(normalize_phone("no digits"), None);
    }

    #[test]
    fn seeded_store_holds_every_ghl_contact() {
        let dataset = Dataset::default();
        let store = Store::seeded(&dataset);
        let expected = dataset.people.iter().filter(|p| p.ghl.is_some()).count();
        assert_eq!(store.contacts_in(seed::GHL_LOCATION_ID).len(), expected);
        assert!(store.contacts_in("OtherLocation").is_empty());
    }

    #[test]
    fn contacts_in_sorted_by_date_added() {
        let store = Store::seeded(&Dataset::default());
        let contacts = store.contacts_in(seed::GHL_LOCATION_ID);
        for pair in contacts.windows(2) {
            let key = |c: &Contact| (c.date_added, c.id.clone());
            assert!(key(pair[0]) < key(pair[1]));
        }
    }

    #[test]
    fn matches_query_on_name_email_phone() {
        let store = Store::seeded(&Dataset::default());
        let contact = store
            .contacts_in(seed::GHL_LOCATION_ID)
            .into_iter()
            .find(|c| c.phone.is_some() && c.email.is_some())
            .cloned()
            .unwrap();
        assert!(contact.matches_query(&contact.first_name.to_uppercase()));
        let email = contact.email.clone().unwrap();
        assert!(contact.matches_query(&email[..5]));
        let phone = contact.phone.clone().unwrap();
        let national = &phone[2..];
        let formatted = format!(
            "({}) {}-{}",
            &national[..3],
            &national[3..6],
            &national[6..]
        );
        assert!(contact.matches_query(&formatted));
        assert!(!contact.matches_query("zzzz-no-such-contact"));
    }
}
