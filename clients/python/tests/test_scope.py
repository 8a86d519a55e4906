"""The request scope against a real txscoped and PostgreSQL: the classic session_scope
pattern, nested @transactional functions that commit once, and what the database shows
from the side at each step."""

import asyncio
import socket
import unittest

import txscope
from txscope import current_context, configure, scoped, session_scope, transactional
from tests import daemon
from tests.test_client import DaemonTestCase, side_ids


class ScopeTestCase(DaemonTestCase):
    def setUp(self):
        super().setUp()
        token = current_context.set(None)
        self.addCleanup(current_context.reset, token)
        self.addCleanup(configure, None)
        self.t = self.table()
        self.c = self.client()
        configure(self.c)

    def insert(self, key, note=None):
        scoped().execute("insert into %s values ($1, $2)" % self.t, [key, note])


class ThingOne:
    def go(self, session):
        session.execute("insert into t_py_classic values (1, 'one')")


class ThingTwo:
    def go(self, session):
        session.execute("insert into t_py_classic values (2, 'two')")


class FailingThingTwo:
    def go(self, session):
        session.execute("insert into t_py_classic values (2, 'two')")
        raise ValueError("thing two failed")


class SessionScopeTest(ScopeTestCase):
    def test_the_classic_pattern_commits_both(self):
        daemon.psql("drop table if exists t_py_classic; "
                    "create table t_py_classic(id int primary key, note text)")
        with session_scope() as s:
            ThingOne().go(s)
            self.assertEqual(side_ids("t_py_classic"), [])  # not before the scope ends
            ThingTwo().go(s)
        self.assertEqual(side_ids("t_py_classic"), [1, 2])
        self.assertIsNone(current_context.get())
        self.assert_nothing_left_open()

    def test_an_exception_in_thing_two_leaves_neither(self):
        daemon.psql("drop table if exists t_py_classic; "
                    "create table t_py_classic(id int primary key, note text)")
        with self.assertRaisesRegex(ValueError, "^thing two failed$"):
            with session_scope() as s:
                ThingOne().go(s)
                FailingThingTwo().go(s)
        self.assertEqual(side_ids("t_py_classic"), [])
        self.assertIsNone(current_context.get())
        self.assert_nothing_left_open()

    def test_uses_the_current_context(self):
        token = current_context.set("req-42")
        try:
            with session_scope(self.c) as s:
                self.assertEqual(s.ctx, "req-42")
                self.assertIs(scoped(), s)
                self.insert(1)
            self.assertEqual(current_context.get(), "req-42")
        finally:
            current_context.reset(token)
        self.assertEqual(side_ids(self.t), [1])
        self.assert_nothing_left_open()

    def test_a_refused_commit_raises_and_ends_the_session(self):
        daemon.psql("drop table if exists t_py_deferred; "
                    "create table t_py_deferred(id int unique deferrable initially deferred)")
        with self.assertRaises(txscope.IntegrityError) as cm:
            with session_scope() as s:
                s.execute("insert into t_py_deferred values (1), (1)")
        self.assertEqual(cm.exception.sqlstate, "23505")
        self.assertEqual(daemon.psql("select count(*) from t_py_deferred"), "0")
        self.assert_nothing_left_open()

    def test_a_failed_cleanup_does_not_hide_the_original_exception(self):
        with self.assertRaisesRegex(KeyError, "original"):
            with session_scope() as s:
                self.insert(1)
                s._conn._sock.shutdown(socket.SHUT_RDWR)  # the rollback will fail
                raise KeyError("original")
        self.assertEqual(side_ids(self.t), [])
        self.assert_nothing_left_open()

    def test_statements_after_a_swallowed_error_make_the_commit_fail(self):
        with self.assertRaises(txscope.FailedTransactionError):
            with session_scope():
                self.insert(1)
                try:
                    self.insert(1)
                except txscope.IntegrityError:
                    pass
        self.assertEqual(side_ids(self.t), [])
        self.assert_nothing_left_open()


    def test_an_inner_scope_that_commits_itself_does_not_commit_the_outer(self):
        # An inner block that calls commit() (a SQLAlchemy habit) closes its own level;
        # the outer scope's failure must still roll everything back.
        with self.assertRaisesRegex(ValueError, "^outer failed$"):
            with session_scope():
                self.insert(1, "outer-before")
                with session_scope() as inner:
                    self.insert(2, "inner")
                    inner.commit()
                self.assertEqual(side_ids(self.t), [])  # nothing committed yet
                raise ValueError("outer failed")
        self.assertEqual(side_ids(self.t), [])
        self.assert_nothing_left_open()

    def test_an_autobegun_transaction_is_committed_by_the_scope(self):
        # A statement before the scope (an auth check's SELECT) autobegins; the scope
        # owns that transaction and commits its work, as SQLAlchemy's session_scope does.
        token = current_context.set("req-auth")
        try:
            scoped().execute("select current_user")
            self.assertEqual(scoped().tx_state, "open")
            with session_scope() as s:
                self.insert(1, "after-auth")
            self.assertEqual(s.tx_state, "idle")
        finally:
            current_context.reset(token)
        self.assertEqual(side_ids(self.t), [1])
        self.assert_nothing_left_open()


class TransactionalTest(ScopeTestCase):
    def define(self):
        seen = {}

        @transactional
        def inner(key, fail=False):
            self.insert(key)
            if fail:
                raise LookupError("inner failed for %d" % key)

        @transactional
        def outer(k1, k2, fail_inner=False):
            self.insert(k1)
            inner(k2, fail_inner)
            seen["after inner"] = side_ids(self.t)
            seen["depth"] = scoped().tx_depth
        return inner, outer, seen

    def test_an_inner_commit_call_does_not_commit_the_outer_work(self):
        @transactional
        def inner():
            self.insert(2, "inner")
            scoped().commit()  # closes inner's own level only

        @transactional
        def outer():
            self.insert(1, "outer")
            inner()
            raise ValueError("outer failed")

        with self.assertRaisesRegex(ValueError, "^outer failed$"):
            outer()
        self.assertEqual(side_ids(self.t), [])
        self.assert_nothing_left_open()

    def test_nested_functions_commit_once_at_the_outermost_level(self):
        inner, outer, seen = self.define()
        outer(1, 2)
        self.assertEqual(seen["after inner"], [])  # the inner commit committed nothing
        self.assertEqual(seen["depth"], 1)
        self.assertEqual(side_ids(self.t), [1, 2])
        self.assertIsNone(current_context.get())
        self.assert_nothing_left_open()

    def test_an_exception_in_the_inner_one_rolls_everything_back(self):
        inner, outer, seen = self.define()
        with self.assertRaises(LookupError) as cm:
            outer(1, 2, fail_inner=True)
        self.assertEqual(str(cm.exception), "inner failed for 2")
        self.assertEqual(side_ids(self.t), [])
        self.assert_nothing_left_open()
        outer(3, 4)  # and the next call starts clean
        self.assertEqual(side_ids(self.t), [3, 4])

    def test_an_outer_that_swallows_the_inner_exception_cannot_commit(self):
        inner, _, _ = self.define()

        @transactional
        def outer():
            self.insert(1)
            try:
                inner(2, fail=True)
            except LookupError:
                pass

        with self.assertRaises(txscope.InactiveTransactionError):
            outer()
        self.assertEqual(side_ids(self.t), [])
        self.assert_nothing_left_open()

    def test_the_original_exception_even_when_the_rollback_fails(self):
        @transactional
        def breaks_then_raises():
            self.insert(1)
            scoped()._conn._sock.shutdown(socket.SHUT_RDWR)
            raise ValueError("the original")

        with self.assertRaisesRegex(ValueError, "^the original$"):
            breaks_then_raises()
        self.assertEqual(side_ids(self.t), [])
        self.assert_nothing_left_open()

    def test_joins_the_transaction_of_a_session_scope(self):
        inner, _, _ = self.define()
        with self.assertRaisesRegex(RuntimeError, "after the service call"):
            with session_scope():
                inner(1)
                self.assertEqual(side_ids(self.t), [])
                raise RuntimeError("after the service call")
        self.assertEqual(side_ids(self.t), [])
        with session_scope():
            inner(2)
            self.assertEqual(side_ids(self.t), [])
        self.assertEqual(side_ids(self.t), [2])
        self.assert_nothing_left_open()

    def test_a_session_scope_inside_transactional_joins_and_leaves_the_session_open(self):
        @transactional
        def service():
            with session_scope() as s:
                s.execute("insert into %s values (1)" % self.t)
            self.assertEqual(side_ids(self.t), [])
            self.insert(2)

        service()
        self.assertEqual(side_ids(self.t), [1, 2])
        self.assert_nothing_left_open()

    def test_explicit_client_forms(self):
        configure(None)
        with self.assertRaises(txscope.InterfaceError):
            scoped()

        @transactional(self.c)
        def a():
            self.c._scoped_session(current_context.get()).execute(
                "insert into %s values (1)" % self.t)

        @transactional()
        def b():
            pass

        a()
        self.assertEqual(side_ids(self.t), [1])
        with self.assertRaises(txscope.InterfaceError):
            b()  # no client configured

    def test_a_context_made_for_the_call_is_reset_and_its_session_ended(self):
        @transactional
        def work():
            self.assertIsNotNone(current_context.get())
            self.insert(1)
            return "result"

        self.assertEqual(work(), "result")
        self.assertIsNone(current_context.get())
        self.assert_nothing_left_open()

    def test_scoped_is_one_session_per_context_until_closed(self):
        a = scoped()
        ctx = current_context.get()
        self.assertIsNotNone(ctx)
        self.assertIs(scoped(), a)
        a.close()
        b = scoped()
        self.assertIsNot(b, a)
        self.assertEqual(b.ctx, ctx)
        token = current_context.set("another")
        try:
            self.assertEqual(scoped().ctx, "another")
        finally:
            current_context.reset(token)
        token = current_context.set("bad\tctx")
        try:
            with self.assertRaises(txscope.InterfaceError):
                scoped()
        finally:
            current_context.reset(token)


class AsyncScopeTest(ScopeTestCase):
    def run_async(self, coro_fn):
        async def main():
            async with txscope.AsyncClient(self.d.address, timeout=10) as ac:
                configure(ac)
                try:
                    return await coro_fn(ac)
                finally:
                    configure(None)
        asyncio.run(main())

    def test_session_scope_commits_or_rolls_back(self):
        async def go(ac):
            async with session_scope() as s:
                self.assertIsInstance(s, txscope.AsyncSession)
                await s.execute("insert into %s values (1)" % self.t)
                self.assertEqual(side_ids(self.t), [])
            with self.assertRaisesRegex(ValueError, "async boom"):
                async with session_scope(ac) as s:
                    await s.execute("insert into %s values (2)" % self.t)
                    raise ValueError("async boom")
            self.assertIsNone(current_context.get())
            with self.assertRaises(txscope.InterfaceError):
                with session_scope(ac):
                    pass
        self.run_async(go)
        self.assertEqual(side_ids(self.t), [1])
        self.assert_nothing_left_open()

    def test_nested_async_transactional(self):
        seen = []

        @transactional
        async def inner(key, fail=False):
            await scoped().execute("insert into %s values ($1)" % self.t, [key])
            if fail:
                raise LookupError("async inner failed")

        @transactional
        async def outer(k1, k2, fail=False):
            await scoped().execute("insert into %s values ($1)" % self.t, [k1])
            await inner(k2, fail)
            seen.append(side_ids(self.t))

        async def go(ac):
            await outer(1, 2)
            with self.assertRaisesRegex(LookupError, "^async inner failed$"):
                await outer(3, 4, fail=True)
            # concurrent requests, each task with its own context: none sees another's
            await asyncio.gather(*(outer(10 + 2 * i, 11 + 2 * i) for i in range(20)))
        self.run_async(go)
        self.assertEqual(seen[0], [])
        self.assertEqual(side_ids(self.t), [1, 2] + list(range(10, 50)))
        self.assert_nothing_left_open()


if __name__ == "__main__":
    unittest.main()
