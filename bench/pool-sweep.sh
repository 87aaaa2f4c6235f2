#!/usr/bin/env bash
# How the pool's reset settings (runtime/pool_tuning.rs, set per server with
# WASMROUTES_POOL_TUNING) change the cost of a fresh request, per kind of
# component: the Rust hello (sample-routes/hello, 192 KiB of memory) and the
# JavaScript hello (sample-routes/js, a componentize-js snapshot of about
# 12 MiB), each served fresh by one host per setting, beside the native
# baseline, interleaved round by round.
#
#   bench/pool-sweep.sh [SECONDS_PER_ROUND]     (default 5)
#   RUST_SETTINGS="SPEC;SPEC" JS_SETTINGS=…     other settings than the default list
#
# Each SPEC is a WASMROUTES_POOL_TUNING value ("" = the host's defaults).
# ROUNDS (default 3) rounds of GET /api/hello at CONNS (default 64)
# connections; the table (bench/summarize.py) shows the medians, CPU µs per
# request and the server's RSS. Writes bench/pool-sweep.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND="${1:-5}"
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-64}"
RUST_SETTINGS="${RUST_SETTINGS-;memory_keep_resident=0;memory_keep_resident=128KiB;memory_keep_resident=1MiB;table_keep_resident=0;table_lazy_init=false;pagemap_scan=on;decommit_batch_size=16}"
JS_SETTINGS="${JS_SETTINGS-;memory_keep_resident=2MiB;memory_keep_resident=8MiB;table_keep_resident=1MiB;table_lazy_init=false;table_lazy_init=false,table_keep_resident=1MiB;pagemap_scan=on;decommit_batch_size=16}"

scripts/setup.sh
cargo build --release -p wasmroutes -p loadgen -p native-baseline
cargo build --release --target wasm32-wasip2 -p hello
target/release/wasmroutes build sample-routes/js/routes.toml

# shellcheck source=bench/lib.sh
. bench/lib.sh
printf '[[route]]\npath = "/api/hello"\ncomponent = "%s"\n' \
    "$PWD/target/wasm32-wasip2/release/hello.wasm" >"$WORK/rust.toml"
printf '[[route]]\npath = "/api/hello"\ncomponent = "%s"\n' \
    "$PWD/sample-routes/js/.wasmroutes/build/app/api/hello/route.js.wasm" >"$WORK/js.toml"
[ -f "$PWD/sample-routes/js/.wasmroutes/build/app/api/hello/route.js.wasm" ] || {
    echo "bench/pool-sweep.sh: no built JS hello under sample-routes/js/.wasmroutes/build" >&2; exit 1; }

SERVERS=(native)
start native target/release/native-baseline 127.0.0.1:0
# start_kind KIND SETTINGS: one host per setting, named "KIND: SPEC".
start_kind() {
    local kind="$1" spec name
    IFS=';' read -r -a specs <<<"$2"
    for spec in "${specs[@]}"; do
        name="$kind: ${spec:-defaults}"
        # A setting that changes compiled code (table_lazy_init) compiles
        # into the cache first, off the pinned core.
        WASMROUTES_POOL_TUNING="$spec" target/release/wasmroutes precompile "$WORK/$kind.toml" >/dev/null
        WASMROUTES_POOL_TUNING="$spec" start "$name" target/release/wasmroutes serve "$WORK/$kind.toml" --addr 127.0.0.1:0
        SERVERS+=("$name")
    done
}
start_kind rust "$RUST_SETTINGS"
start_kind js "$JS_SETTINGS"

: >"$RESULTS"
# Each round starts one server further along, so that no setting always
# follows the same neighbour (which skewed the JS rows: bench/README.md,
# "Pool reset settings per kind of component").
for round in $(seq "$ROUNDS"); do
    for i in $(seq 0 $((${#SERVERS[@]} - 1))); do
        server="${SERVERS[$(((i + round - 1) % ${#SERVERS[@]}))]}"
        echo "load $(cut -d' ' -f1-3 /proc/loadavg) | $server | round $round/$ROUNDS"
        measure_round "$server" "$CONNS" "GET /api/hello 200" "$round" "$SECONDS_PER_ROUND"
    done
done

this="$(git rev-parse --short HEAD)"; git diff --quiet HEAD || this="$this with uncommitted changes"
python3 bench/summarize.py "$RESULTS" "Pool reset settings per kind of component, measured $(date -u +%Y-%m-%d) on this checkout ($this), $(nproc) cores ($(uname -r)), median of $ROUNDS interleaved rounds of ${SECONDS_PER_ROUND}s at $CONNS connections, server on CPU 0, load on CPU 1. Server names are the WASMROUTES_POOL_TUNING each host ran with." >bench/pool-sweep.md
cat bench/pool-sweep.md
