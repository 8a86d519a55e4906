"""The request scope: SQLAlchemy's scoped_session pattern, keyed by a ContextVar.

`current_context` holds the request's context id (a middleware sets it per request);
`scoped()` is the registry lookup (`Session()` of a scoped_session), `session_scope()` the
familiar commit/rollback/close block, and `@transactional` the service-layer decorator
whose nested uses join one transaction, which commits once, at the outermost level.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from typing import Any, Callable, TypeVar, overload

from . import _wire, errors
from .aio import AsyncClient, AsyncSession
from .client import Client, Session

__all__ = ["current_context", "configure", "scoped", "session_scope", "transactional"]

current_context: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "txscope_current_context", default=None)

_default_client: Client | AsyncClient | None = None

# Bounds the loops that close levels one by one: only a daemon gone wrong would need more.
_MAX_LEVELS = 1000

F = TypeVar("F", bound=Callable[..., Any])


def configure(client: Client | AsyncClient | None) -> None:
    """Sets the client that scoped(), session_scope() and @transactional use when they
    are not given one (None unsets it)."""
    global _default_client
    if client is not None and not isinstance(client, (Client, AsyncClient)):
        raise errors.InterfaceError("configure() takes a txscope Client or AsyncClient")
    _default_client = client


def default_client() -> Client | AsyncClient | None:
    """The client configure() set, or None."""
    return _default_client


def scoped_session_of(client: Client | AsyncClient, ctx: str) -> Session | AsyncSession | None:
    """The session scoped() made for ctx on client and nobody has closed yet, or None: how
    a middleware tells whether its request used the database."""
    return client._scoped.get(ctx)


def _resolve(client: Client | AsyncClient | None) -> Client | AsyncClient:
    if client is None:
        client = _default_client
    if client is None:
        raise errors.InterfaceError("no txscope client: pass one, or call "
                                    "txscope.configure(client) at start-up")
    return client


def scoped(client: Client | AsyncClient | None = None) -> Session | AsyncSession:
    """The Session (AsyncSession for an AsyncClient) of the current context, the same
    object every time until it is closed. With no current context, a uuid4 one is made
    and set in the caller's context."""
    c = _resolve(client)
    ctx = current_context.get()
    if ctx is None:
        ctx = _wire.new_context()
        current_context.set(ctx)
    return c._scoped_session(_wire.check_context(ctx))


# ---- owning levels -----------------------------------------------------------------------
# A scope or a decorated function owns the levels above `entry`. Nested in another one
# (session._scopes > 0) that is the depth before its own begin: it joins. Outermost, it is
# 0: it owns the whole transaction, including one a statement autobegan before it (an
# auth check's SELECT, say), as SQLAlchemy's session_scope commits whatever the session
# did. On success it commits only levels still open above `entry` (the body may have
# closed its own already: one more commit would close the caller's); on failure it rolls
# them back, quietly: the caller must see the exception that caused the rollback, never
# one from the cleanup.

def _entry_depth(s: Session | AsyncSession) -> int:
    """What the frame about to begin owns above; call before its begin."""
    return s.tx_depth if s._scopes > 0 else 0


def _commit_levels(s: Session, entry: int) -> None:
    for _ in range(_MAX_LEVELS):
        if s.tx_depth <= entry or s.tx_state == "idle":
            return
        s.commit()  # in a failed or inactive session: raises 25P02, as it should


def _rollback_levels(s: Session, entry: int) -> None:
    for _ in range(_MAX_LEVELS):
        if s.tx_state == "idle" or s.tx_depth <= entry:
            return
        try:
            s.rollback()
        except errors.Error:
            return


async def _acommit_levels(s: AsyncSession, entry: int) -> None:
    for _ in range(_MAX_LEVELS):
        if s.tx_depth <= entry or s.tx_state == "idle":
            return
        await s.commit()


async def _arollback_levels(s: AsyncSession, entry: int) -> None:
    for _ in range(_MAX_LEVELS):
        if s.tx_state == "idle" or s.tx_depth <= entry:
            return
        try:
            await s.rollback()
        except errors.Error:
            return


# ---- session_scope -----------------------------------------------------------------------

class session_scope:
    """`with session_scope() as s:` (or `async with session_scope(aclient) as s:`).

    Uses the current context, or a fresh uuid4 one for the block. At entry it begins the
    scope's transaction (joining one already open in the context), so every statement of
    the block, and every @transactional function called in it, is one unit of work: on
    success it commits, on any exception it rolls back and re-raises, and it ends the
    session (close()) in every case. A scope entered inside another scope or a
    @transactional on the same session only joins it: its commit closes its own level,
    and the session is left to the outer frame. An outermost scope owns the whole
    transaction, also one a statement autobegan before it (an auth check's SELECT): it
    commits that work too, as SQLAlchemy's session_scope would.

    isolation, read_only, deferrable: options of the scope's transaction.
    """

    def __init__(self, client: Client | AsyncClient | None = None, *,
                 isolation: str | None = None, read_only: bool | None = None,
                 deferrable: bool | None = None) -> None:
        self._client_arg = client
        self._options = _wire.tx_option_fields(isolation, read_only, deferrable)
        self._token: contextvars.Token[str | None] | None = None
        self._session: Any = None
        self._entry = 0
        self._nested = False

    def _enter_context(self, want_async: bool) -> Client | AsyncClient:
        client = _resolve(self._client_arg)
        if isinstance(client, AsyncClient) != want_async:
            raise errors.InterfaceError(
                "session_scope with an AsyncClient is used with 'async with', with a "
                "Client with 'with'")
        if current_context.get() is None:
            self._token = current_context.set(_wire.new_context())
        return client

    def _reset_context(self) -> None:
        if self._token is not None:
            current_context.reset(self._token)
            self._token = None

    def __enter__(self) -> Session:
        client = self._enter_context(False)
        try:
            s = client._scoped_session(_wire.check_context(current_context.get()))
            self._session, self._entry, self._nested = s, _entry_depth(s), s._scopes > 0
            s.begin(join=True, **self._options)
        except BaseException:
            self._reset_context()
            raise
        s._scopes += 1
        return s

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        s: Session = self._session
        failed = exc_type is not None
        s._scopes -= 1
        try:
            if failed:
                _rollback_levels(s, self._entry)
            else:
                try:
                    _commit_levels(s, self._entry)
                except BaseException:
                    failed = True
                    _rollback_levels(s, self._entry)
                    raise
        finally:
            try:
                if self._nested:
                    pass  # the session belongs to the enclosing frame
                elif failed:
                    try:
                        s.close()
                    except errors.Error:
                        pass  # the exception under way is the one to see
                else:
                    s.close()
            finally:
                self._reset_context()
        return False

    async def __aenter__(self) -> AsyncSession:
        client = self._enter_context(True)
        try:
            s = client._scoped_session(_wire.check_context(current_context.get()))
            self._session, self._entry, self._nested = s, _entry_depth(s), s._scopes > 0
            await s.begin(join=True, **self._options)
        except BaseException:
            self._reset_context()
            raise
        s._scopes += 1
        return s

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        s: AsyncSession = self._session
        failed = exc_type is not None
        s._scopes -= 1
        try:
            if failed:
                await _arollback_levels(s, self._entry)
            else:
                try:
                    await _acommit_levels(s, self._entry)
                except BaseException:
                    failed = True
                    await _arollback_levels(s, self._entry)
                    raise
        finally:
            try:
                if self._nested:
                    pass
                elif failed:
                    try:
                        await s.close()
                    except errors.Error:
                        pass
                else:
                    await s.close()
            finally:
                self._reset_context()
        return False


# ---- transactional -----------------------------------------------------------------------

@overload
def transactional(func: F, /) -> F: ...
@overload
def transactional(client: Client | AsyncClient | None = None, /) -> Callable[[F], F]: ...


def transactional(arg: Any = None, /) -> Any:
    """`@transactional` or `@transactional(client)`, on a plain or an `async def`
    function: it runs in a transaction of the current context's session (scoped()),
    begun with join=True so that an enclosing transaction (another @transactional, a
    session_scope) is joined and only the outermost level commits. On an exception the
    transaction is rolled back (all of it: a joined level cannot undo only its part) and
    the original exception propagates.

    The function is not given the session: it calls scoped(). Called with no current
    context, the outermost call makes one for its duration and ends the session after,
    as a session_scope would.
    """
    if arg is None or isinstance(arg, (Client, AsyncClient)):
        return functools.partial(_decorate, client=arg)
    if callable(arg):
        return _decorate(arg, client=None)
    raise errors.InterfaceError("@transactional takes a function, or a Client / AsyncClient")


def _decorate(func: F, client: Client | AsyncClient | None) -> F:
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            token = None
            if current_context.get() is None:
                token = current_context.set(_wire.new_context())
            try:
                s = scoped(client)
                if not isinstance(s, AsyncSession):
                    raise errors.InterfaceError("an async @transactional needs an AsyncClient")
                entry = _entry_depth(s)
                await s.begin(join=True)
                s._scopes += 1
                try:
                    try:
                        result = await func(*args, **kwargs)
                    except BaseException:
                        await _arollback_levels(s, entry)
                        raise
                    try:
                        await _acommit_levels(s, entry)
                    except BaseException:
                        await _arollback_levels(s, entry)
                        raise
                finally:
                    s._scopes -= 1
                return result
            finally:
                if token is not None:
                    try:
                        await _close_quietly_async(client)
                    finally:
                        current_context.reset(token)
        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = None
        if current_context.get() is None:
            token = current_context.set(_wire.new_context())
        try:
            s = scoped(client)
            if not isinstance(s, Session):
                raise errors.InterfaceError("@transactional on a plain function needs a "
                                            "Client (use async def with an AsyncClient)")
            entry = _entry_depth(s)
            s.begin(join=True)
            s._scopes += 1
            try:
                try:
                    result = func(*args, **kwargs)
                except BaseException:
                    _rollback_levels(s, entry)
                    raise
                try:
                    _commit_levels(s, entry)
                except BaseException:
                    _rollback_levels(s, entry)
                    raise
            finally:
                s._scopes -= 1
            return result
        finally:
            if token is not None:
                try:
                    _close_quietly(client)
                finally:
                    current_context.reset(token)
    return wrapper  # type: ignore[return-value]


def _close_quietly(client: Client | AsyncClient | None) -> None:
    """Ends the session of the context a transactional call made for itself; a failure
    to do so must not replace the call's own result or exception (the daemon forgets an
    idle session by itself)."""
    try:
        scoped(client).close()  # type: ignore[union-attr]
    except errors.Error:
        pass


async def _close_quietly_async(client: Client | AsyncClient | None) -> None:
    try:
        await scoped(client).close()  # type: ignore[misc, union-attr]
    except errors.Error:
        pass
