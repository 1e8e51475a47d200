//! GHL client tests against stub servers on 127.0.0.1.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;

use super::*;
use crate::upstream::test_support::{
    Recorded, Reply, SpanCapture, Stub, assert_no_leak, assert_system, closed_port_url,
};

const TOKEN: &str = "pit-test-token-0123456789";
const LOCATION: &str = "SimLocation000000001";

fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..HttpSettings::default()
    }
}

fn client_for(stub: &Stub) -> GhlClient {
    client_with(stub.base.clone(), settings())
}

fn client_with(base: Url, settings: HttpSettings) -> GhlClient {
    GhlClient::new(
        base,
        LOCATION.to_string(),
        SecretString::from(TOKEN),
        &settings,
    )
    .expect("client builds")
}

fn contact_json(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "locationId": LOCATION,
        "firstName": "Ada",
        "lastName": "Abbott",
        "email": "ada@example.org",
        "phone": "+15550100000",
        "tags": ["housing"],
        "dateAdded": "2021-07-02T05:18:26.704Z",
        "customFields": [{"id": "cf1", "value": "x"}]
    })
}

/// Checks an error for leaks of the token and the stub's address.
fn assert_clean(err: &UpstreamError, stub: &Stub) {
    assert_system(err, System::Ghl);
    assert_no_leak(err, &[TOKEN, stub.base.as_str(), &stub.authority()]);
}

#[tokio::test]
async fn contact_read_with_headers() {
    let stub = Stub::start(|_| Reply::json(200, json!({ "contact": contact_json("c1") }))).await;
    let contact = client_for(&stub).get_contact("c1").await.unwrap();

    assert_eq!(contact.id, "c1");
    assert_eq!(contact.first_name.as_deref(), Some("Ada"));
    assert!(contact.date_added_utc().is_some());

    let request = stub.single_request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/contacts/c1");
    assert_eq!(request.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(request.header("accept"), "application/json");
    assert_eq!(request.header("version"), CONTACTS_VERSION);
}

#[tokio::test]
async fn version_header_per_family() {
    let stub = Stub::start(|request: &Recorded| {
        if request.path.starts_with("/calendars/") {
            Reply::json(
                200,
                json!({"event": {"id": "e1", "startTime": "2023-09-25T16:00:00+05:30"}}),
            )
        } else {
            Reply::json(
                200,
                json!({"events": [{"id": "e1", "startTime": "2021-07-16 11:00:00"}]}),
            )
        }
    })
    .await;
    let client = client_for(&stub);

    let appointment = client.get_appointment("e1").await.unwrap();
    assert!(appointment.start_time_utc().is_some());
    let listed = client.list_contact_appointments("c1").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].start_time_utc().is_some());

    let requests = stub.requests();
    assert_eq!(requests[0].path, "/calendars/events/appointments/e1");
    assert_eq!(requests[0].header("version"), CALENDARS_VERSION);
    assert_eq!(requests[1].path, "/contacts/c1/appointments");
    assert_eq!(requests[1].header("version"), CONTACTS_VERSION);
    for request in &requests {
        assert_eq!(request.header("authorization"), format!("Bearer {TOKEN}"));
    }
}

#[tokio::test]
async fn ids_percent_encoded() {
    let stub = Stub::start(|_| Reply::json(200, json!({"task": {"id": "t"}}))).await;
    let client = client_for(&stub);
    client.get_task("a/b c?d#e", "t.1").await.unwrap();
    client.get_task("%2F", "...").await.unwrap();

    let requests = stub.requests();
    assert_eq!(requests[0].path, "/contacts/a%2Fb%20c%3Fd%23e/tasks/t.1");
    assert_eq!(requests[0].query, None);
    assert_eq!(requests[1].path, "/contacts/%252F/tasks/...");

    // Dot segments would climb the path, so they are refused before sending.
    let err = client.get_task("c1", "..").await.unwrap_err();
    assert!(
        matches!(
            err,
            UpstreamError::NotFound {
                resource: "task",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(stub.requests().len(), 2);
}

#[tokio::test]
async fn base_path_prefix_kept() {
    let stub = Stub::start_at("/ghl/", |_| Reply::json(200, json!({"notes": []}))).await;
    let notes = client_for(&stub).list_notes("c1").await.unwrap();
    assert!(notes.is_empty());
    assert_eq!(stub.single_request().path, "/ghl/contacts/c1/notes");
}

#[tokio::test]
async fn empty_id_sends_nothing() {
    let stub = Stub::start(|_| Reply::json(200, json!({}))).await;
    let client = client_for(&stub);

    let err = client.get_contact("").await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "contact", id, .. } if id.is_empty()),
        "{err:?}"
    );
    let err = client.get_note("c1", "  ").await.unwrap_err();
    assert!(
        matches!(
            err,
            UpstreamError::NotFound {
                resource: "note",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn unauthorized_keeps_message() {
    let stub = Stub::start(|_| {
        Reply::json(
            401,
            json!({"statusCode": 401, "message": "Invalid token: access token is invalid", "error": "Unauthorized"}),
        )
    })
    .await;
    let err = client_for(&stub).get_contact("c1").await.unwrap_err();
    match &err {
        UpstreamError::Unauthorized { detail, .. } => {
            assert_eq!(detail, "Invalid token: access token is invalid");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn forbidden_classified() {
    let stub = Stub::start(|_| {
        Reply::json(403, json!({"statusCode": 403, "message": "The token does not have access to this location."}))
    })
    .await;
    let err = client_for(&stub).list_tasks("c1").await.unwrap_err();
    assert!(matches!(err, UpstreamError::Forbidden { .. }), "{err:?}");
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn not_found_from_404() {
    let stub =
        Stub::start(|_| Reply::json(404, json!({"statusCode": 404, "message": "Not Found"}))).await;
    let err = client_for(&stub).get_appointment("e404").await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "appointment", id, .. } if id == "e404"),
        "{err:?}"
    );
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn not_found_from_ghl_400() {
    let stub = Stub::start(|_| {
        Reply::json(
            400,
            json!({"statusCode": 400, "message": "Contact with id nope not found"}),
        )
    })
    .await;
    let client = client_for(&stub);

    let err = client.get_contact("nope").await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "contact", id, .. } if id == "nope"),
        "{err:?}"
    );
    assert_clean(&err, &stub);

    // On a sub-resource, the message names the contact, so the contact is reported.
    let err = client.get_note("nope", "n1").await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "contact", id, .. } if id == "nope"),
        "{err:?}"
    );
}

#[tokio::test]
async fn sub_resource_404_names_child() {
    let stub =
        Stub::start(|_| Reply::json(404, json!({"statusCode": 404, "message": "Task not found"})))
            .await;
    let err = client_for(&stub).get_task("c1", "t9").await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "task", id, .. } if id == "t9"),
        "{err:?}"
    );
}

#[tokio::test]
async fn plain_400_is_rejected() {
    let stub =
        Stub::start(|_| Reply::json(400, json!({"statusCode": 400, "message": "Bad Request"})))
            .await;
    let err = client_for(&stub).get_contact("c1").await.unwrap_err();
    match &err {
        UpstreamError::Rejected {
            status, messages, ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(messages, &vec!["Bad Request".to_string()]);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn unprocessable_array_message() {
    let stub = Stub::start(|_| {
        Reply::json(
            422,
            json!({"statusCode": 422, "message": ["pageLimit must be a number", "property x should not exist"], "error": "Unprocessable Entity"}),
        )
    })
    .await;
    let err = client_for(&stub)
        .search_contacts(&SearchContactsRequest::new(10))
        .await
        .unwrap_err();
    match &err {
        UpstreamError::Rejected {
            status, messages, ..
        } => {
            assert_eq!(*status, 422);
            assert_eq!(
                messages,
                &vec![
                    "pageLimit must be a number".to_string(),
                    "property x should not exist".to_string()
                ]
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn rate_limit_retry_after() {
    let stub = Stub::start(|_| Reply::text(429, "").header("retry-after", "30")).await;
    let err = client_for(&stub).list_notes("c1").await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(30)),
        "{err:?}"
    );

    let bare = Stub::start(|_| Reply::text(429, "")).await;
    let err = client_for(&bare).list_notes("c1").await.unwrap_err();
    assert!(
        matches!(
            err,
            UpstreamError::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_error_unavailable() {
    let stub = Stub::start(|_| Reply::text(503, "<html>down</html>")).await;
    let err = client_for(&stub).get_contact("c1").await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Unavailable { status: 503, .. }),
        "{err:?}"
    );
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn slow_answer_times_out() {
    let stub = Stub::start(|_| {
        Reply::json(200, json!({"contact": {"id": "c1"}})).delayed(Duration::from_secs(3))
    })
    .await;
    let short = HttpSettings {
        request_timeout: Duration::from_millis(200),
        ..settings()
    };
    let err = client_with(stub.base.clone(), short)
        .get_contact("c1")
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Timeout { .. }), "{err:?}");
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn closed_port_is_connect() {
    let base = closed_port_url().await;
    let authority = format!(
        "{}:{}",
        base.host_str().unwrap_or_default(),
        base.port().unwrap_or_default()
    );
    let err = client_with(base.clone(), settings())
        .get_contact("c1")
        .await
        .unwrap_err();
    match &err {
        UpstreamError::Connect { detail, .. } => assert_eq!(detail, "connection refused"),
        other => panic!("expected Connect, got {other:?}"),
    }
    assert_no_leak(&err, &[TOKEN, base.as_str(), &authority]);
}

#[tokio::test]
async fn malformed_json_bad_response() {
    let stub = Stub::start(|_| Reply::text(200, "{\"contact\": {\"id\": ")).await;
    let err = client_for(&stub).get_contact("c1").await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
    assert_clean(&err, &stub);

    let html = Stub::start(|_| Reply::text(200, "<html>login</html>")).await;
    let err = client_for(&html).get_contact("c1").await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");

    let empty = Stub::start(|_| Reply::text(200, "")).await;
    let err = client_for(&empty).get_contact("c1").await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn wrong_envelope_bad_response() {
    let stub = Stub::start(|_| Reply::json(200, json!({"contacts": []}))).await;
    let err = client_for(&stub).get_contact("c1").await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");

    let no_id =
        Stub::start(|_| Reply::json(200, json!({"contact": {"email": "jane@example.org"}}))).await;
    let err = client_for(&no_id).get_contact("c1").await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
    assert!(!err.to_string().contains("jane"), "{err}");
}

#[tokio::test]
async fn redirect_not_followed() {
    let stub =
        Stub::start(|_| Reply::text(302, "").header("location", "http://127.0.0.1:9/elsewhere"))
            .await;
    let err = client_for(&stub).get_contact("c1").await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn oversized_body_rejected() {
    let stub = Stub::start(|_| {
        let notes: Vec<_> = (0..200)
            .map(|index| json!({"id": format!("n{index}"), "body": "x".repeat(100)}))
            .collect();
        Reply::json(200, json!({ "notes": notes }))
    })
    .await;
    let small = HttpSettings {
        max_response_bytes: 1024,
        ..settings()
    };
    let err = client_with(stub.base.clone(), small)
        .list_notes("c1")
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn token_in_upstream_message_redacted() {
    let stub = Stub::start(|_| {
        Reply::json(
            401,
            json!({"statusCode": 401, "message": format!("token {TOKEN} expired")}),
        )
    })
    .await;
    let err = client_for(&stub).get_contact("c1").await.unwrap_err();
    assert!(err.to_string().contains("[redacted]"), "{err}");
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn search_body_has_location() {
    let stub = Stub::start(|_| {
        let mut row = contact_json("c1");
        row["firstName"] = serde_json::Value::Null;
        row["firstNameLowerCase"] = json!("ada");
        row["searchAfter"] = json!([1625203106704_i64, "c1"]);
        Reply::json(200, json!({"contacts": [row], "total": 1}))
    })
    .await;
    let mut request = SearchContactsRequest::new(20);
    request.page = Some(2);
    request.filters = vec![SearchFilter::any(vec![
        SearchFilter::eq("email", "ada@example.org"),
        SearchFilter::eq("phone", "+15550100000"),
    ])];
    let response = client_for(&stub).search_contacts(&request).await.unwrap();
    assert_eq!(response.total, Some(1));
    assert_eq!(response.contacts[0].display_first_name(), Some("ada"));
    assert_eq!(
        response.contacts[0].search_after,
        Some(vec![json!(1625203106704_i64), json!("c1")])
    );

    let sent = stub.single_request();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/contacts/search");
    assert_eq!(sent.header("content-type"), "application/json");
    assert_eq!(sent.header("version"), CONTACTS_VERSION);
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(
        body,
        json!({
            "locationId": LOCATION,
            "pageLimit": 20,
            "page": 2,
            "filters": [{"group": "OR", "filters": [
                {"field": "email", "operator": "eq", "value": "ada@example.org"},
                {"field": "phone", "operator": "eq", "value": "+15550100000"}
            ]}]
        })
    );
}

#[tokio::test]
async fn list_query_parameters() {
    let stub = Stub::start(|_| {
        Reply::json(
            200,
            json!({"contacts": [{"id": "c2"}], "meta": {"total": 50, "startAfterId": "c2", "startAfter": 1631087949919_i64, "nextPage": 3}}),
        )
    })
    .await;
    let params = ListContactsParams {
        limit: 2,
        start_after_id: Some("c1".into()),
        start_after: Some(1631087949000),
        query: Some("ada & co".into()),
    };
    let response = client_for(&stub).list_contacts(&params).await.unwrap();
    let meta = response.meta.unwrap();
    assert_eq!(meta.total, Some(50));
    assert_eq!(meta.start_after_id.as_deref(), Some("c2"));

    let sent = stub.single_request();
    assert_eq!(sent.path, "/contacts/");
    assert_eq!(
        sent.query_pairs(),
        vec![
            ("locationId".to_string(), LOCATION.to_string()),
            ("limit".to_string(), "2".to_string()),
            ("startAfterId".to_string(), "c1".to_string()),
            ("startAfter".to_string(), "1631087949000".to_string()),
            ("query".to_string(), "ada & co".to_string()),
        ]
    );
}

#[tokio::test]
async fn duplicate_lookup_query() {
    let stub = Stub::start(|request: &Recorded| {
        if request.param("email").as_deref() == Some("ada@example.org") {
            Reply::json(200, json!({ "contact": contact_json("c1") }))
        } else {
            Reply::json(200, json!({ "contact": null }))
        }
    })
    .await;
    let client = client_for(&stub);

    let found = client
        .find_duplicate(Some("ada@example.org"), Some("+15550100000"))
        .await
        .unwrap();
    assert_eq!(found.map(|contact| contact.id), Some("c1".to_string()));
    let missing = client
        .find_duplicate(None, Some("+15550199999"))
        .await
        .unwrap();
    assert_eq!(missing, None);

    let requests = stub.requests();
    assert_eq!(requests[0].path, "/contacts/search/duplicate");
    assert!(
        requests[0].target().contains("number=%2B15550100000"),
        "{}",
        requests[0].target()
    );
    assert_eq!(requests[0].param("locationId").as_deref(), Some(LOCATION));
    assert_eq!(requests[1].param("email"), None);
}

#[tokio::test]
async fn duplicate_absent_cases() {
    let stub =
        Stub::start(|_| Reply::json(404, json!({"statusCode": 404, "message": "Not Found"}))).await;
    let client = client_for(&stub);
    assert_eq!(
        client
            .find_duplicate(Some("a@example.org"), None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(client.find_duplicate(None, Some("  ")).await.unwrap(), None);
    assert_eq!(client.find_duplicate(None, None).await.unwrap(), None);
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn business_contacts_query() {
    let stub =
        Stub::start(|_| Reply::json(200, json!({"contacts": [{"id": "c1"}], "count": 1}))).await;
    let response = client_for(&stub)
        .contacts_by_business("SimBusinessFoodBank1", 25, 50, Some("ada"))
        .await
        .unwrap();
    assert_eq!(response.count, Some(1));

    let sent = stub.single_request();
    assert_eq!(sent.path, "/contacts/business/SimBusinessFoodBank1");
    assert_eq!(sent.param("limit").as_deref(), Some("25"));
    assert_eq!(sent.param("skip").as_deref(), Some("50"));
    assert_eq!(sent.param("query").as_deref(), Some("ada"));
    assert_eq!(sent.param("locationId").as_deref(), Some(LOCATION));
}

#[tokio::test]
async fn tasks_and_notes_parse() {
    let stub = Stub::start(|request: &Recorded| {
        if request.path.ends_with("/tasks") {
            Reply::json(200, json!({"tasks": [{"id": "t1", "title": "Call", "dueDate": "2021-07-08T02:30:00.000Z", "completed": true, "contactId": "c1"}]}))
        } else {
            Reply::json(200, json!({"note": {"id": "n1", "body": "Hello", "dateAdded": "2021-07-08T12:02:11.285Z", "pinned": false}}))
        }
    })
    .await;
    let client = client_for(&stub);

    let tasks = client.list_tasks("c1").await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0].completed);
    assert!(tasks[0].due_date_utc().is_some());

    let note = client.get_note("c1", "n1").await.unwrap();
    assert_eq!(note.body.as_deref(), Some("Hello"));
    assert_eq!(note.pinned, Some(false));
    assert_eq!(stub.requests()[1].path, "/contacts/c1/notes/n1");
}

#[tokio::test]
async fn span_has_route_not_ids() {
    let (capture, _guard) = SpanCapture::install();
    let stub = Stub::start(|request: &Recorded| {
        if request.path.contains("missing") {
            Reply::json(404, json!({"message": "Not Found"}))
        } else {
            Reply::json(200, json!({"tasks": []}))
        }
    })
    .await;
    let client = client_for(&stub);
    client.list_tasks("secret-contact-1").await.unwrap();
    let _ = client.get_contact("missing-contact-2").await;

    let spans: Vec<_> = capture
        .spans()
        .into_iter()
        .filter(|span| span.name == "upstream.request")
        .collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");

    let ok = &spans[0].fields;
    assert_eq!(ok["system"], "GHL");
    assert_eq!(ok["http.method"], "GET");
    assert_eq!(ok["route"], "/contacts/{contactId}/tasks");
    assert_eq!(ok["http.status_code"], "200");
    assert!(ok.contains_key("duration_ms"));
    assert!(!ok.contains_key("error.code"));

    let failed = &spans[1].fields;
    assert_eq!(failed["route"], "/contacts/{contactId}");
    assert_eq!(failed["http.status_code"], "404");
    assert_eq!(failed["error.code"], "NOT_FOUND");

    for span in &spans {
        for value in span.fields.values() {
            assert!(!value.contains("secret-contact"), "{span:?}");
            assert!(!value.contains("missing-contact"), "{span:?}");
            assert!(!value.contains(TOKEN), "{span:?}");
            assert!(!value.contains(LOCATION), "{span:?}");
        }
    }
}

#[tokio::test]
async fn construction_checks() {
    let base = Url::parse("http://127.0.0.1:9/").unwrap();
    let settings = settings();

    let err = GhlClient::new(
        base.clone(),
        " ".into(),
        SecretString::from(TOKEN),
        &settings,
    )
    .unwrap_err();
    assert!(err.to_string().contains("location id is empty"), "{err}");

    let err = GhlClient::new(
        base.clone(),
        LOCATION.into(),
        SecretString::from(""),
        &settings,
    )
    .unwrap_err();
    assert!(matches!(err, UpstreamError::Unauthorized { .. }), "{err:?}");

    let err = GhlClient::new(
        base.clone(),
        LOCATION.into(),
        SecretString::from("abc\ndef-secret"),
        &settings,
    )
    .unwrap_err();
    assert!(matches!(err, UpstreamError::Unauthorized { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("def-secret"));

    let ftp = Url::parse("ftp://127.0.0.1/").unwrap();
    let err =
        GhlClient::new(ftp, LOCATION.into(), SecretString::from(TOKEN), &settings).unwrap_err();
    assert!(err.to_string().contains("ftp"), "{err}");

    let with_user = Url::parse("http://user:pw@127.0.0.1:9/").unwrap();
    let err = GhlClient::new(
        with_user,
        LOCATION.into(),
        SecretString::from(TOKEN),
        &settings,
    )
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("pw@"), "{err}");

    let client =
        GhlClient::new(base, LOCATION.into(), SecretString::from(TOKEN), &settings).unwrap();
    assert_eq!(client.location_id(), LOCATION);
    assert!(!format!("{client:?}").contains(TOKEN));
}
