//! Per-location limits on GHL calls: how many start per window, how many run at once, and
//! whether the location's daily quota still allows calls.
//!
//! GHL allows 100 requests per 10 seconds and 200 000 per day, per app and location, and
//! reports what is left in `X-RateLimit-*` headers on every response. Every GHL call of a
//! location, from any request or background task, takes a permit here before it is sent,
//! so a burst waits instead of drawing 429s. The headers of each response are fed back,
//! because other apps and gateway replicas share the location's quota.

mod daily;
mod headers;
mod window;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use serde::Deserialize;
use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::{debug, info, warn};

pub use daily::DailyStatus;
pub use headers::RateLimitHeaders;

use self::{daily::DailyQuota, window::SlidingWindow};
use super::{RateLimitScope, System, UpstreamError};
use crate::metrics::{GHL_DAILY_LIMITED, GHL_LIMITER_WAITS, Metrics};

/// GHL's daily limit per app and location, which `daily_reserve` must stay below.
const GHL_DAILY_LIMIT: u64 = 200_000;

/// Limits of one GHL location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GhlLimitsConfig {
    /// Whether GHL calls pass these limits at all. Default true. False sends every call at
    /// once and ignores GHL's rate-limit headers, which suits only simulators and
    /// benchmarks, because real GHL then returns 429 for a burst.
    pub enabled: bool,
    /// Requests allowed per window. Default 100, GHL's burst limit.
    pub requests: u32,
    /// Length of the window, in milliseconds. Default 10000.
    pub window_ms: u64,
    /// Milliseconds added to the window, because GHL counts a request when it arrives
    /// and the gateway when it starts, and the delay between the two varies. Default 250.
    pub margin_ms: u64,
    /// Calls in flight at once. Default 100.
    pub max_concurrency: u32,
    /// Daily requests kept unused: once GHL reports this many or fewer left for the day,
    /// GHL calls of the location stop until the daily reset. Default 1000.
    pub daily_reserve: u64,
}

impl Default for GhlLimitsConfig {
    fn default() -> Self {
        GhlLimitsConfig {
            enabled: true,
            requests: 100,
            window_ms: 10_000,
            margin_ms: 250,
            max_concurrency: 100,
            daily_reserve: 1_000,
        }
    }
}

impl GhlLimitsConfig {
    /// Checks the values, naming the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("requests", u64::from(self.requests)),
            ("window_ms", self.window_ms),
            ("max_concurrency", u64::from(self.max_concurrency)),
        ] {
            if value == 0 {
                return Err(format!(
                    "upstream.ghl_limits.{key} is 0: use at least 1 (the defaults are 100 requests per 10000 ms, 100 in flight)"
                ));
            }
        }
        if self.margin_ms > self.window_ms {
            return Err(format!(
                "upstream.ghl_limits.margin_ms ({}) is longer than window_ms ({}): use a margin of a few hundred milliseconds, such as 250",
                self.margin_ms, self.window_ms
            ));
        }
        if self.daily_reserve >= GHL_DAILY_LIMIT {
            return Err(format!(
                "upstream.ghl_limits.daily_reserve ({}) leaves no GHL calls, because GHL allows {GHL_DAILY_LIMIT} per day and location: use a smaller reserve, such as 1000",
                self.daily_reserve
            ));
        }
        Ok(())
    }
}

/// The limits of one location: a sliding window on starts, a bound on calls in flight and
/// the daily quota.
pub struct CallLimits {
    location: String,
    window: SlidingWindow,
    in_flight: Semaphore,
    daily: DailyQuota,
    metrics: Option<Metrics>,
}

impl std::fmt::Debug for CallLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLimits")
            .field("location", &self.location)
            .field("available", &self.in_flight.available_permits())
            .field("daily", &self.daily.status())
            .finish_non_exhaustive()
    }
}

/// The in-flight slot of one call; dropping it frees the slot.
#[derive(Debug)]
pub struct CallPermit<'a> {
    _in_flight: SemaphorePermit<'a>,
}

impl CallLimits {
    /// Builds the limits of `location`, counting waits and paused calls in `metrics`.
    pub fn new(location: &str, config: GhlLimitsConfig, metrics: Option<Metrics>) -> CallLimits {
        CallLimits {
            location: location.to_string(),
            window: SlidingWindow::new(
                config.requests,
                Duration::from_millis(config.window_ms.max(1)),
                Duration::from_millis(config.margin_ms),
            ),
            in_flight: Semaphore::new(config.max_concurrency.max(1) as usize),
            daily: DailyQuota::new(config.daily_reserve),
            metrics,
        }
    }

    /// Fails with `RateLimited` (scope `Daily`, not sent) while the location's GHL calls are
    /// paused for the daily quota.
    pub fn check_daily(&self) -> Result<(), UpstreamError> {
        let Some(wait) = self.daily.paused_for(Utc::now()) else {
            return Ok(());
        };
        if let Some(metrics) = &self.metrics {
            metrics.increment(GHL_DAILY_LIMITED, &[("location", &self.location)]);
        }
        Err(UpstreamError::RateLimited {
            system: System::Ghl,
            scope: RateLimitScope::Daily,
            retry_after: Some(wait),
            sent: false,
        })
    }

    /// Waits for a free in-flight slot, then for room in the window, and returns the
    /// permit that keeps the in-flight slot until the call ends.
    ///
    /// Fails fast, before and after waiting, while calls are paused for the daily quota.
    pub async fn acquire(&self) -> Result<CallPermit<'_>, UpstreamError> {
        self.check_daily()?;
        // The semaphore is never closed, so acquiring only fails if that changes.
        let in_flight = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| UpstreamError::Connect {
                system: System::Ghl,
                detail: "the GHL call limiter was shut down".to_string(),
            })?;
        // The start is recorded after the in-flight wait, right before the call is sent,
        // so that the recorded times are close to the times at which calls reach GHL.
        if self.window.acquire().await
            && let Some(metrics) = &self.metrics
        {
            metrics.increment(GHL_LIMITER_WAITS, &[("location", &self.location)]);
        }
        self.check_daily()?;
        Ok(CallPermit {
            _in_flight: in_flight,
        })
    }

    /// Feeds the rate-limit headers of one response with `status` back into the limits.
    ///
    /// A lower `X-RateLimit-Remaining` than the window's own count adds the difference as
    /// starts made now. A 429 of the burst limit without that header counts as 0 left.
    /// `X-RateLimit-Max` and the interval form a second limit that applies on top of the
    /// configured one. The daily figures are recorded, and may pause calls until the
    /// daily reset.
    pub fn observe(&self, headers: &RateLimitHeaders, status: u16) {
        let now = Utc::now();
        let daily_limit_reached = status == 429 && headers.scope_of_429() == RateLimitScope::Daily;

        if let Some((requests, window)) = self.window.learn(headers.max, headers.interval) {
            info!(
                location = %self.location, requests, window_ms = window.as_millis() as u64,
                "GHL reports its burst limit; it applies on top of upstream.ghl_limits"
            );
        }

        let remaining = match headers.remaining {
            Some(remaining) => Some(remaining),
            None if status == 429 && !daily_limit_reached => Some(0),
            None => None,
        };
        if let Some(remaining) = remaining {
            let unseen = self.window.record_remaining(remaining);
            if unseen > 0 {
                // Debug level, because latency alone makes small differences on many
                // responses under load.
                debug!(
                    location = %self.location, remaining, unseen, status,
                    "GHL reports fewer requests left than the gateway's own count; holding back the difference"
                );
            }
        }

        if let Some(until) = self.daily.observe(headers, daily_limit_reached, now) {
            warn!(
                location = %self.location,
                daily_remaining = ?headers.daily_remaining,
                until = %until.to_rfc3339(),
                status,
                "GHL daily quota is at or below upstream.ghl_limits.daily_reserve; GHL calls of this location are paused until the daily reset"
            );
        }
    }

    /// Returns what the last responses reported about the daily quota.
    pub fn daily_status(&self) -> DailyStatus {
        self.daily.status()
    }
}

/// The limits of every GHL location one gateway calls, shared by its tenants.
#[derive(Debug, Default)]
pub struct LimitsRegistry {
    by_location: Mutex<HashMap<String, Arc<CallLimits>>>,
    metrics: Option<Metrics>,
}

impl LimitsRegistry {
    /// Builds a registry whose limits count waits and paused calls in `metrics`.
    pub fn new(metrics: Metrics) -> LimitsRegistry {
        LimitsRegistry {
            by_location: Mutex::default(),
            metrics: Some(metrics),
        }
    }

    /// Returns the limits of `location_id`, creating them on first use.
    pub fn for_location(&self, location_id: &str, config: GhlLimitsConfig) -> Arc<CallLimits> {
        let mut by_location = self
            .by_location
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_location
            .entry(location_id.to_string())
            .or_insert_with(|| Arc::new(CallLimits::new(location_id, config, self.metrics.clone())))
            .clone()
    }
}

#[cfg(test)]
mod tests;
