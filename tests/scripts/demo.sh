#!/bin/bash
# demo.sh - `make demo`: a throwaway PostgreSQL, txscoped in front of it, and a sample
# session showing autobegin and commit, a failed statement and rollback, and a client
# that dies mid-transaction. Everything is stopped and removed at the end.
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}

tmp=$(mktemp -d /tmp/txscope-demo.XXXXXX)
chmod 755 "$tmp"
daemon_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    tests/scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

free_port() {
    local p=$(( 20000 + RANDOM % 20000 ))
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}

say "starting a throwaway PostgreSQL 15"
eval "$(tests/scripts/pg.sh start "$tmp/pg")"
psql_q() { psql -X -q -A -t -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -c "$1"; }
psql_q "create table orders(id serial primary key, item text not null)"
echo "PostgreSQL on $PGHOST:$PGPORT, table orders created"

say "starting txscoped (configured from the environment alone)"
port=$(free_port)
export TXSCOPE_LISTEN=127.0.0.1:$port
export TXSCOPE_ADMIN_LISTEN=127.0.0.1:$(free_port)
export TXSCOPE_DB_MAIN_DSN="postgresql://postgres@$PGHOST:$PGPORT/postgres"
export TXSCOPE_DB_MAIN_POOL_SIZE=4
echo "TXSCOPE_LISTEN=$TXSCOPE_LISTEN TXSCOPE_DB_MAIN_DSN=$TXSCOPE_DB_MAIN_DSN TXSCOPE_DB_MAIN_POOL_SIZE=4"
"$BIN/txscoped" 2>"$tmp/txscoped.log" &
daemon_pid=$!
for _ in $(seq 100); do "$BIN/txscope" ping -a "$TXSCOPE_LISTEN" >/dev/null 2>&1 && break; sleep 0.05; done
run "$BIN/txscope" ping -a "$TXSCOPE_LISTEN"
export TXSCOPE_ADDRESS=$TXSCOPE_LISTEN

say "1. autobegin, then commit (context req-7f3a); --json shows the daemon's replies"
printf "insert into orders(item) values ('book');\nselect id, item from orders;\ncommit;\n" | sed 's/^/> /'
printf "insert into orders(item) values ('book');\nselect id, item from orders;\ncommit;\n" |
    "$BIN/txscope" -c req-7f3a --json | sed 's/^/< /'
echo "seen from PostgreSQL: $(psql_q "select count(*) from orders") committed order(s)"

say "2. a failed statement makes the transaction failed until rollback (context req-2)"
printf "insert into orders(item) values ('pen');\nselect 1/0;\nselect 1;\nrollback;\n" | sed 's/^/> /'
printf "insert into orders(item) values ('pen');\nselect 1/0;\nselect 1;\nrollback;\n" |
    "$BIN/txscope" -c req-2 --json 2>&1 | sed 's/^/< /' || true
echo "seen from PostgreSQL: $(psql_q "select count(*) from orders where item = 'pen'") 'pen' order(s): rolled back"

say "3. a client killed mid-transaction (context req-3)"
echo "> insert into orders(item) values ('lost');     (and then the client is killed)"
sleep 30 >"$tmp/stdin-holder" &
holder=$!
{ printf "insert into orders(item) values ('lost');\n"; while kill -0 "$holder" 2>/dev/null; do sleep 0.1; done; } |
    "$BIN/txscope" -c req-3 --json | sed 's/^/< /' &
client_pipeline=$!
sleep 1
client_pid=$(pgrep -f 'txscope -c req-3' | head -n 1)
echo "idle-in-transaction backends before the kill: $(psql_q "select count(*) from pg_stat_activity where state = 'idle in transaction'")"
run kill -9 "$client_pid"
sleep 0.3
echo "idle-in-transaction backends after the kill:  $(psql_q "select count(*) from pg_stat_activity where state = 'idle in transaction'")"
echo "'lost' orders in the table: $(psql_q "select count(*) from orders where item = 'lost'")"
kill "$holder" 2>/dev/null || true
wait "$client_pipeline" 2>/dev/null || true

say "4. what an operator sees on the admin port ($TXSCOPE_ADMIN_LISTEN): stats, readiness, metrics"
run "$BIN/txscope" stats -A "$TXSCOPE_ADMIN_LISTEN"
if command -v curl >/dev/null; then
    run curl -s "http://$TXSCOPE_ADMIN_LISTEN/readyz"
    echo "$ curl -s http://$TXSCOPE_ADMIN_LISTEN/metrics | grep -E '^txscope_(pool_checkouts|errors)_total'"
    curl -s "http://$TXSCOPE_ADMIN_LISTEN/metrics" | grep -E '^txscope_(pool_checkouts|errors)_total'
fi

say "the daemon's log"
sed 's/^/  /' "$tmp/txscoped.log"

say "stopping txscoped (SIGTERM: no client is left, so the drain ends at once) and PostgreSQL"
kill "$daemon_pid"
wait "$daemon_pid" && echo "txscoped exited 0"
daemon_pid=
