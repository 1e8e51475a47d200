//! Helpers for tests of upstream credentials: OAuth configuration, the install flow and
//! simulator admin calls.

use std::time::{Duration, Instant};

use base64::Engine;
use casebook_ghl_gateway::{
    config::{ClientCredentialsConfig, Config},
    credentials::ghl_oauth::GhlOAuthConfig,
    metrics::LINKING_SCANS,
    sim::{casebook, ghl},
};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

use crate::support::{API_KEY, TestApp};

/// Base64 of the 32-byte key the tests encrypt stored tokens with.
pub fn test_key() -> SecretString {
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([42u8; 32]))
}

/// Switches the GHL side of the demo tenant to the simulator's OAuth app.
pub fn use_ghl_oauth(config: &mut Config, scopes: &[&str]) {
    let tenant = config.tenants.values_mut().next().unwrap();
    tenant.ghl.token = None;
    let ghl_base = tenant.ghl.base_url.clone();
    config.ghl_oauth = Some(GhlOAuthConfig {
        client_id: ghl::OAUTH_CLIENT_ID.to_string(),
        client_secret: SecretString::from(ghl::OAUTH_CLIENT_SECRET.to_string()),
        // The simulator sends the browser here; the tests follow the redirect by hand.
        redirect_uri: Url::parse("http://127.0.0.1:9/oauth/ghl/callback").unwrap(),
        authorize_url: ghl_base.join("/oauth/chooselocation").unwrap(),
        scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
        refresh_margin_s: 300,
    });
    config.token_encryption_key = Some(test_key());
}

/// Switches the Casebook side of the demo tenant to client credentials.
pub fn use_casebook_client_credentials(config: &mut Config, secret: &str) {
    let tenant = config.tenants.values_mut().next().unwrap();
    tenant.casebook.token = None;
    let token_url = tenant.casebook.base_url.join("/oauth2/token").unwrap();
    tenant.casebook.client_credentials = Some(ClientCredentialsConfig {
        token_url,
        client_id: casebook::OAUTH_CLIENT_ID.to_string(),
        client_secret: SecretString::from(secret.to_string()),
        refresh_margin_s: 60,
    });
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Runs the install flow as a browser would: gateway, then GHL's chooser, then the
/// gateway's callback. Returns the callback's status and page.
pub async fn install(app: &TestApp, tenant: &str) -> (u16, String) {
    let (status, page, _code) = install_with_code(app, tenant).await;
    (status, page)
}

/// Runs the install flow like [`install`] and also returns the authorization code.
///
/// After a successful install it waits for the linking scan that the callback starts, so
/// that the scan's upstream calls do not mix with the calls a test counts next.
pub async fn install_with_code(app: &TestApp, tenant: &str) -> (u16, String, String) {
    let scans_before = linking_scans(app, tenant);
    let browser = no_redirects();
    let start = browser
        .get(format!(
            "{}/oauth/ghl/install?tenant={tenant}",
            app.gateway.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302, "install redirects to the chooser");
    let chooser = location(&start);
    assert!(chooser.query().unwrap().contains("state="), "{chooser}");

    let chosen = browser.get(chooser).send().await.unwrap();
    assert_eq!(
        chosen.status(),
        302,
        "the chooser redirects to the callback"
    );
    let callback = location(&chosen);
    assert_eq!(callback.path(), "/oauth/ghl/callback");
    let response = browser
        .get(format!(
            "{}{}?{}",
            app.gateway.base_url(),
            callback.path(),
            callback.query().unwrap_or_default()
        ))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let code = callback
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.to_string())
        .unwrap_or_default();
    let page = response.text().await.unwrap();
    if status == 200 {
        wait_for_linking_scan(app, tenant, scans_before).await;
    }
    (status, page, code)
}

/// Counts the linking scans of `tenant` that have ended, successful or not.
pub fn linking_scans(app: &TestApp, tenant: &str) -> u64 {
    app.gateway
        .gateway
        .metrics()
        .sum(LINKING_SCANS, &[("tenant", tenant)])
}

/// Waits until more than `before` linking scans of `tenant` have ended.
pub async fn wait_for_linking_scan(app: &TestApp, tenant: &str, before: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while linking_scans(app, tenant) <= before {
        assert!(
            Instant::now() < deadline,
            "no linking scan of tenant {tenant} ended within 10 s of the install"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn location(response: &reqwest::Response) -> Url {
    let value = response.headers()["location"].to_str().unwrap();
    Url::parse(value).unwrap()
}

/// Runs `query` past the caches.
pub async fn fresh_query(app: &TestApp, query: &str, variables: Value) -> Value {
    app.http
        .post(app.graphql_url())
        .bearer_auth(API_KEY)
        .header("Cache-Control", "no-cache")
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn sim_json(app: &TestApp, url: String) -> Value {
    app.http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn sim_post(app: &TestApp, url: String) {
    let response = app.http.post(url).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// Sends `body` to a simulator admin route with PUT.
pub async fn sim_put(app: &TestApp, url: String, body: Value) {
    let response = app.http.put(url).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// Reads the GHL tokens the gateway stored for the demo tenant.
pub async fn stored_tokens(
    app: &TestApp,
) -> casebook_ghl_gateway::credentials::store::StoredTokens {
    app.gateway
        .gateway
        .token_store()
        .expect("the gateway stores OAuth tokens")
        .load("demo")
        .await
        .expect("the token row can be read")
        .expect("the demo tenant is installed")
}
