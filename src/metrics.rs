//! In-process counters: upstream calls, GHL rate limiting, cache outcomes and linking scans,
//! readable in tests and served as Prometheus text at `/metrics`.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{Arc, Mutex},
};

/// One counter series: a metric name and its label values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
}

/// Counters shared by the whole process; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    counters: Arc<Mutex<BTreeMap<Series, u64>>>,
}

/// Upstream requests by system, method, route template and status (`none` when no
/// response came).
pub const UPSTREAM_REQUESTS: &str = "gateway_upstream_requests_total";
/// Cache lookups answered from the cache, by record kind.
pub const CACHE_HITS: &str = "gateway_cache_hits_total";
/// Cache lookups that had to call the upstream, by record kind.
pub const CACHE_MISSES: &str = "gateway_cache_misses_total";
/// Entries removed to stay under the cache capacity.
pub const CACHE_EVICTIONS: &str = "gateway_cache_evictions_total";
/// GHL calls that found their location's window full and waited for a slot, by location.
pub const GHL_LIMITER_WAITS: &str = "gateway_ghl_limiter_waits_total";
/// GHL calls not sent because the location's daily quota is at or below
/// `upstream.ghl_limits.daily_reserve`, by location.
pub const GHL_DAILY_LIMITED: &str = "gateway_ghl_daily_limited_total";
/// Linking scans that ended, by tenant and outcome (`ok` or `failed`).
pub const LINKING_SCANS: &str = "gateway_linking_scans_total";

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Adds `by` to the series.
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], by: u64) {
        let series = Series {
            name,
            labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        };
        if let Ok(mut counters) = self.counters.lock() {
            *counters.entry(series).or_default() += by;
        }
    }

    /// Adds one to the series.
    pub fn increment(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, labels, 1);
    }

    /// Sum of every series of `name` whose labels include all of `filter`.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> u64 {
        let Ok(counters) = self.counters.lock() else {
            return 0;
        };
        counters
            .iter()
            .filter(|(series, _)| series.name == name)
            .filter(|(series, _)| {
                filter
                    .iter()
                    .all(|(key, value)| series.labels.iter().any(|(k, v)| k == key && v == value))
            })
            .map(|(_, count)| *count)
            .sum()
    }

    /// The counters in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let Ok(counters) = self.counters.lock() else {
            return String::new();
        };
        let mut text = String::new();
        let mut last_name = "";
        for (series, count) in counters.iter() {
            if series.name != last_name {
                let _ = writeln!(text, "# TYPE {} counter", series.name);
                last_name = series.name;
            }
            let labels = series
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect::<Vec<_>>()
                .join(",");
            let _ = writeln!(text, "{}{{{labels}}} {count}", series.name);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_filter_by_labels() {
        let metrics = Metrics::new();
        metrics.increment(UPSTREAM_REQUESTS, &[("system", "GHL"), ("status", "200")]);
        metrics.increment(UPSTREAM_REQUESTS, &[("system", "GHL"), ("status", "500")]);
        metrics.increment(
            UPSTREAM_REQUESTS,
            &[("system", "CASEBOOK"), ("status", "200")],
        );
        assert_eq!(metrics.sum(UPSTREAM_REQUESTS, &[]), 3);
        assert_eq!(metrics.sum(UPSTREAM_REQUESTS, &[("system", "GHL")]), 2);
        assert_eq!(metrics.sum(UPSTREAM_REQUESTS, &[("status", "200")]), 2);
    }

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::new();
        metrics.add(CACHE_HITS, &[("kind", "contact")], 2);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE gateway_cache_hits_total counter"),
            "{text}"
        );
        assert!(
            text.contains("gateway_cache_hits_total{kind=\"contact\"} 2"),
            "{text}"
        );
    }
}
