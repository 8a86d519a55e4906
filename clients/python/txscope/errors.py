"""The exceptions of txscope: PEP 249's hierarchy, plus the states a transaction proxy adds.

Code written against a DB-API driver already catches `IntegrityError` or
`OperationalError`; keeping PEP 249's names and bases lets that code move to txscope
unchanged. Every exception raised for an error reply carries the reply's error object, so
nothing the daemon said is lost: `.sqlstate`, `.message`, `.detail`, `.hint`, `.source`,
`.error` (the whole object) and `.tx` (the session's state after the request).
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = [
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "FailedTransactionError", "InactiveTransactionError", "CommitOutcomeUnknown",
    "ConnectionLostError", "RequestTimeoutError", "CommitTimeoutError", "error_class",
]


class Warning(Exception):  # noqa: A001 - PEP 249 names it so
    """PEP 249's warning; txscope raises none, it exists for code that catches it."""


class Error(Exception):
    """Base of every txscope error. The attributes are None where the error did not come
    from a reply (a lost connection, a bad argument)."""

    def __init__(self, message: str = "", *, sqlstate: str | None = None,
                 detail: str | None = None, hint: str | None = None,
                 source: str | None = None, error: dict[str, Any] | None = None,
                 tx: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint
        self.source = source
        self.error = error
        self.tx = tx

    def __str__(self) -> str:
        if self.sqlstate:
            return "%s %s" % (self.sqlstate, self.message)
        return self.message

    def __reduce__(self):  # keyword-only attributes survive pickling (multiprocessing)
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type, message: str, state: dict[str, Any]) -> Error:
    exc = cls(message)
    exc.__dict__.update(state)
    return exc


class InterfaceError(Error):
    """A misuse of the client itself (a bad argument, a value JSON cannot carry, no
    client configured): nothing was sent."""


class DatabaseError(Error):
    """An error reported by the daemon or the database."""


class DataError(DatabaseError):
    """SQLSTATE class 22: a value out of range, invalid text for its type, ..."""


class OperationalError(DatabaseError):
    """Not the statement's fault: connections (08), resources (53), shutdown and cancels
    (57), system errors (58), serialization failures and deadlocks (40), authentication
    (28), timeouts (25P03)."""


class IntegrityError(DatabaseError):
    """SQLSTATE class 23: a constraint refused the change."""


class InternalError(DatabaseError):
    """Transaction state errors (class 25), internal errors (XX) and anything unmapped."""


class ProgrammingError(DatabaseError):
    """The statement is wrong: syntax or access (42), unknown database (3D), unknown
    savepoint (3B), unknown prepared statement (26), invalid cursor name (34)."""


class NotSupportedError(DatabaseError):
    """SQLSTATE class 0A, e.g. transaction control written as SQL (use the methods)."""


class FailedTransactionError(InternalError):
    """25P02: an earlier statement of the transaction failed; only rollback (or
    rollback_to a savepoint taken before the failure) goes on."""


class InactiveTransactionError(FailedTransactionError):
    """25P02 while the session is *inactive*: a joined level rolled the whole transaction
    back; every open level must roll back before the session can be used again."""


class CommitOutcomeUnknown(OperationalError):
    """08007: the backend connection was lost after COMMIT was sent, so nobody knows yet
    whether the transaction committed. Never treat it as either outcome: ask `resolve()`,
    which reads the daemon's outcome journal ("committed", "rolled_back", "unknown",
    "not_found"). For an AsyncClient, `await exc.resolve()`."""

    _resolver: Callable[[], Any] | None = None

    def resolve(self) -> Any:
        if self._resolver is None:
            raise InterfaceError("this CommitOutcomeUnknown is not tied to a client")
        return self._resolver()


class ConnectionLostError(OperationalError):
    """The client's connection to the daemon broke (or the daemon shut it). The daemon has
    ended every session that lived on it, rolling back open transactions, so their later
    requests raise this too instead of being re-sent on a new connection."""


class RequestTimeoutError(OperationalError, TimeoutError):
    """No reply within the client's `timeout`. The request may still run on the daemon:
    the session's state is unknown until the next reply (a timed-out commit may commit;
    `session.outcome()` waits for it and tells). Also a builtin TimeoutError."""


class CommitTimeoutError(CommitOutcomeUnknown, RequestTimeoutError):
    """No reply within the client's `timeout` to a request that commits (a `commit` of the
    outermost level, a `batch` that is its own transaction, an autocommit statement): it
    may have committed, so it is a CommitOutcomeUnknown, never a plain failure. `resolve()`
    asks the outcome journal, which waits for a commit still under way."""


# SQLSTATE class -> exception class, as PEP 249 and psycopg map them.
_BY_CLASS: dict[str, type[DatabaseError]] = {
    "22": DataError,
    "23": IntegrityError,
    "08": OperationalError, "28": OperationalError, "40": OperationalError,
    "53": OperationalError, "57": OperationalError, "58": OperationalError,
    "26": ProgrammingError, "34": ProgrammingError, "3B": ProgrammingError,
    "3D": ProgrammingError, "42": ProgrammingError,
    "0A": NotSupportedError,
    "25": InternalError,
}


def error_class(sqlstate: str | None, tx_state: str | None = None) -> type[DatabaseError]:
    """The exception class for an error reply's SQLSTATE (and the reply's tx state, which
    tells a failed session from an inactive one)."""
    code = (sqlstate or "").upper()
    if code == "08007":
        return CommitOutcomeUnknown
    if code == "25P02":
        return InactiveTransactionError if tx_state == "inactive" else FailedTransactionError
    if code == "25P03":
        return OperationalError
    if code.startswith("HY"):
        return OperationalError
    return _BY_CLASS.get(code[:2], InternalError)
