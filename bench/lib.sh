# Shared by the throughput benches (bench/run.sh, bench/pool-sweep.sh):
# servers pinned to CPU 0, the load generator to CPU 1, every server's
# files in one temp dir that goes away on exit, and one round of load
# recorded as one line of the TSV bench/summarize.py reads.
#
# Source it from the repository's root after `set -euo pipefail`.

if command -v taskset >/dev/null; then PIN0="taskset -c 0"; PIN1="taskset -c 1"; else PIN0=""; PIN1=""; fi
WORK="$(mktemp -d)"
# One line per round (measure_round), what bench/summarize.py reads.
RESULTS="$WORK/results.tsv"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# start NAME COMMAND...: runs a server on 127.0.0.1:0, waits for its address.
start() {
    local name="$1"; shift
    RUST_LOG=warn $PIN0 "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    echo $! >"$WORK/$name.pid"
    # Up to 5 minutes: a component missing from the compile cache compiles
    # at start (a JS route's for seconds), on the one core it is pinned to.
    # (`wasmtime serve` says "Serving HTTP on"; `next start` says "Ready in",
    # its address on a "Local:" line before.)
    for _ in $(seq 3000); do grep -Eq "listening on|Serving HTTP on|Ready in" "$WORK/$name.log" && break; sleep 0.1; done
    sed -En 's/.*(listening on|Serving HTTP on|Local:) +http:\/\/([^ /]*).*/\2/p' "$WORK/$name.log" | head -1 >"$WORK/$name.addr"
    [ -s "$WORK/$name.addr" ] || { echo "bench: $name did not start; its log:" >&2; cat "$WORK/$name.log" >&2; exit 1; }
}

# free_port: a loopback port nothing listens on.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$(cat "$WORK/$1.pid")/status"; }
# cpu_ticks NAME: the server's user and system CPU time so far, in clock ticks.
# (Fields counted after the command name, which may hold spaces: Next.js
# names its process "next-server (v16.5.0)".)
cpu_ticks() { sed 's/.*) //' "/proc/$(cat "$WORK/$1.pid")/stat" | awk '{print $12, $13}'; }

# measure_round SERVER CONNS ROUTE ROUND SECONDS: one round of ROUTE ("METHOD
# TARGET STATUS [BODY]") against SERVER after a short warm-up that keeps the
# previous server's caches out; appends its line to $RESULTS.
measure_round() {
    local server="$1" conns="$2" route="$3" round="$4" seconds_per_round="$5"
    local addr out line requests rps p50 p99 seconds user0 sys0 user1 sys1
    addr="$(cat "$WORK/$server.addr")"
    echo "1 $route" >"$WORK/mix.txt"
    $PIN1 target/release/loadgen --addr "$addr" --connections "$conns" --duration 0.5s --mix "$WORK/mix.txt" >/dev/null
    read -r user0 sys0 < <(cpu_ticks "$server")
    out="$($PIN1 target/release/loadgen --addr "$addr" --connections "$conns" \
        --duration "${seconds_per_round}s" --mix "$WORK/mix.txt")"
    read -r user1 sys1 < <(cpu_ticks "$server")
    line="$(echo "$out" | sed -n 2p)"
    echo "  $(echo "$out" | head -1) $line"
    echo "$out" | head -1 | grep -q "unexpected=0 io_errors=0" || { echo "FAIL: errors under load"; exit 1; }
    requests="$(echo "$out" | head -1 | sed 's/requests=\([0-9]*\).*/\1/')"
    rps="$(echo "$line" | sed 's/.*rps=\([0-9]*\).*/\1/')"
    p50="$(echo "$line" | sed 's/.*p50_ms=\([0-9.]*\).*/\1/')"
    p99="$(echo "$line" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')"
    seconds="$(echo "$line" | sed 's/.*seconds=\([0-9.]*\).*/\1/')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "${route% *}" "$server" "$round" \
        "$rps" "$p50" "$p99" "$(rss_kib "$server")" "$((user1 - user0))" "$((sys1 - sys0))" "$requests" \
        "$seconds" >>"$RESULTS"
}

# ab_rounds A B ROUTE...: ROUNDS rounds, each measuring every ROUTE on
# server A and on server B (measure_round, at CONNS connections for
# SECONDS_PER_ROUND), which goes first alternating by round; into a fresh
# $RESULTS.
ab_rounds() {
    local servers=("$1" "$2") round route i server
    shift 2
    : >"$RESULTS"
    for round in $(seq "$ROUNDS"); do
        for route in "$@"; do
            for i in 0 1; do
                server="${servers[$(((i + round - 1) % 2))]}"
                echo "load $(cut -d' ' -f1-3 /proc/loadavg) | $server | $route | round $round/$ROUNDS"
                measure_round "$server" "$CONNS" "$route" "$round" "$SECONDS_PER_ROUND"
            done
        done
    done
}
