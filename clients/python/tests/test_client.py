"""The sync Client and Session against a real txscoped and PostgreSQL: results, errors,
transactions, many threads on few connections, lost connections, timeouts, tokens.

Also holds DaemonTestCase and the side helpers the other client tests share."""

import socket
import threading
import time
import unittest

import txscope
from txscope import errors
from tests import daemon


def wait_until(predicate, timeout=5.0, what="condition"):
    """Polls predicate (no fixed sleeps); fails the test if it never holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def side_ids(table):
    """The ids in table, seen from a side connection (not through the daemon)."""
    out = daemon.psql("select coalesce(string_agg(id::text, ',' order by id), '') from %s" % table)
    return [int(x) for x in out.split(",")] if out else []


def slow_commit_table(table, secs):
    """A table whose row id=1 makes COMMIT sleep (a deferred constraint trigger), as
    tests/integration/harness.c's th_slow_commit_table."""
    daemon.psql(
        "drop table if exists {t}; create table {t}(id int);"
        "create or replace function {t}_slow() returns trigger language plpgsql as "
        "$$ begin if new.id = 1 then perform pg_sleep({s}); end if; return null; end $$;"
        "create constraint trigger {t}_trg after insert on {t} deferrable initially deferred "
        "for each row execute function {t}_slow()".format(t=table, s=secs))


def terminate_when_committing(pid):
    """Waits (from the side) until backend pid runs COMMIT, then terminates it."""
    wait_until(lambda: daemon.psql(
        "select count(*) from pg_stat_activity where pid = %d and state = 'active' "
        "and query ilike 'commit%%'" % pid) == "1", what="the COMMIT to run")
    daemon.psql("select pg_terminate_backend(%d)" % pid)


class DaemonTestCase(unittest.TestCase):
    """A fresh txscoped per test (it starts in tens of milliseconds), stopped at the end
    with exit status 0 required."""

    settings: dict = {}

    def setUp(self):
        self.d = daemon.Daemon(**self.settings)
        self.addCleanup(self._stop_daemon)

    def _stop_daemon(self):
        self.assertEqual(self.d.stop(), 0, "txscoped's exit status; log: " + self.d.log_path)

    def client(self, **kw):
        kw.setdefault("timeout", 10)
        c = txscope.Client(self.d.address, **kw)
        self.addCleanup(c.close)
        return c

    def table(self, suffix=""):
        """A fresh table (id int primary key, note text) named after the test."""
        name = "t_py_%s%s" % (self._testMethodName[5:40], suffix)
        daemon.psql("drop table if exists %s; create table %s(id int primary key, note text)"
                    % (name, name))
        return name

    def assert_nothing_left_open(self):
        """No backend idle in transaction, and no session held by the daemon."""
        wait_until(lambda: daemon.backends(self.d, "idle in transaction") == 0,
                   what="no backend idle in transaction")
        wait_until(lambda: self.d.stats()["sessions"] == 0, what="0 sessions in /stats")


class StatementsTest(DaemonTestCase):
    def test_values_as_the_protocol_gives_them(self):
        s = self.client().session()
        r = s.execute("select 1 as i, 4611686018427387905::int8 as big, 1.50::numeric as n, "
                      "0.5::float8 as f, true as b, null::text as z, 'x'::text as t, "
                      "'{\"a\": [1, 2]}'::jsonb as j, '\\x0102'::bytea as by, "
                      "'2024-02-29 10:00:00+00'::timestamptz as ts")
        self.assertEqual(r.command, "SELECT")
        self.assertEqual(r.rowcount, 1)
        self.assertEqual([f["name"] for f in r.fields],
                         ["i", "big", "n", "f", "b", "z", "t", "j", "by", "ts"])
        self.assertEqual(r.fields[2], {"name": "n", "type": "numeric"})
        self.assertEqual(r.rows, [[1, 4611686018427387905, "1.50", 0.5, True, None, "x",
                                   {"a": [1, 2]}, "AQI=", "2024-02-29 10:00:00+00"]])
        self.assertEqual(r.scalar(), 1)
        self.assertEqual(r.mappings()[0]["j"], {"a": [1, 2]})
        self.assertEqual(len(r), 1)
        s.close()

    def test_params_are_bound_exactly(self):
        import decimal
        s = self.client().session()
        r = s.execute("select $1::int8, $2::numeric, $3::jsonb, $4::text, $5::int",
                      [4611686018427387905, decimal.Decimal("1.10"), {"k": [1, "é"]}, "a'b",
                       None])
        self.assertEqual(r.rows[0], [4611686018427387905, "1.10", {"k": [1, "é"]}, "a'b", None])
        s.close()

    def test_autocommit_commits_at_once(self):
        t = self.table()
        s = self.client().session()
        r = s.execute("insert into %s values (1, 'a')" % t, autocommit=True)
        self.assertEqual((r.command, r.rowcount), ("INSERT", 1))
        self.assertEqual(s.tx_state, "idle")
        self.assertEqual(side_ids(t), [1])
        self.assertEqual(s.outcome(), "committed")
        s.close()

    def test_statements_wait_for_commit_and_rollback(self):
        t = self.table()
        s = self.client().session()
        s.execute("insert into %s values (1)" % t)
        self.assertEqual((s.tx_state, s.tx_depth), ("open", 1))
        self.assertEqual(side_ids(t), [])
        s.commit()
        self.assertEqual(side_ids(t), [1])
        s.execute("insert into %s values (2)" % t)
        s.rollback()
        self.assertEqual(side_ids(t), [1])
        self.assertEqual(s.outcome(), "rolled_back")
        self.assertEqual(s.status(), {"state": "idle", "depth": 0})
        s.close()

    def test_batch_is_its_own_transaction(self):
        t = self.table()
        s = self.client().session()
        results = s.batch(["insert into %s values (1)" % t,
                           ("insert into %s values ($1)" % t, [2]),
                           {"sql": "select count(*) from %s" % t}])
        self.assertEqual([r.command for r in results], ["INSERT", "INSERT", "SELECT"])
        self.assertEqual(results[2].scalar(), 2)
        self.assertEqual(side_ids(t), [1, 2])
        with self.assertRaises(txscope.IntegrityError) as cm:
            s.batch(["insert into %s values (3)" % t, "insert into %s values (1)" % t])
        self.assertEqual(cm.exception.error["index"], 1)
        self.assertEqual(s.tx_state, "idle")
        self.assertEqual(side_ids(t), [1, 2])
        s.close()

    def test_begin_as_a_context_manager(self):
        t = self.table()
        s = self.client().session()
        with s.begin(isolation="serializable"):
            self.assertEqual(s.execute("show transaction_isolation").scalar(), "serializable")
            s.execute("insert into %s values (1)" % t)
        self.assertEqual(side_ids(t), [1])
        with self.assertRaisesRegex(KeyError, "boom"):
            with s.begin():
                s.execute("insert into %s values (2)" % t)
                raise KeyError("boom")
        self.assertEqual(s.tx_state, "idle")
        self.assertEqual(side_ids(t), [1])
        with s.begin(read_only=True):
            with self.assertRaises(txscope.InternalError) as cm:
                s.execute("insert into %s values (3)" % t)
            self.assertEqual(cm.exception.sqlstate, "25006")
            s.rollback()
            s.begin()
        s.close()

    def test_begin_nested_undoes_only_its_part(self):
        t = self.table()
        s = self.client().session()
        with s.begin():
            s.execute("insert into %s values (1)" % t)
            with self.assertRaises(txscope.IntegrityError):
                with s.begin_nested():
                    s.execute("insert into %s values (2)" % t)
                    s.execute("insert into %s values (1)" % t)
            self.assertEqual((s.tx_state, s.tx_depth), ("open", 1))
            with s.begin_nested():
                s.execute("insert into %s values (3)" % t)
        self.assertEqual(side_ids(t), [1, 3])
        s.close()

    def test_named_savepoints(self):
        t = self.table()
        s = self.client().session()
        s.execute("insert into %s values (1)" % t)
        s.savepoint("a")
        s.execute("insert into %s values (2)" % t)
        s.rollback_to("a")
        s.execute("insert into %s values (3)" % t)
        s.release("a")
        with self.assertRaises(txscope.ProgrammingError) as cm:
            s.release("a")
        self.assertEqual(cm.exception.sqlstate, "3B001")
        s.commit()
        self.assertEqual(side_ids(t), [1, 3])
        s.close()

    def test_transaction_control_as_sql_is_not_supported(self):
        s = self.client().session()
        with self.assertRaises(txscope.NotSupportedError) as cm:
            s.execute("commit")
        self.assertEqual(cm.exception.sqlstate, "0A000")
        s.close()

    def test_close_ends_the_session_and_is_idempotent(self):
        t = self.table()
        c = self.client()
        s = c.session("close-me")
        s.execute("insert into %s values (1)" % t)
        self.assertEqual(self.d.stats()["sessions"], 1)
        s.close()
        s.close()
        self.assertEqual((s.tx_state, s.tx_depth), ("idle", 0))
        self.assertEqual(side_ids(t), [])
        self.assert_nothing_left_open()
        c.session("never-used").close()  # sends nothing, raises nothing
        c.ping()

    def test_ctx_is_validated(self):
        c = self.client()
        for bad in ("", "x" * 129, "tab\there", "é"):
            with self.assertRaises(txscope.InterfaceError):
                c.session(bad)
        self.assertEqual(c.session("x" * 128).ctx, "x" * 128)

    def test_two_sessions_of_one_ctx_share_the_daemon_session(self):
        t = self.table()
        c = self.client(connections=3)
        a, b = c.session("same"), c.session("same")
        a.execute("insert into %s values (1)" % t)
        self.assertEqual(b.execute("select count(*) from %s" % t).scalar(), 1)
        self.assertEqual(b.tx_state, "open")
        b.commit()
        self.assertEqual(side_ids(t), [1])
        a.close()


class ErrorsTest(DaemonTestCase):
    def test_unique_violation_then_failed_transaction(self):
        t = self.table()
        s = self.client().session()
        s.execute("insert into %s values (1)" % t)
        with self.assertRaises(txscope.IntegrityError) as cm:
            s.execute("insert into %s values (1)" % t)
        e = cm.exception
        self.assertEqual(e.sqlstate, "23505")
        self.assertIn("already exists", e.detail)
        self.assertEqual(e.error["constraint"], "%s_pkey" % t)
        self.assertEqual(e.source, "db")
        self.assertEqual(e.tx, {"state": "failed", "depth": 1})
        self.assertEqual(s.tx_state, "failed")
        with self.assertRaises(txscope.FailedTransactionError) as cm:
            s.execute("select 1")
        self.assertEqual(cm.exception.sqlstate, "25P02")
        self.assertNotIsInstance(cm.exception, txscope.InactiveTransactionError)
        with self.assertRaises(txscope.FailedTransactionError):
            s.commit()
        s.rollback()
        self.assertEqual(s.execute("select 2").scalar(), 2)
        self.assertEqual(side_ids(t), [])
        s.close()

    def test_syntax_error_is_a_programming_error(self):
        s = self.client().session()
        with self.assertRaises(txscope.ProgrammingError) as cm:
            s.execute("selec 1")
        self.assertEqual(cm.exception.sqlstate, "42601")
        self.assertEqual(cm.exception.error["position"], 1)
        s.close()

    def test_division_by_zero_is_a_data_error(self):
        s = self.client().session()
        with self.assertRaises(txscope.DataError) as cm:
            s.execute("select 1/0", autocommit=True)
        self.assertEqual(cm.exception.sqlstate, "22012")
        s.close()

    def test_inactive_after_a_joined_rollback(self):
        s = self.client().session()
        s.begin()
        s.execute("select 1")
        s.begin(join=True)
        s.rollback()
        self.assertEqual((s.tx_state, s.tx_depth), ("inactive", 1))
        with self.assertRaises(txscope.InactiveTransactionError) as cm:
            s.execute("select 1")
        self.assertEqual(cm.exception.sqlstate, "25P02")
        s.rollback()
        self.assertEqual(s.execute("select 3").scalar(), 3)
        s.close()

    def test_unknown_db_and_begin_twice(self):
        c = self.client()
        with self.assertRaises(txscope.ProgrammingError) as cm:
            c.session(db="nope").execute("select 1")
        self.assertEqual(cm.exception.sqlstate, "3D000")
        s = c.session()
        s.begin()
        with self.assertRaises(txscope.InternalError) as cm:
            s.begin()
        self.assertEqual(cm.exception.sqlstate, "25001")
        s.close()

    def test_commit_outcome_unknown_resolves_from_the_journal(self):
        slow_commit_table("t_py_slow_commit", 3)
        s = self.client().session("slow-commit")
        s.execute("insert into t_py_slow_commit values (1)")
        pid = s.execute("select pg_backend_pid()").scalar()
        killer = threading.Thread(target=terminate_when_committing, args=(pid,))
        killer.start()
        try:
            with self.assertRaises(txscope.CommitOutcomeUnknown) as cm:
                s.commit()
        finally:
            killer.join()
        e = cm.exception
        self.assertEqual(e.sqlstate, "08007")
        self.assertIsInstance(e, txscope.OperationalError)
        self.assertEqual(e.tx["state"], "idle")
        self.assertIn(e.resolve(), ("unknown", "rolled_back"))
        self.assertEqual(daemon.psql("select count(*) from t_py_slow_commit"), "0")
        # a new client (another connection of the same principal) hears the same
        other = self.client()
        self.assertIn(other._outcome("slow-commit"), ("unknown", "rolled_back"))
        self.assertEqual(s.execute("select 1").scalar(), 1)
        s.close()


class ConcurrencyTest(DaemonTestCase):
    settings = {"TXSCOPE_DB_MAIN_POOL_SIZE": "8"}

    def test_many_threads_on_few_connections(self):
        t = self.table()
        c = self.client(connections=4)
        threads, transactions = 20, 20
        problems = []

        def worker(n):
            try:
                s = c.session("thread-%d" % n)
                for i in range(transactions):
                    key = n * 1000 + i
                    s.execute("insert into %s values ($1, $2)" % t, [key, "t%d" % n])
                    echoed = s.execute("select $1::int as k, count(*) as c from %s "
                                       "where note = $2" % t, [key, "t%d" % n]).rows[0]
                    if echoed != [key, i + 1]:
                        problems.append((n, i, echoed))
                    if i % 5 == 4:  # some roll back: their rows must not show up anywhere
                        s.rollback()
                        s.execute("insert into %s values ($1, $2)" % t, [key + 500, "t%d" % n])
                    s.commit()
                s.close()
            except Exception as exc:  # noqa: BLE001 - reported below
                problems.append((n, repr(exc)))

        pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join(60)
        self.assertEqual(problems, [])
        expected = sorted(n * 1000 + i + (500 if i % 5 == 4 else 0)
                          for n in range(threads) for i in range(transactions))
        self.assertEqual(side_ids(t), expected)
        self.assertLessEqual(sum(1 for conn in c._slots if conn is not None), 4)
        self.assert_nothing_left_open()


class ConnectionLossTest(DaemonTestCase):
    def test_a_broken_socket_loses_its_sessions_and_the_client_reconnects(self):
        t = self.table()
        c = self.client(connections=1)
        s = c.session("victim")
        s.execute("insert into %s values (1)" % t)
        blocked = {}

        def slow():
            try:
                s.execute("select pg_sleep(5)")
            except Exception as exc:  # noqa: BLE001
                blocked["exc"] = exc

        th = threading.Thread(target=slow)
        th.start()
        wait_until(lambda: daemon.psql("select count(*) from pg_stat_activity where "
                                       "query = 'select pg_sleep(5)' and state = 'active'") == "1",
                   what="the sleep to run")
        started = time.monotonic()
        s._conn._sock.shutdown(socket.SHUT_RDWR)  # as a network failure would
        th.join(5)
        self.assertLess(time.monotonic() - started, 2)
        self.assertIsInstance(blocked.get("exc"), txscope.ConnectionLostError)
        with self.assertRaises(txscope.ConnectionLostError):
            s.execute("select 1")
        with self.assertRaises(txscope.ConnectionLostError):
            s.commit()  # never re-sent on a new connection: its transaction is gone
        s.close()  # forgets it locally
        # the daemon rolled back what the connection left open
        self.assertEqual(side_ids(t), [])
        self.assert_nothing_left_open()
        # a new session (the same ctx, even) gets a new connection
        s2 = c.session("victim")
        s2.execute("insert into %s values (2)" % t)
        s2.commit()
        self.assertEqual(side_ids(t), [2])
        # the old object, once closed, is usable again too: on the new connection
        self.assertEqual(s.execute("select 5").scalar(), 5)
        s.close()
        s2.close()

    def test_sessions_on_other_connections_go_on(self):
        c = self.client(connections=4)
        a = c.session("a")
        other = next(c.session("b%d" % i) for i in range(100)
                     if c._slot_of("b%d" % i) != c._slot_of("a"))
        a.execute("select 1")
        other.execute("select 1")
        a._conn._sock.shutdown(socket.SHUT_RDWR)
        wait_until(lambda: a._conn.lost, what="the reader to see the loss")
        with self.assertRaises(txscope.ConnectionLostError):
            a.execute("select 1")
        self.assertEqual(other.execute("select 7").scalar(), 7)
        self.assertEqual(other.tx_state, "open")
        other.commit()
        other.close()

    def test_the_daemons_shutdown_notice_ends_the_connection(self):
        c = self.client(connections=1)
        s = c.session()
        s.execute("select 1", autocommit=True)
        conn = s._conn
        self.assertEqual(self.d.stop(), 0)
        wait_until(lambda: conn.lost, what="the connection to be lost")
        with self.assertRaises(txscope.ConnectionLostError) as cm:
            s.execute("select 1")
        self.assertEqual(cm.exception.sqlstate, "57P01")
        with self.assertRaises(txscope.OperationalError) as cm:
            c.session().execute("select 1")
        self.assertEqual(cm.exception.sqlstate, "08001")

    def test_a_request_that_runs_out_of_time(self):
        c = self.client(timeout=0.2)
        s = c.session()
        started = time.monotonic()
        with self.assertRaises(errors.RequestTimeoutError) as cm:
            s.execute("select pg_sleep(0.6)")
        self.assertLess(time.monotonic() - started, 0.5)
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertIsInstance(cm.exception, txscope.OperationalError)
        c.timeout = 5
        # the connection is intact: the late reply is dropped, not taken for another's
        self.assertEqual(s.execute("select 42").scalar(), 42)
        self.assertEqual(c.session().execute("select 43").scalar(), 43)
        s.close()

    def test_a_commit_that_runs_out_of_time_is_an_unknown_outcome(self):
        # The COMMIT sleeps 1 s (a deferred trigger); the client gives up after 0.3 s. It
        # may still commit, so it is never reported as a plain failure: resolve() waits
        # for the commit under way and tells.
        slow_commit_table("t_py_commit_timeout", 1)
        c = self.client(timeout=0.3)
        s = c.session()
        s.execute("insert into t_py_commit_timeout values (1)")
        with self.assertRaises(txscope.CommitTimeoutError) as cm:
            s.commit()
        self.assertIsInstance(cm.exception, txscope.CommitOutcomeUnknown)
        self.assertIsInstance(cm.exception, txscope.RequestTimeoutError)
        c.timeout = 5
        self.assertEqual(cm.exception.resolve(), "committed")
        self.assertEqual(side_ids("t_py_commit_timeout"), [1])
        # A statement that does not commit stays a plain RequestTimeoutError.
        c.timeout = 0.2
        with self.assertRaises(errors.RequestTimeoutError) as cm2:
            s.execute("select pg_sleep(0.6)")
        self.assertNotIsInstance(cm2.exception, txscope.CommitOutcomeUnknown)
        c.timeout = 5
        s.close()

    def test_cannot_connect(self):
        port = daemon.free_port()
        with self.assertRaises(txscope.OperationalError) as cm:
            txscope.Client("127.0.0.1:%d" % port, timeout=2).ping()
        self.assertEqual(cm.exception.sqlstate, "08001")


class TokenTest(DaemonTestCase):
    settings = {"TXSCOPE_AUTH_TOKEN": "s3cret"}

    def test_hello_with_the_token(self):
        c = self.client(token="s3cret")
        self.assertEqual(c.session().execute("select 1").scalar(), 1)
        for token in (None, "wrong"):
            with self.assertRaises(txscope.OperationalError) as cm:
                txscope.Client(self.d.address, token=token, timeout=5).ping()
            self.assertEqual(cm.exception.sqlstate, "28000")


if __name__ == "__main__":
    unittest.main()
