#!/usr/bin/env bash
# What a route.js's whole answer costs now that every JS method is exported
# as a streaming handler (shim.js answers whole through `responder.send`, on
# the host's streaming path), against the same route built by the guest-js
# of BASE, whose methods were whole handlers: the tutorial's hello and
# search, both served by this checkout's host, fresh instances and
# `isolation = "reuse"`, interleaved round by round, server CPU per request
# from /proc.
#
#   bench/js-answer.sh [SECONDS_PER_ROUND] [BASE]
#
# BASE defaults to the commit before guest-js/streams.js was added. ROUNDS
# (default 3) rounds per route at CONNS (default 16) connections. Writes
# bench/js-answer.md (bench/summarize.py, "× whole" columns) and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND="${1:-5}"
BASE="${2:-$(git log --diff-filter=A --format=%H -n1 -- guest-js/streams.js)~1}"
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-16}"

scripts/setup.sh
cargo build --release --locked -p wasmroutes -p loadgen

# shellcheck source=bench/lib.sh
. bench/lib.sh
git worktree add --quiet --detach "$WORK/base" "$BASE"
trap 'cleanup; git worktree prune' EXIT
ln -s "$PWD/guest-js/node_modules" "$WORK/base/guest-js/node_modules"
for kind in whole streaming; do
    guest_js="$PWD/guest-js"
    [ "$kind" = whole ] && guest_js="$WORK/base/guest-js"
    mkdir -p "$WORK/$kind"
    for name in hello search; do
        node "$guest_js/build.mjs" "sample-routes/js/app/api/$name/route.js" "$WORK/$kind/$name.wasm"
    done
    cat >"$WORK/$kind.toml" <<TOML
[[route]]
path = "/api/hello"
component = "$kind/hello.wasm"

[[route]]
path = "/api/search"
component = "$kind/search.wasm"

[[route]]
path = "/reuse/hello"
component = "$kind/hello.wasm"
isolation = "reuse"
TOML
    # Compiled into the cache off the pinned core (tens of seconds of CPU).
    target/release/wasmroutes precompile "$WORK/$kind.toml"
done

SERVERS=(whole streaming)
for kind in "${SERVERS[@]}"; do
    start "$kind" target/release/wasmroutes serve "$WORK/$kind.toml" --addr 127.0.0.1:0
done
ROUTES=("GET /api/hello 200" "GET /api/search?q=rust&limit=5 200" "GET /reuse/hello 200")

ab_rounds "${SERVERS[@]}" "${ROUTES[@]}"

this="$(git rev-parse --short HEAD)"; git diff --quiet HEAD || this="$this with uncommitted changes"
BASELINE_SERVER=whole python3 bench/summarize.py "$RESULTS" "A route.js answering whole through its streaming handler (streaming) against whole handlers built by the guest-js of $(git rev-parse --short "$BASE") (whole), both on this checkout's host ($this), measured $(date -u +%Y-%m-%d), $(nproc) cores ($(uname -r)), median of $ROUNDS interleaved rounds of ${SECONDS_PER_ROUND}s at $CONNS connections, server on CPU 0, load on CPU 1; /reuse/hello is isolation = \"reuse\"." >bench/js-answer.md
cat bench/js-answer.md
