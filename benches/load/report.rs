//! Turns a results file into Markdown tables and checks the targets.
//!
//! Case names are the ones `bench/run.sh` writes: `fanout-30`, `fanout-50`, `history-warm`,
//! `ghl-only-cold` and `ghl-only-warm`; sides are `ours` and `peer`.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::{fanout::FanoutRecord, load::CaseRecord, load::LoadMode};

/// Minimum ratio of our throughput to the peer's, cold and warm.
const THROUGHPUT_RATIO_TARGET: f64 = 5.0;

struct Results {
    fanouts: Vec<FanoutRecord>,
    loads: Vec<CaseRecord>,
}

fn read_results(path: &Path) -> anyhow::Result<Results> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the results file {}", path.display()))?;
    let mut results = Results {
        fanouts: Vec::new(),
        loads: Vec::new(),
    };
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
    {
        let number = index + 1;
        let value: Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{number} is not JSON", path.display()))?;
        match value.get("kind").and_then(Value::as_str) {
            Some("fanout") => {
                results
                    .fanouts
                    .push(serde_json::from_value(value).with_context(|| {
                        format!("{}:{number} is not a fanout record", path.display())
                    })?)
            }
            Some("load") => results
                .loads
                .push(serde_json::from_value(value).with_context(|| {
                    format!("{}:{number} is not a load record", path.display())
                })?),
            other => bail!("{}:{number} has unknown kind {other:?}", path.display()),
        }
    }
    Ok(results)
}

/// Returns the median, or the lower of the two middle values for an even count.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(sorted[(sorted.len() - 1) / 2])
}

fn met(condition: bool) -> &'static str {
    if condition { "met" } else { "NOT MET" }
}

/// Prints every section for which the file has records.
pub fn print(path: &Path, latency_ms: u64) -> anyhow::Result<()> {
    let results = read_results(path)?;
    for first in [30, 50] {
        print_fanout(&results, first, latency_ms);
    }
    print_history(&results);
    print_comparison(&results);
    Ok(())
}

fn print_fanout(results: &Results, first: u32, latency_ms: u64) {
    let case = format!("fanout-{first}");
    let runs: Vec<&FanoutRecord> = results.fanouts.iter().filter(|r| r.case == case).collect();
    let Some(run) = runs.first() else {
        return;
    };
    println!("### contacts(first: {first}) with tasks, notes, appointments and both records\n");
    println!(
        "Page: {} contacts with a Casebook record, {} with a GHL record. Casebook batch size used for the formula: {}.\n",
        run.casebook_contacts, run.ghl_contacts, run.casebook_batch_size
    );
    println!(
        "| execution | Casebook requests | expected | GHL requests | expected | wall time ms | check |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut executions = vec![("cold", &run.cold)];
    if let Some(warm) = &run.warm {
        executions.push(("warm (same gateway, right after)", warm));
    }
    for (name, execution) in executions {
        println!(
            "| {name} | {} | {} | {} | {} | {:.1} | {} |",
            execution.casebook.total,
            if name == "cold" {
                format!(
                    "1 + 3 x ceil({} / {}) = {}",
                    run.casebook_contacts, run.casebook_batch_size, run.expected_casebook
                )
            } else {
                "-".to_string()
            },
            execution.ghl.total,
            if name == "cold" {
                format!("1 + 3 x {} = {}", run.ghl_contacts, run.expected_ghl)
            } else {
                "-".to_string()
            },
            execution.wall_ms,
            execution.failure.as_deref().unwrap_or("ok"),
        );
    }
    println!();
    for (system, counts) in [("Casebook", &run.cold.casebook), ("GHL", &run.cold.ghl)] {
        let routes: Vec<String> = counts
            .routes
            .iter()
            .map(|(route, count)| format!("`{route}` {count}"))
            .collect();
        println!("Cold {system} requests by route: {}.", routes.join(", "));
    }
    println!();

    let walls: Vec<f64> = runs
        .iter()
        .filter(|r| r.cold.failure.is_none())
        .map(|r| r.cold.wall_ms)
        .collect();
    let failed = runs.len() - walls.len();
    let listed: Vec<String> = walls.iter().map(|ms| format!("{ms:.1}")).collect();
    match median(&walls) {
        Some(median_ms) => {
            println!(
                "Cold wall time over {} fresh gateways: median {median_ms:.1} ms (runs: {} ms){}.",
                walls.len(),
                listed.join(", "),
                if failed > 0 {
                    format!("; {failed} runs failed their check")
                } else {
                    String::new()
                }
            );
            if first == 30 {
                let target = 3.0 * latency_ms as f64 + 10.0;
                println!(
                    "Target: under 3 x {latency_ms} ms + 10 ms = {target:.0} ms: {}.",
                    met(median_ms < target)
                );
            }
        }
        None => println!("Every cold run failed its check ({failed} runs)."),
    }
    let counts_vary = runs.iter().any(|r| {
        r.cold.casebook.total != run.cold.casebook.total || r.cold.ghl.total != run.cold.ghl.total
    });
    if counts_vary {
        let totals: Vec<String> = runs
            .iter()
            .map(|r| format!("{}+{}", r.cold.casebook.total, r.cold.ghl.total))
            .collect();
        println!(
            "Upstream counts differed between runs (Casebook+GHL): {}.",
            totals.join(", ")
        );
    }
    println!();
}

/// The `--pid` name of the server under test: `gateway` for ours, `peer` for Hive Gateway.
fn server_name(record: &CaseRecord) -> &'static str {
    if record.side == "peer" {
        "peer"
    } else {
        "gateway"
    }
}

fn peak_mib(record: &CaseRecord) -> Option<f64> {
    record
        .memory
        .get(server_name(record))
        .map(|memory| memory.peak_kib as f64 / 1024.0)
}

fn cpu_ms(record: &CaseRecord, name: &str) -> Option<f64> {
    record.cpu_ms_per_request.get(name).copied()
}

fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.decimals$}"))
}

fn print_history(results: &Results) {
    let mut runs: Vec<&CaseRecord> = results
        .loads
        .iter()
        .filter(|r| r.case == "history-warm")
        .collect();
    if runs.is_empty() {
        return;
    }
    runs.sort_by(|a, b| offered(a).total_cmp(&offered(b)));
    println!("### Warm contact(id) {{ history(first: 20) }}, open loop\n");
    println!(
        "| offered req/s | achieved req/s | p50 ms | p99 ms | max ms | failed | upstream calls/request | gateway CPU ms/request | gateway peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for run in runs {
        println!(
            "| {:.0} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {:.3} | {} | {} |",
            offered(run),
            run.throughput_rps,
            run.p50_ms,
            run.p99_ms,
            run.max_ms,
            run.failed,
            run.upstream_per_request,
            optional(cpu_ms(run, "gateway"), 3),
            optional(peak_mib(run), 1),
        );
    }
    println!();
}

fn offered(record: &CaseRecord) -> f64 {
    match record.mode {
        LoadMode::Rate(rate) => rate,
        LoadMode::Concurrency(concurrency) => concurrency as f64,
    }
}

/// `a / b` to two decimals, or "-" when `b` is zero (both zero reads as "1.00").
fn ratio_text(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else if a == 0.0 {
        "1.00".to_string()
    } else {
        "-".to_string()
    }
}

fn print_comparison(results: &Results) {
    // Every (case, mode) pair that both sides ran, in the order of the file.
    let mut pairs: Vec<(&str, LoadMode)> = Vec::new();
    for record in &results.loads {
        let key = (record.case.as_str(), record.mode);
        let is_comparison = record.case == "ghl-only-cold" || record.case == "ghl-only-warm";
        if is_comparison
            && !pairs
                .iter()
                .any(|(case, mode)| *case == key.0 && same_mode(*mode, key.1))
        {
            pairs.push(key);
        }
    }
    for (case, mode) in pairs {
        let find = |side: &str| {
            results
                .loads
                .iter()
                .rev()
                .find(|r| r.case == case && same_mode(r.mode, mode) && r.side == side)
        };
        let (Some(ours), Some(peer)) = (find("ours"), find("peer")) else {
            continue;
        };
        print_pair(case, mode, ours, peer);
    }
}

fn same_mode(a: LoadMode, b: LoadMode) -> bool {
    match (a, b) {
        (LoadMode::Rate(x), LoadMode::Rate(y)) => x == y,
        (LoadMode::Concurrency(x), LoadMode::Concurrency(y)) => x == y,
        _ => false,
    }
}

fn print_pair(case: &str, mode: LoadMode, ours: &CaseRecord, peer: &CaseRecord) {
    let title = if case.ends_with("cold") {
        "cold: no cache in either gateway"
    } else {
        "warm: our record cache, the peer's response cache"
    };
    let mode = match mode {
        LoadMode::Rate(rate) => format!("open loop at {rate} req/s"),
        LoadMode::Concurrency(concurrency) => format!("closed loop, {concurrency} connections"),
    };
    println!("### GHL-only contact with tasks and notes, {title} ({mode})\n");
    print_pair_table(ours, peer);
    print_pair_targets(ours, peer);
}

fn print_pair_table(ours: &CaseRecord, peer: &CaseRecord) {
    println!(
        "| gateway | req/s | p50 ms | p99 ms | failed | upstream calls/request | gateway CPU ms/request | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, run) in [("ours", ours), ("Hive Gateway", peer)] {
        println!(
            "| {name} | {:.1} | {:.2} | {:.2} | {} | {:.3} | {} | {} |",
            run.throughput_rps,
            run.p50_ms,
            run.p99_ms,
            run.failed,
            run.upstream_per_request,
            optional(cpu_ms(run, server_name(run)), 3),
            optional(peak_mib(run), 1),
        );
    }

    let ratio_of = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => ratio_text(a, b),
        _ => "-".to_string(),
    };
    println!(
        "| ours / peer | {} | {} | {} | - | {} | {} | {} |",
        ratio_text(ours.throughput_rps, peer.throughput_rps),
        ratio_text(ours.p50_ms, peer.p50_ms),
        ratio_text(ours.p99_ms, peer.p99_ms),
        ratio_text(ours.upstream_per_request, peer.upstream_per_request),
        ratio_of(cpu_ms(ours, "gateway"), cpu_ms(peer, "peer")),
        ratio_of(peak_mib(ours), peak_mib(peer)),
    );
    println!();

    let context = |name: &str| {
        format!(
            "{} (ours) and {} (peer)",
            optional(cpu_ms(ours, name), 3),
            optional(cpu_ms(peer, name), 3)
        )
    };
    println!(
        "CPU ms per request of the other processes on the same cores: GHL simulator {}, load generator {}.",
        context("ghl-sim"),
        context("generator")
    );
    println!();
}

fn print_pair_targets(ours: &CaseRecord, peer: &CaseRecord) {
    let throughput = if peer.throughput_rps > 0.0 {
        ours.throughput_rps / peer.throughput_rps
    } else {
        f64::INFINITY
    };
    println!(
        "Target: at least {THROUGHPUT_RATIO_TARGET:.0}x the peer's throughput: {} ({throughput:.2}x).",
        met(throughput >= THROUGHPUT_RATIO_TARGET)
    );
    if let (Some(ours_cpu), Some(peer_cpu)) = (cpu_ms(ours, "gateway"), cpu_ms(peer, "peer"))
        && ours_cpu > 0.0
        && peer_cpu > 0.0
    {
        println!(
            "Requests per CPU-second of the gateway process: ours {:.0}, peer {:.0} ({:.2}x).",
            1000.0 / ours_cpu,
            1000.0 / peer_cpu,
            peer_cpu / ours_cpu
        );
    }
    println!(
        "Target: no more upstream calls per request than the peer: {} ({:.3} vs {:.3}).",
        met(ours.upstream_per_request <= peer.upstream_per_request),
        ours.upstream_per_request,
        peer.upstream_per_request
    );
    if ours.failed > 0 || peer.failed > 0 {
        println!(
            "Failures: ours {:?}, peer {:?}.",
            ours.failures, peer.failures
        );
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_middle() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn ratio_text_handles_zero() {
        assert_eq!(ratio_text(3.0, 1.5), "2.00");
        assert_eq!(ratio_text(0.0, 0.0), "1.00");
        assert_eq!(ratio_text(1.0, 0.0), "-");
    }

    #[test]
    fn read_results_rejects_unknown_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        std::fs::write(&path, "{\"kind\":\"other\"}\n").unwrap();
        assert!(read_results(&path).is_err());
        std::fs::write(&path, "\n").unwrap();
        assert!(read_results(&path).is_ok());
    }
}
