//! The contact body of `POST /contacts/`, `POST /contacts/upsert` and
//! `PUT /contacts/{contactId}`: which properties each accepts, how each is checked, and
//! how a checked body changes a stored contact.
//!
//! A property left out of the body keeps the stored value. A nullable property sent as
//! null, or as an empty string, clears it. `tags` replaces the whole tag set, while
//! `customFields` changes only the fields it lists.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::{
    LANGUAGE_FIELD_ID, LANGUAGE_FIELD_KEY,
    body::{BodyFields, Patch},
    store::{Contact, normalize_phone},
};

/// Properties every contact write accepts.
const SHARED_PROPERTIES: [&str; 21] = [
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "dnd",
    "dndSettings",
    "inboundDndSettings",
    "tags",
    "customFields",
    "source",
    "dateOfBirth",
    "country",
    "assignedTo",
    "companyName",
];

/// Channels of `dndSettings`.
const DND_CHANNELS: [&str; 6] = ["Call", "Email", "SMS", "WhatsApp", "GMB", "FB"];
const DND_STATUSES: [&str; 3] = ["active", "inactive", "permanent"];
const INBOUND_DND_STATUSES: [&str; 2] = ["active", "inactive"];
/// Accepted `dateOfBirth` layouts; each also with `/`, `.` or `_` in place of `-`.
const DATE_OF_BIRTH_FORMATS: &str = "YYYY-MM-DD, MM-DD-YYYY, YYYY/MM/DD, MM/DD/YYYY, \
                                     YYYY.MM.DD, MM.DD.YYYY, YYYY_MM_DD or MM_DD_YYYY";

/// The contact write a body belongs to, which decides the properties it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ContactWrite {
    Create,
    Upsert,
    Update,
}

impl ContactWrite {
    /// Returns every property the operation's DTO declares.
    pub fn allowed_properties(self) -> Vec<&'static str> {
        let mut allowed = SHARED_PROPERTIES.to_vec();
        match self {
            ContactWrite::Create => allowed.extend(["locationId", "gender"]),
            ContactWrite::Upsert => {
                allowed.extend(["locationId", "gender", "createNewIfDuplicateAllowed"]);
            }
            // NOTE: the published update DTO lacks companyName, and live behaviour is not
            // documented. The simulator accepts it so that a company can be renamed.
            ContactWrite::Update => {}
        }
        allowed
    }
}

/// A checked contact body.
#[derive(Debug, Clone)]
pub(super) struct ContactInput {
    first_name: Patch<String>,
    last_name: Patch<String>,
    name: Patch<String>,
    email: Patch<String>,
    /// E.164.
    phone: Patch<String>,
    gender: Patch<String>,
    address1: Patch<String>,
    city: Patch<String>,
    state: Patch<String>,
    postal_code: Patch<String>,
    website: Patch<String>,
    timezone: Patch<String>,
    country: Patch<String>,
    company_name: Patch<String>,
    source: Patch<String>,
    assigned_to: Patch<String>,
    date_of_birth: Patch<NaiveDate>,
    dnd: Option<bool>,
    dnd_settings: Option<Map<String, Value>>,
    inbound_dnd_settings: Option<Value>,
    tags: Option<Vec<String>>,
    /// Field id and new value; null removes the field.
    custom_fields: Option<Vec<(String, Value)>>,
    /// Upsert only: create a new contact without matching, when the location allows
    /// duplicates.
    pub create_new_if_duplicate_allowed: bool,
}

impl ContactInput {
    /// Reads and checks every contact property of `body`, adding a message to `body` for
    /// each problem. The caller checks `locationId` and unknown properties.
    pub fn read(body: &mut BodyFields, write: ContactWrite) -> ContactInput {
        let update = write == ContactWrite::Update;
        let first_name = nullable_text(body, "firstName");
        let last_name = nullable_text(body, "lastName");
        let name = nullable_text(body, "name");
        let email = read_email(body);
        let phone = read_phone(body);
        let gender = body.string("gender", false);
        let address1 = nullable_text(body, "address1");
        let city = nullable_text(body, "city");
        let state = nullable_text(body, "state");
        let postal_code = body.string("postalCode", false);
        let website = nullable_text(body, "website");
        let timezone = nullable_text(body, "timezone");
        let country = read_country(body);
        let company_name = nullable_text(body, "companyName");
        let source = if update {
            nullable_text(body, "source")
        } else {
            body.string("source", false)
        };
        let assigned_to = if update {
            nullable_text(body, "assignedTo")
        } else {
            body.string("assignedTo", false)
        };
        let date_of_birth = read_date_of_birth(body);
        let dnd = body.boolean("dnd");
        let dnd_settings = read_dnd_settings(body);
        let inbound_dnd_settings = read_inbound_dnd_settings(body);
        let tags = body.string_list("tags").map(unique_tags);
        let custom_fields = read_custom_fields(body);
        let create_new_if_duplicate_allowed = if write == ContactWrite::Upsert {
            body.boolean("createNewIfDuplicateAllowed").unwrap_or(false)
        } else {
            false
        };

        ContactInput {
            first_name,
            last_name,
            name,
            email,
            phone,
            gender,
            address1,
            city,
            state,
            postal_code,
            website,
            timezone,
            country,
            company_name,
            source,
            assigned_to,
            date_of_birth,
            dnd,
            dnd_settings,
            inbound_dnd_settings,
            tags,
            custom_fields,
            create_new_if_duplicate_allowed,
        }
    }

    /// Returns the e-mail the body sets, if any.
    pub fn email(&self) -> Option<&str> {
        self.email.value().map(String::as_str)
    }

    /// Returns the E.164 phone the body sets, if any.
    pub fn phone(&self) -> Option<&str> {
        self.phone.value().map(String::as_str)
    }

    /// Builds a new contact of `location_id` from the body.
    pub fn into_new_contact(self, id: String, location_id: &str, now: DateTime<Utc>) -> Contact {
        let mut contact = Contact {
            id,
            location_id: location_id.to_string(),
            first_name: String::new(),
            last_name: String::new(),
            email: None,
            phone: None,
            tags: Vec::new(),
            business_id: None,
            company_name: None,
            source: None,
            contact_type: "lead".to_string(),
            dnd: false,
            dnd_settings: None,
            inbound_dnd_settings: None,
            country: None,
            timezone: None,
            gender: None,
            address1: None,
            city: None,
            state: None,
            postal_code: None,
            website: None,
            assigned_to: None,
            date_of_birth: None,
            custom_fields: Vec::new(),
            date_added: now,
            date_updated: now,
            tasks: Vec::new(),
            notes: Vec::new(),
            appointments: Vec::new(),
        };
        self.apply_to(&mut contact, now);
        contact
    }

    /// Writes every property the body sent into `contact` and sets `dateUpdated`.
    pub fn apply_to(self, contact: &mut Contact, now: DateTime<Utc>) {
        self.apply_names(contact);
        self.email.apply_to(&mut contact.email);
        self.phone.apply_to(&mut contact.phone);
        self.gender.apply_to(&mut contact.gender);
        self.address1.apply_to(&mut contact.address1);
        self.city.apply_to(&mut contact.city);
        self.state.apply_to(&mut contact.state);
        self.postal_code.apply_to(&mut contact.postal_code);
        self.website.apply_to(&mut contact.website);
        self.timezone.apply_to(&mut contact.timezone);
        self.country.apply_to(&mut contact.country);
        self.company_name.apply_to(&mut contact.company_name);
        self.source.apply_to(&mut contact.source);
        self.assigned_to.apply_to(&mut contact.assigned_to);
        self.date_of_birth.apply_to(&mut contact.date_of_birth);

        if let Some(dnd) = self.dnd {
            contact.dnd = dnd;
        }
        if let Some(settings) = self.dnd_settings {
            merge_dnd_settings(contact, settings);
        }
        if let Some(settings) = self.inbound_dnd_settings {
            contact.inbound_dnd_settings = Some(settings);
        }
        if let Some(tags) = self.tags {
            contact.tags = tags;
        }
        if let Some(fields) = self.custom_fields {
            merge_custom_fields(contact, fields);
        }
        contact.date_updated = now;
    }

    /// Sets the first and last names. A `name` without `firstName` and `lastName` is split
    /// at its first space.
    // NOTE: how live GHL splits `name` is not documented; the first word becomes the
    // first name and the rest the last name.
    fn apply_names(&self, contact: &mut Contact) {
        let split_name = !self.first_name.is_sent() && !self.last_name.is_sent();
        if split_name {
            match &self.name {
                Patch::Absent => {}
                Patch::Null => {
                    contact.first_name.clear();
                    contact.last_name.clear();
                }
                Patch::Set(name) => {
                    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
                    contact.first_name = first.trim().to_string();
                    contact.last_name = last.trim().to_string();
                }
            }
            return;
        }
        for (patch, target) in [
            (&self.first_name, &mut contact.first_name),
            (&self.last_name, &mut contact.last_name),
        ] {
            match patch {
                Patch::Absent => {}
                Patch::Null => target.clear(),
                Patch::Set(value) => *target = value.clone(),
            }
        }
    }
}

/// Reads a nullable string; an empty string counts as null, which clears the field.
fn nullable_text(body: &mut BodyFields, name: &str) -> Patch<String> {
    match body.string(name, true) {
        Patch::Set(text) if text.is_empty() => Patch::Null,
        other => other,
    }
}

fn read_email(body: &mut BodyFields) -> Patch<String> {
    let email = nullable_text(body, "email");
    if let Patch::Set(text) = &email
        && !is_email(text)
    {
        body.error(format!(
            "email must be an email, got {text:?}; send an address such as jane@example.org"
        ));
        return Patch::Absent;
    }
    email
}

/// Checks the form `local@domain.tld` without white space.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
}

fn read_phone(body: &mut BodyFields) -> Patch<String> {
    match nullable_text(body, "phone") {
        Patch::Set(text) => {
            let normalized = normalize_phone(&text).filter(|e164| (9..=16).contains(&e164.len()));
            match normalized {
                Some(e164) => Patch::Set(e164),
                None => {
                    body.error(format!(
                        "phone must be a valid phone number, got {text:?}; \
                         send it in E.164, e.g. +14231645160"
                    ));
                    Patch::Absent
                }
            }
        }
        other => other,
    }
}

fn read_country(body: &mut BodyFields) -> Patch<String> {
    match body.string("country", false) {
        Patch::Set(code) if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) => {
            Patch::Set(code.to_ascii_uppercase())
        }
        Patch::Set(code) => {
            body.error(format!(
                "country must be a two-letter country code such as US, got {code:?}"
            ));
            Patch::Absent
        }
        other => other,
    }
}

fn read_date_of_birth(body: &mut BodyFields) -> Patch<NaiveDate> {
    match nullable_text(body, "dateOfBirth") {
        Patch::Absent => Patch::Absent,
        Patch::Null => Patch::Null,
        Patch::Set(text) => match parse_date_of_birth(&text) {
            Some(date) => Patch::Set(date),
            None => {
                body.error(format!(
                    "dateOfBirth must be a date as {DATE_OF_BIRTH_FORMATS}, got {text:?}"
                ));
                Patch::Absent
            }
        },
    }
}

/// Parses a birth date in any layout GHL accepts, or as an ISO-8601 time.
fn parse_date_of_birth(text: &str) -> Option<NaiveDate> {
    for separator in ['-', '/', '.', '_'] {
        let year_first = format!("%Y{separator}%m{separator}%d");
        let month_first = format!("%m{separator}%d{separator}%Y");
        for format in [year_first, month_first] {
            if let Ok(date) = NaiveDate::parse_from_str(text, &format) {
                return Some(date);
            }
        }
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc).date_naive())
}

/// Reads `dndSettings`: an object keyed by channel, each `{status, message?, code?}`.
fn read_dnd_settings(body: &mut BodyFields) -> Option<Map<String, Value>> {
    let value = body.raw("dndSettings")?.clone();
    let Value::Object(channels) = value else {
        body.error(format!(
            "dndSettings must be an object keyed by channel ({}), got {value}",
            DND_CHANNELS.join(", ")
        ));
        return None;
    };
    let mut valid = true;
    for (channel, setting) in &channels {
        if !DND_CHANNELS.contains(&channel.as_str()) {
            body.error(format!("property dndSettings.{channel} should not exist"));
            valid = false;
            continue;
        }
        valid &= check_dnd_setting(
            body,
            &format!("dndSettings.{channel}"),
            setting,
            &DND_STATUSES,
            &["status", "message", "code"],
        );
    }
    valid.then_some(channels)
}

/// Reads `inboundDndSettings`: `{all: {status, message?}}`.
fn read_inbound_dnd_settings(body: &mut BodyFields) -> Option<Value> {
    let value = body.raw("inboundDndSettings")?.clone();
    let Value::Object(object) = &value else {
        body.error(format!(
            "inboundDndSettings must be an object such as {{\"all\": {{\"status\": \"active\"}}}}, got {value}"
        ));
        return None;
    };
    let mut valid = true;
    for (key, setting) in object {
        if key != "all" {
            body.error(format!(
                "property inboundDndSettings.{key} should not exist"
            ));
            valid = false;
            continue;
        }
        valid &= check_dnd_setting(
            body,
            "inboundDndSettings.all",
            setting,
            &INBOUND_DND_STATUSES,
            &["status", "message"],
        );
    }
    valid.then_some(value)
}

/// Checks one `{status, message?, code?}` object; returns whether it is valid.
fn check_dnd_setting(
    body: &mut BodyFields,
    path: &str,
    setting: &Value,
    statuses: &[&str],
    properties: &[&str],
) -> bool {
    let Value::Object(object) = setting else {
        body.error(format!(
            "{path} must be an object such as {{\"status\": \"active\"}}, got {setting}"
        ));
        return false;
    };
    let mut valid = true;
    for key in object.keys() {
        if !properties.contains(&key.as_str()) {
            body.error(format!("property {path}.{key} should not exist"));
            valid = false;
        }
    }
    match object.get("status") {
        Some(Value::String(status)) if statuses.contains(&status.as_str()) => {}
        other => {
            let got = other.map_or("nothing".to_string(), Value::to_string);
            body.error(format!(
                "{path}.status must be one of the following values: {}, got {got}",
                statuses.join(", ")
            ));
            valid = false;
        }
    }
    for key in ["message", "code"] {
        if let Some(value) = object.get(key)
            && !value.is_string()
        {
            body.error(format!("{path}.{key} must be a string, got {value}"));
            valid = false;
        }
    }
    valid
}

/// Replaces the channels the body names. A channel whose stored status is `permanent`
/// keeps it, because GHL does not let an API call lift a permanent do-not-disturb.
fn merge_dnd_settings(contact: &mut Contact, channels: Map<String, Value>) {
    let mut merged = match contact.dnd_settings.take() {
        Some(Value::Object(existing)) => existing,
        _ => Map::new(),
    };
    for (channel, setting) in channels {
        let permanent = merged
            .get(&channel)
            .and_then(|stored| stored.get("status"))
            .is_some_and(|status| status == "permanent");
        if !permanent {
            merged.insert(channel, setting);
        }
    }
    contact.dnd_settings = Some(Value::Object(merged));
}

/// Removes repeated tags, compared case-insensitively, keeping the first spelling.
pub(super) fn unique_tags(tags: Vec<String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !unique.iter().any(|kept| kept.eq_ignore_ascii_case(&tag)) {
            unique.push(tag);
        }
    }
    unique
}

/// Reads `customFields`: `[{id or key, field_value}]`. A key must name a field of the
/// location; an id is taken as given.
// NOTE: the simulator has no custom-field catalogue beyond the preferred language, so it
// stores values under any id it receives. Live GHL checks ids against the location.
fn read_custom_fields(body: &mut BodyFields) -> Option<Vec<(String, Value)>> {
    let value = body.raw("customFields")?.clone();
    let Value::Array(items) = value else {
        body.error(format!(
            "customFields must be an array such as [{{\"id\": \"...\", \"field_value\": \"...\"}}], got {value}"
        ));
        return None;
    };
    let mut fields = Vec::with_capacity(items.len());
    let mut valid = true;
    for (index, item) in items.iter().enumerate() {
        match read_custom_field(body, index, item) {
            Some(field) => fields.push(field),
            None => valid = false,
        }
    }
    valid.then_some(fields)
}

fn read_custom_field(body: &mut BodyFields, index: usize, item: &Value) -> Option<(String, Value)> {
    let path = format!("customFields.{index}");
    let Value::Object(object) = item else {
        body.error(format!(
            "{path} must be an object with id or key and field_value, got {item}"
        ));
        return None;
    };
    let mut valid = true;
    for key in object.keys() {
        if !["id", "key", "field_value"].contains(&key.as_str()) {
            body.error(format!("property {path}.{key} should not exist"));
            valid = false;
        }
    }
    let id = match (object.get("id"), object.get("key")) {
        (Some(Value::String(id)), _) if !id.trim().is_empty() => Some(id.trim().to_string()),
        (None, Some(Value::String(key))) => match custom_field_id_for_key(key.trim()) {
            Some(id) => Some(id.to_string()),
            None => {
                body.error(format!(
                    "{path}.key {key:?} is not a custom field of this location; \
                     send the field id, or a known key such as {LANGUAGE_FIELD_KEY}"
                ));
                None
            }
        },
        _ => {
            body.error(format!(
                "{path} needs a non-empty string id or key of the custom field"
            ));
            None
        }
    };
    if !object.contains_key("field_value") {
        body.error(format!(
            "{path}.field_value is missing; send the value, or null to clear the field"
        ));
        valid = false;
    }
    let value = object.get("field_value").cloned().unwrap_or(Value::Null);
    match id {
        Some(id) if valid => Some((id, value)),
        _ => None,
    }
}

/// Returns the id of the custom field with this key, with or without the `contact.`
/// prefix GHL puts on contact field keys.
fn custom_field_id_for_key(key: &str) -> Option<&'static str> {
    let bare = key.strip_prefix("contact.").unwrap_or(key);
    let known_bare = LANGUAGE_FIELD_KEY
        .strip_prefix("contact.")
        .unwrap_or(LANGUAGE_FIELD_KEY);
    (bare == known_bare).then_some(LANGUAGE_FIELD_ID)
}

/// Sets each listed field; null or an empty string removes it.
fn merge_custom_fields(contact: &mut Contact, fields: Vec<(String, Value)>) {
    for (id, value) in fields {
        let position = contact
            .custom_fields
            .iter()
            .position(|(existing, _)| *existing == id);
        let clears = value.is_null() || value.as_str().is_some_and(str::is_empty);
        match (position, clears) {
            (Some(index), true) => {
                contact.custom_fields.remove(index);
            }
            (Some(index), false) => contact.custom_fields[index].1 = value,
            (None, true) => {}
            (None, false) => contact.custom_fields.push((id, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ghl::ApiError;
    use serde_json::json;

    fn read(body: Value, write: ContactWrite) -> (ContactInput, Vec<String>) {
        let allowed = write.allowed_properties();
        let mut fields =
            BodyFields::parse(body.to_string().as_bytes(), &allowed).expect("an object body");
        let input = ContactInput::read(&mut fields, write);
        let messages = match fields.finish() {
            Ok(()) => Vec::new(),
            Err(ApiError::Unprocessable(messages)) => messages,
            Err(other) => panic!("expected a 422, got {other:?}"),
        };
        (input, messages)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn update_rejects_create_only_properties() {
        let (_, messages) = read(
            json!({ "locationId": "x", "gender": "female", "createNewIfDuplicateAllowed": true }),
            ContactWrite::Update,
        );
        assert_eq!(
            messages,
            vec![
                "property createNewIfDuplicateAllowed should not exist",
                "property gender should not exist",
                "property locationId should not exist",
            ]
        );
    }

    #[test]
    fn field_formats_checked() {
        let (_, messages) = read(
            json!({
                "email": "not-an-email",
                "phone": "call me",
                "country": "USA",
                "dateOfBirth": "25th of May",
                "dnd": "yes",
            }),
            ContactWrite::Create,
        );
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(messages[0].starts_with("email must be an email, got \"not-an-email\""));
        assert!(messages[1].starts_with("phone must be a valid phone number"));
        assert!(messages[2].starts_with("country must be a two-letter"));
        assert!(messages[3].starts_with("dateOfBirth must be a date"));
        assert_eq!(messages[4], "dnd must be a boolean value, got \"yes\"");
    }

    #[test]
    fn date_of_birth_layouts() {
        let expected = NaiveDate::from_ymd_opt(1990, 9, 25).unwrap();
        for text in [
            "1990-09-25",
            "09-25-1990",
            "1990/09/25",
            "09/25/1990",
            "1990.09.25",
            "09.25.1990",
            "1990_09_25",
            "09_25_1990",
            "1990-09-25T00:00:00.000Z",
        ] {
            assert_eq!(parse_date_of_birth(text), Some(expected), "{text}");
        }
        assert_eq!(parse_date_of_birth("1990-13-01"), None);
    }

    #[test]
    fn new_contact_from_body() {
        let (input, messages) = read(
            json!({
                "name": "Jane van Doe",
                "email": "Jane@Example.org",
                "phone": "(555) 010-2345",
                "tags": ["a", "A", "b"],
                "customFields": [
                    { "key": "contact.preferred_language", "field_value": "French" },
                    { "id": "OtherField0000000001", "field_value": 7 },
                ],
                "dateOfBirth": "09/25/1990",
                "country": "us",
            }),
            ContactWrite::Create,
        );
        assert!(messages.is_empty(), "{messages:#?}");
        let contact = input.into_new_contact("C1".into(), "Loc", now());
        assert_eq!(contact.first_name, "Jane");
        assert_eq!(contact.last_name, "van Doe");
        assert_eq!(contact.email.as_deref(), Some("Jane@Example.org"));
        assert_eq!(contact.phone.as_deref(), Some("+15550102345"));
        assert_eq!(contact.tags, vec!["a", "b"]);
        assert_eq!(contact.country.as_deref(), Some("US"));
        assert_eq!(
            contact.custom_fields,
            vec![
                (LANGUAGE_FIELD_ID.to_string(), json!("French")),
                ("OtherField0000000001".to_string(), json!(7)),
            ]
        );
        assert_eq!(contact.date_added, now());
    }

    #[test]
    fn update_keeps_absent_and_clears_null() {
        let (input, _) = read(
            json!({ "firstName": "Ann", "email": "ann@example.org", "city": "Oslo" }),
            ContactWrite::Create,
        );
        let mut contact = input.into_new_contact("C1".into(), "Loc", now());

        let (input, messages) = read(
            json!({ "lastName": "Lee", "city": null, "email": "" }),
            ContactWrite::Update,
        );
        assert!(messages.is_empty(), "{messages:#?}");
        input.apply_to(&mut contact, now());
        assert_eq!(contact.first_name, "Ann");
        assert_eq!(contact.last_name, "Lee");
        assert_eq!(contact.city, None);
        assert_eq!(contact.email, None);
    }

    #[test]
    fn custom_field_problems_named() {
        let (_, messages) = read(
            json!({ "customFields": [
                { "key": "no_such_field", "field_value": "x" },
                { "id": "F1" },
                { "id": "F2", "field_value": "x", "value": "y" },
                "text",
            ] }),
            ContactWrite::Create,
        );
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(messages[0].contains("customFields.0.key \"no_such_field\" is not a custom field"));
        assert!(messages[1].starts_with("customFields.1.field_value is missing"));
        assert_eq!(
            messages[2],
            "property customFields.2.value should not exist"
        );
        assert!(messages[3].starts_with("customFields.3 must be an object"));
    }

    #[test]
    fn permanent_dnd_is_kept() {
        let (input, _) = read(
            json!({ "dndSettings": { "SMS": { "status": "permanent" } } }),
            ContactWrite::Create,
        );
        let mut contact = input.into_new_contact("C1".into(), "Loc", now());
        let (input, messages) = read(
            json!({ "dndSettings": {
                "SMS": { "status": "inactive" },
                "Email": { "status": "active", "message": "bounced" },
            } }),
            ContactWrite::Update,
        );
        assert!(messages.is_empty(), "{messages:#?}");
        input.apply_to(&mut contact, now());
        let settings = contact.dnd_settings.unwrap();
        assert_eq!(settings["SMS"]["status"], "permanent");
        assert_eq!(settings["Email"]["status"], "active");
    }

    #[test]
    fn dnd_settings_shape_checked() {
        let (_, messages) = read(
            json!({
                "dndSettings": { "Fax": { "status": "active" }, "SMS": { "status": "off" } },
                "inboundDndSettings": { "all": { "status": "permanent" } },
            }),
            ContactWrite::Create,
        );
        assert_eq!(
            messages,
            vec![
                "property dndSettings.Fax should not exist",
                "dndSettings.SMS.status must be one of the following values: active, inactive, permanent, got \"off\"",
                "inboundDndSettings.all.status must be one of the following values: active, inactive, got \"permanent\"",
            ]
        );
    }
}
