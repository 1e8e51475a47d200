//! Contract tests of the GHL simulator over real HTTP on 127.0.0.1.
//!
//! Every success body of the read and write endpoints is validated against the response
//! schema that GHL's OpenAPI files declare for it (`tests/data/specs/ghl/*.json`), with `$ref`s into
//! `tests/data/specs/common/common-schemas.json` resolved from the local file.
//!
//! The schemas are tightened before use so that the check can fail on more than types.
//! Every object schema with `properties` gets `additionalProperties: false`. A field the
//! spec does not declare is then an error, unless `declare_extras` below lists it. OpenAPI
//! 3.0 `nullable: true` becomes a JSON Schema type that also allows null.
//!
//! Two spec schemas contradict their own examples, and the simulator follows the examples:
//! - `Contact.searchAfter` (search response) types its items as strings, while its example
//!   and the live API put the `dateAdded` epoch number first: `[1234, "102goXVW3lIExEQPOnd3"]`.
//!   The test allows numbers or strings there.
//! - `CalendarEventDTO` types `startTime`, `endTime`, `dateAdded` and `dateUpdated` as
//!   `object`, while every example is an ISO-8601 string. The test types them as strings.

use std::{
    collections::HashSet,
    sync::LazyLock,
    time::{Duration, Instant},
};

use casebook_ghl_gateway::sim::{
    common::RunningSim,
    ghl::{self, GhlSimOptions},
    seed::{self, Dataset, MatchCase},
};
use jsonschema::{Draft, Resource, Validator};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = ghl::DEFAULT_TOKEN;
const LOCATION: &str = seed::GHL_LOCATION_ID;
const CONTACTS_VERSION: &str = "2021-07-28";
const CALENDARS_VERSION: &str = "2021-04-15";
const OTHER_LOCATION: &str = "OtherLocation0000001";
const OTHER_TOKEN: &str = "other-location-token";

// ---------------------------------------------------------------------------------------
// Spec loading and validators
// ---------------------------------------------------------------------------------------

const COMMON_URI: &str = "file:///specs/common/common-schemas.json";
const CONTACTS_URI: &str = "file:///specs/ghl/contacts.json";
const CALENDARS_URI: &str = "file:///specs/ghl/calendars.json";
/// contacts.json with the search response schemas merged into its components; it sits in
/// the same folder so that `../common/...` references resolve the same way.
const SEARCH_URI: &str = "file:///specs/ghl/contacts-with-search.json";

fn load_spec(relative: &str) -> Value {
    let path = format!("{}/tests/data/specs/{relative}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read spec file {path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("invalid JSON in {path}: {error}"))
}

/// Converts OpenAPI 3.0 `nullable: true` into a JSON Schema type list with "null", and
/// forbids undeclared properties on every object schema that lists its properties.
fn tighten(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.remove("nullable") == Some(Value::Bool(true))
                && let Some(Value::String(kind)) = object.get("type").cloned()
            {
                object.insert("type".into(), json!([kind, "null"]));
            }
            if object.get("type") == Some(&json!("object")) && object.contains_key("properties") {
                object
                    .entry("additionalProperties")
                    .or_insert(Value::Bool(false));
            }
            for value in object.values_mut() {
                tighten(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tighten),
        _ => {}
    }
}

fn schemas_mut(document: &mut Value) -> &mut serde_json::Map<String, Value> {
    document["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas is an object")
}

/// Properties the simulator sends beyond what the spec declares, each for a stated reason.
fn declare_extras(contacts: &mut Value) {
    let schemas = schemas_mut(contacts);
    // List rows of `GET /contacts/` and business contacts: the spec lists a subset of the
    // contact; the simulator adds the name and phone fields.
    let row = schemas["ContactsSearchSchema"]["properties"]
        .as_object_mut()
        .expect("ContactsSearchSchema.properties");
    for name in ["firstName", "lastName", "contactName", "phone"] {
        row.insert(name.into(), json!({ "type": "string" }));
    }
    // The deprecated list carries `meta`, whose schema the spec defines but never uses.
    // On the last page the cursor fields are null.
    let mut meta = schemas["ContactsMetaSchema"].clone();
    for name in ["nextPageUrl", "startAfterId", "startAfter", "nextPage"] {
        let kind = meta["properties"][name]["type"].clone();
        meta["properties"][name]["type"] = json!([kind, "null"]);
    }
    schemas["ContactsSearchSuccessfulResponseDto"]["properties"]
        .as_object_mut()
        .expect("ContactsSearchSuccessfulResponseDto.properties")
        .insert("meta".into(), meta);
}

struct Specs {
    common: Value,
    contacts: Value,
    calendars: Value,
    search: Value,
}

fn load_specs() -> Specs {
    let mut common = load_spec("common/common-schemas.json");
    common["$id"] = json!(COMMON_URI);
    tighten(&mut common);

    let mut contacts = load_spec("ghl/contacts.json");
    contacts["$id"] = json!(CONTACTS_URI);
    tighten(&mut contacts["components"]["schemas"]);
    declare_extras(&mut contacts);

    let mut calendars = load_spec("ghl/calendars.json");
    calendars["$id"] = json!(CALENDARS_URI);
    {
        // Spec defect: these times are typed `object` but are ISO-8601 strings.
        let event = &mut schemas_mut(&mut calendars)["CalendarEventDTO"]["properties"];
        for name in ["startTime", "endTime", "dateAdded", "dateUpdated"] {
            event[name]["type"] = json!("string");
        }
    }
    tighten(&mut calendars["components"]["schemas"]);

    // search-contacts-response.json extends contacts.json's components.
    let search_file = load_spec("ghl/search-contacts-response.json");
    let mut search = contacts.clone();
    search["$id"] = json!(SEARCH_URI);
    let mut added = search_file["schemas"].clone();
    // Spec defect: searchAfter items are typed string, but the first one is a number.
    added["Contact"]["properties"]["searchAfter"]["items"] =
        json!({ "type": ["number", "string"] });
    tighten(&mut added);
    let added = added.as_object().expect("schemas is an object").clone();
    schemas_mut(&mut search).extend(added);

    Specs {
        common,
        contacts,
        calendars,
        search,
    }
}

static SPECS: LazyLock<Specs> = LazyLock::new(load_specs);

/// Builds a validator for `reference` (e.g. `#/components/schemas/TaskSchema`) inside one
/// spec document, with the common schemas registered as a local resource.
fn build_validator(document: &Value, reference: &str) -> Validator {
    let mut root = document.clone();
    root["$ref"] = json!(reference);
    let common = Resource::from_contents(SPECS.common.clone()).expect("common schema resource");
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_resource(COMMON_URI, common)
        .build(&root)
        .unwrap_or_else(|error| panic!("cannot build validator for {reference}: {error}"))
}

/// Compiled validators, keyed by "document#name".
struct Validators {
    by_key: std::collections::HashMap<String, Validator>,
}

static VALIDATORS: LazyLock<Validators> = LazyLock::new(|| {
    let specs = &*SPECS;
    let mut by_key = std::collections::HashMap::new();
    let contacts_schemas = [
        "ContactsByIdSuccessfulResponseDto",
        "ContactsSearchSuccessfulResponseDto",
        "TasksListSuccessfulResponseDto",
        "TaskByIsSuccessfulResponseDto",
        "GetNotesListSuccessfulResponseDto",
        "GetCreateUpdateNoteSuccessfulResponseDto",
        "GetEventsSuccessfulResponseDto",
        "CreateContactsSuccessfulResponseDto",
        "UpdateContactsSuccessfulResponseDto",
        "UpsertContactsSuccessfulResponseDto",
        "DeleteContactsSuccessfulResponseDto",
        "CreateAddTagSuccessfulResponseDto",
        "CreateDeleteTagSuccessfulResponseDto",
        "DeleteTaskSuccessfulResponseDto",
        "DeleteNoteSuccessfulResponseDto",
    ];
    for name in contacts_schemas {
        let validator = build_validator(&specs.contacts, &format!("#/components/schemas/{name}"));
        by_key.insert(format!("contacts#{name}"), validator);
    }
    by_key.insert(
        "search#SearchContactSuccessResponseDto".into(),
        build_validator(
            &specs.search,
            "#/components/schemas/SearchContactSuccessResponseDto",
        ),
    );
    for name in [
        "GetCalendarEventSuccessfulResponseDTO",
        "AppointmentSchemaResponse",
        "DeleteEventSuccessfulResponseDto",
    ] {
        let validator = build_validator(&specs.calendars, &format!("#/components/schemas/{name}"));
        by_key.insert(format!("calendars#{name}"), validator);
    }
    for name in ["BadRequestDTO", "UnauthorizedDTO", "UnprocessableDTO"] {
        // Resolved through the relative reference the spec itself uses.
        let validator = build_validator(
            &specs.contacts,
            &format!("../common/common-schemas.json#/components/schemas/{name}"),
        );
        by_key.insert(format!("common#{name}"), validator);
    }
    Validators { by_key }
});

/// Asserts that `body` validates against the schema `key`, listing every violation.
fn assert_schema(key: &str, body: &Value, context: &str) {
    let validator = VALIDATORS
        .by_key
        .get(key)
        .unwrap_or_else(|| panic!("no validator {key}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|error| format!("{} at {}", error, error.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{context}: response does not match {key}:\n{}\nbody: {body}",
        errors.join("\n")
    );
}

/// Reports whether `body` validates against the schema `key`.
fn schema_accepts(key: &str, body: &Value) -> bool {
    VALIDATORS
        .by_key
        .get(key)
        .unwrap_or_else(|| panic!("no validator {key}"))
        .is_valid(body)
}

#[test]
fn validators_reject_wrong_shapes() {
    let by_id = "contacts#ContactsByIdSuccessfulResponseDto";
    assert!(schema_accepts(
        by_id,
        &json!({ "contact": { "id": "a", "tags": ["x"] } })
    ));
    assert!(!schema_accepts(by_id, &json!({ "contact": { "id": 5 } })));
    assert!(!schema_accepts(
        by_id,
        &json!({ "contact": { "id": "a", "nickname": "b" } })
    ));
    assert!(!schema_accepts(
        by_id,
        &json!({ "contact": { "dndSettings": { "SMS": { "status": "maybe" } } } })
    ));

    let search = "search#SearchContactSuccessResponseDto";
    assert!(schema_accepts(
        search,
        &json!({ "contacts": [{ "id": "a", "searchAfter": [1, "a"] }], "total": 1 })
    ));
    assert!(!schema_accepts(search, &json!({ "contacts": [] })));
    assert!(!schema_accepts(
        search,
        &json!({ "contacts": [{ "searchAfter": [true] }], "total": 1 })
    ));

    let event = "calendars#GetCalendarEventSuccessfulResponseDTO";
    assert!(!schema_accepts(event, &json!({ "event": { "id": "a" } })));

    // These go through the relative `$ref` into common-schemas.json.
    let unprocessable = "common#UnprocessableDTO";
    assert!(schema_accepts(
        unprocessable,
        &json!({ "statusCode": 422, "message": ["a"] })
    ));
    assert!(!schema_accepts(
        unprocessable,
        &json!({ "statusCode": 422, "message": "a" })
    ));
    assert!(!schema_accepts(
        "common#BadRequestDTO",
        &json!({ "message": ["a"] })
    ));
}

// ---------------------------------------------------------------------------------------
// Simulator and HTTP helpers
// ---------------------------------------------------------------------------------------

static DATASET: LazyLock<Dataset> = LazyLock::new(Dataset::default);

fn ghl_contacts() -> Vec<&'static seed::GhlContactSeed> {
    DATASET
        .people
        .iter()
        .filter_map(|p| p.ghl.as_ref())
        .collect()
}

async fn start_sim(options: GhlSimOptions) -> RunningSim {
    ghl::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
        .await
        .expect("GHL simulator starts")
}

async fn start_default() -> RunningSim {
    start_sim(GhlSimOptions::default()).await
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// Sends one request with the given token and Version header (either may be omitted).
async fn send(
    sim: &RunningSim,
    method: Method,
    path: &str,
    token: Option<&str>,
    version: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{}{path}", sim.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(version) = version {
        request = request.header("Version", version);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request reaches the simulator");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body arrives");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{path}: body is not JSON ({error}): {text}"));
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(sim: &RunningSim, path: &str) -> Reply {
    send(
        sim,
        Method::GET,
        path,
        Some(TOKEN),
        Some(CONTACTS_VERSION),
        None,
    )
    .await
}

async fn search(sim: &RunningSim, body: Value) -> Reply {
    send(
        sim,
        Method::POST,
        "/contacts/search",
        Some(TOKEN),
        Some(CONTACTS_VERSION),
        Some(body),
    )
    .await
}

fn row_ids(body: &Value) -> Vec<String> {
    body["contacts"]
        .as_array()
        .expect("contacts is an array")
        .iter()
        .map(|row| row["id"].as_str().expect("row id").to_string())
        .collect()
}

fn assert_each_once(seen: &[String], context: &str) {
    let expected: HashSet<String> = ghl_contacts().iter().map(|c| c.id.clone()).collect();
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), unique.len(), "{context}: a contact came twice");
    assert_eq!(unique, expected, "{context}: not every contact came");
}

// ---------------------------------------------------------------------------------------
// Auth, Version and location
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_or_unknown_token_is_401() {
    let sim = start_default().await;
    let id = &ghl_contacts()[0].id;
    let expected = json!({
        "statusCode": 401,
        "message": "Invalid token: access token is invalid",
        "error": "Unauthorized",
    });
    for token in [None, Some("not-a-configured-token")] {
        let reply = send(
            &sim,
            Method::GET,
            &format!("/contacts/{id}"),
            token,
            Some(CONTACTS_VERSION),
            None,
        )
        .await;
        assert_eq!(reply.status, 401, "token {token:?}");
        assert_eq!(reply.body, expected, "token {token:?}");
        assert_schema("common#UnauthorizedDTO", &reply.body, "401 token");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn version_header_missing_or_invalid_is_401() {
    let sim = start_default().await;
    let id = &ghl_contacts()[0].id;
    let path = format!("/contacts/{id}");

    let missing = send(&sim, Method::GET, &path, Some(TOKEN), None, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.body["message"], "version header was not found.");
    assert_eq!(missing.body["error"], "Unauthorized");
    assert_schema("common#UnauthorizedDTO", &missing.body, "missing Version");

    let invalid = send(
        &sim,
        Method::GET,
        &path,
        Some(TOKEN),
        Some("2020-01-01"),
        None,
    )
    .await;
    assert_eq!(invalid.status, 401);
    assert_eq!(invalid.body["message"], "version header is invalid");

    for version in ghl::PUBLISHED_VERSIONS {
        let reply = send(&sim, Method::GET, &path, Some(TOKEN), Some(version), None).await;
        assert_eq!(reply.status, 200, "published Version {version}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn other_location_is_403() {
    let mut options = GhlSimOptions::default();
    options
        .tokens
        .insert(OTHER_TOKEN.to_string(), OTHER_LOCATION.to_string());
    let sim = start_sim(options).await;
    let id = &ghl_contacts()[0].id;
    let expected = json!({
        "statusCode": 403,
        "message": "The token does not have access to this location.",
        "error": "Forbidden",
    });

    // A token for another location reading a contact of the seeded location.
    let reply = send(
        &sim,
        Method::GET,
        &format!("/contacts/{id}"),
        Some(OTHER_TOKEN),
        Some(CONTACTS_VERSION),
        None,
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body, expected);

    // The seeded token naming another location in the body and in the query.
    let reply = search(
        &sim,
        json!({ "locationId": OTHER_LOCATION, "pageLimit": 5 }),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body, expected);
    for path in [
        format!("/contacts/?locationId={OTHER_LOCATION}"),
        format!("/contacts/search/duplicate?locationId={OTHER_LOCATION}&email=a%40b.c"),
        format!(
            "/contacts/business/{}?locationId={OTHER_LOCATION}",
            seed::GHL_BUSINESS_IDS[0]
        ),
    ] {
        let reply = get(&sim, &path).await;
        assert_eq!(reply.status, 403, "{path}");
        assert_eq!(reply.body, expected, "{path}");
    }

    // The other token reads its own location, which is empty.
    let reply = send(
        &sim,
        Method::POST,
        "/contacts/search",
        Some(OTHER_TOKEN),
        Some(CONTACTS_VERSION),
        Some(json!({ "locationId": OTHER_LOCATION, "pageLimit": 5 })),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({ "contacts": [], "total": 0 }));
    sim.shutdown().await;
}

#[tokio::test]
async fn start_rejects_invalid_options() {
    let options = GhlSimOptions {
        not_found_status: 418,
        ..GhlSimOptions::default()
    };
    let error = ghl::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
        .await
        .err()
        .expect("418 is rejected");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        error.to_string().contains("not_found_status 418"),
        "{error}"
    );

    let options = GhlSimOptions {
        tokens: Default::default(),
        ..GhlSimOptions::default()
    };
    let error = ghl::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
        .await
        .err()
        .expect("no tokens is rejected");
    assert!(error.to_string().contains("at least one token"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn search_validation_is_422_array() {
    let sim = start_default().await;

    let reply = search(&sim, json!({ "locationId": LOCATION })).await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["statusCode"], 422);
    assert_eq!(reply.body["error"], "Unprocessable Entity");
    let messages = reply.body["message"]
        .as_array()
        .expect("message is an array");
    assert!(messages.contains(&json!("pageLimit must not be less than 1")));
    assert_schema("common#UnprocessableDTO", &reply.body, "missing pageLimit");

    let reply = search(
        &sim,
        json!({ "locationId": LOCATION, "pageLimit": 5, "limit": 5 }),
    )
    .await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.body["message"],
        json!(["property limit should not exist"])
    );

    let reply = search(&sim, json!({ "pageLimit": 5 })).await;
    assert_eq!(reply.status, 422);
    assert!(
        reply.body["message"]
            .as_array()
            .unwrap()
            .contains(&json!("locationId should not be empty"))
    );

    let reply = search(&sim, json!({ "locationId": LOCATION, "pageLimit": 501 })).await;
    assert_eq!(
        reply.body["message"],
        json!(["pageLimit must not be greater than 500"])
    );

    let reply = search(
        &sim,
        json!({ "locationId": LOCATION, "pageLimit": 100, "page": 101 }),
    )
    .await;
    assert_eq!(reply.status, 422);
    assert!(
        reply.body["message"][0]
            .as_str()
            .unwrap()
            .starts_with("page * pageLimit must not be greater than 10000")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_json_body_is_400() {
    let sim = start_default().await;
    let response = reqwest::Client::new()
        .post(format!("{}/contacts/search", sim.base_url))
        .bearer_auth(TOKEN)
        .header("Version", CONTACTS_VERSION)
        .header("content-type", "application/json")
        .body("{\"locationId\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], 400);
    let message = body["message"].as_str().expect("message is a string");
    assert!(
        message.starts_with("Invalid JSON in request body"),
        "{message}"
    );
    assert_schema("common#BadRequestDTO", &body, "malformed JSON");
    sim.shutdown().await;
}

#[tokio::test]
async fn search_page_walk_covers_every_contact() {
    let sim = start_default().await;
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let reply = search(
            &sim,
            json!({ "locationId": LOCATION, "pageLimit": 25, "page": page }),
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_schema(
            "search#SearchContactSuccessResponseDto",
            &reply.body,
            "search page",
        );
        assert_eq!(reply.body["total"], ghl_contacts().len());
        let ids = row_ids(&reply.body);
        if ids.is_empty() {
            break;
        }
        seen.extend(ids);
        page += 1;
    }
    assert_each_once(&seen, "search by page");
    sim.shutdown().await;
}

#[tokio::test]
async fn search_after_walk_covers_every_contact() {
    let sim = start_default().await;
    let mut seen = Vec::new();
    let mut cursor: Option<Value> = None;
    loop {
        let mut body = json!({ "locationId": LOCATION, "pageLimit": 30 });
        if let Some(cursor) = &cursor {
            body["searchAfter"] = cursor.clone();
        }
        let reply = search(&sim, body).await;
        assert_eq!(reply.status, 200);
        assert_schema(
            "search#SearchContactSuccessResponseDto",
            &reply.body,
            "searchAfter",
        );
        let rows = reply.body["contacts"].as_array().unwrap().clone();
        let Some(last) = rows.last() else {
            break;
        };
        let after = &last["searchAfter"];
        assert!(
            after[0].is_i64(),
            "searchAfter starts with epoch ms: {after}"
        );
        assert_eq!(after[1], last["id"]);
        cursor = Some(after.clone());
        seen.extend(row_ids(&reply.body));
    }
    assert_eq!(seen.len(), ghl_contacts().len());
    assert_each_once(&seen, "search by searchAfter");
    sim.shutdown().await;
}

#[tokio::test]
async fn search_rows_use_lower_case_names() {
    let sim = start_default().await;
    let contact = ghl_contacts()[0];
    let reply = search(
        &sim,
        json!({
            "locationId": LOCATION,
            "pageLimit": 10,
            "query": contact.email.as_deref().unwrap().to_uppercase(),
        }),
    )
    .await;
    assert_eq!(reply.status, 200);
    let row = &reply.body["contacts"][0];
    assert_eq!(row["id"], contact.id.as_str());
    assert_eq!(row["firstNameLowerCase"], contact.first_name.to_lowercase());
    assert_eq!(row["lastNameLowerCase"], contact.last_name.to_lowercase());
    assert!(row.get("firstName").is_none());
    assert_eq!(
        row["searchAfter"],
        json!([contact.date_added.timestamp_millis(), contact.id])
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn search_filters_phone_and_groups() {
    let sim = start_default().await;
    let person = DATASET
        .people
        .iter()
        .find(|p| p.match_case == MatchCase::PhoneWrittenDifferently && p.ghl.is_some())
        .expect("a person whose phone is written differently");
    let casebook_phone = person.casebook.as_ref().unwrap().phone.clone().unwrap();
    let ghl_id = &person.ghl.as_ref().unwrap().id;
    let reply = search(
        &sim,
        json!({
            "locationId": LOCATION,
            "pageLimit": 10,
            "filters": [{ "group": "OR", "filters": [
                { "field": "phone", "operator": "eq", "value": casebook_phone },
                { "field": "email", "operator": "eq", "value": "nobody@example.invalid" },
            ]}],
        }),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(row_ids(&reply.body), std::slice::from_ref(ghl_id));
    assert_eq!(reply.body["total"], 1);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Deprecated list, duplicates, business contacts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn list_keyset_walk_covers_every_contact() {
    let sim = start_default().await;
    let mut seen = Vec::new();
    let mut path = format!("/contacts/?locationId={LOCATION}&limit=17");
    let mut pages = 0;
    loop {
        let reply = get(&sim, &path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_schema(
            "contacts#ContactsSearchSuccessfulResponseDto",
            &reply.body,
            &path,
        );
        pages += 1;
        let meta = &reply.body["meta"];
        assert_eq!(meta["total"], ghl_contacts().len());
        assert_eq!(meta["currentPage"], pages);
        seen.extend(row_ids(&reply.body));

        let Some(next) = meta["nextPageUrl"].as_str() else {
            assert!(meta["nextPage"].is_null());
            break;
        };
        // The cursor in `meta` equals the last row.
        let last = reply.body["contacts"].as_array().unwrap().last().unwrap();
        assert_eq!(meta["startAfterId"], last["id"]);
        assert_eq!(meta["nextPage"], pages + 1);
        let next = next
            .strip_prefix(&sim.base_url)
            .unwrap_or_else(|| panic!("nextPageUrl {next} is not on the simulator"));
        path = next.to_string();
    }
    assert_each_once(&seen, "deprecated list");
    assert_eq!(pages, ghl_contacts().len().div_ceil(17));
    sim.shutdown().await;
}

#[tokio::test]
async fn list_accepts_start_after_id_alone() {
    let sim = start_default().await;
    let first = get(&sim, &format!("/contacts/?locationId={LOCATION}&limit=5")).await;
    let last_id = first.body["meta"]["startAfterId"]
        .as_str()
        .unwrap()
        .to_string();
    let second = get(
        &sim,
        &format!("/contacts/?locationId={LOCATION}&limit=5&startAfterId={last_id}"),
    )
    .await;
    assert_eq!(second.status, 200);
    let first_ids = row_ids(&first.body);
    let second_ids = row_ids(&second.body);
    assert_eq!(second_ids.len(), 5);
    assert!(second_ids.iter().all(|id| !first_ids.contains(id)));
    sim.shutdown().await;
}

#[tokio::test]
async fn list_rejects_bad_query() {
    let sim = start_default().await;
    let cases = [
        ("/contacts/", "locationId should not be empty"),
        (
            "/contacts/?locationId=SimLocation000000001&limit=101",
            "limit must not be greater than 100",
        ),
        (
            "/contacts/?locationId=SimLocation000000001&page=2",
            "property page should not exist",
        ),
        (
            "/contacts/?locationId=SimLocation000000001&startAfter=yesterday",
            "startAfter must be a number",
        ),
    ];
    for (path, expected) in cases {
        let reply = get(&sim, path).await;
        assert_eq!(reply.status, 422, "{path}");
        let messages = reply.body["message"].as_array().expect("message array");
        assert!(
            messages
                .iter()
                .any(|m| m.as_str().unwrap_or_default().starts_with(expected)),
            "{path}: {messages:?} lacks {expected:?}"
        );
        assert_schema("common#UnprocessableDTO", &reply.body, path);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicate_matches_formatted_phone() {
    let sim = start_default().await;
    let person = DATASET
        .people
        .iter()
        .find(|p| p.match_case == MatchCase::PhoneWrittenDifferently && p.ghl.is_some())
        .unwrap();
    let casebook_phone = person.casebook.as_ref().unwrap().phone.clone().unwrap();
    let contact = person.ghl.as_ref().unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(casebook_phone.as_bytes()).collect();

    let reply = get(
        &sim,
        &format!("/contacts/search/duplicate?locationId={LOCATION}&number={encoded}"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["contact"]["id"], contact.id.as_str());
    // The spec declares no schema for this 200; the body carries the GET-by-id contact.
    assert_schema(
        "contacts#ContactsByIdSuccessfulResponseDto",
        &reply.body,
        "duplicate",
    );

    let email = contact.email.as_deref().unwrap().to_uppercase();
    let encoded: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
    let reply = get(
        &sim,
        &format!("/contacts/search/duplicate?locationId={LOCATION}&email={encoded}"),
    )
    .await;
    assert_eq!(reply.body["contact"]["id"], contact.id.as_str());

    let reply = get(
        &sim,
        &format!("/contacts/search/duplicate?locationId={LOCATION}&email=nobody%40example.invalid"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({ "contact": null }));

    let reply = get(
        &sim,
        &format!("/contacts/search/duplicate?locationId={LOCATION}"),
    )
    .await;
    assert_eq!(reply.status, 422);
    sim.shutdown().await;
}

#[tokio::test]
async fn business_contacts_page_with_strings() {
    let sim = start_default().await;
    let business = seed::GHL_BUSINESS_IDS[0];
    let members: Vec<&str> = ghl_contacts()
        .iter()
        .filter(|c| c.business_id.as_deref() == Some(business))
        .map(|c| c.id.as_str())
        .collect();
    assert!(members.len() >= 2, "the data set has business contacts");

    let all = get(
        &sim,
        &format!("/contacts/business/{business}?locationId={LOCATION}"),
    )
    .await;
    assert_eq!(all.status, 200);
    assert_schema(
        "contacts#ContactsSearchSuccessfulResponseDto",
        &all.body,
        "business",
    );
    assert_eq!(all.body["count"], members.len());
    let mut ids = row_ids(&all.body);
    ids.sort();
    let mut expected: Vec<String> = members.iter().map(|id| id.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected);

    let paged = get(
        &sim,
        &format!("/contacts/business/{business}?locationId={LOCATION}&limit=1&skip=1"),
    )
    .await;
    assert_eq!(row_ids(&paged.body), [row_ids(&all.body)[1].clone()]);

    let bad = get(
        &sim,
        &format!("/contacts/business/{business}?locationId={LOCATION}&limit=ten"),
    )
    .await;
    assert_eq!(bad.status, 422);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Every read endpoint against the spec
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_read_response_matches_spec() {
    // The walk sends several hundred reads within seconds, far past GHL's burst limit.
    let options = GhlSimOptions {
        rate_limit: ghl::RateLimitSettings {
            max: 100_000,
            ..ghl::RateLimitSettings::default()
        },
        ..GhlSimOptions::default()
    };
    let sim = start_sim(options).await;
    let mut events_checked = 0;
    let mut tasks_checked = 0;
    let mut notes_checked = 0;
    for contact in ghl_contacts() {
        let id = &contact.id;

        let reply = get(&sim, &format!("/contacts/{id}")).await;
        assert_eq!(reply.status, 200);
        assert_schema(
            "contacts#ContactsByIdSuccessfulResponseDto",
            &reply.body,
            id,
        );
        let detail = &reply.body["contact"];
        assert_eq!(detail["locationId"], LOCATION);
        let date_added = detail["dateAdded"].as_str().unwrap();
        assert_eq!(
            date_added.len(),
            "2021-07-02T05:18:26.704Z".len(),
            "{date_added}"
        );
        assert!(date_added.ends_with('Z'));
        if let Some(phone) = detail["phone"].as_str() {
            assert!(phone.starts_with('+'), "phone in E.164: {phone}");
        }

        let reply = get(&sim, &format!("/contacts/{id}/tasks")).await;
        assert_eq!(reply.status, 200);
        assert_schema("contacts#TasksListSuccessfulResponseDto", &reply.body, id);
        for task in &contact.tasks {
            let reply = get(&sim, &format!("/contacts/{id}/tasks/{}", task.id)).await;
            assert_eq!(reply.status, 200);
            assert_schema(
                "contacts#TaskByIsSuccessfulResponseDto",
                &reply.body,
                &task.id,
            );
            assert_eq!(reply.body["task"]["contactId"], id.as_str());
            tasks_checked += 1;
        }

        let reply = get(&sim, &format!("/contacts/{id}/notes")).await;
        assert_eq!(reply.status, 200);
        assert_schema(
            "contacts#GetNotesListSuccessfulResponseDto",
            &reply.body,
            id,
        );
        for note in &contact.notes {
            let reply = get(&sim, &format!("/contacts/{id}/notes/{}", note.id)).await;
            assert_eq!(reply.status, 200);
            assert_schema(
                "contacts#GetCreateUpdateNoteSuccessfulResponseDto",
                &reply.body,
                &note.id,
            );
            notes_checked += 1;
        }

        let reply = get(&sim, &format!("/contacts/{id}/appointments")).await;
        assert_eq!(reply.status, 200);
        assert_schema("contacts#GetEventsSuccessfulResponseDto", &reply.body, id);
        for event in reply.body["events"].as_array().unwrap() {
            let start = event["startTime"].as_str().unwrap();
            assert_eq!(start.len(), "2021-07-16 11:00:00".len(), "{start}");
            assert_eq!(&start[10..11], " ");
        }
        for appointment in &contact.appointments {
            let reply = send(
                &sim,
                Method::GET,
                &format!("/calendars/events/appointments/{}", appointment.id),
                Some(TOKEN),
                Some(CALENDARS_VERSION),
                None,
            )
            .await;
            assert_eq!(reply.status, 200);
            assert_schema(
                "calendars#GetCalendarEventSuccessfulResponseDTO",
                &reply.body,
                &appointment.id,
            );
            let start = reply.body["event"]["startTime"].as_str().unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(start).is_ok(),
                "ISO-8601 with offset: {start}"
            );
            events_checked += 1;
        }
    }
    assert!(events_checked > 0);
    assert!(tasks_checked > 0);
    assert!(notes_checked > 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_are_400_by_default() {
    let sim = start_default().await;
    let contact = ghl_contacts()[0];
    let cases = [
        (
            "/contacts/NoSuchContact0000001".to_string(),
            "Contact with id NoSuchContact0000001 not found",
        ),
        (
            "/contacts/NoSuchContact0000001/tasks".to_string(),
            "Contact with id NoSuchContact0000001 not found",
        ),
        (
            format!("/contacts/{}/tasks/NoSuchTask", contact.id),
            "Task with id NoSuchTask not found",
        ),
        (
            format!("/contacts/{}/notes/NoSuchNote", contact.id),
            "Note with id NoSuchNote not found",
        ),
        (
            "/calendars/events/appointments/NoSuchEvent".to_string(),
            "Event with id NoSuchEvent not found",
        ),
    ];
    for (path, message) in cases {
        let reply = get(&sim, &path).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(
            reply.body,
            json!({ "statusCode": 400, "message": message }),
            "{path}"
        );
        assert_schema("common#BadRequestDTO", &reply.body, &path);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_can_be_404() {
    let options = GhlSimOptions {
        not_found_status: 404,
        ..GhlSimOptions::default()
    };
    let sim = start_sim(options).await;
    let reply = get(&sim, "/contacts/NoSuchContact0000001").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.body,
        json!({
            "statusCode": 404,
            "message": "Contact with id NoSuchContact0000001 not found",
            "error": "Not Found",
        })
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_route_is_404() {
    let sim = start_default().await;
    let reply = get(&sim, "/opportunities/search").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["message"], "Cannot GET /opportunities/search");
    let reply = send(
        &sim,
        Method::PATCH,
        &format!("/contacts/{}", ghl_contacts()[0].id),
        Some(TOKEN),
        Some(CONTACTS_VERSION),
        None,
    )
    .await;
    assert_eq!(reply.status, 404);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Rate-limit headers, stats and faults
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_headers_count_requests() {
    let sim = start_default().await;
    let path = format!("/contacts/{}", ghl_contacts()[0].id);
    let first = get(&sim, &path).await;
    let second = get(&sim, &path).await;
    let header = |reply: &Reply, name: &str| -> u64 {
        reply.headers[name]
            .to_str()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is a number"))
    };
    assert_eq!(header(&first, "x-ratelimit-limit-daily"), 200_000);
    assert_eq!(header(&first, "x-ratelimit-interval-milliseconds"), 10_000);
    assert_eq!(header(&first, "x-ratelimit-max"), 100);
    assert_eq!(header(&first, "x-ratelimit-remaining"), 99);
    assert_eq!(header(&second, "x-ratelimit-remaining"), 98);
    assert_eq!(header(&first, "x-ratelimit-daily-remaining"), 199_999);
    assert_eq!(header(&second, "x-ratelimit-daily-remaining"), 199_998);

    // Error responses carry the headers too.
    let unauthorized = send(&sim, Method::GET, &path, None, Some(CONTACTS_VERSION), None).await;
    assert!(unauthorized.headers.contains_key("x-ratelimit-remaining"));
    sim.shutdown().await;
}

#[tokio::test]
async fn stats_count_routes_and_versions() {
    let sim = start_default().await;
    let contact = ghl_contacts()
        .into_iter()
        .find(|c| !c.appointments.is_empty())
        .unwrap();
    for _ in 0..3 {
        get(&sim, &format!("/contacts/{}", contact.id)).await;
    }
    send(
        &sim,
        Method::GET,
        &format!("/contacts/{}", contact.id),
        Some(TOKEN),
        None,
        None,
    )
    .await;
    send(
        &sim,
        Method::GET,
        &format!(
            "/calendars/events/appointments/{}",
            contact.appointments[0].id
        ),
        Some(TOKEN),
        Some(CALENDARS_VERSION),
        None,
    )
    .await;

    assert_eq!(sim.control.count("GET /contacts/{contactId}"), 4);
    assert_eq!(
        sim.control
            .count("GET /calendars/events/appointments/{eventId}"),
        1
    );
    assert_eq!(sim.control.total(), 5);

    let stats: Value = reqwest::get(format!("{}/_sim/stats", sim.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let route = &stats["routes"]["GET /contacts/{contactId}"];
    assert_eq!(route["statuses"]["200"], 3);
    assert_eq!(route["statuses"]["401"], 1);
    let versions = &stats["headers"]["version"];
    assert_eq!(versions["GET /contacts/{contactId}"]["2021-07-28"], 3);
    assert_eq!(versions["GET /contacts/{contactId}"]["<missing>"], 1);
    assert_eq!(
        versions["GET /calendars/events/appointments/{eventId}"]["2021-04-15"],
        1
    );
    sim.shutdown().await;
}

async fn add_faults(sim: &RunningSim, rules: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.base_url))
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "fault rules rejected: {rules}");
}

#[tokio::test]
async fn fault_status_with_retry_after_and_times() {
    let sim = start_default().await;
    add_faults(
        &sim,
        json!({ "method": "POST", "path": "/contacts/search", "status": 429, "retry_after_s": 3, "times": 2 }),
    )
    .await;
    let body = json!({ "locationId": LOCATION, "pageLimit": 1 });
    let first = search(&sim, body.clone()).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.headers["retry-after"], "3");
    assert_eq!(first.body["statusCode"], 429);
    assert_eq!(first.body["error"], "Too Many Requests");
    assert!(first.headers.contains_key("x-ratelimit-remaining"));
    let second = search(&sim, body.clone()).await;
    assert_eq!(second.status, 429);
    let third = search(&sim, body).await;
    assert_eq!(third.status, 200);
    // Faulted requests are upstream calls and are counted.
    assert_eq!(sim.control.count("POST /contacts/search"), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_delay_slows_response() {
    let sim = start_default().await;
    add_faults(
        &sim,
        json!({ "path": "/contacts/", "delay_ms": 250, "times": 1 }),
    )
    .await;
    let path = format!("/contacts/{}", ghl_contacts()[0].id);
    let started = Instant::now();
    let reply = get(&sim, &path).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(reply.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_drop_connection_and_malformed_json() {
    let sim = start_default().await;
    add_faults(
        &sim,
        json!([
            { "path": "/contacts/", "drop_connection": true, "times": 1 },
            { "path": "/contacts/", "malformed_json": true, "times": 1 },
        ]),
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/contacts/{}", sim.base_url, ghl_contacts()[0].id);
    let request = || {
        client
            .get(&url)
            .bearer_auth(TOKEN)
            .header("Version", CONTACTS_VERSION)
            .send()
    };

    let dropped = request().await.expect("headers arrive");
    assert!(dropped.bytes().await.is_err(), "the body is cut off");

    let malformed = request().await.unwrap();
    assert_eq!(malformed.status(), 200);
    let text = malformed.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let healthy = request().await.unwrap();
    assert_eq!(healthy.status(), 200);
    let body: Value = healthy.json().await.unwrap();
    assert_eq!(body["contact"]["id"], ghl_contacts()[0].id.as_str());
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------

/// Sends an authenticated write with the Version header of the route's family.
async fn write(sim: &RunningSim, method: Method, path: &str, body: Option<Value>) -> Reply {
    let version = if path.starts_with("/calendars/") {
        CALENDARS_VERSION
    } else {
        CONTACTS_VERSION
    };
    send(sim, method, path, Some(TOKEN), Some(version), body).await
}

/// Reads `GET /_sim/state/contacts`, which needs no credentials.
async fn state_contacts(sim: &RunningSim) -> Vec<Value> {
    let body: Value = reqwest::get(format!("{}/_sim/state/contacts", sim.base_url))
        .await
        .expect("state route answers")
        .json()
        .await
        .expect("state is JSON");
    body["contacts"]
        .as_array()
        .expect("contacts is an array")
        .clone()
}

/// Returns the stored contacts whose e-mail equals `email`, ignoring case.
async fn stored_with_email(sim: &RunningSim, email: &str) -> Vec<Value> {
    state_contacts(sim)
        .await
        .into_iter()
        .filter(|contact| {
            contact["email"]
                .as_str()
                .is_some_and(|own| own.eq_ignore_ascii_case(email))
        })
        .collect()
}

/// Asserts a 422 whose `message` array contains `expected`.
fn assert_unprocessable(reply: &Reply, expected: &str, context: &str) {
    assert_eq!(reply.status, 422, "{context}: {}", reply.body);
    assert_schema("common#UnprocessableDTO", &reply.body, context);
    assert_eq!(reply.body["error"], "Unprocessable Entity", "{context}");
    let messages = reply.body["message"]
        .as_array()
        .unwrap_or_else(|| panic!("{context}: message is not an array: {}", reply.body));
    assert!(
        messages
            .iter()
            .any(|message| message.as_str().is_some_and(|text| text.contains(expected))),
        "{context}: no message contains {expected:?}: {messages:?}"
    );
}

/// Creates a contact with only an e-mail and returns its id.
async fn create_plain_contact(sim: &RunningSim, email: &str) -> String {
    let reply = write(
        sim,
        Method::POST,
        "/contacts/",
        Some(json!({ "locationId": LOCATION, "firstName": "Test", "email": email })),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["contact"]["id"]
        .as_str()
        .expect("created contact id")
        .to_string()
}

fn seeded_with_email_and_phone() -> Vec<&'static seed::GhlContactSeed> {
    ghl_contacts()
        .into_iter()
        .filter(|contact| contact.email.is_some() && contact.phone.is_some())
        .collect()
}

#[tokio::test]
async fn contact_create_is_201_in_create_shape() {
    let sim = start_default().await;
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/",
        Some(json!({
            "locationId": LOCATION,
            "firstName": "Rosan",
            "lastName": "Deo",
            "email": "Rosan.Deo@example.org",
            "phone": "+1 888-555-0199",
            "gender": "female",
            "address1": "3535 1st St N",
            "city": "Dolomite",
            "state": "AL",
            "postalCode": "35061",
            "website": "https://example.org",
            "timezone": "America/Chicago",
            "country": "US",
            "companyName": "Deo Holdings",
            "source": "public api",
            "tags": ["intake", "Intake", "housing"],
            "dateOfBirth": "1990-09-25",
            "assignedTo": ghl::SIM_USER_ID,
            "customFields": [{ "id": ghl::LANGUAGE_FIELD_ID, "field_value": "Spanish" }],
            "dnd": false,
        })),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_schema(
        "contacts#CreateContactsSuccessfulResponseDto",
        &reply.body,
        "create",
    );
    let created = &reply.body["contact"];
    assert_eq!(created["locationId"], LOCATION);
    assert_eq!(created["deleted"], false);
    assert_eq!(created["phone"], "+18885550199");
    assert_eq!(created["emailLowerCase"], "rosan.deo@example.org");
    assert_eq!(created["dateOfBirth"], "1990-09-25T00:00:00.000Z");
    assert_eq!(created["birthMonth"], 8);
    assert_eq!(created["birthDay"], 25);
    assert_eq!(created["tags"], json!(["intake", "housing"]));
    assert!(
        created.get("name").is_none(),
        "the create shape has no name"
    );
    assert!(
        created.get("timezone").is_none(),
        "the create shape has no timezone"
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 20, "GHL-shaped id: {id}");

    // Later reads return the write.
    let reply = get(&sim, &format!("/contacts/{id}")).await;
    assert_eq!(reply.status, 200);
    assert_schema(
        "contacts#ContactsByIdSuccessfulResponseDto",
        &reply.body,
        "read after create",
    );
    let detail = &reply.body["contact"];
    assert_eq!(detail["name"], "Rosan Deo");
    assert_eq!(detail["dateOfBirth"], "1990-09-25");
    assert_eq!(detail["timezone"], "America/Chicago");
    assert_eq!(
        detail["customFields"],
        json!([{ "id": ghl::LANGUAGE_FIELD_ID, "value": "Spanish" }])
    );
    let found = search(
        &sim,
        json!({ "locationId": LOCATION, "pageLimit": 5, "query": "rosan.deo@example.org" }),
    )
    .await;
    assert_eq!(row_ids(&found.body), vec![id.to_string()]);
    assert_schema(
        "search#SearchContactSuccessResponseDto",
        &found.body,
        "search after create",
    );

    let stored = stored_with_email(&sim, "rosan.deo@example.org").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["gender"], "female");
    assert_eq!(state_contacts(&sim).await.len(), ghl_contacts().len() + 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn contact_create_duplicate_is_400_with_meta() {
    let sim = start_default().await;
    let seeded = seeded_with_email_and_phone();
    let by_email = seeded[0];
    let by_phone = seeded[1];

    let reply = write(
        &sim,
        Method::POST,
        "/contacts/",
        Some(json!({
            "locationId": LOCATION,
            "email": by_email.email.as_deref().unwrap().to_uppercase(),
            "phone": by_phone.phone.as_deref().unwrap(),
        })),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        json!({
            "statusCode": 400,
            "message": "This location does not allow duplicated contacts.",
            "meta": {
                "contactId": by_email.id,
                "contactName": format!("{} {}", by_email.first_name, by_email.last_name),
                "matchingField": "email",
            },
        })
    );

    // The phone is compared in E.164, whatever the formatting.
    let e164 = by_phone.phone.as_deref().unwrap();
    let national = &e164[2..];
    let formatted = format!(
        "({}) {}-{}",
        &national[..3],
        &national[3..6],
        &national[6..]
    );
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/",
        Some(json!({ "locationId": LOCATION, "email": "fresh@example.org", "phone": formatted })),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["meta"]["contactId"], by_phone.id.as_str());
    assert_eq!(reply.body["meta"]["matchingField"], "phone");
    assert!(
        stored_with_email(&sim, "fresh@example.org")
            .await
            .is_empty()
    );
    sim.shutdown().await;

    let options = GhlSimOptions {
        allow_duplicate_contacts: true,
        ..GhlSimOptions::default()
    };
    let sim = start_sim(options).await;
    let email = by_email.email.as_deref().unwrap();
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/",
        Some(json!({ "locationId": LOCATION, "email": email })),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(stored_with_email(&sim, email).await.len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn contact_create_checks_location() {
    let sim = start_default().await;
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/",
        Some(json!({ "email": "a@example.org" })),
    )
    .await;
    assert_unprocessable(&reply, "locationId should not be empty", "no locationId");

    let reply = write(
        &sim,
        Method::POST,
        "/contacts/",
        Some(json!({ "locationId": OTHER_LOCATION, "email": "a@example.org" })),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body["message"],
        "The token does not have access to this location."
    );

    let reply = write(&sim, Method::POST, "/contacts/", None).await;
    assert_unprocessable(&reply, "locationId must be a string", "empty body");
    assert!(stored_with_email(&sim, "a@example.org").await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn write_validation_is_422_array() {
    let sim = start_default().await;
    let contact = ghl_contacts()[0];
    let id = &contact.id;
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/contacts/".into(),
            json!({ "locationId": LOCATION, "nickname": "Jo" }),
            "property nickname should not exist",
        ),
        (
            Method::POST,
            "/contacts/".into(),
            json!({ "locationId": LOCATION, "email": "jo-at-example.org" }),
            "email must be an email, got \"jo-at-example.org\"",
        ),
        (
            Method::POST,
            "/contacts/upsert".into(),
            json!({ "locationId": LOCATION, "phone": "no digits" }),
            "phone must be a valid phone number",
        ),
        (
            Method::PUT,
            format!("/contacts/{id}"),
            json!({ "locationId": LOCATION }),
            "property locationId should not exist",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/tags"),
            json!({}),
            "tags must be an array of strings",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/tasks"),
            json!({ "title": "Call" }),
            "dueDate must be a valid ISO 8601 date string",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/tasks"),
            json!({ "title": "Call", "dueDate": "2026-01-05T10:00:00Z" }),
            "completed must be a boolean value",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/tasks"),
            json!({ "title": "Call", "dueDate": "2026-01-05T10:00:00", "completed": false }),
            "has no time zone offset",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/notes"),
            json!({ "title": "No body" }),
            "body should not be empty",
        ),
        (
            Method::POST,
            "/calendars/events/appointments".into(),
            json!({
                "locationId": LOCATION,
                "calendarId": seed::GHL_CALENDAR_IDS[0],
                "contactId": id,
                "startTime": "2026-03-01 10:00:00",
            }),
            "startTime \"2026-03-01 10:00:00\" has no time zone offset",
        ),
        (
            Method::POST,
            "/calendars/events/appointments".into(),
            json!({ "locationId": LOCATION, "startTime": "2026-03-01T10:00:00Z" }),
            "calendarId should not be empty",
        ),
        (
            Method::PUT,
            "/calendars/events/appointments/AnyEvent000000000001".into(),
            json!({ "contactId": id }),
            "property contactId should not exist",
        ),
        (
            Method::DELETE,
            "/calendars/events/AnyEvent000000000001".into(),
            json!({ "reason": "cancelled" }),
            "property reason should not exist",
        ),
    ];
    for (method, path, body, expected) in cases {
        let context = format!("{method} {path} {body}");
        let reply = write(&sim, method, &path, Some(body)).await;
        assert_unprocessable(&reply, expected, &context);
    }

    // Nothing was written.
    assert_eq!(state_contacts(&sim).await.len(), ghl_contacts().len());
    let tasks = get(&sim, &format!("/contacts/{id}/tasks")).await;
    assert_eq!(
        tasks.body["tasks"].as_array().unwrap().len(),
        contact.tasks.len()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn contact_update_uses_succeded_envelope() {
    let sim = start_default().await;
    let contact = ghl_contacts()[0];
    let path = format!("/contacts/{}", contact.id);
    let reply = write(
        &sim,
        Method::PUT,
        &path,
        Some(json!({ "lastName": "Changed", "tags": ["only-this"], "city": "Tulsa" })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema(
        "contacts#UpdateContactsSuccessfulResponseDto",
        &reply.body,
        "update",
    );
    assert_eq!(reply.body["succeded"], true);
    assert_eq!(reply.body["contact"]["lastName"], "Changed");

    let reply = get(&sim, &path).await;
    let detail = &reply.body["contact"];
    assert_eq!(detail["firstName"], contact.first_name.as_str());
    assert_eq!(detail["lastName"], "Changed");
    assert_eq!(detail["tags"], json!(["only-this"]), "tags are replaced");
    assert_eq!(detail["city"], "Tulsa");
    assert_eq!(detail["email"], json!(contact.email));

    let reply = write(
        &sim,
        Method::PUT,
        "/contacts/NoSuchContact0000001",
        Some(json!({ "city": "Tulsa" })),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body["message"],
        "Contact with id NoSuchContact0000001 not found"
    );

    // Taking another contact's e-mail is a duplicate too.
    let other = ghl_contacts()
        .into_iter()
        .find(|c| c.id != contact.id && c.email.is_some() && c.email != contact.email)
        .unwrap();
    let reply = write(
        &sim,
        Method::PUT,
        &path,
        Some(json!({ "email": other.email })),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["meta"]["contactId"], other.id.as_str());
    sim.shutdown().await;
}

#[tokio::test]
async fn contact_delete_cascades() {
    let sim = start_default().await;
    let id = create_plain_contact(&sim, "cascade@example.org").await;
    let task = write(
        &sim,
        Method::POST,
        &format!("/contacts/{id}/tasks"),
        Some(json!({ "title": "Call", "dueDate": "2026-01-05T10:00:00Z", "completed": false })),
    )
    .await;
    let task_id = task.body["task"]["id"].as_str().unwrap().to_string();
    let note = write(
        &sim,
        Method::POST,
        &format!("/contacts/{id}/notes"),
        Some(json!({ "body": "Met at the fair" })),
    )
    .await;
    let note_id = note.body["note"]["id"].as_str().unwrap().to_string();
    let appointment = write(
        &sim,
        Method::POST,
        "/calendars/events/appointments",
        Some(json!({
            "locationId": LOCATION,
            "calendarId": seed::GHL_CALENDAR_IDS[0],
            "contactId": id,
            "startTime": "2026-03-01T10:00:00-05:00",
        })),
    )
    .await;
    let event_id = appointment.body["id"].as_str().unwrap().to_string();
    let stored = stored_with_email(&sim, "cascade@example.org").await;
    assert_eq!(stored[0]["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(stored[0]["notes"].as_array().unwrap().len(), 1);
    assert_eq!(stored[0]["appointments"].as_array().unwrap().len(), 1);

    let reply = write(&sim, Method::DELETE, &format!("/contacts/{id}"), None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({ "succeded": true }));
    assert_schema(
        "contacts#DeleteContactsSuccessfulResponseDto",
        &reply.body,
        "delete",
    );

    let gone = [
        format!("/contacts/{id}"),
        format!("/contacts/{id}/tasks/{task_id}"),
        format!("/contacts/{id}/notes/{note_id}"),
    ];
    for path in gone {
        let reply = get(&sim, &path).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(
            reply.body["message"],
            format!("Contact with id {id} not found"),
            "{path}"
        );
    }
    let reply = write(
        &sim,
        Method::GET,
        &format!("/calendars/events/appointments/{event_id}"),
        None,
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        stored_with_email(&sim, "cascade@example.org")
            .await
            .is_empty()
    );

    let reply = write(&sim, Method::DELETE, &format!("/contacts/{id}"), None).await;
    assert_eq!(reply.status, 400, "a second delete finds nothing");
    sim.shutdown().await;
}

#[tokio::test]
async fn upsert_matches_email_then_phone() {
    let sim = start_default().await;
    let seeded = seeded_with_email_and_phone();
    let (first, second) = (seeded[0], seeded[1]);

    // E-mail of one contact and phone of another: the e-mail wins.
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/upsert",
        Some(json!({
            "locationId": LOCATION,
            "email": first.email,
            "phone": second.phone,
            "city": "Austin",
        })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema(
        "contacts#UpsertContactsSuccessfulResponseDto",
        &reply.body,
        "upsert",
    );
    assert_eq!(reply.body["new"], false);
    assert_eq!(reply.body["contact"]["id"], first.id.as_str());
    assert!(
        reply.body["traceId"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // Omitted fields keep their values.
    let detail = get(&sim, &format!("/contacts/{}", first.id)).await.body;
    assert_eq!(detail["contact"]["firstName"], first.first_name.as_str());
    assert_eq!(detail["contact"]["tags"], json!(first.tags));
    assert_eq!(detail["contact"]["city"], "Austin");

    // A phone alone matches by phone. The first upsert gave `first` the phone of
    // `second`, so a third contact is used here.
    let third = seeded[2];
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/upsert",
        Some(json!({ "locationId": LOCATION, "phone": third.phone, "source": "upsert" })),
    )
    .await;
    assert_eq!(reply.body["new"], false);
    assert_eq!(reply.body["contact"]["id"], third.id.as_str());
    assert_eq!(reply.body["contact"]["source"], "upsert");

    // No match creates a contact, still with status 200.
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/upsert",
        Some(json!({ "locationId": LOCATION, "email": "upserted@example.org", "firstName": "Up" })),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["new"], true);
    let new_id = reply.body["contact"]["id"].as_str().unwrap().to_string();

    // The same e-mail in other letter case updates the contact it created.
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/upsert",
        Some(json!({ "locationId": LOCATION, "email": "UPSERTED@example.org" })),
    )
    .await;
    assert_eq!(reply.body["new"], false);
    assert_eq!(reply.body["contact"]["id"], new_id.as_str());
    assert_eq!(reply.body["contact"]["firstName"], "Up");
    assert_eq!(
        stored_with_email(&sim, "upserted@example.org").await.len(),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn upsert_create_new_needs_duplicates_allowed() {
    let seeded = seeded_with_email_and_phone()[0];
    let email = seeded.email.as_deref().unwrap();
    let body =
        json!({ "locationId": LOCATION, "email": email, "createNewIfDuplicateAllowed": true });

    let sim = start_default().await;
    let reply = write(&sim, Method::POST, "/contacts/upsert", Some(body.clone())).await;
    assert_eq!(reply.body["new"], false, "the flag is ignored");
    assert_eq!(stored_with_email(&sim, email).await.len(), 1);
    sim.shutdown().await;

    let options = GhlSimOptions {
        allow_duplicate_contacts: true,
        ..GhlSimOptions::default()
    };
    let sim = start_sim(options).await;
    let reply = write(&sim, Method::POST, "/contacts/upsert", Some(body)).await;
    assert_eq!(reply.body["new"], true);
    assert_eq!(stored_with_email(&sim, email).await.len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn tags_add_and_remove() {
    let sim = start_default().await;
    let id = create_plain_contact(&sim, "tags@example.org").await;
    let path = format!("/contacts/{id}/tags");

    let reply = write(
        &sim,
        Method::POST,
        &path,
        Some(json!({ "tags": ["housing", "donor"] })),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_schema(
        "contacts#CreateAddTagSuccessfulResponseDto",
        &reply.body,
        "add tags",
    );
    assert_eq!(reply.body, json!({ "tags": ["housing", "donor"] }));

    let reply = write(
        &sim,
        Method::POST,
        &path,
        Some(json!({ "tags": ["Donor", "volunteer"] })),
    )
    .await;
    assert_eq!(
        reply.body,
        json!({ "tags": ["housing", "donor", "volunteer"] })
    );

    let reply = write(
        &sim,
        Method::DELETE,
        &path,
        Some(json!({ "tags": ["HOUSING", "not-there"] })),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_schema(
        "contacts#CreateDeleteTagSuccessfulResponseDto",
        &reply.body,
        "remove tags",
    );
    assert_eq!(reply.body, json!({ "tags": ["donor", "volunteer"] }));

    let detail = get(&sim, &format!("/contacts/{id}")).await.body;
    assert_eq!(detail["contact"]["tags"], json!(["donor", "volunteer"]));
    sim.shutdown().await;
}

#[tokio::test]
async fn task_writes_round_trip() {
    let sim = start_default().await;
    let contact = ghl_contacts()[0];
    let base = format!("/contacts/{}/tasks", contact.id);

    let reply = write(
        &sim,
        Method::POST,
        &base,
        Some(json!({
            "title": "Collect documents",
            "body": "Bring ID",
            "dueDate": "2026-01-05T10:00:00+02:00",
            "completed": false,
            "assignedTo": ghl::SIM_USER_ID,
        })),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_schema(
        "contacts#TaskByIsSuccessfulResponseDto",
        &reply.body,
        "create",
    );
    let task = &reply.body["task"];
    assert_eq!(task["dueDate"], "2026-01-05T08:00:00.000Z");
    assert_eq!(task["contactId"], contact.id.as_str());
    let task_id = task["id"].as_str().unwrap().to_string();
    let path = format!("{base}/{task_id}");

    let reply = write(
        &sim,
        Method::PUT,
        &path,
        Some(json!({ "title": "Collect papers" })),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_schema(
        "contacts#TaskByIsSuccessfulResponseDto",
        &reply.body,
        "update",
    );
    assert_eq!(reply.body["task"]["title"], "Collect papers");
    assert_eq!(reply.body["task"]["body"], "Bring ID");

    let reply = write(
        &sim,
        Method::PUT,
        &format!("{path}/completed"),
        Some(json!({ "completed": true })),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["task"]["completed"], true);

    let reply = get(&sim, &path).await;
    assert_eq!(reply.body["task"]["title"], "Collect papers");
    assert_eq!(reply.body["task"]["completed"], true);
    let listed = get(&sim, &base).await;
    assert_eq!(
        listed.body["tasks"].as_array().unwrap().len(),
        contact.tasks.len() + 1
    );

    let reply = write(&sim, Method::DELETE, &path, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({ "succeded": true }));
    assert_schema(
        "contacts#DeleteTaskSuccessfulResponseDto",
        &reply.body,
        "delete",
    );
    let reply = get(&sim, &path).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body["message"],
        format!("Task with id {task_id} not found")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn note_writes_round_trip() {
    let sim = start_default().await;
    let contact = ghl_contacts()[0];
    let base = format!("/contacts/{}/notes", contact.id);

    let reply = write(
        &sim,
        Method::POST,
        &base,
        Some(
            json!({ "body": "First visit", "title": "Intake", "color": "#FFAA00", "pinned": true }),
        ),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_schema(
        "contacts#GetCreateUpdateNoteSuccessfulResponseDto",
        &reply.body,
        "create",
    );
    let note = &reply.body["note"];
    assert_eq!(note["body"], "First visit");
    assert_eq!(note["pinned"], true);
    let note_id = note["id"].as_str().unwrap().to_string();
    let path = format!("{base}/{note_id}");

    let reply = write(
        &sim,
        Method::PUT,
        &path,
        Some(json!({ "body": "First visit, with family" })),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_schema(
        "contacts#GetCreateUpdateNoteSuccessfulResponseDto",
        &reply.body,
        "update",
    );
    assert_eq!(reply.body["note"]["title"], "Intake");

    let reply = get(&sim, &path).await;
    assert_eq!(reply.body["note"]["body"], "First visit, with family");

    let reply = write(&sim, Method::DELETE, &path, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({ "succeded": true }));
    assert_schema(
        "contacts#DeleteNoteSuccessfulResponseDto",
        &reply.body,
        "delete",
    );
    let reply = get(&sim, &path).await;
    assert_eq!(reply.status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn appointment_writes_round_trip() {
    let sim = start_default().await;
    let contact = ghl_contacts()[0];
    let reply = write(
        &sim,
        Method::POST,
        "/calendars/events/appointments",
        Some(json!({
            "locationId": LOCATION,
            "calendarId": seed::GHL_CALENDAR_IDS[1],
            "contactId": contact.id,
            "startTime": "2026-03-01T10:00:00+05:30",
            "endTime": "2026-03-01T11:00:00+05:30",
            "title": "Benefits review",
            "address": "Room 4",
            "appointmentStatus": "confirmed",
            "toNotify": false,
        })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("calendars#AppointmentSchemaResponse", &reply.body, "create");
    assert!(
        reply.body.get("event").is_none(),
        "the create reply is flat"
    );
    assert_eq!(reply.body["startTime"], "2026-03-01T04:30:00+00:00");
    assert_eq!(reply.body["meetingLocationType"], "custom");
    let event_id = reply.body["id"].as_str().unwrap().to_string();

    let event_path = format!("/calendars/events/appointments/{event_id}");
    let reply = write(&sim, Method::GET, &event_path, None).await;
    assert_eq!(reply.status, 200);
    assert_schema(
        "calendars#GetCalendarEventSuccessfulResponseDTO",
        &reply.body,
        "read after create",
    );
    assert_eq!(reply.body["event"]["title"], "Benefits review");
    let listed = get(&sim, &format!("/contacts/{}/appointments", contact.id)).await;
    assert!(
        listed.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["id"] == event_id.as_str())
    );

    let reply = write(
        &sim,
        Method::PUT,
        &event_path,
        Some(json!({ "startTime": "2026-03-02T09:00:00Z", "appointmentStatus": "showed" })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_schema("calendars#AppointmentSchemaResponse", &reply.body, "edit");
    assert_eq!(reply.body["startTime"], "2026-03-02T09:00:00+00:00");
    assert_eq!(
        reply.body["endTime"], "2026-03-02T10:00:00+00:00",
        "the length is kept"
    );
    assert_eq!(reply.body["appointmentStatus"], "showed");

    let reply = write(
        &sim,
        Method::PUT,
        &event_path,
        Some(json!({ "locationId": LOCATION })),
    )
    .await;
    assert_unprocessable(&reply, "property locationId should not exist", "edit");

    let delete_path = format!("/calendars/events/{event_id}");
    let reply = write(&sim, Method::DELETE, &delete_path, Some(json!({}))).await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body, json!({ "succeeded": true }));
    assert_schema(
        "calendars#DeleteEventSuccessfulResponseDto",
        &reply.body,
        "delete",
    );
    let reply = write(&sim, Method::GET, &event_path, None).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body["message"],
        format!("Event with id {event_id} not found")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn appointment_create_checks_references() {
    let sim = start_default().await;
    let contact = ghl_contacts()[0];
    let body = |calendar: &str, contact_id: &str, location: &str| {
        json!({
            "locationId": location,
            "calendarId": calendar,
            "contactId": contact_id,
            "startTime": "2026-03-01T10:00:00Z",
        })
    };
    let path = "/calendars/events/appointments";

    let reply = write(
        &sim,
        Method::POST,
        path,
        Some(body("NoSuchCalendar000001", &contact.id, LOCATION)),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body["message"],
        "Calendar with id NoSuchCalendar000001 not found"
    );

    let reply = write(
        &sim,
        Method::POST,
        path,
        Some(body(
            seed::GHL_CALENDAR_IDS[0],
            "NoSuchContact0000001",
            LOCATION,
        )),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body["message"],
        "Contact with id NoSuchContact0000001 not found"
    );

    let reply = write(
        &sim,
        Method::POST,
        path,
        Some(body(seed::GHL_CALENDAR_IDS[0], &contact.id, OTHER_LOCATION)),
    )
    .await;
    assert_eq!(reply.status, 403);

    let mut reversed = body(seed::GHL_CALENDAR_IDS[0], &contact.id, LOCATION);
    reversed["endTime"] = json!("2026-03-01T09:00:00Z");
    let reply = write(&sim, Method::POST, path, Some(reversed)).await;
    assert_unprocessable(&reply, "endTime must be after startTime", "reversed times");
    sim.shutdown().await;
}

#[tokio::test]
async fn writes_to_other_location_are_403() {
    let mut options = GhlSimOptions::default();
    options
        .tokens
        .insert(OTHER_TOKEN.to_string(), OTHER_LOCATION.to_string());
    let sim = start_sim(options).await;
    let contact = ghl_contacts()[0];
    let reply = send(
        &sim,
        Method::PUT,
        &format!("/contacts/{}", contact.id),
        Some(OTHER_TOKEN),
        Some(CONTACTS_VERSION),
        Some(json!({ "city": "Elsewhere" })),
    )
    .await;
    assert_eq!(reply.status, 403);
    let reply = send(
        &sim,
        Method::DELETE,
        &format!("/contacts/{}", contact.id),
        Some(OTHER_TOKEN),
        Some(CONTACTS_VERSION),
        None,
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(state_contacts(&sim).await.len(), ghl_contacts().len());
    sim.shutdown().await;
}

#[tokio::test]
async fn writes_count_in_stats() {
    let sim = start_default().await;
    create_plain_contact(&sim, "counted@example.org").await;
    let reply = write(
        &sim,
        Method::POST,
        "/contacts/",
        Some(json!({ "locationId": LOCATION, "email": "counted@example.org" })),
    )
    .await;
    assert_eq!(reply.status, 400);
    state_contacts(&sim).await;

    assert_eq!(sim.control.count("POST /contacts/"), 2);
    assert_eq!(sim.control.total(), 2, "the state route is not counted");
    let stats = sim.control.stats();
    let route = &stats["routes"]["POST /contacts/"];
    assert_eq!(route["statuses"]["201"], 1);
    assert_eq!(route["statuses"]["400"], 1);
    assert_eq!(
        stats["headers"]["version"]["POST /contacts/"]["2021-07-28"],
        2
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn state_route_filters_by_location() {
    let sim = start_default().await;
    let body: Value = reqwest::get(format!(
        "{}/_sim/state/contacts?locationId={OTHER_LOCATION}",
        sim.base_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(body, json!({ "contacts": [], "total": 0 }));

    let all = state_contacts(&sim).await;
    assert_eq!(all.len(), ghl_contacts().len());
    let with_tasks = all
        .iter()
        .find(|contact| !contact["tasks"].as_array().unwrap().is_empty())
        .expect("a seeded contact has tasks");
    assert!(with_tasks["notes"].is_array());
    assert!(with_tasks["appointments"].is_array());
    sim.shutdown().await;
}

#[tokio::test]
async fn delay_after_fault_keeps_created_contact() {
    let sim = start_default().await;
    add_faults(
        &sim,
        json!({ "method": "POST", "path": "/contacts/", "delay_after_ms": 2000, "times": 1 }),
    )
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let error = impatient
        .post(format!("{}/contacts/", sim.base_url))
        .bearer_auth(TOKEN)
        .header("Version", CONTACTS_VERSION)
        .json(&json!({ "locationId": LOCATION, "email": "late@example.org" }))
        .send()
        .await
        .expect_err("the reply comes after the client's timeout");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(stored_with_email(&sim, "late@example.org").await.len(), 1);
    sim.shutdown().await;
}
