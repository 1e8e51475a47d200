#!/usr/bin/env bash
# Runs the gateway benchmarks on this machine and prints the figures of BENCHMARKS.md.
#
# Usage: bench/run.sh [--quick] [--latency-ms N] [--out DIR]
#   --quick         short phases and fewer runs, for a smoke test (under a minute after the build)
#   --latency-ms N  delay each simulator adds to every request (default 20)
#   --out DIR       where logs, configs and results.jsonl go (default target/bench/<UTC time>)
#   BATCH_DELAY_US  environment variable: the gateway's loaders.batch_delay_us (default 1000)
#
# It builds the release binary and the load generator (benches/load), starts both
# simulators, then for each case a fresh gateway or Hive Gateway peer, all on 127.0.0.1
# with ports picked by the OS. Every process it starts is stopped on exit, and every stage
# runs under a time limit. Nothing is sent to any other host.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEER_DIR="$ROOT/bench/peer-hive"
QUERIES="$ROOT/bench/queries"

QUICK=0
LATENCY_MS=20
OUT_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --latency-ms)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || { echo "error: --latency-ms needs a whole number of milliseconds" >&2; exit 2; }
      LATENCY_MS=$2; shift 2 ;;
    --out)
      [[ $# -ge 2 && -n "$2" ]] || { echo "error: --out needs a directory" >&2; exit 2; }
      OUT_DIR=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^#//; s/^ //'; exit 0 ;;
    *) echo "error: unknown argument $1: use --quick, --latency-ms N or --out DIR" >&2; exit 2 ;;
  esac
done

if [[ $QUICK -eq 1 ]]; then
  FRESH_RUNS=3          # fresh gateways per fan-out case; the median of their cold times is reported
  WARMUP_S=1
  DURATION_S=3
  HISTORY_RATES="200"
  COMPARE_CONCURRENCIES="32"
else
  FRESH_RUNS=5
  WARMUP_S=5
  DURATION_S=20
  HISTORY_RATES="200 1000 2000"
  # 32 connections as in the peer's own reference figures, and 256 to find each gateway's
  # ceiling rather than the ceiling that latency sets (connections / latency).
  COMPARE_CONCURRENCIES="32 256"
fi
# The gateway's default: at most 100 ids in one Casebook id-batch request
# (upstream.casebook_max_ids_per_request). Only the expected count uses it.
CASEBOOK_BATCH_SIZE=100
API_KEY="bench-key"
GHL_TOKEN="ghl-sim-token"

OUT_DIR=${OUT_DIR:-"$ROOT/target/bench/$(date -u +%Y%m%dT%H%M%SZ)"}
LOG_DIR="$OUT_DIR/logs"
RESULTS="$OUT_DIR/results.jsonl"
mkdir -p "$LOG_DIR"
: > "$RESULTS"

# ---------------------------------------------------------------- processes

STARTED_PIDS=()

# Stops one process: TERM, then KILL if it is still there after 5 seconds.
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    stop_pid "$pid"
  done
  STARTED_PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local pid=$1 kept=() other
  for other in "${STARTED_PIDS[@]}"; do
    [[ "$other" == "$pid" ]] || kept+=("$other")
  done
  STARTED_PIDS=("${kept[@]}")
}

# start NAME DIR COMMAND...: runs COMMAND in DIR in the background, output to $LOG_DIR/NAME.log.
# Sets STARTED_PID.
start() {
  local name=$1 dir=$2
  shift 2
  (cd "$dir" && exec "$@") > "$LOG_DIR/$name.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
}

stop() {
  stop_pid "$1"
  forget_pid "$1"
}

# wait_for_line PID LOGFILE REGEX SECONDS: prints the first match of REGEX in LOGFILE,
# failing when PID exits or SECONDS pass first.
wait_for_line() {
  local pid=$1 log=$2 regex=$3 seconds=$4 match
  for _ in $(seq $((seconds * 10))); do
    match=$(grep -Eo "$regex" "$log" 2>/dev/null | head -n 1 || true)
    if [[ -n "$match" ]]; then
      echo "$match"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: process $pid stopped before printing /$regex/; its log $log ends with:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "error: process $pid did not print /$regex/ within ${seconds}s; see $log" >&2
  return 1
}

# listening_port PID SECONDS: the TCP port PID listens on (Hive Gateway does not print the
# port it got for --port 0).
listening_port() {
  local pid=$1 seconds=$2 port
  for _ in $(seq $((seconds * 10))); do
    port=$(ss -ltnpH 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | sed 's/.*://' | head -n 1 || true)
    if [[ -n "$port" ]]; then
      echo "$port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "error: process $pid stopped; see its log" >&2; return 1; }
    sleep 0.1
  done
  echo "error: process $pid did not listen on a TCP port within ${seconds}s" >&2
  return 1
}

# ---------------------------------------------------------------- build

step() { printf '\n== %s\n' "$*"; }

step "Building the gateway and the load generator (release)"
cd "$ROOT"
timeout 3600 cargo build --release --quiet
LOAD=$(timeout 3600 cargo bench --bench load --no-run --message-format=json 2>/dev/null \
  | grep '"name":"load",' | grep -o '"executable":"[^"]*"' | sed 's/"executable":"//; s/"$//' | tail -n 1)
[[ -x "$LOAD" ]] || { echo "error: could not find the load generator executable" >&2; exit 1; }
GATEWAY_BIN="$ROOT/target/release/casebook-ghl-gateway"

if [[ ! -d "$PEER_DIR/node_modules" ]]; then
  step "Installing the Hive Gateway peer (npm ci)"
  (cd "$PEER_DIR" && timeout 900 npm ci --no-audit --no-fund)
fi

# ---------------------------------------------------------------- environment

step "Machine and software"
{
  echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M')"
  echo "cpus: $(nproc)"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
  echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "kernel: $(uname -sr)"
  echo "rustc: $(rustc --version)"
  echo "gateway: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (with uncommitted changes)')"
  echo "node: $(node --version)"
  echo "hive gateway: $(node -p "require('$PEER_DIR/node_modules/@graphql-hive/gateway/package.json').version")"
  echo "simulator latency: ${LATENCY_MS} ms per request"
  echo "mode: $([[ $QUICK -eq 1 ]] && echo quick || echo full)"
} | tee "$OUT_DIR/environment.txt"

# ---------------------------------------------------------------- simulators

step "Starting the simulators (${LATENCY_MS} ms latency)"
start ghl-sim "$ROOT" "$GATEWAY_BIN" simulate ghl --listen 127.0.0.1:0 --latency-ms "$LATENCY_MS"
GHL_SIM_PID=$STARTED_PID
start casebook-sim "$ROOT" "$GATEWAY_BIN" simulate casebook --listen 127.0.0.1:0 --latency-ms "$LATENCY_MS"
CASEBOOK_SIM_PID=$STARTED_PID
GHL_SIM=$(wait_for_line "$GHL_SIM_PID" "$LOG_DIR/ghl-sim.log" 'http://127\.0\.0\.1:[0-9]+' 30)
CASEBOOK_SIM=$(wait_for_line "$CASEBOOK_SIM_PID" "$LOG_DIR/casebook-sim.log" 'http://127\.0\.0\.1:[0-9]+' 30)
GHL_PORT=${GHL_SIM##*:}
echo "GHL simulator $GHL_SIM, Casebook simulator $CASEBOOK_SIM"
# The simulator returns 429 past GHL's 100 requests per 10 s, as GHL does. The peer has no
# limiter, so the simulator's quota is lifted and each gateway's own limit applies instead.
curl -sf -X PUT -H 'Content-Type: application/json' -d '{"max": 100000000, "daily_limit": 100000000000}' \
  "$GHL_SIM/_sim/ratelimit" > /dev/null \
  || { echo "error: could not lift the GHL simulator's rate limit at $GHL_SIM/_sim/ratelimit" >&2; exit 1; }
SIMS=(--sim "ghl=$GHL_SIM" --sim "casebook=$CASEBOOK_SIM")
# CPU time and memory of the simulators are recorded next to the server's, for context.
SIM_PIDS=(--pid "ghl-sim=$GHL_SIM_PID" --pid "casebook-sim=$CASEBOOK_SIM_PID" --clock-ticks "$(getconf CLK_TCK)")

# ---------------------------------------------------------------- gateway

# write_config FILE CACHE_ENABLED GHL_LIMITER_ENABLED
write_config() {
  cat > "$1" <<EOF
listen = "127.0.0.1:0"
[database]
url = "sqlite::memory:"
[linking]
reconcile_interval_s = 0
[upstream]
casebook_max_ids_per_request = $CASEBOOK_BATCH_SIZE
[upstream.ghl_limits]
enabled = $3
requests = 100
window_ms = 10000
[cache]
enabled = $2
[loaders]
batch_delay_us = ${BATCH_DELAY_US:-1000}
[tenants.bench]
api_keys = ["$API_KEY"]
[tenants.bench.casebook]
base_url = "$CASEBOOK_SIM"
token = "casebook-sim-token"
[tenants.bench.ghl]
base_url = "$GHL_SIM"
location_id = "SimLocation000000001"
token = "$GHL_TOKEN"
EOF
}

# GHL allows 100 requests per 10 s per location, and the gateway waits rather than exceed it.
GHL_LIMITER_ON=true
# The peer has no limiter, so the head-to-head throughput cases turn ours off (and the
# simulator's quota is lifted above) to compare the two engines rather than the quota.
# Raising `requests` is not enough, because the limiter also follows the X-RateLimit-*
# headers that the simulator sends.
GHL_LIMITER_LIFTED=false
write_config "$OUT_DIR/gateway-cache.toml" true "$GHL_LIMITER_ON"
write_config "$OUT_DIR/gateway-nocache-unlimited.toml" false "$GHL_LIMITER_LIFTED"
write_config "$OUT_DIR/gateway-cache-unlimited.toml" true "$GHL_LIMITER_LIFTED"

GATEWAY_COUNT=0
# start_gateway CONFIG: sets GATEWAY_PID and GATEWAY_URL once the gateway serves.
start_gateway() {
  GATEWAY_COUNT=$((GATEWAY_COUNT + 1))
  local name="gateway-$GATEWAY_COUNT"
  start "$name" "$ROOT" "$GATEWAY_BIN" serve --config "$1"
  GATEWAY_PID=$STARTED_PID
  GATEWAY_URL=$(wait_for_line "$GATEWAY_PID" "$LOG_DIR/$name.log" 'http://127\.0\.0\.1:[0-9]+/graphql' 60)
}

# ---------------------------------------------------------------- peer

step "Composing the peer's supergraph (PEER_VARIANT=linked, GHL on port $GHL_PORT)"
mkdir -p "$PEER_DIR/build"
(cd "$PEER_DIR" && PEER_VARIANT=linked GHL_PORT="$GHL_PORT" timeout 300 \
  node_modules/.bin/mesh-compose -o build/supergraph.graphql) > "$LOG_DIR/peer-compose.log" 2>&1 \
  || { echo "error: composing the peer failed; see $LOG_DIR/peer-compose.log" >&2; exit 1; }

PEER_COUNT=0
# start_peer RESPONSE_CACHE(0|1): sets PEER_PID and PEER_URL once Hive Gateway listens.
start_peer() {
  PEER_COUNT=$((PEER_COUNT + 1))
  local name="peer-$PEER_COUNT"
  start "$name" "$PEER_DIR" env PEER_RESPONSE_CACHE="$1" \
    node node_modules/@graphql-hive/gateway/dist/bin.js supergraph build/supergraph.graphql \
    --host 127.0.0.1 --port 0
  # `env` execs node, so the pid is node's own.
  PEER_PID=$STARTED_PID
  wait_for_line "$PEER_PID" "$LOG_DIR/$name.log" 'Listening on' 60 > /dev/null
  PEER_URL="http://127.0.0.1:$(listening_port "$PEER_PID" 30)/graphql"
}

# ---------------------------------------------------------------- cases

# Time limit of one load case: warm-up, measured phase and a minute for the rest.
CASE_LIMIT_S=$((WARMUP_S + DURATION_S + 60))

for first in 30 50; do
  step "contacts(first: $first): upstream requests and cold wall time, $FRESH_RUNS fresh gateways"
  for _ in $(seq "$FRESH_RUNS"); do
    # Each fresh gateway starts with a fresh GHL quota: the limiter counts requests that
    # GHL reports beyond its own as another replica's, and would make this one wait.
    curl -sf -X DELETE "$GHL_SIM/_sim/ratelimit" > /dev/null
    start_gateway "$OUT_DIR/gateway-cache.toml"
    # 50 contacts need more than GHL's 100 calls per 10 s, so that query takes over 10 s.
    timeout 120 "$LOAD" fanout --case "fanout-$first" --first "$first" \
      --url "$GATEWAY_URL" --auth "Bearer $API_KEY" --timeout-ms 60000 \
      --query-file "$QUERIES/contacts-fanout.graphql" \
      --ghl-sim "$GHL_SIM" --casebook-sim "$CASEBOOK_SIM" \
      --casebook-batch-size "$CASEBOOK_BATCH_SIZE" --out "$RESULTS"
    stop "$GATEWAY_PID"
  done
done

step "Warm contact(id) { history(first: 20) } at fixed rates: $HISTORY_RATES req/s"
start_gateway "$OUT_DIR/gateway-cache.toml"
timeout 60 "$LOAD" contact-ids --url "$GATEWAY_URL" --auth "Bearer $API_KEY" --count 10 \
  > "$OUT_DIR/history-ids.json"
for rate in $HISTORY_RATES; do
  timeout "$CASE_LIMIT_S" "$LOAD" run --case history-warm --rate "$rate" \
    --warmup-s "$WARMUP_S" --duration-s "$DURATION_S" \
    --url "$GATEWAY_URL" --auth "Bearer $API_KEY" \
    --query-file "$QUERIES/contact-history.graphql" --variables-file "$OUT_DIR/history-ids.json" \
    "${SIMS[@]}" "${SIM_PIDS[@]}" --pid "gateway=$GATEWAY_PID" --out "$RESULTS"
done
stop "$GATEWAY_PID"

"$LOAD" ghl-only-ids --count 10 > "$OUT_DIR/ghl-only-ids.json"

# compare CASE CONCURRENCY GATEWAY_CONFIG PEER_RESPONSE_CACHE: one GHL-only case through
# both gateways, each freshly started.
compare() {
  local case=$1 concurrency=$2 config=$3 peer_cache=$4
  start_gateway "$config"
  timeout "$CASE_LIMIT_S" "$LOAD" run --case "$case" --side ours --concurrency "$concurrency" \
    --warmup-s "$WARMUP_S" --duration-s "$DURATION_S" \
    --url "$GATEWAY_URL" --auth "Bearer $API_KEY" --check gateway \
    --query-file "$QUERIES/ghl-contact-ours.graphql" --variables-file "$OUT_DIR/ghl-only-ids.json" \
    "${SIMS[@]}" "${SIM_PIDS[@]}" --pid "gateway=$GATEWAY_PID" --out "$RESULTS"
  stop "$GATEWAY_PID"

  start_peer "$peer_cache"
  timeout "$CASE_LIMIT_S" "$LOAD" run --case "$case" --side peer --concurrency "$concurrency" \
    --warmup-s "$WARMUP_S" --duration-s "$DURATION_S" \
    --url "$PEER_URL" --auth "Bearer $GHL_TOKEN" --check peer \
    --query-file "$QUERIES/ghl-contact-peer.graphql" --variables-file "$OUT_DIR/ghl-only-ids.json" \
    "${SIMS[@]}" "${SIM_PIDS[@]}" --pid "peer=$PEER_PID" --out "$RESULTS"
  stop "$PEER_PID"
}

for concurrency in $COMPARE_CONCURRENCIES; do
  step "GHL-only contact with tasks and notes, cold, $concurrency connections: our gateway without cache vs Hive Gateway"
  compare ghl-only-cold "$concurrency" "$OUT_DIR/gateway-nocache-unlimited.toml" 0

  step "GHL-only contact with tasks and notes, warm, $concurrency connections: our record cache vs Hive Gateway's response cache"
  compare ghl-only-warm "$concurrency" "$OUT_DIR/gateway-cache-unlimited.toml" 1
done

# ---------------------------------------------------------------- report

step "Report"
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT_DIR/environment.txt"
"$LOAD" report "$RESULTS" --latency-ms "$LATENCY_MS" | tee "$OUT_DIR/report.md"
echo
echo "Results: $RESULTS"
echo "Report:  $OUT_DIR/report.md"
echo "Logs:    $LOG_DIR"
