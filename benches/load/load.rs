//! The load loop: open loop at a fixed rate or closed loop at a fixed concurrency, each
//! phase bounded by a duration and a request count, then a summary with percentiles.

use std::{
    collections::BTreeMap,
    fs::OpenOptions,
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::{sync::Semaphore, task::JoinSet};

use crate::{
    check::{BodyCheck, Failure, check_response},
    process::{Memory, read_cpu_seconds, read_memory},
    target::{GraphqlTarget, NamedPid, NamedUrl},
    upstream::{self, SimCounts},
};

/// The schedule on which requests start.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Requests per second, started on schedule whatever the latency.
    Rate(f64),
    /// Requests in flight at all times.
    Concurrency(usize),
}

impl LoadMode {
    pub fn rate(rate: f64) -> anyhow::Result<Self> {
        if !(rate.is_finite() && rate > 0.0 && rate <= 100_000.0) {
            bail!("invalid --rate {rate}: use a number of requests per second from 0 to 100000");
        }
        Ok(LoadMode::Rate(rate))
    }

    pub fn concurrency(concurrency: usize) -> anyhow::Result<Self> {
        if concurrency == 0 || concurrency > 4096 {
            bail!("invalid --concurrency {concurrency}: use 1 to 4096");
        }
        Ok(LoadMode::Concurrency(concurrency))
    }
}

/// Bounds of one case.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    pub mode: LoadMode,
    pub duration: Duration,
    pub warmup: Duration,
    pub max_in_flight: usize,
    pub max_requests: u64,
}

impl LoadOptions {
    pub fn new(
        mode: LoadMode,
        duration_s: f64,
        warmup_s: f64,
        max_in_flight: usize,
        max_requests: u64,
    ) -> anyhow::Result<Self> {
        let seconds = |name: &str, value: f64, min: f64| {
            if value.is_finite() && value >= min && value <= 3600.0 {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(anyhow::anyhow!(
                    "invalid {name} {value}: use {min} to 3600 seconds"
                ))
            }
        };
        if max_in_flight == 0 || max_in_flight > 4096 {
            bail!("invalid --max-in-flight {max_in_flight}: use 1 to 4096");
        }
        if max_requests == 0 {
            bail!("invalid --max-requests 0: use at least 1");
        }
        Ok(LoadOptions {
            mode,
            duration: seconds("--duration-s", duration_s, 0.1)?,
            warmup: seconds("--warmup-s", warmup_s, 0.0)?,
            max_in_flight,
            max_requests,
        })
    }
}

/// Everything `load run` needs for one case.
pub struct CaseSpec {
    pub case: String,
    pub side: String,
    pub target: GraphqlTarget,
    pub query_file: PathBuf,
    pub variables_file: Option<PathBuf>,
    pub check: BodyCheck,
    pub options: LoadOptions,
    pub sims: Vec<NamedUrl>,
    pub pids: Vec<NamedPid>,
    /// The kernel's USER_HZ, the unit of CPU times in `/proc/<pid>/stat`.
    pub clock_ticks: u32,
    pub out: PathBuf,
}

/// The outcome of one measured phase.
#[derive(Debug, Default)]
struct PhaseResult {
    /// Latency of every request that passed its check, in microseconds.
    latencies_us: Vec<u64>,
    /// Failures by kind, with one example each.
    failures: BTreeMap<String, (u64, String)>,
    /// From the first scheduled start to the last completion.
    elapsed: Duration,
}

impl PhaseResult {
    fn record(&mut self, latency: Duration, outcome: Result<(), Failure>) {
        match outcome {
            Ok(()) => self.latencies_us.push(latency.as_micros() as u64),
            Err(failure) => {
                let entry = self
                    .failures
                    .entry(failure.kind)
                    .or_insert((0, failure.detail));
                entry.0 += 1;
            }
        }
    }

    fn failed(&self) -> u64 {
        self.failures.values().map(|(count, _)| count).sum()
    }
}

/// One case's line in the results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseRecord {
    pub kind: String,
    pub case: String,
    pub side: String,
    pub mode: LoadMode,
    pub duration_s: f64,
    pub requests: u64,
    pub ok: u64,
    pub failed: u64,
    pub failures: BTreeMap<String, u64>,
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub upstream: BTreeMap<String, SimCounts>,
    /// Upstream requests of all simulators divided by the requests of the measured phase.
    pub upstream_per_request: f64,
    pub memory: BTreeMap<String, Memory>,
    /// CPU time per request of the measured phase, in milliseconds, for each `--pid` process
    /// and for the generator itself (`generator`).
    #[serde(default)]
    pub cpu_ms_per_request: BTreeMap<String, f64>,
}

/// Reads the query and variables, runs warm-up and measured phases, and appends the record.
pub async fn run_case(spec: CaseSpec) -> anyhow::Result<()> {
    let bodies = request_bodies(&spec.query_file, spec.variables_file.as_deref())?;

    // A request that fails here fails every time: stop before loading with it.
    let (status, body) = spec
        .target
        .post(bodies[0].clone())
        .await
        .with_context(|| format!("the first request to {} failed", spec.target.url))?;
    if let Err(failure) = check_response(spec.check, status, &body) {
        bail!(
            "the first request of case {} failed its check ({}): {}",
            spec.case,
            failure.kind,
            failure.detail
        );
    }

    if !spec.options.warmup.is_zero() {
        run_phase(&spec, &bodies, spec.options.warmup).await;
    }
    upstream::reset(&spec.sims).await?;
    let cpu_before = read_cpu_times(&spec)?;
    let phase = run_phase(&spec, &bodies, spec.options.duration).await;
    let cpu_after = read_cpu_times(&spec)?;
    let upstream = upstream::read(&spec.sims).await?;
    let mut memory = BTreeMap::new();
    for named in &spec.pids {
        memory.insert(named.name.clone(), read_memory(named.pid)?);
    }

    let requests = (phase.latencies_us.len() as u64 + phase.failed()).max(1);
    let cpu_ms_per_request = cpu_after
        .iter()
        .map(|(name, after)| {
            let before = cpu_before.get(name).copied().unwrap_or(*after);
            (name.clone(), (after - before) * 1000.0 / requests as f64)
        })
        .collect();
    let mut record = summarize(&spec, phase, upstream, memory);
    record.cpu_ms_per_request = cpu_ms_per_request;
    print_summary(&record);
    append_record(&spec.out, &serde_json::to_value(&record)?)
}

/// Reads the CPU seconds used so far by every `--pid` process and by the generator.
fn read_cpu_times(spec: &CaseSpec) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut times = BTreeMap::new();
    for named in &spec.pids {
        times.insert(
            named.name.clone(),
            read_cpu_seconds(named.pid, spec.clock_ticks)?,
        );
    }
    times.insert(
        "generator".to_string(),
        read_cpu_seconds(std::process::id(), spec.clock_ticks)?,
    );
    Ok(times)
}

/// Serialises one request body per variables entry (one body when there is no file).
fn request_bodies(query_file: &Path, variables_file: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let query = std::fs::read_to_string(query_file)
        .with_context(|| format!("could not read the query file {}", query_file.display()))?;
    let variables: Vec<Value> = match variables_file {
        None => vec![json!({})],
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("could not read the variables file {}", path.display()))?;
            let parsed: Value = serde_json::from_str(&text)
                .with_context(|| format!("the variables file {} is not JSON", path.display()))?;
            match parsed {
                Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                    items
                }
                _ => bail!(
                    "the variables file {} must hold a non-empty JSON array of objects, such as [{{\"id\": \"x\"}}]",
                    path.display()
                ),
            }
        }
    };
    Ok(variables
        .into_iter()
        .map(|variables| json!({ "query": query, "variables": variables }).to_string())
        .collect())
}

async fn send_checked(
    target: &GraphqlTarget,
    check: BodyCheck,
    body: String,
) -> Result<(), Failure> {
    match target.post(body).await {
        Ok((status, bytes)) => check_response(check, status, &bytes).map(|_| ()),
        Err(error) => Err(Failure::transport(&error)),
    }
}

async fn run_phase(spec: &CaseSpec, bodies: &[String], duration: Duration) -> PhaseResult {
    match spec.options.mode {
        LoadMode::Rate(rate) => open_loop(spec, bodies, duration, rate).await,
        LoadMode::Concurrency(concurrency) => {
            closed_loop(spec, bodies, duration, concurrency).await
        }
    }
}

/// Starts request i at `start + i / rate`. Latency is measured from that scheduled time,
/// so a slow server is not excused by the generator waiting for it.
async fn open_loop(
    spec: &CaseSpec,
    bodies: &[String],
    duration: Duration,
    rate: f64,
) -> PhaseResult {
    let total =
        ((rate * duration.as_secs_f64()).round() as u64).clamp(1, spec.options.max_requests);
    let permits = Arc::new(Semaphore::new(spec.options.max_in_flight));
    let mut tasks = JoinSet::new();
    let mut result = PhaseResult::default();
    let start = Instant::now();

    for index in 0..total {
        let scheduled = start + Duration::from_secs_f64(index as f64 / rate);
        tokio::time::sleep_until(scheduled.into()).await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let target = spec.target.clone();
        let check = spec.check;
        let body = bodies[(index as usize) % bodies.len()].clone();
        tasks.spawn(async move {
            let outcome = send_checked(&target, check, body).await;
            drop(permit);
            (scheduled.elapsed(), outcome)
        });
        while let Some(done) = tasks.try_join_next() {
            if let Ok((latency, outcome)) = done {
                result.record(latency, outcome);
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok((latency, outcome)) = done {
            result.record(latency, outcome);
        }
    }
    result.elapsed = start.elapsed();
    result
}

/// Runs `concurrency` workers that each send the next request as soon as the previous one
/// finishes, until the duration or the request budget is used up.
async fn closed_loop(
    spec: &CaseSpec,
    bodies: &[String],
    duration: Duration,
    concurrency: usize,
) -> PhaseResult {
    let start = Instant::now();
    let deadline = start + duration;
    let budget = Arc::new(std::sync::atomic::AtomicU64::new(spec.options.max_requests));
    let bodies: Arc<Vec<String>> = Arc::new(bodies.to_vec());
    let mut workers = JoinSet::new();
    for worker in 0..concurrency {
        let target = spec.target.clone();
        let check = spec.check;
        let budget = budget.clone();
        let bodies = bodies.clone();
        workers.spawn(async move {
            let mut local = PhaseResult::default();
            let mut index = worker;
            while Instant::now() < deadline {
                let reserved = budget.fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |left| left.checked_sub(1),
                );
                if reserved.is_err() {
                    break;
                }
                let sent = Instant::now();
                let outcome =
                    send_checked(&target, check, bodies[index % bodies.len()].clone()).await;
                local.record(sent.elapsed(), outcome);
                index += concurrency;
            }
            local
        });
    }
    let mut result = PhaseResult::default();
    while let Some(done) = workers.join_next().await {
        if let Ok(local) = done {
            result.latencies_us.extend(local.latencies_us);
            for (kind, (count, detail)) in local.failures {
                result.failures.entry(kind).or_insert((0, detail)).0 += count;
            }
        }
    }
    result.elapsed = start.elapsed();
    result
}

/// The value at quantile `q` (0 to 1) of sorted values, by the nearest-rank method.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summarize(
    spec: &CaseSpec,
    mut phase: PhaseResult,
    upstream: BTreeMap<String, SimCounts>,
    memory: BTreeMap<String, Memory>,
) -> CaseRecord {
    phase.latencies_us.sort_unstable();
    let ok = phase.latencies_us.len() as u64;
    let failed = phase.failed();
    let requests = ok + failed;
    let ms = |us: u64| us as f64 / 1000.0;
    let upstream_total: u64 = upstream.values().map(|counts| counts.total).sum();
    let elapsed = phase.elapsed.as_secs_f64().max(1e-9);
    for (kind, (count, detail)) in &phase.failures {
        eprintln!("  {} failures of kind {kind}, for example: {detail}", count);
    }
    CaseRecord {
        kind: "load".to_string(),
        case: spec.case.clone(),
        side: spec.side.clone(),
        mode: spec.options.mode,
        duration_s: phase.elapsed.as_secs_f64(),
        requests,
        ok,
        failed,
        failures: phase
            .failures
            .into_iter()
            .map(|(kind, (count, _))| (kind, count))
            .collect(),
        throughput_rps: ok as f64 / elapsed,
        p50_ms: ms(percentile(&phase.latencies_us, 0.50)),
        p99_ms: ms(percentile(&phase.latencies_us, 0.99)),
        max_ms: ms(phase.latencies_us.last().copied().unwrap_or(0)),
        upstream,
        upstream_per_request: if requests == 0 {
            0.0
        } else {
            upstream_total as f64 / requests as f64
        },
        memory,
        cpu_ms_per_request: BTreeMap::new(),
    }
}

fn print_summary(record: &CaseRecord) {
    let mode = match record.mode {
        LoadMode::Rate(rate) => format!("rate {rate}/s"),
        LoadMode::Concurrency(concurrency) => format!("concurrency {concurrency}"),
    };
    let mut details: Vec<String> = record
        .memory
        .iter()
        .map(|(name, memory)| format!("{name} peak RSS {:.1} MiB", memory.peak_kib as f64 / 1024.0))
        .collect();
    details.extend(
        record
            .cpu_ms_per_request
            .iter()
            .map(|(name, ms)| format!("{name} CPU {ms:.3} ms/request")),
    );
    println!(
        "{} [{}] {mode}: {:.1} req/s, p50 {:.2} ms, p99 {:.2} ms, {} ok, {} failed, {:.2} upstream calls/request{}{}",
        record.case,
        record.side,
        record.throughput_rps,
        record.p50_ms,
        record.p99_ms,
        record.ok,
        record.failed,
        record.upstream_per_request,
        if details.is_empty() { "" } else { ", " },
        details.join(", ")
    );
}

/// Appends one JSON line to the results file, creating it when missing.
pub fn append_record(out: &Path, record: &Value) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .with_context(|| format!("could not open the results file {}", out.display()))?;
    writeln!(file, "{record}")
        .with_context(|| format!("could not write to the results file {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.50), 50);
        assert_eq!(percentile(&values, 0.99), 99);
        assert_eq!(percentile(&values, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn load_options_reject_bad_bounds() {
        let mode = LoadMode::concurrency(4).unwrap();
        assert!(LoadOptions::new(mode, 0.0, 1.0, 8, 10).is_err());
        assert!(LoadOptions::new(mode, 5.0, -1.0, 8, 10).is_err());
        assert!(LoadOptions::new(mode, 5.0, 1.0, 0, 10).is_err());
        assert!(LoadOptions::new(mode, 5.0, 1.0, 8, 0).is_err());
        assert!(LoadOptions::new(mode, 5.0, 1.0, 8, 10).is_ok());
        assert!(LoadMode::rate(0.0).is_err());
        assert!(LoadMode::rate(f64::NAN).is_err());
        assert!(LoadMode::concurrency(0).is_err());
    }

    #[test]
    fn request_bodies_rotate_variables() {
        let dir = tempfile::tempdir().unwrap();
        let query = dir.path().join("q.graphql");
        let variables = dir.path().join("v.json");
        std::fs::write(&query, "query($id: ID!) { contact(id: $id) { id } }").unwrap();
        std::fs::write(&variables, r#"[{"id": "a"}, {"id": "b"}]"#).unwrap();
        let bodies = request_bodies(&query, Some(&variables)).unwrap();
        assert_eq!(bodies.len(), 2);
        let second: Value = serde_json::from_str(&bodies[1]).unwrap();
        assert_eq!(second["variables"]["id"], "b");
    }

    #[test]
    fn request_bodies_reject_bad_variables() {
        let dir = tempfile::tempdir().unwrap();
        let query = dir.path().join("q.graphql");
        let variables = dir.path().join("v.json");
        std::fs::write(&query, "{ a }").unwrap();
        for text in ["{}", "[]", "[1]", "not json"] {
            std::fs::write(&variables, text).unwrap();
            assert!(request_bodies(&query, Some(&variables)).is_err(), "{text}");
        }
    }
}
