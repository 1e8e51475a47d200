//! Tests of the GHL client's writes against stub servers on 127.0.0.1.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};

use super::*;
use crate::upstream::test_support::{Recorded, Reply, Stub, assert_no_leak, assert_system};

const TOKEN: &str = "pit-test-token-0123456789";
const LOCATION: &str = "SimLocation000000001";

fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..HttpSettings::default()
    }
}

fn client_with(stub: &Stub, settings: HttpSettings) -> GhlClient {
    GhlClient::new(
        stub.base.clone(),
        LOCATION.to_string(),
        SecretString::from(TOKEN),
        &settings,
    )
    .expect("client builds")
}

fn client_for(stub: &Stub) -> GhlClient {
    client_with(stub, settings())
}

fn body_of(request: &Recorded) -> Value {
    serde_json::from_slice(&request.body).expect("the request body is JSON")
}

fn assert_clean(err: &UpstreamError, stub: &Stub) {
    assert_system(err, System::Ghl);
    assert_no_leak(err, &[TOKEN, stub.base.as_str(), &stub.authority()]);
}

fn contact_input() -> GhlContactInput {
    GhlContactInput {
        first_name: Some("Ada".into()),
        email: Some("ada@example.org".into()),
        tags: Some(vec!["housing".into()]),
        date_of_birth: Some("1990-09-25".into()),
        custom_fields: Some(vec![GhlCustomFieldInput::by_id("cf1", "French")]),
        ..GhlContactInput::default()
    }
}

#[tokio::test]
async fn create_contact_adds_location() {
    let stub = Stub::start(|_| {
        Reply::json(
            201,
            json!({"contact": {"id": "c1", "firstName": "Ada", "dateOfBirth": "1990-09-25T00:00:00.000Z", "deleted": false, "birthMonth": 8}}),
        )
    })
    .await;
    let contact = client_for(&stub)
        .create_contact(&contact_input())
        .await
        .unwrap();
    assert_eq!(contact.id, "c1");
    assert_eq!(
        contact.date_of_birth.as_deref(),
        Some("1990-09-25T00:00:00.000Z")
    );

    let sent = stub.single_request();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/contacts/");
    assert_eq!(sent.header("version"), CONTACTS_VERSION);
    assert_eq!(sent.header("content-type"), "application/json");
    assert_eq!(sent.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(
        body_of(&sent),
        json!({
            "locationId": LOCATION,
            "firstName": "Ada",
            "email": "ada@example.org",
            "tags": ["housing"],
            "dateOfBirth": "1990-09-25",
            "customFields": [{"id": "cf1", "field_value": "French"}],
        })
    );
}

#[tokio::test]
async fn duplicate_create_becomes_duplicate() {
    let stub = Stub::start(|_| {
        Reply::json(
            400,
            json!({
                "statusCode": 400,
                "message": "This location does not allow duplicated contacts.",
                "meta": {"contactId": "existing1", "contactName": "Ada Abbott", "matchingField": "email"}
            }),
        )
    })
    .await;
    let err = client_for(&stub)
        .create_contact(&contact_input())
        .await
        .unwrap_err();
    match &err {
        UpstreamError::Duplicate {
            existing_id,
            detail,
            ..
        } => {
            assert_eq!(existing_id.as_deref(), Some("existing1"));
            assert!(
                detail.contains("does not allow duplicated contacts"),
                "{detail}"
            );
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(err.code(), "UPSTREAM_DUPLICATE");
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("existing1"), "{err}");
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn duplicate_without_meta_keeps_message() {
    let stub = Stub::start(|_| {
        Reply::json(
            400,
            json!({"statusCode": 400, "message": "This location does not allow duplicated contacts."}),
        )
    })
    .await;
    let err = client_for(&stub)
        .update_contact("c1", &contact_input())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UpstreamError::Duplicate {
                existing_id: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn other_400_stays_rejected() {
    let stub =
        Stub::start(|_| Reply::json(400, json!({"statusCode": 400, "message": "Bad Request"})))
            .await;
    let err = client_for(&stub)
        .create_contact(&contact_input())
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::Rejected { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn unprocessable_write_is_rejected() {
    let stub = Stub::start(|_| {
        Reply::json(
            422,
            json!({"statusCode": 422, "message": ["title should not be empty", "dueDate must be a valid ISO 8601 date string"], "error": "Unprocessable Entity"}),
        )
    })
    .await;
    let err = client_for(&stub)
        .create_task("c1", &GhlTaskInput::default())
        .await
        .unwrap_err();
    match &err {
        UpstreamError::Rejected {
            status, messages, ..
        } => {
            assert_eq!(*status, 422);
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0], "title should not be empty");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn failed_post_not_retried() {
    let stub = Stub::start(|_| Reply::text(503, "")).await;
    let err = client_for(&stub)
        .create_contact(&contact_input())
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::Unavailable { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(stub.requests().len(), 1);

    let slow = Stub::start(|_| {
        Reply::json(201, json!({"contact": {"id": "c1"}})).delayed(Duration::from_secs(3))
    })
    .await;
    let short = HttpSettings {
        request_timeout: Duration::from_millis(200),
        ..settings()
    };
    let err = client_with(&slow, short)
        .create_contact(&contact_input())
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Timeout { .. }), "{err:?}");
    assert_eq!(slow.requests().len(), 1);
}

#[tokio::test]
async fn update_contact_reads_envelope() {
    let stub = Stub::start(|request: &Recorded| {
        if request.path.ends_with("/bad") {
            Reply::json(200, json!({"succeded": false, "contact": {"id": "bad"}}))
        } else {
            Reply::json(
                200,
                json!({"succeded": true, "contact": {"id": "c1", "city": "Oslo"}}),
            )
        }
    })
    .await;
    let client = client_for(&stub);
    let input = GhlContactInput {
        last_name: Some("Lee".into()),
        ..GhlContactInput::default()
    };
    let contact = client.update_contact("c1", &input).await.unwrap();
    assert_eq!(contact.id, "c1");

    let err = client.update_contact("bad", &input).await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");

    let sent = &stub.requests()[0];
    assert_eq!(sent.method, "PUT");
    assert_eq!(sent.path, "/contacts/c1");
    assert_eq!(
        body_of(sent),
        json!({"lastName": "Lee"}),
        "no locationId on update"
    );
}

#[tokio::test]
async fn unknown_contact_is_not_found() {
    let stub = Stub::start(|request: &Recorded| {
        let id = request
            .path
            .split('/')
            .nth(2)
            .unwrap_or_default()
            .to_string();
        Reply::json(
            400,
            json!({"statusCode": 400, "message": format!("Contact with id {id} not found")}),
        )
    })
    .await;
    let client = client_for(&stub);
    let results = [
        client
            .update_contact("gone", &GhlContactInput::default())
            .await
            .map(|_| ()),
        client.delete_contact("gone").await,
        client.add_tags("gone", &["a".into()]).await.map(|_| ()),
        client
            .create_note("gone", &GhlNoteInput::default())
            .await
            .map(|_| ()),
    ];
    for result in results {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, UpstreamError::NotFound { resource: "contact", id, .. } if id == "gone"),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn upsert_returns_new_flag() {
    let stub = Stub::start(|request: &Recorded| {
        if body_of(request)["email"] == "broken@example.org" {
            Reply::json(200, json!({"contact": {"id": "c2"}}))
        } else {
            Reply::json(
                200,
                json!({"new": true, "contact": {"id": "c2"}, "traceId": "trace-1"}),
            )
        }
    })
    .await;
    let client = client_for(&stub);
    let (is_new, contact) = client.upsert_contact(&contact_input()).await.unwrap();
    assert!(is_new);
    assert_eq!(contact.id, "c2");
    let sent = &stub.requests()[0];
    assert_eq!(sent.path, "/contacts/upsert");
    assert_eq!(body_of(sent)["locationId"], LOCATION);

    let broken = GhlContactInput {
        email: Some("broken@example.org".into()),
        ..GhlContactInput::default()
    };
    let err = client.upsert_contact(&broken).await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn delete_contact_checks_flag() {
    let stub = Stub::start(|request: &Recorded| {
        let ok = !request.path.ends_with("/refused");
        Reply::json(200, json!({"succeded": ok}))
    })
    .await;
    let client = client_for(&stub);
    client.delete_contact("c1").await.unwrap();
    let err = client.delete_contact("refused").await.unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");

    let sent = &stub.requests()[0];
    assert_eq!(sent.method, "DELETE");
    assert_eq!(sent.path, "/contacts/c1");
    assert!(sent.body.is_empty());
}

#[tokio::test]
async fn tags_sent_in_body() {
    let stub = Stub::start(|request: &Recorded| {
        let status = if request.method == "POST" { 201 } else { 200 };
        Reply::json(status, json!({"tags": ["a", "b"]}))
    })
    .await;
    let client = client_for(&stub);
    let tags = vec!["b".to_string()];
    assert_eq!(client.add_tags("c1", &tags).await.unwrap(), vec!["a", "b"]);
    assert_eq!(
        client.remove_tags("c1", &tags).await.unwrap(),
        vec!["a", "b"]
    );

    let requests = stub.requests();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[1].method, "DELETE");
    for request in &requests {
        assert_eq!(request.path, "/contacts/c1/tags");
        assert_eq!(body_of(request), json!({"tags": ["b"]}));
        assert_eq!(request.header("version"), CONTACTS_VERSION);
    }
}

#[tokio::test]
async fn task_writes_use_task_routes() {
    let stub =
        Stub::start(
            |request: &Recorded| match (request.method.as_str(), request.path.as_str()) {
                ("DELETE", _) => Reply::json(200, json!({"succeded": true})),
                ("PUT", path) if path.ends_with("/t9") => Reply::json(
                    400,
                    json!({"statusCode": 400, "message": "Task with id t9 not found"}),
                ),
                ("POST", _) => Reply::json(201, json!({"task": {"id": "t1", "completed": false}})),
                _ => Reply::json(200, json!({"task": {"id": "t1", "completed": true}})),
            },
        )
        .await;
    let client = client_for(&stub);
    let input = GhlTaskInput {
        title: Some("Call".into()),
        due_date: Some("2026-01-05T10:00:00Z".into()),
        completed: Some(false),
        ..GhlTaskInput::default()
    };
    let created = client.create_task("c1", &input).await.unwrap();
    assert_eq!(created.id, "t1");
    let updated = client.update_task("c1", "t1", &input).await.unwrap();
    assert!(updated.completed);
    client.complete_task("c1", "t1", true).await.unwrap();
    client.delete_task("c1", "t1").await.unwrap();
    let err = client.update_task("c1", "t9", &input).await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "task", id, .. } if id == "t9"),
        "{err:?}"
    );

    let requests = stub.requests();
    let lines: Vec<(String, String)> = requests
        .iter()
        .map(|request| (request.method.clone(), request.path.clone()))
        .collect();
    assert_eq!(
        lines[..4],
        [
            ("POST".to_string(), "/contacts/c1/tasks".to_string()),
            ("PUT".to_string(), "/contacts/c1/tasks/t1".to_string()),
            (
                "PUT".to_string(),
                "/contacts/c1/tasks/t1/completed".to_string()
            ),
            ("DELETE".to_string(), "/contacts/c1/tasks/t1".to_string()),
        ]
    );
    assert_eq!(
        body_of(&requests[0]),
        json!({"title": "Call", "dueDate": "2026-01-05T10:00:00Z", "completed": false})
    );
    assert_eq!(body_of(&requests[2]), json!({"completed": true}));
}

#[tokio::test]
async fn note_writes_use_note_routes() {
    let stub = Stub::start(|request: &Recorded| match request.method.as_str() {
        "DELETE" => Reply::json(200, json!({"succeded": true})),
        "POST" => Reply::json(201, json!({"note": {"id": "n1", "body": "Hi"}})),
        _ => Reply::json(200, json!({"note": {"id": "n1", "body": "Hello"}})),
    })
    .await;
    let client = client_for(&stub);
    let input = GhlNoteInput {
        body: Some("Hi".into()),
        ..GhlNoteInput::default()
    };
    assert_eq!(
        client
            .create_note("c1", &input)
            .await
            .unwrap()
            .body
            .as_deref(),
        Some("Hi")
    );
    assert_eq!(
        client
            .update_note("c1", "n1", &input)
            .await
            .unwrap()
            .body
            .as_deref(),
        Some("Hello")
    );
    client.delete_note("c1", "n1").await.unwrap();

    let requests = stub.requests();
    assert_eq!(requests[0].path, "/contacts/c1/notes");
    assert_eq!(requests[1].path, "/contacts/c1/notes/n1");
    assert_eq!(requests[1].method, "PUT");
    assert_eq!(requests[2].method, "DELETE");
    assert_eq!(body_of(&requests[0]), json!({"body": "Hi"}));
}

#[tokio::test]
async fn appointment_writes_use_calendar_routes() {
    let stub = Stub::start(|request: &Recorded| match request.method.as_str() {
        "DELETE" => Reply::json(201, json!({"succeeded": true})),
        _ => Reply::json(
            200,
            json!({"id": "e1", "calendarId": "cal1", "locationId": LOCATION, "contactId": "c1",
                   "startTime": "2026-03-01T04:30:00+00:00", "meetingLocationType": "custom", "isRecurring": false}),
        ),
    })
    .await;
    let client = client_for(&stub);
    let input = GhlAppointmentInput {
        calendar_id: Some("cal1".into()),
        contact_id: Some("c1".into()),
        start_time: Some("2026-03-01T10:00:00+05:30".into()),
        ..GhlAppointmentInput::default()
    };
    let created = client.create_appointment(&input).await.unwrap();
    assert_eq!(created.id, "e1");
    assert_eq!(created.meeting_location_type.as_deref(), Some("custom"));
    assert!(created.start_time_utc().is_some());

    let change = GhlAppointmentInput {
        title: Some("Review".into()),
        ..GhlAppointmentInput::default()
    };
    client.update_appointment("e1", &change).await.unwrap();
    client.delete_appointment("e1").await.unwrap();

    let requests = stub.requests();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/calendars/events/appointments");
    assert_eq!(
        body_of(&requests[0]),
        json!({"locationId": LOCATION, "calendarId": "cal1", "contactId": "c1", "startTime": "2026-03-01T10:00:00+05:30"})
    );
    assert_eq!(requests[1].method, "PUT");
    assert_eq!(requests[1].path, "/calendars/events/appointments/e1");
    assert_eq!(body_of(&requests[1]), json!({"title": "Review"}));
    assert_eq!(requests[2].method, "DELETE");
    assert_eq!(requests[2].path, "/calendars/events/e1");
    assert_eq!(body_of(&requests[2]), json!({}));
    for request in &requests {
        assert_eq!(request.header("version"), CALENDARS_VERSION);
    }
}

#[tokio::test]
async fn unknown_calendar_is_not_found() {
    let stub = Stub::start(|_| {
        Reply::json(
            400,
            json!({"statusCode": 400, "message": "Calendar with id cal9 not found"}),
        )
    })
    .await;
    let input = GhlAppointmentInput {
        calendar_id: Some("cal9".into()),
        contact_id: Some("c1".into()),
        start_time: Some("2026-03-01T10:00:00Z".into()),
        ..GhlAppointmentInput::default()
    };
    let err = client_for(&stub)
        .create_appointment(&input)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "calendar", id, .. } if id == "cal9"),
        "{err:?}"
    );
}

#[tokio::test]
async fn write_ids_checked_before_sending() {
    let stub = Stub::start(|_| Reply::json(200, json!({}))).await;
    let client = client_for(&stub);
    let err = client.delete_contact("..").await.unwrap_err();
    assert!(
        matches!(
            err,
            UpstreamError::NotFound {
                resource: "contact",
                ..
            }
        ),
        "{err:?}"
    );
    let err = client.delete_note("c1", " ").await.unwrap_err();
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
    let err = client.delete_appointment("").await.unwrap_err();
    assert!(
        matches!(
            err,
            UpstreamError::NotFound {
                resource: "appointment",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(stub.requests().is_empty());
}
