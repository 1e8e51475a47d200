//! Checks the GHL client's response models against the published OpenAPI files.
//!
//! For every route the client calls, the test builds an example response from the
//! route's 200/201 schema. It resolves `$ref`s, across files too. Each property takes
//! its `example` (or the first of `examples`), arrays get one item built from `items`,
//! and objects recurse. The document is then deserialized into the client's envelope
//! and the key fields are compared with the example values. Whole-response examples
//! declared on these routes are deserialized the same way.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use casebook_ghl_gateway::upstream::ghl::{
    AppointmentListResponse, AppointmentResponse, ContactResponse, GhlContact,
    ListContactsResponse, NoteListResponse, NoteResponse, SearchContactsResponse, TaskListResponse,
    TaskResponse,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Maximum `$ref` depth followed while building an example; deeper schemas are cut off.
const MAX_DEPTH: usize = 24;

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/specs")
}

/// Where a route's response schema comes from.
#[derive(Clone, Copy, Debug)]
enum Schema {
    /// The route's own 200 or 201 response in its spec file.
    Declared,
    /// The route declares no schema; use this named schema from
    /// `search-contacts-response.json`, whose refs resolve against contacts.json.
    SearchFile(&'static str),
    /// Neither the spec nor the search file describes the response.
    Undeclared,
}

/// How to deserialize and check one route's response.
#[derive(Clone, Copy, Debug)]
enum Check {
    Contact,
    ContactList,
    Search,
    TaskList,
    Task,
    NoteList,
    Note,
    AppointmentList,
    Appointment,
}

struct Endpoint {
    file: &'static str,
    method: &'static str,
    path: &'static str,
    schema: Schema,
    check: Check,
}

/// The routes `GhlClient` calls.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/{contactId}",
        schema: Schema::Declared,
        check: Check::Contact,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "post",
        path: "/contacts/search",
        schema: Schema::SearchFile("SearchContactSuccessResponseDto"),
        check: Check::Search,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/",
        schema: Schema::Declared,
        check: Check::ContactList,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/search/duplicate",
        schema: Schema::Undeclared,
        check: Check::Contact,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/business/{businessId}",
        schema: Schema::Declared,
        check: Check::ContactList,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/{contactId}/tasks",
        schema: Schema::Declared,
        check: Check::TaskList,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/{contactId}/tasks/{taskId}",
        schema: Schema::Declared,
        check: Check::Task,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/{contactId}/notes",
        schema: Schema::Declared,
        check: Check::NoteList,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/{contactId}/notes/{id}",
        schema: Schema::Declared,
        check: Check::Note,
    },
    Endpoint {
        file: "ghl/contacts.json",
        method: "get",
        path: "/contacts/{contactId}/appointments",
        schema: Schema::Declared,
        check: Check::AppointmentList,
    },
    Endpoint {
        file: "ghl/calendars.json",
        method: "get",
        path: "/calendars/events/appointments/{eventId}",
        schema: Schema::Declared,
        check: Check::Appointment,
    },
];

/// Loaded spec documents by path, resolving `$ref`s relative to the referring file.
#[derive(Default)]
struct Specs {
    documents: HashMap<PathBuf, Value>,
}

impl Specs {
    fn load(&mut self, path: &Path) -> &Value {
        let path = normalize(path);
        self.documents.entry(path.clone()).or_insert_with(|| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()))
        })
    }

    /// Resolves `reference` as written in `file`; returns the target and its file.
    fn resolve(&mut self, file: &Path, reference: &str) -> (Value, PathBuf) {
        let (file_part, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let target_file = if file_part.is_empty() {
            file.to_path_buf()
        } else {
            normalize(
                &file
                    .parent()
                    .expect("spec file has a folder")
                    .join(file_part),
            )
        };
        let document = self.load(&target_file);
        let target = document
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} does not resolve from {}", file.display()))
            .clone();
        (target, target_file)
    }

    /// Builds an example value from `schema`, which appears in `file`.
    fn example(&mut self, schema: &Value, file: &Path, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let object = schema.as_object()?;

        if let Some(Value::String(reference)) = object.get("$ref") {
            let (target, target_file) = self.resolve(file, reference);
            return self.example(&target, &target_file, depth + 1);
        }
        if let Some(Value::Array(parts)) = object.get("allOf") {
            let mut merged = Map::new();
            for part in parts {
                if let Some(Value::Object(built)) = self.example(part, file, depth + 1) {
                    merged.extend(built);
                }
            }
            return Some(Value::Object(merged));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = object
                .get(key)
                .and_then(Value::as_array)
                .and_then(|options| options.first())
            {
                return self.example(first, file, depth + 1);
            }
        }
        if let Some(example) = object.get("example") {
            return Some(example.clone());
        }
        if let Some(Value::Array(examples)) = object.get("examples")
            && let Some(first) = examples.first()
        {
            return Some(first.clone());
        }

        let kind = object.get("type").and_then(Value::as_str);
        if kind == Some("array") {
            let item = object
                .get("items")
                .and_then(|items| self.example(items, file, depth + 1));
            return Some(Value::Array(item.into_iter().collect()));
        }
        if let Some(Value::Object(properties)) = object.get("properties") {
            let mut built = Map::new();
            for (name, property) in properties {
                if let Some(value) = self.example(property, file, depth + 1) {
                    built.insert(name.clone(), value);
                }
            }
            return Some(Value::Object(built));
        }
        if kind == Some("object") {
            return Some(Value::Object(Map::new()));
        }
        None
    }
}

/// Removes `..` and `.` components so that one file has one cache key.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Returns the operation object of `endpoint` and the path of its file.
fn operation(specs: &mut Specs, endpoint: &Endpoint) -> (Value, PathBuf) {
    let file = normalize(&specs_dir().join(endpoint.file));
    let document = specs.load(&file);
    let operation = document
        .get("paths")
        .and_then(|paths| paths.get(endpoint.path))
        .and_then(|item| item.get(endpoint.method))
        .unwrap_or_else(|| {
            panic!(
                "{} {} is not in {}",
                endpoint.method, endpoint.path, endpoint.file
            )
        })
        .clone();
    (operation, file)
}

/// Returns the JSON media object of the first 200 or 201 response, when one is declared.
fn success_content(operation: &Value) -> Option<&Value> {
    ["200", "201"].iter().find_map(|status| {
        operation
            .get("responses")?
            .get(*status)?
            .get("content")?
            .get("application/json")
    })
}

/// Builds the example document of `endpoint` from its schema.
fn schema_example(specs: &mut Specs, endpoint: &Endpoint) -> Option<Value> {
    let (operation, file) = operation(specs, endpoint);
    let declared = success_content(&operation)
        .and_then(|content| content.get("schema"))
        .cloned();
    match endpoint.schema {
        Schema::Declared => {
            let schema = declared.unwrap_or_else(|| {
                panic!(
                    "{} {} declares no response schema",
                    endpoint.method, endpoint.path
                )
            });
            specs.example(&schema, &file, 0)
        }
        Schema::SearchFile(name) => {
            assert!(
                declared.is_none(),
                "{} {} now declares a schema; read it instead of the search file",
                endpoint.method,
                endpoint.path
            );
            Some(search_example(specs, name))
        }
        Schema::Undeclared => {
            assert!(
                declared.is_none(),
                "{} {} now declares a schema; add it to the table as Declared",
                endpoint.method,
                endpoint.path
            );
            None
        }
    }
}

/// Builds an example from `search-contacts-response.json`, whose `schemas` add to the
/// components of contacts.json: a `#/components/schemas/X` ref is looked up in the
/// search file first and in contacts.json otherwise.
fn search_example(specs: &mut Specs, name: &str) -> Value {
    let contacts_file = normalize(&specs_dir().join("ghl/contacts.json"));
    let search_file = specs_dir().join("ghl/search-contacts-response.json");
    let search: Value =
        serde_json::from_str(&std::fs::read_to_string(&search_file).expect("read search file"))
            .expect("search file is JSON");

    let mut merged = specs.load(&contacts_file).clone();
    let schemas = merged
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .expect("contacts.json has components.schemas");
    for (key, schema) in search["schemas"]
        .as_object()
        .expect("search file has schemas")
    {
        schemas.insert(key.clone(), schema.clone());
    }
    // The merged document replaces contacts.json under a file name of its own in the same
    // folder, so its relative refs still point into tests/data/specs.
    let merged_file = contacts_file.with_file_name("contacts+search.json");
    specs.documents.insert(merged_file.clone(), merged);

    let root = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
    specs
        .example(&root, &merged_file, 0)
        .expect("search schema builds an example")
}

/// Whole-response examples declared on the route: `example`, each `examples.*.value`,
/// and an `example` on the response schema itself.
fn declared_examples(specs: &mut Specs, endpoint: &Endpoint) -> Vec<Value> {
    let (operation, file) = operation(specs, endpoint);
    let Some(content) = success_content(&operation).cloned() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if let Some(example) = content.get("example") {
        found.push(example.clone());
    }
    if let Some(Value::Object(examples)) = content.get("examples") {
        for example in examples.values() {
            if let Some(value) = example.get("value") {
                found.push(value.clone());
            }
        }
    }
    if let Some(schema) = content.get("schema") {
        let resolved = match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => specs.resolve(&file, reference).0,
            None => schema.clone(),
        };
        if let Some(example) = resolved.get("example") {
            found.push(example.clone());
        }
    }
    found
}

fn decode<T: DeserializeOwned>(document: &Value, route: &str) -> T {
    serde_json::from_value(document.clone())
        .unwrap_or_else(|err| panic!("{route}: example does not deserialize: {err}\n{document:#}"))
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn check_contact(contact: &GhlContact, example: &Value, route: &str) {
    assert_eq!(
        Some(contact.id.as_str()),
        text(example, "/id"),
        "{route}: id"
    );
    assert_eq!(
        contact.email.as_deref(),
        text(example, "/email"),
        "{route}: email"
    );
    assert_eq!(
        contact.location_id.as_deref(),
        text(example, "/locationId"),
        "{route}: locationId"
    );
    if let Some(Value::Array(tags)) = example.get("tags") {
        assert_eq!(contact.tags.len(), tags.len(), "{route}: tags");
    }
    if let Some(Value::Array(fields)) = example.get("customFields") {
        assert_eq!(
            contact.custom_fields.len(),
            fields.len(),
            "{route}: customFields"
        );
    }
    if example.get("dateAdded").is_some() {
        assert!(
            contact.date_added_utc().is_some(),
            "{route}: dateAdded does not parse"
        );
    }
}

/// Deserializes `document` into the envelope that `check` selects and compares key
/// fields with the document.
fn run_check(check: Check, document: &Value, route: &str) {
    match check {
        Check::Contact => {
            let response: ContactResponse = decode(document, route);
            let contact = response
                .contact
                .unwrap_or_else(|| panic!("{route}: no contact"));
            check_contact(&contact, &document["contact"], route);
            assert_eq!(
                contact.first_name.as_deref(),
                text(document, "/contact/firstName"),
                "{route}"
            );
            assert_eq!(
                contact.phone.as_deref(),
                text(document, "/contact/phone"),
                "{route}"
            );
        }
        Check::ContactList => {
            let response: ListContactsResponse = decode(document, route);
            let rows = document["contacts"].as_array().expect("contacts array");
            assert_eq!(response.contacts.len(), rows.len(), "{route}: rows");
            assert!(!rows.is_empty(), "{route}: the example has no rows");
            check_contact(&response.contacts[0], &rows[0], route);
            assert_eq!(response.count, document["count"].as_u64(), "{route}: count");
        }
        Check::Search => {
            let response: SearchContactsResponse = decode(document, route);
            let rows = document["contacts"].as_array().expect("contacts array");
            assert!(!rows.is_empty(), "{route}: the example has no rows");
            let contact = &response.contacts[0];
            check_contact(contact, &rows[0], route);
            assert_eq!(response.total, document["total"].as_u64(), "{route}: total");
            assert_eq!(
                contact.display_first_name(),
                text(&rows[0], "/firstNameLowerCase"),
                "{route}: first name from the lower-case field"
            );
            assert_eq!(
                contact.search_after.as_ref(),
                rows[0]["searchAfter"].as_array(),
                "{route}: searchAfter"
            );
        }
        Check::TaskList | Check::Task => {
            let (tasks, items) = match check {
                Check::TaskList => {
                    let response: TaskListResponse = decode(document, route);
                    (
                        response.tasks,
                        document["tasks"].as_array().cloned().unwrap_or_default(),
                    )
                }
                _ => {
                    let response: TaskResponse = decode(document, route);
                    (
                        response.task.into_iter().collect(),
                        vec![document["task"].clone()],
                    )
                }
            };
            assert!(!items.is_empty(), "{route}: the example has no tasks");
            let task = &tasks[0];
            assert_eq!(
                Some(task.id.as_str()),
                text(&items[0], "/id"),
                "{route}: id"
            );
            assert_eq!(
                task.title.as_deref(),
                text(&items[0], "/title"),
                "{route}: title"
            );
            assert_eq!(
                Some(task.completed),
                items[0]["completed"].as_bool(),
                "{route}: completed"
            );
            assert!(
                task.due_date_utc().is_some(),
                "{route}: dueDate does not parse"
            );
        }
        Check::NoteList | Check::Note => {
            let (notes, items) = match check {
                Check::NoteList => {
                    let response: NoteListResponse = decode(document, route);
                    (
                        response.notes,
                        document["notes"].as_array().cloned().unwrap_or_default(),
                    )
                }
                _ => {
                    let response: NoteResponse = decode(document, route);
                    (
                        response.note.into_iter().collect(),
                        vec![document["note"].clone()],
                    )
                }
            };
            assert!(!items.is_empty(), "{route}: the example has no notes");
            let note = &notes[0];
            assert_eq!(
                Some(note.id.as_str()),
                text(&items[0], "/id"),
                "{route}: id"
            );
            assert_eq!(
                note.body.as_deref(),
                text(&items[0], "/body"),
                "{route}: body"
            );
            assert_eq!(
                note.contact_id.as_deref(),
                text(&items[0], "/contactId"),
                "{route}: contactId"
            );
            assert!(
                note.date_added_utc().is_some(),
                "{route}: dateAdded does not parse"
            );
        }
        Check::AppointmentList | Check::Appointment => {
            let (appointments, items) = match check {
                Check::AppointmentList => {
                    let response: AppointmentListResponse = decode(document, route);
                    (
                        response.events,
                        document["events"].as_array().cloned().unwrap_or_default(),
                    )
                }
                _ => {
                    let response: AppointmentResponse = decode(document, route);
                    (
                        response.event.into_iter().collect(),
                        vec![document["event"].clone()],
                    )
                }
            };
            assert!(!items.is_empty(), "{route}: the example has no events");
            let appointment = &appointments[0];
            assert_eq!(
                Some(appointment.id.as_str()),
                text(&items[0], "/id"),
                "{route}: id"
            );
            assert_eq!(
                appointment.calendar_id.as_deref(),
                text(&items[0], "/calendarId"),
                "{route}: calendarId"
            );
            assert_eq!(
                appointment.contact_id.as_deref(),
                text(&items[0], "/contactId"),
                "{route}: contactId"
            );
            assert_eq!(
                appointment.title.as_deref(),
                text(&items[0], "/title"),
                "{route}: title"
            );
            assert!(
                appointment.start_time_utc().is_some(),
                "{route}: startTime does not parse"
            );
            assert!(
                appointment.end_time_utc().is_some(),
                "{route}: endTime does not parse"
            );
        }
    }
}

#[test]
fn schema_examples_deserialize() {
    let mut specs = Specs::default();
    let mut checked = 0;
    for endpoint in ENDPOINTS {
        let route = format!("{} {}", endpoint.method.to_uppercase(), endpoint.path);
        if let Some(document) = schema_example(&mut specs, endpoint) {
            run_check(endpoint.check, &document, &route);
            checked += 1;
        }
    }
    // Every route but the duplicate look-up has a schema to check.
    assert_eq!(checked, ENDPOINTS.len() - 1);
}

#[test]
fn declared_examples_deserialize() {
    let mut specs = Specs::default();
    for endpoint in ENDPOINTS {
        let route = format!("{} {}", endpoint.method.to_uppercase(), endpoint.path);
        for document in declared_examples(&mut specs, endpoint) {
            run_check(endpoint.check, &document, &route);
        }
    }
}

#[test]
fn builder_resolves_common_refs() {
    // The cross-file refs of the error responses must resolve as well.
    let mut specs = Specs::default();
    let file = normalize(&specs_dir().join("ghl/contacts.json"));
    let schema = serde_json::json!({"$ref": "../common/common-schemas.json#/components/schemas/UnprocessableDTO"});
    let example = specs.example(&schema, &file, 0).expect("example");
    assert_eq!(example["statusCode"], 422);
    assert_eq!(
        example["message"],
        serde_json::json!(["Unprocessable Entity"])
    );
}
