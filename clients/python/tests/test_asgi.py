"""ASGIMiddleware against the real daemon and PostgreSQL, driven by a hand-written ASGI
server shim (no framework is installable here; the middleware only needs the ASGI
callables): concurrent requests each commit or roll back by their own outcome, a raising
handler and a client that goes away leave no session and no open transaction behind, and
X-Request-ID becomes the context when it is a valid one.
"""

from __future__ import annotations

import asyncio
import time
import unittest
import uuid
from typing import Any, Awaitable, Callable

from tests import daemon
from txscope import (ASGIMiddleware, AsyncClient, Client, current_context, scoped,
                     session_scope, transactional)

TABLE = "mw_asgi_rows"


class Boom(Exception):
    """What a failing handler raises; carries the request's number."""


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Polls check() (a blocking look from the side) while letting the loop run, so the
    client's replies and the middleware's cleanup go on meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def is_uuid4(text: str) -> bool:
    try:
        return uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text
    except ValueError:
        return False


class Response:
    def __init__(self) -> None:
        self.status: int | None = None
        self.body = b""


class Shim:
    """A minimal ASGI server: one HTTP request per call, the way uvicorn drives an app.
    receive() gives the request body once, then blocks until the client disconnects
    (`disconnect.set()`), then says http.disconnect."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def request(self, path: str, headers: list[tuple[bytes, bytes]] | None = None,
                      disconnect: asyncio.Event | None = None,
                      kind: str = "http") -> Response:
        disconnect = disconnect or asyncio.Event()
        scope = {"type": kind, "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": headers or [], "client": ("127.0.0.1", 50000),
                 "server": ("127.0.0.1", 8000)}
        body_sent = False
        response = Response()

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.status = message["status"]
            elif message["type"] == "http.response.body":
                response.body += message.get("body", b"")

        await self.app(scope, receive, send)
        return response


async def respond(send: Callable[..., Awaitable[None]], text: str) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})


class ASGITestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        daemon.psql("drop table if exists %s; create table %s (n int, part int, ctx text, "
                    "primary key (n, part))" % (TABLE, TABLE))
        cls.d = daemon.Daemon(TXSCOPE_DB_MAIN_POOL_SIZE="4")

    @classmethod
    def tearDownClass(cls) -> None:
        status = cls.d.stop()
        daemon.psql("drop table if exists %s" % TABLE)
        assert status == 0, "txscoped exited %s; log: %s" % (status, cls.d.log_path)

    def setUp(self) -> None:
        daemon.psql("truncate %s" % TABLE)
        # the last test's client has gone; the daemon ends its sessions as it notices
        deadline = time.monotonic() + 5
        while self.d.open_sessions() and time.monotonic() < deadline:
            time.sleep(0.02)

    def rows(self) -> list[tuple[int, int, str]]:
        out = daemon.psql("select n, part, ctx from %s order by n, part" % TABLE)
        return [(int(n), int(p), c) for n, p, c in
                (line.split("|") for line in out.splitlines() if line)]

    def assert_nothing_left_open(self) -> None:
        """Checked while the client is still connected: a session or transaction the
        middleware failed to end would still be there (the daemon ends them only when
        the client disconnects)."""
        self.assertEqual(self.d.open_sessions(), 0)
        self.assertEqual(daemon.backends(self.d, "idle in transaction"), 0)

    def run_with_client(self, body: Callable[[AsyncClient], Awaitable[None]]) -> None:
        async def main() -> None:
            async with AsyncClient(self.d.address, connections=4, timeout=10) as client:
                await body(client)
        asyncio.run(main())

    # ---- the acceptance run ------------------------------------------------------------

    def test_100_concurrent_requests_commit_or_roll_back_by_their_own_outcome(self) -> None:
        """Each request writes two rows under its own context, yielding in between so
        the requests interleave on the four connections; n % 4 picks how it ends:
        0 commits through @transactional, 1 through session_scope, 2 raises inside nested
        @transactional functions, 3 raises with its transaction left open (only the
        middleware's end rolls that one back). Even requests carry an X-Request-ID."""
        results: list[Any] = []

        async def body(client: AsyncClient) -> None:
            @transactional(client)
            async def insert_pair(n: int) -> None:
                s = scoped(client)
                for part in (0, 1):
                    await s.execute("insert into %s (n, part, ctx) values ($1, $2, $3)" % TABLE,
                                    [n, part, current_context.get()])
                    await asyncio.sleep(0)

            @transactional(client)
            async def insert_pair_then_fail(n: int) -> None:
                await insert_pair(n)
                raise Boom(n)

            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                n = int(scope["path"].rsplit("/", 1)[1])
                await receive()
                if n % 4 == 0:
                    await insert_pair(n)
                elif n % 4 == 1:
                    async with session_scope(client):
                        await insert_pair(n)
                elif n % 4 == 2:
                    await insert_pair_then_fail(n)
                else:
                    s = scoped(client)
                    await s.execute("insert into %s (n, part, ctx) values ($1, 0, $2)" % TABLE,
                                    [n, current_context.get()])
                    await asyncio.sleep(0)
                    await s.execute("insert into %s (n, part, ctx) values ($1, 1, $2)" % TABLE,
                                    [n, current_context.get()])
                    raise Boom(n)
                await respond(send, current_context.get())

            shim = Shim(ASGIMiddleware(app, client))

            def headers(n: int) -> list[tuple[bytes, bytes]]:
                return [(b"x-request-id", b"req-%03d" % n)] if n % 2 == 0 else []

            results.extend(await asyncio.gather(
                *(shim.request("/write/%d" % n, headers(n)) for n in range(100)),
                return_exceptions=True))
            self.assertIsNone(current_context.get())
            self.assert_nothing_left_open()

        self.run_with_client(body)

        committed = [n for n in range(100) if n % 4 in (0, 1)]
        for n, result in enumerate(results):
            if n % 4 in (0, 1):
                self.assertIsInstance(result, Response, "request %d" % n)
                self.assertEqual(result.status, 200)
            else:
                self.assertIsInstance(result, Boom, "request %d" % n)
                self.assertEqual(result.args, (n,))
        rows = self.rows()
        self.assertEqual([(n, p) for n, p, _ in rows], [(n, p) for n in committed for p in (0, 1)])
        ctx_of = {}
        for n, _, ctx in rows:
            self.assertEqual(ctx, results[n].body.decode(), "row of request %d" % n)
            ctx_of.setdefault(n, set()).add(ctx)
            if n % 2 == 0:
                self.assertEqual(ctx, "req:req-%03d" % n)
            else:
                self.assertTrue(is_uuid4(ctx), ctx)
        self.assertTrue(all(len(c) == 1 for c in ctx_of.values()))
        self.assertEqual(len({c for cs in ctx_of.values() for c in cs}), len(committed))

    # ---- a handler that raises, a client that goes away ----------------------------------

    def test_a_raising_handler_has_its_session_ended_and_the_exception_propagates(self) -> None:
        async def body(client: AsyncClient) -> None:
            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                s = scoped(client)
                await s.begin()
                await s.execute("insert into %s values (1, 0, 'raised')" % TABLE)
                raise Boom("handler failed")

            shim = Shim(ASGIMiddleware(app, client))
            with self.assertRaises(Boom) as caught:
                await shim.request("/")
            self.assertEqual(caught.exception.args, ("handler failed",))
            self.assertIsNone(current_context.get())
            self.assert_nothing_left_open()

        self.run_with_client(body)
        self.assertEqual(self.rows(), [])

    def test_a_handler_that_returns_on_disconnect_with_its_transaction_open(self) -> None:
        """As a streaming handler does when receive() says http.disconnect: it just
        returns, never committing. The middleware's end rolls the transaction back."""
        async def body(client: AsyncClient) -> None:
            started = asyncio.Event()

            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                await receive()
                s = scoped(client)
                await s.begin()
                await s.execute("insert into %s values (2, 0, 'left open')" % TABLE)
                started.set()
                message = await receive()
                assert message["type"] == "http.disconnect"

            disconnect = asyncio.Event()
            shim = Shim(ASGIMiddleware(app, client))
            request = asyncio.ensure_future(shim.request("/", disconnect=disconnect))
            await started.wait()
            self.assertTrue(await eventually(
                lambda: daemon.backends(self.d, "idle in transaction") == 1))
            self.assertEqual(self.d.open_sessions(), 1)
            disconnect.set()
            await request
            self.assert_nothing_left_open()

        self.run_with_client(body)
        self.assertEqual(self.rows(), [])

    def test_a_request_task_cancelled_while_its_transaction_is_open(self) -> None:
        """The server cancels the request's task when the client disconnects (the handler
        is awaiting something else, here an event that never fires)."""
        async def body(client: AsyncClient) -> None:
            started = asyncio.Event()

            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                s = scoped(client)
                await s.execute("insert into %s values (3, 0, 'cancelled')" % TABLE)
                started.set()
                await asyncio.Event().wait()

            shim = Shim(ASGIMiddleware(app, client))
            task = asyncio.ensure_future(shim.request("/"))
            await started.wait()
            self.assertTrue(await eventually(
                lambda: daemon.backends(self.d, "idle in transaction") == 1))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.assertTrue(task.cancelled())
            self.assert_nothing_left_open()

        self.run_with_client(body)
        self.assertEqual(self.rows(), [])

    def test_cancelled_twice_during_a_statement_the_session_is_still_ended(self) -> None:
        """Cancelled while a statement runs on the daemon (a client gone mid-query), then
        at once again, while the middleware starts its cleanup (a server that cancels on
        every disconnect event): the shielded end still runs, waits for the statement,
        and rolls the insert back; no session stays."""
        async def body(client: AsyncClient) -> None:
            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                s = scoped(client)
                await s.execute("insert into %s values (4, 0, 'slow')" % TABLE)
                await s.execute("select pg_sleep(0.5)")

            shim = Shim(ASGIMiddleware(app, client))
            task = asyncio.ensure_future(shim.request("/"))
            self.assertTrue(await eventually(lambda: daemon.psql(
                "select count(*) from pg_stat_activity where application_name = '%s' "
                "and query like 'select pg_sleep%%' and state = 'active'"
                % self.d.app_name) == "1"))
            task.cancel()
            await asyncio.sleep(0)  # the middleware starts ending the session...
            self.assertFalse(task.done())
            task.cancel()  # ...and is cancelled again before its `end` is even sent
            await asyncio.gather(task, return_exceptions=True)
            self.assertTrue(task.cancelled())
            self.assertTrue(await eventually(lambda: self.d.open_sessions() == 0))
            self.assertEqual(daemon.backends(self.d, "idle in transaction"), 0)

        self.run_with_client(body)
        self.assertEqual(self.rows(), [])

    def test_a_sync_client_with_handlers_in_a_thread_pool(self) -> None:
        """How a framework runs `def` endpoints: in a thread, with the request's context
        copied (asyncio.to_thread). The middleware ends the sync session from a thread
        too; the committing request's row stays, the raising one's does not."""
        with Client(self.d.address, connections=2, timeout=10) as client:
            @transactional(client)
            def place(n: int) -> None:
                scoped(client).execute("insert into %s values ($1, 0, $2)" % TABLE,
                                       [n, current_context.get()])
                if n == 7:
                    raise Boom(n)

            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                n = int(scope["path"][1:])
                await asyncio.to_thread(place, n)
                await asyncio.to_thread(scoped(client).execute, "select 1")  # a new tx
                await respond(send, current_context.get())

            async def main() -> None:
                shim = Shim(ASGIMiddleware(app, client))
                done, failed = await asyncio.gather(
                    shim.request("/6", [(b"x-request-id", b"sync-6")]),
                    shim.request("/7", [(b"x-request-id", b"sync-7")]),
                    return_exceptions=True)
                self.assertEqual(done.body, b"req:sync-6")
                self.assertIsInstance(failed, Boom)
                self.assert_nothing_left_open()

            asyncio.run(main())
        self.assertEqual(self.rows(), [(6, 0, "req:sync-6")])

    # ---- the context ---------------------------------------------------------------------

    def test_x_request_id_is_the_context_when_valid_else_a_uuid4(self) -> None:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await respond(send, current_context.get())

        async def body(client: AsyncClient) -> None:
            shim = Shim(ASGIMiddleware(app, client))

            async def ctx_for(value: bytes | None, name: bytes = b"x-request-id") -> str:
                headers = [(b"accept", b"*/*")]
                if value is not None:
                    headers.append((name, value))
                return (await shim.request("/", headers)).body.decode()

            for valid in (b"abc-123", b"a" * 124, b"with space ~!", b"x"):
                self.assertEqual(await ctx_for(valid), "req:" + valid.decode())
            generated = set()
            for invalid in (None, b"", b"a" * 125, b"caf\xc3\xa9", b"tab\there", b"nul\x00",
                            b"del\x7f"):
                ctx = await ctx_for(invalid)
                self.assertTrue(is_uuid4(ctx), (invalid, ctx))
                generated.add(ctx)
            self.assertEqual(len(generated), 7)
            self.assertTrue(is_uuid4(await ctx_for(b"other", b"x-correlation-id")))

            custom = Shim(ASGIMiddleware(app, client, header="X-Correlation-ID"))
            response = await custom.request("/", [(b"x-correlation-id", b"corr-1")])
            self.assertEqual(response.body, b"req:corr-1")
            raw = Shim(ASGIMiddleware(app, client, prefix=""))
            response = await raw.request("/", [(b"x-request-id", b"a" * 128)])
            self.assertEqual(response.body, b"a" * 128)
            self.assertIsNone(current_context.get())

        self.run_with_client(body)

    def test_two_requests_at_once_with_one_request_id_get_different_sessions(self) -> None:
        """A request id is client input: a second request reusing one in flight must not
        join the first one's session (and its transaction)."""
        async def body(client: AsyncClient) -> None:
            both_in = asyncio.Barrier(2)

            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                n = int(scope["path"][1:])
                s = scoped(client)
                await s.execute("insert into %s values ($1, 0, $2)" % TABLE,
                                [n, current_context.get()])
                await both_in.wait()
                if n == 1:
                    await s.commit()  # had they one session, this would commit /2's row too
                await respond(send, current_context.get())

            shim = Shim(ASGIMiddleware(app, client))
            same = [(b"x-request-id", b"dup-id")]
            first, second = await asyncio.gather(shim.request("/1", same),
                                                 shim.request("/2", same))
            self.assertEqual(first.body, b"req:dup-id")
            self.assertTrue(is_uuid4(second.body.decode()))
            self.assert_nothing_left_open()
            both_in = asyncio.Barrier(1)
            again = await shim.request("/3", same)  # the id is free again
            self.assertEqual(again.body, b"req:dup-id")

        self.run_with_client(body)
        self.assertEqual(self.rows(), [(1, 0, "req:dup-id")])

    def test_websocket_scopes_get_a_context_and_lifespan_passes_through(self) -> None:
        seen: dict[str, Any] = {}

        async def body(client: AsyncClient) -> None:
            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                seen[scope["type"]] = current_context.get()
                if scope["type"] == "websocket":
                    await scoped(client).execute(
                        "insert into %s values (5, 0, 'ws')" % TABLE)

            mw = ASGIMiddleware(app, client)
            await mw({"type": "lifespan", "asgi": {"version": "3.0"}}, None, None)
            await Shim(mw).request("/ws", [(b"x-request-id", b"ws-1")], kind="websocket")
            self.assert_nothing_left_open()

        self.run_with_client(body)
        self.assertEqual(seen, {"lifespan": None, "websocket": "req:ws-1"})
        self.assertEqual(self.rows(), [])


if __name__ == "__main__":
    unittest.main()
