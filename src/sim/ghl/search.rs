//! `POST /contacts/search`: validation of the request body and its execution.
//!
//! The body follows GHL's search API: `locationId` and `pageLimit` are required, `page`
//! (1-based) or `searchAfter` select the page, `query` is free text, `filters` contains
//! conditions `{field, operator, value}` and groups `{group: "AND"|"OR", filters}` (the
//! top-level array is AND-ed), and `sort` holds `{field, direction}` items. Validation
//! errors are collected in class-validator wording, because GHL answers them as one 422
//! whose `message` is an array.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::store::{Contact, normalize_phone};

/// Maximum `pageLimit`.
pub const MAX_PAGE_LIMIT: u64 = 500;
/// Maximum `page * pageLimit`: deeper pages need `searchAfter`.
pub const MAX_PAGE_WINDOW: u64 = 10_000;
/// Maximum length of `query` and of string filter values.
pub const MAX_TEXT_LENGTH: usize = 75;

const BODY_PROPERTIES: [&str; 7] = [
    "locationId",
    "page",
    "pageLimit",
    "searchAfter",
    "query",
    "filters",
    "sort",
];

/// A validated search request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub location_id: String,
    pub page_limit: usize,
    pub page: usize,
    pub search_after: Option<Vec<Value>>,
    pub query: Option<String>,
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
}

/// A filter condition or a group of filters.
#[derive(Debug, Clone)]
pub enum Filter {
    Condition {
        field: Field,
        operator: Operator,
        value: FilterValue,
    },
    Group {
        /// `true` for `AND`, `false` for `OR`.
        all: bool,
        filters: Vec<Filter>,
    },
}

/// The value of a filter condition, checked against its field and operator.
#[derive(Debug, Clone)]
pub enum FilterValue {
    None,
    Text(String),
    TextList(Vec<String>),
    Bool(bool),
    Range(DateRange),
}

/// Bounds of a `range` condition, in epoch milliseconds.
#[derive(Debug, Clone, Default)]
pub struct DateRange {
    pub gte: Option<i64>,
    pub gt: Option<i64>,
    pub lte: Option<i64>,
    pub lt: Option<i64>,
}

/// A contact field that filters and sort items can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    Email,
    Phone,
    FirstNameLowerCase,
    LastNameLowerCase,
    Tags,
    BusinessId,
    CompanyName,
    Source,
    Dnd,
    DateAdded,
    DateUpdated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Text,
    Phone,
    Tags,
    Bool,
    Date,
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    NotEq,
    Contains,
    NotContains,
    Exists,
    NotExists,
    Range,
}

/// One sort item.
#[derive(Debug, Clone, Copy)]
pub struct SortKey {
    pub field: Field,
    pub descending: bool,
}

const FIELDS: [(&str, Field); 13] = [
    ("id", Field::Id),
    ("email", Field::Email),
    ("phone", Field::Phone),
    ("firstNameLowerCase", Field::FirstNameLowerCase),
    ("lastNameLowerCase", Field::LastNameLowerCase),
    ("tags", Field::Tags),
    ("businessId", Field::BusinessId),
    ("companyName", Field::CompanyName),
    ("businessName", Field::CompanyName),
    ("source", Field::Source),
    ("dnd", Field::Dnd),
    ("dateAdded", Field::DateAdded),
    ("dateUpdated", Field::DateUpdated),
];

const OPERATORS: [(&str, Operator); 7] = [
    ("eq", Operator::Eq),
    ("not_eq", Operator::NotEq),
    ("contains", Operator::Contains),
    ("not_contains", Operator::NotContains),
    ("exists", Operator::Exists),
    ("not_exists", Operator::NotExists),
    ("range", Operator::Range),
];

impl Field {
    fn parse(name: &str) -> Option<Field> {
        FIELDS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, field)| *field)
    }

    fn kind(self) -> FieldKind {
        match self {
            Field::Id
            | Field::Email
            | Field::FirstNameLowerCase
            | Field::LastNameLowerCase
            | Field::BusinessId
            | Field::CompanyName
            | Field::Source => FieldKind::Text,
            Field::Phone => FieldKind::Phone,
            Field::Tags => FieldKind::Tags,
            Field::Dnd => FieldKind::Bool,
            Field::DateAdded | Field::DateUpdated => FieldKind::Date,
        }
    }

    fn sortable(self) -> bool {
        !matches!(self, Field::Tags | Field::Dnd | Field::Phone)
    }
}

impl FieldKind {
    fn operators(self) -> &'static [Operator] {
        use Operator::*;
        match self {
            FieldKind::Text | FieldKind::Phone | FieldKind::Tags => {
                &[Eq, NotEq, Contains, NotContains, Exists, NotExists]
            }
            FieldKind::Bool => &[Eq, NotEq, Exists, NotExists],
            FieldKind::Date => &[Range, Exists, NotExists],
        }
    }
}

impl Operator {
    fn parse(name: &str) -> Option<Operator> {
        OPERATORS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, operator)| *operator)
    }

    fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, operator)| *operator == self)
            .map_or("?", |(name, _)| name)
    }
}

fn field_names(filter: impl Fn(Field) -> bool) -> String {
    FIELDS
        .iter()
        .filter(|(_, field)| filter(*field))
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validates a search body. Returns every problem found, in class-validator wording.
///
/// The caller has already checked that the body is a JSON object.
pub fn parse_request(body: &Map<String, Value>) -> Result<SearchRequest, Vec<String>> {
    let mut errors = Vec::new();

    for key in body.keys() {
        if !BODY_PROPERTIES.contains(&key.as_str()) {
            errors.push(format!("property {key} should not exist"));
        }
    }

    let location_id = match body.get("locationId") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::String(_)) => {
            errors.push("locationId should not be empty".to_string());
            String::new()
        }
        Some(_) => {
            errors.push("locationId must be a string".to_string());
            String::new()
        }
        None => {
            errors.push("locationId should not be empty".to_string());
            errors.push("locationId must be a string".to_string());
            String::new()
        }
    };

    let page_limit = parse_bounded_integer(
        body.get("pageLimit"),
        "pageLimit",
        1,
        MAX_PAGE_LIMIT,
        true,
        &mut errors,
    );
    let page = parse_bounded_integer(body.get("page"), "page", 1, u64::MAX, false, &mut errors);

    if let (Some(page), Some(limit)) = (page, page_limit)
        && page.saturating_mul(limit) > MAX_PAGE_WINDOW
    {
        errors.push(format!(
            "page * pageLimit must not be greater than {MAX_PAGE_WINDOW} \
                 (got {page} * {limit}); use searchAfter to read further"
        ));
    }

    let query = match body.get("query") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            if text.chars().count() > MAX_TEXT_LENGTH {
                errors.push(format!(
                    "query must be shorter than or equal to {MAX_TEXT_LENGTH} characters"
                ));
            }
            Some(text.clone())
        }
        Some(_) => {
            errors.push("query must be a string".to_string());
            None
        }
    };

    let filters = match body.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => parse_filter_list(items, "filters", &mut errors),
        Some(_) => {
            errors.push("filters must be an array".to_string());
            Vec::new()
        }
    };

    let sort = match body.get("sort") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => parse_sort(items, &mut errors),
        Some(_) => {
            errors.push("sort must be an array".to_string());
            Vec::new()
        }
    };

    let search_after = match body.get("searchAfter") {
        None | Some(Value::Null) => None,
        Some(Value::Array(values)) => {
            if page.is_some() {
                errors
                    .push("searchAfter cannot be combined with page; send one of them".to_string());
            }
            check_search_after(values, &effective_sort(&sort), &mut errors);
            Some(values.clone())
        }
        Some(_) => {
            errors.push("searchAfter must be an array".to_string());
            None
        }
    };

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SearchRequest {
        location_id,
        page_limit: page_limit.unwrap_or(1) as usize,
        page: page.unwrap_or(1) as usize,
        search_after,
        query,
        filters,
        sort,
    })
}

/// Reads an integer property within `min..=max`, pushing class-validator style messages.
fn parse_bounded_integer(
    value: Option<&Value>,
    name: &str,
    min: u64,
    max: u64,
    required: bool,
    errors: &mut Vec<String>,
) -> Option<u64> {
    let too_small = format!("{name} must not be less than {min}");
    let too_large = format!("{name} must not be greater than {max}");
    let not_a_number = format!("{name} must be a number conforming to the specified constraints");
    match value {
        None | Some(Value::Null) => {
            if required {
                errors.push(too_small);
                if max != u64::MAX {
                    errors.push(too_large);
                }
                errors.push(not_a_number);
            }
            None
        }
        Some(Value::Number(number)) => {
            let Some(float) = number.as_f64() else {
                errors.push(not_a_number);
                return None;
            };
            if float.fract() != 0.0 {
                errors.push(format!("{name} must be an integer number"));
                return None;
            }
            if float < min as f64 {
                errors.push(too_small);
                return None;
            }
            if float > max as f64 {
                errors.push(too_large);
                return None;
            }
            Some(float as u64)
        }
        Some(_) => {
            errors.push(too_small);
            if max != u64::MAX {
                errors.push(too_large);
            }
            errors.push(not_a_number);
            None
        }
    }
}

fn parse_filter_list(items: &[Value], path: &str, errors: &mut Vec<String>) -> Vec<Filter> {
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| parse_filter(item, &format!("{path}.{index}"), errors))
        .collect()
}

fn parse_filter(item: &Value, path: &str, errors: &mut Vec<String>) -> Option<Filter> {
    let Value::Object(object) = item else {
        errors.push(format!(
            "{path} must be an object: {{field, operator, value}} or {{group, filters}}"
        ));
        return None;
    };
    if object.contains_key("group") {
        parse_group(object, path, errors)
    } else {
        parse_condition(object, path, errors)
    }
}

fn parse_group(
    object: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<String>,
) -> Option<Filter> {
    for key in object.keys() {
        if key != "group" && key != "filters" {
            errors.push(format!("{path}.property {key} should not exist"));
        }
    }
    let all = match object.get("group").and_then(Value::as_str) {
        Some("AND") => Some(true),
        Some("OR") => Some(false),
        _ => {
            errors.push(format!(
                "{path}.group must be one of the following values: AND, OR"
            ));
            None
        }
    };
    let filters = match object.get("filters") {
        Some(Value::Array(items)) => parse_filter_list(items, &format!("{path}.filters"), errors),
        _ => {
            errors.push(format!("{path}.filters must be an array"));
            return None;
        }
    };
    Some(Filter::Group { all: all?, filters })
}

fn parse_condition(
    object: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<String>,
) -> Option<Filter> {
    for key in object.keys() {
        if !["field", "operator", "value"].contains(&key.as_str()) {
            errors.push(format!("{path}.property {key} should not exist"));
        }
    }

    let field = match object.get("field").and_then(Value::as_str) {
        Some(name) => match Field::parse(name) {
            Some(field) => Some(field),
            None => {
                errors.push(format!(
                    "{path}.field {name:?} is not a supported filter field; use one of: {}",
                    field_names(|_| true)
                ));
                None
            }
        },
        None => {
            errors.push(format!("{path}.field must be a string"));
            None
        }
    };
    let operator = match object.get("operator").and_then(Value::as_str) {
        Some(name) => match Operator::parse(name) {
            Some(operator) => Some(operator),
            None => {
                errors.push(format!(
                    "{path}.operator must be one of the following values: \
                     eq, not_eq, contains, not_contains, exists, not_exists, range"
                ));
                None
            }
        },
        None => {
            errors.push(format!("{path}.operator must be a string"));
            None
        }
    };
    let (field, operator) = (field?, operator?);

    let kind = field.kind();
    if !kind.operators().contains(&operator) {
        let allowed: Vec<&str> = kind.operators().iter().map(|op| op.name()).collect();
        errors.push(format!(
            "{path}.operator {} is not supported for field {}; use one of: {}",
            operator.name(),
            field_name(field),
            allowed.join(", ")
        ));
        return None;
    }

    let value = parse_filter_value(object.get("value"), kind, operator, path, errors)?;
    Some(Filter::Condition {
        field,
        operator,
        value,
    })
}

fn field_name(field: Field) -> &'static str {
    FIELDS
        .iter()
        .find(|(_, known)| *known == field)
        .map_or("?", |(name, _)| name)
}

fn parse_filter_value(
    value: Option<&Value>,
    kind: FieldKind,
    operator: Operator,
    path: &str,
    errors: &mut Vec<String>,
) -> Option<FilterValue> {
    if matches!(operator, Operator::Exists | Operator::NotExists) {
        if value.is_some_and(|v| !v.is_null()) {
            errors.push(format!(
                "{path}.value should not exist for operator {}",
                operator.name()
            ));
            return None;
        }
        return Some(FilterValue::None);
    }
    let Some(value) = value.filter(|v| !v.is_null()) else {
        errors.push(format!(
            "{path}.value should not be empty for operator {}",
            operator.name()
        ));
        return None;
    };

    match (kind, value) {
        (FieldKind::Bool, Value::Bool(flag)) => Some(FilterValue::Bool(*flag)),
        (FieldKind::Bool, _) => {
            errors.push(format!("{path}.value must be a boolean value"));
            None
        }
        (FieldKind::Date, Value::Object(bounds)) => parse_range(bounds, path, errors),
        (FieldKind::Date, _) => {
            errors.push(format!(
                "{path}.value must be an object with gte, gt, lte or lt"
            ));
            None
        }
        (FieldKind::Tags, Value::Array(items)) => {
            let mut tags = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(tag) => {
                        check_text_length(tag, &format!("{path}.value.{index}"), errors);
                        tags.push(tag.to_string());
                    }
                    None => errors.push(format!("{path}.value.{index} must be a string")),
                }
            }
            Some(FilterValue::TextList(tags))
        }
        (_, Value::String(text)) => {
            check_text_length(text, &format!("{path}.value"), errors);
            Some(FilterValue::Text(text.clone()))
        }
        _ => {
            errors.push(format!("{path}.value must be a string"));
            None
        }
    }
}

fn check_text_length(text: &str, path: &str, errors: &mut Vec<String>) {
    if text.chars().count() > MAX_TEXT_LENGTH {
        errors.push(format!(
            "{path} must be shorter than or equal to {MAX_TEXT_LENGTH} characters"
        ));
    }
}

fn parse_range(
    bounds: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<String>,
) -> Option<FilterValue> {
    let mut range = DateRange::default();
    let mut valid = true;
    for (key, bound) in bounds {
        let slot = match key.as_str() {
            "gte" => &mut range.gte,
            "gt" => &mut range.gt,
            "lte" => &mut range.lte,
            "lt" => &mut range.lt,
            other => {
                errors.push(format!("{path}.value.property {other} should not exist"));
                valid = false;
                continue;
            }
        };
        match epoch_millis(bound) {
            Some(millis) => *slot = Some(millis),
            None => {
                errors.push(format!(
                    "{path}.value.{key} must be epoch milliseconds or an ISO-8601 date, \
                     e.g. 1625202906704 or \"2021-07-02T05:18:26.704Z\"; got {bound}"
                ));
                valid = false;
            }
        }
    }
    if bounds.is_empty() {
        errors.push(format!(
            "{path}.value should not be empty: give at least one of gte, gt, lte, lt"
        ));
        valid = false;
    }
    valid.then_some(FilterValue::Range(range))
}

/// Reads epoch milliseconds from a number, an RFC 3339 timestamp or a `YYYY-MM-DD` date.
fn epoch_millis(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => {
            if let Ok(time) = DateTime::parse_from_rfc3339(text) {
                return Some(time.timestamp_millis());
            }
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
        }
        _ => None,
    }
}

fn parse_sort(items: &[Value], errors: &mut Vec<String>) -> Vec<SortKey> {
    let mut keys = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let path = format!("sort.{index}");
        let Value::Object(object) = item else {
            errors.push(format!("{path} must be an object {{field, direction}}"));
            continue;
        };
        for key in object.keys() {
            if key != "field" && key != "direction" {
                errors.push(format!("{path}.property {key} should not exist"));
            }
        }
        let field = match object.get("field").and_then(Value::as_str) {
            Some(name) => match Field::parse(name).filter(|field| field.sortable()) {
                Some(field) => Some(field),
                None => {
                    errors.push(format!(
                        "{path}.field {name:?} cannot be sorted on; use one of: {}",
                        field_names(Field::sortable)
                    ));
                    None
                }
            },
            None => {
                errors.push(format!("{path}.field must be a string"));
                None
            }
        };
        let descending = match object.get("direction").and_then(Value::as_str) {
            Some("asc") => Some(false),
            Some("desc") => Some(true),
            _ => {
                errors.push(format!(
                    "{path}.direction must be one of the following values: asc, desc"
                ));
                None
            }
        };
        if let (Some(field), Some(descending)) = (field, descending) {
            keys.push(SortKey { field, descending });
        }
    }
    keys
}

/// Returns the sort of a request: its own items, or `dateAdded` ascending. The contact id
/// always breaks ties, ascending.
fn effective_sort(sort: &[SortKey]) -> Vec<SortKey> {
    if sort.is_empty() {
        vec![SortKey {
            field: Field::DateAdded,
            descending: false,
        }]
    } else {
        sort.to_vec()
    }
}

fn check_search_after(values: &[Value], sort: &[SortKey], errors: &mut Vec<String>) {
    let expected = sort.len() + 1;
    let shape_ok = values.len() == expected
        && values.last().is_some_and(Value::is_string)
        && sort.iter().zip(values).all(|(key, value)| {
            value.is_null()
                || match key.field.kind() {
                    FieldKind::Date => value.is_i64(),
                    _ => value.is_string(),
                }
        });
    if !shape_ok {
        errors.push(format!(
            "searchAfter must be the searchAfter array of the last contact of the previous \
             page: {expected} values, one per sort field and then the contact id, \
             e.g. [1625202906704, \"ocQHyuzHvysMo5N5VsXc\"]"
        ));
    }
}

/// One value of a contact's sort key. `Missing` sorts after every value in both directions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Number(i64),
    Text(String),
    Missing,
}

impl SortValue {
    fn from_json(value: &Value) -> SortValue {
        match value {
            Value::Number(number) => number
                .as_i64()
                .map_or(SortValue::Missing, SortValue::Number),
            Value::String(text) => SortValue::Text(text.clone()),
            _ => SortValue::Missing,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            SortValue::Number(number) => json!(number),
            SortValue::Text(text) => json!(text),
            SortValue::Missing => Value::Null,
        }
    }
}

fn sort_value(contact: &Contact, field: Field) -> SortValue {
    let text = |value: Option<&str>| {
        value
            .filter(|text| !text.is_empty())
            .map_or(SortValue::Missing, |text| {
                SortValue::Text(text.to_lowercase())
            })
    };
    match field {
        Field::Id => SortValue::Text(contact.id.clone()),
        Field::Email => text(contact.email.as_deref()),
        Field::FirstNameLowerCase => text(Some(&contact.first_name)),
        Field::LastNameLowerCase => text(Some(&contact.last_name)),
        Field::BusinessId => text(contact.business_id.as_deref()),
        Field::CompanyName => text(contact.company_name.as_deref()),
        Field::Source => text(contact.source.as_deref()),
        Field::DateAdded => SortValue::Number(contact.date_added.timestamp_millis()),
        Field::DateUpdated => SortValue::Number(contact.date_updated.timestamp_millis()),
        Field::Phone | Field::Tags | Field::Dnd => SortValue::Missing,
    }
}

/// Compares two sort keys; the last element of each is the contact id, ascending.
fn compare_keys(a: &[SortValue], b: &[SortValue], sort: &[SortKey]) -> Ordering {
    for (index, (left, right)) in a.iter().zip(b).enumerate() {
        let descending = sort.get(index).is_some_and(|key| key.descending);
        let ordering = match (left, right) {
            (SortValue::Missing, SortValue::Missing) => Ordering::Equal,
            (SortValue::Missing, _) => Ordering::Greater,
            (_, SortValue::Missing) => Ordering::Less,
            _ if descending => right.cmp(left),
            _ => left.cmp(right),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn sort_key(contact: &Contact, sort: &[SortKey]) -> Vec<SortValue> {
    let mut key: Vec<SortValue> = sort
        .iter()
        .map(|item| sort_value(contact, item.field))
        .collect();
    key.push(SortValue::Text(contact.id.clone()));
    key
}

/// Runs a validated search over the contacts of the request's location and builds the
/// `{contacts, total}` response.
pub fn execute(request: &SearchRequest, contacts: Vec<&Contact>) -> Value {
    let sort = effective_sort(&request.sort);
    let mut matching: Vec<(Vec<SortValue>, &Contact)> = contacts
        .into_iter()
        .filter(|contact| {
            request
                .query
                .as_deref()
                .is_none_or(|query| contact.matches_query(query))
        })
        .filter(|contact| request.filters.iter().all(|filter| filter.matches(contact)))
        .map(|contact| (sort_key(contact, &sort), contact))
        .collect();
    matching.sort_by(|(a, _), (b, _)| compare_keys(a, b, &sort));
    let total = matching.len();

    let start = match &request.search_after {
        Some(values) => {
            let cursor: Vec<SortValue> = values.iter().map(SortValue::from_json).collect();
            matching
                .iter()
                .position(|(key, _)| compare_keys(key, &cursor, &sort) == Ordering::Greater)
                .unwrap_or(matching.len())
        }
        None => (request.page - 1).saturating_mul(request.page_limit),
    };

    let rows: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(request.page_limit)
        .map(|(key, contact)| {
            let mut row = contact.to_search_row_json();
            if let Value::Object(object) = &mut row {
                object.insert(
                    "searchAfter".into(),
                    Value::Array(key.iter().map(SortValue::to_json).collect()),
                );
            }
            row
        })
        .collect();
    json!({ "contacts": rows, "total": total })
}

impl Filter {
    /// Reports whether the contact satisfies this condition or group.
    pub fn matches(&self, contact: &Contact) -> bool {
        match self {
            Filter::Group { all: true, filters } => filters.iter().all(|f| f.matches(contact)),
            Filter::Group {
                all: false,
                filters,
            } => filters.iter().any(|f| f.matches(contact)),
            Filter::Condition {
                field,
                operator,
                value,
            } => condition_matches(contact, *field, *operator, value),
        }
    }
}

fn condition_matches(
    contact: &Contact,
    field: Field,
    operator: Operator,
    value: &FilterValue,
) -> bool {
    match operator {
        Operator::Exists => field_exists(contact, field),
        Operator::NotExists => !field_exists(contact, field),
        Operator::Eq => equals(contact, field, value),
        Operator::NotEq => !equals(contact, field, value),
        Operator::Contains => contains(contact, field, value),
        Operator::NotContains => !contains(contact, field, value),
        Operator::Range => in_range(contact, field, value),
    }
}

fn text_of(contact: &Contact, field: Field) -> Option<&str> {
    let text = match field {
        Field::Id => Some(contact.id.as_str()),
        Field::Email => contact.email.as_deref(),
        Field::Phone => contact.phone.as_deref(),
        Field::FirstNameLowerCase => Some(contact.first_name.as_str()),
        Field::LastNameLowerCase => Some(contact.last_name.as_str()),
        Field::BusinessId => contact.business_id.as_deref(),
        Field::CompanyName => contact.company_name.as_deref(),
        Field::Source => contact.source.as_deref(),
        Field::Tags | Field::Dnd | Field::DateAdded | Field::DateUpdated => None,
    };
    text.filter(|text| !text.is_empty())
}

fn field_exists(contact: &Contact, field: Field) -> bool {
    match field {
        Field::Tags => !contact.tags.is_empty(),
        Field::Dnd | Field::DateAdded | Field::DateUpdated => true,
        _ => text_of(contact, field).is_some(),
    }
}

fn equals(contact: &Contact, field: Field, value: &FilterValue) -> bool {
    match (field, value) {
        (Field::Dnd, FilterValue::Bool(flag)) => contact.dnd == *flag,
        (Field::Tags, FilterValue::Text(tag)) => has_tag(contact, tag),
        (Field::Tags, FilterValue::TextList(tags)) => tags.iter().any(|tag| has_tag(contact, tag)),
        (Field::Phone, FilterValue::Text(text)) => {
            // Stored phones are already E.164, so only the filter value needs normalising.
            let wanted = normalize_phone(text);
            wanted.is_some() && contact.phone == wanted
        }
        // Ids compare exactly; every other text field ignores case, as GHL stores
        // lower-cased copies of names and e-mails for search.
        (Field::Id | Field::BusinessId, FilterValue::Text(text)) => {
            text_of(contact, field) == Some(text.as_str())
        }
        (_, FilterValue::Text(text)) => {
            text_of(contact, field).is_some_and(|own| own.to_lowercase() == text.to_lowercase())
        }
        _ => false,
    }
}

fn contains(contact: &Contact, field: Field, value: &FilterValue) -> bool {
    match (field, value) {
        (Field::Tags, FilterValue::Text(part)) => {
            let part = part.to_lowercase();
            contact
                .tags
                .iter()
                .any(|tag| tag.to_lowercase().contains(&part))
        }
        (Field::Tags, FilterValue::TextList(tags)) => tags.iter().any(|tag| has_tag(contact, tag)),
        (Field::Phone, FilterValue::Text(text)) => {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            let own: String = contact
                .phone
                .as_deref()
                .unwrap_or_default()
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            !digits.is_empty() && own.contains(&digits)
        }
        (_, FilterValue::Text(text)) => text_of(contact, field)
            .is_some_and(|own| own.to_lowercase().contains(&text.to_lowercase())),
        _ => false,
    }
}

fn has_tag(contact: &Contact, wanted: &str) -> bool {
    contact
        .tags
        .iter()
        .any(|tag| tag.eq_ignore_ascii_case(wanted))
}

fn in_range(contact: &Contact, field: Field, value: &FilterValue) -> bool {
    let FilterValue::Range(range) = value else {
        return false;
    };
    let time: DateTime<Utc> = match field {
        Field::DateAdded => contact.date_added,
        Field::DateUpdated => contact.date_updated,
        _ => return false,
    };
    let millis = time.timestamp_millis();
    range.gte.is_none_or(|bound| millis >= bound)
        && range.gt.is_none_or(|bound| millis > bound)
        && range.lte.is_none_or(|bound| millis <= bound)
        && range.lt.is_none_or(|bound| millis < bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{
        ghl::store::Store,
        seed::{Dataset, GHL_LOCATION_ID},
    };

    fn parse(body: Value) -> Result<SearchRequest, Vec<String>> {
        match body {
            Value::Object(object) => parse_request(&object),
            other => panic!("test body must be an object: {other}"),
        }
    }

    fn search(store: &Store, body: Value) -> Value {
        let request = parse(body).expect("valid search body");
        execute(&request, store.contacts_in(GHL_LOCATION_ID))
    }

    fn ids(response: &Value) -> Vec<String> {
        response["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn missing_page_limit_lists_messages() {
        let errors = parse(json!({ "locationId": "x" })).unwrap_err();
        assert_eq!(errors[0], "pageLimit must not be less than 1");
        assert!(errors.contains(&"pageLimit must not be greater than 500".to_string()));
    }

    #[test]
    fn unknown_property_rejected() {
        let errors = parse(json!({ "locationId": "x", "pageLimit": 5, "limit": 5 })).unwrap_err();
        assert_eq!(errors, ["property limit should not exist"]);
    }

    #[test]
    fn page_window_limited() {
        let errors = parse(json!({ "locationId": "x", "pageLimit": 500, "page": 21 })).unwrap_err();
        assert!(errors[0].starts_with("page * pageLimit must not be greater than 10000"));
        assert!(parse(json!({ "locationId": "x", "pageLimit": 500, "page": 20 })).is_ok());
    }

    #[test]
    fn query_length_limited() {
        let long = "a".repeat(76);
        let errors =
            parse(json!({ "locationId": "x", "pageLimit": 5, "query": long })).unwrap_err();
        assert_eq!(
            errors,
            ["query must be shorter than or equal to 75 characters"]
        );
    }

    #[test]
    fn filter_errors_name_path() {
        let errors = parse(json!({
            "locationId": "x",
            "pageLimit": 5,
            "filters": [
                { "field": "nickname", "operator": "eq", "value": "a" },
                { "group": "OR", "filters": [{ "field": "dnd", "operator": "contains", "value": true }] },
                { "field": "email", "operator": "exists", "value": "a" },
            ]
        }))
        .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("filters.0.field \"nickname\" is not a supported"));
        assert!(errors[1].starts_with("filters.1.filters.0.operator contains is not supported"));
        assert_eq!(
            errors[2],
            "filters.2.value should not exist for operator exists"
        );
    }

    #[test]
    fn search_after_combined_with_page_rejected() {
        let errors = parse(json!({
            "locationId": "x", "pageLimit": 5, "page": 1, "searchAfter": [1, "a"]
        }))
        .unwrap_err();
        assert_eq!(
            errors,
            ["searchAfter cannot be combined with page; send one of them"]
        );
    }

    #[test]
    fn search_after_shape_checked() {
        let errors =
            parse(json!({ "locationId": "x", "pageLimit": 5, "searchAfter": ["a"] })).unwrap_err();
        assert!(errors[0].starts_with("searchAfter must be the searchAfter array"));
    }

    #[test]
    fn email_filter_ignores_case() {
        let store = Store::seeded(&Dataset::default());
        let contact = store.contacts_in(GHL_LOCATION_ID)[3];
        let email = contact.email.clone().unwrap().to_uppercase();
        let response = search(
            &store,
            json!({
                "locationId": GHL_LOCATION_ID, "pageLimit": 10,
                "filters": [{ "field": "email", "operator": "eq", "value": email }]
            }),
        );
        assert_eq!(ids(&response), std::slice::from_ref(&contact.id));
        assert_eq!(response["total"], 1);
    }

    #[test]
    fn phone_filter_normalises() {
        let store = Store::seeded(&Dataset::default());
        let contact = store
            .contacts_in(GHL_LOCATION_ID)
            .into_iter()
            .find(|c| c.phone.is_some())
            .unwrap();
        let national = &contact.phone.as_deref().unwrap()[2..];
        let typed = format!("{}-{}-{}", &national[..3], &national[3..6], &national[6..]);
        let response = search(
            &store,
            json!({
                "locationId": GHL_LOCATION_ID, "pageLimit": 10,
                "filters": [{ "field": "phone", "operator": "eq", "value": typed }]
            }),
        );
        assert_eq!(ids(&response), std::slice::from_ref(&contact.id));
    }

    #[test]
    fn or_group_unions_conditions() {
        let store = Store::seeded(&Dataset::default());
        let contacts = store.contacts_in(GHL_LOCATION_ID);
        let (first, second) = (contacts[0].id.clone(), contacts[1].id.clone());
        let response = search(
            &store,
            json!({
                "locationId": GHL_LOCATION_ID, "pageLimit": 10,
                "filters": [{ "group": "OR", "filters": [
                    { "field": "id", "operator": "eq", "value": first },
                    { "field": "id", "operator": "eq", "value": second },
                ]}]
            }),
        );
        assert_eq!(ids(&response), [first, second]);
    }

    #[test]
    fn dnd_and_tags_filters() {
        let store = Store::seeded(&Dataset::default());
        let contacts = store.contacts_in(GHL_LOCATION_ID);
        let dnd_count = contacts.iter().filter(|c| c.dnd).count();
        let housing = contacts
            .iter()
            .filter(|c| c.tags.iter().any(|t| t == "housing"))
            .count();
        let response = search(
            &store,
            json!({
                "locationId": GHL_LOCATION_ID, "pageLimit": 500,
                "filters": [{ "field": "dnd", "operator": "eq", "value": true }]
            }),
        );
        assert!(dnd_count > 0);
        assert_eq!(response["total"], dnd_count);
        let response = search(
            &store,
            json!({
                "locationId": GHL_LOCATION_ID, "pageLimit": 500,
                "filters": [{ "field": "tags", "operator": "eq", "value": ["housing"] }]
            }),
        );
        assert!(housing > 0);
        assert_eq!(response["total"], housing);
    }

    #[test]
    fn date_range_filter() {
        let store = Store::seeded(&Dataset::default());
        let contacts = store.contacts_in(GHL_LOCATION_ID);
        let pivot = contacts[10].date_added.timestamp_millis();
        let response = search(
            &store,
            json!({
                "locationId": GHL_LOCATION_ID, "pageLimit": 500,
                "filters": [{ "field": "dateAdded", "operator": "range", "value": { "lt": pivot } }]
            }),
        );
        assert_eq!(response["total"], 10);
    }

    #[test]
    fn search_after_walks_custom_sort() {
        let store = Store::seeded(&Dataset::default());
        let expected = store.contacts_in(GHL_LOCATION_ID).len();
        let sort = json!([{ "field": "lastNameLowerCase", "direction": "desc" }]);
        let mut seen = Vec::new();
        let mut cursor: Option<Value> = None;
        loop {
            let mut body = json!({ "locationId": GHL_LOCATION_ID, "pageLimit": 7, "sort": sort });
            if let Some(cursor) = &cursor {
                body["searchAfter"] = cursor.clone();
            }
            let response = search(&store, body);
            let rows = response["contacts"].as_array().unwrap().clone();
            if rows.is_empty() {
                break;
            }
            cursor = Some(rows.last().unwrap()["searchAfter"].clone());
            seen.extend(ids(&response));
        }
        assert_eq!(seen.len(), expected);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), expected);
    }
}
