//! The daily quota of one GHL location, as its responses report it.

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};

use super::headers::RateLimitHeaders;

/// A location's daily quota as the last responses reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyStatus {
    /// Requests left today, as last reported.
    pub remaining: Option<i64>,
    /// Requests allowed per day, as last reported.
    pub limit: Option<u64>,
    /// End of the pause of calls, when set and in the future.
    pub paused_until: Option<DateTime<Utc>>,
}

/// The daily quota of one location: calls pause once the daily remaining falls to the
/// reserve, until the daily reset.
#[derive(Debug)]
pub(super) struct DailyQuota {
    reserve: i64,
    status: Mutex<DailyStatus>,
}

impl DailyQuota {
    pub(super) fn new(reserve: u64) -> DailyQuota {
        DailyQuota {
            reserve: i64::try_from(reserve).unwrap_or(i64::MAX),
            status: Mutex::new(DailyStatus::default()),
        }
    }

    fn status_mut(&self) -> MutexGuard<'_, DailyStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn status(&self) -> DailyStatus {
        *self.status_mut()
    }

    /// Returns how long calls stay paused after `now`, or `None` when they may be sent.
    pub(super) fn paused_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        let mut status = self.status_mut();
        match status.paused_until {
            Some(until) if until > now => (until - now).to_std().ok(),
            Some(_) => {
                status.paused_until = None;
                None
            }
            None => None,
        }
    }

    /// Records the daily figures of one response that arrived at `now`. A daily remaining
    /// at or below the reserve, or a 429 of the daily limit, pauses calls until the daily
    /// reset.
    ///
    /// Returns the end of the pause when this response started it.
    pub(super) fn observe(
        &self,
        headers: &RateLimitHeaders,
        daily_limit_reached: bool,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut status = self.status_mut();
        if headers.daily_remaining.is_some() {
            status.remaining = headers.daily_remaining;
        }
        if headers.daily_limit.is_some() {
            status.limit = headers.daily_limit;
        }
        let at_reserve = headers
            .daily_remaining
            .is_some_and(|remaining| remaining <= self.reserve);
        if !at_reserve && !daily_limit_reached {
            return None;
        }

        let until = headers.daily_reset_or_midnight(now);
        match status.paused_until {
            Some(paused) if paused > now => {
                // A pause is only ever extended, because responses may arrive out of order.
                status.paused_until = Some(paused.max(until));
                None
            }
            _ => {
                status.paused_until = Some(until);
                Some(until)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn remaining(daily_remaining: i64) -> RateLimitHeaders {
        RateLimitHeaders {
            daily_limit: Some(200_000),
            daily_remaining: Some(daily_remaining),
            ..RateLimitHeaders::default()
        }
    }

    #[test]
    fn pauses_at_reserve_until_midnight() {
        let quota = DailyQuota::new(1_000);
        let now = at("2026-03-01T20:00:00Z");

        assert_eq!(quota.observe(&remaining(1_001), false, now), None);
        assert_eq!(quota.paused_for(now), None);
        assert_eq!(quota.status().remaining, Some(1_001));

        assert_eq!(
            quota.observe(&remaining(1_000), false, now),
            Some(at("2026-03-02T00:00:00Z"))
        );
        assert_eq!(
            quota.paused_for(now),
            Some(Duration::from_secs(4 * 60 * 60))
        );
        assert_eq!(
            quota.observe(&remaining(999), false, now),
            None,
            "the pause started once"
        );
        assert_eq!(
            quota.status(),
            DailyStatus {
                remaining: Some(999),
                limit: Some(200_000),
                paused_until: Some(at("2026-03-02T00:00:00Z")),
            }
        );

        assert_eq!(quota.paused_for(at("2026-03-02T00:00:00Z")), None, "reset");
        assert_eq!(quota.status().paused_until, None);
    }

    #[test]
    fn daily_429_pauses_above_reserve() {
        let quota = DailyQuota::new(0);
        let now = at("2026-03-01T20:00:00Z");
        let headers = RateLimitHeaders {
            daily_reset: Some(now + TimeDelta::seconds(30)),
            ..RateLimitHeaders::default()
        };
        assert_eq!(
            quota.observe(&headers, true, now),
            Some(now + TimeDelta::seconds(30))
        );
        assert_eq!(quota.paused_for(now), Some(Duration::from_secs(30)));
    }

    #[test]
    fn pause_is_only_extended() {
        let quota = DailyQuota::new(10);
        let now = at("2026-03-01T20:00:00Z");
        let later = RateLimitHeaders {
            daily_reset: Some(now + TimeDelta::seconds(60)),
            ..remaining(0)
        };
        let earlier = RateLimitHeaders {
            daily_reset: Some(now + TimeDelta::seconds(5)),
            ..remaining(0)
        };
        quota.observe(&later, false, now);
        quota.observe(&earlier, false, now);
        assert_eq!(quota.paused_for(now), Some(Duration::from_secs(60)));
    }

    #[test]
    fn higher_remaining_keeps_pause() {
        let quota = DailyQuota::new(10);
        let now = at("2026-03-01T20:00:00Z");
        quota.observe(&remaining(3), false, now);
        quota.observe(&remaining(5_000), false, now);
        assert!(quota.paused_for(now).is_some());
    }
}
