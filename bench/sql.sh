#!/usr/bin/env bash
# SQL databases: what the notes sample's requests cost beside hello, on an
# embedded SQLite file and on PostgreSQL, in one run.
#
#   bench/sql.sh [SECONDS_PER_ROUND]     (default 5)
#
# Two hosts, each serving hello and the Rust notes routes (sample-routes/notes,
# notes-id) with database `default` on SQLite or on a PostgreSQL started here
# (initdb in a temp dir, as the `postgres` user when root). Hosts and
# PostgreSQL run on CPU 0, the load on CPU 1. Each database is seeded with
# 1,000 notes; then, ROUNDS (default 3) interleaved rounds at CONNS (default
# 64) connections of: GET /api/hello (the baseline), GET /api/notes/500 (a
# primary key), GET /api/notes?limit=100 (a list of 100 serialised to JSON)
# and POST /api/notes (a durable insert, a unique title each).
#
# Server CPU per request is the host's from /proc, plus for PostgreSQL rows the
# postmaster's and its backends'. Writes bench/sql.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND="${1:-5}"
ROUNDS="${ROUNDS:-3}"
CONNS="${CONNS:-64}"

scripts/setup.sh rust services
cargo build --release --locked -p wasmroutes -p loadgen
cargo build --release --locked --target wasm32-wasip2 -p hello -p notes -p notes-id

# shellcheck source=bench/lib.sh
. bench/lib.sh

# PostgreSQL refuses to run as root: its folder belongs to `postgres` then,
# outside $WORK (which only root may enter).
pgbin="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d | sort -V | tail -1)"
[ -x "$pgbin/postgres" ] || { echo "bench: PostgreSQL is not installed (scripts/setup.sh services)" >&2; exit 1; }
PGDIR="$(mktemp -d /tmp/wasmroutes-bench-pg.XXXXXX)"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PGDIR"
    as_pg=(setpriv --reuid postgres --regid postgres --init-groups --)
fi
trap 'cleanup; rm -rf "$PGDIR"' EXIT
"${as_pg[@]}" "$pgbin/initdb" -D "$PGDIR/data" -U bench --auth=trust --encoding=UTF8 --locale=C >"$PGDIR/initdb.log"
PGPORT="$(free_port)"
$PIN0 "${as_pg[@]}" "$pgbin/postgres" -D "$PGDIR/data" -p "$PGPORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$PGDIR" >"$PGDIR/postgres.log" 2>&1 &
PGPID=$!
PIDS+=("$PGPID")
for _ in $(seq 300); do "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 0.1; done
"$pgbin/psql" -q -h 127.0.0.1 -p "$PGPORT" -U bench -d postgres -c "CREATE DATABASE notes"

wasm="$PWD/target/wasm32-wasip2/release"
manifest() { # manifest FILE DATABASE_TABLE
    cat >"$1" <<EOF
$2

[[route]]
path = "/api/hello"
component = "$wasm/hello.wasm"

[[route]]
path = "/api/notes"
component = "$wasm/notes.wasm"
databases = ["default"]

[[route]]
path = "/api/notes/[id]"
component = "$wasm/notes_id.wasm"
databases = ["default"]
EOF
}
manifest "$WORK/sqlite.toml" "[database.default]
type = \"sqlite\"
migrations = \"$PWD/sample-routes/migrations/notes\""
manifest "$WORK/postgres.toml" "[database.default]
type = \"postgres\"
url = \"postgres://bench@127.0.0.1:$PGPORT/notes\"
migrations = \"$PWD/sample-routes/migrations/notes-postgres\""
start sqlite target/release/wasmroutes serve "$WORK/sqlite.toml" --data-dir "$WORK/data" --addr 127.0.0.1:0
start postgres target/release/wasmroutes serve "$WORK/postgres.toml" --addr 127.0.0.1:0

# pg_ticks: PostgreSQL's CPU so far (the postmaster and its backends), in ticks.
pg_ticks() {
    local p total=0
    for p in "$PGPID" $(pgrep -P "$PGPID" || true); do
        total=$((total + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
    done
    echo "$total"
}

insert='POST /api/notes 201 {"title":"bench {seq}","body":"A note the benchmark wrote: a sentence or two of text."}'
for server in sqlite postgres; do
    echo "1 $insert" >"$WORK/seed.txt"
    seeded="$($PIN1 target/release/loadgen --addr "$(cat "$WORK/$server.addr")" --connections 8 --requests 1000 \
        --mix "$WORK/seed.txt")"
    grep -q "unexpected=0 io_errors=0" <<<"$seeded" || { echo "bench: seeding $server failed: $seeded"; exit 1; }
done

# measure SERVER ROUTE ROUND: one round, appended to $RESULTS as
# conns, route, server, round, rps, p50, p99, requests, host ticks, postgres ticks.
measure() {
    local server="$1" route="$2" round="$3" addr out line host0 host1 pg0 pg1 u s
    addr="$(cat "$WORK/$server.addr")"
    echo "1 $route" >"$WORK/mix.txt"
    $PIN1 target/release/loadgen --addr "$addr" --connections "$CONNS" --duration 0.5s --mix "$WORK/mix.txt" >/dev/null
    read -r u s < <(cpu_ticks "$server"); host0=$((u + s)); pg0="$(pg_ticks)"
    out="$($PIN1 target/release/loadgen --addr "$addr" --connections "$CONNS" --duration "${SECONDS_PER_ROUND}s" \
        --mix "$WORK/mix.txt")"
    read -r u s < <(cpu_ticks "$server"); host1=$((u + s)); pg1="$(pg_ticks)"
    echo "  $(echo "$out" | head -1) $(echo "$out" | sed -n 2p)"
    echo "$out" | head -1 | grep -q "unexpected=0 io_errors=0" || { echo "FAIL: errors under load"; exit 1; }
    line="$(echo "$out" | sed -n 2p)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$CONNS" "${route%% 20*}" "$server" "$round" \
        "$(echo "$line" | sed 's/.*rps=\([0-9]*\).*/\1/')" "$(echo "$line" | sed 's/.*p50_ms=\([0-9.]*\).*/\1/')" \
        "$(echo "$line" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')" \
        "$(echo "$out" | head -1 | sed 's/requests=\([0-9]*\).*/\1/')" "$((host1 - host0))" "$((pg1 - pg0))" >>"$RESULTS"
}

ROWS=("sqlite|GET /api/hello 200"
    "sqlite|GET /api/notes/500 200" "postgres|GET /api/notes/500 200"
    "sqlite|GET /api/notes?limit=100&sort=oldest 200" "postgres|GET /api/notes?limit=100&sort=oldest 200"
    "sqlite|$insert" "postgres|$insert")
: >"$RESULTS"
for round in $(seq "$ROUNDS"); do
    for row in "${ROWS[@]}"; do
        echo "load $(cut -d' ' -f1-3 /proc/loadavg) | ${row%%|*} | $(echo "${row#*|}" | cut -d' ' -f1-2) | round $round/$ROUNDS"
        measure "${row%%|*}" "${row#*|}" "$round"
    done
done

this="$(git rev-parse --short HEAD)"; git diff --quiet HEAD || this="$this with uncommitted changes"
python3 - "$RESULTS" "$(getconf CLK_TCK)" >bench/sql.md <<PY
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
tick_us = 1e6 / int(sys.argv[2])
by = {}
for conns, route, server, rnd, rps, p50, p99, requests, host, pg in rows:
    by.setdefault((route, server), []).append(
        (float(rps), float(p50), float(p99), int(host) * tick_us / int(requests), int(pg) * tick_us / int(requests)))
med = lambda xs: statistics.median(xs)
hello = med([r[3] for r in by[("GET /api/hello", "sqlite")]])
print("SQL databases: the notes sample beside hello, measured $(date -u +%Y-%m-%d) on this checkout ($this), "
      "$(nproc) cores ($(uname -r)), median of $ROUNDS interleaved rounds of ${SECONDS_PER_ROUND}s at $CONNS "
      "connections, fresh instances, hosts and PostgreSQL on CPU 0, load on CPU 1; 1,000 notes seeded. "
      "CPU is server CPU per request: the host's, plus PostgreSQL's (postmaster and backends) on its rows.\n")
print("| request | database | req/s | p50 ms | p99 ms | host CPU µs | PostgreSQL CPU µs | CPU × hello |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for (route, server), rs in by.items():
    host = med([r[3] for r in rs])
    pg = med([r[4] for r in rs]) if server == "postgres" else 0.0
    db = "—" if route == "GET /api/hello" else server
    pg_text = f"{pg:,.1f}" if server == "postgres" else "—"
    print(f"| \`{route}\` | {db} | {med([r[0] for r in rs]):,.0f} | {med([r[1] for r in rs]):.2f} | "
          f"{med([r[2] for r in rs]):.2f} | {host:,.1f} | {pg_text} | {(host + pg) / hello:.2f} |")
PY
cat bench/sql.md
