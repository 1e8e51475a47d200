//! Tests of the Casebook writes against stub JSON:API servers on 127.0.0.1.

use std::time::Duration;

use chrono::TimeZone;
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

use super::*;
use crate::upstream::casebook::query;
use crate::upstream::{
    HttpSettings, System,
    test_support::{Recorded, Reply, Stub, assert_no_leak, assert_system},
};

const TOKEN: &str = "cognito-write-token-abcdef";

fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..HttpSettings::default()
    }
}

fn client_with(base: Url, settings: HttpSettings) -> CasebookClient {
    CasebookClient::new(base, SecretString::from(TOKEN), &settings).expect("client builds")
}

fn client_for(stub: &Stub) -> CasebookClient {
    client_with(stub.base.clone(), settings())
}

fn assert_clean(err: &UpstreamError, stub: &Stub) {
    assert_system(err, System::Casebook);
    assert_no_leak(err, &[TOKEN, stub.base.as_str(), &stub.authority()]);
}

fn body_json(request: &Recorded) -> Value {
    serde_json::from_slice(&request.body).expect("the request body is JSON")
}

fn person_json(id: &str, email: &str) -> Value {
    json!({
        "type": names::PEOPLE.type_name,
        "id": id,
        "attributes": {
            (person::FIRST_NAME): "Ada",
            (person::LAST_NAME): "Abbott",
            (person::EMAIL): email,
        }
    })
}

fn task_json(id: &str, status: &str, person_id: &str) -> Value {
    json!({
        "type": names::TASKS.type_name,
        "id": id,
        "attributes": { (task::TITLE): "Call back", (task::STATUS): status },
        "relationships": {
            (task::PERSON): {"data": {"type": names::PEOPLE.type_name, "id": person_id}}
        }
    })
}

fn note_json(id: &str, people: &[&str]) -> Value {
    let linkage: Vec<Value> = people
        .iter()
        .map(|person| json!({"type": names::PEOPLE.type_name, "id": person}))
        .collect();
    json!({
        "type": names::NOTES.type_name,
        "id": id,
        "attributes": { (note::SUBJECT): "Visit", (note::NOTE_TYPE): names::APPOINTMENT_NOTE_TYPE },
        "relationships": { (note::PEOPLE): {"data": linkage} }
    })
}

#[tokio::test]
async fn create_person_sends_document() {
    let stub = Stub::start(|_| {
        Reply::json(
            201,
            json!({"data": person_json("p-new", "ada@example.org")}),
        )
    })
    .await;
    let input = CasebookPersonInput {
        first_name: Some("Ada".into()),
        last_name: Some("Abbott".into()),
        email: Some("ada@example.org".into()),
        ..CasebookPersonInput::default()
    };
    let person = client_for(&stub).create_person(&input).await.unwrap();
    assert_eq!(person.id, "p-new");
    assert_eq!(person.email.as_deref(), Some("ada@example.org"));

    let request = stub.single_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, names::PEOPLE.path());
    assert_eq!(request.header("content-type"), names::MEDIA_TYPE);
    assert_eq!(request.header("accept"), names::MEDIA_TYPE);
    assert_eq!(request.header("accept-version"), names::ACCEPT_VERSION);
    assert_eq!(request.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(
        body_json(&request),
        json!({"data": {
            "type": names::PEOPLE.type_name,
            "attributes": {
                (person::FIRST_NAME): "Ada",
                (person::LAST_NAME): "Abbott",
                (person::EMAIL): "ada@example.org"
            }
        }})
    );
}

#[tokio::test]
async fn task_input_maps_status_and_person() {
    let stub =
        Stub::start(|_| Reply::json(201, json!({"data": task_json("t1", "completed", "p1")})))
            .await;
    let client = client_for(&stub);
    let due_at =
        Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap() + chrono::Duration::milliseconds(250);
    let input = CasebookTaskInput {
        title: Some("Call back".into()),
        due_at: Some(due_at),
        completed: Some(true),
        person_id: Some("p1".into()),
        ..CasebookTaskInput::default()
    };
    let task = client.create_task(&input).await.unwrap();
    assert!(task.completed);
    assert_eq!(task.person_id.as_deref(), Some("p1"));

    let open = CasebookTaskInput {
        completed: Some(false),
        ..CasebookTaskInput::default()
    };
    client.create_task(&open).await.unwrap();
    client
        .create_task(&CasebookTaskInput::default())
        .await
        .unwrap();

    let requests = stub.requests();
    assert_eq!(requests[0].path, names::TASKS.path());
    assert_eq!(
        body_json(&requests[0]),
        json!({"data": {
            "type": names::TASKS.type_name,
            "attributes": {
                (task::TITLE): "Call back",
                (task::DUE_AT): "2026-03-04T10:00:00.250Z",
                (task::STATUS): task::STATUS_COMPLETED
            },
            "relationships": {
                (task::PERSON): {"data": {"type": names::PEOPLE.type_name, "id": "p1"}}
            }
        }})
    );
    assert_eq!(
        body_json(&requests[1])["data"]["attributes"],
        json!({(task::STATUS): task::STATUS_OPEN})
    );
    assert_eq!(
        body_json(&requests[2])["data"],
        json!({"type": names::TASKS.type_name, "attributes": {}})
    );
}

#[tokio::test]
async fn note_input_maps_people() {
    let stub =
        Stub::start(|_| Reply::json(201, json!({"data": note_json("n1", &["p1", "p2"])}))).await;
    let client = client_for(&stub);
    let occurred_at = Utc.with_ymd_and_hms(2026, 2, 1, 9, 0, 0).unwrap();
    let input = CasebookNoteInput {
        subject: Some("Visit".into()),
        body: Some("Talked".into()),
        note_type: Some(names::APPOINTMENT_NOTE_TYPE.into()),
        occurred_at: Some(occurred_at),
        ends_at: Some(occurred_at + chrono::Duration::minutes(30)),
        people_ids: Some(vec!["p1".into(), "p2".into()]),
    };
    let note = client.create_note(&input).await.unwrap();
    assert_eq!(note.people_ids, vec!["p1", "p2"]);
    assert!(note.is_appointment());

    let cleared = CasebookNoteInput {
        people_ids: Some(Vec::new()),
        ..CasebookNoteInput::default()
    };
    client.update_note("n1", &cleared).await.unwrap();

    let requests = stub.requests();
    assert_eq!(requests[0].path, names::NOTES.path());
    assert_eq!(
        body_json(&requests[0]),
        json!({"data": {
            "type": names::NOTES.type_name,
            "attributes": {
                (note::SUBJECT): "Visit",
                (note::BODY): "Talked",
                (note::NOTE_TYPE): names::APPOINTMENT_NOTE_TYPE,
                (note::OCCURRED_AT): "2026-02-01T09:00:00Z",
                (note::ENDS_AT): "2026-02-01T09:30:00Z"
            },
            "relationships": {
                (note::PEOPLE): {"data": [
                    {"type": names::PEOPLE.type_name, "id": "p1"},
                    {"type": names::PEOPLE.type_name, "id": "p2"}
                ]}
            }
        }})
    );
    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(
        body_json(&requests[1])["data"]["relationships"],
        json!({(note::PEOPLE): {"data": []}})
    );
}

#[tokio::test]
async fn update_sends_id_and_sent_fields() {
    let stub =
        Stub::start(|_| Reply::json(200, json!({"data": person_json("p 1", "new@example.org")})))
            .await;
    let input = CasebookPersonInput {
        email: Some("new@example.org".into()),
        ..CasebookPersonInput::default()
    };
    let person = client_for(&stub)
        .update_person("p 1", &input)
        .await
        .unwrap();
    assert_eq!(person.email.as_deref(), Some("new@example.org"));

    let request = stub.single_request();
    assert_eq!(request.method, "PATCH");
    assert_eq!(request.path, format!("{}/p%201", names::PEOPLE.path()));
    assert_eq!(request.header("content-type"), names::MEDIA_TYPE);
    assert_eq!(
        body_json(&request),
        json!({"data": {
            "type": names::PEOPLE.type_name,
            "id": "p 1",
            "attributes": {(person::EMAIL): "new@example.org"}
        }})
    );
}

#[tokio::test]
async fn update_without_content_reads_back() {
    let stub = Stub::start(|request: &Recorded| {
        if request.method == "PATCH" {
            Reply::text(204, "")
        } else {
            Reply::json(200, json!({"data": task_json("t1", "open", "p1")}))
        }
    })
    .await;
    let input = CasebookTaskInput {
        completed: Some(false),
        ..CasebookTaskInput::default()
    };
    let task = client_for(&stub).update_task("t1", &input).await.unwrap();
    assert_eq!(task.id, "t1");

    let requests = stub.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "GET");
    assert_eq!(requests[1].path, format!("{}/t1", names::TASKS.path()));
}

#[tokio::test]
async fn update_returning_other_id_is_bad_response() {
    let stub =
        Stub::start(|_| Reply::json(200, json!({"data": person_json("other", "a@example.org")})))
            .await;
    let err = client_for(&stub)
        .update_person("p1", &CasebookPersonInput::default())
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn unknown_id_is_not_found() {
    let stub = Stub::start(|_| {
        Reply::json(
            404,
            json!({"errors": [{"status": "404", "title": "Not Found", "detail": "No record with id x."}]}),
        )
    })
    .await;
    let client = client_for(&stub);

    let err = client
        .update_person("p404", &CasebookPersonInput::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "person", id, .. } if id == "p404"),
        "{err:?}"
    );
    assert_clean(&err, &stub);

    let err = client.delete_task("t404").await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "task", id, .. } if id == "t404"),
        "{err:?}"
    );
    let err = client
        .update_note("n404", &CasebookNoteInput::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            UpstreamError::NotFound {
                resource: "note",
                ..
            }
        ),
        "{err:?}"
    );
    let err = client.delete_person("p404").await.unwrap_err();
    assert!(
        matches!(
            &err,
            UpstreamError::NotFound {
                resource: "person",
                ..
            }
        ),
        "{err:?}"
    );

    let err = client
        .create_person(&CasebookPersonInput::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::Rejected { status: 404, .. }),
        "a 404 on a collection means an unknown route: {err:?}"
    );
}

#[tokio::test]
async fn unusable_id_sends_nothing() {
    let stub = Stub::start(|_| Reply::text(204, "")).await;
    let client = client_for(&stub);
    for id in ["", " ", "..", "."] {
        let err = client.delete_note(id).await.unwrap_err();
        assert!(
            matches!(err, UpstreamError::NotFound { .. }),
            "{id:?}: {err:?}"
        );
        let err = client
            .update_task(id, &CasebookTaskInput::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UpstreamError::NotFound { .. }),
            "{id:?}: {err:?}"
        );
    }
    assert!(stub.requests().is_empty());
}

#[tokio::test]
async fn delete_sends_no_body() {
    let stub = Stub::start(|_| Reply::text(204, "")).await;
    client_for(&stub).delete_note("n/1").await.unwrap();

    let request = stub.single_request();
    assert_eq!(request.method, "DELETE");
    assert_eq!(request.path, format!("{}/n%2F1", names::NOTES.path()));
    assert!(request.body.is_empty());
    assert_eq!(request.header("content-type"), "");
    assert_eq!(request.header("accept"), names::MEDIA_TYPE);
}

#[tokio::test]
async fn rejection_names_pointers() {
    let stub = Stub::start(|_| {
        Reply::json(
            422,
            json!({"errors": [
                {"status": "422", "title": "Invalid Attribute", "detail": "first_name is required",
                 "source": {"pointer": "/data/attributes/first_name"}},
                {"status": "422", "title": "Invalid Relationship", "detail": "no such person",
                 "source": {"pointer": "/data/relationships/person"}}
            ]}),
        )
        .header("content-type", names::MEDIA_TYPE)
    })
    .await;
    let err = client_for(&stub)
        .create_person(&CasebookPersonInput::default())
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
                    "/data/attributes/first_name: first_name is required".to_string(),
                    "/data/relationships/person: no such person".to_string()
                ]
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(err.code(), "UPSTREAM_REJECTED");
    assert_clean(&err, &stub);
}

#[tokio::test]
async fn other_write_statuses_classified() {
    let cases: Vec<(u16, &str)> = vec![
        (400, "UPSTREAM_REJECTED"),
        (403, "UPSTREAM_FORBIDDEN"),
        (409, "UPSTREAM_REJECTED"),
        (415, "UPSTREAM_REJECTED"),
        (401, "UPSTREAM_UNAUTHORIZED"),
        (503, "UPSTREAM_UNAVAILABLE"),
    ];
    for (status, code) in cases {
        let stub = Stub::start(move |_| {
            Reply::json(
                status,
                json!({"errors": [{"status": status.to_string(), "detail": "x"}]}),
            )
        })
        .await;
        let err = client_for(&stub)
            .create_note(&CasebookNoteInput::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "HTTP {status}: {err:?}");
        assert_eq!(
            stub.requests().len(),
            1,
            "HTTP {status} must not be retried"
        );
        assert_clean(&err, &stub);
    }
}

#[tokio::test]
async fn create_is_sent_once_on_timeout() {
    let stub = Stub::start(|_| {
        Reply::json(201, json!({"data": person_json("late", "a@example.org")}))
            .delayed(Duration::from_millis(800))
    })
    .await;
    let short = HttpSettings {
        request_timeout: Duration::from_millis(150),
        ..settings()
    };
    let err = client_with(stub.base.clone(), short)
        .create_person(&CasebookPersonInput::default())
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Timeout { .. }), "{err:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn create_needs_one_resource_back() {
    let replies = [
        Reply::text(201, ""),
        Reply::json(201, json!({"data": null})),
        Reply::json(201, json!({"data": [person_json("p1", "a@example.org")]})),
        Reply::json(201, json!({"data": note_json("n1", &[])})),
        Reply::text(201, "{\"data\": {"),
    ];
    for reply in replies {
        let body = reply.body.clone();
        let stub = Stub::start(move |_| reply.clone()).await;
        let err = client_for(&stub)
            .create_person(&CasebookPersonInput::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UpstreamError::BadResponse { .. }),
            "{body}: {err:?}"
        );
        assert_clean(&err, &stub);
    }
}

#[tokio::test]
async fn people_by_email_matches_exactly() {
    let stub = Stub::start(|request: &Recorded| {
        let data = if request.param("filter").is_some() {
            vec![person_json("p-comma", "\"a,b\"@example.org")]
        } else {
            vec![
                person_json("p2", "ada@example.org"),
                person_json("p1", "ada@example.org"),
                person_json("p3", "ADA@example.org"),
                person_json("p4", "bo@example.org"),
            ]
        };
        Reply::json(
            200,
            json!({"data": data, "meta": {(names::META_TOTAL): data.len()}}),
        )
    })
    .await;
    let emails = vec![
        "bo@example.org".to_string(),
        "ada@example.org".to_string(),
        "\"a,b\"@example.org".to_string(),
        "  ".to_string(),
        "ada@example.org".to_string(),
    ];
    let people = client_for(&stub).people_by_email(&emails).await.unwrap();
    let ids: Vec<&str> = people.iter().map(|person| person.id.as_str()).collect();
    assert_eq!(ids, ["p4", "p1", "p2", "p-comma"]);

    let requests = stub.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, names::PEOPLE.path());
    assert_eq!(
        requests[0]
            .param(&query::filter_name(person::EMAIL))
            .as_deref(),
        Some("bo@example.org,ada@example.org")
    );
    let filter: Value = serde_json::from_str(&requests[1].param("filter").unwrap()).unwrap();
    assert_eq!(
        filter,
        json!({(person::EMAIL): {(filter_op::EQ): "\"a,b\"@example.org"}})
    );
}

#[tokio::test]
async fn people_by_email_without_emails_sends_nothing() {
    let stub = Stub::start(|_| Reply::json(200, json!({"data": []}))).await;
    let client = client_for(&stub);
    assert!(client.people_by_email(&[]).await.unwrap().is_empty());
    assert!(
        client
            .people_by_email(&[String::new(), " ".into()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(stub.requests().is_empty());
}
