#!/usr/bin/env bash
# How fast a new pod serves: the container image's layout (deploy/stage.sh)
# started from its pre-warmed compile cache vs with no cache (what a pod
# whose image was built on another CPU class pays), measured from process
# start to `/readyz` answering 200 and then to the first routed 200.
#
# Usage: bench/pod-start.sh [RUNS]   (default 9; prints the median and range)
# Neither Redis nor PostgreSQL is needed: a host starts degraded without
# them, and readiness waits for neither (see README, "Key-value stores" and
# "SQL databases"); a refused connection costs no measurable time.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-9}"
scripts/setup.sh >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
deploy/stage.sh "$work/app" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# One start: prints "ready_ms first_answer_ms".
start_once() {
    local started ready answered pid
    started=$(now_ms)
    REDIS_URL=redis://127.0.0.1:1 DATABASE_URL=postgres://127.0.0.1:1/wasmroutes \
        "$work/app/bin/wasmroutes" serve "$work/app/routes.toml" \
        --addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$admin" "$@" >/dev/null 2>&1 &
    pid=$!
    until curl -fs -o /dev/null "http://127.0.0.1:$admin/readyz"; do sleep 0.002; done
    ready=$(now_ms)
    curl -fs -o /dev/null "http://127.0.0.1:$port/api/hello"
    answered=$(now_ms)
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$((ready - started)) $((answered - started))"
}

summarize() {
    sort -n | awk '{ v[NR] = $1 } END { printf "median %d ms (min %d, max %d, %d runs)", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}

for mode in "pre-warmed cache" "no cache"; do
    if [ "$mode" = "no cache" ]; then args=(--no-cache); else args=(--cache-dir "$work/app/cache"); fi
    : >"$work/times"
    for _ in $(seq "$runs"); do start_once "${args[@]}" >>"$work/times"; done
    echo "$mode: /readyz 200 after $(cut -d' ' -f1 "$work/times" | summarize); first 200 after $(cut -d' ' -f2 "$work/times" | summarize)"
done
