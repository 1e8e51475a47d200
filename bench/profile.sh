#!/usr/bin/env bash
# Samples where the gateway spends its CPU under the GHL-only load of bench/run.sh.
#
# Usage: bench/profile.sh [--cache true|false] [--seconds N]
#   --cache    the gateway's record cache (default true, the warm case)
#   --seconds  length of the perf sample (default 6)
#
# Needs a built release binary and load generator (run bench/run.sh --quick once) and
# Linux perf. It starts both simulators (20 ms latency) and one gateway on 127.0.0.1,
# drives 32 connections at it, samples the gateway with `perf record -F 999` and prints
# the flat profile by thread, by library and by symbol. Every process it starts is
# stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=true
SECONDS_SAMPLED=6
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache)
      [[ $# -ge 2 && ( "$2" == true || "$2" == false ) ]] || { echo "error: --cache takes true or false" >&2; exit 2; }
      CACHE=$2; shift 2 ;;
    --seconds)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]?$ ]] || { echo "error: --seconds takes 1 to 99" >&2; exit 2; }
      SECONDS_SAMPLED=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^#//; s/^ //'; exit 0 ;;
    *) echo "error: unknown argument $1: use --cache true|false or --seconds N" >&2; exit 2 ;;
  esac
done
command -v perf > /dev/null || { echo "error: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }

GATEWAY_BIN="$ROOT/target/release/casebook-ghl-gateway"
LOAD=$(cd "$ROOT" && timeout 1800 cargo bench --bench load --no-run --message-format=json 2>/dev/null \
  | grep '"name":"load",' | grep -o '"executable":"[^"]*"' | sed 's/"executable":"//; s/"$//' | tail -n 1)
[[ -x "$GATEWAY_BIN" && -x "$LOAD" ]] || { echo "error: build first with bench/run.sh --quick or cargo build --release" >&2; exit 1; }

OUT=$(mktemp -d)
STARTED_PIDS=()
cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# address_in LOGFILE REGEX: waits up to 30 s for REGEX in LOGFILE and prints the match.
address_in() {
  local match
  for _ in $(seq 300); do
    match=$(grep -Eo "$2" "$1" 2>/dev/null | head -n 1 || true)
    [[ -n "$match" ]] && { echo "$match"; return 0; }
    sleep 0.1
  done
  echo "error: nothing matched /$2/ in $1 within 30 s" >&2
  return 1
}

"$GATEWAY_BIN" simulate ghl --listen 127.0.0.1:0 --latency-ms 20 > "$OUT/ghl-sim.log" 2>&1 &
STARTED_PIDS+=($!)
"$GATEWAY_BIN" simulate casebook --listen 127.0.0.1:0 --latency-ms 20 > "$OUT/casebook-sim.log" 2>&1 &
STARTED_PIDS+=($!)
GHL_SIM=$(address_in "$OUT/ghl-sim.log" 'http://127\.0\.0\.1:[0-9]+')
CASEBOOK_SIM=$(address_in "$OUT/casebook-sim.log" 'http://127\.0\.0\.1:[0-9]+')
# The simulator returns 429 past GHL's quota. This load measures the gateway, not the quota.
curl -sf -X PUT -H 'Content-Type: application/json' -d '{"max": 100000000, "daily_limit": 100000000000}' \
  "$GHL_SIM/_sim/ratelimit" > /dev/null \
  || { echo "error: could not lift the GHL simulator's rate limit at $GHL_SIM/_sim/ratelimit" >&2; exit 1; }

cat > "$OUT/gateway.toml" <<EOF
listen = "127.0.0.1:0"
[database]
url = "sqlite::memory:"
[linking]
reconcile_interval_s = 0
[upstream.ghl_limits]
enabled = false
[cache]
enabled = $CACHE
[tenants.bench]
api_keys = ["bench-key"]
[tenants.bench.casebook]
base_url = "$CASEBOOK_SIM"
token = "casebook-sim-token"
[tenants.bench.ghl]
base_url = "$GHL_SIM"
location_id = "SimLocation000000001"
token = "ghl-sim-token"
EOF
"$GATEWAY_BIN" serve --config "$OUT/gateway.toml" > "$OUT/gateway.log" 2>&1 &
GATEWAY_PID=$!
STARTED_PIDS+=("$GATEWAY_PID")
GATEWAY_URL=$(address_in "$OUT/gateway.log" 'http://127\.0\.0\.1:[0-9]+/graphql')

"$LOAD" ghl-only-ids --count 10 > "$OUT/ids.json"
# The load runs 2 s of warm-up, then long enough to cover the sample.
timeout 300 "$LOAD" run --case profile --concurrency 32 --warmup-s 2 --duration-s $((SECONDS_SAMPLED + 4)) \
  --url "$GATEWAY_URL" --auth "Bearer bench-key" \
  --query-file "$ROOT/bench/queries/ghl-contact-ours.graphql" --variables-file "$OUT/ids.json" \
  --pid "gateway=$GATEWAY_PID" --out "$OUT/results.jsonl" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 4
timeout 120 perf record -F 999 -p "$GATEWAY_PID" -o "$OUT/perf.data" -- sleep "$SECONDS_SAMPLED" 2> "$OUT/perf.log"
wait "$LOAD_PID"

for key in comm dso symbol; do
  echo
  echo "== samples by $key (top 25)"
  perf report -i "$OUT/perf.data" --no-children --sort "$key" --stdio 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -n 25 | cut -c1-160
done
echo
echo "perf data and logs: $OUT"
