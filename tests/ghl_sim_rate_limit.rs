//! Tests of the GHL simulator's automatic rate limiting over real HTTP on 127.0.0.1:
//! the 429 past the burst and daily limits, recovery after the window, the
//! `X-RateLimit-*` headers and the `/_sim/ratelimit` admin routes.

use std::{collections::HashMap, sync::LazyLock, time::Duration};

use casebook_ghl_gateway::sim::{
    common::RunningSim,
    ghl::{self, GhlSimOptions, RateLimitSettings},
    seed::{self, Dataset},
};
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::{Value, json};

const VERSION: &str = "2021-07-28";
const LOCATION: &str = seed::GHL_LOCATION_ID;
const OTHER_LOCATION: &str = "OtherLocation0000001";
const OTHER_TOKEN: &str = "other-location-token";

static DATASET: LazyLock<Dataset> = LazyLock::new(|| Dataset::generate(seed::DEFAULT_SEED, 12));

fn contact_path() -> String {
    let id = &DATASET
        .people
        .iter()
        .find_map(|person| person.ghl.as_ref())
        .expect("the data set has a GHL contact")
        .id;
    format!("/contacts/{id}")
}

/// Starts a simulator that also accepts [`OTHER_TOKEN`] for [`OTHER_LOCATION`].
async fn start_sim() -> RunningSim {
    let mut options = GhlSimOptions::default();
    options
        .tokens
        .insert(OTHER_TOKEN.to_string(), OTHER_LOCATION.to_string());
    ghl::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
        .await
        .expect("GHL simulator starts")
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<u64> {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap().parse().expect("numeric header"))
    }
}

async fn send(sim: &RunningSim, method: reqwest::Method, path: &str, token: &str) -> Reply {
    let mut request = reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", sim.base_url))
        .bearer_auth(token)
        .header("Version", VERSION);
    if method == reqwest::Method::POST {
        request = request.json(&json!({
            "locationId": LOCATION,
            "firstName": "Quota",
            "email": "quota.test@example.org",
        }));
    }
    let response = request.send().await.expect("simulator answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.expect("JSON body");
    Reply {
        status,
        headers,
        body,
    }
}

async fn get_contact(sim: &RunningSim, token: &str) -> Reply {
    send(sim, reqwest::Method::GET, &contact_path(), token).await
}

async fn put_limits(sim: &RunningSim, body: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .put(format!("{}/_sim/ratelimit", sim.base_url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body)
}

async fn set_limits(sim: &RunningSim, body: Value) {
    let (status, answer) = put_limits(sim, &body.to_string()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body} rejected: {answer}");
}

async fn limits(sim: &RunningSim) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}/_sim/ratelimit", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn assert_429(reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(
        reply.body,
        json!({ "statusCode": 429, "message": "Too many requests", "error": "Too Many Requests" })
    );
    assert_eq!(reply.header("x-ratelimit-remaining"), Some(0));
    assert!(reply.header("x-ratelimit-max").is_some());
    assert!(reply.header("x-ratelimit-interval-milliseconds").is_some());
    assert!(reply.header("x-ratelimit-limit-daily").is_some());
    assert!(reply.header("x-ratelimit-daily-remaining").is_some());
    assert!(!reply.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn default_burst_limit_is_100() {
    let sim = start_sim().await;
    for expected_remaining in (0..100).rev() {
        let reply = get_contact(&sim, ghl::DEFAULT_TOKEN).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("x-ratelimit-remaining"),
            Some(expected_remaining)
        );
    }
    let reply = get_contact(&sim, ghl::DEFAULT_TOKEN).await;
    assert_429(&reply);
    assert_eq!(reply.header("x-ratelimit-max"), Some(100));
    assert_eq!(
        reply.header("x-ratelimit-interval-milliseconds"),
        Some(10_000)
    );
    assert_eq!(reply.header("x-ratelimit-daily-remaining"), Some(199_900));

    let report = limits(&sim).await;
    assert_eq!(report["max"], 100);
    assert_eq!(report["window_ms"], 10_000);
    assert_eq!(report["daily_limit"], 200_000);
    let usage = &report["locations"][LOCATION];
    assert_eq!(usage["in_window"], 100);
    assert_eq!(usage["daily_used"], 100);
    assert_eq!(usage["rejected"], 1);
    assert_eq!(usage["peak_in_window"], 100);

    // The 429 is counted in the stats like any response.
    let stats = sim.control.stats();
    let route = &stats["routes"]["GET /contacts/{contactId}"];
    assert_eq!(route["statuses"]["200"], 100);
    assert_eq!(route["statuses"]["429"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn burst_limit_recovers_after_window() {
    let sim = start_sim().await;
    set_limits(&sim, json!({ "max": 5, "window_ms": 1000 })).await;
    for _ in 0..5 {
        assert_eq!(
            get_contact(&sim, ghl::DEFAULT_TOKEN).await.status,
            StatusCode::OK
        );
    }
    let reply = get_contact(&sim, ghl::DEFAULT_TOKEN).await;
    assert_429(&reply);
    assert_eq!(reply.header("x-ratelimit-max"), Some(5));
    assert_eq!(
        reply.header("x-ratelimit-interval-milliseconds"),
        Some(1000)
    );
    // Rejected requests do not extend the wait.
    assert_429(&get_contact(&sim, ghl::DEFAULT_TOKEN).await);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = get_contact(&sim, ghl::DEFAULT_TOKEN).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-ratelimit-remaining"), Some(4));

    let usage = &limits(&sim).await["locations"][LOCATION];
    assert_eq!(usage["in_window"], 1);
    assert_eq!(usage["daily_used"], 6);
    assert_eq!(usage["rejected"], 2);
    assert_eq!(usage["peak_in_window"], 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn rejected_write_is_not_served() {
    let sim = start_sim().await;
    set_limits(&sim, json!({ "max": 1 })).await;
    assert_eq!(
        get_contact(&sim, ghl::DEFAULT_TOKEN).await.status,
        StatusCode::OK
    );

    let reply = send(
        &sim,
        reqwest::Method::POST,
        "/contacts/",
        ghl::DEFAULT_TOKEN,
    )
    .await;
    assert_429(&reply);
    let response = reqwest::Client::new()
        .get(format!("{}/_sim/state/contacts", sim.base_url))
        .send()
        .await
        .unwrap();
    let state = response.text().await.unwrap();
    assert!(!state.contains("quota.test@example.org"), "the create ran");

    // The same create is served once the quota allows it.
    set_limits(&sim, json!({ "max": 10 })).await;
    let reply = send(
        &sim,
        reqwest::Method::POST,
        "/contacts/",
        ghl::DEFAULT_TOKEN,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let response = reqwest::Client::new()
        .get(format!("{}/_sim/state/contacts", sim.base_url))
        .send()
        .await
        .unwrap();
    let state = response.text().await.unwrap();
    assert!(
        state.contains("quota.test@example.org"),
        "the create did not run"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn locations_have_separate_quotas() {
    let sim = start_sim().await;
    set_limits(&sim, json!({ "max": 2 })).await;
    for _ in 0..2 {
        assert_eq!(
            get_contact(&sim, ghl::DEFAULT_TOKEN).await.status,
            StatusCode::OK
        );
    }
    assert_429(&get_contact(&sim, ghl::DEFAULT_TOKEN).await);

    // The other location's token reaches its own quota; its 403 is still served.
    let reply = get_contact(&sim, OTHER_TOKEN).await;
    assert_ne!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("x-ratelimit-remaining"), Some(1));

    // Requests without a valid token are not counted and see the full quota.
    let reply = get_contact(&sim, "unknown-token").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("x-ratelimit-remaining"), Some(2));

    let report = limits(&sim).await;
    assert_eq!(report["locations"][OTHER_LOCATION]["daily_used"], 1);
    assert_eq!(report["locations"][LOCATION]["daily_used"], 2);
    let listed: Vec<&String> = report["locations"].as_object().unwrap().keys().collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn daily_limit_is_429() {
    let sim = start_sim().await;
    set_limits(&sim, json!({ "daily_limit": 10, "daily_used": 8 })).await;
    let reply = get_contact(&sim, ghl::DEFAULT_TOKEN).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-ratelimit-limit-daily"), Some(10));
    assert_eq!(reply.header("x-ratelimit-daily-remaining"), Some(1));
    let reply = get_contact(&sim, ghl::DEFAULT_TOKEN).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-ratelimit-daily-remaining"), Some(0));

    let reply = get_contact(&sim, ghl::DEFAULT_TOKEN).await;
    assert_429(&reply);
    assert_eq!(reply.header("x-ratelimit-daily-remaining"), Some(0));
    // The burst window still has room, so only the daily limit applies.
    assert_eq!(limits(&sim).await["locations"][LOCATION]["in_window"], 2);

    // daily_used applies to every listed location, so the other one has 2 requests left.
    for _ in 0..2 {
        let reply = get_contact(&sim, OTHER_TOKEN).await;
        assert_ne!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_429(&get_contact(&sim, OTHER_TOKEN).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn peak_in_window_tracks_bursts() {
    let sim = start_sim().await;
    set_limits(&sim, json!({ "max": 1000, "window_ms": 1000 })).await;
    for _ in 0..7 {
        assert_eq!(
            get_contact(&sim, ghl::DEFAULT_TOKEN).await.status,
            StatusCode::OK
        );
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        assert_eq!(
            get_contact(&sim, ghl::DEFAULT_TOKEN).await.status,
            StatusCode::OK
        );
    }
    let usage = &limits(&sim).await["locations"][LOCATION];
    assert_eq!(usage["in_window"], 3);
    assert_eq!(usage["daily_used"], 10);
    assert_eq!(usage["rejected"], 0);
    assert_eq!(usage["peak_in_window"], 7);

    // DELETE sets the counters back to zero and keeps the settings.
    let response = reqwest::Client::new()
        .delete(format!("{}/_sim/ratelimit", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let report = limits(&sim).await;
    assert_eq!(report["max"], 1000);
    assert_eq!(
        report["locations"][LOCATION],
        json!({ "in_window": 0, "daily_used": 0, "rejected": 0, "peak_in_window": 0 })
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn put_limits_rejects_bad_bodies() {
    let sim = start_sim().await;
    let cases = [
        ("{not json", "invalid body"),
        (r#"{"max": 0}"#, "max 0"),
        (r#"{"window_ms": 0}"#, "shorter than 1 ms"),
        (r#"{"daily_limit": 0}"#, "daily_limit 0"),
        (r#"{"max": -1}"#, "invalid body"),
        (r#"{"max": "5"}"#, "invalid body"),
        (r#"{"burst": 5}"#, "unknown field `burst`"),
        ("[]", "invalid body"),
    ];
    for (body, expected) in cases {
        let (status, answer) = put_limits(&sim, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "body {body}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected),
            "body {body}: {message:?} lacks {expected:?}"
        );
    }
    // A rejected change leaves every setting as it was, even the valid fields in it.
    let (status, _) = put_limits(&sim, r#"{"max": 7, "window_ms": 0}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let report = limits(&sim).await;
    assert_eq!(report["max"], 100);
    assert_eq!(report["window_ms"], 10_000);

    // An empty object changes nothing; a subset changes only its fields.
    set_limits(&sim, json!({})).await;
    set_limits(&sim, json!({ "max": 7 })).await;
    let report = limits(&sim).await;
    assert_eq!(report["max"], 7);
    assert_eq!(report["window_ms"], 10_000);
    assert_eq!(report["daily_limit"], 200_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn admin_routes_skip_quota() {
    let sim = start_sim().await;
    set_limits(&sim, json!({ "max": 1 })).await;
    assert_eq!(
        get_contact(&sim, ghl::DEFAULT_TOKEN).await.status,
        StatusCode::OK
    );
    for _ in 0..3 {
        let response = reqwest::Client::new()
            .get(format!("{}/_sim/stats", sim.base_url))
            .bearer_auth(ghl::DEFAULT_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("x-ratelimit-remaining"));
    }
    assert_eq!(limits(&sim).await["locations"][LOCATION]["daily_used"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn options_set_initial_limits() {
    let options = GhlSimOptions {
        rate_limit: RateLimitSettings {
            max: 3,
            window: Duration::from_millis(2_000),
            daily_limit: 50,
        },
        ..GhlSimOptions::default()
    };
    let sim = ghl::start("127.0.0.1:0".parse().unwrap(), &DATASET, options)
        .await
        .unwrap();
    let reply = get_contact(&sim, ghl::DEFAULT_TOKEN).await;
    let headers: HashMap<&str, Option<u64>> = [
        "x-ratelimit-max",
        "x-ratelimit-interval-milliseconds",
        "x-ratelimit-limit-daily",
        "x-ratelimit-remaining",
        "x-ratelimit-daily-remaining",
    ]
    .into_iter()
    .map(|name| (name, reply.header(name)))
    .collect();
    assert_eq!(headers["x-ratelimit-max"], Some(3));
    assert_eq!(headers["x-ratelimit-interval-milliseconds"], Some(2_000));
    assert_eq!(headers["x-ratelimit-limit-daily"], Some(50));
    assert_eq!(headers["x-ratelimit-remaining"], Some(2));
    assert_eq!(headers["x-ratelimit-daily-remaining"], Some(49));
    sim.shutdown().await;

    let invalid = GhlSimOptions {
        rate_limit: RateLimitSettings {
            max: 0,
            ..RateLimitSettings::default()
        },
        ..GhlSimOptions::default()
    };
    let error = ghl::start("127.0.0.1:0".parse().unwrap(), &DATASET, invalid)
        .await
        .err()
        .expect("max 0 is rejected");
    assert!(error.to_string().contains("max 0"), "{error}");
}
