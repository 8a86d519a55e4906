#!/bin/sh
# pg.sh - start and stop a throwaway PostgreSQL 15 for tests (works as root).
#
#   eval "$(tests/scripts/pg.sh start DIR [PORT])"   init DIR, start on 127.0.0.1:PORT
#                                                      (a free port when not given) and
#                                                      print the PG* exports to eval
#   tests/scripts/pg.sh stop DIR                      stop the server, remove DIR
#   tests/scripts/pg.sh halt DIR                      stop the server as an operator would
#                                                      (pg_ctl stop -m fast), keep DIR
#   tests/scripts/pg.sh resume DIR                    start it again after halt, on the
#                                                      same port
#
# The server trades durability for speed (fsync off, no sync at initdb): test data only.
# Its log is DIR/log; the unix socket lives in DIR too.
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

# Run a command as the postgres user when we are root (initdb and postgres refuse root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return
    # Fallback without python: probe upwards from a random start with bash's /dev/tcp.
    p=$(( 20000 + $$ % 20000 ))
    while bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; do
        p=$((p + 1))
    done
    echo "$p"
}

# The server's options: socket in DIR, PORT on loopback, speed over durability.
server_opts() {
    echo "-k $1 -p $2 -h 127.0.0.1 -F -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200 -c shared_preload_libraries=pg_stat_statements"
}

# Start the cluster in DIR on PORT; wait until it accepts connections.
launch() {
    as_pg "$PGBIN/pg_ctl" -D "$1/data" -l "$1/log" -w -t 30 -o "$(server_opts "$1" "$2")" \
        start >/dev/null 2>&1 || {
        cat "$1/log" >&2 2>/dev/null || true
        die "the server did not start on port $2"
    }
}

start() {
    dir=$1
    port=${2:-}
    [ -x "$PGBIN/initdb" ] || die "no PostgreSQL binaries in $PGBIN (run tests/scripts/deps.sh)"
    [ -e "$dir/data/PG_VERSION" ] && die "$dir already holds a cluster (pg.sh stop $dir first)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_pg test -w "$dir" || die "$dir is out of the postgres user's reach (try a directory under /tmp)"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    }
    [ -n "$port" ] || port=$(free_port)
    echo "$port" >"$dir/port"
    launch "$dir" "$port"
    echo "export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres"
}

stop() {
    dir=$1
    [ -d "$dir" ] || return 0
    # Remove only what start made.
    if [ ! -e "$dir/initdb.log" ] && [ -n "$(ls -A "$dir")" ]; then
        die "$dir was not made by pg.sh start: not removing it"
    fi
    if [ -e "$dir/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

halt() {
    [ -e "$1/port" ] || die "$1 was not made by pg.sh start"
    as_pg "$PGBIN/pg_ctl" -D "$1/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        die "the server in $1 did not stop"
}

resume() {
    [ -e "$1/port" ] || die "$1 was not made by pg.sh start"
    launch "$1" "$(cat "$1/port")"
}

[ $# -ge 2 ] || die "usage: pg.sh start DIR [PORT] | pg.sh stop DIR | pg.sh halt DIR | pg.sh resume DIR"
case $1 in
start) start "$2" "${3:-}" ;;
stop) stop "$2" ;;
halt) halt "$2" ;;
resume) resume "$2" ;;
*) die "unknown command $1 (start, stop, halt or resume)" ;;
esac
