//! Retries of idempotent upstream requests and a circuit breaker per upstream and tenant.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use rand::Rng;
use serde::Deserialize;

use super::{RateLimitScope, UpstreamError};

/// Retry settings for idempotent requests (GET, PUT, DELETE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per request, the first included. Default 3; 1 turns retries off.
    pub max_attempts: u32,
    /// Time a request may spend on retries in total, in milliseconds. Default 10000.
    pub budget_ms: u64,
    /// First backoff ceiling in milliseconds; it doubles per attempt. Default 200.
    pub base_ms: u64,
    /// Largest backoff ceiling, in milliseconds. Default 5000.
    pub max_backoff_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            budget_ms: 10_000,
            base_ms: 200,
            max_backoff_ms: 5_000,
        }
    }
}

impl RetryConfig {
    /// The wait before attempt `attempt + 1`: the upstream's `Retry-After` when it sent
    /// one, otherwise full jitter up to `base * 2^(attempt - 1)`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait;
        }
        let ceiling = self
            .base_ms
            .saturating_mul(1 << attempt.saturating_sub(1).min(20))
            .min(self.max_backoff_ms);
        Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling))
    }
}

/// Whether a failed idempotent request is worth another attempt: a 429 of the burst limit,
/// 502, 503, 504 and failed connections. The daily limit lasts until its reset, so it is
/// not retried.
pub fn is_retryable(error: &UpstreamError) -> bool {
    match error {
        UpstreamError::RateLimited { scope, .. } => *scope == RateLimitScope::Burst,
        UpstreamError::Connect { .. } => true,
        UpstreamError::Unavailable { status, .. } => matches!(status, 502..=504),
        _ => false,
    }
}

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures (5xx, timeouts, failed connections) that open the breaker.
    /// Default 5; 0 turns the breaker off.
    pub failure_threshold: u32,
    /// Time the breaker stays open before one probe request may pass, in milliseconds.
    /// Default 30000.
    pub cool_down_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight; other calls fail fast until it ends.
    Probing,
}

/// A circuit breaker: after repeated failures, calls fail fast for a cool-down, then one
/// probe call decides whether the upstream is back.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

/// What the breaker allows for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send the call.
    Pass,
    /// Send the call as the probe that decides whether the breaker closes.
    Probe,
    /// Do not send; the upstream is considered down for this long.
    Reject(Duration),
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Decides whether a call may be sent now.
    pub fn admit(&self) -> Admission {
        if self.config.failure_threshold == 0 {
            return Admission::Pass;
        }
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match *state {
            State::Closed { .. } => Admission::Pass,
            State::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *state = State::Probing;
                    Admission::Probe
                } else {
                    Admission::Reject(until - now)
                }
            }
            State::Probing => {
                Admission::Reject(Duration::from_millis(self.config.cool_down_ms.min(1_000)))
            }
        }
    }

    /// Records the outcome of a call that was sent. Returns true when this opened the breaker.
    pub fn record(&self, failed: bool) -> bool {
        if self.config.failure_threshold == 0 {
            return false;
        }
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let open = State::Open {
            until: Instant::now() + Duration::from_millis(self.config.cool_down_ms),
        };
        match (*state, failed) {
            (_, false) => {
                *state = State::Closed { failures: 0 };
                false
            }
            (State::Probing, true) => {
                *state = open;
                true
            }
            (State::Closed { failures }, true) if failures + 1 >= self.config.failure_threshold => {
                *state = open;
                true
            }
            (State::Closed { failures }, true) => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            (State::Open { .. }, true) => false,
        }
    }
}

/// Whether a failure counts against the breaker: the upstream itself is in trouble.
pub fn counts_as_outage(error: &UpstreamError) -> bool {
    matches!(
        error,
        UpstreamError::Unavailable { .. }
            | UpstreamError::Timeout { .. }
            | UpstreamError::Connect { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::System;

    #[test]
    fn breaker_opens_probes_and_closes() {
        let breaker = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            cool_down_ms: 50,
        });
        assert_eq!(breaker.admit(), Admission::Pass);
        assert!(!breaker.record(true));
        assert!(breaker.record(true), "the second failure opens it");
        assert!(matches!(breaker.admit(), Admission::Reject(_)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(breaker.admit(), Admission::Probe);
        assert!(
            matches!(breaker.admit(), Admission::Reject(_)),
            "one probe at a time"
        );
        breaker.record(false);
        assert_eq!(breaker.admit(), Admission::Pass);
    }

    #[test]
    fn failed_probe_reopens() {
        let breaker = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            cool_down_ms: 20,
        });
        breaker.record(true);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(breaker.admit(), Admission::Probe);
        assert!(breaker.record(true));
        assert!(matches!(breaker.admit(), Admission::Reject(_)));
    }

    #[test]
    fn retryable_failures() {
        let unavailable = |status| UpstreamError::Unavailable {
            system: System::Ghl,
            status,
        };
        assert!(is_retryable(&unavailable(503)));
        assert!(!is_retryable(&unavailable(500)));
        assert!(is_retryable(&UpstreamError::RateLimited {
            system: System::Ghl,
            scope: RateLimitScope::Burst,
            retry_after: None,
            sent: true,
        }));
        assert!(!is_retryable(&UpstreamError::RateLimited {
            system: System::Ghl,
            scope: RateLimitScope::Daily,
            retry_after: None,
            sent: true,
        }));
        assert!(!is_retryable(&UpstreamError::Timeout {
            system: System::Ghl
        }));
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let config = RetryConfig::default();
        assert_eq!(
            config.delay(1, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert!(config.delay(3, None) <= Duration::from_millis(800));
    }
}
