//! OAuth credentials against the simulators: the GHL install flow, rotating refresh tokens
//! and Casebook client credentials.

use casebook_ghl_gateway::{
    config::Config,
    demo::config_for,
    server::{self, Gateway},
    sim::{casebook, seed::Dataset},
};
use futures::future::join_all;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::{
    credentials_support::{
        fresh_query, install, location, no_redirects, sim_json, sim_post, sim_put, stored_tokens,
        use_casebook_client_credentials, use_ghl_oauth,
    },
    support::{API_KEY, TestApp, errors},
};

const ALL_SCOPES: [&str; 4] = [
    "contacts.readonly",
    "contacts.write",
    "calendars/events.readonly",
    "calendars/events.write",
];

const BY_GHL_ID: &str = r#"
    query ($id: ID!) {
      contactByGhlId(id: $id) { ghlId ghl { id email } }
    }"#;

const BY_CASEBOOK_ID: &str = r#"
    query ($id: ID!) {
      contactByCasebookId(id: $id) { casebookId casebook { id firstName } }
    }"#;

fn ghl_ids(app: &TestApp, count: usize) -> Vec<String> {
    app.dataset
        .people
        .iter()
        .filter_map(|person| person.ghl.as_ref().map(|ghl| ghl.id.clone()))
        .take(count)
        .collect()
}

async fn start_ghl_oauth(scopes: &[&str]) -> TestApp {
    TestApp::start_with(Dataset::default(), |config| use_ghl_oauth(config, scopes)).await
}

#[tokio::test]
async fn install_stores_encrypted_tokens() {
    let app = start_ghl_oauth(&ALL_SCOPES).await;
    let id = ghl_ids(&app, 1).remove(0);

    let before = fresh_query(&app, BY_GHL_ID, json!({ "id": id })).await;
    let error = &errors(&before)[0];
    assert_eq!(
        error["extensions"]["code"], "UPSTREAM_UNAUTHORIZED",
        "{before:#}"
    );
    assert_eq!(error["extensions"]["reason"], "REINSTALL_REQUIRED");
    assert_eq!(
        error["extensions"]["installPath"],
        "/oauth/ghl/install?tenant=demo"
    );

    let (status, page) = install(&app, "demo").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("installed"), "{page}");

    let stored = stored_tokens(&app).await;
    let state = sim_json(&app, format!("{}/_sim/oauth/state", app.ghl.base_url)).await;
    assert_eq!(
        state["active_refresh_tokens"],
        json!([stored.refresh_token.expose_secret()])
    );

    let after = fresh_query(&app, BY_GHL_ID, json!({ "id": id })).await;
    assert!(errors(&after).is_empty(), "{after:#}");
    assert_eq!(after["data"]["contactByGhlId"]["ghl"]["id"], id.as_str());
}

#[tokio::test]
async fn install_links_contacts_at_once() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        use_ghl_oauth(config, &ALL_SCOPES);
        // The default interval: the next scan would come 15 minutes after the start.
        config.linking.reconcile_interval_s = 900;
    })
    .await;
    let person = app.linked_person();
    let casebook_id = person.casebook.as_ref().unwrap().id.clone();
    let ghl_id = person.ghl.as_ref().unwrap().id.clone();
    let query = r#"
        query ($id: ID!) {
          contactByCasebookId(id: $id) { linkMethod ghlId }
        }"#;

    let before = fresh_query(&app, query, json!({ "id": casebook_id })).await;
    assert_eq!(
        before["data"]["contactByCasebookId"]["linkMethod"], "SINGLE",
        "the start-up scan could not read GHL: {before:#}"
    );

    // `install` returns once the scan that the callback started has ended.
    assert_eq!(install(&app, "demo").await.0, 200);

    let after = fresh_query(&app, query, json!({ "id": casebook_id })).await;
    assert!(errors(&after).is_empty(), "{after:#}");
    let contact = &after["data"]["contactByCasebookId"];
    assert_eq!(contact["linkMethod"], "EMAIL", "{after:#}");
    assert_eq!(contact["ghlId"], ghl_id.as_str());
    let by_ghl = r#"
        query ($id: ID!) {
          contactByGhlId(id: $id) { linkMethod casebook { id } }
        }"#;
    let body = fresh_query(&app, by_ghl, json!({ "id": ghl_id })).await;
    assert!(errors(&body).is_empty(), "{body:#}");
    assert_eq!(
        body["data"]["contactByGhlId"]["casebook"]["id"],
        casebook_id.as_str()
    );
}

#[tokio::test]
async fn install_routes_without_app_are_not_found() {
    // The demo's configuration: private integration tokens and no [ghl_oauth].
    let app = TestApp::start().await;
    let browser = no_redirects();
    let gateway = app.gateway.base_url();

    for path in [
        "/oauth/ghl/install?tenant=demo",
        "/oauth/ghl/callback?code=some-code&state=some-state",
    ] {
        let response = browser
            .get(format!("{gateway}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("The GHL app is not configured on this gateway"),
            "{path}: {page}"
        );
        assert!(page.contains("/oauth/chooselocation"), "{path}: {page}");
        assert!(!page.contains("remove tenants"), "{path}: {page}");
    }
}

#[tokio::test]
async fn token_refreshed_shortly_before_expiry() {
    let app = start_ghl_oauth(&ALL_SCOPES).await;
    // With the 300 s refresh margin, a 301 s token is due for refresh after one second.
    sim_put(
        &app,
        format!("{}/_sim/oauth/settings", app.ghl.base_url),
        json!({ "access_token_ttl_s": 301 }),
    )
    .await;
    assert_eq!(install(&app, "demo").await.0, 200);
    app.reset_stats();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let id = ghl_ids(&app, 1).remove(0);

    let body = fresh_query(&app, BY_GHL_ID, json!({ "id": id })).await;

    assert!(errors(&body).is_empty(), "{body:#}");
    assert_eq!(
        app.calls(&app.ghl, "POST /oauth/token"),
        1,
        "refreshed ahead"
    );
    let statuses = &app.stats(&app.ghl).await["routes"]["GET /contacts/{contactId}"]["statuses"];
    assert_eq!(
        statuses,
        &json!({ "200": 1 }),
        "no request was sent with the old token"
    );
}

#[tokio::test]
async fn expired_token_refreshed_once_for_fifty_requests() {
    // The gateway's own GHL limiter would hold the 101st call of this test for a window.
    let app = TestApp::start_with(Dataset::default(), |config| {
        use_ghl_oauth(config, &ALL_SCOPES);
        config.upstream.ghl_limits.enabled = false;
    })
    .await;
    assert_eq!(install(&app, "demo").await.0, 200);
    let ids = ghl_ids(&app, 50);
    let warm = fresh_query(&app, BY_GHL_ID, json!({ "id": ids[0] })).await;
    assert!(errors(&warm).is_empty(), "{warm:#}");

    sim_post(&app, format!("{}/_sim/oauth/expire", app.ghl.base_url)).await;
    app.reset_stats();
    let bodies = join_all(
        ids.iter()
            .map(|id| fresh_query(&app, BY_GHL_ID, json!({ "id": id }))),
    )
    .await;

    for (id, body) in ids.iter().zip(&bodies) {
        assert!(errors(body).is_empty(), "{body:#}");
        assert_eq!(body["data"]["contactByGhlId"]["ghl"]["id"], id.as_str());
    }
    assert_eq!(app.calls(&app.ghl, "POST /oauth/token"), 1, "one refresh");
    let state = sim_json(&app, format!("{}/_sim/oauth/state", app.ghl.base_url)).await;
    assert_eq!(state["token_requests"]["refresh_token"], 1);
    let stored = stored_tokens(&app).await;
    assert_eq!(
        state["active_refresh_tokens"],
        json!([stored.refresh_token.expose_secret()]),
        "the rotated refresh token is the stored one"
    );

    // The stored token works for the next refresh too.
    sim_post(&app, format!("{}/_sim/oauth/expire", app.ghl.base_url)).await;
    let again = fresh_query(&app, BY_GHL_ID, json!({ "id": ids[1] })).await;
    assert!(errors(&again).is_empty(), "{again:#}");
    assert_eq!(app.calls(&app.ghl, "POST /oauth/token"), 2);
}

#[tokio::test]
async fn two_gateways_sharing_a_database_refresh_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("state.db").display());
    let configure = |config: &mut Config| {
        use_ghl_oauth(config, &ALL_SCOPES);
        config.upstream.ghl_limits.enabled = false;
    };
    let first_database = database.clone();
    let app = TestApp::start_with(Dataset::default(), |config| {
        configure(config);
        config.database.url = first_database;
    })
    .await;
    let mut config = config_for(
        &app.casebook.base_url,
        &app.ghl.base_url,
        API_KEY,
        &database,
    );
    configure(&mut config);
    let second = server::start(
        Gateway::build(&config).await.unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(install(&app, "demo").await.0, 200);
    sim_post(&app, format!("{}/_sim/oauth/expire", app.ghl.base_url)).await;
    app.reset_stats();

    let ids = ghl_ids(&app, 40);
    let requests = ids.iter().enumerate().map(|(index, id)| {
        let url = match index % 2 {
            0 => app.graphql_url(),
            _ => format!("{}/graphql", second.base_url()),
        };
        let http = app.http.clone();
        async move {
            http.post(url)
                .bearer_auth(API_KEY)
                .header("Cache-Control", "no-cache")
                .json(&json!({ "query": BY_GHL_ID, "variables": { "id": id } }))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    });
    let bodies = join_all(requests).await;

    for (id, body) in ids.iter().zip(&bodies) {
        assert!(errors(body).is_empty(), "{body:#}");
        assert_eq!(body["data"]["contactByGhlId"]["ghl"]["id"], id.as_str());
    }
    assert_eq!(
        app.calls(&app.ghl, "POST /oauth/token"),
        1,
        "one refresh for both gateways"
    );
    let state = sim_json(&app, format!("{}/_sim/oauth/state", app.ghl.base_url)).await;
    assert_eq!(
        state["rejected_refresh"], 0,
        "no gateway spent a used refresh token"
    );
    second.shutdown().await;

    // The database files hold the tokens only as ciphertext.
    let stored = stored_tokens(&app).await;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for token in [&stored.access_token, &stored.refresh_token] {
            let plain = token.expose_secret().as_bytes();
            assert!(!bytes.windows(plain.len()).any(|window| window == plain));
        }
    }
}

#[tokio::test]
async fn used_refresh_token_requires_reinstall() {
    let app = start_ghl_oauth(&ALL_SCOPES).await;
    assert_eq!(install(&app, "demo").await.0, 200);
    let ids = ghl_ids(&app, 20);
    sim_post(
        &app,
        format!("{}/_sim/oauth/revoke-refresh", app.ghl.base_url),
    )
    .await;
    sim_post(&app, format!("{}/_sim/oauth/expire", app.ghl.base_url)).await;
    app.reset_stats();

    let bodies = join_all(
        ids.iter()
            .map(|id| fresh_query(&app, BY_GHL_ID, json!({ "id": id }))),
    )
    .await;
    for body in &bodies {
        let error = &errors(body)[0];
        assert_eq!(
            error["extensions"]["code"], "UPSTREAM_UNAUTHORIZED",
            "{body:#}"
        );
        assert_eq!(error["extensions"]["reason"], "REINSTALL_REQUIRED");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("installed again"), "{message}");
        assert!(
            message.contains("/oauth/ghl/install?tenant=demo"),
            "{message}"
        );
        assert!(message.contains("invalid_grant"), "{message}");
        assert!(
            !message.contains("every refresh returns"),
            "GHL's error description stays in the log: {message}"
        );
    }
    assert_eq!(
        app.calls(&app.ghl, "POST /oauth/token"),
        1,
        "no retry storm"
    );
    let stored = stored_tokens(&app).await;
    assert!(matches!(
        stored.status,
        casebook_ghl_gateway::credentials::store::TokenStatus::ReinstallRequired { .. }
    ));

    // Later requests still fail without asking the token endpoint, while Casebook is served.
    let person = app.casebook_only();
    let casebook_id = &person.casebook.as_ref().unwrap().id;
    let body = fresh_query(&app, BY_CASEBOOK_ID, json!({ "id": casebook_id })).await;
    assert_eq!(
        body["data"]["contactByCasebookId"]["casebook"]["id"],
        casebook_id.as_str()
    );
    let body = fresh_query(&app, BY_GHL_ID, json!({ "id": ids[0] })).await;
    assert_eq!(
        errors(&body)[0]["extensions"]["reason"],
        "REINSTALL_REQUIRED"
    );
    assert_eq!(app.calls(&app.ghl, "POST /oauth/token"), 1);

    // A new install recovers.
    assert_eq!(install(&app, "demo").await.0, 200);
    let body = fresh_query(&app, BY_GHL_ID, json!({ "id": ids[0] })).await;
    assert!(errors(&body).is_empty(), "{body:#}");
}

#[tokio::test]
async fn missing_scope_is_reported_without_refresh() {
    let app = start_ghl_oauth(&["calendars/events.readonly"]).await;
    assert_eq!(install(&app, "demo").await.0, 200);
    app.reset_stats();
    let id = ghl_ids(&app, 1).remove(0);

    let body = fresh_query(&app, BY_GHL_ID, json!({ "id": id })).await;

    let error = &errors(&body)[0];
    assert_eq!(
        error["extensions"]["code"], "UPSTREAM_UNAUTHORIZED",
        "{body:#}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("scope"), "{message}");
    assert_eq!(app.calls(&app.ghl, "POST /oauth/token"), 0, "no refresh");
    assert_eq!(
        app.calls(&app.ghl, "GET /contacts/{contactId}"),
        1,
        "no retry"
    );
}

#[tokio::test]
async fn install_rejects_reused_state_and_unknown_tenant() {
    let app = start_ghl_oauth(&ALL_SCOPES).await;
    let browser = no_redirects();
    let gateway = app.gateway.base_url();

    let unknown = browser
        .get(format!("{gateway}/oauth/ghl/install?tenant=nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let missing = browser
        .get(format!("{gateway}/oauth/ghl/install"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    let start = browser
        .get(format!("{gateway}/oauth/ghl/install?tenant=demo"))
        .send()
        .await
        .unwrap();
    let chosen = browser.get(location(&start)).send().await.unwrap();
    let callback = location(&chosen);
    let callback_url = format!("{gateway}/oauth/ghl/callback?{}", callback.query().unwrap());
    let first = browser.get(&callback_url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = browser.get(&callback_url).send().await.unwrap();
    assert_eq!(second.status(), 400);
    let page = second.text().await.unwrap();
    assert!(page.contains("expired or was already used"), "{page}");
    let code = callback
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap()
        .1
        .to_string();
    assert!(!page.contains(&code), "the page never shows the code");

    let denied = browser
        .get(format!("{gateway}/oauth/ghl/callback?error=access_denied"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 400);
}

#[tokio::test]
async fn install_of_another_location_is_rejected() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        use_ghl_oauth(config, &ALL_SCOPES);
        config.tenants.values_mut().next().unwrap().ghl.location_id = "OtherLocation".to_string();
    })
    .await;
    let (status, page) = install(&app, "demo").await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("OtherLocation"), "{page}");
    assert!(
        app.gateway
            .gateway
            .token_store()
            .unwrap()
            .load("demo")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn casebook_client_credentials_fetch_one_token() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        use_casebook_client_credentials(config, casebook::OAUTH_CLIENT_SECRET);
    })
    .await;
    let ids: Vec<String> = app
        .dataset
        .people
        .iter()
        .filter_map(|person| person.casebook.as_ref().map(|c| c.id.clone()))
        .take(20)
        .collect();
    app.reset_stats();

    let bodies = join_all(
        ids.iter()
            .map(|id| fresh_query(&app, BY_CASEBOOK_ID, json!({ "id": id }))),
    )
    .await;
    for body in &bodies {
        assert!(errors(body).is_empty(), "{body:#}");
    }
    assert_eq!(
        app.calls(&app.casebook, "POST /oauth2/token"),
        0,
        "the token fetched by the start-up scan is reused"
    );

    sim_post(&app, format!("{}/_sim/oauth/expire", app.casebook.base_url)).await;
    let body = fresh_query(&app, BY_CASEBOOK_ID, json!({ "id": ids[0] })).await;
    assert!(errors(&body).is_empty(), "{body:#}");
    assert_eq!(
        app.calls(&app.casebook, "POST /oauth2/token"),
        1,
        "a rejected token is replaced once"
    );
}

#[tokio::test]
async fn wrong_casebook_secret_is_reported_and_ghl_served() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        use_casebook_client_credentials(config, "not-the-secret");
    })
    .await;
    app.reset_stats();
    let person = app.linked_person();
    let ghl_id = person.ghl.as_ref().unwrap().id.clone();
    let casebook_id = person.casebook.as_ref().unwrap().id.clone();
    let query = r#"
        query ($ghl: ID!, $casebook: ID!) {
          byGhl: contactByGhlId(id: $ghl) { ghl { id } }
          byCasebook: contactByCasebookId(id: $casebook) { casebookId }
        }"#;
    let variables = json!({ "ghl": ghl_id, "casebook": casebook_id });

    let bodies = join_all((0..10).map(|_| fresh_query(&app, query, variables.clone()))).await;

    for body in &bodies {
        assert_eq!(
            body["data"]["byGhl"]["ghl"]["id"],
            ghl_id.as_str(),
            "{body:#}"
        );
        let error = errors(body)
            .into_iter()
            .find(|error| error["extensions"]["system"] == "CASEBOOK")
            .unwrap_or_else(|| panic!("a Casebook error: {body:#}"));
        assert_eq!(error["path"], json!(["byCasebook"]));
        assert_eq!(error["extensions"]["code"], "UPSTREAM_UNAUTHORIZED");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("client id or secret"),
            "{error}"
        );
        assert!(!body.to_string().contains("not-the-secret"));
    }
    assert!(
        app.calls(&app.casebook, "POST /oauth2/token") <= 1,
        "a rejected secret is not sent again at once"
    );
}
