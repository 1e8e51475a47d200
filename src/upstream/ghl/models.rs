//! GHL request and response models for contacts, tasks, notes and appointments.
//!
//! Response models accept every shape the API returns for the same entity: `GhlContact`
//! reads the get-by-id, create, list-row and search-row shapes. Every field but `id` is
//! optional, unknown fields are ignored, and fields whose published type is unreliable
//! go through the readers in `lenient`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient;

/// A GHL contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlContact {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub location_id: Option<String>,
    /// Full name, as GHL stores it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub last_name: Option<String>,
    /// Lower-cased first name; search rows carry this instead of `firstName`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub first_name_lower_case: Option<String>,
    /// Lower-cased last name; search rows carry this instead of `lastName`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub last_name_lower_case: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    /// Phone number, E.164 in GHL's examples.
    #[serde(default, deserialize_with = "lenient::string")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub company_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub source: Option<String>,
    /// Contact type, such as `lead` or `customer`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub r#type: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub business_id: Option<String>,
    /// Date of birth as sent: `YYYY-MM-DD`, or ISO midnight UTC in the create response.
    #[serde(default, deserialize_with = "lenient::string")]
    pub date_of_birth: Option<String>,
    /// Creation time as sent; see [`GhlContact::date_added_utc`].
    #[serde(default, deserialize_with = "lenient::string")]
    pub date_added: Option<String>,
    /// Last update time as sent; see [`GhlContact::date_updated_utc`].
    #[serde(default, deserialize_with = "lenient::string")]
    pub date_updated: Option<String>,
    #[serde(default, deserialize_with = "custom_fields")]
    pub custom_fields: Vec<GhlCustomFieldValue>,
    /// Do-not-disturb across all channels.
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub dnd: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub country: Option<String>,
    /// IANA time zone name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub timezone: Option<String>,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub additional_emails: Vec<String>,
    /// Search cursor of a search row (`[sort value, id]`); pass it back as
    /// `SearchContactsRequest::search_after` to read the next page.
    #[serde(default)]
    pub search_after: Option<Vec<Value>>,
}

impl GhlContact {
    /// Returns the first name, falling back to the lower-cased one that search rows carry.
    pub fn display_first_name(&self) -> Option<&str> {
        self.first_name
            .as_deref()
            .or(self.first_name_lower_case.as_deref())
    }

    /// Returns the last name, falling back to the lower-cased one that search rows carry.
    pub fn display_last_name(&self) -> Option<&str> {
        self.last_name
            .as_deref()
            .or(self.last_name_lower_case.as_deref())
    }

    /// `date_added` parsed with [`parse_ghl_time`].
    pub fn date_added_utc(&self) -> Option<DateTime<Utc>> {
        self.date_added.as_deref().and_then(parse_ghl_time)
    }

    /// `date_updated` parsed with [`parse_ghl_time`].
    pub fn date_updated_utc(&self) -> Option<DateTime<Utc>> {
        self.date_updated.as_deref().and_then(parse_ghl_time)
    }
}

/// One custom field value on a contact, as GHL returns it (`{id, value}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GhlCustomFieldValue {
    /// Id of the custom field definition.
    pub id: String,
    /// String, number, list or object, depending on the field type.
    pub value: Value,
}

/// Reads `customFields`, keeping items that have an id and ignoring the rest.
fn custom_fields<'de, D>(deserializer: D) -> Result<Vec<GhlCustomFieldValue>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let Value::Array(items) = Value::deserialize(deserializer)? else {
        return Ok(Vec::new());
    };
    let fields = items
        .into_iter()
        .filter_map(|item| {
            let Value::Object(mut object) = item else {
                return None;
            };
            let id = match object.remove("id")? {
                Value::String(id) => id,
                Value::Number(id) => id.to_string(),
                _ => return None,
            };
            let value = object.remove("value").unwrap_or(Value::Null);
            Some(GhlCustomFieldValue { id, value })
        })
        .collect();
    Ok(fields)
}

/// A task on a contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlTask {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub body: Option<String>,
    /// User id of the assignee.
    #[serde(default, deserialize_with = "lenient::string")]
    pub assigned_to: Option<String>,
    /// Due time as sent; see [`GhlTask::due_date_utc`].
    #[serde(default, deserialize_with = "lenient::string")]
    pub due_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool_or_false")]
    pub completed: bool,
    #[serde(default, deserialize_with = "lenient::string")]
    pub contact_id: Option<String>,
}

impl GhlTask {
    /// `due_date` parsed with [`parse_ghl_time`].
    pub fn due_date_utc(&self) -> Option<DateTime<Utc>> {
        self.due_date.as_deref().and_then(parse_ghl_time)
    }
}

/// A note on a contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlNote {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub body: Option<String>,
    /// User id of the author.
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_id: Option<String>,
    /// Creation time as sent; see [`GhlNote::date_added_utc`].
    #[serde(default, deserialize_with = "lenient::string")]
    pub date_added: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub contact_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: Option<String>,
    /// Display colour, such as `#FFAA00`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub color: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub pinned: Option<bool>,
}

impl GhlNote {
    /// `date_added` parsed with [`parse_ghl_time`].
    pub fn date_added_utc(&self) -> Option<DateTime<Utc>> {
        self.date_added.as_deref().and_then(parse_ghl_time)
    }
}

/// A calendar appointment (GHL calls it an event).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlAppointment {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub calendar_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub contact_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: Option<String>,
    /// Booking status on the contact-appointments route, such as `booked`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    /// `new`, `confirmed`, `cancelled`, `showed`, `noshow`, `invalid`, `active` or
    /// `completed`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub appointment_status: Option<String>,
    /// Start time as sent; see [`GhlAppointment::start_time_utc`].
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_time: Option<String>,
    /// End time as sent; see [`GhlAppointment::end_time_utc`].
    #[serde(default, deserialize_with = "lenient::string")]
    pub end_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub date_added: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub date_updated: Option<String>,
    /// Meeting address or link.
    #[serde(default, deserialize_with = "lenient::string")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub assigned_user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    /// `custom`, `zoom`, `gmeet`, `phone`, `address`, `ms_teams`, `google` or `default`;
    /// only the create and edit responses carry it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub meeting_location_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub is_recurring: Option<bool>,
    /// RFC 5545 recurrence rule of a recurring appointment.
    #[serde(default, deserialize_with = "lenient::string")]
    pub rrule: Option<String>,
}

impl GhlAppointment {
    /// `start_time` parsed with [`parse_ghl_time`].
    pub fn start_time_utc(&self) -> Option<DateTime<Utc>> {
        self.start_time.as_deref().and_then(parse_ghl_time)
    }

    /// `end_time` parsed with [`parse_ghl_time`].
    pub fn end_time_utc(&self) -> Option<DateTime<Utc>> {
        self.end_time.as_deref().and_then(parse_ghl_time)
    }

    /// `date_added` parsed with [`parse_ghl_time`].
    pub fn date_added_utc(&self) -> Option<DateTime<Utc>> {
        self.date_added.as_deref().and_then(parse_ghl_time)
    }

    /// `date_updated` parsed with [`parse_ghl_time`].
    pub fn date_updated_utc(&self) -> Option<DateTime<Utc>> {
        self.date_updated.as_deref().and_then(parse_ghl_time)
    }
}

/// Parses a GHL time stamp into UTC.
///
/// Accepts RFC 3339 with `Z` or an offset and optional fractions
/// (`2021-07-02T05:18:26.704Z`, `2021-06-23T03:30:00+05:30`), the zone-less
/// `2021-07-16 11:00:00` (also with `T` or fractions), a bare date `2021-07-16`
/// (midnight), and epoch milliseconds written as digits. Returns `None` for anything else.
pub fn parse_ghl_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }

    // NOTE: the contact-appointments examples carry no zone, and the zone of live data
    // is unknown; these stamps are read as UTC.
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|naive| Utc.from_utc_datetime(&naive));
    }

    // Epoch milliseconds, as the list cursor `startAfter` uses; ten or more digits keeps
    // short numbers from being read as times in 1970.
    if text.len() >= 10 && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .and_then(|millis| Utc.timestamp_millis_opt(millis).single());
    }
    None
}

/// Body of `POST /contacts/search`; the client adds `locationId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchContactsRequest {
    /// Rows per page; GHL accepts at most 500.
    pub page_limit: u32,
    /// 1-based page number. Do not combine with `search_after`; page × page_limit
    /// reaches at most 10 000 records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Cursor copied from the last row's `search_after`; needed beyond 10 000 records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_after: Option<Vec<Value>>,
    /// Free text, at most 75 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Conditions, combined with AND at the top level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<SearchFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<SearchSort>,
}

impl SearchContactsRequest {
    /// Builds a request for the first `page_limit` rows with no query, filter or sort.
    pub fn new(page_limit: u32) -> SearchContactsRequest {
        SearchContactsRequest {
            page_limit,
            page: None,
            search_after: None,
            query: None,
            filters: Vec::new(),
            sort: Vec::new(),
        }
    }
}

/// A search condition or a group of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SearchFilter {
    /// `{field, operator, value}`; `value` is omitted for `exists` and `not_exists`.
    Condition {
        field: String,
        operator: SearchOperator,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
    },
    /// `{group: "AND"|"OR", filters}`.
    Group {
        group: FilterGroup,
        filters: Vec<SearchFilter>,
    },
}

impl SearchFilter {
    fn condition(
        field: impl Into<String>,
        operator: SearchOperator,
        value: Option<Value>,
    ) -> SearchFilter {
        SearchFilter::Condition {
            field: field.into(),
            operator,
            value,
        }
    }

    /// `field` equals `value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> SearchFilter {
        Self::condition(field, SearchOperator::Eq, Some(value.into()))
    }

    /// `field` differs from `value`.
    pub fn not_eq(field: impl Into<String>, value: impl Into<Value>) -> SearchFilter {
        Self::condition(field, SearchOperator::NotEq, Some(value.into()))
    }

    /// `field` contains `value`.
    pub fn contains(field: impl Into<String>, value: impl Into<Value>) -> SearchFilter {
        Self::condition(field, SearchOperator::Contains, Some(value.into()))
    }

    /// `field` does not contain `value`.
    pub fn not_contains(field: impl Into<String>, value: impl Into<Value>) -> SearchFilter {
        Self::condition(field, SearchOperator::NotContains, Some(value.into()))
    }

    /// `field` has a value.
    pub fn exists(field: impl Into<String>) -> SearchFilter {
        Self::condition(field, SearchOperator::Exists, None)
    }

    /// `field` has no value.
    pub fn not_exists(field: impl Into<String>) -> SearchFilter {
        Self::condition(field, SearchOperator::NotExists, None)
    }

    /// `field` lies in a range given as an object with `gte`, `lte`, `gt` or `lt`.
    pub fn range(field: impl Into<String>, bounds: Value) -> SearchFilter {
        Self::condition(field, SearchOperator::Range, Some(bounds))
    }

    /// Matches when any of `filters` matches (an OR group).
    pub fn any(filters: Vec<SearchFilter>) -> SearchFilter {
        SearchFilter::Group {
            group: FilterGroup::Or,
            filters,
        }
    }

    /// Matches when all of `filters` match (an AND group).
    pub fn all(filters: Vec<SearchFilter>) -> SearchFilter {
        SearchFilter::Group {
            group: FilterGroup::And,
            filters,
        }
    }
}

/// Operator of a search condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchOperator {
    Eq,
    NotEq,
    Contains,
    NotContains,
    Exists,
    NotExists,
    Range,
}

/// Boolean operator that combines the filters of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FilterGroup {
    And,
    Or,
}

/// A sort key of a contact search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSort {
    pub field: String,
    pub direction: SortDirection,
}

impl SearchSort {
    /// Ascending order on `field`.
    pub fn asc(field: impl Into<String>) -> SearchSort {
        SearchSort {
            field: field.into(),
            direction: SortDirection::Asc,
        }
    }

    /// Descending order on `field`.
    pub fn desc(field: impl Into<String>) -> SearchSort {
        SearchSort {
            field: field.into(),
            direction: SortDirection::Desc,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// Response of `POST /contacts/search`: `{contacts, total}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchContactsResponse {
    #[serde(default)]
    pub contacts: Vec<GhlContact>,
    /// Number of matching contacts across all pages.
    #[serde(default, deserialize_with = "lenient::u64_opt")]
    pub total: Option<u64>,
}

/// Query of the deprecated `GET /contacts/` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListContactsParams {
    /// Rows per page; GHL's default is 20 and its maximum 100.
    pub limit: u32,
    /// Id of the last row of the previous page.
    pub start_after_id: Option<String>,
    /// Creation time of the last row of the previous page, in epoch milliseconds.
    pub start_after: Option<i64>,
    /// Free-text search.
    pub query: Option<String>,
}

impl Default for ListContactsParams {
    fn default() -> Self {
        ListContactsParams {
            limit: 20,
            start_after_id: None,
            start_after: None,
            query: None,
        }
    }
}

/// Response of `GET /contacts/` and `GET /contacts/business/{businessId}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListContactsResponse {
    #[serde(default)]
    pub contacts: Vec<GhlContact>,
    /// Number of rows, as the published schema declares it.
    #[serde(default, deserialize_with = "lenient::u64_opt")]
    pub count: Option<u64>,
    /// Paging details that live list responses carry although the schema omits them.
    #[serde(default)]
    pub meta: Option<ListMeta>,
}

/// `meta` of the contact list: totals and the cursor of the next page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(default, deserialize_with = "lenient::u64_opt")]
    pub total: Option<u64>,
    /// URL of the next page. Never requested by the client, which builds its own URLs.
    #[serde(default, deserialize_with = "lenient::string")]
    pub next_page_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_after_id: Option<String>,
    /// Epoch milliseconds.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub start_after: Option<i64>,
    #[serde(default, deserialize_with = "lenient::u64_opt")]
    pub current_page: Option<u64>,
    #[serde(default, deserialize_with = "lenient::u64_opt")]
    pub next_page: Option<u64>,
    #[serde(default, deserialize_with = "lenient::u64_opt")]
    pub prev_page: Option<u64>,
}

/// Response of `GET /contacts/{contactId}` and `GET /contacts/search/duplicate`: `{contact}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactResponse {
    #[serde(default)]
    pub contact: Option<GhlContact>,
}

/// Response of `GET /contacts/{contactId}/tasks`: `{tasks}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskListResponse {
    #[serde(default)]
    pub tasks: Vec<GhlTask>,
}

/// Response of `GET /contacts/{contactId}/tasks/{taskId}`: `{task}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskResponse {
    #[serde(default)]
    pub task: Option<GhlTask>,
}

/// Response of `GET /contacts/{contactId}/notes`: `{notes}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoteListResponse {
    #[serde(default)]
    pub notes: Vec<GhlNote>,
}

/// Response of `GET /contacts/{contactId}/notes/{id}`: `{note}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoteResponse {
    #[serde(default)]
    pub note: Option<GhlNote>,
}

/// Response of `GET /contacts/{contactId}/appointments`: `{events}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppointmentListResponse {
    #[serde(default)]
    pub events: Vec<GhlAppointment>,
}

/// Response of `GET /calendars/events/appointments/{eventId}`: `{event}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppointmentResponse {
    #[serde(default)]
    pub event: Option<GhlAppointment>,
}

/// Response of `PUT /contacts/{contactId}`: `{succeded, contact}` (GHL's spelling).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateContactResponse {
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub succeded: Option<bool>,
    #[serde(default)]
    pub contact: Option<GhlContact>,
}

/// Response of `POST /contacts/upsert`: `{new, contact, traceId}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertContactResponse {
    /// True when the upsert created a contact, false when it updated a match.
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub new: Option<bool>,
    #[serde(default)]
    pub contact: Option<GhlContact>,
    /// GHL's id of the request, for support cases.
    #[serde(default, deserialize_with = "lenient::string")]
    pub trace_id: Option<String>,
}

/// Response of `POST` and `DELETE /contacts/{contactId}/tags`: `{tags}`, the contact's
/// tags after the change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagsResponse {
    #[serde(default, deserialize_with = "lenient::strings")]
    pub tags: Vec<String>,
}

/// Response of the delete routes. GHL spells the flag three ways: `succeded` (contacts,
/// tasks, notes), `succeeded` (calendar events) and `success` (some other routes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteResponse {
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub succeded: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub succeeded: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool_opt")]
    pub success: Option<bool>,
}

impl DeleteResponse {
    /// Reports whether no spelling of the flag is false. A body without any flag counts
    /// as success, because the 2xx status already reports it.
    pub fn succeeded(&self) -> bool {
        [self.succeded, self.succeeded, self.success]
            .iter()
            .all(|flag| *flag != Some(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_formats_parse() {
        let expected = Utc.with_ymd_and_hms(2021, 7, 2, 5, 18, 26).unwrap()
            + chrono::Duration::milliseconds(704);
        assert_eq!(parse_ghl_time("2021-07-02T05:18:26.704Z"), Some(expected));

        let offset = parse_ghl_time("2021-06-23T03:30:00+05:30");
        assert_eq!(
            offset,
            Some(Utc.with_ymd_and_hms(2021, 6, 22, 22, 0, 0).unwrap())
        );

        let zoneless = parse_ghl_time("2021-07-16 11:00:00");
        assert_eq!(
            zoneless,
            Some(Utc.with_ymd_and_hms(2021, 7, 16, 11, 0, 0).unwrap())
        );

        let millis = parse_ghl_time("1631087949919");
        assert_eq!(
            millis.map(|time| time.timestamp_millis()),
            Some(1631087949919)
        );

        assert_eq!(
            parse_ghl_time("1990-09-25"),
            Some(Utc.with_ymd_and_hms(1990, 9, 25, 0, 0, 0).unwrap())
        );
    }

    #[test]
    fn time_garbage_rejected() {
        assert_eq!(parse_ghl_time(""), None);
        assert_eq!(parse_ghl_time("Date format YYYY-MM-DD"), None);
        assert_eq!(parse_ghl_time("12345"), None);
        assert_eq!(parse_ghl_time("2021-13-40T00:00:00Z"), None);
    }

    #[test]
    fn contact_tolerates_odd_types() {
        let contact: GhlContact = serde_json::from_value(json!({
            "id": 12345,
            "firstNameLowerCase": "jane",
            "lastNameLowerCase": "doe",
            "tags": "single-tag",
            "dnd": "true",
            "phone": 15550100,
            "customFields": [
                {"id": "cf1", "value": 42},
                {"id": "cf2", "value": ["a", "b"]},
                {"value": "no id"},
                "not an object"
            ],
            "followers": "641c094001436dbc2081e642",
            "searchAfter": [1234, "abc"],
            "unknownField": {"nested": true}
        }))
        .unwrap();

        assert_eq!(contact.id, "12345");
        assert_eq!(contact.display_first_name(), Some("jane"));
        assert_eq!(contact.display_last_name(), Some("doe"));
        assert_eq!(contact.tags, vec!["single-tag"]);
        assert_eq!(contact.dnd, Some(true));
        assert_eq!(contact.phone.as_deref(), Some("15550100"));
        assert_eq!(contact.custom_fields.len(), 2);
        assert_eq!(contact.custom_fields[0].value, json!(42));
        assert_eq!(contact.search_after, Some(vec![json!(1234), json!("abc")]));
    }

    #[test]
    fn contact_without_id_rejected() {
        let result = serde_json::from_value::<GhlContact>(json!({"email": "a@example.org"}));
        assert!(result.is_err());
    }

    #[test]
    fn display_name_prefers_real_case() {
        let contact = GhlContact {
            id: "c1".into(),
            first_name: Some("Jane".into()),
            first_name_lower_case: Some("jane".into()),
            ..GhlContact::default()
        };
        assert_eq!(contact.display_first_name(), Some("Jane"));
        assert_eq!(contact.display_last_name(), None);
    }

    #[test]
    fn search_request_serialises_camel_case() {
        let mut request = SearchContactsRequest::new(25);
        request.search_after = Some(vec![json!(1234), json!("abc")]);
        request.filters = vec![
            SearchFilter::any(vec![
                SearchFilter::eq("email", "a@example.org"),
                SearchFilter::eq("phone", "+15550100"),
            ]),
            SearchFilter::exists("email"),
        ];
        request.sort = vec![SearchSort::desc("dateAdded")];

        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(
            value,
            json!({
                "pageLimit": 25,
                "searchAfter": [1234, "abc"],
                "filters": [
                    {"group": "OR", "filters": [
                        {"field": "email", "operator": "eq", "value": "a@example.org"},
                        {"field": "phone", "operator": "eq", "value": "+15550100"}
                    ]},
                    {"field": "email", "operator": "exists"}
                ],
                "sort": [{"field": "dateAdded", "direction": "desc"}]
            })
        );
    }

    #[test]
    fn search_filter_round_trips() {
        let filter = SearchFilter::all(vec![SearchFilter::not_eq("dnd", true)]);
        let text = serde_json::to_string(&filter).unwrap();
        let back: SearchFilter = serde_json::from_str(&text).unwrap();
        assert_eq!(back, filter);
    }

    #[test]
    fn list_meta_reads_numbers_as_text() {
        let response: ListContactsResponse = serde_json::from_value(json!({
            "contacts": [{"id": "a"}],
            "meta": {"total": "50", "startAfter": 1631087949919.0, "prevPage": null}
        }))
        .unwrap();
        let meta = response.meta.unwrap();
        assert_eq!(meta.total, Some(50));
        assert_eq!(meta.start_after, Some(1631087949919));
        assert_eq!(meta.prev_page, None);
        assert_eq!(response.count, None);
    }
}
