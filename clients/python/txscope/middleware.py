"""Per-request scope for web apps: what SQLAlchemy users write as a middleware that sets
the request-id ContextVar and calls `Session.remove()` when the response is done.

Each request gets its own context id (`req:` + its `X-Request-ID` when that makes a
valid context, else a uuid4) in `txscope.current_context` while the app runs, so `scoped()`,
`session_scope()` and `@transactional` find the request's session. When the request is
over - the app returned, raised, or (ASGI) was cancelled because the client went away -
the session that `scoped()` made for the request is ended (`end`): the daemon rolls back
whatever the handler left open and releases its connection. A request that never used
the database sends nothing.

Only the session of the middleware's client (or the configured default client) is ended;
a session an app opens itself with `client.session(...)` is its own to close.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import uuid
from typing import Any, Awaitable, Callable, Iterable, Iterator, MutableMapping

from . import scope as _scope
from .aio import AsyncClient
from .client import Client
from .scope import current_context

__all__ = ["ASGIMiddleware", "WSGIMiddleware", "context_from_header"]

log = logging.getLogger("txscope.middleware")

CTX_MAX = 128
# Contexts made from a request id get this prefix: the id is client input, and without it
# a request could name a session the app opened itself (`client.session("billing")`).
DEFAULT_PREFIX = "req:"

ASGIScope = MutableMapping[str, Any]
ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[ASGIScope, ASGIReceive, ASGISend], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _valid_context(value: str) -> bool:
    """The daemon's rule for a ctx: 1 to 128 printable ASCII characters."""
    return 1 <= len(value) <= CTX_MAX and all(" " <= ch <= "~" for ch in value)


def context_from_header(value: str | bytes | None, prefix: str = DEFAULT_PREFIX) -> str:
    """The request's context id: prefix + the header's value when that is a valid ctx,
    else a fresh uuid4 (a request id is client input; one the daemon would refuse must
    not fail the request)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            value = None
    if value and _valid_context(prefix + value):
        return prefix + value
    return str(uuid.uuid4())


class _InFlight:
    """The context ids of the requests running in this process.

    A request id comes from the client, so two requests at once may carry the same one
    (a retry, a proxy that reuses ids, or someone who wants to join another user's
    transaction). Sharing a ctx would mean sharing one daemon session, so the second
    request gets a uuid4 instead."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ctxs: set[str] = set()

    def claim(self, wanted: str | bytes | None, prefix: str) -> str:
        ctx = context_from_header(wanted, prefix)
        with self._lock:
            while ctx in self._ctxs:
                ctx = str(uuid.uuid4())
            self._ctxs.add(ctx)
        return ctx

    def release(self, ctx: str) -> None:
        with self._lock:
            self._ctxs.discard(ctx)


_in_flight = _InFlight()


def _client_of(client: Client | AsyncClient | None) -> Client | AsyncClient | None:
    """The middleware's client, else the one configure() set (looked up per request, so
    configure() may run after the app is built); None when there is neither, in which
    case the request cannot have made a scoped session."""
    return client if client is not None else _scope.default_client()


def _request_session(client: Client | AsyncClient | None, ctx: str) -> Any:
    """The session scoped() made for ctx on client and nobody closed yet (session_scope
    closes its own), or None."""
    if client is None:
        return None
    return _scope.scoped_session_of(client, ctx)


def _check_client(client: Any, kinds: tuple[type, ...], what: str) -> None:
    if client is not None and not isinstance(client, kinds):
        raise TypeError("%s takes %s, not %r"
                        % (what, " or ".join("a txscope." + k.__name__ for k in kinds), client))


# ---- ASGI --------------------------------------------------------------------------------

# Cleanups outlive a request task cancelled twice; held here so nothing collects them early.
_cleanups: set[asyncio.Task[None]] = set()


class ASGIMiddleware:
    """`app = ASGIMiddleware(app, client)`: each "http" and "websocket" request runs with
    its own `current_context`; its scoped session is ended when the app returns, raises
    or is cancelled (an ASGI server cancels the request's task when the client
    disconnects). The end is shielded from cancellation, so a second cancel cannot leave
    a transaction open. "lifespan" and other scopes pass through untouched.

    client: an AsyncClient (or a Client, whose blocking close runs in a thread, for apps
    whose sync handlers run in a thread pool); None means the configure()d client.
    header: the request-id header, any case.
    prefix: put before the request id to make the ctx ("req:"; "" for the raw id, only
    when the ids come from a proxy you trust and the app names no sessions itself).
    """

    def __init__(self, app: ASGIApp, client: Client | AsyncClient | None = None,
                 header: str = "x-request-id", prefix: str = DEFAULT_PREFIX) -> None:
        _check_client(client, (AsyncClient, Client), "ASGIMiddleware")
        self.app = app
        self.client = client
        self.header = header.lower().encode("latin-1")
        self.prefix = prefix

    def _header_value(self, scope: ASGIScope) -> bytes | None:
        for name, value in scope.get("headers") or ():
            if name.lower() == self.header:
                return value
        return None

    async def __call__(self, scope: ASGIScope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ctx = _in_flight.claim(self._header_value(scope), self.prefix)
        token = current_context.set(ctx)
        try:
            await self.app(scope, receive, send)
        finally:
            try:
                await self._end(ctx)
            finally:
                current_context.reset(token)

    async def _end(self, ctx: str) -> None:
        """Ends ctx's session in a task of its own, awaited through a shield: cancelling
        the request again stops the wait, not the end. The ctx stays claimed until the
        end is done, so no new request can pick up the session being ended."""
        session = _request_session(_client_of(self.client), ctx)
        if session is None:
            _in_flight.release(ctx)
            return
        cleanup = asyncio.ensure_future(_end_async(session))
        _cleanups.add(cleanup)

        def done(task: asyncio.Task[None]) -> None:
            _cleanups.discard(task)
            _in_flight.release(ctx)
        cleanup.add_done_callback(done)
        await asyncio.shield(cleanup)


async def _end_async(session: Any) -> None:
    """Ends the session; a failure is logged, never raised: the response is gone or an
    exception is already on its way, and the daemon forgets an idle session by itself
    (session_idle_timeout) and rolls back a forgotten transaction
    (idle_in_transaction_timeout)."""
    try:
        if inspect.iscoroutinefunction(session.close):
            await session.close()
        else:
            await asyncio.to_thread(session.close)
    except Exception:
        log.warning("could not end txscope session %s", session.ctx, exc_info=True)


# ---- WSGI --------------------------------------------------------------------------------

class WSGIMiddleware:
    """`app = WSGIMiddleware(app, client)`: each request runs with its own
    `current_context`; its scoped session is ended when the server closes the response
    iterable (PEP 3333: after the body is sent, or when sending failed), or at once if
    the app raises.

    The app's call, each step of its response iterable, and its close() run in a copy
    of the calling thread's context with current_context set, so a streaming response
    still sees its request's context while the server iterates it, and the server's
    thread is left as it was.

    client: a sync Client; None means the configure()d client.
    header: the WSGI environ key of the request-id header.
    prefix: as for ASGIMiddleware.
    """

    def __init__(self, app: WSGIApp, client: Client | None = None,
                 header: str = "HTTP_X_REQUEST_ID", prefix: str = DEFAULT_PREFIX) -> None:
        _check_client(client, (Client,), "WSGIMiddleware")
        self.app = app
        self.client = client
        self.header = header
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        ctx = _in_flight.claim(environ.get(self.header), self.prefix)
        context = contextvars.copy_context()
        context.run(current_context.set, ctx)
        response = _ClosingResponse(context, lambda: self._end(ctx))
        try:
            response.start(self.app, environ, start_response)
        except BaseException:
            response.close()
            raise
        return response

    def _end(self, ctx: str) -> None:
        try:
            client = _client_of(self.client)
            if isinstance(client, AsyncClient):
                log.error("WSGIMiddleware needs a sync txscope.Client; the configured "
                          "one is an AsyncClient, so session %s is not ended", ctx)
                return
            session = _request_session(client, ctx)
            if session is not None:
                session.close()
        except Exception:
            log.warning("could not end txscope session %s", ctx, exc_info=True)
        finally:
            _in_flight.release(ctx)


class _ClosingResponse:
    """The app's response iterable, run in the request's context, whose close() closes
    the app's iterable and then ends the request's session (once)."""

    def __init__(self, context: contextvars.Context, end: Callable[[], None]) -> None:
        self._context = context
        self._end = end
        self._app_iter: Iterable[bytes] | None = None
        self._iterator: Iterator[bytes] | None = None
        self._closed = False

    def start(self, app: WSGIApp, environ: dict[str, Any],
              start_response: Callable[..., Any]) -> None:
        self._app_iter = self._context.run(app, environ, start_response)
        self._iterator = self._context.run(iter, self._app_iter)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        assert self._iterator is not None
        return self._context.run(next, self._iterator)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._app_iter, "close", None)
            if close is not None:
                self._context.run(close)
        finally:
            self._end()
