"""WSGIMiddleware against the real daemon and PostgreSQL, with the sync Client: requests
from several threads commit or roll back by their own outcome, the session of a
streaming response lives until the server closes the response iterable (and no longer),
and a real WSGI server (wsgiref) drives it end to end with X-Request-ID.
"""

from __future__ import annotations

import concurrent.futures
import socketserver
import threading
import time
import unittest
import urllib.request
import uuid
import wsgiref.simple_server
from typing import Any, Callable, Iterable

from tests import daemon
from txscope import (Client, WSGIMiddleware, current_context, scoped, session_scope,
                     transactional)

TABLE = "mw_wsgi_rows"


class Boom(Exception):
    """What a failing app raises; carries the request's number."""


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Polls a look from the side until it holds, or gives up after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def is_uuid4(text: str) -> bool:
    try:
        return uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text
    except ValueError:
        return False


def environ_for(path: str, request_id: str | None = None) -> dict[str, Any]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    if request_id is not None:
        environ["HTTP_X_REQUEST_ID"] = request_id
    return environ


class Server:
    """What a WSGI server does with a response: start_response, iterate, then close()
    (PEP 3333), also when iterating fails."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def request(self, path: str, request_id: str | None = None) -> tuple[str, bytes]:
        status: list[str] = []
        result = self.app(environ_for(path, request_id),
                          lambda s, headers, exc_info=None: status.append(s))
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return status[0], body


def ok(start_response: Callable[..., Any], text: str) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]


class WSGITestCase(unittest.TestCase):
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
        self.assertTrue(eventually(lambda: self.d.open_sessions() == 0))
        self.client = Client(self.d.address, connections=4, timeout=10)

    def tearDown(self) -> None:
        self.client.close()

    def rows(self) -> list[tuple[int, int, str]]:
        out = daemon.psql("select n, part, ctx from %s order by n, part" % TABLE)
        return [(int(n), int(p), c) for n, p, c in
                (line.split("|") for line in out.splitlines() if line)]

    def assert_nothing_left_open(self) -> None:
        """Checked while the client is still connected (a disconnect would end
        everything anyway)."""
        self.assertEqual(self.d.open_sessions(), 0)
        self.assertEqual(daemon.backends(self.d, "idle in transaction"), 0)

    def insert(self, n: int, part: int) -> None:
        scoped(self.client).execute("insert into %s (n, part, ctx) values ($1, $2, $3)"
                                    % TABLE, [n, part, current_context.get()])

    # ---- many requests from threads -----------------------------------------------------

    def test_requests_from_threads_commit_or_roll_back_by_their_own_outcome(self) -> None:
        """n % 4: 0 commits through @transactional, 1 through session_scope, 2 raises in
        nested @transactional functions, 3 raises with its transaction left open."""
        client = self.client

        @transactional(client)
        def insert_pair(n: int) -> None:
            self.insert(n, 0)
            self.insert(n, 1)

        @transactional(client)
        def insert_pair_then_fail(n: int) -> None:
            insert_pair(n)
            raise Boom(n)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            n = int(environ["PATH_INFO"][1:])
            if n % 4 == 0:
                insert_pair(n)
            elif n % 4 == 1:
                with session_scope(client):
                    insert_pair(n)
            elif n % 4 == 2:
                insert_pair_then_fail(n)
            else:
                self.insert(n, 0)
                self.insert(n, 1)
                raise Boom(n)
            return ok(start_response, current_context.get())

        server = Server(WSGIMiddleware(app, client))

        def one(n: int) -> Any:
            try:
                return server.request("/%d" % n, "req-%02d" % n if n % 2 == 0 else None)
            except Boom as exc:
                return exc

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(one, range(40)))
        self.assert_nothing_left_open()
        self.assertIsNone(current_context.get())

        committed = [n for n in range(40) if n % 4 in (0, 1)]
        for n, result in enumerate(results):
            if n % 4 in (0, 1):
                self.assertEqual(result[0], "200 OK")
            else:
                self.assertIsInstance(result, Boom)
                self.assertEqual(result.args, (n,))
        rows = self.rows()
        self.assertEqual([(n, p) for n, p, _ in rows], [(n, p) for n in committed for p in (0, 1)])
        for n, _, ctx in rows:
            self.assertEqual(ctx, results[n][1].decode())
            self.assertTrue(ctx == "req:req-%02d" % n if n % 2 == 0 else is_uuid4(ctx), (n, ctx))
        self.assertEqual(len({ctx for _, _, ctx in rows}), len(committed))

    # ---- the response iterable ----------------------------------------------------------

    def test_a_streaming_response_keeps_its_session_until_close(self) -> None:
        """The app opens a transaction and writes before it returns; the body is produced
        inside that transaction while the server iterates, and commits at its end. The
        context is the request's at every step, and the session is ended by close():
        not when the app returns, nor when the iteration ends."""
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            s = scoped(self.client)
            s.begin()
            self.insert(10, 0)
            start_response("200 OK", [("Content-Type", "text/plain")])

            def body() -> Iterable[bytes]:
                yield current_context.get().encode()
                self.insert(10, 1)
                s.commit()
                yield b"committed"
            return body()

        response = WSGIMiddleware(app, self.client)(environ_for("/", "stream-1"),
                                                    lambda *args: None)
        self.assertIsNone(current_context.get())
        self.assertEqual(daemon.backends(self.d, "idle in transaction"), 1)
        chunks = iter(response)
        self.assertEqual(next(chunks), b"req:stream-1")
        self.assertIsNone(current_context.get())
        self.assertEqual(self.d.open_sessions(), 1)
        self.assertEqual(next(chunks), b"committed")
        self.assertEqual(self.rows(), [(10, 0, "req:stream-1"), (10, 1, "req:stream-1")])
        self.assertEqual(list(chunks), [])
        self.assertEqual(self.d.open_sessions(), 1)  # iteration over; close() not yet
        response.close()
        self.assert_nothing_left_open()
        response.close()  # a second close is harmless

    def test_a_response_closed_early_rolls_back(self) -> None:
        """A client gone after the first chunk: the server stops iterating and closes;
        the generator's own cleanup runs in the request's context, then the session is
        ended with the transaction still open."""
        seen_at_close: list[str | None] = []

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            start_response("200 OK", [])

            def body() -> Iterable[bytes]:
                try:
                    self.insert(11, 0)
                    yield b"first"
                    yield b"never sent"
                finally:
                    seen_at_close.append(current_context.get())
            return body()

        response = WSGIMiddleware(app, self.client)(environ_for("/", "early-1"),
                                                    lambda *args: None)
        self.assertEqual(next(iter(response)), b"first")
        self.assertEqual(daemon.backends(self.d, "idle in transaction"), 1)
        response.close()
        self.assertEqual(seen_at_close, ["req:early-1"])
        self.assert_nothing_left_open()
        self.assertEqual(self.rows(), [])

    def test_an_error_while_iterating_rolls_back_once_closed(self) -> None:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            start_response("200 OK", [])

            def body() -> Iterable[bytes]:
                self.insert(12, 0)
                yield b"first"
                raise Boom("mid-body")
            return body()

        with self.assertRaises(Boom):
            Server(WSGIMiddleware(app, self.client)).request("/")
        self.assert_nothing_left_open()
        self.assertEqual(self.rows(), [])

    def test_an_app_that_raises_before_returning_is_ended_at_once(self) -> None:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            self.insert(13, 0)
            raise Boom("before returning")

        with self.assertRaises(Boom) as caught:
            WSGIMiddleware(app, self.client)(environ_for("/"), lambda *args: None)
        self.assertEqual(caught.exception.args, ("before returning",))
        self.assertIsNone(current_context.get())
        self.assert_nothing_left_open()
        self.assertEqual(self.rows(), [])

    def test_x_request_id_is_the_context_when_valid_else_a_uuid4(self) -> None:
        server = Server(WSGIMiddleware(lambda e, sr: ok(sr, current_context.get()),
                                       self.client))
        self.assertEqual(server.request("/", "abc-123")[1], b"req:abc-123")
        self.assertEqual(server.request("/", "a" * 124)[1], b"req:" + b"a" * 124)
        for invalid in (None, "", "a" * 125, "caf\xe9", "tab\there"):
            self.assertTrue(is_uuid4(server.request("/", invalid)[1].decode()), invalid)

        custom = WSGIMiddleware(lambda e, sr: ok(sr, current_context.get()), self.client,
                                header="HTTP_X_CORRELATION_ID")
        environ = environ_for("/", "ignored")
        environ["HTTP_X_CORRELATION_ID"] = "corr-7"
        self.assertEqual(b"".join(custom(environ, lambda *args: None)), b"req:corr-7")

    def test_a_request_id_cannot_name_a_session_of_the_app(self) -> None:
        """The app runs a job in a session it named itself; a request whose id is that
        name gets "req:" + it, so it neither sees the job's uncommitted row nor ends the
        job's transaction."""
        job = self.client.session("nightly-billing")
        job.execute("insert into %s (n, part, ctx) values (99, 0, 'job')" % TABLE)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            seen = scoped(self.client).execute("select count(*) from %s" % TABLE).scalar()
            return ok(start_response, "%s %s" % (current_context.get(), seen))

        status, body = Server(WSGIMiddleware(app, self.client)).request("/", "nightly-billing")
        self.assertEqual(body, b"req:nightly-billing 0")
        self.assertEqual(job.tx_state, "open")
        job.commit()
        self.assertEqual(self.rows(), [(99, 0, "job")])
        job.close()

    # ---- a real server -------------------------------------------------------------------

    def test_wsgiref_server_with_request_ids(self) -> None:
        """wsgiref, threaded, requests over HTTP: X-Request-ID arrives as
        HTTP_X_REQUEST_ID, each request commits its row under its id, and the server's
        close() of each response ends its session."""
        client = self.client

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            n = int(environ["PATH_INFO"][1:])
            with session_scope(client):
                self.insert(n, 0)
            scoped(client).execute("select 1")  # a session session_scope did not close
            return ok(start_response, current_context.get())

        class ThreadingServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
            daemon_threads = True

        class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, WSGIMiddleware(app, client),
                                                  ThreadingServer, QuietHandler)
        serving = threading.Thread(target=httpd.serve_forever, daemon=True)
        serving.start()
        try:
            def get(n: int) -> str:
                request = urllib.request.Request(
                    "http://127.0.0.1:%d/%d" % (httpd.server_port, n),
                    headers={"X-Request-ID": "http-%d" % n})
                with urllib.request.urlopen(request, timeout=10) as r:
                    return r.read().decode()

            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                bodies = list(pool.map(get, range(20, 32)))
            self.assertEqual(bodies, ["req:http-%d" % n for n in range(20, 32)])
            self.assertTrue(eventually(lambda: self.d.open_sessions() == 0))
        finally:
            httpd.shutdown()
            httpd.server_close()
        self.assertEqual(self.rows(), [(n, 0, "req:http-%d" % n) for n in range(20, 32)])
        self.assertEqual(daemon.backends(self.d, "idle in transaction"), 0)


if __name__ == "__main__":
    unittest.main()
