#!/usr/bin/env bash
# Throughput and latency of wasmroutes against a native hyper baseline,
# measured interleaved in one run on the same machine.
#
#   bench/run.sh [SECONDS_PER_ROUND]      (default 5)
#   BASELINE="REV..." bench/run.sh        also each REV's host (bench/baseline.sh),
#                                         fresh and reuse, on the same guests
#   ROUTES_MATCH=REGEX bench/run.sh       only the routes whose line matches
#
# "floor" is hello built without WASI imports (bench/floor-hello), GET
# /api/hello rows only: what an import-light route could reach.
#
# ROUNDS (default 3) rounds per server, route and connection count; the
# table shows each figure's median over its rounds (bench/summarize.py).
#
# Then measures start-up (bench/startup.py: time to first answer and RSS with
# STARTUP_COUNTS routes, default "1 100 1000", cold and from the compile
# cache) and appends its table to the results. SKIP_STARTUP=1 skips that part
# (the cold compile of 1,000 routes takes a minute or more).
#
# Every server runs pinned to CPU 0 and bench/loadgen to CPU 1. For each
# route and connection count, each server gets one round in turn, ROUNDS
# times over, so machine noise hits all of them alike. Besides req/s and
# latency it records each server's CPU time per request (/proc/PID/stat).
# Writes bench/results.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND="${1:-5}"
ROUNDS="${ROUNDS:-3}"

scripts/setup.sh
cargo build --release -p wasmroutes -p loadgen -p native-baseline
cargo build --release --target wasm32-wasip2 -p hello -p posts -p posts-id -p users -p search -p user-id -p todos -p docs-slug -p shop-slug
# hello without WASI imports (bench/floor-hello), for the floor figures.
bench/floor-hello/build.sh

if command -v taskset >/dev/null; then PIN0="taskset -c 0"; PIN1="taskset -c 1"; else PIN0=""; PIN1=""; fi
WORK="$(mktemp -d)"
revs=""
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# start NAME COMMAND...: runs a server on 127.0.0.1:0, waits for its address.
start() {
    local name="$1"; shift
    RUST_LOG=warn $PIN0 "$@" 2>"$WORK/$name.log" &
    PIDS+=($!)
    echo $! >"$WORK/$name.pid"
    for _ in $(seq 300); do grep -q "listening on" "$WORK/$name.log" && break; sleep 0.1; done
    sed -n 's/.*listening on http:\/\///p' "$WORK/$name.log" >"$WORK/$name.addr"
    [ -s "$WORK/$name.addr" ] || { cat "$WORK/$name.log"; exit 1; }
}

start native target/release/native-baseline 127.0.0.1:0
start fresh target/release/wasmroutes serve sample-routes/routes.toml --addr 127.0.0.1:0
start reuse target/release/wasmroutes serve bench/reuse-routes.toml --addr 127.0.0.1:0
start floor target/release/wasmroutes serve bench/floor-routes.toml --addr 127.0.0.1:0
SERVERS=(native fresh reuse floor)
for baseline in ${BASELINE:-}; do
    base="$(bench/baseline.sh "$baseline")"
    rev="$(cd "$base" && git rev-parse --short HEAD)"
    revs="${revs:+$revs, }$rev"
    start "fresh@$rev" "$base/target/release/wasmroutes" serve sample-routes/routes.toml --addr 127.0.0.1:0
    start "reuse@$rev" "$base/target/release/wasmroutes" serve bench/reuse-routes.toml --addr 127.0.0.1:0
    SERVERS+=("fresh@$rev" "reuse@$rev")
done

ROUTES=(
    "GET /api/hello 200"
    "GET /api/posts/42 200"
    'POST /api/users 201 {"name":"Ada","email":"ada@example.com"}'
    "GET /api/search?q=rust&limit=5 200"
)
if [ -n "${ROUTES_MATCH:-}" ]; then
    matching=()
    for route in "${ROUTES[@]}"; do [[ "$route" =~ $ROUTES_MATCH ]] && matching+=("$route"); done
    ROUTES=("${matching[@]}")
fi

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$(cat "$WORK/$1.pid")/status"; }
# cpu_ticks NAME: the server's user and system CPU time so far, in clock ticks.
cpu_ticks() { awk '{print $14, $15}' "/proc/$(cat "$WORK/$1.pid")/stat"; }

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
for conns in 64 1; do
    for route in "${ROUTES[@]}"; do
        echo "1 $route" >"$WORK/mix.txt"
        for round in $(seq "$ROUNDS"); do
            for server in "${SERVERS[@]}"; do
                # floor-hello answers /api/hello only.
                [ "$server" = floor ] && [ "$route" != "GET /api/hello 200" ] && continue
                echo "load $(cut -d' ' -f1-3 /proc/loadavg) | $server | $conns conns | $route | round $round/$ROUNDS"
                # A short warm-up per round keeps the previous server's caches out.
                $PIN1 target/release/loadgen --addr "$(cat "$WORK/$server.addr")" --connections "$conns" \
                    --duration 0.5s --mix "$WORK/mix.txt" >/dev/null
                read -r user0 sys0 < <(cpu_ticks "$server")
                out="$($PIN1 target/release/loadgen --addr "$(cat "$WORK/$server.addr")" --connections "$conns" \
                    --duration "${SECONDS_PER_ROUND}s" --mix "$WORK/mix.txt")"
                read -r user1 sys1 < <(cpu_ticks "$server")
                line="$(echo "$out" | sed -n 2p)"
                echo "  $(echo "$out" | head -1) $line"
                echo "$out" | head -1 | grep -q "unexpected=0 io_errors=0" || { echo "FAIL: errors under load"; exit 1; }
                requests="$(echo "$out" | head -1 | sed 's/requests=\([0-9]*\).*/\1/')"
                rps="$(echo "$line" | sed 's/.*rps=\([0-9]*\).*/\1/')"
                p50="$(echo "$line" | sed 's/.*p50_ms=\([0-9.]*\).*/\1/')"
                p99="$(echo "$line" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "${route% *}" "$server" "$round" \
                    "$rps" "$p50" "$p99" "$(rss_kib "$server")" "$((user1 - user0))" "$((sys1 - sys0))" "$requests" >>"$RESULTS"
            done
        done
    done
done

this="$(git rev-parse --short HEAD)"; git diff --quiet HEAD || this="$this with uncommitted changes"
python3 bench/summarize.py "$RESULTS" "Measured $(date -u +%Y-%m-%d) on this checkout ($this)${revs:+ and, as fresh@REV / reuse@REV, the host of $revs on the same guests}, $(nproc) cores ($(uname -r)), median of $ROUNDS interleaved rounds of ${SECONDS_PER_ROUND}s, server on CPU 0, load on CPU 1." >bench/results.md

if [ "${SKIP_STARTUP:-0}" != 1 ]; then
    echo "load $(cut -d' ' -f1-3 /proc/loadavg) | start-up"
    # shellcheck disable=SC2086 # STARTUP_COUNTS is a list of numbers
    python3 bench/startup.py ${STARTUP_COUNTS:-1 100 1000} | tee "$WORK/startup.txt"
    {
        echo
        echo "Start-up ($(date -u +%Y-%m-%d), bench/startup.py): first 200 answer after process start, and RSS then."
        # The table and the per-route line follow the progress lines' blank line.
        sed -n '/^$/,$p' "$WORK/startup.txt"
    } >>bench/results.md
fi
cat bench/results.md
