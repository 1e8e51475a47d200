//! An exact sliding-window limit on call starts, corrected by what the upstream reports.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// Allows a call to start only when fewer than `requests` calls started within the last
/// `window`, for the configured limit and for the limit the upstream reports.
///
/// Waiting calls are served in arrival order. Each takes its turn on a tokio mutex, which
/// queues its waiters first come, first served, and only the call holding the turn sleeps
/// until the next slot frees. The std mutex around the start instants is never held across
/// an await.
pub(super) struct SlidingWindow {
    turn: tokio::sync::Mutex<()>,
    state: Mutex<WindowState>,
}

/// At most `requests` starts within any span of `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limit {
    requests: usize,
    /// Margin included.
    window: Duration,
}

struct WindowState {
    configured: Limit,
    /// The limit from the upstream's `X-RateLimit-Max` and interval, once reported. Both
    /// limits apply, so the stricter one decides at any moment.
    reported: Option<Limit>,
    /// Added to each window, because the upstream counts arrivals rather than starts.
    margin: Duration,
    /// Starts within the longest window, oldest first: calls sent from here, and calls the
    /// upstream counted on top of them, which are recorded at the time it reported them.
    starts: VecDeque<Instant>,
    /// Calls that are waiting for a slot.
    waiting: usize,
}

impl WindowState {
    fn limits(&self) -> impl Iterator<Item = Limit> + use<> {
        std::iter::once(self.configured).chain(self.reported)
    }

    /// Returns the limit that `X-RateLimit-Remaining` refers to.
    fn upstream_limit(&self) -> Limit {
        self.reported.unwrap_or(self.configured)
    }

    /// Removes the starts that have left every window.
    fn prune(&mut self, now: Instant) {
        let longest = self
            .limits()
            .map(|limit| limit.window)
            .max()
            .unwrap_or_default();
        while self
            .starts
            .front()
            .is_some_and(|start| *start + longest <= now)
        {
            self.starts.pop_front();
        }
    }

    /// Counts the starts within the last `window` at `now`.
    fn count_within(&self, window: Duration, now: Instant) -> usize {
        let left = self.starts.partition_point(|start| *start + window <= now);
        self.starts.len() - left
    }

    /// Records a start now when every limit has room, or returns when the next slot of
    /// every full limit frees.
    fn try_start(&mut self) -> Result<(), Instant> {
        let now = Instant::now();
        self.prune(now);
        let mut free_at = None;
        for limit in self.limits() {
            if self.count_within(limit.window, now) >= limit.requests {
                // The limit has room once every start up to this index has left its window.
                let blocking = self.starts.len() - limit.requests;
                let at = self.starts[blocking] + limit.window;
                free_at = free_at.max(Some(at));
            }
        }
        match free_at {
            Some(at) => Err(at),
            None => {
                self.starts.push_back(now);
                Ok(())
            }
        }
    }
}

impl SlidingWindow {
    /// Builds a window that allows `requests` starts per `window`, which is lengthened by
    /// `margin`.
    pub(super) fn new(requests: u32, window: Duration, margin: Duration) -> SlidingWindow {
        let requests = requests.max(1) as usize;
        SlidingWindow {
            turn: tokio::sync::Mutex::new(()),
            state: Mutex::new(WindowState {
                configured: Limit {
                    requests,
                    window: window + margin,
                },
                reported: None,
                margin,
                starts: VecDeque::with_capacity(requests.min(1024)),
                waiting: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, WindowState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the window has room, then records the start. Returns true when the
    /// call found no free slot on arrival, counting the calls queued before it.
    pub(super) async fn acquire(&self) -> bool {
        let full_on_arrival = {
            let mut state = self.state();
            let now = Instant::now();
            state.prune(now);
            let waiting = state.waiting;
            state.waiting += 1;
            state
                .limits()
                .any(|limit| state.count_within(limit.window, now) + waiting >= limit.requests)
        };
        // Decrements `waiting` also when the caller drops this future while it waits.
        let _waiting = WaitingGuard(self);
        let _turn = self.turn.lock().await;
        loop {
            let free_at = match self.state().try_start() {
                Ok(()) => return full_on_arrival,
                Err(free_at) => free_at,
            };
            tokio::time::sleep_until(free_at).await;
        }
    }

    /// Accounts for calls that other clients of the same quota made: when the upstream
    /// reports fewer calls left than its limit has room for here, the difference is
    /// recorded as starts made now.
    ///
    /// Returns how many starts were added.
    pub(super) fn record_remaining(&self, remaining: u64) -> usize {
        let mut state = self.state();
        let now = Instant::now();
        state.prune(now);
        let limit = state.upstream_limit();
        let room = limit
            .requests
            .saturating_sub(state.count_within(limit.window, now));
        let unseen = room.saturating_sub(usize::try_from(remaining).unwrap_or(usize::MAX));
        for _ in 0..unseen {
            state.starts.push_back(now);
        }
        unseen
    }

    /// Records the limit the upstream reports, which applies on top of the configured one.
    /// A missing value is taken from the configuration, and a maximum of 0 is ignored.
    ///
    /// Returns the reported limit as (requests, window without the margin) when it changed.
    pub(super) fn learn(
        &self,
        max: Option<u32>,
        interval: Option<Duration>,
    ) -> Option<(usize, Duration)> {
        let max = max.filter(|max| *max > 0);
        if max.is_none() && interval.is_none() {
            return None;
        }
        let mut state = self.state();
        let margin = state.margin;
        let reported = Limit {
            requests: max.map_or(state.configured.requests, |max| max as usize),
            window: interval.map_or(state.configured.window, |interval| interval + margin),
        };
        if state.reported == Some(reported) {
            return None;
        }
        state.reported = Some(reported);
        Some((reported.requests, reported.window - margin))
    }

    /// Counts the starts within the longest window now.
    #[cfg(test)]
    pub(super) fn in_window(&self) -> usize {
        let mut state = self.state();
        state.prune(Instant::now());
        state.starts.len()
    }
}

struct WaitingGuard<'a>(&'a SlidingWindow);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.waiting = state.waiting.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Returns the largest number of instants in any half-open interval of length `window`.
    fn peak_in_window(instants: &[Instant], window: Duration) -> usize {
        let mut sorted = instants.to_vec();
        sorted.sort();
        let mut peak = 0;
        let mut first = 0;
        for last in 0..sorted.len() {
            while sorted[first] + window <= sorted[last] {
                first += 1;
            }
            peak = peak.max(last - first + 1);
        }
        peak
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_requests_in_any_window() {
        let window = Arc::new(SlidingWindow::new(
            10,
            Duration::from_millis(1_000),
            Duration::ZERO,
        ));
        let mut tasks = Vec::new();
        for index in 0..95u64 {
            let window = window.clone();
            tasks.push(tokio::spawn(async move {
                // Arrivals spread over the first 3 s, some of them at the same instant.
                tokio::time::sleep(Duration::from_millis(index * 31 % 3_000)).await;
                window.acquire().await;
                Instant::now()
            }));
        }
        let mut starts = Vec::new();
        for task in tasks {
            starts.push(task.await.unwrap());
        }

        assert_eq!(starts.len(), 95);
        assert_eq!(peak_in_window(&starts, Duration::from_millis(1_000)), 10);
        let first = *starts.iter().min().unwrap();
        let last = *starts.iter().max().unwrap();
        assert!(
            last - first >= Duration::from_millis(9_000),
            "95 starts at 10 per second span at least 9 s, spanned {:?}",
            last - first
        );
    }

    #[tokio::test(start_paused = true)]
    async fn burst_passes_then_waits_for_the_oldest_start() {
        let window = SlidingWindow::new(5, Duration::from_millis(500), Duration::ZERO);
        let began = Instant::now();
        for _ in 0..5 {
            assert!(!window.acquire().await, "the first five find room");
        }
        assert_eq!(began.elapsed(), Duration::ZERO);

        assert!(window.acquire().await, "the sixth finds the window full");
        assert_eq!(
            began.elapsed(),
            Duration::from_millis(500),
            "the sixth waits until the first start leaves the window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn margin_lengthens_the_window() {
        let window = SlidingWindow::new(1, Duration::from_millis(500), Duration::from_millis(50));
        let began = Instant::now();
        window.acquire().await;
        window.acquire().await;
        assert_eq!(began.elapsed(), Duration::from_millis(550));
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_arrival_order() {
        let window = Arc::new(SlidingWindow::new(
            2,
            Duration::from_millis(100),
            Duration::ZERO,
        ));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for index in 0..12u64 {
            let window = window.clone();
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                // Arrivals 1 ms apart, while the window lets two calls start per 100 ms.
                tokio::time::sleep(Duration::from_millis(index)).await;
                window.acquire().await;
                order.lock().unwrap().push(index);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..12).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_waiter_frees_its_place() {
        let window = Arc::new(SlidingWindow::new(
            1,
            Duration::from_millis(100),
            Duration::ZERO,
        ));
        window.acquire().await;
        let dropped = tokio::time::timeout(Duration::from_millis(10), window.acquire()).await;
        assert!(dropped.is_err(), "the second call waits for the window");

        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !window.acquire().await,
            "the cancelled call no longer counts as waiting"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reported_remaining_holds_back_new_starts() {
        let window = SlidingWindow::new(10, Duration::from_millis(1_000), Duration::ZERO);
        window.acquire().await;
        tokio::time::sleep(Duration::from_millis(200)).await;

        assert_eq!(
            window.record_remaining(3),
            6,
            "9 free here, 3 left upstream: 6 starts were made elsewhere"
        );
        assert_eq!(window.in_window(), 7);
        assert_eq!(window.record_remaining(3), 0, "already accounted for");
        assert_eq!(
            window.record_remaining(50),
            0,
            "more left upstream changes nothing"
        );

        let began = Instant::now();
        for _ in 0..3 {
            window.acquire().await;
        }
        assert_eq!(
            began.elapsed(),
            Duration::ZERO,
            "the three left pass at once"
        );
        window.acquire().await;
        assert_eq!(
            began.elapsed(),
            Duration::from_millis(800),
            "the next waits for the own start made 1 s before"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn zero_remaining_blocks_for_a_whole_window() {
        let window = SlidingWindow::new(10, Duration::from_millis(1_000), Duration::ZERO);
        assert_eq!(window.record_remaining(0), 10);
        let began = Instant::now();
        window.acquire().await;
        assert_eq!(began.elapsed(), Duration::from_millis(1_000));
    }

    #[tokio::test(start_paused = true)]
    async fn reported_limit_adds_to_configured() {
        let window = SlidingWindow::new(10, Duration::from_millis(1_000), Duration::ZERO);
        assert_eq!(
            window.learn(Some(15), Some(Duration::from_millis(3_000))),
            Some((15, Duration::from_millis(3_000)))
        );
        assert_eq!(
            window.learn(Some(15), Some(Duration::from_millis(3_000))),
            None,
            "unchanged"
        );
        assert_eq!(
            window.learn(Some(0), None),
            None,
            "a maximum of 0 is ignored"
        );

        let began = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..30 {
            window.acquire().await;
            starts.push(Instant::now());
        }
        assert_eq!(peak_in_window(&starts, Duration::from_millis(1_000)), 10);
        assert_eq!(peak_in_window(&starts, Duration::from_millis(3_000)), 15);
        assert_eq!(
            starts[10] - began,
            Duration::from_millis(1_000),
            "10 per second decides first"
        );
        assert_eq!(
            starts[15] - began,
            Duration::from_millis(3_000),
            "then 15 per 3 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reported_max_without_interval_uses_the_configured_window() {
        let window = SlidingWindow::new(10, Duration::from_millis(1_000), Duration::ZERO);
        assert_eq!(
            window.learn(Some(2), None),
            Some((2, Duration::from_millis(1_000)))
        );
        let began = Instant::now();
        window.acquire().await;
        window.acquire().await;
        window.acquire().await;
        assert_eq!(began.elapsed(), Duration::from_millis(1_000));
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_refers_to_the_reported_limit() {
        let window = SlidingWindow::new(10, Duration::from_millis(1_000), Duration::ZERO);
        window.learn(Some(100), Some(Duration::from_millis(10_000)));
        window.acquire().await;
        assert_eq!(
            window.record_remaining(90),
            9,
            "99 free of GHL's 100, 90 left: 9 starts were made elsewhere"
        );
    }
}
