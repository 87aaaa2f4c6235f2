#!/usr/bin/env bash
# The per-request sandbox cost (criterion, host/benches/sandbox.rs): a fresh
# instance (new store + instantiate + one call + drop) and a reused one, on
# the hello component, with where a fresh request's time goes; and the
# floor: hello built with no WASI imports (bench/floor-hello); one
# key-value read per request on tasks-id (SDK) and kv-plain (no SDK); and
# the JavaScript hello of sample-routes/js, fresh and reused.
#
#   bench/sandbox.sh                  this checkout, ROUNDS (default 3) runs
#   BASELINE="REV..." bench/sandbox.sh   and each REV (built by bench/baseline.sh),
#                                     alternating round by round, same guests
#
# Prints each run's estimates, then the median per benchmark and side.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
scripts/setup.sh
cargo build --release --target wasm32-wasip2 -p hello -p tasks-id -p kv-plain
# hello without WASI imports (bench/floor-hello), for the floor figures.
bench/floor-hello/build.sh
# The JavaScript hello (sample-routes/js), for the JS rows.
cargo build --release --locked -p wasmroutes
target/release/wasmroutes build sample-routes/js/routes.toml
PIN=""; command -v taskset >/dev/null && PIN="taskset -c 0"

# bench_binary DIR: builds DIR's sandbox bench, prints its executable's path.
bench_binary() {
    local exe
    exe="$(cd "$1" && cargo bench --locked --no-run -p wasmroutes --bench sandbox 2>&1 |
        sed -n 's/.*Executable benches\/sandbox.rs (\(.*\))$/\1/p' | tail -1)"
    [ -n "$exe" ] || { echo "no sandbox bench built in $1" >&2; exit 1; }
    echo "$(cd "$1" && pwd)/$exe"
}

SIDES=(".")
for baseline in ${BASELINE:-}; do
    base="$(bench/baseline.sh "$baseline")"
    # A baseline's bench loads its components from its own target dir: give
    # it ours, so every side runs the same guests.
    mkdir -p "$base/target/wasm32-wasip2/release"
    cp target/wasm32-wasip2/release/{hello,floor_hello}.wasm "$base/target/wasm32-wasip2/release/"
    SIDES+=("$base")
done
declare -A EXE
for side in "${SIDES[@]}"; do EXE[$side]="$(bench_binary "$side")"; done

OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
for round in $(seq "$ROUNDS"); do
    for side in "${SIDES[@]}"; do
        name="$(cd "$side" && git rev-parse --short HEAD)"
        [ "$side" = . ] && ! git diff --quiet HEAD && name="$name+changes"
        echo "== round $round/$ROUNDS: $name (load $(cut -d' ' -f1-3 /proc/loadavg))"
        # Criterion resolves target/criterion from the working directory.
        (cd "$side" && $PIN "${EXE[$side]}" --bench 2>&1) | grep -E 'time:|phases'
        # Its median estimate of each benchmark, from the run just made.
        for est in "$side"/target/criterion/*/new/estimates.json; do
            python3 -c 'import json,sys; print(sys.argv[2], sys.argv[3], (lambda e: (e.get("slope") or e["mean"])["point_estimate"])(json.load(open(sys.argv[1]))) / 1000)' \
                "$est" "$name" "$(basename "$(dirname "$(dirname "$est")")")" >>"$OUT"
        done
    done
done

echo
echo "median over $ROUNDS rounds of criterion's estimate (the middle figure of its \"time:\" line), µs:"
python3 - "$OUT" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    side, bench, us = line.split()
    runs.setdefault((side, bench), []).append(float(us))
for (side, bench), values in runs.items():
    print(f"  {side:<16} {bench:<28} {statistics.median(values):6.2f}   (rounds: {', '.join(f'{v:.2f}' for v in values)})")
PY
