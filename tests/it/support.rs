//! Starts the simulators and the gateway for one test.

use casebook_ghl_gateway::{
    config::Config,
    demo::config_for,
    server::{self, Gateway, RunningGateway},
    sim::{
        casebook::{self, CasebookSimOptions},
        common::RunningSim,
        ghl::{self, GhlSimOptions},
        seed::{Dataset, MatchCase, Presence, SeedPerson},
    },
};
use serde_json::{Value, json};

pub const API_KEY: &str = "test-api-key-0123456789";

/// Both simulators and a gateway in front of them.
pub struct TestApp {
    pub dataset: Dataset,
    pub casebook: RunningSim,
    pub ghl: RunningSim,
    pub gateway: RunningGateway,
    pub http: reqwest::Client,
}

impl TestApp {
    /// Starts everything with the default data set and a fresh in-memory database.
    pub async fn start() -> TestApp {
        TestApp::start_with(Dataset::default(), |_| {}).await
    }

    /// Starts everything with `dataset`, after `configure` has changed the configuration.
    pub async fn start_with(dataset: Dataset, configure: impl FnOnce(&mut Config)) -> TestApp {
        // Log lines show in the output of a failing test only.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
        let loopback = "127.0.0.1:0".parse().unwrap();
        let casebook = casebook::start(loopback, &dataset, CasebookSimOptions::default())
            .await
            .expect("Casebook simulator starts");
        let ghl = ghl::start(loopback, &dataset, GhlSimOptions::default())
            .await
            .expect("GHL simulator starts");
        let mut config = config_for(
            &casebook.base_url,
            &ghl.base_url,
            API_KEY,
            "sqlite::memory:",
        );
        configure(&mut config);
        let gateway = Gateway::build(&config).await.expect("gateway builds");
        let gateway = server::start(gateway, loopback)
            .await
            .expect("gateway starts");
        TestApp {
            dataset,
            casebook,
            ghl,
            gateway,
            http: reqwest::Client::new(),
        }
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.gateway.base_url())
    }

    /// Runs a query with the test API key and returns the whole response body.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(self.graphql_url())
            .bearer_auth(API_KEY)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(response.status(), 200, "GraphQL requests answer 200");
        response.json().await.expect("GraphQL response is JSON")
    }

    /// Runs a query that must succeed without errors and returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// The first seeded person matching `filter`.
    pub fn person(&self, filter: impl Fn(&SeedPerson) -> bool) -> &SeedPerson {
        self.dataset
            .people
            .iter()
            .find(|person| filter(person))
            .expect("the data set has such a person")
    }

    /// A linked person whose halves share an e-mail written the same way.
    pub fn linked_person(&self) -> &SeedPerson {
        self.person(|p| p.expect_linked() && p.match_case == MatchCase::SameEmail)
    }

    pub fn casebook_only(&self) -> &SeedPerson {
        self.person(|p| p.presence == Presence::CasebookOnly && p.match_case == MatchCase::OneSided)
    }

    pub fn ghl_only(&self) -> &SeedPerson {
        self.person(|p| p.presence == Presence::GhlOnly)
    }

    /// Adds a fault to a simulator through its HTTP admin API.
    pub async fn fault(&self, sim: &RunningSim, rule: Value) {
        let response = self
            .http
            .post(format!("{}/_sim/faults", sim.base_url))
            .json(&rule)
            .send()
            .await
            .expect("simulator answers");
        assert!(
            response.status().is_success(),
            "fault accepted: {}",
            response.status()
        );
    }

    /// Clears both simulators' request statistics.
    pub fn reset_stats(&self) {
        for sim in [&self.casebook, &self.ghl] {
            sim.control.reset_stats();
        }
    }

    /// Requests a simulator received on one route, such as `GET /contacts/{contactId}`.
    pub fn calls(&self, sim: &RunningSim, route: &str) -> u64 {
        sim.control.count(route)
    }

    /// A simulator's request statistics.
    pub async fn stats(&self, sim: &RunningSim) -> Value {
        self.http
            .get(format!("{}/_sim/stats", sim.base_url))
            .send()
            .await
            .expect("simulator answers")
            .json()
            .await
            .expect("stats are JSON")
    }
}

/// The errors of a response, or an empty list.
pub fn errors(body: &Value) -> Vec<Value> {
    body.get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The `extensions.code` of every error.
pub fn error_codes(body: &Value) -> Vec<String> {
    errors(body)
        .iter()
        .filter_map(|error| error["extensions"]["code"].as_str().map(str::to_string))
        .collect()
}

/// Every contact the GHL simulator stores, with its tasks, notes and appointments.
pub async fn ghl_state(app: &TestApp) -> Vec<Value> {
    let body: Value = app
        .http
        .get(format!("{}/_sim/state/contacts", app.ghl.base_url))
        .send()
        .await
        .expect("simulator answers")
        .json()
        .await
        .expect("state is JSON");
    body["contacts"].as_array().cloned().unwrap_or_default()
}

/// Every person the Casebook simulator stores, as `{person, tasks, notes}`.
pub async fn casebook_state(app: &TestApp) -> Vec<Value> {
    let body: Value = app
        .http
        .get(format!("{}/_sim/state/people", app.casebook.base_url))
        .send()
        .await
        .expect("simulator answers")
        .json()
        .await
        .expect("state is JSON");
    body["people"].as_array().cloned().unwrap_or_default()
}

/// GHL contacts whose e-mail is `email` (case-insensitive).
pub async fn ghl_with_email(app: &TestApp, email: &str) -> Vec<Value> {
    ghl_state(app)
        .await
        .into_iter()
        .filter(|c| {
            c["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .collect()
}

/// Casebook people whose e-mail is `email` (case-insensitive), as `{person, tasks, notes}`.
pub async fn casebook_with_email(app: &TestApp, email: &str) -> Vec<Value> {
    casebook_state(app)
        .await
        .into_iter()
        .filter(|p| {
            p["person"]["attributes"]["email"]
                .as_str()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
        })
        .collect()
}

/// A configuration change that makes the outbox retry quickly.
pub fn fast_retries(config: &mut Config) {
    config.writes.backoff_base_ms = 50;
    config.writes.backoff_max_ms = 400;
    config.writes.lease_s = 2;
}
