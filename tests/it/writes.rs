//! Mutations: written to both simulators, read back at once, retried from the outbox.

use std::time::Duration;

use casebook_ghl_gateway::sim::seed::{Dataset, GHL_CALENDAR_IDS};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::{
    TestApp, casebook_state, casebook_with_email, error_codes, errors, fast_retries, ghl_state,
    ghl_with_email,
};

const CREATE_CONTACT: &str = r#"
    mutation ($input: CreateContactInput!) {
      createContact(input: $input) {
        clientMutationId casebook ghl syncIds
        contact { id linkMethod displayName emails phones tags casebook { id firstName email } ghl { id firstName email } }
      }
    }"#;

fn new_contact(email: &str) -> Value {
    json!({ "firstName": "Nadia", "lastName": "Kowalczyk", "email": email, "tags": ["intake"] })
}

async fn create_contact(app: &TestApp, email: &str) -> Value {
    let data = app
        .data(CREATE_CONTACT, json!({ "input": new_contact(email) }))
        .await;
    data["createContact"].clone()
}

/// Waits until `check` holds, polling the simulators, for at most 30 s. The limit is
/// generous because a loaded CI machine slows the outbox worker's retries.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn create_contact_writes_both_sides_and_links_them() {
    let app = TestApp::start().await;
    let mut input = new_contact("nadia.k@example.org");
    input["phone"] = json!("(555) 019-8811");
    let payload =
        app.data(CREATE_CONTACT, json!({ "input": input })).await["createContact"].clone();

    assert_eq!(payload["casebook"], "SYNCED", "{payload:#}");
    assert_eq!(payload["ghl"], "SYNCED");
    let contact = &payload["contact"];
    assert_eq!(contact["linkMethod"], "GATEWAY");
    assert_eq!(contact["casebook"]["firstName"], "Nadia");
    assert_eq!(contact["ghl"]["firstName"], "Nadia");
    assert_eq!(contact["phones"], json!(["+15550198811"]));
    assert_eq!(contact["tags"], json!(["intake"]));

    assert_eq!(
        casebook_with_email(&app, "nadia.k@example.org").await.len(),
        1
    );
    assert_eq!(ghl_with_email(&app, "nadia.k@example.org").await.len(), 1);

    let read = app
        .data(
            "query ($id: ID!) { contactByCasebookId(id: $id) { id ghl { id } } }",
            json!({ "id": contact["casebook"]["id"] }),
        )
        .await;
    assert_eq!(read["contactByCasebookId"]["id"], contact["id"]);
    assert_eq!(
        read["contactByCasebookId"]["ghl"]["id"],
        contact["ghl"]["id"]
    );
}

#[tokio::test]
async fn update_is_visible_at_once_with_a_warm_cache() {
    let app = TestApp::start().await;
    let person = app.linked_person();
    let casebook_id = person.casebook.as_ref().unwrap().id.clone();
    let read = "query ($id: ID!) { contactByCasebookId(id: $id) { id firstName casebook { firstName } ghl { firstName } } }";
    let before = app.data(read, json!({ "id": casebook_id })).await;
    let id = before["contactByCasebookId"]["id"].clone();

    let payload = app
        .data(
            "mutation ($id: ID!) { updateContact(input: { id: $id, firstName: \"Renamed\" }) { casebook ghl } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        payload["updateContact"],
        json!({ "casebook": "SYNCED", "ghl": "SYNCED" })
    );

    let after = app.data(read, json!({ "id": casebook_id })).await;
    let contact = &after["contactByCasebookId"];
    assert_eq!(contact["firstName"], "Renamed");
    assert_eq!(contact["casebook"]["firstName"], "Renamed");
    assert_eq!(contact["ghl"]["firstName"], "Renamed");
}

#[tokio::test]
async fn upsert_updates_a_match_and_creates_otherwise() {
    let app = TestApp::start().await;
    let person = app.linked_person();
    let email = person.ghl.as_ref().unwrap().email.clone().unwrap();
    let upsert = "mutation ($input: UpsertContactInput!) { upsertContact(input: $input) { casebook ghl contact { id lastName casebook { id } ghl { id } } } }";

    let data = app
        .data(upsert, json!({ "input": { "email": email.to_uppercase(), "lastName": "Upserted", "firstName": "" } }))
        .await;
    let contact = &data["upsertContact"]["contact"];
    assert_eq!(
        contact["casebook"]["id"],
        person.casebook.as_ref().unwrap().id.as_str()
    );
    assert_eq!(contact["lastName"], "Upserted");
    assert_eq!(
        ghl_with_email(&app, &email).await.len(),
        1,
        "no second GHL contact"
    );
    let kept_first_name = ghl_with_email(&app, &email).await[0]["firstName"].clone();
    assert_eq!(
        kept_first_name,
        person.first_name.as_str(),
        "an empty field does not overwrite"
    );

    let data = app
        .data(upsert, json!({ "input": { "email": "brand.new@example.org", "firstName": "Brand", "lastName": "New" } }))
        .await;
    assert!(data["upsertContact"]["contact"]["ghl"]["id"].is_string());
    assert_eq!(ghl_with_email(&app, "brand.new@example.org").await.len(), 1);
    assert_eq!(
        casebook_with_email(&app, "brand.new@example.org")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn delete_contact_removes_both_sides() {
    let app = TestApp::start().await;
    let payload = create_contact(&app, "to.delete@example.org").await;
    let id = payload["contact"]["id"].clone();

    let data = app
        .data(
            "mutation ($id: ID!) { deleteContact(input: { id: $id }) { deletedId casebook ghl } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["deleteContact"]["casebook"], "SYNCED");
    assert_eq!(data["deleteContact"]["ghl"], "SYNCED");
    assert!(
        casebook_with_email(&app, "to.delete@example.org")
            .await
            .is_empty()
    );
    assert!(
        ghl_with_email(&app, "to.delete@example.org")
            .await
            .is_empty()
    );

    let body = app
        .query(
            "query ($id: ID!) { contact(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_codes(&body), vec!["NOT_FOUND".to_string()]);
}

#[tokio::test]
async fn tags_are_added_and_removed_in_ghl() {
    let app = TestApp::start().await;
    let payload = create_contact(&app, "tags@example.org").await;
    let id = payload["contact"]["id"].clone();

    let data = app
        .data(
            "mutation ($id: ID!) { addContactTags(input: { id: $id, tags: [\"vip\", \"housing\"] }) { casebook ghl contact { tags } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["addContactTags"]["casebook"], "NOT_APPLICABLE");
    assert_eq!(data["addContactTags"]["ghl"], "SYNCED");
    let tags = data["addContactTags"]["contact"]["tags"]
        .as_array()
        .unwrap()
        .clone();
    for tag in ["intake", "vip", "housing"] {
        assert!(tags.contains(&json!(tag)), "{tags:?}");
    }

    let data = app
        .data(
            "mutation ($id: ID!) { removeContactTags(input: { id: $id, tags: [\"intake\"] }) { contact { tags } } }",
            json!({ "id": id }),
        )
        .await;
    let tags = data["removeContactTags"]["contact"]["tags"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!tags.contains(&json!("intake")), "{tags:?}");
    let stored = ghl_with_email(&app, "tags@example.org").await[0]["tags"].clone();
    assert!(!stored.as_array().unwrap().contains(&json!("intake")));
}

#[tokio::test]
async fn link_and_unlink_by_hand() {
    let app = TestApp::start().await;
    let casebook_only = app.casebook_only().casebook.as_ref().unwrap().id.clone();
    let ghl_only = app.ghl_only().ghl.as_ref().unwrap().id.clone();

    let data = app
        .data(
            "mutation ($c: ID!, $g: ID!) { linkContacts(input: { casebookId: $c, ghlId: $g }) { contact { id linkMethod casebook { id } ghl { id } } } }",
            json!({ "c": casebook_only, "g": ghl_only }),
        )
        .await;
    let contact = &data["linkContacts"]["contact"];
    assert_eq!(contact["linkMethod"], "MANUAL");
    assert_eq!(contact["ghl"]["id"], ghl_only.as_str());

    let data = app
        .data(
            "mutation ($id: ID!) { unlinkContacts(input: { id: $id }) { casebookContact { ghl { id } casebook { id } } ghlContact { casebook { id } ghl { id } } } }",
            json!({ "id": contact["id"] }),
        )
        .await;
    let split = &data["unlinkContacts"];
    assert_eq!(split["casebookContact"]["ghl"], Value::Null);
    assert_eq!(split["ghlContact"]["casebook"], Value::Null);
    assert_eq!(split["ghlContact"]["ghl"]["id"], ghl_only.as_str());
}

#[tokio::test]
async fn task_round_trip_shows_once_with_both_ids() {
    let app = TestApp::start().await;
    let payload = create_contact(&app, "tasks@example.org").await;
    let contact_id = payload["contact"]["id"].clone();
    let read =
        "query ($id: ID!) { contact(id: $id) { tasks { id title completed casebookId ghlId } } }";
    // Warm the cache, so the reads below show that the writes invalidated it.
    assert_eq!(
        app.data(read, json!({ "id": contact_id })).await["contact"]["tasks"],
        json!([])
    );

    let data = app
        .data(
            r#"mutation ($id: ID!) { createTask(input: { contactId: $id, title: "Bring ID", body: "Passport or licence", dueAt: "2026-12-10T09:00:00-05:00" }) {
                 casebook ghl task { id title dueAt casebookId ghlId completed } } }"#,
            json!({ "id": contact_id }),
        )
        .await;
    let created = &data["createTask"];
    assert_eq!(created["casebook"], "SYNCED", "{created:#}");
    assert_eq!(created["ghl"], "SYNCED");
    let task = &created["task"];
    assert!(
        task["casebookId"].is_string() && task["ghlId"].is_string(),
        "{task:#}"
    );
    assert_eq!(task["dueAt"], "2026-12-10T14:00:00+00:00");

    let tasks = app.data(read, json!({ "id": contact_id })).await["contact"]["tasks"].clone();
    assert_eq!(
        tasks.as_array().unwrap().len(),
        1,
        "linked task shows once: {tasks:#}"
    );

    let data = app
        .data(
            "mutation ($id: ID!) { updateTask(input: { id: $id, title: \"Bring photo ID\" }) { casebook ghl task { title } } }",
            json!({ "id": task["id"] }),
        )
        .await;
    assert_eq!(data["updateTask"]["task"]["title"], "Bring photo ID");
    let data = app
        .data(
            "mutation ($id: ID!) { completeTask(id: $id, completed: true) { casebook ghl task { completed } } }",
            json!({ "id": task["id"] }),
        )
        .await;
    assert_eq!(data["completeTask"]["task"]["completed"], true);
    assert_eq!(data["completeTask"]["ghl"], "SYNCED");
    let ghl_tasks = ghl_with_email(&app, "tasks@example.org").await[0]["tasks"].clone();
    assert_eq!(ghl_tasks[0]["completed"], true);
    assert_eq!(ghl_tasks[0]["title"], "Bring photo ID");

    let tasks = app.data(read, json!({ "id": contact_id })).await["contact"]["tasks"].clone();
    assert_eq!(tasks[0]["title"], "Bring photo ID");
    assert_eq!(tasks[0]["completed"], true);

    let data = app
        .data(
            "mutation ($id: ID!) { deleteTask(input: { id: $id }) { casebook ghl } }",
            json!({ "id": task["id"] }),
        )
        .await;
    assert_eq!(
        data["deleteTask"],
        json!({ "casebook": "SYNCED", "ghl": "SYNCED" })
    );
    let tasks = app.data(read, json!({ "id": contact_id })).await["contact"]["tasks"].clone();
    assert_eq!(tasks, json!([]));
    assert_eq!(
        ghl_with_email(&app, "tasks@example.org").await[0]["tasks"],
        json!([])
    );
}

#[tokio::test]
async fn note_round_trip() {
    let app = TestApp::start().await;
    let payload = create_contact(&app, "notes@example.org").await;
    let contact_id = payload["contact"]["id"].clone();
    let read = "query ($id: ID!) { contact(id: $id) { notes { body } } }";
    assert_eq!(
        app.data(read, json!({ "id": contact_id })).await["contact"]["notes"],
        json!([])
    );

    let data = app
        .data(
            r#"mutation ($id: ID!) { createNote(input: { contactId: $id, title: "Call", body: "Asked about rent support" }) { casebook ghl note { id body casebookId ghlId } } }"#,
            json!({ "id": contact_id }),
        )
        .await;
    let note = data["createNote"]["note"].clone();
    assert_eq!(data["createNote"]["casebook"], "SYNCED");
    assert_eq!(data["createNote"]["ghl"], "SYNCED");

    app.data(
        "mutation ($id: ID!) { updateNote(input: { id: $id, body: \"Rent support approved\" }) { casebook ghl } }",
        json!({ "id": note["id"] }),
    )
    .await;
    let notes = app.data(read, json!({ "id": contact_id })).await["contact"]["notes"].clone();
    assert_eq!(notes, json!([{ "body": "Rent support approved" }]));
    assert_eq!(
        ghl_with_email(&app, "notes@example.org").await[0]["notes"][0]["body"],
        "Rent support approved"
    );

    app.data(
        "mutation ($id: ID!) { deleteNote(input: { id: $id }) { casebook ghl } }",
        json!({ "id": note["id"] }),
    )
    .await;
    let notes = app.data(read, json!({ "id": contact_id })).await["contact"]["notes"].clone();
    assert_eq!(notes, json!([]));
}

#[tokio::test]
async fn appointment_round_trip() {
    let app = TestApp::start().await;
    let payload = create_contact(&app, "appointments@example.org").await;
    let contact_id = payload["contact"]["id"].clone();
    let read = "query ($id: ID!) { contact(id: $id) { appointments { title startsAt } } }";
    assert_eq!(
        app.data(read, json!({ "id": contact_id })).await["contact"]["appointments"],
        json!([])
    );

    let data = app
        .data(
            r#"mutation ($id: ID!, $calendar: String) { createAppointment(input: { contactId: $id, title: "Benefits review",
                 startsAt: "2026-12-15T10:00:00-05:00", timeZone: "America/New_York", calendarId: $calendar }) {
                 casebook ghl appointment { id startsAt endsAt casebookId ghlId } } }"#,
            json!({ "id": contact_id, "calendar": GHL_CALENDAR_IDS[0] }),
        )
        .await;
    let created = &data["createAppointment"];
    assert_eq!(created["casebook"], "SYNCED", "{created:#}");
    assert_eq!(created["ghl"], "SYNCED");
    let appointment = created["appointment"].clone();
    assert_eq!(appointment["startsAt"], "2026-12-15T15:00:00+00:00");
    assert_eq!(appointment["endsAt"], "2026-12-15T15:30:00+00:00");

    app.data(
        "mutation ($id: ID!) { updateAppointment(input: { id: $id, title: \"Benefits review (moved)\", startsAt: \"2026-12-16T10:00:00-05:00\" }) { casebook ghl } }",
        json!({ "id": appointment["id"] }),
    )
    .await;
    let appointments =
        app.data(read, json!({ "id": contact_id })).await["contact"]["appointments"].clone();
    assert_eq!(
        appointments,
        json!([{ "title": "Benefits review (moved)", "startsAt": "2026-12-16T15:00:00+00:00" }])
    );

    app.data(
        "mutation ($id: ID!) { deleteAppointment(input: { id: $id }) { casebook ghl } }",
        json!({ "id": appointment["id"] }),
    )
    .await;
    let appointments =
        app.data(read, json!({ "id": contact_id })).await["contact"]["appointments"].clone();
    assert_eq!(appointments, json!([]));
    assert_eq!(
        ghl_with_email(&app, "appointments@example.org").await[0]["appointments"],
        json!([])
    );
}

#[tokio::test]
async fn ghl_outage_leaves_the_write_pending_until_the_worker_completes_it() {
    let app = TestApp::start_with(Dataset::default(), fast_retries).await;
    app.fault(
        &app.ghl,
        json!({ "method": "POST", "path": "/contacts/", "status": 503 }),
    )
    .await;

    let payload = create_contact(&app, "pending@example.org").await;
    assert_eq!(payload["casebook"], "SYNCED");
    assert_eq!(payload["ghl"], "PENDING");
    let sync_id = payload["syncIds"][0].clone();
    let pending = app
        .data("{ pendingSyncs { id system operation status } }", json!({}))
        .await;
    assert_eq!(pending["pendingSyncs"][0]["id"], sync_id);
    assert_eq!(pending["pendingSyncs"][0]["system"], "GHL");

    app.ghl.control.clear_faults();
    eventually("the worker writes the GHL contact", || async {
        ghl_with_email(&app, "pending@example.org").await.len() == 1
    })
    .await;
    let status = app
        .data(
            "query ($id: ID!) { syncStatus(id: $id) { status } }",
            json!({ "id": sync_id }),
        )
        .await;
    assert_eq!(status["syncStatus"]["status"], "DONE");
    assert_eq!(
        casebook_with_email(&app, "pending@example.org").await.len(),
        1
    );
    assert_eq!(ghl_with_email(&app, "pending@example.org").await.len(), 1);
    let read = app
        .data(
            "query ($id: ID!) { contact(id: $id) { ghl { id } } }",
            json!({ "id": payload["contact"]["id"] }),
        )
        .await;
    assert!(
        read["contact"]["ghl"]["id"].is_string(),
        "the link gained its GHL id: {read:#}"
    );
}

#[tokio::test]
async fn create_that_times_out_after_succeeding_is_not_repeated() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        fast_retries(config);
        config.upstream.request_timeout_ms = 400;
    })
    .await;
    app.fault(
        &app.ghl,
        json!({ "method": "POST", "path": "/contacts/", "delay_after_ms": 1000, "times": 1 }),
    )
    .await;

    let payload = create_contact(&app, "slow@example.org").await;
    assert_eq!(payload["ghl"], "PENDING", "{payload:#}");
    let sync_id = payload["syncIds"][0].clone();

    eventually("the outbox entry is done", || async {
        let status = app
            .data(
                "query ($id: ID!) { syncStatus(id: $id) { status } }",
                json!({ "id": sync_id }),
            )
            .await;
        status["syncStatus"]["status"] == "DONE"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        ghl_with_email(&app, "slow@example.org").await.len(),
        1,
        "exactly one GHL contact"
    );
    assert_eq!(
        app.calls(&app.ghl, "POST /contacts/"),
        1,
        "the worker found the record instead of creating it again"
    );
}

#[tokio::test]
async fn create_matching_another_contacts_ghl_record_fails_that_side() {
    let app = TestApp::start().await;
    let taken = app
        .linked_person()
        .ghl
        .as_ref()
        .unwrap()
        .phone
        .clone()
        .unwrap();
    let mut input = new_contact("fresh.person@example.org");
    input["phone"] = json!(taken);

    let payload =
        app.data(CREATE_CONTACT, json!({ "input": input })).await["createContact"].clone();

    assert_eq!(payload["casebook"], "SYNCED", "{payload:#}");
    assert_eq!(payload["ghl"], "FAILED");
    let job = app
        .data(
            "query ($id: ID!) { syncStatus(id: $id) { status lastErrorCode } }",
            json!({ "id": payload["syncIds"][0] }),
        )
        .await;
    assert_eq!(
        job["syncStatus"],
        json!({ "status": "FAILED", "lastErrorCode": "CONFLICT" })
    );
    assert!(
        payload["contact"]["ghl"].is_null(),
        "the other contact's GHL record is not taken over"
    );
}

#[tokio::test]
async fn same_idempotency_key_writes_once() {
    let app = TestApp::start().await;
    let mut input = new_contact("once@example.org");
    input["clientMutationId"] = json!("key-123");

    let first = app.data(CREATE_CONTACT, json!({ "input": input })).await;
    let second = app.data(CREATE_CONTACT, json!({ "input": input })).await;
    assert_eq!(
        first["createContact"]["contact"]["id"],
        second["createContact"]["contact"]["id"]
    );
    assert_eq!(second["createContact"]["clientMutationId"], "key-123");
    assert_eq!(ghl_with_email(&app, "once@example.org").await.len(), 1);
    assert_eq!(casebook_with_email(&app, "once@example.org").await.len(), 1);

    // Concurrent calls with one header key.
    let body = json!({ "query": CREATE_CONTACT, "variables": { "input": new_contact("concurrent@example.org") } });
    let requests = (0..5).map(|_| {
        app.http
            .post(app.graphql_url())
            .bearer_auth(crate::support::API_KEY)
            .header("Idempotency-Key", "header-key-1")
            .json(&body)
            .send()
    });
    let responses = join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        let body: Value = response.unwrap().json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body:#}");
        ids.push(body["data"]["createContact"]["contact"]["id"].clone());
    }
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{ids:?}");
    assert_eq!(
        ghl_with_email(&app, "concurrent@example.org").await.len(),
        1
    );
    assert_eq!(
        casebook_with_email(&app, "concurrent@example.org")
            .await
            .len(),
        1
    );

    let mut other = new_contact("other@example.org");
    other["clientMutationId"] = json!("key-123");
    let body = app.query(CREATE_CONTACT, json!({ "input": other })).await;
    assert_eq!(
        error_codes(&body),
        vec!["BAD_USER_INPUT".to_string()],
        "a reused key with other input"
    );
}

#[tokio::test]
async fn invalid_input_calls_no_upstream() {
    let app = TestApp::start().await;
    let person = app.linked_person().casebook.as_ref().unwrap().id.clone();
    let contact = app
        .data(
            "query ($id: ID!) { contactByCasebookId(id: $id) { id } }",
            json!({ "id": person }),
        )
        .await["contactByCasebookId"]["id"]
        .clone();
    app.reset_stats();

    let cases = [
        (
            CREATE_CONTACT,
            json!({ "input": new_contact("not-an-email") }),
            "input.email",
        ),
        (
            CREATE_CONTACT,
            json!({ "input": { "firstName": "A", "lastName": "B", "phone": "call me maybe" } }),
            "input.phone",
        ),
        (
            CREATE_CONTACT,
            json!({ "input": { "firstName": "A", "lastName": "B", "dateOfBirth": "25/04/1990" } }),
            "input.dateOfBirth",
        ),
        (
            "mutation ($id: ID!) { createTask(input: { contactId: $id, title: \"T\", dueAt: \"2026-12-10 09:00\" }) { ghl } }",
            json!({ "id": contact }),
            "input.dueAt",
        ),
        (
            "mutation ($id: ID!) { createAppointment(input: { contactId: $id, title: \"T\", startsAt: \"2026-12-10T09:00:00\", calendarId: \"c\" }) { ghl } }",
            json!({ "id": contact }),
            "input.startsAt",
        ),
        (
            "mutation ($id: ID!) { createAppointment(input: { contactId: $id, title: \"T\", startsAt: \"2026-12-10T09:00:00Z\", calendarId: \"c\", timeZone: \"Mars/Olympus\" }) { ghl } }",
            json!({ "id": contact }),
            "input.timeZone",
        ),
    ];
    for (query, variables, field) in cases {
        let body = app.query(query, variables).await;
        assert_eq!(
            error_codes(&body),
            vec!["BAD_USER_INPUT".to_string()],
            "{field}: {body:#}"
        );
        assert_eq!(
            errors(&body)[0]["extensions"]["argument"],
            field,
            "{body:#}"
        );
    }
    assert_eq!(
        app.casebook.control.total(),
        0,
        "{}",
        app.casebook.control.stats()
    );
    assert_eq!(app.ghl.control.total(), 0, "{}", app.ghl.control.stats());
    assert_eq!(
        casebook_state(&app).await.len(),
        app.dataset
            .people
            .iter()
            .filter(|p| p.casebook.is_some())
            .count()
    );
    assert_eq!(
        ghl_state(&app).await.len(),
        app.dataset
            .people
            .iter()
            .filter(|p| p.ghl.is_some())
            .count()
    );
}

#[tokio::test]
async fn mapped_attribute_reaches_casebook_and_a_ghl_custom_field() {
    let app = TestApp::start().await;
    let mut input = new_contact("mapped@example.org");
    input["attributes"] = json!([{ "name": "preferred_language", "value": "Tigrinya" }]);

    let data = app
        .data(
            "mutation ($input: CreateContactInput!) { createContact(input: $input) { casebook ghl contact { attributes { name ghlCustomFieldId casebook ghl } } } }",
            json!({ "input": input }),
        )
        .await;
    let payload = &data["createContact"];
    assert_eq!(payload["casebook"], "SYNCED", "{payload:#}");
    assert_eq!(payload["ghl"], "SYNCED");
    assert_eq!(
        payload["contact"]["attributes"],
        json!([{ "name": "preferred_language", "ghlCustomFieldId": "SimFieldLanguage0001", "casebook": "Tigrinya", "ghl": "Tigrinya" }])
    );
    let person = casebook_with_email(&app, "mapped@example.org").await;
    assert_eq!(
        person[0]["person"]["attributes"]["preferred_language"],
        "Tigrinya"
    );
    let contact = ghl_with_email(&app, "mapped@example.org").await;
    let fields = contact[0]["customFields"].as_array().unwrap().clone();
    assert!(
        fields.contains(&json!({ "id": "SimFieldLanguage0001", "value": "Tigrinya" })),
        "{fields:?}"
    );

    let mut unknown = new_contact("unmapped@example.org");
    unknown["attributes"] = json!([{ "name": "shoe_size", "value": "42" }]);
    let body = app.query(CREATE_CONTACT, json!({ "input": unknown })).await;
    assert_eq!(error_codes(&body), vec!["BAD_USER_INPUT".to_string()]);
    assert_eq!(
        errors(&body)[0]["extensions"]["argument"],
        "input.attributes"
    );
    assert!(
        ghl_with_email(&app, "unmapped@example.org")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn rejected_first_write_leaves_no_outbox_entry() {
    let app = TestApp::start().await;
    let payload = create_contact(&app, "rejected@example.org").await;
    let body = app
        .query(
            r#"mutation ($id: ID!) { createAppointment(input: { contactId: $id, title: "T",
                 startsAt: "2026-12-15T10:00:00Z", calendarId: "NoSuchCalendar" }) { ghl casebook } }"#,
            json!({ "id": payload["contact"]["id"] }),
        )
        .await;
    assert!(
        !error_codes(&body).is_empty(),
        "GHL rejects the unknown calendar: {body:#}"
    );
    let pending = app.data("{ pendingSyncs { id } }", json!({})).await;
    assert_eq!(pending["pendingSyncs"], json!([]));
}
