#!/bin/sh
# mysql.sh - start and stop a throwaway MariaDB 10.11 for tests (works as root).
#
#   eval "$(tests/scripts/mysql.sh start DIR [PORT])"  init DIR, start on 127.0.0.1:PORT
#                                                        (a free port when not given) and
#                                                        print the MYSQL_* exports to eval
#   tests/scripts/mysql.sh stop DIR                     stop the server, remove DIR
#
# The server trades durability for speed (no binlog, no flush at commit): test data only.
# Its log is DIR/log; the unix socket is DIR/sock. Tests connect over TCP as user `txs`
# (password `txs`, all privileges) to database `txs`.
set -eu

die() {
    echo "mysql.sh: $*" >&2
    exit 1
}

as_mysql() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u mysql -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return
    p=$(( 20000 + ($$ * 7) % 20000 ))
    while bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; do
        p=$((p + 1))
    done
    echo "$p"
}

start() {
    dir=$1
    port=${2:-}
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] ||
        die "no mariadbd (run tests/scripts/deps.sh)"
    [ -e "$dir/data/mysql" ] && die "$dir already holds a server (mysql.sh stop $dir first)"
    mkdir -p "$dir/data"
    dir=$(cd "$dir" && pwd)
    : >"$dir/made-by-mysql.sh"
    [ "$(id -u)" = 0 ] && chown -R mysql: "$dir"
    as_mysql test -w "$dir" || die "$dir is out of the mysql user's reach (try a directory under /tmp)"
    as_mysql mariadb-install-db --no-defaults --user=mysql --datadir="$dir/data" \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
        >"$dir/install.log" 2>&1 || {
        cat "$dir/install.log" >&2
        die "mariadb-install-db failed"
    }
    [ -n "$port" ] || port=$(free_port)
    # setsid: the server must not get the terminal's signals meant for the test run. The
    # redirections are on the subshell, not on the function call: dash would keep a copy of
    # our stdout open behind it, and "$(mysql.sh start ...)" would wait forever.
    (as_mysql setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$dir/data" \
        --socket="$dir/sock" --port="$port" --bind-address=127.0.0.1 --pid-file="$dir/pid" \
        --skip-log-bin --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --max-connections=300 \
        --log-error="$dir/log") </dev/null >/dev/null 2>&1 &
    i=0
    until mariadb-admin --no-defaults -uroot --socket="$dir/sock" ping >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -le 300 ] || {
            cat "$dir/log" >&2 2>/dev/null || true
            die "the server did not start on port $port"
        }
        sleep 0.1
    done
    mariadb --no-defaults -uroot --socket="$dir/sock" -e "
        CREATE DATABASE txs;
        CREATE USER 'txs'@'%' IDENTIFIED BY 'txs';
        GRANT ALL ON *.* TO 'txs'@'%' WITH GRANT OPTION;" ||
        die "could not create the test user"
    echo "export MYSQL_HOST=127.0.0.1 MYSQL_TCP_PORT=$port MYSQL_USER=txs MYSQL_PWD=txs" \
        "MYSQL_DATABASE=txs MYSQL_UNIX_SOCKET=$dir/sock"
}

stop() {
    dir=$1
    [ -d "$dir" ] || return 0
    # Remove only what start made.
    [ -e "$dir/made-by-mysql.sh" ] || die "$dir was not made by mysql.sh start: not removing it"
    if [ -s "$dir/pid" ]; then
        pid=$(cat "$dir/pid")
        kill -9 "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
            i=$((i + 1))
            sleep 0.05
        done
    fi
    rm -rf "$dir"
}

[ $# -ge 2 ] || die "usage: mysql.sh start DIR [PORT] | mysql.sh stop DIR"
case $1 in
start) start "$2" "${3:-}" ;;
stop) stop "$2" ;;
*) die "unknown command $1 (start or stop)" ;;
esac
