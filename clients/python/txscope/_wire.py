"""What the sync and async clients share: addresses, request lines, replies and results.

Kept free of sockets and threads, so both transports build the same requests and read
replies the same way (docs/protocol.md, /work/shared/protocol-v1.md).
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
import zlib
from typing import Any, Callable, Iterator, Mapping, Sequence

from . import errors

VERSION = "0.1.0"
DEFAULT_PORT = 7432
DEFAULT_ADDRESS = "127.0.0.1:%d" % DEFAULT_PORT
ISOLATION_LEVELS = ("read committed", "repeatable read", "serializable", "read uncommitted")


# ---- addresses ---------------------------------------------------------------------------

def parse_address(address: str) -> tuple[str, str | int]:
    """("unix", path), or (host, port) for TCP. The C CLI's forms: "host:port",
    "[v6addr]:port", "host" (port 7432) and "/unix/socket/path"."""
    if not isinstance(address, str) or not address:
        raise errors.InterfaceError("address must be a non-empty string")
    if address.startswith("/"):
        return ("unix", address)
    host, port = address, str(DEFAULT_PORT)
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise errors.InterfaceError("address %r: no closing ]" % address)
        host, rest = address[1:end], address[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise errors.InterfaceError("address %r: expected :port after ]" % address)
            port = rest[1:]
    elif address.count(":") == 1:
        host, port = address.split(":")
    elif ":" in address:
        raise errors.InterfaceError("address %r: write an IPv6 address as [addr]:port"
                                    % address)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.InterfaceError("address %r: expected host:port" % address)
    return (host, int(port))


def is_unix(parsed: tuple[str, str | int]) -> bool:
    return parsed[0] == "unix" and isinstance(parsed[1], str)


# ---- requests ----------------------------------------------------------------------------

def new_context() -> str:
    return str(uuid.uuid4())


def check_context(ctx: Any) -> str:
    """A ctx is 1 to 128 printable ASCII characters (protocol-v1.md, section 2)."""
    if not isinstance(ctx, str) or not 1 <= len(ctx) <= 128 or \
            any(not " " <= ch <= "~" for ch in ctx):
        raise errors.InterfaceError("a context is 1 to 128 printable ASCII characters, "
                                    "not %r" % (ctx,))
    return ctx


def _json_default(value: Any) -> Any:
    """Parameters JSON has no type for, sent as the text PostgreSQL reads them from:
    every parameter reaches the database as text anyway."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError("%s is not a parameter type (use str, int, float, bool, None, list, "
                    "dict, Decimal, datetime or UUID)" % type(value).__name__)


def encode(request: Mapping[str, Any]) -> bytes:
    """One request as one compact JSON line. NaN is refused (not JSON), and so is text
    that is not valid Unicode (a lone surrogate), before anything is sent."""
    try:
        text = json.dumps(request, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False, default=_json_default)
        return text.encode("utf-8") + b"\n"
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise errors.InterfaceError("cannot send this request: %s" % exc) from None


def _params(params: Sequence[Any] | None) -> list[Any] | None:
    if params is None:
        return None
    if isinstance(params, (str, bytes, Mapping)) or not isinstance(params, Sequence):
        raise errors.InterfaceError("params must be a list or tuple of values for $1, $2, "
                                    "... (or ? on MySQL), not %s" % type(params).__name__)
    return list(params)


def query_fields(sql: str, params: Sequence[Any] | None, autocommit: bool) -> dict[str, Any]:
    if not isinstance(sql, str):
        raise errors.InterfaceError("sql must be a str")
    fields: dict[str, Any] = {"sql": sql}
    p = _params(params)
    if p is not None:
        fields["params"] = p
    if autocommit:
        fields["autocommit"] = True
    return fields


def tx_option_fields(isolation: str | None = None, read_only: bool | None = None,
                     deferrable: bool | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if isolation is not None:
        if not isinstance(isolation, str) or isolation.lower() not in ISOLATION_LEVELS:
            raise errors.InterfaceError("isolation must be one of %s" % ", ".join(ISOLATION_LEVELS))
        fields["isolation"] = isolation.lower()
    if read_only is not None:
        fields["read_only"] = bool(read_only)
    if deferrable is not None:
        fields["deferrable"] = bool(deferrable)
    return fields


def begin_fields(isolation: str | None, read_only: bool | None, deferrable: bool | None,
                 nested: bool, join: bool) -> dict[str, Any]:
    fields = tx_option_fields(isolation, read_only, deferrable)
    if nested and join:
        raise errors.InterfaceError("begin cannot be both nested and join")
    if nested:
        fields["nested"] = True
    if join:
        fields["join"] = True
    return fields


def batch_fields(statements: Sequence[Any], tx_options: Mapping[str, Any]) -> dict[str, Any]:
    """statements: str, (sql, params) or {"sql": ..., "params": ...} each."""
    unknown = set(tx_options) - {"isolation", "read_only", "deferrable"}
    if unknown:
        raise errors.InterfaceError("batch takes isolation, read_only and deferrable, "
                                    "not %s" % ", ".join(sorted(unknown)))
    out = []
    for st in statements:
        if isinstance(st, str):
            out.append(query_fields(st, None, False))
        elif isinstance(st, tuple) and len(st) == 2:
            out.append(query_fields(st[0], st[1], False))
        elif isinstance(st, Mapping) and "sql" in st:
            out.append(query_fields(st["sql"], st.get("params"), False))
        else:
            raise errors.InterfaceError("a batch statement is a str, a (sql, params) tuple "
                                        "or a {'sql':..., 'params':...} dict, not %r" % (st,))
    fields: dict[str, Any] = {"statements": out}
    fields.update(tx_option_fields(**tx_options))
    return fields


def savepoint_name(name: str) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise errors.InterfaceError("a savepoint name is a non-empty str")
    return {"name": name}


# ---- replies -----------------------------------------------------------------------------

def decode(line: bytes) -> dict[str, Any]:
    """One reply line as a dict; ValueError when it is not a JSON object."""
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise ValueError("reply is not a JSON object")
    return reply


class Result:
    """One statement's result, with values as the protocol gives them: integers and
    floats as numbers, `numeric` as str (scale kept), booleans, `json`/`jsonb` already
    decoded, `bytea` as a base64 str, everything else (dates, timestamps in UTC ISO form,
    uuids, ...) as the backend's text. Nothing is converted further: the caller knows
    its types better than a guess from the field's type name would."""

    __slots__ = ("rows", "fields", "rowcount", "last_insert_id", "command")

    def __init__(self, reply: Mapping[str, Any]) -> None:
        self.rows: list[list[Any]] = list(reply.get("rows") or [])
        self.fields: list[dict[str, str]] = list(reply.get("fields") or [])
        self.rowcount: int = reply.get("rowCount", -1)
        self.last_insert_id: int | None = reply.get("lastInsertId")
        self.command: str | None = reply.get("command")

    def scalar(self) -> Any:
        """The first column of the first row; None when there is no row."""
        if not self.rows or not self.rows[0]:
            return None
        return self.rows[0][0]

    def mappings(self) -> list[dict[str, Any]]:
        """The rows as dicts, field name -> value (a later same-named column wins)."""
        names = [f.get("name") for f in self.fields]
        return [dict(zip(names, row)) for row in self.rows]

    def __iter__(self) -> Iterator[list[Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return "<Result %s rowcount=%s rows=%d>" % (self.command, self.rowcount, len(self.rows))


def error_from_reply(reply: Mapping[str, Any],
                     resolver: Callable[[], Any] | None = None) -> errors.DatabaseError:
    """The exception for a failed reply, carrying the whole error object and the tx; a
    CommitOutcomeUnknown gets resolver (the session's outcome question) for resolve()."""
    err = reply.get("error")
    if not isinstance(err, dict):
        err = {"code": "XX000", "message": "the daemon sent a failed reply without an error"}
    tx = reply.get("tx") if isinstance(reply.get("tx"), dict) else None
    code = err.get("code")
    cls = errors.error_class(code, tx.get("state") if tx else None)
    exc = cls(str(err.get("message", "")), sqlstate=code, detail=err.get("detail"),
              hint=err.get("hint"), source=err.get("source"), error=dict(err), tx=tx)
    if isinstance(exc, errors.CommitOutcomeUnknown):
        exc._resolver = resolver
    return exc


def lost_error(message: str, reply: Mapping[str, Any] | None = None) -> errors.ConnectionLostError:
    """A ConnectionLostError, carrying the daemon's last word (e.g. 57P01) when there was
    one."""
    if reply is None or not isinstance(reply.get("error"), dict):
        return errors.ConnectionLostError(message)
    err = reply["error"]
    return errors.ConnectionLostError(
        "%s: %s" % (message, err.get("message", "")), sqlstate=err.get("code"),
        detail=err.get("detail"), hint=err.get("hint"), source=err.get("source"),
        error=dict(err))


def _may_commit(op: str, fields: Mapping[str, Any] | None, tx_depth: int) -> bool:
    """Does this request commit when it succeeds? Then a timeout leaves its outcome
    unknown: a commit of the outermost level, a batch that is its own transaction, an
    autocommit statement."""
    if op == "commit":
        return tx_depth <= 1
    if op == "batch":
        return tx_depth == 0
    return op == "query" and bool(fields and fields.get("autocommit"))


def commit_timeout(exc: errors.RequestTimeoutError, op: str, fields: Mapping[str, Any] | None,
                   tx_depth: int, resolver: Callable[[], Any]) -> errors.CommitTimeoutError | None:
    """A session request's timeout as its caller must see it: a CommitTimeoutError tied
    to resolver when the request may have committed (tx_depth as it was before sending),
    else None (the plain RequestTimeoutError stands)."""
    if not _may_commit(op, fields, tx_depth):
        return None
    unknown = errors.CommitTimeoutError(exc.message + "; it may have committed: resolve() tells")
    unknown._resolver = resolver
    return unknown


class ClientSettings:
    """What Client and AsyncClient share: their arguments, checked, and the choice of the
    connection a context is pinned to."""

    def __init__(self, address: str, token: str | None, connections: int,
                 timeout: float | None, db: str | None) -> None:
        if not isinstance(connections, int) or connections < 1:
            raise errors.InterfaceError("connections must be a positive int")
        self.address = address
        self._address = parse_address(address)
        self._token = token
        self.timeout = timeout
        self._connect_timeout = timeout
        self.db = db
        self._nconnections = connections

    def _slot_of(self, ctx: str) -> int:
        """A stable hash (not hash(), which differs per process) picks the connection: the
        daemon keeps a session on the connection that created it."""
        return zlib.crc32(ctx.encode("ascii")) % self._nconnections


def hello_request(token: str | None) -> dict[str, Any]:
    """The first request of every connection: the daemon's client_login_timeout closes a
    connection that stays silent, and with tokens configured it must be hello."""
    if token is None:
        return {"op": "ping"}
    return {"op": "hello", "token": token, "client": "txscope-python/" + VERSION}
