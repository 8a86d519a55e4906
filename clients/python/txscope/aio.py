"""The asyncio client: the same API as txscope.client, with coroutines.

One AsyncClient belongs to one event loop and may be used by any number of its tasks at
once. Each connection has one reader task that completes a future per request id. A task
cancelled while it waits (a web client that went away) leaves the connection intact: its
request was written whole, and the reply is read and dropped when it comes.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Generator, Sequence

from . import _wire, errors
from ._wire import Result

__all__ = ["AsyncClient", "AsyncSession", "AsyncTransaction"]

# A reply holds a whole result set on one line; the daemon bounds it (max_result_bytes).
_LINE_LIMIT = 1 << 30


class _AsyncConnection:
    """One connection to the daemon, shared by every session pinned to it; once lost,
    it stays lost (see txscope.client._Connection)."""

    def __init__(self, name: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], bytes]]] = {}
        self._next_id = 0
        self._lost: tuple[str, dict[str, Any] | None] | None = None
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, address: tuple[str, str | int], token: str | None,
                   timeout: float | None, connect_timeout: float | None) -> _AsyncConnection:
        name = _format_address(address)
        try:
            async with asyncio.timeout(connect_timeout):
                if _wire.is_unix(address):
                    reader, writer = await asyncio.open_unix_connection(
                        str(address[1]), limit=_LINE_LIMIT)
                else:
                    reader, writer = await asyncio.open_connection(
                        address[0], address[1], limit=_LINE_LIMIT)
        except (OSError, TimeoutError) as exc:
            raise errors.OperationalError("cannot connect to txscoped at %s: %s"
                                          % (name, exc or "timed out"),
                                          sqlstate="08001") from None
        conn = cls(name, reader, writer)
        try:
            reply, _ = await conn.call(_wire.hello_request(token), timeout)
        except BaseException:
            await conn.close()
            raise
        if not reply.get("ok"):
            await conn.close()
            raise _wire.error_from_reply(reply)
        return conn

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def lost_error(self, prefix: str | None = None) -> errors.ConnectionLostError:
        reason, reply = self._lost or ("the connection is closed", None)
        return _wire.lost_error(prefix + ": " + reason if prefix else reason, reply)

    async def call(self, request: dict[str, Any],
                   timeout: float | None) -> tuple[dict[str, Any], bytes]:
        """Sends one request and waits for its reply: (reply, the reply's line)."""
        if self._lost is not None:
            raise self.lost_error()
        self._next_id += 1
        rid = self._next_id
        line = _wire.encode({**request, "id": rid})
        future: asyncio.Future[tuple[dict[str, Any], bytes]] = \
            asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        # write() is synchronous: the line goes out whole, whatever happens to this task.
        self._writer.write(line)
        try:
            try:
                await self._writer.drain()
            except (OSError, RuntimeError) as exc:
                self._set_lost("sending to txscoped at %s failed: %s" % (self.name, exc))
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            if future.done() and not future.cancelled():
                return future.result()
            raise errors.RequestTimeoutError(
                "no reply from txscoped at %s to %s within %gs; the request may still run"
                % (self.name, request.get("op"), timeout)) from None
        finally:
            # Cancelled or timed out: the reply is read and dropped when it comes.
            self._pending.pop(rid, None)

    async def _read_loop(self) -> None:
        reason = "txscoped at %s closed the connection" % self.name
        last: dict[str, Any] | None = None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    reply = _wire.decode(line)
                except ValueError:
                    reason = "txscoped at %s sent a line that is not a JSON object" % self.name
                    break
                rid = reply.get("id")
                if rid is None:
                    reason = "txscoped at %s ended the connection" % self.name
                    last = reply
                    break
                future = self._pending.pop(rid, None)
                if future is not None and not future.done():
                    future.set_result((reply, line))
        except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
            reason = "connection to txscoped at %s lost: %s" % (self.name, exc)
        except asyncio.CancelledError:
            reason = "the client was closed"
            raise
        finally:
            self._set_lost(reason, last)

    def _set_lost(self, reason: str, reply: dict[str, Any] | None = None) -> None:
        if self._lost is not None:
            return
        self._lost = (reason, reply)
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(_wire.lost_error(reason, reply))
        self._writer.close()

    async def close(self) -> None:
        self._set_lost("the client was closed")
        if not self._task.done():
            self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        try:
            await self._writer.wait_closed()
        except OSError:
            pass


def _format_address(address: tuple[str, str | int]) -> str:
    if _wire.is_unix(address):
        return str(address[1])
    host = str(address[0])
    return ("[%s]:%s" if ":" in host else "%s:%s") % (host, address[1])


class AsyncClient(_wire.ClientSettings):
    """The asyncio twin of txscope.Client: same arguments, same guarantees.

    `client.session(ctx)` returns an AsyncSession at once (nothing is sent until its
    first request); its methods, `ping()` and `close()` are coroutines."""

    def __init__(self, address: str = _wire.DEFAULT_ADDRESS, token: str | None = None,
                 connections: int = 4, timeout: float | None = 60.0,
                 db: str | None = None) -> None:
        super().__init__(address, token, connections, timeout, db)
        self._slots: list[_AsyncConnection | None] = [None] * connections
        self._slot_locks: list[asyncio.Lock] = [asyncio.Lock() for _ in range(connections)]
        self._scoped: dict[str, AsyncSession] = {}
        self._closed = False

    async def _connection(self, slot: int) -> _AsyncConnection:
        async with self._slot_locks[slot]:
            if self._closed:
                raise errors.InterfaceError("the client is closed")
            conn = self._slots[slot]
            if conn is None or conn.lost:
                conn = await _AsyncConnection.open(self._address, self._token, self.timeout,
                                                   self._connect_timeout)
                self._slots[slot] = conn
            return conn

    async def _outcome(self, ctx: str) -> str:
        conn = await self._connection(self._slot_of(ctx))
        reply, _ = await conn.call({"op": "outcome", "ctx": ctx}, self.timeout)
        if not reply.get("ok"):
            raise _wire.error_from_reply(reply)
        return reply["outcome"]

    def session(self, ctx: str | None = None, db: str | None = None) -> AsyncSession:
        """An AsyncSession for ctx (a fresh uuid4 when None); see Client.session."""
        return AsyncSession(self, _wire.check_context(ctx if ctx is not None
                                                      else _wire.new_context()),
                            db if db is not None else self.db)

    async def ping(self) -> None:
        conn = await self._connection(0)
        reply, _ = await conn.call({"op": "ping"}, self.timeout)
        if not reply.get("ok"):
            raise _wire.error_from_reply(reply)

    async def close(self) -> None:
        """Closes every connection; the daemon ends their sessions. Idempotent."""
        self._closed = True
        for i, lock in enumerate(self._slot_locks):
            async with lock:
                conn, self._slots[i] = self._slots[i], None
            if conn is not None:
                await conn.close()
        self._scoped.clear()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "<txscope.AsyncClient %s connections=%d>" % (self.address, len(self._slots))

    # -- the scoped registry (txscope.scope uses it); one loop, so no lock --

    def _scoped_session(self, ctx: str) -> AsyncSession:
        session = self._scoped.get(ctx)
        if session is None:
            session = self._scoped[ctx] = self.session(ctx)
        return session

    def _forget_scoped(self, session: AsyncSession) -> None:
        if self._scoped.get(session.ctx) is session:
            del self._scoped[session.ctx]


class AsyncTransaction:
    """What AsyncSession.begin() returns: `await s.begin()` sends the begin;
    `async with s.begin():` sends it on entry, commits the level at exit, or rolls it
    back when the block raises (the block's exception propagates)."""

    def __init__(self, session: AsyncSession, fields: dict[str, Any]) -> None:
        self.session = session
        self._fields = fields
        self._begun = False

    async def _begin(self) -> AsyncTransaction:
        if not self._begun:
            self._begun = True
            await self.session._request("begin", self._fields)
        return self

    def __await__(self) -> Generator[Any, None, AsyncTransaction]:
        return self._begin().__await__()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    async def __aenter__(self) -> AsyncTransaction:
        return await self._begin()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            await self.session.commit()
        else:
            try:
                await self.session.rollback()
            except errors.Error:
                pass
        return False


class AsyncSession:
    """The asyncio twin of txscope.Session; every method that talks to the daemon is a
    coroutine. begin() and begin_nested() return an AsyncTransaction to await or to use
    with `async with`."""

    def __init__(self, client: AsyncClient, ctx: str, db: str | None) -> None:
        self._client = client
        self.ctx = ctx
        self.db = db
        self.tx_state = "idle"
        self.tx_depth = 0
        self._scopes = 0  # session_scope / @transactional frames running on it (scope.py)
        # What CommitOutcomeUnknown.resolve() calls: the journal's answer for this ctx.
        self._ask_outcome = functools.partial(client._outcome, ctx)
        self._conn: _AsyncConnection | None = None

    async def _bind(self) -> _AsyncConnection:
        if self._conn is None:
            conn = await self._client._connection(self._client._slot_of(self.ctx))
            if self._conn is None:  # another task of this session may have bound it
                self._conn = conn
        elif self._conn.lost:
            raise self._conn.lost_error("the session's connection was lost, and its "
                                        "transaction with it")
        return self._conn

    async def _send(self, op: str,
                    fields: dict[str, Any] | None = None) -> tuple[dict[str, Any], bytes]:
        conn = await self._bind()
        request: dict[str, Any] = {"op": op, "ctx": self.ctx}
        if self.db is not None:
            request["db"] = self.db
        if fields:
            request.update(fields)
        reply, line = await conn.call(request, self._client.timeout)
        tx = reply.get("tx")
        if isinstance(tx, dict):
            self.tx_state = tx.get("state", self.tx_state)
            self.tx_depth = tx.get("depth", self.tx_depth)
        return reply, line

    async def _request(self, op: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        depth = self.tx_depth
        resolver = self._ask_outcome
        try:
            reply, _ = await self._send(op, fields)
        except errors.RequestTimeoutError as exc:
            unknown = _wire.commit_timeout(exc, op, fields, depth, resolver)
            if unknown is None:
                raise
            raise unknown from exc
        if not reply.get("ok"):
            raise _wire.error_from_reply(reply, resolver)
        return reply

    async def execute(self, sql: str, params: Sequence[Any] | None = None, *,
                      autocommit: bool = False) -> Result:
        return Result(await self._request("query",
                                          _wire.query_fields(sql, params, autocommit)))

    async def batch(self, statements: Sequence[Any], **tx_options: Any) -> list[Result]:
        reply = await self._request("batch", _wire.batch_fields(statements, tx_options))
        return [Result(r) for r in reply.get("results") or []]

    def begin(self, isolation: str | None = None, read_only: bool | None = None,
              deferrable: bool | None = None, *, nested: bool = False,
              join: bool = False) -> AsyncTransaction:
        return AsyncTransaction(self, _wire.begin_fields(isolation, read_only, deferrable,
                                                         nested, join))

    def begin_nested(self) -> AsyncTransaction:
        return self.begin(nested=True)

    async def commit(self) -> None:
        await self._request("commit")

    async def rollback(self) -> None:
        await self._request("rollback")

    async def savepoint(self, name: str) -> None:
        await self._request("savepoint", _wire.savepoint_name(name))

    async def release(self, name: str) -> None:
        await self._request("release", _wire.savepoint_name(name))

    async def rollback_to(self, name: str) -> None:
        await self._request("rollback_to", _wire.savepoint_name(name))

    async def status(self) -> dict[str, Any]:
        return (await self._request("status"))["tx"]

    async def outcome(self) -> str:
        return (await self._request("outcome"))["outcome"]

    async def close(self) -> None:
        """Ends the session (`end`); idempotent; a session never used, or whose
        connection was lost, is just forgotten."""
        conn = self._conn
        try:
            if conn is not None and not conn.lost:
                try:
                    await self._request("end")
                except errors.ConnectionLostError:
                    pass
        finally:
            self._conn = None
            self.tx_state, self.tx_depth = "idle", 0
            self._client._forget_scoped(self)

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "<txscope.AsyncSession ctx=%r %s depth=%d>" % (self.ctx, self.tx_state,
                                                              self.tx_depth)
