//! The limits of one location, alone and in front of a GHL client talking to a stub on
//! 127.0.0.1.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;

use super::*;
use crate::upstream::{
    HttpSettings,
    ghl::GhlClient,
    resilience::RetryConfig,
    test_support::{Reply, Stub},
};

const LOCATION: &str = "SimLocation000000001";

fn config(requests: u32, window_ms: u64) -> GhlLimitsConfig {
    GhlLimitsConfig {
        requests,
        window_ms,
        margin_ms: 0,
        ..GhlLimitsConfig::default()
    }
}

/// Builds a client whose calls pass `limits`, with fast retries.
fn client(stub: &Stub, limits: &Arc<CallLimits>) -> GhlClient {
    let settings = HttpSettings {
        limits: Some(limits.clone()),
        retry: RetryConfig {
            max_attempts: 3,
            budget_ms: 2_000,
            base_ms: 10,
            max_backoff_ms: 40,
        },
        ..HttpSettings::default()
    };
    GhlClient::new(
        stub.base.clone(),
        LOCATION.to_string(),
        SecretString::from("pit-test-token-0123456789"),
        &settings,
    )
    .expect("client builds")
}

fn notes(daily_remaining: &str) -> Reply {
    Reply::json(200, json!({ "notes": [] }))
        .header("x-ratelimit-daily-remaining", daily_remaining)
        .header("x-ratelimit-remaining", "99")
}

#[test]
fn one_location_shares_its_limits() {
    let registry = LimitsRegistry::default();
    let config = GhlLimitsConfig::default();
    let first = registry.for_location("loc", config);
    let second = registry.for_location("loc", config);
    let other = registry.for_location("other", config);
    assert!(Arc::ptr_eq(&first, &second));
    assert!(!Arc::ptr_eq(&first, &other));
}

#[test]
fn invalid_values_name_their_key() {
    let cases = [
        (
            GhlLimitsConfig {
                requests: 0,
                ..GhlLimitsConfig::default()
            },
            "upstream.ghl_limits.requests is 0",
        ),
        (
            GhlLimitsConfig {
                window_ms: 0,
                margin_ms: 0,
                ..GhlLimitsConfig::default()
            },
            "upstream.ghl_limits.window_ms is 0",
        ),
        (
            GhlLimitsConfig {
                max_concurrency: 0,
                ..GhlLimitsConfig::default()
            },
            "upstream.ghl_limits.max_concurrency is 0",
        ),
        (
            GhlLimitsConfig {
                margin_ms: 20_000,
                ..GhlLimitsConfig::default()
            },
            "upstream.ghl_limits.margin_ms (20000)",
        ),
        (
            GhlLimitsConfig {
                daily_reserve: 200_000,
                ..GhlLimitsConfig::default()
            },
            "upstream.ghl_limits.daily_reserve (200000)",
        ),
    ];
    for (config, expected) in cases {
        let error = config.validate().unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
    assert_eq!(GhlLimitsConfig::default().validate(), Ok(()));
}

#[tokio::test]
async fn concurrency_bound_holds_with_a_free_window() {
    let limits = CallLimits::new(
        LOCATION,
        GhlLimitsConfig {
            max_concurrency: 2,
            ..config(100, 10_000)
        },
        None,
    );
    let first = limits.acquire().await.unwrap();
    let _second = limits.acquire().await.unwrap();
    let third = tokio::time::timeout(Duration::from_millis(50), limits.acquire()).await;
    assert!(third.is_err(), "a third call waits while two are in flight");
    drop(first);
    let third = tokio::time::timeout(Duration::from_millis(50), limits.acquire()).await;
    assert!(third.is_ok(), "a finished call frees its slot");
}

#[tokio::test]
async fn waits_are_counted() {
    let metrics = Metrics::new();
    let limits = CallLimits::new(LOCATION, config(1, 100), Some(metrics.clone()));
    drop(limits.acquire().await.unwrap());
    drop(limits.acquire().await.unwrap());
    assert_eq!(
        metrics.sum(GHL_LIMITER_WAITS, &[("location", LOCATION)]),
        1,
        "only the second call waited"
    );
}

#[tokio::test]
async fn reserve_pauses_calls_until_reset() {
    let stub = Stub::start(|_| notes("900").header("x-ratelimit-daily-reset", "400")).await;
    let metrics = Metrics::new();
    let limits = Arc::new(CallLimits::new(
        LOCATION,
        config(100, 10_000),
        Some(metrics.clone()),
    ));
    let client = client(&stub, &limits);

    client
        .list_notes("c1")
        .await
        .expect("the call that reports 900 left is answered");
    assert_eq!(limits.daily_status().remaining, Some(900));
    assert!(limits.daily_status().paused_until.is_some());

    let error = client.list_notes("c1").await.unwrap_err();
    assert!(
        matches!(
            error,
            UpstreamError::RateLimited {
                system: System::Ghl,
                scope: RateLimitScope::Daily,
                retry_after: Some(wait),
                sent: false,
            } if wait <= Duration::from_millis(400)
        ),
        "{error:?}"
    );
    assert_eq!(stub.requests().len(), 1, "the paused call was not sent");
    assert_eq!(metrics.sum(GHL_DAILY_LIMITED, &[("location", LOCATION)]), 1);

    tokio::time::sleep(Duration::from_millis(450)).await;
    client
        .list_notes("c1")
        .await
        .expect("calls resume after the reset");
    assert_eq!(stub.requests().len(), 2);
}

#[tokio::test]
async fn daily_429_not_retried() {
    let stub = Stub::start(|_| {
        Reply::json(429, json!({ "message": "Too Many Requests" }))
            .header("x-ratelimit-daily-remaining", "0")
            .header("x-ratelimit-remaining", "80")
    })
    .await;
    let limits = Arc::new(CallLimits::new(LOCATION, config(100, 10_000), None));
    let client = client(&stub, &limits);

    let error = client.list_notes("c1").await.unwrap_err();
    assert!(
        matches!(
            error,
            UpstreamError::RateLimited {
                scope: RateLimitScope::Daily,
                retry_after: Some(_),
                sent: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(stub.requests().len(), 1, "the daily limit is not retried");

    let error = client.list_notes("c1").await.unwrap_err();
    assert!(
        matches!(error, UpstreamError::RateLimited { sent: false, .. }),
        "{error:?}"
    );
    assert_eq!(stub.requests().len(), 1, "later calls are paused");
}

#[tokio::test]
async fn burst_429_retried_then_fails() {
    let stub = Stub::start(|_| {
        Reply::json(429, json!({ "message": "Too Many Requests" }))
            .header("x-ratelimit-daily-remaining", "150000")
            .header("x-ratelimit-remaining", "50")
    })
    .await;
    let limits = Arc::new(CallLimits::new(LOCATION, config(100, 10_000), None));
    let client = client(&stub, &limits);

    let error = client.list_notes("c1").await.unwrap_err();
    assert!(
        matches!(
            error,
            UpstreamError::RateLimited {
                scope: RateLimitScope::Burst,
                retry_after: None,
                sent: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(stub.requests().len(), 3, "every attempt of the budget");
    assert_eq!(limits.daily_status().paused_until, None);
}

#[tokio::test]
async fn reported_remaining_slows_the_next_call() {
    let stub = Stub::start(|_| notes("150000").header("x-ratelimit-remaining", "0")).await;
    let limits = Arc::new(CallLimits::new(LOCATION, config(10, 300), None));
    let client = client(&stub, &limits);

    client.list_notes("c1").await.unwrap();
    let began = Instant::now();
    client.list_notes("c1").await.unwrap();
    assert!(
        began.elapsed() >= Duration::from_millis(250),
        "the second call waited for the window that GHL reported full: {:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn stricter_reported_max_is_used() {
    let stub = Stub::start(|_| {
        notes("150000")
            .header("x-ratelimit-max", "2")
            .header("x-ratelimit-interval-milliseconds", "300")
    })
    .await;
    let limits = Arc::new(CallLimits::new(LOCATION, config(100, 100), None));
    let client = client(&stub, &limits);

    let began = Instant::now();
    for _ in 0..3 {
        client.list_notes("c1").await.unwrap();
    }
    assert!(
        began.elapsed() >= Duration::from_millis(250),
        "the third call waited for GHL's 2 per 300 ms: {:?}",
        began.elapsed()
    );
}
