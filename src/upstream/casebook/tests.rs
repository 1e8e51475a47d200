//! Casebook client tests against stub JSON:API servers on 127.0.0.1.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use secrecy::SecretString;
use serde_json::{Value, json};

use super::*;
use crate::upstream::test_support::{
    Recorded, Reply, Stub, assert_no_leak, assert_system, closed_port_url,
};

const TOKEN: &str = "cognito-test-token-abcdef";

fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..HttpSettings::default()
    }
}

fn client_for(stub: &Stub) -> CasebookClient {
    client_with(stub.base.clone(), settings())
}

fn client_with(base: Url, settings: HttpSettings) -> CasebookClient {
    CasebookClient::new(base, SecretString::from(TOKEN), &settings).expect("client builds")
}

fn assert_clean(err: &UpstreamError, stub: &Stub) {
    assert_system(err, System::Casebook);
    assert_no_leak(err, &[TOKEN, stub.base.as_str(), &stub.authority()]);
}

fn person_json(id: &str) -> Value {
    json!({
        "type": names::PEOPLE.type_name,
        "id": id,
        "attributes": {
            (names::person::FIRST_NAME): format!("First {id}"),
            (names::person::LAST_NAME): "Abbott",
            (names::person::EMAIL): format!("{id}@example.org"),
            (names::person::CREATED_AT): "2024-01-02T03:04:05Z"
        }
    })
}

fn note_json(id: &str, note_type: &str, people: &[&str]) -> Value {
    let linkage: Vec<Value> = people
        .iter()
        .map(|person| json!({"type": names::PEOPLE.type_name, "id": person}))
        .collect();
    json!({
        "type": names::NOTES.type_name,
        "id": id,
        "attributes": {
            (names::note::SUBJECT): format!("Subject {id}"),
            (names::note::NOTE_TYPE): note_type,
            (names::note::OCCURRED_AT): "2024-03-04T10:00:00Z"
        },
        "relationships": { (names::note::PEOPLE): { "data": linkage } }
    })
}

fn task_json(id: &str, person: &str) -> Value {
    json!({
        "type": names::TASKS.type_name,
        "id": id,
        "attributes": {
            (names::task::TITLE): "Call back",
            (names::task::STATUS): names::task::STATUS_OPEN,
            (names::task::DUE_AT): "2024-03-04T10:00:00Z"
        },
        "relationships": { (names::task::PERSON): { "data": {"type": names::PEOPLE.type_name, "id": person} } }
    })
}

/// Serves `records` with crnk-style offset paging and `meta.totalResourceCount`.
/// `page_cap` limits the page size below what the client asks for.
fn paged_reply(request: &Recorded, records: &[Value], page_cap: usize, with_total: bool) -> Reply {
    let offset: usize = request
        .param(names::PAGE_OFFSET)
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let limit: usize = request
        .param(names::PAGE_LIMIT)
        .and_then(|value| value.parse().ok())
        .unwrap_or(10)
        .min(page_cap);
    let page: Vec<Value> = records.iter().skip(offset).take(limit).cloned().collect();
    let mut body = json!({ "data": page });
    if with_total {
        body["meta"] = json!({ (names::META_TOTAL): records.len() });
    }
    Reply::json(200, body)
}

fn uuid_like(index: usize) -> String {
    format!("00000000-0000-4000-8000-{index:012}")
}

#[tokio::test]
async fn person_read_with_headers() {
    let stub = Stub::start(|_| Reply::json(200, json!({ "data": person_json("p1") }))).await;
    let person = client_for(&stub).get_person("p1").await.unwrap();

    assert_eq!(person.id, "p1");
    assert_eq!(person.first_name.as_deref(), Some("First p1"));
    assert_eq!(person.email.as_deref(), Some("p1@example.org"));
    assert!(person.created_at.is_some());

    let request = stub.single_request();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, format!("{}/p1", names::PEOPLE.path()));
    assert_eq!(request.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(request.header("accept"), names::MEDIA_TYPE);
    assert_eq!(request.header("accept-version"), names::ACCEPT_VERSION);
    assert_eq!(request.header("content-type"), "");
}

#[tokio::test]
async fn single_reads_use_collection_paths() {
    let stub = Stub::start(|request: &Recorded| {
        if request.path.starts_with(&names::NOTES.path()) {
            Reply::json(200, json!({ "data": note_json("n/1", "General", &["p1"]) }))
        } else {
            Reply::json(200, json!({ "data": task_json("t 1", "p1") }))
        }
    })
    .await;
    let client = client_for(&stub);

    let note = client.get_note("n/1").await.unwrap();
    assert_eq!(note.people_ids, vec!["p1"]);
    let task = client.get_task("t 1").await.unwrap();
    assert_eq!(task.person_id.as_deref(), Some("p1"));
    assert!(!task.completed);

    let requests = stub.requests();
    assert_eq!(requests[0].path, format!("{}/n%2F1", names::NOTES.path()));
    assert_eq!(requests[1].path, format!("{}/t%201", names::TASKS.path()));
}

#[tokio::test]
async fn not_found_cases() {
    let stub = Stub::start(|request: &Recorded| {
        if request.path.ends_with("/null") {
            Reply::json(200, json!({ "data": null }))
        } else {
            Reply::json(404, json!({"errors": [{"status": "404", "title": "Not Found", "detail": "no such person"}]}))
        }
    })
    .await;
    let client = client_for(&stub);

    let err = client.get_person("p404").await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::NotFound { resource: "person", id, .. } if id == "p404"),
        "{err:?}"
    );
    assert_clean(&err, &stub);

    let err = client.get_person("null").await.unwrap_err();
    assert!(matches!(err, UpstreamError::NotFound { .. }), "{err:?}");

    let err = client.get_task("").await.unwrap_err();
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
async fn wrong_type_or_id_bad_response() {
    let stub = Stub::start(|request: &Recorded| {
        if request.path.ends_with("/wrong-type") {
            Reply::json(
                200,
                json!({ "data": {"type": "cases", "id": "wrong-type"} }),
            )
        } else if request.path.ends_with("/no-id") {
            Reply::json(200, json!({ "data": {"type": names::PEOPLE.type_name} }))
        } else {
            Reply::json(200, json!({ "data": person_json("someone-else") }))
        }
    })
    .await;
    let client = client_for(&stub);

    for id in ["wrong-type", "no-id", "other"] {
        let err = client.get_person(id).await.unwrap_err();
        assert!(
            matches!(err, UpstreamError::BadResponse { .. }),
            "{id}: {err:?}"
        );
        assert_clean(&err, &stub);
    }
}

#[tokio::test]
async fn error_classification() {
    let cases: Vec<(u16, Value, &str)> = vec![
        (
            401,
            json!({"errors": [{"status": "401", "detail": "token expired"}]}),
            "UPSTREAM_UNAUTHORIZED",
        ),
        (
            403,
            json!({"errors": [{"status": "403", "title": "Forbidden"}]}),
            "UPSTREAM_FORBIDDEN",
        ),
        (
            400,
            json!({"errors": [{"status": "400", "detail": "unknown parameter"}]}),
            "UPSTREAM_REJECTED",
        ),
        (
            422,
            json!({"errors": [{"detail": "a"}, {"detail": "b"}]}),
            "UPSTREAM_REJECTED",
        ),
        (429, json!({}), "UPSTREAM_RATE_LIMITED"),
        (500, json!({}), "UPSTREAM_UNAVAILABLE"),
        (502, json!({}), "UPSTREAM_UNAVAILABLE"),
    ];
    for (status, body, code) in cases {
        let stub =
            Stub::start(move |_| Reply::json(status, body.clone()).header("retry-after", "5"))
                .await;
        let err = client_for(&stub)
            .search_people(None, 0, 10)
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "HTTP {status}: {err:?}");
        assert_clean(&err, &stub);
    }

    let stub = Stub::start(|_| {
        Reply::json(
            422,
            json!({"errors": [{"detail": "first_name is required"}, {"title": "Invalid"}]}),
        )
    })
    .await;
    let err = client_for(&stub)
        .search_people(None, 0, 10)
        .await
        .unwrap_err();
    match err {
        UpstreamError::Rejected {
            status, messages, ..
        } => {
            assert_eq!(status, 422);
            assert_eq!(messages, vec!["first_name is required", "Invalid"]);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }

    let stub = Stub::start(|_| Reply::text(429, "").header("retry-after", "12")).await;
    let err = client_for(&stub)
        .people_by_ids(&["p1".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(12)),
        "{err:?}"
    );
}

#[tokio::test]
async fn collection_404_is_rejected() {
    let stub = Stub::start(|_| Reply::json(404, json!({"errors": [{"title": "Not Found"}]}))).await;
    let err = client_for(&stub)
        .tasks_for_people(&["p1".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::Rejected { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn transport_failures() {
    let stub =
        Stub::start(|_| Reply::json(200, json!({"data": []})).delayed(Duration::from_secs(3)))
            .await;
    let short = HttpSettings {
        request_timeout: Duration::from_millis(200),
        ..settings()
    };
    let err = client_with(stub.base.clone(), short)
        .search_people(None, 0, 5)
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Timeout { .. }), "{err:?}");
    assert_clean(&err, &stub);

    let closed = closed_port_url().await;
    let err = client_with(closed.clone(), settings())
        .get_person("p1")
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Connect { .. }), "{err:?}");
    assert_no_leak(&err, &[TOKEN, closed.as_str()]);

    let garbage = Stub::start(|_| Reply::text(200, "{\"data\": [")).await;
    let err = client_for(&garbage)
        .search_people(None, 0, 5)
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
    assert_clean(&err, &garbage);
}

#[tokio::test]
async fn people_search_filter_sent() {
    let stub = Stub::start(|_| {
        Reply::json(
            200,
            json!({"data": [person_json("p1")], "meta": {(names::META_TOTAL): 41}}),
        )
    })
    .await;
    let page = client_for(&stub)
        .search_people(Some(" 50%_Ada "), 20, 1)
        .await
        .unwrap();
    assert_eq!(page.total, Some(41));
    assert_eq!(page.items.len(), 1);

    let request = stub.single_request();
    assert_eq!(request.path, names::PEOPLE.path());
    let filter: Value = serde_json::from_str(&request.param("filter").unwrap()).unwrap();
    let pattern = "%50\\%\\_Ada%";
    assert_eq!(
        filter,
        json!({"OR": [
            {(names::person::FIRST_NAME): {(names::filter_op::LIKE): pattern}},
            {(names::person::LAST_NAME): {(names::filter_op::LIKE): pattern}},
            {(names::person::EMAIL): {(names::filter_op::LIKE): pattern}}
        ]})
    );
    assert_eq!(
        request.param("sort").as_deref(),
        Some(
            format!(
                "{},{},id",
                names::person::LAST_NAME,
                names::person::FIRST_NAME
            )
            .as_str()
        )
    );
    assert_eq!(request.param(names::PAGE_OFFSET).as_deref(), Some("20"));
    assert_eq!(request.param(names::PAGE_LIMIT).as_deref(), Some("1"));
}

#[tokio::test]
async fn people_list_without_query() {
    let people: Vec<Value> = (0..250)
        .map(|index| person_json(&format!("p{index:03}")))
        .collect();
    let stub =
        Stub::start(move |request: &Recorded| paged_reply(request, &people, 1000, true)).await;
    let client = client_for(&stub);

    let page = client.search_people(Some("   "), 10, 150).await.unwrap();
    assert_eq!(page.total, Some(250));
    assert_eq!(page.items.len(), 150);
    assert_eq!(page.items[0].id, "p010");
    assert_eq!(page.items[149].id, "p159");

    let requests = stub.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].param("filter"), None);
    assert_eq!(requests[0].param(names::PAGE_LIMIT).as_deref(), Some("100"));
    assert_eq!(
        requests[1].param(names::PAGE_OFFSET).as_deref(),
        Some("110")
    );
    assert_eq!(requests[1].param(names::PAGE_LIMIT).as_deref(), Some("50"));

    let tail = client.search_people(None, 240, 50).await.unwrap();
    assert_eq!(tail.items.len(), 10);
    assert_eq!(stub.requests().len(), 3);

    let none = client.search_people(None, 0, 0).await.unwrap();
    assert!(none.items.is_empty());
    assert_eq!(stub.requests().len(), 3);
}

#[tokio::test]
async fn people_batch_chunked_and_matched() {
    let ids: Vec<String> = (0..120).map(uuid_like).collect();
    let omitted = ids[7].clone();
    let stub = Stub::start(move |request: &Recorded| {
        let requested = request.param(&query::filter_name("id")).unwrap_or_default();
        let mut data: Vec<Value> = requested
            .split(',')
            .filter(|id| *id != omitted)
            .map(person_json)
            .collect();
        data.reverse();
        data.push(person_json("not-requested"));
        Reply::json(200, json!({ "data": data }))
    })
    .await;
    let max = 700;
    let client = client_for(&stub).with_max_url_length(max);

    let people = client.people_by_ids(&ids).await.unwrap();

    let expected: Vec<&String> = ids.iter().filter(|id| **id != ids[7]).collect();
    let got: Vec<&String> = people.iter().map(|person| &person.id).collect();
    assert_eq!(got, expected);
    for person in &people {
        assert_eq!(
            person.email.as_deref(),
            Some(format!("{}@example.org", person.id).as_str())
        );
    }

    let requests = stub.requests();
    assert!(
        requests.len() > 1,
        "expected several requests, got {}",
        requests.len()
    );
    let origin = stub.base.as_str().trim_end_matches('/').to_string();
    let mut requested_ids = HashSet::new();
    for request in &requests {
        let url = format!("{origin}{}", request.target());
        assert!(url.len() <= max, "URL of {} bytes exceeds {max}", url.len());
        let requested = request.param(&query::filter_name("id")).unwrap();
        requested_ids.extend(requested.split(',').map(str::to_string));
    }
    assert_eq!(requested_ids.len(), ids.len());
}

#[tokio::test]
async fn batch_input_cleaned() {
    let stub = Stub::start(|request: &Recorded| {
        let requested = request.param(&query::filter_name("id")).unwrap_or_default();
        let data: Vec<Value> = requested.split(',').map(person_json).collect();
        Reply::json(200, json!({ "data": data }))
    })
    .await;
    let client = client_for(&stub);

    assert!(client.people_by_ids(&[]).await.unwrap().is_empty());
    assert!(stub.requests().is_empty());

    let ids = vec![
        "b".to_string(),
        "a".into(),
        "b".into(),
        "".into(),
        "x,y".into(),
    ];
    let people = client.people_by_ids(&ids).await.unwrap();
    let got: Vec<&str> = people.iter().map(|person| person.id.as_str()).collect();
    assert_eq!(got, vec!["b", "a"]);
    assert_eq!(
        stub.single_request()
            .param(&query::filter_name("id"))
            .as_deref(),
        Some("b,a")
    );
}

#[tokio::test]
async fn oversized_id_skipped() {
    let stub = Stub::start(|request: &Recorded| {
        let requested = request.param(&query::filter_name("id")).unwrap_or_default();
        let data: Vec<Value> = requested.split(',').map(person_json).collect();
        Reply::json(200, json!({ "data": data }))
    })
    .await;
    let client = client_for(&stub).with_max_url_length(300);
    let ids = vec!["p1".to_string(), "x".repeat(400)];
    let people = client.people_by_ids(&ids).await.unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].id, "p1");
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn notes_paging_followed() {
    let notes: Vec<Value> = (0..250)
        .map(|index| {
            let note_type = names::NOTE_TYPES[index % names::NOTE_TYPES.len()];
            note_json(&format!("n{index:03}"), note_type, &["p1"])
        })
        .collect();
    let stub =
        Stub::start(move |request: &Recorded| paged_reply(request, &notes, 1000, true)).await;

    let found = client_for(&stub)
        .notes_for_people(&["p1".to_string()])
        .await
        .unwrap();
    assert_eq!(found.len(), 250);

    let requests = stub.requests();
    assert_eq!(requests.len(), 3);
    let offsets: Vec<String> = requests
        .iter()
        .map(|request| request.param(names::PAGE_OFFSET).unwrap_or_default())
        .collect();
    assert_eq!(offsets, vec!["0", "100", "200"]);
    for request in &requests {
        assert_eq!(request.path, names::NOTES.path());
        assert_eq!(
            request
                .param(&query::filter_name(&format!("{}.id", names::note::PEOPLE)))
                .as_deref(),
            Some("p1")
        );
        assert_eq!(
            request.param(&query::filter_name(names::note::NOTE_TYPE)),
            Some(names::NOTE_TYPES.join(","))
        );
        assert_eq!(
            request.param(names::PAGE_LIMIT),
            Some(names::MAX_PAGE_SIZE.to_string())
        );
    }
}

#[tokio::test]
async fn capped_pages_followed_by_total() {
    let notes: Vec<Value> = (0..120)
        .map(|index| note_json(&format!("n{index:03}"), "General", &["p1"]))
        .collect();
    let stub = Stub::start(move |request: &Recorded| paged_reply(request, &notes, 50, true)).await;
    let found = client_for(&stub)
        .notes_for_people(&["p1".to_string()])
        .await
        .unwrap();
    assert_eq!(found.len(), 120);
    assert_eq!(stub.requests().len(), 3);
}

#[tokio::test]
async fn short_page_ends_without_total() {
    let notes: Vec<Value> = (0..130)
        .map(|index| note_json(&format!("n{index:03}"), "General", &["p1"]))
        .collect();
    let stub =
        Stub::start(move |request: &Recorded| paged_reply(request, &notes, 1000, false)).await;
    let found = client_for(&stub)
        .notes_for_people(&["p1".to_string()])
        .await
        .unwrap();
    assert_eq!(found.len(), 130);
    assert_eq!(stub.requests().len(), 2);
}

#[tokio::test]
async fn endless_paging_stops() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let stub = Stub::start(move |request: &Recorded| {
        counter.fetch_add(1, Ordering::SeqCst);
        let offset = request.param(names::PAGE_OFFSET).unwrap_or_default();
        let data: Vec<Value> = (0..names::MAX_PAGE_SIZE)
            .map(|index| note_json(&format!("n{offset}-{index}"), "General", &["p1"]))
            .collect();
        Reply::json(200, json!({ "data": data }))
    })
    .await;
    let err = client_for(&stub)
        .notes_for_people(&["p1".to_string()])
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), MAX_PAGES as usize);
}

#[tokio::test]
async fn notes_matched_by_person_and_type() {
    let stub = Stub::start(|_| {
        Reply::json(
            200,
            json!({"data": [
                note_json("n1", "General", &["p1"]),
                note_json("n2", names::APPOINTMENT_NOTE_TYPE, &["p2"]),
                note_json("n3", "Email", &["p3", "p2"]),
                note_json("n4", "Progress", &["someone-else"]),
                note_json("n1", "General", &["p1"])
            ]}),
        )
    })
    .await;
    let client = client_for(&stub);
    let ids = vec!["p1".to_string(), "p2".to_string()];

    let notes = client.notes_for_people(&ids).await.unwrap();
    let got: Vec<&str> = notes.iter().map(|note| note.id.as_str()).collect();
    assert_eq!(got, vec!["n1", "n3"]);

    let appointments = client.appointments_for_people(&ids).await.unwrap();
    let got: Vec<&str> = appointments.iter().map(|note| note.id.as_str()).collect();
    assert_eq!(got, vec!["n2"]);
    assert!(appointments[0].occurred_at.is_some());

    let requests = stub.requests();
    assert_eq!(
        requests[1]
            .param(&query::filter_name(names::note::NOTE_TYPE))
            .as_deref(),
        Some(names::APPOINTMENT_NOTE_TYPE)
    );
}

#[tokio::test]
async fn tasks_matched_by_person() {
    let stub = Stub::start(|_| {
        Reply::json(
            200,
            json!({"data": [task_json("t1", "p2"), task_json("t2", "p9"), task_json("t3", "p1")]}),
        )
    })
    .await;
    let tasks = client_for(&stub)
        .tasks_for_people(&["p1".to_string(), "p2".to_string()])
        .await
        .unwrap();
    let got: Vec<&str> = tasks.iter().map(|task| task.id.as_str()).collect();
    assert_eq!(got, vec!["t1", "t3"]);

    let request = stub.single_request();
    assert_eq!(request.path, names::TASKS.path());
    assert_eq!(
        request
            .param(&query::filter_name(&format!("{}.id", names::task::PERSON)))
            .as_deref(),
        Some("p1,p2")
    );
}

#[tokio::test]
async fn wrong_type_in_batch_rejected() {
    let stub = Stub::start(|_| Reply::json(200, json!({"data": [person_json("p1")]}))).await;
    let err = client_for(&stub)
        .tasks_for_people(&["p1".to_string()])
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::BadResponse { .. }), "{err:?}");
}
