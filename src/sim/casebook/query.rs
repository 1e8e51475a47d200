//! Parser for the crnk-style JSON:API query language that the Casebook simulator accepts.
//!
//! Accepted parameters on a collection:
//! - `filter[<path>]=v` (EQ) and `filter[<path>][<OP>]=v` with OP one of EQ, NEQ, LIKE,
//!   GT, GE, LT, LE. A comma-separated value means any of the values, and the literal
//!   `null` means null. A path is an attribute, `id`, or `<relationship>.<attribute|id>`.
//! - `filter=<JSON>` with nested `AND`, `OR` and `NOT` and leaves written
//!   `{"<path>": {"<OP>": value}}` or `{"<path>": value}`. Arrays mean any of.
//! - `sort=a,-b`, where a leading minus sorts descending.
//! - `page[offset]`/`page[limit]` or `page[number]`/`page[size]` (1-based), not mixed.
//! - `include=<relationship>,...` and `fields[<type>]=a,b`.
//!
//! Several filter parameters are AND-ed. A single-resource GET accepts only `include`
//! and `fields[<type>]`.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use super::schema::{self, AttrKind, RelationshipSchema, ResourceSchema, Value};
use crate::upstream::casebook::names::filter_op;

/// Page size used when the request names none, as Casebook documents.
pub const DEFAULT_PAGE_SIZE: u64 = 10;

const ACCEPTED_COLLECTION_PARAMETERS: &str = "filter, filter[<path>], filter[<path>][<operator>], \
     sort, include, fields[<type>], page[offset] with page[limit], page[number] with page[size]";
const ACCEPTED_OPERATORS: &str = "EQ, NEQ, LIKE, GT, GE, LT, LE";

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Like,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    /// Reads an operator as crnk spells it (upper case).
    pub fn from_name(name: &str) -> Option<Op> {
        let op = match name {
            filter_op::EQ => Op::Eq,
            filter_op::NEQ => Op::Neq,
            filter_op::LIKE => Op::Like,
            filter_op::GT => Op::Gt,
            filter_op::GE => Op::Ge,
            filter_op::LT => Op::Lt,
            filter_op::LE => Op::Le,
            _ => return None,
        };
        Some(op)
    }

    /// Returns the operator as crnk spells it.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => filter_op::EQ,
            Op::Neq => filter_op::NEQ,
            Op::Like => filter_op::LIKE,
            Op::Gt => filter_op::GT,
            Op::Ge => filter_op::GE,
            Op::Lt => filter_op::LT,
            Op::Le => filter_op::LE,
        }
    }
}

/// The field a path ends at: the resource id or an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    Attribute(&'static str),
}

/// A filter path: a field of the resource itself, or of the resources it links to.
#[derive(Debug, Clone, Copy)]
pub struct Path {
    pub relationship: Option<&'static RelationshipSchema>,
    pub field: Field,
}

/// One value to compare with. LIKE patterns are stored as `Value::Text`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Null,
    Value(Value),
}

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Matches every record.
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// Compares the values at `path` with `operands` (any of them).
    Compare {
        path: Path,
        op: Op,
        operands: Vec<Operand>,
    },
}

/// One sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: Field,
    pub descending: bool,
}

/// The pagination parameter pair a request used, kept so links use the same pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStyle {
    /// `page[offset]` and `page[limit]`, crnk's default.
    Offset,
    /// `page[number]` (1-based) and `page[size]`.
    Number,
}

/// The requested page, expressed as an offset and a limit whatever the style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub style: PageStyle,
    pub offset: u64,
    pub limit: u64,
}

/// What the request targets, which decides the parameters it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Collection,
    Single,
}

/// Limits and strictness of the parser.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions {
    /// Largest accepted page size.
    pub max_page_size: u32,
    /// Reject unknown parameters and unknown names with 400 when true, and ignore them
    /// when false.
    pub strict: bool,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    pub filter: Filter,
    pub sort: Vec<SortKey>,
    pub page: Page,
    /// Relationships whose resources go into `included`.
    pub include: Vec<&'static RelationshipSchema>,
    /// Sparse fieldsets: the attribute and relationship names to render, by type name.
    pub fields: HashMap<&'static str, Vec<String>>,
}

/// A rejected query parameter, rendered as a 400 with `source.parameter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// The parameter name as the request wrote it, such as `filter[email][LIKE]`.
    pub parameter: String,
    /// Explanation of the problem and of the accepted values.
    pub detail: String,
}

impl QueryError {
    fn new(parameter: &str, detail: impl Into<String>) -> QueryError {
        QueryError {
            parameter: parameter.to_string(),
            detail: detail.into(),
        }
    }
}

/// An unknown name: rejected in strict mode and skipped otherwise.
enum Lookup<T> {
    Found(T),
    Unknown(String),
}

/// Parses a raw (still percent-encoded) query string for a request on `schema`.
pub fn parse(
    raw_query: &str,
    schema: &'static ResourceSchema,
    target: Target,
    options: ParseOptions,
) -> Result<Query, QueryError> {
    let mut parser = Parser {
        schema,
        target,
        options,
        filters: Vec::new(),
        sort: None,
        include: None,
        fields: HashMap::new(),
        page: PageParams::default(),
    };
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        parser.accept(&name, &value)?;
    }
    parser.finish()
}

#[derive(Default)]
struct PageParams {
    offset: Option<u64>,
    limit: Option<u64>,
    number: Option<u64>,
    size: Option<u64>,
    /// The first parameter seen, to name the conflict when styles are mixed.
    first: Option<(String, PageStyle)>,
}

struct Parser {
    schema: &'static ResourceSchema,
    target: Target,
    options: ParseOptions,
    filters: Vec<Filter>,
    sort: Option<Vec<SortKey>>,
    include: Option<Vec<&'static RelationshipSchema>>,
    fields: HashMap<&'static str, Vec<String>>,
    page: PageParams,
}

impl Parser {
    fn accept(&mut self, name: &str, value: &str) -> Result<(), QueryError> {
        let collection_only = name == "filter"
            || name.starts_with("filter[")
            || name == "sort"
            || name.starts_with("page[");
        if collection_only && self.target == Target::Single {
            return self.unknown(
                name,
                format!(
                    "Parameter '{name}' applies to collections only. \
                     A single {} resource accepts include and fields[<type>].",
                    self.schema.type_name()
                ),
            );
        }

        if name == "filter" {
            let filter = self.json_filter(name, value)?;
            self.filters.push(filter);
        } else if let Some(segments) = bracket_segments(name, "filter") {
            let filter = self.bracket_filter(name, &segments, value)?;
            self.filters.push(filter);
        } else if name == "sort" {
            if self.sort.is_some() {
                return Err(given_twice(name));
            }
            self.sort = Some(self.sort_keys(name, value)?);
        } else if name == "include" {
            if self.include.is_some() {
                return Err(given_twice(name));
            }
            self.include = Some(self.includes(name, value)?);
        } else if let Some(segments) = bracket_segments(name, "fields") {
            self.fieldset(name, &segments, value)?;
        } else if let Some(segments) = bracket_segments(name, "page") {
            self.page_param(name, &segments, value)?;
        } else {
            let accepted = match self.target {
                Target::Collection => ACCEPTED_COLLECTION_PARAMETERS,
                Target::Single => "include, fields[<type>]",
            };
            return self.unknown(
                name,
                format!("Unknown query parameter '{name}'. Accepted parameters: {accepted}."),
            );
        }
        Ok(())
    }

    /// Rejects an unknown name in strict mode and ignores it otherwise.
    fn unknown(&self, parameter: &str, detail: String) -> Result<(), QueryError> {
        if self.options.strict {
            Err(QueryError::new(parameter, detail))
        } else {
            Ok(())
        }
    }

    fn bracket_filter(
        &self,
        name: &str,
        segments: &[&str],
        value: &str,
    ) -> Result<Filter, QueryError> {
        let (path_text, op) = match segments {
            [path] => (*path, Op::Eq),
            [path, op_name] => match Op::from_name(op_name) {
                Some(op) => (*path, op),
                None => {
                    return Err(QueryError::new(
                        name,
                        format!(
                            "Unknown filter operator '{op_name}'. Accepted operators: \
                             {ACCEPTED_OPERATORS} (upper case). To filter on a related \
                             resource, write the path with a dot, as in filter[person.id]."
                        ),
                    ));
                }
            },
            _ => {
                return Err(QueryError::new(
                    name,
                    "A filter parameter is written filter[<path>] or \
                     filter[<path>][<operator>]; dotted paths reach related resources.",
                ));
            }
        };

        let path = match resolve_path(self.schema, path_text) {
            Lookup::Found(path) => path,
            Lookup::Unknown(detail) => {
                self.unknown(name, detail)?;
                return Ok(Filter::All);
            }
        };
        let operands = value
            .split(',')
            .map(|item| {
                let json = if item == "null" {
                    Json::Null
                } else {
                    Json::String(item.to_string())
                };
                operand(self.schema, &path, op, &json)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|detail| QueryError::new(name, detail))?;
        Ok(Filter::Compare { path, op, operands })
    }

    fn json_filter(&self, name: &str, value: &str) -> Result<Filter, QueryError> {
        let json: Json = serde_json::from_str(value).map_err(|error| {
            QueryError::new(
                name,
                format!(
                    "The filter parameter is not valid JSON ({error}). Write an object such as \
                     {{\"OR\":[{{\"first_name\":{{\"LIKE\":\"%an%\"}}}},{{\"email\":\"a@example.org\"}}]}}."
                ),
            )
        })?;
        self.json_expression(&json)
            .map_err(|detail| QueryError::new(name, detail))
    }

    /// Parses one JSON filter expression: an object whose members are AND-ed.
    fn json_expression(&self, json: &Json) -> Result<Filter, String> {
        let Json::Object(members) = json else {
            return Err(format!(
                "A filter expression must be a JSON object, got {json}. Use AND, OR and NOT \
                 keys or attribute paths."
            ));
        };
        if members.is_empty() {
            return Err("A filter expression must not be an empty object.".to_string());
        }
        let mut parts = Vec::with_capacity(members.len());
        for (key, member) in members {
            let part = match key.as_str() {
                "AND" => Filter::And(self.json_operands(key, member)?),
                "OR" => Filter::Or(self.json_operands(key, member)?),
                "NOT" => {
                    let inner = match member {
                        Json::Array(_) => Filter::And(self.json_operands(key, member)?),
                        _ => self.json_expression(member)?,
                    };
                    Filter::Not(Box::new(inner))
                }
                path => self.json_leaf(path, member)?,
            };
            parts.push(part);
        }
        Ok(single_or_and(parts))
    }

    /// Parses the members of AND, OR or NOT: an array of expressions or one expression.
    fn json_operands(&self, key: &str, member: &Json) -> Result<Vec<Filter>, String> {
        match member {
            Json::Array(items) if items.is_empty() => {
                Err(format!("{key} needs at least one expression, got []."))
            }
            Json::Array(items) => items
                .iter()
                .map(|item| self.json_expression(item))
                .collect(),
            Json::Object(_) => Ok(vec![self.json_expression(member)?]),
            other => Err(format!(
                "{key} takes an array of expressions or one expression, got {other}."
            )),
        }
    }

    /// Parses `"<path>": value`, `"<path>": {"<OP>": value, ...}` or, for a relationship,
    /// `"<relationship>": {"<field>": ...}`.
    fn json_leaf(&self, path_text: &str, member: &Json) -> Result<Filter, String> {
        if let (Some(relationship), Json::Object(nested)) =
            (self.schema.relationship(path_text), member)
            && !nested.keys().any(|key| Op::from_name(key).is_some())
        {
            return self.json_nested(relationship, nested);
        }

        let path = match resolve_path(self.schema, path_text) {
            Lookup::Found(path) => path,
            Lookup::Unknown(detail) if self.options.strict => return Err(detail),
            Lookup::Unknown(_) => return Ok(Filter::All),
        };
        let Json::Object(conditions) = member else {
            return json_compare(self.schema, path, Op::Eq, member);
        };
        let mut parts = Vec::with_capacity(conditions.len());
        for (op_name, operand_json) in conditions {
            let Some(op) = Op::from_name(op_name) else {
                return Err(format!(
                    "Unknown filter operator '{op_name}' on '{path_text}'. Accepted operators: \
                     {ACCEPTED_OPERATORS} (upper case)."
                ));
            };
            parts.push(json_compare(self.schema, path, op, operand_json)?);
        }
        if parts.is_empty() {
            return Err(format!(
                "The condition on '{path_text}' is an empty object; name an operator such as \
                 {{\"EQ\": \"value\"}}."
            ));
        }
        Ok(single_or_and(parts))
    }

    /// Parses `{"<field>": ...}` members under a relationship key as dotted paths.
    fn json_nested(
        &self,
        relationship: &'static RelationshipSchema,
        nested: &Map<String, Json>,
    ) -> Result<Filter, String> {
        if nested.is_empty() {
            return Err(format!(
                "The condition on '{}' is an empty object; name a field such as \
                 {{\"id\": \"...\"}}.",
                relationship.name
            ));
        }
        let mut parts = Vec::with_capacity(nested.len());
        for (field, member) in nested {
            parts.push(self.json_leaf(&format!("{}.{field}", relationship.name), member)?);
        }
        Ok(single_or_and(parts))
    }

    fn sort_keys(&self, name: &str, value: &str) -> Result<Vec<SortKey>, QueryError> {
        let mut keys = Vec::new();
        for item in value.split(',') {
            let (descending, field_name) = match item.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            if field_name.is_empty() {
                return Err(QueryError::new(
                    name,
                    format!(
                        "The sort list '{value}' has an empty field name. Write sort=a,-b with \
                         fields from: id, {}.",
                        self.schema.attribute_list()
                    ),
                ));
            }
            match self.schema.attribute(field_name) {
                Some((attribute, _)) => keys.push(SortKey {
                    field: Field::Attribute(attribute),
                    descending,
                }),
                None if field_name == "id" => keys.push(SortKey {
                    field: Field::Id,
                    descending,
                }),
                None => self.unknown(
                    name,
                    format!(
                        "Cannot sort {} by '{field_name}'. Sortable fields: id, {}.",
                        self.schema.type_name(),
                        self.schema.attribute_list()
                    ),
                )?,
            }
        }
        Ok(keys)
    }

    fn includes(
        &self,
        name: &str,
        value: &str,
    ) -> Result<Vec<&'static RelationshipSchema>, QueryError> {
        let mut relationships: Vec<&'static RelationshipSchema> = Vec::new();
        for item in value.split(',') {
            match self.schema.relationship(item) {
                Some(relationship) => {
                    if !relationships.iter().any(|r| r.name == relationship.name) {
                        relationships.push(relationship);
                    }
                }
                None => self.unknown(
                    name,
                    format!(
                        "Cannot include '{item}': {} has no such relationship. Relationships \
                         that can be included: {}.",
                        self.schema.type_name(),
                        self.schema.relationship_list()
                    ),
                )?,
            }
        }
        Ok(relationships)
    }

    fn fieldset(&mut self, name: &str, segments: &[&str], value: &str) -> Result<(), QueryError> {
        let [type_name] = segments else {
            return self.unknown(
                name,
                format!(
                    "A sparse fieldset is written fields[<type>]=a,b with a type from: {}.",
                    schema::type_list()
                ),
            );
        };
        let Some(fields_schema) = schema::by_type(type_name) else {
            return self.unknown(
                name,
                format!(
                    "Unknown resource type '{type_name}'. Types: {}.",
                    schema::type_list()
                ),
            );
        };
        if self.fields.contains_key(fields_schema.type_name()) {
            return Err(given_twice(name));
        }

        let mut selected = Vec::new();
        for item in value.split(',').filter(|item| !item.is_empty()) {
            let known = fields_schema.attribute(item).is_some()
                || fields_schema.relationship(item).is_some();
            if known {
                selected.push(item.to_string());
            } else {
                self.unknown(
                    name,
                    format!(
                        "{type_name} has no field '{item}'. Attributes: {}. Relationships: {}. \
                         The id and type are always returned.",
                        fields_schema.attribute_list(),
                        fields_schema.relationship_list()
                    ),
                )?;
            }
        }
        self.fields.insert(fields_schema.type_name(), selected);
        Ok(())
    }

    fn page_param(&mut self, name: &str, segments: &[&str], value: &str) -> Result<(), QueryError> {
        let max = u64::from(self.options.max_page_size);
        let (style, slot, minimum, maximum, meaning) = match segments {
            ["offset"] => (
                PageStyle::Offset,
                &mut self.page.offset,
                0,
                u64::MAX,
                "an offset",
            ),
            ["limit"] => (
                PageStyle::Offset,
                &mut self.page.limit,
                1,
                max,
                "a page size",
            ),
            ["number"] => (
                PageStyle::Number,
                &mut self.page.number,
                1,
                u64::MAX,
                "a page number",
            ),
            ["size"] => (
                PageStyle::Number,
                &mut self.page.size,
                1,
                max,
                "a page size",
            ),
            _ => {
                return self.unknown(
                    name,
                    format!(
                        "Unknown paging parameter '{name}'. Use page[offset] with page[limit], \
                         or page[number] with page[size]."
                    ),
                );
            }
        };
        if slot.is_some() {
            return Err(given_twice(name));
        }
        let parsed = value
            .parse::<u64>()
            .ok()
            .filter(|number| (minimum..=maximum).contains(number));
        let Some(parsed) = parsed else {
            let range = if maximum == u64::MAX {
                format!("a whole number of at least {minimum}")
            } else {
                format!("a whole number from {minimum} to {maximum}")
            };
            return Err(QueryError::new(
                name,
                format!("Invalid value '{value}' for {name}: {meaning} must be {range}."),
            ));
        };
        *slot = Some(parsed);

        match &self.page.first {
            None => self.page.first = Some((name.to_string(), style)),
            Some((first_name, first_style)) if *first_style != style => {
                return Err(QueryError::new(
                    name,
                    format!(
                        "{name} cannot be combined with {first_name}. Use page[offset] with \
                         page[limit], or page[number] with page[size]."
                    ),
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Query, QueryError> {
        let default_size = DEFAULT_PAGE_SIZE.min(u64::from(self.options.max_page_size.max(1)));
        let style = self
            .page
            .first
            .as_ref()
            .map_or(PageStyle::Offset, |(_, style)| *style);
        let page = match style {
            PageStyle::Offset => Page {
                style,
                offset: self.page.offset.unwrap_or(0),
                limit: self.page.limit.unwrap_or(default_size),
            },
            PageStyle::Number => {
                let limit = self.page.size.unwrap_or(default_size);
                let number = self.page.number.unwrap_or(1);
                Page {
                    style,
                    offset: (number - 1).saturating_mul(limit),
                    limit,
                }
            }
        };
        Ok(Query {
            filter: single_or_and(self.filters),
            sort: self.sort.unwrap_or_default(),
            page,
            include: self.include.unwrap_or_default(),
            fields: self.fields,
        })
    }
}

fn given_twice(name: &str) -> QueryError {
    QueryError::new(
        name,
        format!("Parameter '{name}' is given more than once; give it once."),
    )
}

/// Folds a list of filters into one, AND-ing two or more.
fn single_or_and(mut parts: Vec<Filter>) -> Filter {
    match parts.len() {
        0 => Filter::All,
        1 => parts.remove(0),
        _ => Filter::And(parts),
    }
}

/// Splits `prefix[a][b]` into `["a", "b"]`, or returns `None` when the name is not of
/// that form.
fn bracket_segments<'a>(name: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let mut rest = name.strip_prefix(prefix)?;
    if rest.is_empty() {
        return None;
    }
    let mut segments = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        segments.push(&inner[..end]);
        rest = &inner[end + 1..];
    }
    Some(segments)
}

/// Resolves a filter path: an attribute, `id`, or `<relationship>.<attribute|id>`.
fn resolve_path(schema: &'static ResourceSchema, text: &str) -> Lookup<Path> {
    let (relationship, field_text, field_schema) = match text.split_once('.') {
        None => (None, text, schema),
        Some((relationship_name, field_text)) => {
            let Some(relationship) = schema.relationship(relationship_name) else {
                return Lookup::Unknown(unknown_path_detail(schema, text));
            };
            let Some(target) = schema::by_type(relationship.target.type_name) else {
                return Lookup::Unknown(unknown_path_detail(schema, text));
            };
            (Some(relationship), field_text, target)
        }
    };
    let field = if field_text == "id" {
        Field::Id
    } else if let Some((attribute, _)) = field_schema.attribute(field_text) {
        Field::Attribute(attribute)
    } else {
        return Lookup::Unknown(unknown_path_detail(schema, text));
    };
    Lookup::Found(Path {
        relationship,
        field,
    })
}

fn unknown_path_detail(schema: &ResourceSchema, text: &str) -> String {
    let mut detail = format!(
        "{} has no attribute path '{text}'. Paths: id, {}",
        schema.type_name(),
        schema.attribute_list()
    );
    for relationship in schema.relationships {
        detail.push_str(&format!(
            ", {0}.id, {0}.<{1} attribute>",
            relationship.name, relationship.target.type_name
        ));
    }
    detail.push('.');
    detail
}

/// Returns the kind of the field a path ends at.
fn path_kind(schema: &ResourceSchema, path: &Path) -> AttrKind {
    let field_schema = path
        .relationship
        .and_then(|relationship| schema::by_type(relationship.target.type_name))
        .unwrap_or(schema);
    match path.field {
        Field::Id => AttrKind::Text,
        Field::Attribute(name) => field_schema
            .attribute(name)
            .map_or(AttrKind::Text, |(_, kind)| kind),
    }
}

/// Parses one operand for `op` on `path`. A JSON `null` is the null operand.
fn operand(schema: &ResourceSchema, path: &Path, op: Op, json: &Json) -> Result<Operand, String> {
    let text = match json {
        Json::Null if matches!(op, Op::Eq | Op::Neq) => return Ok(Operand::Null),
        Json::Null => {
            return Err(format!(
                "{} needs a value; null can only be compared with EQ or NEQ.",
                op.name()
            ));
        }
        Json::String(text) => text,
        other => {
            return Err(format!(
                "Filter values must be strings or null, got {other}. Quote numbers and dates."
            ));
        }
    };
    if op == Op::Like {
        return Ok(Operand::Value(Value::Text(text.clone())));
    }
    path_kind(schema, path).parse(text).map(Operand::Value)
}

/// Builds a comparison from a JSON leaf value: a string, null, or an array of those.
fn json_compare(
    schema: &ResourceSchema,
    path: Path,
    op: Op,
    member: &Json,
) -> Result<Filter, String> {
    let operands = match member {
        Json::Array(items) if items.is_empty() => {
            return Err(format!("{} needs at least one value, got [].", op.name()));
        }
        Json::Array(items) => items
            .iter()
            .map(|item| operand(schema, &path, op, item))
            .collect::<Result<Vec<_>, _>>()?,
        single => vec![operand(schema, &path, op, single)?],
    };
    Ok(Filter::Compare { path, op, operands })
}

#[cfg(test)]
mod tests;
