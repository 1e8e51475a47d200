//! Request quota per location: a burst limit over a sliding window and a daily limit.
//! GHL publishes 100 requests per 10 s and 200000 per day for each app and location.
//! The `/_sim/ratelimit` admin routes change and report the limits.
//!
//! A request past either limit is rejected with 429 and is not served. Rejected requests
//! count toward neither limit, so a client that keeps retrying is served again as soon
//! as the oldest accepted request leaves the window.
// NOTE: whether live GHL counts its own 429 responses toward the quota is not documented.
//
// Admin routes, neither counted nor faulted:
// - `GET /_sim/ratelimit` returns `{"max", "window_ms", "daily_limit", "locations":
//   {"<location id>": {"in_window", "daily_used", "rejected", "peak_in_window"}}}`.
// - `PUT /_sim/ratelimit` takes any subset of `{"max", "window_ms", "daily_limit",
//   "daily_used"}` (204). `daily_used` sets the count of every listed location.
// - `DELETE /_sim/ratelimit` sets every location's counters back to zero (204).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};

use super::{GhlState, RATE_LIMIT_DAILY, RATE_LIMIT_MAX, RATE_WINDOW, oauth::admin_bad_request};

/// The limits applied to every location of one simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Requests accepted per location within one `window`. Default [`RATE_LIMIT_MAX`].
    pub max: u64,
    /// Length of the sliding window. Default [`RATE_WINDOW`].
    pub window: Duration,
    /// Requests accepted per location per UTC day. Default [`RATE_LIMIT_DAILY`].
    pub daily_limit: u64,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            max: RATE_LIMIT_MAX,
            window: RATE_WINDOW,
            daily_limit: RATE_LIMIT_DAILY,
        }
    }
}

impl RateLimitSettings {
    /// Checks that every limit admits at least one request and that the window is at
    /// least 1 ms long.
    pub fn validate(&self) -> Result<(), String> {
        if self.max == 0 {
            return Err(
                "invalid GHL simulator rate limit: max 0 rejects every request; use 1 or more"
                    .to_string(),
            );
        }
        if self.window < Duration::from_millis(1) {
            return Err(format!(
                "invalid GHL simulator rate limit: window {:?} is shorter than 1 ms; use 1 ms or more",
                self.window
            ));
        }
        if self.daily_limit == 0 {
            return Err("invalid GHL simulator rate limit: daily_limit 0 rejects every request; use 1 or more".to_string());
        }
        Ok(())
    }
}

/// The outcome of counting one request, used for the 429 decision and the headers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Admission {
    pub admitted: bool,
    pub settings: RateLimitSettings,
    /// Requests left in the current window.
    pub remaining: u64,
    /// Requests left today.
    pub daily_remaining: u64,
}

impl Admission {
    /// Adds GHL's five `X-RateLimit-*` headers.
    pub fn add_headers(&self, headers: &mut HeaderMap) {
        let window_ms = u64::try_from(self.settings.window.as_millis()).unwrap_or(u64::MAX);
        let values = [
            ("x-ratelimit-limit-daily", self.settings.daily_limit),
            ("x-ratelimit-daily-remaining", self.daily_remaining),
            ("x-ratelimit-interval-milliseconds", window_ms),
            ("x-ratelimit-max", self.settings.max),
            ("x-ratelimit-remaining", self.remaining),
        ];
        for (name, value) in values {
            headers.insert(name, HeaderValue::from(value));
        }
    }
}

#[derive(Default)]
struct LocationUsage {
    /// Arrival times of the accepted requests inside the window, oldest first.
    accepted: VecDeque<Instant>,
    day: Option<NaiveDate>,
    daily_used: u64,
    rejected: u64,
    /// Largest number of accepted requests seen inside one window.
    peak_in_window: u64,
}

impl LocationUsage {
    /// Drops arrivals that left the window and resets the daily count on a new UTC day.
    fn roll(&mut self, now: Instant, today: NaiveDate, window: Duration) {
        while self
            .accepted
            .front()
            .is_some_and(|seen| now.duration_since(*seen) >= window)
        {
            self.accepted.pop_front();
        }
        if self.day != Some(today) {
            self.day = Some(today);
            self.daily_used = 0;
        }
    }

    fn in_window(&self) -> u64 {
        self.accepted.len() as u64
    }
}

struct Quota {
    settings: RateLimitSettings,
    locations: BTreeMap<String, LocationUsage>,
}

/// Usage of every location of one simulator.
pub(super) struct RateLimiter {
    quota: Mutex<Quota>,
}

impl RateLimiter {
    /// Creates a limiter that lists `known_locations` in its report before their first
    /// request.
    pub fn new<'a>(
        settings: RateLimitSettings,
        known_locations: impl IntoIterator<Item = &'a str>,
    ) -> RateLimiter {
        let locations = known_locations
            .into_iter()
            .map(|location| (location.to_string(), LocationUsage::default()))
            .collect();
        RateLimiter {
            quota: Mutex::new(Quota {
                settings,
                locations,
            }),
        }
    }

    /// Locks the quota. Every critical section only updates counters, so a poisoned lock
    /// is taken over.
    fn quota(&self) -> MutexGuard<'_, Quota> {
        self.quota.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request of `location` unless it is over a limit.
    pub fn admit(&self, location: &str) -> Admission {
        let now = Instant::now();
        let today = Utc::now().date_naive();
        let mut quota = self.quota();
        let settings = quota.settings;
        let usage = quota.locations.entry(location.to_string()).or_default();
        usage.roll(now, today, settings.window);

        if usage.in_window() >= settings.max || usage.daily_used >= settings.daily_limit {
            usage.rejected += 1;
            tracing::debug!(
                location,
                in_window = usage.in_window(),
                daily_used = usage.daily_used,
                "GHL simulator rejected a request over the rate limit"
            );
            return Admission {
                admitted: false,
                settings,
                remaining: 0,
                daily_remaining: settings.daily_limit.saturating_sub(usage.daily_used),
            };
        }

        usage.accepted.push_back(now);
        usage.daily_used += 1;
        usage.peak_in_window = usage.peak_in_window.max(usage.in_window());
        Admission {
            admitted: true,
            settings,
            remaining: settings.max.saturating_sub(usage.in_window()),
            daily_remaining: settings.daily_limit.saturating_sub(usage.daily_used),
        }
    }

    /// Returns the full quota for a request that belongs to no location.
    pub fn unmetered(&self) -> Admission {
        let settings = self.quota().settings;
        Admission {
            admitted: true,
            settings,
            remaining: settings.max,
            daily_remaining: settings.daily_limit,
        }
    }

    fn report(&self) -> Value {
        let now = Instant::now();
        let today = Utc::now().date_naive();
        let mut quota = self.quota();
        let settings = quota.settings;
        let mut locations = serde_json::Map::new();
        for (location, usage) in quota.locations.iter_mut() {
            usage.roll(now, today, settings.window);
            locations.insert(
                location.clone(),
                json!({
                    "in_window": usage.in_window(),
                    "daily_used": usage.daily_used,
                    "rejected": usage.rejected,
                    "peak_in_window": usage.peak_in_window,
                }),
            );
        }
        json!({
            "max": settings.max,
            "window_ms": u64::try_from(settings.window.as_millis()).unwrap_or(u64::MAX),
            "daily_limit": settings.daily_limit,
            "locations": locations,
        })
    }

    fn update(&self, change: &SettingsChange) -> Result<(), String> {
        let mut quota = self.quota();
        let mut settings = quota.settings;
        if let Some(max) = change.max {
            settings.max = max;
        }
        if let Some(window_ms) = change.window_ms {
            settings.window = Duration::from_millis(window_ms);
        }
        if let Some(daily_limit) = change.daily_limit {
            settings.daily_limit = daily_limit;
        }
        settings.validate()?;
        quota.settings = settings;

        if let Some(daily_used) = change.daily_used {
            let today = Utc::now().date_naive();
            for usage in quota.locations.values_mut() {
                usage.day = Some(today);
                usage.daily_used = daily_used;
            }
        }
        Ok(())
    }

    fn reset(&self) {
        for usage in self.quota().locations.values_mut() {
            *usage = LocationUsage::default();
        }
    }
}

/// Body of `PUT /_sim/ratelimit`, in which every field is optional.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsChange {
    max: Option<u64>,
    window_ms: Option<u64>,
    daily_limit: Option<u64>,
    daily_used: Option<u64>,
}

/// Builds the `/_sim/ratelimit` admin routes.
pub(super) fn admin_routes(state: Arc<GhlState>) -> Router {
    Router::new()
        .route(
            "/_sim/ratelimit",
            get(get_rate_limits)
                .put(put_rate_limits)
                .delete(delete_rate_limits),
        )
        .with_state(state)
}

async fn get_rate_limits(State(state): State<Arc<GhlState>>) -> Json<Value> {
    Json(state.rate_limits.report())
}

async fn put_rate_limits(State(state): State<Arc<GhlState>>, body: Bytes) -> Response {
    let result = serde_json::from_slice::<SettingsChange>(&body)
        .map_err(|error| {
            format!(
                "invalid body for /_sim/ratelimit: {error}; send any of \
                 {{\"max\": N, \"window_ms\": N, \"daily_limit\": N, \"daily_used\": N}}"
            )
        })
        .and_then(|change| state.rate_limits.update(&change));
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => admin_bad_request(message),
    }
}

async fn delete_rate_limits(State(state): State<Arc<GhlState>>) -> StatusCode {
    state.rate_limits.reset();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: u64, window_ms: u64, daily_limit: u64) -> RateLimiter {
        let settings = RateLimitSettings {
            max,
            window: Duration::from_millis(window_ms),
            daily_limit,
        };
        RateLimiter::new(settings, ["known"])
    }

    #[test]
    fn admit_rejects_past_max_in_window() {
        let limiter = limiter(3, 60_000, 100);
        let remaining: Vec<u64> = (0..3).map(|_| limiter.admit("a").remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let rejected = limiter.admit("a");
        assert!(!rejected.admitted);
        assert_eq!(rejected.remaining, 0);
        assert_eq!(rejected.daily_remaining, 97);

        // Another location has its own window.
        assert!(limiter.admit("b").admitted);

        let report = limiter.report();
        assert_eq!(report["locations"]["a"]["in_window"], 3);
        assert_eq!(report["locations"]["a"]["rejected"], 1);
        assert_eq!(report["locations"]["a"]["daily_used"], 3);
        assert_eq!(report["locations"]["a"]["peak_in_window"], 3);
        assert_eq!(report["locations"]["known"]["daily_used"], 0);
    }

    #[test]
    fn admit_recovers_after_window() {
        let limiter = limiter(2, 50, 100);
        assert!(limiter.admit("a").admitted);
        assert!(limiter.admit("a").admitted);
        assert!(!limiter.admit("a").admitted);
        std::thread::sleep(Duration::from_millis(60));
        let admission = limiter.admit("a");
        assert!(admission.admitted);
        assert_eq!(admission.remaining, 1);
        assert_eq!(limiter.report()["locations"]["a"]["peak_in_window"], 2);
    }

    #[test]
    fn admit_rejects_past_daily_limit() {
        let limiter = limiter(100, 60_000, 2);
        assert!(limiter.admit("a").admitted);
        let last = limiter.admit("a");
        assert!(last.admitted);
        assert_eq!(last.daily_remaining, 0);
        let rejected = limiter.admit("a");
        assert!(!rejected.admitted);
        assert_eq!(rejected.daily_remaining, 0);
    }

    #[test]
    fn update_checks_values_and_sets_daily_used() {
        let limiter = limiter(10, 1_000, 100);
        let change = |json: Value| serde_json::from_value::<SettingsChange>(json).unwrap();
        assert!(limiter.update(&change(json!({ "max": 0 }))).is_err());
        assert!(limiter.update(&change(json!({ "window_ms": 0 }))).is_err());
        assert!(
            limiter
                .update(&change(json!({ "daily_limit": 0 })))
                .is_err()
        );
        assert_eq!(limiter.report()["max"], 10);

        limiter
            .update(&change(json!({ "daily_limit": 50, "daily_used": 50 })))
            .unwrap();
        assert_eq!(limiter.report()["locations"]["known"]["daily_used"], 50);
        assert!(!limiter.admit("known").admitted);

        limiter.reset();
        assert!(limiter.admit("known").admitted);
    }
}
