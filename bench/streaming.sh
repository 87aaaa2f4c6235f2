#!/usr/bin/env bash
# Streamed answers (README "Streaming responses") against baselines measured
# in the same run:
#
#   bench/streaming.sh [SECONDS_PER_ROUND]     (default 5)
#
# 1. Time to the first body byte of a streamed route at 1 connection beside
#    a whole `GET /api/hello`'s p50: the test component stream-plain with 2
#    chunks written at once, and with 2 chunks 10 ms apart, and the SSE
#    sample clock, 2 events 10 ms apart. Those two leave the server idle for
#    10 ms before each request, which costs the next one far more than any
#    streaming does on this VM, so hello is also measured paced to their
#    request rate (loadgen --pause 11.5 ms: the same idle gaps).
# 2. A 1 MiB streamed body (stream-plain, 16 chunks of 64 KiB) at CONNS
#    (default 8) connections, beside the native hyper baseline (bench/native,
#    `/stream`) streaming the same chunks from a task of its own: MiB/s and
#    server CPU µs per request.
#    1 and 2: one host, ROUNDS (default 3) interleaved rounds, the median.
# 3. STREAMS (default 1,000) SSE streams of the clock open at once on a fresh
#    host (40 events 200 ms apart, ~8 s each): the host's RSS idle and with
#    all open (the largest sample while its `wasmroutes_instances_in_flight`
#    says all are running), split by /proc/PID/smaps into what the
#    instances map (linear memories, tables, fiber stacks: wasmtime's pool)
#    and the rest of the host (connections, stores, queues, tasks).
#
# Servers on CPU 0, the load generator on CPU 1. Writes bench/streaming.md
# and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND="${1:-5}"
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-8}"
STREAMS="${STREAMS:-1000}"

scripts/setup.sh rust
cargo build --release --locked -p wasmroutes -p loadgen -p native-baseline
cargo build --release --locked --target wasm32-wasip2 -p hello -p clock -p stream-plain

# shellcheck source=bench/lib.sh
. bench/lib.sh

wasm="$PWD/target/wasm32-wasip2/release"
cat >"$WORK/routes.toml" <<EOF
[[route]]
path = "/api/hello"
component = "$wasm/hello.wasm"

[[route]]
path = "/stream"
component = "$wasm/stream_plain.wasm"

[[route]]
path = "/api/clock"
component = "$wasm/clock.wasm"
limits = { max_concurrency = $STREAMS }
EOF
start host target/release/wasmroutes serve "$WORK/routes.toml" --addr 127.0.0.1:0
start native target/release/native-baseline 127.0.0.1:0

# measure SERVER CONNS ROUTE ROUND: one round after a short warm-up, appended
# to $RESULTS as conns, route, server, round, rps, p50, ttfb p50, ttfb p99,
# MiB/s, requests, server ticks, seconds.
measure() {
    local server="$1" conns="$2" route="$3" round="$4" pause="$5" label="$1" addr out line u s t0 t1
    local paced=()
    if [ -n "$pause" ]; then
        paced=(--pause "$pause")
        label="$server, paced"
    fi
    addr="$(cat "$WORK/$server.addr")"
    echo "1 $route" >"$WORK/mix.txt"
    $PIN1 target/release/loadgen --addr "$addr" --connections "$conns" --duration 0.5s --mix "$WORK/mix.txt" >/dev/null
    read -r u s < <(cpu_ticks "$server"); t0=$((u + s))
    out="$($PIN1 target/release/loadgen --addr "$addr" --connections "$conns" --duration "${SECONDS_PER_ROUND}s" \
        --mix "$WORK/mix.txt" ${paced[@]+"${paced[@]}"})"
    read -r u s < <(cpu_ticks "$server"); t1=$((u + s))
    line="$(echo "$out" | sed -n 2p)"
    echo "  $(echo "$out" | head -1) $line"
    echo "$out" | head -1 | grep -q "unexpected=0 io_errors=0" || { echo "FAIL: errors under load"; exit 1; }
    # (`seconds` starts the line; ` p50_ms=` is not in `ttfb50_ms=`.)
    field() { echo "$line" | sed -E "s/(^|.* )$1=([0-9.]+).*/\2/"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "${route% *}" "$label" "$round" \
        "$(field rps)" "$(field p50_ms)" "$(field ttfb50_ms)" "$(field ttfb99_ms)" "$(field body_mib_per_s)" \
        "$(echo "$out" | head -1 | sed 's/requests=\([0-9]*\).*/\1/')" "$((t1 - t0))" "$(field seconds)" >>"$RESULTS"
}

MIB="GET /stream?chunks=16&size=65536 200"
PACE=0.0115s
ROWS=("host|1|GET /api/hello 200|"
    "host|1|GET /stream?chunks=2 200|"
    "host|1|GET /api/hello 200|$PACE"
    "host|1|GET /stream?chunks=2&interval_ms=10 200|"
    "host|1|GET /api/clock?count=2&interval_ms=10 200|"
    "host|$CONNS|$MIB|" "native|$CONNS|$MIB|")
: >"$RESULTS"
for round in $(seq "$ROUNDS"); do
    for row in "${ROWS[@]}"; do
        IFS='|' read -r server conns route pause <<<"$row"
        echo "load $(cut -d' ' -f1-3 /proc/loadavg) | $server ${pause:+paced $pause} | $conns | $(echo "$route" | cut -d' ' -f1-2) | round $round/$ROUNDS"
        measure "$server" "$conns" "$route" "$round" "$pause"
    done
done
kill "$(cat "$WORK/host.pid")" "$(cat "$WORK/native.pid")"

# 3. A fresh host for the streams, with the admin endpoint for its gauge.
admin="127.0.0.1:$(free_port)"
start streams target/release/wasmroutes serve "$WORK/routes.toml" --addr 127.0.0.1:0 --admin-addr "$admin"
spid="$(cat "$WORK/streams.pid")"
# The host's RSS split by what holds it (KiB): `rss memories memories_mapped
# tables stacks`; the rest is the host's own. The pool's reservations are
# found before any instance splits them: the linear memories' is the
# largest mapping, the tables' the largest read-write one.
cat >"$WORK/smaps.py" <<'PY'
import sys

def reservations(pid):
    vmas = []
    for line in open(f"/proc/{pid}/maps"):
        f = line.split()
        start, end = (int(x, 16) for x in f[0].split("-"))
        if len(f) == 5:
            vmas.append((end - start, f[1], start, end))
    memories = max(vmas)
    tables = max(v for v in vmas if v[1].startswith("rw"))
    return memories[2], memories[3], tables[2], tables[3]

def split(pid, pool):
    m0, m1, t0, t1 = pool
    rss = mem = mapped = tables = stacks = 0
    vma = None
    for line in open(f"/proc/{pid}/smaps"):
        f = line.split()
        if "-" in f[0] and not f[0].endswith(":"):
            start, end = (int(x, 16) for x in f[0].split("-"))
            vma = (start, end, f[1], len(f) == 5)
        elif f[0] == "Rss:":
            kib = int(f[1])
            start, end, perms, anonymous = vma
            rss += kib
            if m0 <= start < m1:
                mem += kib
                mapped += (end - start) // 1024 if perms != "---p" else 0
            elif t0 <= start < t1:
                tables += kib
            elif anonymous and perms == "rw-p" and end - start == 2 << 20:
                # wasmtime's fiber stacks, 2 MiB each (the host's few
                # threads' stacks have that size too, and barely change).
                stacks += kib
    return rss, mem, mapped, tables, stacks

if __name__ == "__main__":
    pid = sys.argv[1]
    if len(sys.argv) == 2:
        print(*reservations(pid))
    else:
        print(*split(pid, [int(x) for x in sys.argv[2:]]))
PY
pool="$(python3 "$WORK/smaps.py" "$spid")"
echo "1 GET /api/clock?count=2&interval_ms=10 200" >"$WORK/warm.txt"
$PIN1 target/release/loadgen --addr "$(cat "$WORK/streams.addr")" --connections 1 --requests 2 --mix "$WORK/warm.txt" >/dev/null
sleep 1
# shellcheck disable=SC2086 # $pool is four numbers
idle="$(python3 "$WORK/smaps.py" "$spid" $pool)"
# While the streams run, every 0.1 s: the gauge and VmRSS; at the largest
# RSS seen with all STREAMS instances running, the split. Prints the most
# instances seen running and that split.
# shellcheck disable=SC2086
python3 - "$WORK" "$spid" "$admin" "$STREAMS" $pool >"$WORK/plateau.txt" <<'PY' &
import os, sys, time, urllib.request
sys.path.insert(0, sys.argv[1])
import smaps
work, pid, admin, streams = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pool = [int(x) for x in sys.argv[5:]]
most, best, at_best = 0, 0, None
while not os.path.exists(f"{work}/stop"):
    metrics = urllib.request.urlopen(f"http://{admin}/metrics", timeout=5).read().decode()
    running = sum(float(l.split()[-1]) for l in metrics.splitlines()
                  if l.startswith("wasmroutes_instances_in_flight{"))
    most = max(most, int(running))
    rss = int(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")))
    if running >= streams and rss > best:
        best, at_best = rss, smaps.split(pid, pool)
    time.sleep(0.1)
print(most, *(at_best or (0, 0, 0, 0, 0)))
PY
monitor=$!
echo "1 GET /api/clock?count=40&interval_ms=200 200" >"$WORK/streams.txt"
echo "load $(cut -d' ' -f1-3 /proc/loadavg) | streams | $STREAMS | GET /api/clock?count=40&interval_ms=200"
read -r u s < <(cpu_ticks streams); t0=$((u + s))
out="$($PIN1 target/release/loadgen --addr "$(cat "$WORK/streams.addr")" --connections "$STREAMS" \
    --requests "$STREAMS" --mix "$WORK/streams.txt")"
read -r u s < <(cpu_ticks streams); t1=$((u + s))
touch "$WORK/stop"
wait "$monitor"
echo "  $(echo "$out" | head -2 | tr '\n' ' ')"
echo "$out" | head -1 | grep -q "unexpected=0 io_errors=0" || { echo "FAIL: a stream failed"; exit 1; }
sleep 1
# shellcheck disable=SC2086
after="$(python3 "$WORK/smaps.py" "$spid" $pool)"
stream_line="$(echo "$out" | sed -n 2p)"

this="$(git rev-parse --short HEAD)"; git diff --quiet HEAD || this="$this with uncommitted changes"
python3 - "$RESULTS" "$(getconf CLK_TCK)" "$STREAMS" "$idle" "$(cat "$WORK/plateau.txt")" "$after" \
    "$((t1 - t0))" "$stream_line" >bench/streaming.md <<PY
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
tick_us = 1e6 / int(sys.argv[2])
streams = int(sys.argv[3])
idle = [int(x) for x in sys.argv[4].split()]
most, *plateau = [int(x) for x in sys.argv[5].split()]
after = [int(x) for x in sys.argv[6].split()]
stream_ticks, stream_line = int(sys.argv[7]), sys.argv[8]
med = statistics.median
by = {}
for conns, route, server, rnd, rps, p50, ttfb50, ttfb99, mibs, requests, ticks, seconds in rows:
    by.setdefault((route, server, conns), []).append((float(rps), float(p50), float(ttfb50), float(ttfb99),
        float(mibs), int(ticks) * tick_us / int(requests), int(ticks) * tick_us / 1e6 / float(seconds)))
col = lambda key, i: med([r[i] for r in by[key]])
mib_text = lambda x: f"{x:,.1f}" if x >= 1 else "—"
print("Streamed answers, measured $(date -u +%Y-%m-%d) on this checkout ($this), $(nproc) cores ($(uname -r)), "
      "median of $ROUNDS interleaved rounds of ${SECONDS_PER_ROUND}s, fresh instances, servers on CPU 0, load on "
      "CPU 1. CPU is the server's (user + system, /proc/PID/stat) per request; core busy is that CPU over the "
      "round's wall time.\n")
print("| request | server | conns | req/s | p50 ms | first byte p50 ms | first byte p99 ms | MiB/s | CPU µs | core busy |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (route, server, conns), rs in by.items():
    print(f"| \`{route}\` | {server} | {conns} | {col((route, server, conns), 0):,.0f} | "
          f"{col((route, server, conns), 1):.3f} | {col((route, server, conns), 2):.3f} | "
          f"{col((route, server, conns), 3):.3f} | {mib_text(col((route, server, conns), 4))} | "
          f"{col((route, server, conns), 5):,.1f} | {col((route, server, conns), 6):.0%} |")
hello = col(("GET /api/hello", "host", "1"), 1)
paced = col(("GET /api/hello", "host, paced", "1"), 1)
print()
first = "GET /stream?chunks=2"
print(f"- first byte of \`{first}\` (its first chunk written at once) over a whole hello's p50 (1 connection): "
      f"{col((first, 'host', '1'), 2) / hello:.2f}×")
for route in ("GET /stream?chunks=2&interval_ms=10", "GET /api/clock?count=2&interval_ms=10"):
    print(f"- first byte of \`{route}\` over a whole hello's p50 (1 connection): "
          f"{col((route, 'host', '1'), 2) / hello:.2f}×; over hello's paced to the same request rate: "
          f"{col((route, 'host', '1'), 2) / paced:.2f}×")
mib = "GET /stream?chunks=16&size=65536"
h = n = "$CONNS"
print(f"- 1 MiB streamed, host over native: {col((mib, 'host', h), 4) / col((mib, 'native', n), 4):.2f}× the MiB/s, "
      f"{col((mib, 'host', h), 5) / col((mib, 'native', n), 5):.2f}× the CPU per request")
print()
kib = lambda x: f"{x:,.0f} KiB"
per = lambda a, b: (a - b) / streams
pool = lambda s: s[1] + s[3] + s[4]
field = lambda name: float(stream_line.split(f" {name}=")[1].split()[0])
print(f"{streams:,} SSE streams of the clock at once (\`GET /api/clock?count=40&interval_ms=200\`, each ~8 s) on a "
      f"fresh host: first event p50 {field('ttfb50_ms'):.1f} ms, p99 {field('ttfb99_ms'):.1f} ms (all connecting at "
      f"once), whole stream p50 {field('p50_ms') / 1000:.2f} s; at most {most:,} instances running at once (its "
      f"\`wasmroutes_instances_in_flight\`); host CPU {stream_ticks * tick_us / streams:,.0f} µs per stream. "
      "RSS from /proc/PID/smaps, split into the instances' part (wasmtime's pool: linear memories, tables, "
      "fiber stacks) and the rest of the host:\n")
print("| host RSS | idle | all streams open | per open stream | after the streams end |")
print("| --- | ---: | ---: | ---: | ---: |")
print(f"| total | {kib(idle[0])} | {kib(plateau[0])} | {kib(per(plateau[0], idle[0]))} | {kib(after[0])} |")
print(f"| linear memories (resident) | {kib(idle[1])} | {kib(plateau[1])} | {kib(per(plateau[1], idle[1]))} | "
      f"{kib(after[1])} |")
print(f"| linear memories (mapped) | {kib(idle[2])} | {kib(plateau[2])} | {kib(per(plateau[2], idle[2]))} | "
      f"{kib(after[2])} |")
print(f"| tables | {kib(idle[3])} | {kib(plateau[3])} | {kib(per(plateau[3], idle[3]))} | {kib(after[3])} |")
print(f"| fiber stacks | {kib(idle[4])} | {kib(plateau[4])} | {kib(per(plateau[4], idle[4]))} | {kib(after[4])} |")
rest = lambda s: s[0] - pool(s)
print(f"| the rest of the host | {kib(rest(idle))} | {kib(rest(plateau))} | {kib(per(rest(plateau), rest(idle)))} | "
      f"{kib(rest(after))} |")
PY
cat bench/streaming.md
