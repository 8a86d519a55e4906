"""The AsyncClient against a real txscoped and PostgreSQL: the core cases of the sync
client, many concurrent tasks, and cancelled callers that must not break a connection."""

import asyncio
import socket
import time
import unittest

import txscope
from txscope import errors
from tests import daemon
from tests.test_client import (DaemonTestCase, side_ids, slow_commit_table,
                               terminate_when_committing, wait_until)


class AsyncTestCase(DaemonTestCase):
    """Runs each test coroutine in a fresh event loop, with an AsyncClient closed after."""

    def aclient(self, **kw):
        kw.setdefault("timeout", 10)
        return txscope.AsyncClient(self.d.address, **kw)

    def run_async(self, coro_fn, **client_kw):
        async def main():
            async with self.aclient(**client_kw) as c:
                return await coro_fn(c)
        return asyncio.run(main())


class AsyncStatementsTest(AsyncTestCase):
    def test_results_commit_and_rollback(self):
        t = self.table()

        async def go(c):
            s = c.session()
            r = await s.execute("select $1::int8 as big, 1.50::numeric as n, "
                                "'{\"a\":1}'::jsonb as j", [4611686018427387905])
            self.assertEqual(r.rows, [[4611686018427387905, "1.50", {"a": 1}]])
            self.assertEqual(r.mappings(), [{"big": 4611686018427387905, "n": "1.50",
                                             "j": {"a": 1}}])
            await s.execute("insert into %s values (1)" % t)
            self.assertEqual((s.tx_state, s.tx_depth), ("open", 1))
            self.assertEqual(side_ids(t), [])
            await s.commit()
            self.assertEqual(side_ids(t), [1])
            await s.execute("insert into %s values (2)" % t)
            await s.rollback()
            self.assertEqual(await s.outcome(), "rolled_back")
            self.assertEqual(await s.status(), {"state": "idle", "depth": 0})
            res = await s.batch(["insert into %s values (3)" % t,
                                 ("select count(*) from %s" % t, None)])
            self.assertEqual(res[1].scalar(), 2)
            await s.close()
            await s.close()
            await c.ping()
        self.run_async(go)
        self.assertEqual(side_ids(t), [1, 3])
        self.assert_nothing_left_open()

    def test_begin_awaited_and_as_async_context_manager(self):
        t = self.table()

        async def go(c):
            s = c.session()
            async with s.begin(isolation="repeatable read"):
                self.assertEqual((await s.execute("show transaction_isolation")).scalar(),
                                 "repeatable read")
                await s.execute("insert into %s values (1)" % t)
                with self.assertRaises(txscope.IntegrityError):
                    async with s.begin_nested():
                        await s.execute("insert into %s values (2)" % t)
                        await s.execute("insert into %s values (1)" % t)
                self.assertEqual(s.tx_depth, 1)
            self.assertEqual(side_ids(t), [1])
            with self.assertRaisesRegex(RuntimeError, "boom"):
                async with s.begin():
                    await s.execute("insert into %s values (3)" % t)
                    raise RuntimeError("boom")
            self.assertEqual(s.tx_state, "idle")
            tx = await s.begin()
            await s.execute("insert into %s values (4)" % t)
            await tx.commit()
            await s.close()
        self.run_async(go)
        self.assertEqual(side_ids(t), [1, 4])

    def test_errors(self):
        t = self.table()

        async def go(c):
            s = c.session()
            await s.execute("insert into %s values (1)" % t)
            with self.assertRaises(txscope.IntegrityError) as cm:
                await s.execute("insert into %s values (1)" % t)
            self.assertEqual(cm.exception.sqlstate, "23505")
            self.assertIn("already exists", cm.exception.detail)
            with self.assertRaises(txscope.FailedTransactionError):
                await s.execute("select 1")
            await s.rollback()
            with self.assertRaises(txscope.ProgrammingError) as cm:
                await s.execute("selec 1")
            self.assertEqual(cm.exception.sqlstate, "42601")
            await s.rollback()
            await s.begin()
            await s.begin(join=True)
            await s.rollback()
            with self.assertRaises(txscope.InactiveTransactionError):
                await s.execute("select 1")
            await s.rollback()
            self.assertEqual((await s.execute("select 9")).scalar(), 9)
            await s.close()
        self.run_async(go)
        self.assertEqual(side_ids(t), [])

    def test_commit_outcome_unknown_resolves_from_the_journal(self):
        slow_commit_table("t_py_aslow_commit", 3)

        async def go(c):
            s = c.session("aslow")
            await s.execute("insert into t_py_aslow_commit values (1)")
            pid = (await s.execute("select pg_backend_pid()")).scalar()
            killer = asyncio.create_task(asyncio.to_thread(terminate_when_committing, pid))
            try:
                with self.assertRaises(txscope.CommitOutcomeUnknown) as cm:
                    await s.commit()
            finally:
                await killer
            self.assertEqual(cm.exception.sqlstate, "08007")
            self.assertIn(await cm.exception.resolve(), ("unknown", "rolled_back"))
            await s.close()
        self.run_async(go)
        self.assertEqual(daemon.psql("select count(*) from t_py_aslow_commit"), "0")


class AsyncConcurrencyTest(AsyncTestCase):
    settings = {"TXSCOPE_DB_MAIN_POOL_SIZE": "8"}

    def test_many_concurrent_tasks(self):
        t = self.table()
        tasks_n, transactions = 100, 4

        async def task(c, n):
            s = c.session("task-%d" % n)
            for i in range(transactions):
                key = n * 100 + i
                await s.execute("insert into %s values ($1, $2)" % t, [key, "n%d" % n])
                r = await s.execute("select $1::int, count(*) from %s where note = $2" % t,
                                    [key, "n%d" % n])
                self.assertEqual(r.rows, [[key, i + 1]])
                if n % 3 == 0 and i == transactions - 1:
                    await s.rollback()  # this task's last transaction must leave nothing
                else:
                    await s.commit()
            await s.close()

        async def go(c):
            await asyncio.gather(*(task(c, n) for n in range(tasks_n)))
            self.assertLessEqual(sum(1 for conn in c._slots if conn is not None), 4)
        self.run_async(go, connections=4)
        expected = [n * 100 + i for n in range(tasks_n) for i in range(transactions)
                    if not (n % 3 == 0 and i == transactions - 1)]
        self.assertEqual(side_ids(t), sorted(expected))
        self.assert_nothing_left_open()

    def test_a_cancelled_caller_does_not_break_the_connection(self):
        async def go(c):
            s = c.session("cancelled")
            other = c.session("neighbour")
            self.assertEqual(c._slot_of("cancelled"), c._slot_of("neighbour"))
            await other.execute("select 1")
            slow = asyncio.create_task(s.execute("select pg_sleep(0.3), 'slow'"))
            await asyncio.sleep(0.05)
            slow.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await slow
            # the neighbour on the same connection goes on, and the cancelled one's reply,
            # when it comes, is dropped rather than taken for someone else's
            self.assertEqual((await other.execute("select 'n'")).scalar(), "n")
            self.assertEqual((await s.execute("select 'after'")).scalar(), "after")
            self.assertFalse(s._conn.lost)
            await s.close()
            await other.close()
        self.run_async(go, connections=1)
        self.assert_nothing_left_open()

    def test_a_request_that_runs_out_of_time(self):
        async def go(c):
            s = c.session()
            started = time.monotonic()
            with self.assertRaises(errors.RequestTimeoutError):
                await s.execute("select pg_sleep(0.6)")
            self.assertLess(time.monotonic() - started, 0.5)
            c.timeout = 5
            self.assertEqual((await s.execute("select 42")).scalar(), 42)
            await s.close()
        self.run_async(go, timeout=0.2)


class AsyncConnectionLossTest(AsyncTestCase):
    def test_a_broken_socket_loses_its_sessions_and_the_client_reconnects(self):
        t = self.table()

        async def go(c):
            s = c.session("avictim")
            await s.execute("insert into %s values (1)" % t)
            slow = asyncio.create_task(s.execute("select pg_sleep(5)"))
            await asyncio.to_thread(wait_until, lambda: daemon.psql(
                "select count(*) from pg_stat_activity where query = 'select pg_sleep(5)' "
                "and state = 'active'") == "1")
            s._conn._writer.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
            with self.assertRaises(txscope.ConnectionLostError):
                await asyncio.wait_for(slow, 2)
            with self.assertRaises(txscope.ConnectionLostError):
                await s.commit()
            await s.close()
            await asyncio.to_thread(self.assert_nothing_left_open)
            self.assertEqual(side_ids(t), [])
            s2 = c.session("avictim")
            await s2.execute("insert into %s values (2)" % t)
            await s2.commit()
            await s2.close()
        self.run_async(go, connections=1)
        self.assertEqual(side_ids(t), [2])

    def test_the_daemons_shutdown_notice_ends_the_connection(self):
        async def go(c):
            s = c.session()
            await s.execute("select 1", autocommit=True)
            conn = s._conn
            self.assertEqual(await asyncio.to_thread(self.d.stop), 0)
            for _ in range(250):
                if conn.lost:
                    break
                await asyncio.sleep(0.02)
            with self.assertRaises(txscope.ConnectionLostError) as cm:
                await s.execute("select 1")
            self.assertEqual(cm.exception.sqlstate, "57P01")
        self.run_async(go, connections=1)


if __name__ == "__main__":
    unittest.main()
