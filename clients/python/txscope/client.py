"""The thread-safe client: a few pipelined connections to txscoped, and the Session.

One Client serves a whole process, as one SQLAlchemy Engine does. Each context (`ctx`) is
pinned to one of `connections` TCP connections by a stable hash, because the daemon keeps
a session on the connection that created it. Many threads may have requests in flight on
one connection at once: each request gets an integer id, one reader thread per connection
hands every reply to the thread waiting for that id.
"""

from __future__ import annotations

import functools
import socket
import threading
import weakref
from typing import Any, Sequence

from . import _wire, errors
from ._wire import Result

__all__ = ["Client", "Session", "Transaction"]


class _Waiter:
    """One request waiting for its reply."""

    __slots__ = ("event", "reply", "line", "lost")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict[str, Any] | None = None
        self.line: bytes = b""
        self.lost: tuple[str, dict[str, Any] | None] | None = None


def _open_socket(address: tuple[str, str | int], timeout: float | None) -> socket.socket:
    try:
        if _wire.is_unix(address):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(address[1])
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection(address, timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        raise errors.OperationalError("cannot connect to txscoped at %s: %s"
                                      % (_format_address(address), exc),
                                      sqlstate="08001") from None
    sock.settimeout(None)  # the reader blocks; each request has its own deadline
    return sock


def _format_address(address: tuple[str, str | int]) -> str:
    if _wire.is_unix(address):
        return str(address[1])
    host = str(address[0])
    return ("[%s]:%s" if ":" in host else "%s:%s") % (host, address[1])


class _Connection:
    """One connection to the daemon, shared by every session pinned to it.

    Once lost (EOF, a socket error, a line the daemon sends without an id such as its
    shutdown notice), it stays lost: every waiting request fails with
    ConnectionLostError, and the client opens a new connection for new sessions."""

    def __init__(self, address: tuple[str, str | int], token: str | None,
                 timeout: float | None, connect_timeout: float | None) -> None:
        self.name = _format_address(address)
        self._sock = _open_socket(address, connect_timeout)
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, _Waiter] = {}
        self._next_id = 0
        self._lost: tuple[str, dict[str, Any] | None] | None = None
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name="txscope-reader-%s" % self.name)
        self._reader.start()
        try:
            reply, _ = self.call(_wire.hello_request(token), timeout)
        except BaseException:
            self.close()
            raise
        if not reply.get("ok"):
            self.close()
            raise _wire.error_from_reply(reply)

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def lost_error(self, prefix: str | None = None) -> errors.ConnectionLostError:
        reason, reply = self._lost or ("the connection is closed", None)
        return _wire.lost_error(prefix + ": " + reason if prefix else reason, reply)

    def call(self, request: dict[str, Any], timeout: float | None) -> tuple[dict[str, Any], bytes]:
        """Sends one request and waits for its reply: (reply, the reply's line)."""
        waiter = _Waiter()
        with self._lock:
            if self._lost is not None:
                raise self.lost_error()
            self._next_id += 1
            rid = self._next_id
            line = _wire.encode({**request, "id": rid})
            self._pending[rid] = waiter
        try:
            with self._send_lock:
                self._sock.sendall(line)
        except OSError as exc:
            self._set_lost("sending to txscoped at %s failed: %s" % (self.name, exc))
        except BaseException:
            # Interrupted inside sendall (KeyboardInterrupt, a signal handler's
            # exception): part of the line may be out, and the next request's bytes would
            # be glued to it. The connection's framing is gone: nobody may use it again.
            self._set_lost("sending to txscoped at %s was interrupted" % self.name)
            raise
        if not waiter.event.wait(timeout):
            with self._lock:
                self._pending.pop(rid, None)
            if not waiter.event.is_set():
                raise errors.RequestTimeoutError(
                    "no reply from txscoped at %s to %s within %gs; the request may still "
                    "run" % (self.name, request.get("op"), timeout))
        if waiter.lost is not None:
            reason, reply = waiter.lost
            raise _wire.lost_error(reason, reply)
        assert waiter.reply is not None
        return waiter.reply, waiter.line

    def _read_loop(self) -> None:
        reason = "txscoped at %s closed the connection" % self.name
        last: dict[str, Any] | None = None
        stream = self._sock.makefile("rb")
        try:
            for line in stream:
                try:
                    reply = _wire.decode(line)
                except ValueError:
                    reason = "txscoped at %s sent a line that is not a JSON object" % self.name
                    break
                rid = reply.get("id")
                if rid is None:
                    # A line about the whole connection (the shutdown notice 57P01, a
                    # framing error): nothing more will be answered on it.
                    reason = "txscoped at %s ended the connection" % self.name
                    last = reply
                    break
                with self._lock:
                    waiter = self._pending.pop(rid, None)
                if waiter is not None:  # else the reply of a request that timed out
                    waiter.reply, waiter.line = reply, line
                    waiter.event.set()
        except (OSError, ValueError) as exc:
            reason = "connection to txscoped at %s lost: %s" % (self.name, exc)
        finally:
            self._set_lost(reason, last)
            stream.close()
            with self._send_lock:
                self._sock.close()

    def _set_lost(self, reason: str, reply: dict[str, Any] | None = None) -> None:
        with self._lock:
            if self._lost is not None:
                return
            self._lost = (reason, reply)
            pending, self._pending = self._pending, {}
        for waiter in pending.values():
            waiter.lost = self._lost
            waiter.event.set()
        try:  # wakes the reader (and a blocked send) at once
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self._set_lost("the client was closed")
        if threading.current_thread() is not self._reader:
            self._reader.join(5)


class Client(_wire.ClientSettings):
    """A thread-safe client of txscoped.

    Connections open lazily, the first time a context pinned to them is used, and each
    says hello (or ping) at once. A lost connection is replaced on next use, but never by
    re-sending anything: the sessions that lived on it are gone on the daemon (their
    transactions rolled back), so their requests raise ConnectionLostError.

    `timeout` (seconds, None for no limit) bounds the wait for each reply and the connect;
    a request that runs out of it raises RequestTimeoutError (an OperationalError and a
    TimeoutError), and its reply is dropped when it comes.
    """

    def __init__(self, address: str = _wire.DEFAULT_ADDRESS, token: str | None = None,
                 connections: int = 4, timeout: float | None = 60.0,
                 db: str | None = None) -> None:
        super().__init__(address, token, connections, timeout, db)
        self._slots: list[_Connection | None] = [None] * connections
        self._slot_locks = [threading.Lock() for _ in range(connections)]
        self._scoped: dict[str, Session] = {}
        self._scoped_lock = threading.Lock()
        self._closed = False
        # A client dropped without close(): its reader threads would keep its sockets
        # (and the daemon its sessions) until the process exits.
        weakref.finalize(self, _drop_connections, self._slots)

    # -- connections --

    def _connection(self, slot: int) -> _Connection:
        with self._slot_locks[slot]:
            if self._closed:
                raise errors.InterfaceError("the client is closed")
            conn = self._slots[slot]
            if conn is None or conn.lost:
                conn = _Connection(self._address, self._token, self.timeout,
                                   self._connect_timeout)
                self._slots[slot] = conn
            return conn

    def _outcome(self, ctx: str) -> str:
        """The outcome journal's answer for ctx, on a live connection (a new one if the
        ctx's connection was lost: the journal is per principal, not per connection)."""
        reply, _ = self._connection(self._slot_of(ctx)).call({"op": "outcome", "ctx": ctx},
                                                            self.timeout)
        if not reply.get("ok"):
            raise _wire.error_from_reply(reply)
        return reply["outcome"]

    # -- public --

    def session(self, ctx: str | None = None, db: str | None = None) -> Session:
        """A Session for ctx (a fresh uuid4 when None). Nothing is sent until its first
        request; two Session objects with the same ctx share one daemon session."""
        return Session(self, _wire.check_context(ctx if ctx is not None else _wire.new_context()),
                       db if db is not None else self.db)

    def ping(self) -> None:
        """Raises unless the daemon answers a ping."""
        reply, _ = self._connection(0).call({"op": "ping"}, self.timeout)
        if not reply.get("ok"):
            raise _wire.error_from_reply(reply)

    def close(self) -> None:
        """Closes every connection; the daemon ends their sessions, rolling back whatever
        is open. Idempotent."""
        self._closed = True
        for i, lock in enumerate(self._slot_locks):
            with lock:
                conn, self._slots[i] = self._slots[i], None
            if conn is not None:
                conn.close()
        with self._scoped_lock:
            self._scoped.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<txscope.Client %s connections=%d>" % (self.address, len(self._slots))

    # -- the scoped registry (txscope.scope uses it) --

    def _scoped_session(self, ctx: str) -> Session:
        with self._scoped_lock:
            session = self._scoped.get(ctx)
            if session is None:
                session = self._scoped[ctx] = self.session(ctx)
            return session

    def _forget_scoped(self, session: Session) -> None:
        with self._scoped_lock:
            if self._scoped.get(session.ctx) is session:
                del self._scoped[session.ctx]


def _drop_connections(slots: list[_Connection | None]) -> None:
    for conn in slots:
        if conn is not None:
            conn._set_lost("the client was garbage-collected")


class Transaction:
    """What begin() returns: `with s.begin(): ...` commits the level at exit, or rolls it
    back when the block raises (and the block's exception is what propagates, even if the
    rollback fails too)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            self.session.commit()
        else:
            try:
                self.session.rollback()
            except errors.Error:
                pass
        return False


class Session:
    """A request scope's session on the daemon, as SQLAlchemy's Session: the first
    statement begins a transaction (autobegin), commit() and rollback() end it, close()
    ends the session (`end`), rolling back whatever is open.

    Not meant to be used by two threads at once (neither is SQLAlchemy's); different
    sessions of one Client may be. After the connection it lived on is lost, every
    request raises ConnectionLostError; close() then just forgets it."""

    def __init__(self, client: Client, ctx: str, db: str | None) -> None:
        self._client = client
        self.ctx = ctx
        self.db = db
        self.tx_state = "idle"
        self.tx_depth = 0
        self._scopes = 0  # session_scope / @transactional frames running on it (scope.py)
        # What CommitOutcomeUnknown.resolve() calls: the journal's answer for this ctx.
        self._ask_outcome = functools.partial(client._outcome, ctx)
        self._conn: _Connection | None = None
        self._bind_lock = threading.Lock()

    # -- plumbing --

    def _bind(self) -> _Connection:
        with self._bind_lock:
            if self._conn is None:
                self._conn = self._client._connection(self._client._slot_of(self.ctx))
            elif self._conn.lost:
                raise self._conn.lost_error("the session's connection was lost, and its "
                                            "transaction with it")
            return self._conn

    def _send(self, op: str, fields: dict[str, Any] | None = None) -> tuple[dict[str, Any], bytes]:
        """One request of this session: the reply (failed or not) and its line."""
        conn = self._bind()
        request: dict[str, Any] = {"op": op, "ctx": self.ctx}
        if self.db is not None:
            request["db"] = self.db
        if fields:
            request.update(fields)
        reply, line = conn.call(request, self._client.timeout)
        tx = reply.get("tx")
        if isinstance(tx, dict):
            self.tx_state = tx.get("state", self.tx_state)
            self.tx_depth = tx.get("depth", self.tx_depth)
        return reply, line

    def _request(self, op: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        depth = self.tx_depth
        resolver = self._ask_outcome
        try:
            reply, _ = self._send(op, fields)
        except errors.RequestTimeoutError as exc:
            unknown = _wire.commit_timeout(exc, op, fields, depth, resolver)
            if unknown is None:
                raise
            raise unknown from exc
        if not reply.get("ok"):
            raise _wire.error_from_reply(reply, resolver)
        return reply

    # -- statements --

    def execute(self, sql: str, params: Sequence[Any] | None = None, *,
                autocommit: bool = False) -> Result:
        """Runs one statement; with autocommit=True alone, outside any transaction."""
        return Result(self._request("query", _wire.query_fields(sql, params, autocommit)))

    def batch(self, statements: Sequence[Any], **tx_options: Any) -> list[Result]:
        """Runs the statements in one round trip: inside the open transaction, or else in
        one of their own that commits when all succeed (tx_options: isolation, read_only,
        deferrable)."""
        reply = self._request("batch", _wire.batch_fields(statements, tx_options))
        return [Result(r) for r in reply.get("results") or []]

    # -- transactions --

    def begin(self, isolation: str | None = None, read_only: bool | None = None,
              deferrable: bool | None = None, *, nested: bool = False,
              join: bool = False) -> Transaction:
        """Begins a transaction (nested=True: a SAVEPOINT level; join=True: a level of
        the open transaction, whose commit only closes the level)."""
        self._request("begin", _wire.begin_fields(isolation, read_only, deferrable, nested, join))
        return Transaction(self)

    def begin_nested(self) -> Transaction:
        return self.begin(nested=True)

    def commit(self) -> None:
        self._request("commit")

    def rollback(self) -> None:
        self._request("rollback")

    def savepoint(self, name: str) -> None:
        self._request("savepoint", _wire.savepoint_name(name))

    def release(self, name: str) -> None:
        self._request("release", _wire.savepoint_name(name))

    def rollback_to(self, name: str) -> None:
        self._request("rollback_to", _wire.savepoint_name(name))

    def status(self) -> dict[str, Any]:
        """The session's transaction state, {"state": ..., "depth": ...}, unchanged."""
        return self._request("status")["tx"]

    def outcome(self) -> str:
        """How this context's most recent ended transaction went: "committed",
        "rolled_back", "unknown" or "not_found"."""
        return self._request("outcome")["outcome"]

    def close(self) -> None:
        """Ends the session (`end`): rolls back whatever is open and frees it on the
        daemon. Idempotent; a session never used, or whose connection was lost, is just
        forgotten."""
        with self._bind_lock:
            conn = self._conn
        try:
            if conn is not None and not conn.lost:
                try:
                    self._request("end")
                except errors.ConnectionLostError:
                    pass
        finally:
            with self._bind_lock:
                self._conn = None
            self.tx_state, self.tx_depth = "idle", 0
            self._client._forget_scoped(self)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<txscope.Session ctx=%r %s depth=%d>" % (self.ctx, self.tx_state, self.tx_depth)
