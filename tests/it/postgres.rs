//! The gateway on PostgreSQL, alone and as several replicas sharing one database.
//!
//! These tests run when `CBG_TEST_POSTGRES_URL` names a PostgreSQL database (each test
//! works in a schema of its own) and pass without running otherwise.

use std::time::Duration;

use casebook_ghl_gateway::{
    demo::{DEMO_TENANT, config_for},
    server::{self, Gateway, RunningGateway},
    sim::seed::Dataset,
    store::{Backend, testing::PostgresSchema},
    writes::state::JobStatus,
};
use serde_json::{Value, json};

use crate::support::{API_KEY, TestApp, casebook_with_email, fast_retries, ghl_with_email};

const CREATE_CONTACT: &str = r#"
    mutation ($input: CreateContactInput!) {
      createContact(input: $input) {
        clientMutationId casebook ghl syncIds
        contact { id casebook { id } ghl { id } }
      }
    }"#;

const BY_CASEBOOK_ID: &str = "query ($id: ID!) { contactByCasebookId(id: $id) { id ghl { id } } }";

/// Starts a second gateway on the same simulators and database as `app`.
async fn start_replica(app: &TestApp, database_url: &str) -> RunningGateway {
    let mut config = config_for(
        &app.casebook.base_url,
        &app.ghl.base_url,
        API_KEY,
        database_url,
    );
    fast_retries(&mut config);
    let gateway = Gateway::build(&config).await.expect("replica builds");
    server::start(gateway, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("replica starts")
}

/// Runs a query on `gateway` that must succeed and returns `data`.
async fn data_from(
    app: &TestApp,
    gateway: &RunningGateway,
    query: &str,
    variables: Value,
) -> Value {
    let body: Value = app
        .http
        .post(format!("{}/graphql", gateway.base_url()))
        .bearer_auth(API_KEY)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("gateway answers")
        .json()
        .await
        .expect("GraphQL response is JSON");
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    body["data"].clone()
}

#[tokio::test]
async fn gateway_writes_and_reads_on_postgres() {
    let Some(schema) = PostgresSchema::create("gateway_writes_and_reads_on_postgres").await else {
        return;
    };
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.database.url = schema.url().to_string();
    })
    .await;
    assert_eq!(app.gateway.gateway.store().backend(), Backend::Postgres);

    let input = json!({
        "firstName": "Ines", "lastName": "Okafor", "email": "ines.okafor@example.org",
        "clientMutationId": "pg-key-1"
    });
    let created =
        app.data(CREATE_CONTACT, json!({ "input": input })).await["createContact"].clone();
    assert_eq!(created["casebook"], "SYNCED", "{created:#}");
    assert_eq!(created["ghl"], "SYNCED", "{created:#}");
    let contact = &created["contact"];

    let replayed =
        app.data(CREATE_CONTACT, json!({ "input": input })).await["createContact"].clone();
    assert_eq!(
        replayed["contact"]["id"], contact["id"],
        "the idempotency key replays"
    );
    assert_eq!(
        ghl_with_email(&app, "ines.okafor@example.org").await.len(),
        1
    );
    assert_eq!(
        casebook_with_email(&app, "ines.okafor@example.org")
            .await
            .len(),
        1
    );

    let read = app
        .data(BY_CASEBOOK_ID, json!({ "id": contact["casebook"]["id"] }))
        .await;
    assert_eq!(read["contactByCasebookId"]["id"], contact["id"]);
    assert_eq!(
        read["contactByCasebookId"]["ghl"]["id"],
        contact["ghl"]["id"]
    );

    // The links the start-up scan wrote to PostgreSQL join a seeded person's two sides.
    let person = app.linked_person();
    let casebook_id = person.casebook.as_ref().unwrap().id.clone();
    let ghl_id = person.ghl.as_ref().unwrap().id.clone();
    let seeded = app.data(BY_CASEBOOK_ID, json!({ "id": casebook_id })).await;
    assert_eq!(seeded["contactByCasebookId"]["ghl"]["id"], ghl_id);

    // A second replica on the same database resolves the contact to the same id.
    let replica = start_replica(&app, schema.url()).await;
    let from_replica = data_from(
        &app,
        &replica,
        BY_CASEBOOK_ID,
        json!({ "id": contact["casebook"]["id"] }),
    )
    .await;
    assert_eq!(from_replica["contactByCasebookId"]["id"], contact["id"]);

    replica.shutdown().await;
    let TestApp { gateway, .. } = app;
    gateway.shutdown().await;
    schema.remove().await;
}

#[tokio::test]
async fn replicas_share_the_outbox_on_postgres() {
    let Some(schema) = PostgresSchema::create("replicas_share_the_outbox_on_postgres").await else {
        return;
    };
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.database.url = schema.url().to_string();
        fast_retries(config);
    })
    .await;
    let replica = start_replica(&app, schema.url()).await;
    app.fault(
        &app.ghl,
        json!({ "method": "POST", "path": "/contacts/", "status": 503 }),
    )
    .await;

    let input =
        json!({ "firstName": "Tomas", "lastName": "Reyes", "email": "tomas.reyes@example.org" });
    let created =
        app.data(CREATE_CONTACT, json!({ "input": input })).await["createContact"].clone();
    assert_eq!(created["casebook"], "SYNCED", "{created:#}");
    assert_eq!(created["ghl"], "PENDING", "{created:#}");
    let sync_id = created["syncIds"][0].clone();

    // Both replicas' workers poll the one outbox; the entry is written once. The status is
    // read from the database, because each replica caches whole query responses.
    app.ghl.control.clear_faults();
    let sync_id = sync_id.as_str().expect("sync id is a string");
    let mut status = None;
    for _ in 0..200 {
        let job = replica
            .gateway
            .writes()
            .outbox()
            .get(DEMO_TENANT, sync_id)
            .await;
        status = job.expect("outbox answers").map(|job| job.status);
        if status == Some(JobStatus::Done) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(JobStatus::Done));
    // Time for a second, wrong write by the other worker to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        ghl_with_email(&app, "tomas.reyes@example.org").await.len(),
        1
    );

    replica.shutdown().await;
    let TestApp { gateway, .. } = app;
    gateway.shutdown().await;
    schema.remove().await;
}

#[tokio::test]
async fn replicas_start_together_on_postgres() {
    let Some(schema) = PostgresSchema::create("replicas_start_together_on_postgres").await else {
        return;
    };
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.linking.reconcile_on_start = false;
    })
    .await;

    // Both replicas migrate the empty schema and run their first linking scan at once.
    let (first, second) = tokio::join!(
        start_replica(&app, schema.url()),
        start_replica(&app, schema.url())
    );

    let person = app.linked_person();
    let casebook_id = person.casebook.as_ref().unwrap().id.clone();
    let ghl_id = person.ghl.as_ref().unwrap().id.clone();
    let mut ids = Vec::new();
    for replica in [&first, &second] {
        let read = data_from(&app, replica, BY_CASEBOOK_ID, json!({ "id": casebook_id })).await;
        assert_eq!(read["contactByCasebookId"]["ghl"]["id"], ghl_id);
        ids.push(read["contactByCasebookId"]["id"].clone());
    }
    assert_eq!(
        ids[0], ids[1],
        "both replicas resolve the person to one contact"
    );

    first.shutdown().await;
    second.shutdown().await;
    let TestApp { gateway, .. } = app;
    gateway.shutdown().await;
    schema.remove().await;
}
