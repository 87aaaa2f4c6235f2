#!/usr/bin/env bash
# A cluster on one machine, on loopback: one redis-server (AOF with
# `appendfsync always`: a write Redis acknowledged survives its restart), one
# PostgreSQL (a commit it acknowledged survives its crash), N `wasmroutes
# serve` hosts sharing both (deploy/kubernetes/routes.toml, the pods'
# deployment, staged by deploy/stage.sh), and nginx in front.
#
#   deploy/local/cluster.sh up                 stage, start everything, wait until ready
#   deploy/local/cluster.sh down               stop nginx, the hosts (gracefully), Redis, PostgreSQL
#   deploy/local/cluster.sh status
#   deploy/local/cluster.sh rolling-restart    restart each host in turn, without a failed request
#   deploy/local/cluster.sh restart N          one host: drain, stop, start, wait for /readyz, undrain
#   deploy/local/cluster.sh host-stop N        drain N from nginx, then SIGTERM it and wait
#   deploy/local/cluster.sh host-start N       start N, wait for /readyz, put it back in nginx
#   deploy/local/cluster.sh host-kill N        SIGKILL N (a crash: nginx finds out by itself)
#   deploy/local/cluster.sh redis-stop | redis-start
#   deploy/local/cluster.sh redis-kill         SIGKILL Redis (a crash: the AOF keeps what it acknowledged)
#   deploy/local/cluster.sh postgres-stop | postgres-start
#   deploy/local/cluster.sh postgres-kill      SIGKILL every PostgreSQL process (a crash: the WAL keeps
#                                              what it committed)
#
# Hosts are numbered from 1. Settings (environment, read by `up` and kept in
# $CLUSTER_DIR/settings for the later commands):
#   CLUSTER_DIR   state, logs and data       [deploy/local/.run]
#   PORT          nginx's port               [8080]
#   HOST_PORTS    the hosts' ports           ["3001 3002 3003"]
#   ADMIN_PORTS   their admin ports          ["9001 9002 9003"]
#   REDIS_PORT                               [6380]
#   POSTGRES_PORT                            [5433]
#   POSTGRES_BIN  where PostgreSQL's programs are (initdb, pg_ctl, psql, ...)
#                 [the newest /usr/lib/postgresql/*/bin, else PATH]
#   STAGE_DIR     an already staged deployment to serve (deploy/stage.sh's
#                 output); without it `up` runs `scripts/setup.sh rust services` and stages
#                 into $CLUSTER_DIR/app
#   SHUTDOWN_GRACE                           [10s]
#   LOG_FORMAT    the hosts' log format      [pretty]
#
# PostgreSQL: a cluster made by initdb in $CLUSTER_DIR/postgres (kept by
# `down`, reused by the next `up`, like Redis's AOF), with the superuser and
# database `wasmroutes`; the hosts get its URL as DATABASE_URL. It trusts
# every connection (`--auth=trust`, no password) and listens on 127.0.0.1
# only: anyone on this machine can connect as its superuser, which is fine
# for a local cluster and nothing else. PostgreSQL refuses to run as root, so
# when this script runs as root it runs the server programs as the
# `postgres` user the package creates (setpriv), and that user must be able
# to enter CLUSTER_DIR.
#
# Needs redis-server, redis-cli, PostgreSQL's server and client programs,
# nginx and curl (`scripts/setup.sh services` installs them), and setpriv
# (util-linux) when run as root.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${CLUSTER_DIR:-$root/deploy/local/.run}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

say() { echo "cluster: $*" >&2; }
die() {
    say "$*"
    exit 1
}

load_settings() {
    if [ -f "$dir/settings" ]; then
        # shellcheck source=/dev/null
        . "$dir/settings"
    fi
    : "${PORT:=8080}" "${HOST_PORTS:=3001 3002 3003}" "${ADMIN_PORTS:=9001 9002 9003}" "${REDIS_PORT:=6380}"
    : "${POSTGRES_PORT:=5433}" "${POSTGRES_BIN:=$(postgres_bin_default)}"
    : "${STAGE_DIR:=$dir/app}" "${SHUTDOWN_GRACE:=10s}" "${LOG_FORMAT:=pretty}"
    read -ra host_ports <<<"$HOST_PORTS"
    read -ra admin_ports <<<"$ADMIN_PORTS"
    [ "${#host_ports[@]}" -eq "${#admin_ports[@]}" ] || die "HOST_PORTS and ADMIN_PORTS differ in length"
    hosts="${#host_ports[@]}"
}

save_settings() {
    local name
    for name in PORT HOST_PORTS ADMIN_PORTS REDIS_PORT POSTGRES_PORT POSTGRES_BIN STAGE_DIR SHUTDOWN_GRACE LOG_FORMAT; do
        printf '%s=%q\n' "$name" "${!name}"
    done >"$dir/settings"
}

pid_of() { cat "$1" 2>/dev/null || true; }
# A zombie counts as gone: it has exited and let go of its ports and files,
# and only waits for its parent to collect it, which for a daemon is init,
# and some inits take seconds.
alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
    stat="${stat##*) }"
    [ "${stat%% *}" != Z ]
}

# Waits until `$@` succeeds, up to $1 seconds.
wait_for() {
    local seconds="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || die "timed out waiting for $what"
        sleep 0.05
    done
}

wait_exit() {
    local pid="$1" seconds="$2" what="$3"
    local deadline=$((SECONDS + seconds))
    while alive "$pid"; do
        [ "$SECONDS" -lt "$deadline" ] || die "$what (pid $pid) did not exit in ${seconds}s"
        sleep 0.05
    done
}

check_index() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$hosts" ] || die "no host $1 (hosts are 1..$hosts)"
}

# --- Redis -----------------------------------------------------------------

redis_start() {
    mkdir -p "$dir/redis"
    if alive "$(pid_of "$dir/redis/redis.pid")"; then
        return
    fi
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir/redis" \
        --appendonly yes --appendfsync always --save "" \
        --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"
    wait_for 10 "redis on port $REDIS_PORT" redis_ready
    say "redis on 127.0.0.1:$REDIS_PORT (AOF, appendfsync always) in $dir/redis"
}

redis_ready() { [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

redis_stop() {
    local pid
    pid="$(pid_of "$dir/redis/redis.pid")"
    alive "$pid" || return 0
    # SHUTDOWN fsyncs the AOF; every acknowledged write was fsynced already.
    redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait_exit "$pid" 10 redis
    say "redis stopped"
}

redis_kill() {
    local pid
    pid="$(pid_of "$dir/redis/redis.pid")"
    alive "$pid" || die "redis is not running"
    kill -KILL "$pid"
    wait_exit "$pid" 10 redis
    say "redis killed (SIGKILL)"
}

# --- PostgreSQL ----------------------------------------------------------------

# Debian's postgresql puts the server programs off PATH, one folder per
# major version.
postgres_bin_default() {
    local newest
    newest="$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -1 || true)"
    if [ -n "$newest" ]; then
        dirname "$newest"
    else
        dirname "$(command -v postgres 2>/dev/null || echo /nonexistent/postgres)"
    fi
}

pg_dir() { echo "$dir/postgres"; }
pg_data() { echo "$dir/postgres/data"; }
database_url() { echo "postgres://wasmroutes@127.0.0.1:$POSTGRES_PORT/wasmroutes"; }

# Runs one of PostgreSQL's server programs, as the `postgres` user when this
# script runs as root (PostgreSQL refuses root), from the cluster's folder
# (the caller's may be closed to that user).
pg_server() {
    local program="$POSTGRES_BIN/$1"
    shift
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$(pg_dir)" && setpriv --reuid postgres --regid postgres --init-groups -- "$program" "$@")
    else
        (cd "$(pg_dir)" && "$program" "$@")
    fi
}

pg_client() {
    "$POSTGRES_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$POSTGRES_PORT" -U wasmroutes "$@"
}

# The postmaster's pid: the first line of its lock file, which a crash
# leaves behind (hence the liveness check wherever it is used).
postgres_pid() { head -1 "$(pg_data)/postmaster.pid" 2>/dev/null || true; }

postgres_ready() {
    "$POSTGRES_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U wasmroutes -d postgres
}

postgres_init() {
    local pgdir
    pgdir="$(pg_dir)"
    [ -f "$(pg_data)/PG_VERSION" ] && return
    mkdir -p "$pgdir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$pgdir"
        setpriv --reuid postgres --regid postgres --init-groups -- test -w "$pgdir" ||
            die "the postgres user cannot reach $pgdir: set CLUSTER_DIR to a folder every user can enter"
    fi
    chmod 700 "$pgdir"
    # --locale=C: lower() folds ASCII only and text sorts by byte, as on
    # SQLite, so the notes routes answer the same on both. --no-sync spares
    # seconds per `up`: only a crash of the machine itself before the files
    # reach the disk could harm the fresh cluster (a crash of PostgreSQL
    # cannot); the server fsyncs everything it does after that.
    pg_server initdb -D "$(pg_data)" -U wasmroutes --auth=trust --encoding=UTF8 --locale=C --no-sync \
        >"$pgdir/initdb.log" 2>&1 || die "initdb failed:$(echo; cat "$pgdir/initdb.log")"
    say "postgres cluster created in $pgdir (initdb; trusts loopback connections)"
}

postgres_start() {
    for program in initdb pg_ctl postgres pg_isready psql; do
        [ -x "$POSTGRES_BIN/$program" ] ||
            die "$POSTGRES_BIN/$program is missing: run scripts/setup.sh services, or set POSTGRES_BIN"
    done
    if [ "$(id -u)" -eq 0 ]; then
        command -v setpriv >/dev/null || die "setpriv (util-linux) is missing: as root it runs PostgreSQL"
    fi
    postgres_init
    if ! alive "$(postgres_pid)"; then
        # No Unix socket: every client, the hosts included, uses TCP on
        # loopback. Room for every host's pool (16 connections each).
        pg_server pg_ctl start -D "$(pg_data)" -l "$(pg_dir)/postgres.log" -w -t 60 -s \
            -o "-p $POSTGRES_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' \
                -c max_connections=$((100 + hosts * 16))" ||
            die "postgres did not start; its log:$(echo; tail -20 "$(pg_dir)/postgres.log")"
    fi
    wait_for 30 "postgres on port $POSTGRES_PORT" postgres_ready
    if [ -z "$(pg_client -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'wasmroutes'")" ]; then
        pg_client -d postgres -c "CREATE DATABASE wasmroutes" || die "cannot create the database wasmroutes"
    fi
    say "postgres on 127.0.0.1:$POSTGRES_PORT in $(pg_dir) (DATABASE_URL=$(database_url))"
}

postgres_stop() {
    alive "$(postgres_pid)" || return 0
    # Fast shutdown: open transactions roll back, sessions end, and a
    # checkpoint writes everything out.
    pg_server pg_ctl stop -D "$(pg_data)" -m fast -w -t 60 -s || die "postgres did not stop"
    say "postgres stopped"
}

postgres_kill() {
    local pid children
    pid="$(postgres_pid)"
    alive "$pid" || die "postgres is not running"
    # Every process at once, as a crash of its machine or container would:
    # stopped first so that it forks no backend while its children are
    # listed (each runs in a session of its own, so no group kill reaches
    # them).
    kill -STOP "$pid"
    children="$(pgrep -P "$pid" || true)"
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL "$pid" $children 2>/dev/null || true
    for child in $children; do
        wait_exit "$child" 10 "a postgres process"
    done
    # Even as a zombie, the postmaster's pid in the lock file it left makes
    # the next start refuse ("another postmaster is running"): wait until
    # its parent has collected it.
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || die "postgres (pid $pid) was not collected in 10s"
        sleep 0.05
    done
    say "postgres killed (SIGKILL)"
}

# --- Hosts -------------------------------------------------------------------

host_start() {
    local i="$1" port="${host_ports[$1 - 1]}" admin="${admin_ports[$1 - 1]}"
    local hdir="$dir/host-$i"
    mkdir -p "$hdir/data"
    if alive "$(pid_of "$hdir/pid")"; then
        say "host $i is already running"
    else
        # setsid: the host outlives this script and a Ctrl-C in its terminal.
        REDIS_URL="redis://127.0.0.1:$REDIS_PORT" DATABASE_URL="$(database_url)" RUST_LOG="${RUST_LOG:-info}" \
            setsid "$STAGE_DIR/bin/wasmroutes" --log-format "$LOG_FORMAT" serve "$STAGE_DIR/routes.toml" \
            --addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$admin" \
            --cache-dir "$STAGE_DIR/cache" --data-dir "$hdir/data" \
            --shutdown-grace "$SHUTDOWN_GRACE" \
            >>"$hdir/log" 2>&1 </dev/null &
        echo $! >"$hdir/pid"
    fi
    wait_for 60 "host $i's /readyz (log: $hdir/log)" host_ready "$i"
    say "host $i on 127.0.0.1:$port (admin $admin), pid $(pid_of "$hdir/pid")"
}

host_ready() {
    alive "$(pid_of "$dir/host-$1/pid")" || die "host $1 exited; its log:$(echo; tail -20 "$dir/host-$1/log")"
    curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:${admin_ports[$1 - 1]}/readyz"
}

host_sigterm() {
    local pid
    pid="$(pid_of "$dir/host-$1/pid")"
    alive "$pid" || return 0
    kill -TERM "$pid"
    wait_exit "$pid" 60 "host $1"
    say "host $1 stopped"
}

host_kill() {
    local pid
    pid="$(pid_of "$dir/host-$1/pid")"
    alive "$pid" || die "host $1 is not running"
    kill -KILL "$pid"
    wait_exit "$pid" 10 "host $1"
    say "host $1 killed (SIGKILL)"
}

# --- nginx -------------------------------------------------------------------

# Which hosts nginx must not send new requests to: one index per line.
drained() { cat "$dir/nginx/drained" 2>/dev/null || true; }

nginx_render() {
    local servers="" i user=""
    for ((i = 1; i <= hosts; i++)); do
        servers+="        server 127.0.0.1:${host_ports[$i - 1]} max_fails=1 fail_timeout=2s"
        if drained | grep -qx "$i"; then servers+=" down"; fi
        servers+=";"$'\n'
    done
    # Workers run as whoever runs this (as root nginx would pick `nobody`,
    # who cannot write the temp dirs here).
    if [ "$(id -u)" -eq 0 ]; then user="user root;"; fi
    mkdir -p "$dir/nginx/tmp"
    awk -v run="$dir/nginx" -v port="$PORT" -v user="$user" -v servers="${servers%$'\n'}" '
        { gsub(/@RUN@/, run); gsub(/@PORT@/, port); gsub(/@USER@/, user) }
        /^@SERVERS@$/ { print servers; next }
        { print }' "$root/deploy/local/nginx.conf" >"$dir/nginx/nginx.conf.new"
    nginx -t -q -p "$dir/nginx" -c "$dir/nginx/nginx.conf.new" -e "$dir/nginx/error.log" ||
        die "nginx rejects $dir/nginx/nginx.conf.new"
    mv "$dir/nginx/nginx.conf.new" "$dir/nginx/nginx.conf"
}

nginx_pid() { pid_of "$dir/nginx/nginx.pid"; }

nginx_start() {
    nginx_render
    if ! alive "$(nginx_pid)"; then
        nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log"
        wait_for 10 "nginx on port $PORT" curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/"
    fi
    say "nginx on http://127.0.0.1:$PORT in front of $hosts host(s)"
}

# Applies the drained set: new workers start with the new upstream list and
# the old ones finish what they are proxying, then exit. Waiting for them is
# what makes "drained" true: no worker can send a new request to a drained
# host any more.
nginx_reload() {
    local master old pid
    master="$(nginx_pid)"
    alive "$master" || die "nginx is not running"
    nginx_render
    old="$(pgrep -P "$master" || true)"
    kill -HUP "$master"
    for pid in $old; do
        wait_exit "$pid" 30 "an old nginx worker"
    done
}

nginx_stop() {
    local pid
    pid="$(nginx_pid)"
    alive "$pid" || return 0
    kill -QUIT "$pid" # graceful: finish what is in flight
    wait_exit "$pid" 30 nginx
    say "nginx stopped"
}

drain() {
    { drained; echo "$1"; } | sort -u >"$dir/nginx/drained.new"
    mv "$dir/nginx/drained.new" "$dir/nginx/drained"
    nginx_reload
}

undrain() {
    drained | { grep -vx "$1" || true; } >"$dir/nginx/drained.new"
    mv "$dir/nginx/drained.new" "$dir/nginx/drained"
    nginx_reload
}

# --- Commands ------------------------------------------------------------------

up() {
    if [ -z "${STAGE_DIR:-}" ]; then
        # Building from the checkout: set up what a cluster needs (the
        # toolchain with its wasm target, redis-server, PostgreSQL, nginx,
        # curl), not the tools only the tests use.
        "$root/scripts/setup.sh" rust services
        STAGE_DIR="$dir/app"
        "$root/deploy/stage.sh" "$STAGE_DIR"
    fi
    for tool in redis-server redis-cli nginx curl; do
        command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh services"
    done
    STAGE_DIR="$(cd "$STAGE_DIR" && pwd)"
    load_settings
    save_settings
    mkdir -p "$dir/nginx"
    : >"$dir/nginx/drained"
    redis_start
    postgres_start
    local i
    for ((i = 1; i <= hosts; i++)); do
        host_start "$i"
    done
    nginx_start
    say "up: http://127.0.0.1:$PORT (state in $dir; stop with: $0 down)"
}

down() {
    nginx_stop
    local i
    for ((i = 1; i <= hosts; i++)); do
        host_sigterm "$i"
    done
    redis_stop
    postgres_stop
}

status() {
    local i pid
    printf 'nginx  http://127.0.0.1:%s  %s\n' "$PORT" "$(alive "$(nginx_pid)" && echo "up (pid $(nginx_pid))" || echo down)"
    for ((i = 1; i <= hosts; i++)); do
        pid="$(pid_of "$dir/host-$i/pid")"
        printf 'host %s http://127.0.0.1:%s  %s%s\n' "$i" "${host_ports[$i - 1]}" \
            "$(alive "$pid" && echo "up (pid $pid)" || echo down)" \
            "$(drained | grep -qx "$i" && echo ', drained' || true)"
    done
    pid="$(pid_of "$dir/redis/redis.pid")"
    printf 'redis  127.0.0.1:%s  %s\n' "$REDIS_PORT" "$(alive "$pid" && echo "up (pid $pid)" || echo down)"
    pid="$(postgres_pid)"
    printf 'postgres 127.0.0.1:%s  %s\n' "$POSTGRES_PORT" "$(alive "$pid" && echo "up (pid $pid)" || echo down)"
}

host_stop() {
    drain "$1"
    host_sigterm "$1"
}

host_start_in_rotation() {
    host_start "$1"
    undrain "$1"
}

restart() {
    host_stop "$1"
    host_start_in_rotation "$1"
}

command="${1:-}"
case "$command" in
up)
    # Settings come from the environment; a previous run's file is replaced.
    rm -f "$dir/settings"
    up
    ;;
down | status | rolling-restart | redis-start | redis-stop | redis-kill | postgres-start | postgres-stop | postgres-kill)
    load_settings
    ;;&
restart | host-stop | host-start | host-kill)
    load_settings
    [ $# -eq 2 ] || die "usage: $0 $command N"
    check_index "$2"
    ;;&
down) down ;;
status) status ;;
rolling-restart)
    for ((i = 1; i <= hosts; i++)); do restart "$i"; done
    ;;
restart) restart "$2" ;;
host-stop) host_stop "$2" ;;
host-start) host_start_in_rotation "$2" ;;
host-kill) host_kill "$2" ;;
redis-start) redis_start ;;
redis-stop) redis_stop ;;
redis-kill) redis_kill ;;
postgres-start) postgres_start ;;
postgres-stop) postgres_stop ;;
postgres-kill) postgres_kill ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
