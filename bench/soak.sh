#!/usr/bin/env bash
# Soak: a mixed load of good and failing routes against one host, checking
# every status, that the host survives, and that its memory stays flat.
#
#   bench/soak.sh [REQUESTS] [CONNECTIONS]      (defaults: 200000, 128)
#
# The server runs on CPU 0, the load generator on CPU 1 (taskset). Exits
# non-zero on any unexpected status, a host crash, or RSS growth over 10%.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS="${1:-200000}"
CONNECTIONS="${2:-128}"
WARMUP=20000

scripts/setup.sh
cargo build --release -p wasmroutes -p loadgen
cargo build --release --target wasm32-wasip2 -p hello -p posts-id -p search -p users -p user-id -p docs-slug -p hostile

# `taskset` execs the program, so `$!` below is the server's own pid.
if command -v taskset >/dev/null; then PIN0="taskset -c 0"; PIN1="taskset -c 1"; else PIN0=""; PIN1=""; fi
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

LOG="$(mktemp)"
$PIN0 target/release/wasmroutes serve bench/soak-routes.toml --addr 127.0.0.1:0 2>"$LOG" &
HOST=$!
trap 'kill $HOST 2>/dev/null || true; wait $HOST 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 200); do grep -q "listening on" "$LOG" && break; sleep 0.1; done
ADDR="$(sed -n 's/.*listening on http:\/\///p' "$LOG")"
[ -n "$ADDR" ] || { cat "$LOG"; exit 1; }
[ "$(cat /proc/$HOST/comm)" = wasmroutes ] || { echo "pid $HOST is not the server"; exit 1; }
echo "host pid $HOST on $ADDR; load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== warm-up: $WARMUP requests"
$PIN1 target/release/loadgen --addr "$ADDR" --connections "$CONNECTIONS" --requests "$WARMUP" --mix bench/soak-mix.txt >/dev/null
RSS_WARM="$(rss_kib $HOST)"

echo "== soak: $REQUESTS requests, $CONNECTIONS connections"
STATUS=0
$PIN1 target/release/loadgen --addr "$ADDR" --connections "$CONNECTIONS" --requests "$REQUESTS" --mix bench/soak-mix.txt || STATUS=$?
kill -0 $HOST 2>/dev/null || { echo "FAIL: host died"; tail -50 "$LOG"; exit 1; }
RSS_END="$(rss_kib $HOST)"
GROWTH="$(awk -v a="$RSS_WARM" -v b="$RSS_END" 'BEGIN {printf "%.1f", (b - a) * 100 / a}')"
echo "rss_after_warmup_kib=$RSS_WARM rss_end_kib=$RSS_END growth_pct=$GROWTH"
echo "host log: $(wc -l <"$LOG") lines, $(grep -c ' ERROR ' "$LOG" || true) guest-failure errors logged"
[ "$STATUS" -eq 0 ] || { echo "FAIL: unexpected statuses or I/O errors"; exit 1; }
awk -v g="$GROWTH" 'BEGIN {exit !(g <= 10)}' || { echo "FAIL: RSS grew more than 10%"; exit 1; }
echo "PASS"
