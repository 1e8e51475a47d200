//! Load generator and report printer for `bench/run.sh`.
//!
//! Every subcommand talks to loopback addresses only (a URL with any other host is
//! rejected), and every loop is bounded in time and in request count. Measured cases are
//! appended as JSON lines to the file given with `--out`, and `report` turns that file into
//! the tables of BENCHMARKS.md.
//!
//! Run it through cargo (`cargo bench --bench load -- <subcommand> ...`) or call the built
//! executable directly, as `bench/run.sh` does.

// Cargo compiles bench targets with `cfg(test)`, but without the test harness nothing
// calls the `#[test]` functions here; `benches/load_unit.rs` runs them.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod check;
mod fanout;
mod ids;
mod load;
mod process;
mod report;
mod target;
mod upstream;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{
    check::BodyCheck,
    load::{LoadMode, LoadOptions},
    target::{GraphqlTarget, NamedPid, NamedUrl},
};

/// Load generator and report printer for the gateway benchmarks (loopback only).
#[derive(Parser)]
#[command(name = "load")]
struct Cli {
    /// Worker threads of the generator's tokio runtime.
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send one query at a fixed rate (open loop) or fixed concurrency (closed loop), check
    /// every response and record latency, throughput and upstream calls.
    Run(RunArgs),
    /// Run `contacts(first: N)` with every child list once cold and once warm, and record the
    /// upstream requests of each against the expected formula.
    Fanout(FanoutArgs),
    /// Print `[{"id": ...}]` variables for the gateway's contact ids of the first page.
    ContactIds(ContactIdsArgs),
    /// Print `[{"id": ...}]` variables for GHL contacts that exist in GHL only in the seeded
    /// data set, so reading them needs no Casebook call.
    GhlOnlyIds(GhlOnlyIdsArgs),
    /// Print the tables of a results file and whether each target is met.
    Report(ReportArgs),
}

#[derive(Args)]
struct TargetArgs {
    /// GraphQL endpoint on a loopback address, such as http://127.0.0.1:4000/graphql.
    #[arg(long)]
    url: String,
    /// Value of the Authorization header, such as "Bearer bench-key".
    #[arg(long)]
    auth: String,
    /// Time allowed for one request, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Name of the case in the results file, such as "ghl-only-cold".
    #[arg(long)]
    case: String,
    /// Gateway that served the case: "ours" or "peer".
    #[arg(long, default_value = "ours")]
    side: String,
    /// File holding the GraphQL query.
    #[arg(long)]
    query_file: PathBuf,
    /// File holding a JSON array of variable objects; request i uses entry i modulo its length.
    #[arg(long)]
    variables_file: Option<PathBuf>,
    /// Rules that decide which response bodies count as failures.
    #[arg(long, value_enum, default_value_t = BodyCheck::Gateway)]
    check: BodyCheck,
    /// Requests per second, sent on schedule whatever the latency (open loop).
    #[arg(long, conflicts_with = "concurrency")]
    rate: Option<f64>,
    /// Requests in flight at all times (closed loop).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Length of the measured phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration_s: f64,
    /// Length of the unmeasured phase before it, in seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup_s: f64,
    /// Maximum requests in flight in open-loop mode; later requests wait, and the wait
    /// counts in their latency.
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Maximum requests of one phase, whatever the duration.
    #[arg(long, default_value_t = 1_000_000)]
    max_requests: u64,
    /// Simulator whose /_sim/stats is reset before and read after the measured phase, as
    /// NAME=URL (repeatable).
    #[arg(long = "sim")]
    sims: Vec<NamedUrl>,
    /// Process whose peak resident memory (VmHWM) is read after the measured phase, as
    /// NAME=PID (repeatable).
    #[arg(long = "pid")]
    pids: Vec<NamedPid>,
    /// The kernel's USER_HZ, the unit of CPU times in /proc (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clock_ticks: u32,
    /// Results file (JSON lines) to append to.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct FanoutArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Name of the case in the results file, such as "fanout-30".
    #[arg(long)]
    case: String,
    /// Page size of the contacts query.
    #[arg(long, default_value_t = 30)]
    first: u32,
    /// File holding the query; it takes `$first` and selects casebook, ghl and child ids.
    #[arg(long)]
    query_file: PathBuf,
    /// GHL simulator base URL.
    #[arg(long)]
    ghl_sim: String,
    /// Casebook simulator base URL.
    #[arg(long)]
    casebook_sim: String,
    /// Casebook ids per batched request, used only for the expected count.
    #[arg(long)]
    casebook_batch_size: u32,
    /// Skip the warm repetition (for fresh-gateway timing runs).
    #[arg(long)]
    cold_only: bool,
    /// Results file (JSON lines) to append to.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct ContactIdsArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// How many contact ids to print.
    #[arg(long, default_value_t = 10)]
    count: u32,
}

#[derive(Args)]
struct GhlOnlyIdsArgs {
    /// Seed of the simulators' data set.
    #[arg(long, default_value_t = casebook_ghl_gateway::sim::seed::DEFAULT_SEED)]
    seed: u64,
    /// Number of people in the simulators' data set.
    #[arg(long, default_value_t = casebook_ghl_gateway::sim::seed::DEFAULT_PEOPLE)]
    people: usize,
    /// How many ids to print.
    #[arg(long, default_value_t = 10)]
    count: usize,
}

#[derive(Args)]
struct ReportArgs {
    /// Results file written by `run` and `fanout`.
    results: PathBuf,
    /// Simulator latency of the run, in milliseconds (for the wall-time target).
    #[arg(long)]
    latency_ms: u64,
}

fn main() -> ExitCode {
    // `cargo bench` appends `--bench` to the arguments of a harness-less target.
    let args = std::env::args().filter(|arg| arg != "--bench");
    let cli = Cli::parse_from(args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => {
            let target =
                GraphqlTarget::new(&args.target.url, &args.target.auth, timeout(&args.target))?;
            let mode = match (args.rate, args.concurrency) {
                (Some(rate), None) => LoadMode::rate(rate)?,
                (None, Some(concurrency)) => LoadMode::concurrency(concurrency)?,
                _ => anyhow::bail!("pass exactly one of --rate and --concurrency"),
            };
            if args.clock_ticks == 0 {
                anyhow::bail!("invalid --clock-ticks 0: pass the output of `getconf CLK_TCK`");
            }
            let options = LoadOptions::new(
                mode,
                args.duration_s,
                args.warmup_s,
                args.max_in_flight,
                args.max_requests,
            )?;
            load::run_case(load::CaseSpec {
                case: args.case,
                side: args.side,
                target,
                query_file: args.query_file,
                variables_file: args.variables_file,
                check: args.check,
                options,
                sims: args.sims,
                pids: args.pids,
                clock_ticks: args.clock_ticks,
                out: args.out,
            })
            .await
        }
        Command::Fanout(args) => {
            let target =
                GraphqlTarget::new(&args.target.url, &args.target.auth, timeout(&args.target))?;
            fanout::run(fanout::FanoutSpec {
                case: args.case,
                target,
                first: args.first,
                query_file: args.query_file,
                ghl_sim: NamedUrl::new("ghl", &args.ghl_sim)?,
                casebook_sim: NamedUrl::new("casebook", &args.casebook_sim)?,
                casebook_batch_size: args.casebook_batch_size,
                cold_only: args.cold_only,
                out: args.out,
            })
            .await
        }
        Command::ContactIds(args) => {
            let target =
                GraphqlTarget::new(&args.target.url, &args.target.auth, timeout(&args.target))?;
            ids::print_contact_ids(&target, args.count).await
        }
        Command::GhlOnlyIds(args) => ids::print_ghl_only_ids(args.seed, args.people, args.count),
        Command::Report(args) => report::print(&args.results, args.latency_ms),
    }
}

fn timeout(args: &TargetArgs) -> Duration {
    Duration::from_millis(args.timeout_ms.max(1))
}
