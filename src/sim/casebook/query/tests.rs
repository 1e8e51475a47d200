//! Unit tests of the query-language parser.

use super::*;
use crate::sim::casebook::schema::{NOTES, PEOPLE, TASKS};

const STRICT: ParseOptions = ParseOptions {
    max_page_size: 100,
    strict: true,
};
const LENIENT: ParseOptions = ParseOptions {
    max_page_size: 100,
    strict: false,
};

fn collection(schema: &'static ResourceSchema, raw: &str) -> Result<Query, QueryError> {
    parse(raw, schema, Target::Collection, STRICT)
}

fn rejected(schema: &'static ResourceSchema, raw: &str) -> QueryError {
    match collection(schema, raw) {
        Ok(query) => panic!("query '{raw}' was accepted as {query:?}"),
        Err(error) => error,
    }
}

/// Extracts the single comparison a query parsed to.
fn comparison(query: &Query) -> (Path, Op, Vec<Operand>) {
    match &query.filter {
        Filter::Compare { path, op, operands } => (*path, *op, operands.clone()),
        other => panic!("expected one comparison, got {other:?}"),
    }
}

fn text(value: &str) -> Operand {
    Operand::Value(Value::Text(value.to_string()))
}

#[test]
fn empty_query_uses_defaults() {
    let query = collection(&PEOPLE, "").unwrap();
    assert!(matches!(query.filter, Filter::All));
    assert!(query.sort.is_empty());
    assert!(query.include.is_empty());
    assert!(query.fields.is_empty());
    assert_eq!(
        query.page,
        Page {
            style: PageStyle::Offset,
            offset: 0,
            limit: 10
        }
    );
}

#[test]
fn bracket_filter_defaults_to_eq() {
    let query = collection(&PEOPLE, "filter[first_name]=Ada").unwrap();
    let (path, op, operands) = comparison(&query);
    assert_eq!(path.field, Field::Attribute("first_name"));
    assert!(path.relationship.is_none());
    assert_eq!(op, Op::Eq);
    assert_eq!(operands, vec![text("Ada")]);
}

#[test]
fn comma_list_with_null_literal() {
    let query = collection(&PEOPLE, "filter[email]=a@example.org,null").unwrap();
    let (_, _, operands) = comparison(&query);
    assert_eq!(operands, vec![text("a@example.org"), Operand::Null]);
}

#[test]
fn every_operator_is_parsed() {
    for (name, op) in [
        ("EQ", Op::Eq),
        ("NEQ", Op::Neq),
        ("LIKE", Op::Like),
        ("GT", Op::Gt),
        ("GE", Op::Ge),
        ("LT", Op::Lt),
        ("LE", Op::Le),
    ] {
        let raw = format!("filter[last_name][{name}]=Chen");
        let query = collection(&PEOPLE, &raw).unwrap();
        assert_eq!(comparison(&query).1, op, "operator {name}");
    }
}

#[test]
fn lower_case_operator_is_rejected() {
    let error = rejected(&PEOPLE, "filter[first_name][like]=%25a%25");
    assert_eq!(error.parameter, "filter[first_name][like]");
    assert!(error.detail.contains("EQ, NEQ, LIKE"), "{}", error.detail);
}

#[test]
fn date_time_values_are_typed() {
    let query = collection(
        &PEOPLE,
        "filter[created_at][GE]=2025-03-04T15:00:00%2B01:00",
    )
    .unwrap();
    let (_, _, operands) = comparison(&query);
    let expected = chrono::DateTime::parse_from_rfc3339("2025-03-04T14:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(operands, vec![Operand::Value(Value::DateTime(expected))]);
}

#[test]
fn bad_date_value_names_the_format() {
    let error = rejected(&PEOPLE, "filter[date_of_birth]=04/03/1990");
    assert_eq!(error.parameter, "filter[date_of_birth]");
    assert!(error.detail.contains("YYYY-MM-DD"), "{}", error.detail);

    let error = rejected(&TASKS, "filter[due_at][LT]=tomorrow");
    assert!(error.detail.contains("RFC 3339"), "{}", error.detail);
}

#[test]
fn like_keeps_dates_as_patterns() {
    let query = collection(&PEOPLE, "filter[date_of_birth][LIKE]=1990-%25").unwrap();
    assert_eq!(comparison(&query).2, vec![text("1990-%")]);
}

#[test]
fn null_with_ordering_operator_is_rejected() {
    let error = rejected(&PEOPLE, "filter[email][GT]=null");
    assert!(error.detail.contains("EQ or NEQ"), "{}", error.detail);
    let error = rejected(&PEOPLE, "filter[email][LIKE]=null");
    assert!(
        error.detail.contains("LIKE needs a value"),
        "{}",
        error.detail
    );
}

#[test]
fn relationship_paths_resolve() {
    let query = collection(&NOTES, "filter[people.id]=a,b").unwrap();
    let (path, op, operands) = comparison(&query);
    assert_eq!(path.relationship.map(|r| r.name), Some("people"));
    assert_eq!(path.field, Field::Id);
    assert_eq!(op, Op::Eq);
    assert_eq!(operands, vec![text("a"), text("b")]);

    let query = collection(&TASKS, "filter[person.last_name][LIKE]=Ch%25").unwrap();
    let (path, _, _) = comparison(&query);
    assert_eq!(path.relationship.map(|r| r.name), Some("person"));
    assert_eq!(path.field, Field::Attribute("last_name"));
}

#[test]
fn unknown_paths_are_rejected_with_the_accepted_list() {
    let error = rejected(&PEOPLE, "filter[firstname]=Ada");
    assert_eq!(error.parameter, "filter[firstname]");
    assert!(error.detail.contains("first_name"), "{}", error.detail);

    let error = rejected(&NOTES, "filter[person.id]=x");
    assert!(error.detail.contains("people.id"), "{}", error.detail);

    let error = rejected(&TASKS, "filter[person.shoe_size]=x");
    assert_eq!(error.parameter, "filter[person.shoe_size]");
}

#[test]
fn extra_filter_segments_are_rejected() {
    let error = rejected(&PEOPLE, "filter[first_name][EQ][x]=Ada");
    assert_eq!(error.parameter, "filter[first_name][EQ][x]");
}

#[test]
fn several_filters_are_and_ed() {
    let query = collection(&PEOPLE, "filter[first_name]=Ada&filter[last_name]=Chen").unwrap();
    match query.filter {
        Filter::And(parts) => assert_eq!(parts.len(), 2),
        other => panic!("expected AND, got {other:?}"),
    }
}

#[test]
fn json_filter_parses_nested_expressions() {
    let raw = r#"{"OR":[{"first_name":{"LIKE":"%an%"}},{"email":{"LIKE":"%an%"}}],"NOT":{"last_name":"Chen"}}"#;
    let encoded: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
    let query = collection(&PEOPLE, &format!("filter={encoded}")).unwrap();
    let Filter::And(parts) = query.filter else {
        panic!("expected the two members to be AND-ed");
    };
    // The members may come back in any order, because JSON objects are unordered.
    assert_eq!(parts.len(), 2);
    assert!(
        parts
            .iter()
            .any(|part| matches!(part, Filter::Or(inner) if inner.len() == 2))
    );
    assert!(parts.iter().any(|part| matches!(part, Filter::Not(_))));
}

#[test]
fn json_filter_accepts_nested_relationship_objects() {
    let raw = r#"{"people":{"id":["a","b"]}}"#;
    let encoded: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
    let query = collection(&NOTES, &format!("filter={encoded}")).unwrap();
    let (path, op, operands) = comparison(&query);
    assert_eq!(path.relationship.map(|r| r.name), Some("people"));
    assert_eq!(op, Op::Eq);
    assert_eq!(operands, vec![text("a"), text("b")]);
}

#[test]
fn json_filter_errors_name_the_parameter() {
    for raw in [
        "{not json",
        "[]",
        "{}",
        r#"{"OR":[]}"#,
        r#"{"nickname":"x"}"#,
        r#"{"first_name":{"SOUNDS_LIKE":"x"}}"#,
        r#"{"first_name":42}"#,
        r#"{"OR":"x"}"#,
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
        let error = rejected(&PEOPLE, &format!("filter={encoded}"));
        assert_eq!(error.parameter, "filter", "filter {raw}");
        assert!(!error.detail.is_empty(), "filter {raw}");
    }
}

#[test]
fn sort_reads_direction_and_fields() {
    let query = collection(&PEOPLE, "sort=last_name,-created_at,id").unwrap();
    assert_eq!(
        query.sort,
        vec![
            SortKey {
                field: Field::Attribute("last_name"),
                descending: false
            },
            SortKey {
                field: Field::Attribute("created_at"),
                descending: true
            },
            SortKey {
                field: Field::Id,
                descending: false
            },
        ]
    );
}

#[test]
fn sort_rejects_unknown_and_empty_fields() {
    let error = rejected(&PEOPLE, "sort=-nickname");
    assert_eq!(error.parameter, "sort");
    assert!(error.detail.contains("nickname"), "{}", error.detail);
    let error = rejected(&PEOPLE, "sort=last_name,");
    assert!(error.detail.contains("empty field"), "{}", error.detail);
}

#[test]
fn number_paging_converts_to_offset() {
    let query = collection(&PEOPLE, "page[number]=3&page[size]=25").unwrap();
    assert_eq!(
        query.page,
        Page {
            style: PageStyle::Number,
            offset: 50,
            limit: 25
        }
    );
}

#[test]
fn paging_limits_are_enforced() {
    for (raw, parameter) in [
        ("page[limit]=101", "page[limit]"),
        ("page[size]=0", "page[size]"),
        ("page[number]=0", "page[number]"),
        ("page[offset]=-1", "page[offset]"),
        ("page[offset]=ten", "page[offset]"),
        ("page[offset]=0&page[size]=5", "page[size]"),
        ("page[limit]=5&page[limit]=6", "page[limit]"),
        ("page[cursor]=abc", "page[cursor]"),
    ] {
        let error = rejected(&PEOPLE, raw);
        assert_eq!(error.parameter, parameter, "query {raw}");
    }
}

#[test]
fn smaller_maximum_caps_the_default_page() {
    let options = ParseOptions {
        max_page_size: 4,
        strict: true,
    };
    let query = parse("", &PEOPLE, Target::Collection, options).unwrap();
    assert_eq!(query.page.limit, 4);
    let error = parse("page[limit]=5", &PEOPLE, Target::Collection, options).unwrap_err();
    assert!(error.detail.contains("from 1 to 4"), "{}", error.detail);
}

#[test]
fn include_and_fields_are_checked() {
    let query = collection(&NOTES, "include=people&fields[people]=first_name,email").unwrap();
    assert_eq!(query.include.len(), 1);
    assert_eq!(
        query.fields.get("people"),
        Some(&vec!["first_name".to_string(), "email".to_string()])
    );

    assert_eq!(rejected(&PEOPLE, "include=notes").parameter, "include");
    assert_eq!(
        rejected(&NOTES, "include=people.tasks").parameter,
        "include"
    );
    assert_eq!(
        rejected(&PEOPLE, "fields[persons]=email").parameter,
        "fields[persons]"
    );
    assert_eq!(
        rejected(&PEOPLE, "fields[people]=shoe_size").parameter,
        "fields[people]"
    );
    assert_eq!(rejected(&PEOPLE, "sort=id&sort=email").parameter, "sort");
}

#[test]
fn empty_fieldset_selects_no_fields() {
    let query = collection(&TASKS, "fields[tasks]=").unwrap();
    assert_eq!(query.fields.get("tasks"), Some(&Vec::new()));
}

#[test]
fn unknown_parameter_is_rejected_when_strict() {
    let error = rejected(&PEOPLE, "q=ada");
    assert_eq!(error.parameter, "q");
    assert!(error.detail.contains("page[offset]"), "{}", error.detail);
}

#[test]
fn lenient_mode_ignores_unknown_names() {
    let raw = "q=ada&filter[nickname]=x&sort=nickname&include=notes&fields[people]=shoe_size";
    let query = parse(raw, &PEOPLE, Target::Collection, LENIENT).unwrap();
    assert!(matches!(query.filter, Filter::All));
    assert!(query.sort.is_empty());
    assert!(query.include.is_empty());
    assert_eq!(query.fields.get("people"), Some(&Vec::new()));

    // Unknown operators and bad values stay errors in lenient mode.
    let error = parse(
        "filter[email][ILIKE]=x",
        &PEOPLE,
        Target::Collection,
        LENIENT,
    );
    assert!(error.is_err());
}

#[test]
fn single_resource_accepts_only_include_and_fields() {
    let query = parse(
        "include=person&fields[tasks]=title",
        &TASKS,
        Target::Single,
        STRICT,
    )
    .unwrap();
    assert_eq!(query.include.len(), 1);
    for raw in ["filter[title]=x", "sort=title", "page[limit]=5"] {
        let error = parse(raw, &TASKS, Target::Single, STRICT).unwrap_err();
        assert!(
            error.detail.contains("collections only"),
            "{}",
            error.detail
        );
    }
}

#[test]
fn bracket_segments_split_names() {
    assert_eq!(
        bracket_segments("filter[a.b][LIKE]", "filter"),
        Some(vec!["a.b", "LIKE"])
    );
    assert_eq!(bracket_segments("filter", "filter"), None);
    assert_eq!(bracket_segments("filter[a", "filter"), None);
    assert_eq!(bracket_segments("filters[a]", "filter"), None);
    assert_eq!(bracket_segments("filter[a]x", "filter"), None);
}
