#!/bin/sh
# check.sh - run the unit tests, then the integration tests against a throwaway
# PostgreSQL and a throwaway MariaDB on loopback (started here, stopped on exit): every
# backend-neutral test runs once per backend; then the Python client's tests against the
# same PostgreSQL. Called by `make check` after the ASan/UBSan build.
set -eu
cd "$(dirname "$0")/../.."

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

echo "== unit tests"
build/asan/bin/unit_tests

tmp=$(mktemp -d /tmp/txscope-check.XXXXXX)
chmod 755 "$tmp" # the postgres and mysql users must reach their data dirs inside
cleanup() {
    tests/scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
    tests/scripts/mysql.sh stop "$tmp/mysql" >/dev/null 2>&1 || true
    if [ "${KEEP_LOGS:-}" = 1 ]; then echo "logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM

echo "== starting a throwaway PostgreSQL"
eval "$(tests/scripts/pg.sh start "$tmp/pg")"
echo "   on $PGHOST:$PGPORT"

echo "== the container image, without Docker (Dockerfile, deploy/*.yaml, make install)"
tests/scripts/image_test.sh

echo "== starting a throwaway MariaDB"
eval "$(tests/scripts/mysql.sh start "$tmp/mysql")"
echo "   on $MYSQL_HOST:$MYSQL_TCP_PORT"

echo "== integration tests"
export TXS_TEST_LOGDIR="$tmp"
export TXS_DAEMON="${TXS_DAEMON:-build/asan/bin/txscoped}"
export TXS_CLI="${TXS_CLI:-build/asan/bin/txscope}"
export TXS_BENCH="${TXS_BENCH:-build/asan/bin/txscope-bench}"
if ! build/asan/bin/integration_tests; then
    echo "== integration tests failed; daemon logs:" >&2
    for f in "$tmp"/txscoped-*.log; do
        [ -s "$f" ] || continue
        echo "--- $f" >&2
        tail -n 40 "$f" >&2
    done
    exit 1
fi

# The Python client's tests start their own daemons (TXS_DAEMON) in front of the
# PostgreSQL above; its logs land in $tmp as txscoped-py-PORT.log.
echo "== Python client tests"
if ! PYTHONPATH=clients/python PYTHONDONTWRITEBYTECODE=1 \
    python3 -m unittest discover -s clients/python/tests -t clients/python; then
    echo "== Python client tests failed; daemon logs:" >&2
    for f in "$tmp"/txscoped-py-*.log; do
        [ -s "$f" ] || continue
        echo "--- $f" >&2
        tail -n 40 "$f" >&2
    done
    exit 1
fi
