//! GHL's `X-RateLimit-*` response headers.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderMap;

use crate::upstream::{RateLimitScope, System, UpstreamError};

/// Readings up to one day are taken as milliseconds until the daily reset, readings from
/// `UNIX_MILLIS_FROM` on as a Unix time in milliseconds, and readings in between are
/// ignored. A reset more than one day ahead is ignored too.
const ONE_DAY_MILLIS: u64 = 24 * 60 * 60 * 1000;
/// 2001-09-09 in Unix milliseconds: no reset time lies before it.
const UNIX_MILLIS_FROM: u64 = 1_000_000_000_000;

/// The rate-limit figures of one response. A header that is absent or not a number is
/// `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Limit-Daily`: requests allowed per day (GHL: 200 000).
    pub daily_limit: Option<u64>,
    /// `X-RateLimit-Daily-Remaining`: requests left today. GHL may report 0 or less once
    /// the limit is reached.
    pub daily_remaining: Option<i64>,
    /// `X-RateLimit-Daily-Reset`: when the daily count starts again.
    pub daily_reset: Option<DateTime<Utc>>,
    /// `X-RateLimit-Interval-Milliseconds`: the burst window (GHL: 10 000 ms).
    pub interval: Option<Duration>,
    /// `X-RateLimit-Max`: requests allowed per burst window (GHL: 100).
    pub max: Option<u32>,
    /// `X-RateLimit-Remaining`: requests left in the current burst window.
    pub remaining: Option<u64>,
}

impl RateLimitHeaders {
    /// Reads the headers of a response that arrived at `now`.
    pub fn from_headers(headers: &HeaderMap, now: DateTime<Utc>) -> RateLimitHeaders {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
        };
        let number = |name: &str| text(name).and_then(|value| value.parse::<u64>().ok());
        RateLimitHeaders {
            daily_limit: number("x-ratelimit-limit-daily"),
            daily_remaining: text("x-ratelimit-daily-remaining")
                .and_then(|value| value.parse::<i64>().ok()),
            daily_reset: number("x-ratelimit-daily-reset")
                .and_then(|millis| reset_time(millis, now)),
            interval: number("x-ratelimit-interval-milliseconds")
                .filter(|millis| *millis > 0)
                .map(Duration::from_millis),
            max: number("x-ratelimit-max").and_then(|max| u32::try_from(max).ok()),
            remaining: number("x-ratelimit-remaining"),
        }
    }

    /// Reports whether a 429 with these headers is the daily limit: GHL then reports no
    /// daily requests left. Any other 429 is the burst limit.
    pub fn scope_of_429(&self) -> RateLimitScope {
        if self.daily_remaining.is_some_and(|remaining| remaining <= 0) {
            RateLimitScope::Daily
        } else {
            RateLimitScope::Burst
        }
    }

    /// When the daily count starts again: the reported reset, or else the next UTC
    /// midnight after `now`.
    // NOTE: GHL does not document when its daily count resets, so the next UTC midnight
    // is an assumption. A call sent after a too-early guess that still finds the quota
    // used up starts the wait again.
    pub fn daily_reset_or_midnight(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.daily_reset
            .filter(|reset| *reset > now)
            .unwrap_or_else(|| next_utc_midnight(now))
    }

    /// Builds the error of a 429 response that arrived at `now`. The wait is the
    /// `Retry-After` the response carried, or for the daily limit the time until the reset.
    pub fn rate_limited(
        &self,
        system: System,
        retry_after: Option<Duration>,
        now: DateTime<Utc>,
    ) -> UpstreamError {
        let scope = self.scope_of_429();
        let retry_after = match scope {
            RateLimitScope::Daily => {
                retry_after.or_else(|| (self.daily_reset_or_midnight(now) - now).to_std().ok())
            }
            RateLimitScope::Burst => retry_after,
        };
        UpstreamError::RateLimited {
            system,
            scope,
            retry_after,
            sent: true,
        }
    }
}

/// Converts a reset reading in milliseconds, as an offset or as a Unix time.
fn reset_time(millis: u64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if millis <= ONE_DAY_MILLIS {
        return Some(now + TimeDelta::milliseconds(millis as i64));
    }
    if millis >= UNIX_MILLIS_FROM {
        return DateTime::from_timestamp_millis(i64::try_from(millis).ok()?)
            .filter(|reset| *reset <= now + TimeDelta::milliseconds(ONE_DAY_MILLIS as i64));
    }
    None
}

/// Returns the start of the UTC day after `now`.
pub(super) fn next_utc_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive() + TimeDelta::days(1);
    tomorrow.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn reads_all_five_headers() {
        let now = at("2026-03-01T10:00:00Z");
        let parsed = RateLimitHeaders::from_headers(
            &headers(&[
                ("X-RateLimit-Limit-Daily", "200000"),
                ("X-RateLimit-Daily-Remaining", "199850"),
                ("X-RateLimit-Interval-Milliseconds", "10000"),
                ("X-RateLimit-Max", "100"),
                ("X-RateLimit-Remaining", " 97 "),
            ]),
            now,
        );
        assert_eq!(
            parsed,
            RateLimitHeaders {
                daily_limit: Some(200_000),
                daily_remaining: Some(199_850),
                daily_reset: None,
                interval: Some(Duration::from_secs(10)),
                max: Some(100),
                remaining: Some(97),
            }
        );
    }

    #[test]
    fn absent_and_invalid_headers_are_none() {
        let now = at("2026-03-01T10:00:00Z");
        assert_eq!(
            RateLimitHeaders::from_headers(&HeaderMap::new(), now),
            RateLimitHeaders::default()
        );
        let parsed = RateLimitHeaders::from_headers(
            &headers(&[
                ("x-ratelimit-remaining", "-1"),
                ("x-ratelimit-max", "lots"),
                ("x-ratelimit-interval-milliseconds", "0"),
                ("x-ratelimit-daily-remaining", "-3"),
                ("x-ratelimit-daily-reset", "90000000000"),
            ]),
            now,
        );
        assert_eq!(parsed.remaining, None, "a negative count");
        assert_eq!(parsed.max, None, "not a number");
        assert_eq!(parsed.interval, None, "a zero interval");
        assert_eq!(
            parsed.daily_remaining,
            Some(-3),
            "daily remaining may be negative"
        );
        assert_eq!(
            parsed.daily_reset, None,
            "neither an offset nor a Unix time"
        );

        let huge =
            RateLimitHeaders::from_headers(&headers(&[("x-ratelimit-max", "99999999999")]), now);
        assert_eq!(huge.max, None, "larger than u32");
    }

    #[test]
    fn daily_reset_as_offset_or_unix_millis() {
        let now = at("2026-03-01T10:00:00Z");
        let offset =
            RateLimitHeaders::from_headers(&headers(&[("x-ratelimit-daily-reset", "5000")]), now);
        assert_eq!(offset.daily_reset, Some(at("2026-03-01T10:00:05Z")));

        let unix = at("2026-03-02T00:00:00Z").timestamp_millis().to_string();
        let absolute =
            RateLimitHeaders::from_headers(&headers(&[("x-ratelimit-daily-reset", &unix)]), now);
        assert_eq!(absolute.daily_reset, Some(at("2026-03-02T00:00:00Z")));

        let far = at("2026-03-09T00:00:00Z").timestamp_millis().to_string();
        let far =
            RateLimitHeaders::from_headers(&headers(&[("x-ratelimit-daily-reset", &far)]), now);
        assert_eq!(far.daily_reset, None, "more than a day ahead");
    }

    #[test]
    fn reset_defaults_to_next_utc_midnight() {
        let now = at("2026-03-01T23:59:59Z");
        let none = RateLimitHeaders::default();
        assert_eq!(
            none.daily_reset_or_midnight(now),
            at("2026-03-02T00:00:00Z")
        );
        let past = RateLimitHeaders {
            daily_reset: Some(at("2026-03-01T12:00:00Z")),
            ..RateLimitHeaders::default()
        };
        assert_eq!(
            past.daily_reset_or_midnight(now),
            at("2026-03-02T00:00:00Z"),
            "a reset in the past is ignored"
        );
        assert_eq!(
            next_utc_midnight(at("2026-12-31T00:00:00Z")),
            at("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn a_429_is_daily_only_without_daily_quota() {
        let now = at("2026-03-01T22:00:00Z");
        let burst = RateLimitHeaders {
            daily_remaining: Some(5),
            remaining: Some(0),
            ..RateLimitHeaders::default()
        };
        assert!(matches!(
            burst.rate_limited(System::Ghl, None, now),
            UpstreamError::RateLimited {
                scope: RateLimitScope::Burst,
                retry_after: None,
                sent: true,
                ..
            }
        ));
        assert_eq!(
            RateLimitHeaders::default().scope_of_429(),
            RateLimitScope::Burst,
            "no headers: burst"
        );

        for remaining in [0, -1] {
            let daily = RateLimitHeaders {
                daily_remaining: Some(remaining),
                ..RateLimitHeaders::default()
            };
            let error = daily.rate_limited(System::Ghl, None, now);
            assert!(
                matches!(
                    error,
                    UpstreamError::RateLimited {
                        scope: RateLimitScope::Daily,
                        retry_after: Some(wait),
                        ..
                    } if wait == Duration::from_secs(2 * 60 * 60)
                ),
                "{remaining}: {error:?}"
            );
        }

        let with_retry_after = RateLimitHeaders {
            daily_remaining: Some(0),
            ..RateLimitHeaders::default()
        }
        .rate_limited(System::Ghl, Some(Duration::from_secs(60)), now);
        assert!(matches!(
            with_retry_after,
            UpstreamError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(60)
        ));
    }
}
