//! Per-location limits on GHL calls: how many run at once and how many start per window.
//!
//! GHL allows 100 requests per 10 seconds per app and location. Every GHL call of a
//! location, from any request or background task, takes a permit here before it is sent,
//! so a burst waits instead of drawing 429s.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Limits of one GHL location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GhlLimitsConfig {
    /// Requests allowed per window. Default 100, GHL's published burst limit.
    pub requests: u32,
    /// Length of the window, in milliseconds. Default 10000.
    pub window_ms: u64,
    /// Calls in flight at once. Default 100.
    pub max_concurrency: u32,
}

impl Default for GhlLimitsConfig {
    fn default() -> Self {
        GhlLimitsConfig {
            requests: 100,
            window_ms: 10_000,
            max_concurrency: 100,
        }
    }
}

impl GhlLimitsConfig {
    /// Checks the values, naming the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.requests == 0 || self.window_ms == 0 || self.max_concurrency == 0 {
            return Err(format!(
                "upstream.ghl_limits has requests = {}, window_ms = {}, max_concurrency = {}: each must be at least 1",
                self.requests, self.window_ms, self.max_concurrency
            ));
        }
        Ok(())
    }
}

/// The limiter and the concurrency bound of one location.
pub struct CallLimits {
    rate: DefaultDirectRateLimiter,
    in_flight: Semaphore,
}

impl std::fmt::Debug for CallLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLimits")
            .field("available", &self.in_flight.available_permits())
            .finish_non_exhaustive()
    }
}

impl CallLimits {
    /// Builds limits that allow `requests` per `window`, all of them at once as a burst,
    /// with at most `max_concurrency` in flight.
    pub fn new(config: GhlLimitsConfig) -> CallLimits {
        let requests = NonZeroU32::new(config.requests).unwrap_or(NonZeroU32::MIN);
        let window = Duration::from_millis(config.window_ms.max(1));
        let replenish = window / requests.get();
        let quota = Quota::with_period(replenish.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(requests))
            .allow_burst(requests);
        CallLimits {
            rate: RateLimiter::direct(quota),
            in_flight: Semaphore::new(config.max_concurrency.max(1) as usize),
        }
    }

    /// Waits for a free slot and for the rate limiter; the permit ends the call's slot.
    pub async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        let permit = self.in_flight.acquire().await.ok();
        self.rate.until_ready().await;
        permit
    }
}

/// The limits of every GHL location one gateway calls, shared by its tenants.
#[derive(Debug, Default)]
pub struct LimitsRegistry {
    by_location: Mutex<HashMap<String, Arc<CallLimits>>>,
}

impl LimitsRegistry {
    /// The limits of `location_id`, created on first use.
    pub fn for_location(&self, location_id: &str, config: GhlLimitsConfig) -> Arc<CallLimits> {
        let mut by_location = self
            .by_location
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_location
            .entry(location_id.to_string())
            .or_insert_with(|| Arc::new(CallLimits::new(config)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn burst_then_waits_for_the_window() {
        let limits = CallLimits::new(GhlLimitsConfig {
            requests: 5,
            window_ms: 500,
            max_concurrency: 10,
        });
        let started = Instant::now();
        for _ in 0..5 {
            limits.acquire().await;
        }
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "the burst passes at once"
        );
        limits.acquire().await;
        assert!(
            started.elapsed() >= Duration::from_millis(90),
            "the sixth call waits for one slot to refill (100 ms)"
        );
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
    fn zero_values_are_rejected() {
        let config = GhlLimitsConfig {
            requests: 0,
            ..GhlLimitsConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("upstream.ghl_limits")
        );
    }
}
