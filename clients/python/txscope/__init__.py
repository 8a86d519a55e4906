"""txscope: the Python client of the txscoped transaction proxy.

SQLAlchemy's request-scoped session pattern (scoped_session keyed by a request id,
session_scope(), @transactional, a middleware that removes the session) over txscope's
JSON protocol, with the daemon's guarantee that whatever a request leaves open is rolled
back and released. Standard library only; see README.md.
"""

from ._wire import Result
from .aio import AsyncClient, AsyncSession
from .client import Client, Session
from .errors import (
    CommitOutcomeUnknown, CommitTimeoutError, ConnectionLostError, DatabaseError, DataError, Error,
    FailedTransactionError, InactiveTransactionError, IntegrityError, InterfaceError,
    InternalError, NotSupportedError, OperationalError, ProgrammingError, RequestTimeoutError,
    Warning,
)
from .middleware import ASGIMiddleware, WSGIMiddleware
from .scope import configure, current_context, scoped, session_scope, transactional

__version__ = "0.1.0"

__all__ = [
    "Client", "AsyncClient", "Session", "AsyncSession", "Result",
    "current_context", "configure", "scoped", "session_scope", "transactional",
    "ASGIMiddleware", "WSGIMiddleware",
    "Error", "Warning", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "InactiveTransactionError", "FailedTransactionError", "CommitOutcomeUnknown",
    "ConnectionLostError", "RequestTimeoutError", "CommitTimeoutError",
]
