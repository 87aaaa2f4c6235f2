#!/usr/bin/env bash
# A route.js built ahead of time (`aot = true`, weval) against the same file
# interpreted (the default): the tutorial's hello and search and a CPU-bound
# route (bench/js-aot/report), each kind in its own host, fresh instances,
# interleaved round by round, server CPU per request from /proc.
#
#   bench/js-aot.sh [SECONDS_PER_ROUND]     (default 5)
#
# ROUNDS (default 3) rounds per route at CONNS (default 16) connections.
# Writes bench/js-aot.md (bench/summarize.py, "× interpreted" columns) and
# prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND="${1:-5}"
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-16}"

scripts/setup.sh
cargo build --release -p wasmroutes -p loadgen
export WASMROUTES_WEVAL="$PWD/target/tools/bin/weval"
for kind in interpreted aot; do
    target/release/wasmroutes build "bench/js-aot/$kind.toml"
    # Compiled into the cache off the pinned core (tens of seconds of CPU).
    target/release/wasmroutes precompile "bench/js-aot/$kind.toml"
done

# shellcheck source=bench/lib.sh
. bench/lib.sh
SERVERS=(interpreted aot)
for kind in "${SERVERS[@]}"; do
    start "$kind" target/release/wasmroutes serve "bench/js-aot/$kind.toml" --addr 127.0.0.1:0
done
ROUTES=("GET /api/hello 200" "GET /api/search?q=rust&limit=5 200" "GET /api/report?n=2000 200" "GET /api/report 200")

ab_rounds "${SERVERS[@]}" "${ROUTES[@]}"

this="$(git rev-parse --short HEAD)"; git diff --quiet HEAD || this="$this with uncommitted changes"
built=bench/js-aot/.wasmroutes/build/report
sizes="report component: $(du -m --apparent-size "$built/route.js.wasm" | cut -f1) MB interpreted, $(du -m --apparent-size "$built/route.js.aot.wasm" | cut -f1) MB ahead of time"
BASELINE_SERVER=interpreted python3 bench/summarize.py "$RESULTS" "JavaScript ahead of time against interpreted, measured $(date -u +%Y-%m-%d) on this checkout ($this), $(nproc) cores ($(uname -r)), median of $ROUNDS interleaved rounds of ${SECONDS_PER_ROUND}s at $CONNS connections, fresh instances, server on CPU 0, load on CPU 1; $sizes." >bench/js-aot.md
cat bench/js-aot.md
