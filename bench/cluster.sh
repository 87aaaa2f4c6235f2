#!/usr/bin/env bash
# Many hosts behind nginx (deploy/local/cluster.sh) against one host direct,
# on the same routes, measured interleaved in one run, and the capacity of
# the cluster's Redis (redis-benchmark).
#
#   bench/cluster.sh
#   DURATION=5 ROUNDS=3 CONCURRENCY=64 bench/cluster.sh     (the defaults)
#
# Stages the deployment once (deploy/stage.sh into the work dir) and starts
# the local cluster on free loopback ports in a temp CLUSTER_DIR: one
# redis-server (AOF, appendfsync always), three hosts sharing it and nginx
# (deploy/local/nginx.conf, round robin, upstream keepalive); plus a second
# nginx, rendered from the same template, whose upstream is host 1 alone.
# The hosts log as the pods do (LOG_FORMAT=json; RUST_LOG as set, else info:
# one access-log line per request). Everything is stopped on exit, whatever
# happens (`cluster.sh down` from a trap).
#
# Configurations, each with loadgen at CONCURRENCY keep-alive connections:
#   direct    loadgen -> host 1's port
#   nginx→3   loadgen -> nginx -> hosts 1, 2, 3 (round robin)
#   nginx→1   loadgen -> the second nginx -> host 1 only: nginx's own cost
#             without the fan-out (hosts 2 and 3 idle)
# Routes: GET /api/hello (no store), GET /api/tasks/1 (one Redis GET; task 1
# is created first), POST /api/tasks (INCRBY + SET). For each route, each
# configuration gets one DURATION-second cell in turn (after 0.5 s of
# warm-up), ROUNDS times over (the order rotating by round), so drift hits
# all three alike; each round ends with redis-benchmark against the same
# redis-server: GET, SET, INCR at CONCURRENCY connections, pipeline 1; SET at
# 1 connection (one fsync per write: the fsync latency) and at 4 × CONCURRENCY
# (more writes per fsync). Each runs about DURATION seconds (-n from a short
# probe). The tables show each figure's median over the rounds (non-2xx: the
# sum).
#
# CPU per request is each process's user + system time from /proc/PID/stat
# over the cell (clock ticks), divided by the requests loadgen completed
# (each cell and each redis-benchmark test first waits for any AOF rewrite
# to finish):
# wasmroutes (the three hosts together, and each host by the requests it
# served, from its /metrics counters), nginx (master and workers of the nginx
# in the path), redis-server (its children too: an AOF rewrite). The load
# generator's CPU is not counted. Redis commands per request are
# total_commands_processed over the cell. "server core busy" is the servers'
# CPU over the cell's wall time: below 100%, the server core was not what
# limited req/s (the load generator's core was, or round trips). Beside it,
# the server core's interrupt + softirq time per request (/proc/stat; on
# loopback mostly the delivery of what the servers send, billed to no
# process) and its steal time (the hypervisor running someone else: noise).
#
# Pinning (taskset, when there are 2+ cores): every server process (the
# hosts, both nginx, redis-server) on SERVER_CPU (default 0), loadgen and
# redis-benchmark on LOAD_CPU (default 1): the server side gets one core, so
# throughput is that core's, and what nginx costs shows as throughput lost.
# A host pinned to one core runs one tokio worker (available_parallelism).
#
# Writes WORK/results.md (printed at the end; WORK defaults to a new temp
# dir, kept) and the raw rounds (cells.tsv, redis.tsv). The cluster's state
# (AOF, logs) is removed on exit unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-3}"
CONCURRENCY="${CONCURRENCY:-64}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
WORK="${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/wasmroutes-cluster-bench.XXXXXX")}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

scripts/setup.sh
for tool in redis-server redis-cli redis-benchmark nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
cargo build --release --locked -p loadgen
LOADGEN="$root/target/release/loadgen"

if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c "$SERVER_CPU")
    PIN_LOAD=(taskset -c "$LOAD_CPU")
    pinning="servers on CPU $SERVER_CPU, loadgen and redis-benchmark on CPU $LOAD_CPU"
else
    PIN_SERVER=()
    PIN_LOAD=()
    pinning="not pinned"
fi

# Nine distinct free loopback ports: nginx, the second nginx, three hosts,
# their admin ports, Redis.
read -r PORT PORT_ONE h1 h2 h3 a1 a2 a3 REDIS_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(9)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
export CLUSTER_DIR="$WORK/cluster" PORT REDIS_PORT STAGE_DIR="$WORK/app"
export HOST_PORTS="$h1 $h2 $h3" ADMIN_PORTS="$a1 $a2 $a3"
export LOG_FORMAT=json SHUTDOWN_GRACE=5s
ADMIN_PORT=("$a1" "$a2" "$a3")
ONE="$WORK/nginx-one"

# pid_named FILE NAME: the pid on FILE's first line (PostgreSQL's lock file has
# more) if that process is alive and is NAME.
pid_named() {
    local pid
    pid="$(head -1 "$1" 2>/dev/null)" || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
}

cleanup() {
    local status=$? pid
    set +e
    trap - EXIT INT TERM
    if pid="$(pid_named "$ONE/nginx.pid" nginx)"; then
        kill -QUIT "$pid"
        for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    if [ -d "$CLUSTER_DIR" ]; then
        deploy/local/cluster.sh down
        # Whatever `down` could not stop (it gives up on a stuck process).
        for spec in host-1/pid:wasmroutes host-2/pid:wasmroutes host-3/pid:wasmroutes \
            nginx/nginx.pid:nginx redis/redis.pid:redis-server postgres/data/postmaster.pid:postgres; do
            pid="$(pid_named "$CLUSTER_DIR/${spec%%:*}" "${spec##*:}")" && kill -KILL "$pid"
        done
    fi
    if pid="$(pid_named "$ONE/nginx.pid" nginx)"; then kill -KILL "$pid"; fi
    [ "${KEEP:-0}" = 1 ] || rm -rf "$CLUSTER_DIR" "$ONE" "$WORK/app"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stage once: the hosts serve this, and (re)starting them never rebuilds.
deploy/stage.sh "$WORK/app"
# Everything cluster.sh starts inherits the server CPU.
"${PIN_SERVER[@]}" deploy/local/cluster.sh up

# The second nginx: the same template, host 1 as its only upstream.
mkdir -p "$ONE/tmp"
user=""
if [ "$(id -u)" -eq 0 ]; then user="user root;"; fi
awk -v run="$ONE" -v port="$PORT_ONE" -v user="$user" \
    -v servers="        server 127.0.0.1:$h1 max_fails=1 fail_timeout=2s;" '
    { gsub(/@RUN@/, run); gsub(/@PORT@/, port); gsub(/@USER@/, user) }
    /^@SERVERS@$/ { print servers; next }
    { print }' deploy/local/nginx.conf >"$ONE/nginx.conf"
"${PIN_SERVER[@]}" nginx -p "$ONE" -c "$ONE/nginx.conf" -e "$ONE/error.log"
for _ in $(seq 200); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT_ONE/" && break; sleep 0.05; done

HOST_PID=()
for i in 1 2 3; do HOST_PID+=("$(pid_named "$CLUSTER_DIR/host-$i/pid" wasmroutes)"); done
REDIS_PID="$(pid_named "$CLUSTER_DIR/redis/redis.pid" redis-server)"
nginx_pids() { local master; master="$(cat "$1")"; echo "$master" $(pgrep -P "$master"); }
NGINX3_PIDS="$(nginx_pids "$CLUSTER_DIR/nginx/nginx.pid")"
NGINX1_PIDS="$(nginx_pids "$ONE/nginx.pid")"

# Task 1, for GET /api/tasks/1; and a check of where each nginx sends requests.
curl -fsS -o /dev/null -X POST -d '{"title":"bench"}' "http://127.0.0.1:$h1/api/tasks"
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api/tasks/1"
upstreams() {
    for _ in 1 2 3 4 5 6; do
        curl -fsS -o /dev/null -D - "http://127.0.0.1:$1/api/hello" | tr -d '\r' | sed -n 's/^X-Upstream: //ip'
    done | sort -u | tr '\n' ' '
}
echo "nginx→3 sends to: $(upstreams "$PORT")"
echo "nginx→1 sends to: $(upstreams "$PORT_ONE")"
[ "$(upstreams "$PORT_ONE")" = "127.0.0.1:$h1 " ] || { echo "the second nginx does not send to host 1 only" >&2; exit 1; }

addr_of() {
    case "$1" in
        direct) echo "127.0.0.1:$h1" ;;
        nginx→3) echo "127.0.0.1:$PORT" ;;
        nginx→1) echo "127.0.0.1:$PORT_ONE" ;;
    esac
}
nginx_of() {
    case "$1" in
        direct) echo "" ;;
        nginx→3) echo "$NGINX3_PIDS" ;;
        nginx→1) echo "$NGINX1_PIDS" ;;
    esac
}

# ticks FIELDS PID...: the sum of /proc/PID/stat FIELDS (user+system, or with
# the reaped children's too) over the PIDs, in clock ticks.
ticks() {
    local fields="$1" sum=0 pid
    shift
    for pid in "$@"; do
        sum=$((sum + $(awk -v f="$fields" '{ s = $14 + $15; if (f == 4) s += $16 + $17; print s }' "/proc/$pid/stat")))
    done
    echo "$sum"
}
# host_requests ADMIN_PORT: the responses that host has sent so far (its
# wasmroutes_requests_total counters, every route and status class).
host_requests() {
    curl -fsS --max-time 2 "http://127.0.0.1:$1/metrics" | awk '/^wasmroutes_requests_total/ { s += $NF } END { print s + 0 }'
}
# core_ticks: the server core's interrupt + softirq ticks, then its steal
# ticks (/proc/stat).
core_ticks() { awk -v cpu="cpu$SERVER_CPU" '$1 == cpu { print $7 + $8, $9 }' /proc/stat; }
redis_commands() { redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }
# redis_settle: waits (up to 60 s) while Redis rewrites its AOF. The writes of
# the benchmarks grow the AOF past auto-aof-rewrite-min-size (64 MB), and the
# rewrite's forked child, pinned with Redis, would eat into the next cell.
redis_settle() {
    local i
    for i in $(seq 0 600); do
        if ! redis-cli -p "$REDIS_PORT" info persistence | tr -d '\r' |
            grep -qE '^aof_rewrite_(in_progress|scheduled):1'; then
            [ "$i" = 0 ] || echo "  (waited $((i / 10)).$((i % 10)) s for Redis's AOF rewrite)"
            return 0
        fi
        sleep 0.1
    done
}

CONFIGS=(direct nginx→3 nginx→1)
ROUTES=(
    "GET /api/hello 200"
    "GET /api/tasks/1 200"
    'POST /api/tasks 201 {"title":"bench"}'
)
CELLS="$WORK/cells.tsv"
REDIS_TSV="$WORK/redis.tsv"
: >"$CELLS"
: >"$REDIS_TSV"

# cell CONFIG ROUTE ROUND: one measurement, appended to cells.tsv.
cell() {
    local config="$1" route="$2" round="$3" addr nginx out first line label
    label="$(cut -d' ' -f1-2 <<<"$route")"
    addr="$(addr_of "$config")"
    nginx="$(nginx_of "$config")"
    echo "1 $route" >"$WORK/mix.txt"
    redis_settle
    echo "load $(cut -d' ' -f1-3 /proc/loadavg) | $config | $label | round $round/$ROUNDS"
    "${PIN_LOAD[@]}" "$LOADGEN" --addr "$addr" --connections "$CONCURRENCY" --duration 0.5s --mix "$WORK/mix.txt" >/dev/null || true
    local r0=() r1=() t0=() t1=() i
    for i in 0 1 2; do r0+=("$(host_requests "${ADMIN_PORT[$i]}")"); done
    local c0; c0="$(redis_commands)"
    for i in 0 1 2; do t0+=("$(ticks 2 "${HOST_PID[$i]}")"); done
    # shellcheck disable=SC2086 # lists of pids
    local n0 s0 k0; n0="$(ticks 2 $nginx)"; s0="$(ticks 4 "$REDIS_PID")"; k0="$(core_ticks)"
    # loadgen exits 1 when any status was not the expected one: counted below.
    out="$("${PIN_LOAD[@]}" "$LOADGEN" --addr "$addr" --connections "$CONCURRENCY" \
        --duration "${DURATION}s" --mix "$WORK/mix.txt")" || true
    for i in 0 1 2; do t1+=("$(ticks 2 "${HOST_PID[$i]}")"); done
    # shellcheck disable=SC2086
    local n1 s1 k1; n1="$(ticks 2 $nginx)"; s1="$(ticks 4 "$REDIS_PID")"; k1="$(core_ticks)"
    local c1; c1="$(redis_commands)"
    for i in 0 1 2; do r1+=("$(host_requests "${ADMIN_PORT[$i]}")"); done
    first="${out%%$'\n'*}"
    line="$(sed -n 2p <<<"$out")"
    echo "  $first $line"
    local requests unexpected io_errors seconds p50 p99
    requests="$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$first")"
    unexpected="$(sed 's/.*unexpected=\([0-9]*\).*/\1/' <<<"$first")"
    io_errors="$(sed 's/.*io_errors=\([0-9]*\).*/\1/' <<<"$first")"
    seconds="$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$line")"
    p50="$(sed 's/.*p50_ms=\([0-9.]*\).*/\1/' <<<"$line")"
    p99="$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line")"
    [ "$unexpected" = 0 ] || grep 'unexpected:' <<<"$out" | head -3 || true
    printf '%s\t' "$config" "$label" "$round" "$requests" "$unexpected" "$io_errors" "$seconds" "$p50" "$p99" \
        "$((t1[0] - t0[0]))" "$((t1[1] - t0[1]))" "$((t1[2] - t0[2]))" \
        "$((r1[0] - r0[0]))" "$((r1[1] - r0[1]))" "$((r1[2] - r0[2]))" \
        "$((n1 - n0))" "$((s1 - s0))" "$((${k1% *} - ${k0% *}))" "$((${k1#* } - ${k0#* }))" >>"$CELLS"
    echo "$((c1 - c0))" >>"$CELLS"
}

# redis-benchmark: TEST CONNS and how many requests (-n) make about DURATION
# seconds of it, from a short probe.
# SET at 4 × CONCURRENCY: more writes waiting per fsync (Redis fsyncs once per
# event-loop pass, for every write it read in that pass), as many hosts'
# connections together would have.
REDIS_TESTS=("get $CONCURRENCY" "set $CONCURRENCY" "incr $CONCURRENCY" "set 1" "set $((4 * CONCURRENCY))")
redis_bench() { # TEST CONNS N
    "${PIN_LOAD[@]}" redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$2" -n "$3" -P 1 -r 100000 -t "$1" --csv |
        python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(sys.stdin)]
r = rows[-1]
print(r["rps"], r["p50_latency_ms"], r["p99_latency_ms"])'
}
declare -A REDIS_N
for test in "${REDIS_TESTS[@]}"; do
    read -r t c <<<"$test"
    probe_n=$((c == 1 ? 200 : 300 * c))
    read -r rps _ < <(redis_bench "$t" "$c" "$probe_n")
    REDIS_N[$test]="$(python3 -c "print(max(1000, int(float('$rps') * $DURATION)))")"
    echo "redis-benchmark $t at $c conn(s): probe $rps ops/s, -n ${REDIS_N[$test]} per round"
done

for round in $(seq "$ROUNDS"); do
    for route in "${ROUTES[@]}"; do
        for k in 0 1 2; do
            cell "${CONFIGS[$(((k + round - 1) % 3))]}" "$route" "$round"
        done
    done
    for test in "${REDIS_TESTS[@]}"; do
        read -r t c <<<"$test"
        n="${REDIS_N[$test]}"
        redis_settle
        echo "load $(cut -d' ' -f1-3 /proc/loadavg) | redis-benchmark $t, $c conn(s), -n $n | round $round/$ROUNDS"
        s0="$(ticks 4 "$REDIS_PID")"
        read -r rps p50 p99 < <(redis_bench "$t" "$c" "$n")
        s1="$(ticks 4 "$REDIS_PID")"
        echo "  ops/s=$rps p50_ms=$p50 p99_ms=$p99 redis_ticks=$((s1 - s0))"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${t^^}" "$c" "$round" "$n" "$rps" "$p50" "$p99" "$((s1 - s0))" >>"$REDIS_TSV"
    done
done

this="$(git rev-parse --short HEAD)"; git diff --quiet HEAD || this="$this with uncommitted changes"
aof_fs="$(df --output=source,fstype "$CLUSTER_DIR/redis" | tail -1 | tr -s ' ')"
python3 - "$CELLS" "$REDIS_TSV" "$(getconf CLK_TCK)" \
    "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $this, $(nproc) cores ($(uname -r)), nginx $(nginx -v 2>&1 | sed 's|.*/||'), Redis $(redis-server --version | cut -d' ' -f3 | tr -d 'v='), median of $ROUNDS interleaved rounds of ${DURATION} s at $CONCURRENCY connections, $pinning; Redis AOF appendfsync always on $aof_fs." \
    <<'PY' | tee "$WORK/results.md"
import statistics as st
import sys

cells_path, redis_path, tick, header = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
us_per_tick = 1e6 / tick
groups, order = {}, []
for line in open(cells_path):
    f = line.rstrip("\n").split("\t")
    config, route = f[0], f[1]
    requests, unexpected, io_errors = int(f[3]), int(f[4]), int(f[5])
    seconds, p50, p99 = float(f[6]), float(f[7]), float(f[8])
    host_ticks = [int(x) for x in f[9:12]]
    host_reqs = [int(x) for x in f[12:15]]
    nginx_ticks, redis_ticks = int(f[15]), int(f[16])
    irq_ticks, steal_ticks, redis_cmds = int(f[17]), int(f[18]), int(f[19])
    n = max(requests, 1)
    ok = requests - unexpected
    row = {
        "rps": ok / seconds,
        "p50": p50,
        "p99": p99,
        "bad": unexpected,
        "io": io_errors,
        "hosts": sum(host_ticks) * us_per_tick / n,
        # Each host by the requests it served (its /metrics counters); None
        # for a host that served (almost) none in this cell.
        "per_host": [t * us_per_tick / r if r > n / 100 else None for t, r in zip(host_ticks, host_reqs)],
        "share": [r / n for r in host_reqs],
        "nginx": nginx_ticks * us_per_tick / n,
        "redis": redis_ticks * us_per_tick / n,
        "cmds": redis_cmds / n,
    }
    row["total"] = row["hosts"] + row["nginx"] + row["redis"]
    # How much of the server core the servers used: below 100%, something
    # else (the load generator's core, Redis round trips) set the pace.
    row["busy"] = (sum(host_ticks) + nginx_ticks + redis_ticks) / tick / seconds
    # Interrupt and softirq time on the server core (on loopback, mostly the
    # delivery of the packets the servers send): in no process's user+system.
    row["irq"] = irq_ticks * us_per_tick / n
    # Time the hypervisor gave the server core to someone else: noise.
    row["steal"] = steal_ticks / tick / seconds
    key = (route, config)
    if key not in groups:
        groups[key] = []
        order.append(key)
    groups[key].append(row)


def med(rows, field):
    return st.median(r[field] for r in rows)


def med_host(rows, i):
    values = [r["per_host"][i] for r in rows if r["per_host"][i] is not None]
    return f"{st.median(values):.1f}" if values else "–"


print(header)
print()
print(
    "| route | path | req/s | p50 ms | p99 ms | non-2xx | wasmroutes CPU µs/req (all hosts) "
    "| per host µs/req served (1 / 2 / 3) | nginx µs/req | redis-server µs/req | Redis cmds/req | server total µs/req "
    "| server core busy | + its softirq µs/req | its steal |"
)
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for key in order:
    route, config = key
    rows = groups[key]
    bad = sum(r["bad"] for r in rows)
    io = sum(r["io"] for r in rows)
    per_host = " / ".join(med_host(rows, i) for i in range(3))
    nginx = f"{med(rows, 'nginx'):.1f}" if config != "direct" else "–"
    print(
        f"| {route} | {config} | {med(rows, 'rps'):,.0f} | {med(rows, 'p50'):.2f} | {med(rows, 'p99'):.2f} "
        f"| {bad}{f' ({io} I/O)' if io else ''} | {med(rows, 'hosts'):.1f} | {per_host} | {nginx} "
        f"| {med(rows, 'redis'):.1f} | {med(rows, 'cmds'):.2f} | {med(rows, 'total'):.1f} | {med(rows, 'busy'):.0%} "
        f"| {med(rows, 'irq'):.1f} | {med(rows, 'steal'):.0%} |"
    )

# nginx's cost: the nginx→1 path against direct, same host, same route.
print()
print("| route | nginx→1 − direct, server total µs/req | of which nginx's processes | req/s nginx→1 / direct | req/s nginx→3 / direct |")
print("| --- | ---: | ---: | ---: | ---: |")
for route in dict.fromkeys(r for r, _ in order):
    d, one, three = (groups.get((route, c)) for c in ("direct", "nginx→1", "nginx→3"))
    if not (d and one and three):
        continue
    print(
        f"| {route} | {med(one, 'total') - med(d, 'total'):+.1f} | {med(one, 'nginx'):.1f} "
        f"| {med(one, 'rps') / med(d, 'rps'):.2f} | {med(three, 'rps') / med(d, 'rps'):.2f} |"
    )

redis = {}
redis_order = []
for line in open(redis_path):
    test, conns, _round, n, rps, p50, p99, ticks = line.rstrip("\n").split("\t")
    key = (test, int(conns))
    if key not in redis:
        redis[key] = []
        redis_order.append(key)
    rps = float(rps)
    cpu = int(ticks) * us_per_tick / int(n)
    redis[key].append({"rps": rps, "p50": float(p50), "p99": float(p99), "cpu": cpu, "busy": cpu * rps / 1e6})
print()
print("redis-benchmark against the cluster's redis-server (pipeline 1, `-r 100000` keys):")
print()
print("| command | conns | ops/s | p50 ms | p99 ms | redis-server CPU µs/op | its core busy | ops/s if CPU-bound (1e6 / µs/op) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for key in redis_order:
    rows = redis[key]
    cpu = med(rows, "cpu")
    print(
        f"| {key[0]} | {key[1]} | {med(rows, 'rps'):,.0f} | {med(rows, 'p50'):.3f} | {med(rows, 'p99'):.3f} "
        f"| {cpu:.1f} | {med(rows, 'busy'):.0%} | {1e6 / cpu:,.0f} |"
    )
PY
echo
echo "results: $WORK/results.md (raw rounds: $CELLS, $REDIS_TSV)"
