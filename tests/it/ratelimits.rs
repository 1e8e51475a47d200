//! GHL rate limits: the per-location window, the daily quota and 429s, measured where GHL
//! counts requests, at a proxy in front of the GHL simulator.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use casebook_ghl_gateway::{
    demo::DEMO_TENANT,
    metrics::{GHL_DAILY_LIMITED, GHL_LIMITER_WAITS},
    sim::seed::{Dataset, Presence},
    writes::state::JobStatus,
};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::{
    API_KEY, TestApp, error_codes, errors, fast_retries, ghl_with_email, peak_in_window,
};

const GHL_CONTACT: &str = "query ($id: ID!) { contactByGhlId(id: $id) { ghl { firstName } } }";

/// Ids of every seeded GHL contact.
fn ghl_ids(app: &TestApp) -> Vec<String> {
    app.dataset
        .people
        .iter()
        .filter_map(|person| person.ghl.as_ref().map(|ghl| ghl.id.clone()))
        .collect()
}

/// Reads one GHL contact through the gateway, bypassing the cache.
async fn read_uncached(app: &TestApp, id: &str) -> Value {
    app.http
        .post(app.graphql_url())
        .bearer_auth(API_KEY)
        .header("cache-control", "no-cache")
        .json(&json!({ "query": GHL_CONTACT, "variables": { "id": id } }))
        .send()
        .await
        .expect("gateway answers")
        .json()
        .await
        .expect("GraphQL response is JSON")
}

/// Instants at which GHL received requests, from the proxy.
fn ghl_arrivals(app: &TestApp) -> Vec<Instant> {
    let proxy = app
        .ghl_proxy
        .as_ref()
        .expect("the test runs behind a proxy");
    proxy
        .arrivals()
        .into_iter()
        .map(|arrival| arrival.at)
        .collect()
}

fn ghl_requests(app: &TestApp) -> usize {
    ghl_arrivals(app).len()
}

/// Milliseconds since the Unix epoch at `delay` from now.
fn unix_millis_in(delay: Duration) -> u64 {
    (SystemTime::now() + delay)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn burst_of_300_reads_within_limit() {
    let app = TestApp::start_behind_proxy(Dataset::default(), |_| {}).await;
    let ids = ghl_ids(&app);
    let started = Instant::now();

    let reads = (0..300).map(|index| read_uncached(&app, &ids[index % ids.len()]));
    let bodies = join_all(reads).await;
    let elapsed = started.elapsed();

    for body in &bodies {
        assert!(errors(body).is_empty(), "unexpected errors: {body:#}");
    }
    let reads = app
        .ghl_proxy
        .as_ref()
        .unwrap()
        .arrivals()
        .into_iter()
        .filter(|arrival| {
            arrival
                .request
                .strip_prefix("GET /contacts/")
                .is_some_and(|id| ids.iter().any(|known| known == id))
        })
        .count();
    assert_eq!(reads, 300, "every read reached GHL");
    let arrivals = ghl_arrivals(&app);
    assert_eq!(
        peak_in_window(&arrivals, Duration::from_secs(10)),
        100,
        "GHL received at most 100 requests in any 10 s, and the limiter used all of them"
    );
    assert!(
        elapsed >= Duration::from_secs(20),
        "300 reads need three windows: {elapsed:?}"
    );
    let waits = app.gateway.gateway.metrics().sum(GHL_LIMITER_WAITS, &[]);
    assert!(
        waits >= 200,
        "the reads after the first 100 waited: {waits}"
    );
}

#[tokio::test]
async fn small_window_bounds_every_span() {
    let app = TestApp::start_behind_proxy(Dataset::default(), |config| {
        config.upstream.ghl_limits.requests = 5;
        config.upstream.ghl_limits.window_ms = 1_000;
        config.upstream.ghl_limits.margin_ms = 50;
    })
    .await;
    let ids = ghl_ids(&app);
    let before = ghl_requests(&app);

    let bodies = join_all((0..20).map(|index| read_uncached(&app, &ids[index]))).await;

    for body in &bodies {
        assert!(errors(body).is_empty(), "unexpected errors: {body:#}");
    }
    let arrivals = ghl_arrivals(&app);
    assert_eq!(arrivals.len() - before, 20);
    assert_eq!(peak_in_window(&arrivals, Duration::from_millis(1_000)), 5);
}

#[tokio::test]
async fn reported_remaining_slows_reads() {
    let app = TestApp::start_behind_proxy(Dataset::default(), |config| {
        config.upstream.ghl_limits.requests = 50;
        config.upstream.ghl_limits.window_ms = 1_000;
        config.upstream.ghl_limits.margin_ms = 0;
    })
    .await;
    let ids = ghl_ids(&app);
    let proxy = app.ghl_proxy.as_ref().unwrap();
    // GHL reports the configured limit, and that other clients of the location have used
    // the window up.
    proxy.override_header("x-ratelimit-max", "50");
    proxy.override_header("x-ratelimit-interval-milliseconds", "1000");
    proxy.override_header("x-ratelimit-remaining", "0");
    tokio::time::sleep(Duration::from_millis(1_000)).await;

    let first = read_uncached(&app, &ids[0]).await;
    assert!(errors(&first).is_empty(), "{first:#}");
    proxy.override_header("x-ratelimit-remaining", "49");
    let started = Instant::now();
    let second = read_uncached(&app, &ids[1]).await;

    assert!(errors(&second).is_empty(), "{second:#}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the next read waited for the window GHL reported full: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn daily_reserve_pauses_ghl_calls() {
    let app = TestApp::start_behind_proxy(Dataset::default(), fast_retries).await;
    let proxy = app.ghl_proxy.as_ref().unwrap();
    let ghl_only: Vec<String> = app
        .dataset
        .people
        .iter()
        .filter(|person| person.presence == Presence::GhlOnly)
        .filter_map(|person| person.ghl.as_ref().map(|ghl| ghl.id.clone()))
        .take(3)
        .collect();
    let (cached, last_sent, held) = (&ghl_only[0], &ghl_only[1], &ghl_only[2]);
    let cached_read = app.data(GHL_CONTACT, json!({ "id": cached })).await;

    // GHL reports 500 requests left today, below the default reserve of 1000.
    let reset_in = Duration::from_secs(4);
    let reset_at = Instant::now() + reset_in;
    proxy.override_header("x-ratelimit-daily-remaining", "500");
    proxy.override_header(
        "x-ratelimit-daily-reset",
        &unix_millis_in(reset_in).to_string(),
    );
    app.data(GHL_CONTACT, json!({ "id": last_sent })).await;
    let sent = ghl_requests(&app);

    let body = app.query(GHL_CONTACT, json!({ "id": held })).await;
    assert_eq!(
        error_codes(&body),
        vec!["UPSTREAM_RATE_LIMITED"],
        "{body:#}"
    );
    let error = &errors(&body)[0];
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("GHL rate limit reached"), "{message}");
    assert_eq!(error["extensions"]["system"], "GHL");
    assert_eq!(error["extensions"]["rateLimit"], "DAILY");
    let retry_after = error["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((1..=4).contains(&retry_after), "{retry_after}");
    assert!(
        error["extensions"].get("upstreamStatus").is_none(),
        "nothing was sent: {error:#}"
    );

    let again = app.data(GHL_CONTACT, json!({ "id": cached })).await;
    assert_eq!(again, cached_read, "a cached contact is still served");

    let created = app
        .data(
            "mutation { createContact(input: { firstName: \"Held\", lastName: \"Back\", email: \"held.back@example.org\" }) { casebook ghl syncIds } }",
            json!({}),
        )
        .await;
    assert_eq!(
        created["createContact"]["casebook"], "SYNCED",
        "{created:#}"
    );
    assert_eq!(created["createContact"]["ghl"], "PENDING", "{created:#}");
    assert_eq!(ghl_requests(&app), sent, "no GHL call while paused");
    let job_id = created["createContact"]["syncIds"][0].as_str().unwrap();
    let job = app
        .gateway
        .gateway
        .writes()
        .outbox()
        .get(DEMO_TENANT, job_id)
        .await
        .unwrap()
        .expect("the GHL write is in the outbox");
    assert_eq!(job.status, JobStatus::Pending);
    let due_in = (job.next_attempt_at.unwrap() - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    assert!(
        due_in >= Duration::from_secs(2),
        "the retry waits for the daily reset, not the 50 ms backoff: {due_in:?}"
    );
    let held_back = app.gateway.gateway.metrics().sum(GHL_DAILY_LIMITED, &[]);
    assert!(held_back >= 2, "{held_back}");

    // After the reset GHL reports the full quota again, and the outbox finishes the write.
    proxy.clear_overrides();
    let mut written = false;
    for _ in 0..150 {
        if !ghl_with_email(&app, "held.back@example.org")
            .await
            .is_empty()
        {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(written, "the outbox wrote the contact after the reset");
    let first_write = proxy
        .arrivals()
        .into_iter()
        .nth(sent)
        .expect("a GHL request after the reset");
    assert!(
        first_write.at >= reset_at - Duration::from_millis(50),
        "no GHL request before the reset: {first_write:?}"
    );
}

#[tokio::test]
async fn daily_429_pauses_later_reads() {
    let app = TestApp::start_behind_proxy(Dataset::default(), |_| {}).await;
    let proxy = app.ghl_proxy.as_ref().unwrap();
    let ids = ghl_ids(&app);
    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": format!("/contacts/{}", ids[0]), "status": 429, "times": 1 }),
    )
    .await;
    proxy.override_header("x-ratelimit-daily-remaining", "0");

    let body = app.query(GHL_CONTACT, json!({ "id": ids[0] })).await;
    assert_eq!(
        error_codes(&body),
        vec!["UPSTREAM_RATE_LIMITED"],
        "{body:#}"
    );
    let error = &errors(&body)[0];
    assert_eq!(error["extensions"]["rateLimit"], "DAILY");
    assert_eq!(error["extensions"]["upstreamStatus"], 429);
    assert!(
        error["extensions"]["retryAfter"].as_u64().unwrap() >= 1,
        "until the next UTC midnight: {error:#}"
    );
    let sent = ghl_requests(&app);

    let body = app.query(GHL_CONTACT, json!({ "id": ids[1] })).await;
    assert_eq!(
        error_codes(&body),
        vec!["UPSTREAM_RATE_LIMITED"],
        "{body:#}"
    );
    assert_eq!(ghl_requests(&app), sent, "the second read was not sent");
}

#[tokio::test]
async fn burst_429_retried_then_reported() {
    let app = TestApp::start_with(Dataset::default(), |config| {
        config.upstream.retry.base_ms = 50;
    })
    .await;
    let ghl = app.ghl_only().ghl.as_ref().unwrap().clone();
    app.fault(
        &app.ghl,
        json!({ "method": "GET", "path": format!("/contacts/{}", ghl.id), "status": 429 }),
    )
    .await;
    app.reset_stats();

    let started = Instant::now();
    let body = app.query(GHL_CONTACT, json!({ "id": ghl.id })).await;

    assert_eq!(
        error_codes(&body),
        vec!["UPSTREAM_RATE_LIMITED"],
        "{body:#}"
    );
    let error = &errors(&body)[0];
    assert_eq!(
        error["message"], "GHL rate limit reached; retry later",
        "{error:#}"
    );
    assert_eq!(error["extensions"]["rateLimit"], "BURST");
    assert_eq!(error["extensions"]["upstreamStatus"], 429);
    assert!(error["extensions"].get("retryAfter").is_none(), "{error:#}");
    assert_eq!(body["data"]["contactByGhlId"], Value::Null);
    assert_eq!(
        app.calls(&app.ghl, "GET /contacts/{contactId}"),
        3,
        "the default three attempts"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "within the retry budget: {:?}",
        started.elapsed()
    );
}
