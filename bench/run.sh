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
# "kv-embedded" and "kv-redis" serve the tasks samples (sample-routes/tasks,
# tasks-id) on an embedded store (a redb file in a temp dir) and on a
# redis-server of their own, pinned to CPU 1 with the load generator: in a
# deployment Redis runs elsewhere, and sharing CPU 0 would bill the host for
# Redis's own work (about a quarter of that core at 17k GET/s); their rows are
# GET /api/tasks/1 (one store read) and POST /api/tasks (an increment and a
# durable write). bench/summarize.py compares them with fresh hello.
# Afterwards the host's RSS is measured with a store of KV_RSS_KEYS tasks
# (default 1,000,000) against an empty one; SKIP_KV_RSS=1 skips that.
#
# "js" serves the tutorial's routes written as Next.js route.js files
# (sample-routes/js, built by guest-js), "js-reuse" the same components with
# `isolation = "reuse"`: GET /api/hello, /api/posts/42 and /api/search rows,
# against the Rust samples (fresh, reuse) and native.
#
# "http" is hello as a wasi:http/proxy component (bench/http-hello) in
# wasmroutes, "wasmtime-serve" and "wasmtime-serve-reuse" the same component
# in `wasmtime serve`, and "nextjs" the route.js samples under Next.js
# itself: the other servers of the same kind, on the same machine, in the
# same run.
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
cargo build --release -p wasmroutes --example kv_fill
cargo build --release --target wasm32-wasip2 -p http-hello -p hello -p posts -p posts-id -p users -p search -p user-id -p todos -p docs-slug -p shop-slug -p tasks -p tasks-id
# `wasmtime serve` of the wasmtime version the host links (Cargo.lock), for
# the rows that run bench/http-hello under it; built once into target/tools.
# component-model-async: without it this release's `serve` does not build.
WASMTIME_VERSION="$(grep -A1 '^name = "wasmtime"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')"
if ! target/tools/bin/wasmtime --version 2>/dev/null | grep -Eq "^wasmtime $WASMTIME_VERSION( |$)"; then
    CARGO_TARGET_DIR=target/tools-build cargo install wasmtime-cli --version "$WASMTIME_VERSION" --locked \
        --no-default-features --root target/tools --features \
        serve,run,component-model-async,cranelift,pooling-allocator,parallel-compilation,cache
fi
# hello without WASI imports (bench/floor-hello), for the floor figures.
bench/floor-hello/build.sh
# The route.js samples (componentize-js: about 7 s of CPU per route), and
# their compiled code in the compile cache: compiling them inside `start`,
# pinned to one core, takes longer than it waits (about 14 s of CPU each).
target/release/wasmroutes build sample-routes/js/routes.toml
target/release/wasmroutes precompile sample-routes/js/routes.toml
# The same route.js files under Next.js itself (`next build`, then `next
# start`), from the versions bench/nextjs/package-lock.json pins; the store
# routes are left out (Next.js has no @wasmroutes/kv).
NEXT_APP=target/nextjs
rm -rf "$NEXT_APP/app"
mkdir -p "$NEXT_APP"
cp bench/nextjs/package.json bench/nextjs/package-lock.json "$NEXT_APP/"
cp -r sample-routes/js/app "$NEXT_APP/app"
rm -rf "$NEXT_APP/app/api/tasks"
(cd "$NEXT_APP" && npm ci --no-audit --no-fund --loglevel=error && NEXT_TELEMETRY_DISABLED=1 npx next build >build.log)

# shellcheck source=bench/lib.sh
. bench/lib.sh
revs=""

# The tutorial's routes without the key-value and SQL samples, so the hosts of other
# revisions (BASELINE) read the same file and nothing writes under sample-routes/.
python3 - "$WORK/tutorial-routes.toml" <<'PY'
import os, sys
root = os.path.abspath("sample-routes")
blocks = open("sample-routes/routes.toml").read().split("\n\n")
kept = [b for b in blocks if not any(k in b for k in ("key_value_stores", "databases", "[database."))]
text = "\n\n".join(kept).replace('component = "../', 'component = "' + os.path.dirname(root) + "/")
open(sys.argv[1], "w").write(text.rstrip() + "\n")
PY
TUTORIAL="$WORK/tutorial-routes.toml"

# The route.js samples' built components (`wasmroutes build` puts them in
# sample-routes/js/.wasmroutes/build/), fresh and with instance reuse; the
# store and SQL routes are left out, as for the Rust tutorial servers.
python3 - "$WORK" <<'PY'
import os, re, sys
build = os.path.abspath("sample-routes/js/.wasmroutes/build")
blocks = open("sample-routes/js/routes.toml").read().split("[[route]]")[1:]
kept = ["[[route]]" + b for b in blocks if not any(k in b for k in ("key_value_stores", "databases", "[database."))]
text = re.sub(r'component = "([^"]+)"', lambda m: 'component = "%s/%s.wasm"' % (build, m.group(1)), "\n".join(kept))
open(sys.argv[1] + "/js-routes.toml", "w").write(text)
reuse = text.replace('[[route]]\n', '[[route]]\nisolation = "reuse"\n')
open(sys.argv[1] + "/js-reuse-routes.toml", "w").write(reuse)
PY

REDIS_PORT="$(free_port)"
$PIN1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done

start native target/release/native-baseline 127.0.0.1:0
start fresh target/release/wasmroutes serve "$TUTORIAL" --addr 127.0.0.1:0
start reuse target/release/wasmroutes serve bench/reuse-routes.toml --addr 127.0.0.1:0
start floor target/release/wasmroutes serve bench/floor-routes.toml --addr 127.0.0.1:0
start kv-embedded target/release/wasmroutes serve bench/kv-routes.toml --data-dir "$WORK/kv-embedded" --addr 127.0.0.1:0
BENCH_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" start kv-redis target/release/wasmroutes serve bench/kv-redis-routes.toml --addr 127.0.0.1:0
start js target/release/wasmroutes serve "$WORK/js-routes.toml" --addr 127.0.0.1:0
start js-reuse target/release/wasmroutes serve "$WORK/js-reuse-routes.toml" --addr 127.0.0.1:0
# The wasi:http hello, in wasmroutes (a fresh instance per request, like
# every route of its kind) and in `wasmtime serve`: with its defaults (a
# fresh instance per request) and with instances reused up to 1,000 times;
# `-S cli`: a component built with std imports wasi:cli, which the proxy
# world alone does not provide.
start http target/release/wasmroutes serve bench/http-routes.toml --addr 127.0.0.1:0
start wasmtime-serve target/tools/bin/wasmtime serve -S cli --addr "127.0.0.1:$(free_port)" target/wasm32-wasip2/release/http_hello.wasm
start wasmtime-serve-reuse target/tools/bin/wasmtime serve -S cli --addr "127.0.0.1:$(free_port)" \
    --max-instance-reuse-count 1000 target/wasm32-wasip2/release/http_hello.wasm
# Next.js runs its server in the one node process it starts (`next-server`),
# so /proc/PID/stat holds all of its CPU time.
NEXT_TELEMETRY_DISABLED=1 NODE_ENV=production start nextjs \
    node "$NEXT_APP/node_modules/next/dist/bin/next" start "$NEXT_APP" -H 127.0.0.1 -p "$(free_port)"
SERVERS=(native fresh reuse floor http wasmtime-serve wasmtime-serve-reuse kv-embedded kv-redis js js-reuse nextjs)
# Task 1 for the GET rows.
printf '1 POST /api/tasks 201 {"title":"bench"}\n' >"$WORK/seed.txt"
for server in kv-embedded kv-redis; do
    target/release/loadgen --addr "$(cat "$WORK/$server.addr")" --connections 1 --requests 1 --mix "$WORK/seed.txt" >/dev/null
done
# loadable BINARY IN OUT: the [[route]]s of IN that BINARY can load, into
# OUT (component paths made absolute). An older host refuses a component
# that uses a newer export (`describe`, which `#[schema]` adds): the A/B then
# leaves that route's rows out for that host instead of failing.
loadable() {
    python3 - "$@" <<'PY'
import os, re, subprocess, sys, tempfile
binary, source, out = sys.argv[1:]
base = os.path.dirname(os.path.abspath(source))
blocks = ["[[route]]" + b for b in open(source).read().split("[[route]]")[1:]]
absolute = lambda b: re.sub(r'component = "([^"]+)"', lambda m: 'component = "%s"' % os.path.normpath(os.path.join(base, m.group(1))), b)
kept = []
for block in map(absolute, blocks):
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as one:
        one.write(block); one.flush()
        if subprocess.run([binary, "check", one.name], capture_output=True).returncode == 0:
            kept.append(block)
        else:
            print("bench/run.sh: %s cannot load %s; its rows are left out" % (binary, re.search(r'path = "([^"]+)"', block).group(1)), file=sys.stderr)
open(out, "w").write("\n".join(kept))
PY
}
for baseline in ${BASELINE:-}; do
    base="$(bench/baseline.sh "$baseline")"
    rev="$(cd "$base" && git rev-parse --short HEAD)"
    revs="${revs:+$revs, }$rev"
    loadable "$base/target/release/wasmroutes" "$TUTORIAL" "$WORK/tutorial@$rev.toml"
    loadable "$base/target/release/wasmroutes" bench/reuse-routes.toml "$WORK/reuse@$rev.toml"
    start "fresh@$rev" "$base/target/release/wasmroutes" serve "$WORK/tutorial@$rev.toml" --addr 127.0.0.1:0
    start "reuse@$rev" "$base/target/release/wasmroutes" serve "$WORK/reuse@$rev.toml" --addr 127.0.0.1:0
    SERVERS+=("fresh@$rev" "reuse@$rev")
done

ROUTES=(
    "GET /api/hello 200"
    "GET /api/posts/42 200"
    'POST /api/users 201 {"name":"Ada","email":"ada@example.com"}'
    "GET /api/search?q=rust&limit=5 200"
    "GET /api/tasks/1 200"
    'POST /api/tasks 201 {"title":"bench"}'
)
if [ -n "${ROUTES_MATCH:-}" ]; then
    matching=()
    for route in "${ROUTES[@]}"; do [[ "$route" =~ $ROUTES_MATCH ]] && matching+=("$route"); done
    ROUTES=("${matching[@]}")
fi

# serves SERVER ROUTE: whether SERVER has ROUTE (floor, http, wasmtime-serve:
# hello only; the kv servers: the tasks routes only; js and nextjs: the GETs
# its samples have; the others: all but the tasks routes).
serves() {
    case "$1" in
        floor | http | wasmtime-serve*) [ "$2" = "GET /api/hello 200" ] ;;
        kv-*) [[ "$2" == *" /api/tasks"* ]] ;;
        js* | nextjs) [[ "$2" == "GET /api/hello 200" || "$2" == "GET /api/posts/42 200" || "$2" == "GET /api/search?q=rust&limit=5 200" ]] ;;
        *@*) [[ "$2" != *" /api/tasks"* ]] && answers "$1" "$2" ;;
        *) [[ "$2" != *" /api/tasks"* ]] ;;
    esac
}

# answers SERVER ROUTE: whether SERVER answers one ROUTE request as the row
# expects (a baseline host may have left the route out, see `loadable`).
answers() {
    echo "1 $2" >"$WORK/probe.txt"
    target/release/loadgen --addr "$(cat "$WORK/$1.addr")" --connections 1 --requests 1 --mix "$WORK/probe.txt" \
        | head -1 | grep -q "unexpected=0"
}

: >"$RESULTS"
for conns in 64 1; do
    for route in "${ROUTES[@]}"; do
        for round in $(seq "$ROUNDS"); do
            for server in "${SERVERS[@]}"; do
                serves "$server" "$route" || continue
                echo "load $(cut -d' ' -f1-3 /proc/loadavg) | $server | $conns conns | $route | round $round/$ROUNDS"
                measure_round "$server" "$conns" "$route" "$round" "$SECONDS_PER_ROUND"
            done
        done
    done
done

this="$(git rev-parse --short HEAD)"; git diff --quiet HEAD || this="$this with uncommitted changes"
python3 bench/summarize.py "$RESULTS" "Measured $(date -u +%Y-%m-%d) on this checkout ($this)${revs:+ and, as fresh@REV / reuse@REV, the host of $revs on the same guests}, $(nproc) cores ($(uname -r)), median of $ROUNDS interleaved rounds of ${SECONDS_PER_ROUND}s, server on CPU 0, load on CPU 1." >bench/results.md

if [ "${SKIP_KV_RSS:-0}" != 1 ]; then
    # Host RSS with a store of KV_RSS_KEYS tasks vs an empty store, each
    # after the same 10 s of GETs spread over 1,000 task ids.
    keys="${KV_RSS_KEYS:-1000000}"
    echo "load $(cut -d' ' -f1-3 /proc/loadavg) | RSS with $keys tasks"
    target/release/examples/kv_fill "$WORK/kv-full" "$keys"
    python3 - "$keys" "$WORK" <<'PY'
import random, sys
keys, work = int(sys.argv[1]), sys.argv[2]
ids = random.Random(1).sample(range(1, keys + 1), 1000)
for name, status in (("full", 200), ("empty", 404)):
    with open(f"{work}/rss-{name}.txt", "w") as f:
        f.writelines(f"1 GET /api/tasks/{i} {status}\n" for i in ids)
PY
    for kind in empty full; do
        start "kv-$kind" target/release/wasmroutes serve bench/kv-routes.toml --data-dir "$WORK/kv-$kind" --addr 127.0.0.1:0
        idle="$(rss_kib "kv-$kind")"
        out="$($PIN1 target/release/loadgen --addr "$(cat "$WORK/kv-$kind.addr")" --connections 64 --duration 10s \
            --mix "$WORK/rss-$kind.txt")"
        # (No `echo | head` under pipefail: echo of a long output dies of SIGPIPE.)
        [[ "${out%%$'\n'*}" == *"unexpected=0 io_errors=0"* ]] || { echo "$out"; echo "FAIL: kv-$kind"; exit 1; }
        echo "$kind $idle $(rss_kib "kv-$kind")" >>"$WORK/kv-rss.txt"
        kill "$(cat "$WORK/kv-$kind.pid")"
    done
    {
        echo
        echo "Host RSS with an embedded store of $keys tasks vs an empty one ($(date -u +%Y-%m-%d)): after start, and after 10 s of GET /api/tasks/[id] over 1,000 ids at 64 connections."
        echo
        echo "| store | RSS after start MiB | RSS after load MiB | store file MiB |"
        echo "| --- | ---: | ---: | ---: |"
        while read -r kind idle loaded; do
            size="$(du -m "$WORK/kv-$kind/kv/default.redb" | cut -f1)"
            echo "| $kind | $((idle / 1024)) | $((loaded / 1024)) | $size |"
        done <"$WORK/kv-rss.txt"
    } >>bench/results.md
fi

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
