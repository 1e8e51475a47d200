//! A gateway killed with a write in the outbox finishes it after a restart.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use casebook_ghl_gateway::sim::{
    casebook::{self, CasebookSimOptions},
    ghl::{self, GhlSimOptions},
    seed::{Dataset, GHL_LOCATION_ID},
};
use serde_json::{Value, json};

/// Starts the gateway binary with `config`, and waits until it answers.
async fn start_gateway(config: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_casebook-ghl-gateway"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gateway binary starts");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        let health = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        if health.is_ok_and(|response| response.status().is_success()) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("gateway did not answer on port {port}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

async fn ghl_contacts_with_email(ghl_url: &str, email: &str) -> usize {
    let body: Value = reqwest::get(format!("{ghl_url}/_sim/state/contacts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["email"].as_str() == Some(email))
        .count()
}

#[tokio::test]
async fn killed_gateway_finishes_outbox_after_restart() {
    let dataset = Dataset::default();
    let loopback = "127.0.0.1:0".parse().unwrap();
    let casebook = casebook::start(loopback, &dataset, CasebookSimOptions::default())
        .await
        .unwrap();
    let ghl = ghl::start(loopback, &dataset, GhlSimOptions::default())
        .await
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = directory.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"
listen = "127.0.0.1:{port}"
[database]
url = "sqlite://{db}"
[linking]
reconcile_interval_s = 0
[writes]
backoff_base_ms = 50
backoff_max_ms = 300
lease_s = 1
[tenants.restart]
api_keys = ["restart-key"]
[tenants.restart.casebook]
base_url = "{casebook}"
token = "{casebook_token}"
[tenants.restart.ghl]
base_url = "{ghl}"
location_id = "{location}"
token = "{ghl_token}"
"#,
            db = directory.path().join("gateway.db").display(),
            casebook = casebook.base_url,
            ghl = ghl.base_url,
            casebook_token = casebook::DEFAULT_TOKEN,
            ghl_token = ghl::DEFAULT_TOKEN,
            location = GHL_LOCATION_ID,
        ),
    )
    .unwrap();

    ghl.control.add_fault(
        serde_json::from_value(json!({ "method": "POST", "path": "/contacts/", "status": 503 }))
            .unwrap(),
    );
    let mut gateway = start_gateway(&config, port).await;
    let response: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth("restart-key")
        .json(&json!({
            "query": "mutation { createContact(input: { firstName: \"Kill\", lastName: \"Nine\", email: \"kill.nine@example.org\" }) { casebook ghl } }"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        response["data"]["createContact"]["ghl"], "PENDING",
        "{response:#}"
    );

    // SIGKILL: no shutdown code runs.
    gateway.kill().unwrap();
    gateway.wait().unwrap();
    ghl.control.clear_faults();
    assert_eq!(
        ghl_contacts_with_email(&ghl.base_url, "kill.nine@example.org").await,
        0
    );

    let mut gateway = start_gateway(&config, port).await;
    let mut count = 0;
    for _ in 0..200 {
        count = ghl_contacts_with_email(&ghl.base_url, "kill.nine@example.org").await;
        if count > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a duplicate attempt time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let final_count = ghl_contacts_with_email(&ghl.base_url, "kill.nine@example.org").await;
    gateway.kill().unwrap();
    gateway.wait().unwrap();
    assert_eq!(count, 1, "the restarted gateway wrote the pending contact");
    assert_eq!(final_count, 1, "exactly once");
}
