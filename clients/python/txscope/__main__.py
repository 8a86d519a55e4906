"""python3 -m txscope: a small REPL and one-shot runner, like the C CLI (docs/cli.md).

    python3 -m txscope [-a ADDRESS] [-t TOKEN] [-c CTX] [--db NAME] -e SQL [-e SQL ...]
    python3 -m txscope [-a ADDRESS] [-t TOKEN] [-c CTX] [--db NAME] [-i]   (stdin)
    python3 -m txscope ping [-a ADDRESS] [-t TOKEN]

It follows the C CLI's rules so the two can be swapped in scripts: a statement ends at a
`;` outside quotes and comments (a script's last one may lack it); transaction control
(`begin`, `commit`, `rollback`, `savepoint x`, `release x`, `rollback to x`) is sent as the
protocol's operations and needs no `;` when typed alone on a line; `-e` statements run in
one transaction committed at the end; meta commands `\\begin`, `\\commit`, `\\rollback`,
`\\status`, `\\end`, `\\ctx`, `\\json`, `\\r`, `\\q`, `\\?`. Exit status 0, 1 when a statement
failed, 2 for a usage error, a failed connect or a lost connection.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TextIO

from . import _wire, errors
from .client import Client, Session

EXIT_OK, EXIT_FAILED, EXIT_LOST = 0, 1, 2

# ---- statement splitting (the C CLI's input.c) -------------------------------------------


def _ident_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or ord(ch) >= 0x80


def _dollar_tag(text: str, i: int) -> str | None:
    """The $tag$ (or $$) starting at text[i], or None."""
    j = i + 1
    if j < len(text) and text[j] != "$":
        if not (text[j].isalpha() or text[j] == "_" or ord(text[j]) >= 0x80):
            return None
        while j < len(text) and _ident_char(text[j]):
            j += 1
    if j < len(text) and text[j] == "$":
        return text[i:j + 1]
    return None


class StatementSplitter:
    """Accumulates lines and cuts them into statements at each `;` outside quotes
    ('...', E'...', "...", $tag$...$tag$) and comments; `--` comments are dropped, /* */
    comments kept, the `;` is not part of the statement."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._buf: list[str] = []
        self._done: list[str] = []
        self._state = "normal"  # squote, esquote, dquote, dollar, comment
        self._tag = ""
        self._depth = 0
        self._content = False

    @property
    def in_quote(self) -> bool:
        return self._state != "normal"

    @property
    def pending(self) -> bool:
        return self._content or self._state != "normal"

    def _take(self) -> str:
        stmt = "".join(self._buf).strip()
        self._buf, self._content = [], False
        return stmt

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            nxt = line[i + 1] if i + 1 < n else ""
            st = self._state
            if st == "normal":
                if ch == "-" and nxt == "-":
                    break
                if ch == ";":
                    stmt = self._take()
                    if stmt:
                        self._done.append(stmt)
                    i += 1
                    continue
                if ch == "/" and nxt == "*":
                    self._state, self._depth = "comment", 1
                    self._buf.append("/*")
                    i += 2
                    continue
                if ch == "$" and (i == 0 or not _ident_char(line[i - 1])):
                    tag = _dollar_tag(line, i)
                    if tag:
                        self._state, self._tag, self._content = "dollar", tag, True
                        self._buf.append(tag)
                        i += len(tag)
                        continue
                if ch == "'":
                    e = i > 0 and line[i - 1] in "Ee" and (i == 1 or not _ident_char(line[i - 2]))
                    self._state = "esquote" if e else "squote"
                elif ch == '"':
                    self._state = "dquote"
                if not ch.isspace():
                    self._content = True
                self._buf.append(ch)
                i += 1
            elif st in ("squote", "esquote"):
                self._buf.append(ch)
                if ch == "\\" and st == "esquote" and nxt:
                    self._buf.append(nxt)
                    i += 1
                elif ch == "'" and nxt == "'":
                    self._buf.append(nxt)
                    i += 1
                elif ch == "'":
                    self._state = "normal"
                i += 1
            elif st == "dquote":
                self._buf.append(ch)
                if ch == '"':
                    self._state = "normal"
                i += 1
            elif st == "dollar":
                if line.startswith(self._tag, i):
                    self._buf.append(self._tag)
                    i += len(self._tag)
                    self._state = "normal"
                else:
                    self._buf.append(ch)
                    i += 1
            else:  # a (nestable) block comment
                if (ch == "*" and nxt == "/") or (ch == "/" and nxt == "*"):
                    self._depth += 1 if ch == "/" else -1
                    self._buf.append(ch + nxt)
                    i += 2
                    if self._depth == 0:
                        self._state = "normal"
                else:
                    self._buf.append(ch)
                    i += 1
        if self.pending:
            self._buf.append("\n")
        else:
            self._take()  # only blanks or comments

    def statements(self) -> Iterator[str]:
        while self._done:
            yield self._done.pop(0)

    def flush(self) -> str | None:
        """The unfinished statement (at end of input), or None."""
        had = self._content
        self._state = "normal"
        stmt = self._take()
        return stmt if had and stmt else None


# ---- commands ----------------------------------------------------------------------------

@dataclass
class Command:
    kind: str  # sql, begin, commit, rollback, savepoint, release, rollback_to, status,
    #            end, ctx, json, quit, help, reset, bad
    fields: dict[str, Any] = field(default_factory=dict)
    arg: str = ""
    error: str = ""


def _words(text: str) -> list[tuple[str, bool]] | None:
    """Words split at blanks and commas: (word, quoted); None for an open quote."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while True:
        while i < n and (text[i].isspace() or text[i] == ","):
            i += 1
        if i == n:
            return out
        if text[i] == '"':
            word, i = [], i + 1
            while True:
                if i >= n:
                    return None
                if text[i] == '"' and (i + 1 >= n or text[i + 1] != '"'):
                    break
                if text[i] == '"':
                    i += 1
                word.append(text[i])
                i += 1
            out.append(("".join(word), True))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] != ",":
                j += 1
            out.append((text[i:j], False))
            i = j


def _is(words: list[tuple[str, bool]], i: int, kw: str) -> bool:
    return i < len(words) and not words[i][1] and words[i][0].lower() == kw


def parse_begin(words: list[tuple[str, bool]], i: int) -> Command:
    """begin options: [isolation level] LEVEL, read only|read write, [not] deferrable,
    nested, join."""
    f: dict[str, Any] = {}
    while i < len(words):
        level = False
        if _is(words, i, "isolation"):
            if not _is(words, i + 1, "level"):
                return Command("bad", error='"isolation" must be followed by "level"')
            i, level = i + 2, True
        if _is(words, i, "serializable"):
            f["isolation"], i = "serializable", i + 1
        elif _is(words, i, "repeatable") and _is(words, i + 1, "read"):
            f["isolation"], i = "repeatable read", i + 2
        elif _is(words, i, "read") and _is(words, i + 1, "committed"):
            f["isolation"], i = "read committed", i + 2
        elif _is(words, i, "read") and _is(words, i + 1, "uncommitted"):
            f["isolation"], i = "read uncommitted", i + 2
        elif level:
            return Command("bad", error="isolation level must be read committed, repeatable "
                                        "read, serializable or read uncommitted")
        elif _is(words, i, "read") and _is(words, i + 1, "only"):
            f["read_only"], i = True, i + 2
        elif _is(words, i, "read") and _is(words, i + 1, "write"):
            f["read_only"], i = False, i + 2
        elif _is(words, i, "deferrable"):
            f["deferrable"], i = True, i + 1
        elif _is(words, i, "not") and _is(words, i + 1, "deferrable"):
            f["deferrable"], i = False, i + 2
        elif _is(words, i, "nested"):
            f["nested"], i = True, i + 1
        elif _is(words, i, "join"):
            f["join"], i = True, i + 1
        else:
            return Command("bad", error='unknown begin option "%s"' % words[i][0][:60])
    if f.get("nested") and f.get("join"):
        return Command("bad", error="begin cannot be both nested and join")
    return Command("begin", fields=f)


def _name(word: tuple[str, bool]) -> str:
    """A savepoint name as PostgreSQL reads it: unquoted names fold to lower case."""
    return word[0] if word[1] else word[0].lower()


def parse_statement(stmt: str) -> Command:
    """Transaction control becomes its operation; anything else is SQL."""
    text = stmt.rstrip()
    if text.endswith(";"):
        text = text[:-1]
    sql = Command("sql", arg=stmt)
    if ";" in text or len(text) > 1024:
        return sql
    w = _words(text)
    if not w:
        return sql
    i = 1
    skip_tx = lambda j: j + 1 if _is(w, j, "transaction") or _is(w, j, "work") else j  # noqa: E731
    if _is(w, 0, "begin") or (_is(w, 0, "start") and _is(w, 1, "transaction")):
        return parse_begin(w, skip_tx(1) if _is(w, 0, "begin") else 2)
    if _is(w, 0, "commit"):
        return Command("commit") if skip_tx(1) == len(w) else sql
    if _is(w, 0, "rollback") or _is(w, 0, "abort"):
        i = skip_tx(1)
        if i == len(w):
            return Command("rollback")
        if _is(w, 0, "rollback") and _is(w, i, "to"):
            i += 1
            if _is(w, i, "savepoint"):
                i += 1
            if i + 1 == len(w):
                return Command("rollback_to", arg=_name(w[i]))
        return sql
    if _is(w, 0, "savepoint") and len(w) == 2:
        return Command("savepoint", arg=_name(w[1]))
    if _is(w, 0, "release"):
        if _is(w, 1, "savepoint") and len(w) == 3:
            i = 2
        if i + 1 == len(w):
            return Command("release", arg=_name(w[i]))
    return sql


def is_meta(line: str) -> bool:
    return line.lstrip().startswith("\\")


_PLAIN_META = {"commit": "commit", "rollback": "rollback", "status": "status", "end": "end",
               "json": "json", "q": "quit", "quit": "quit", "?": "help", "help": "help",
               "r": "reset"}


def parse_meta(line: str) -> Command:
    body = line.strip()[1:]
    name, _, args = body.partition(" ")
    name, args = name.strip(), args.strip()
    if name == "begin":
        w = _words(args)
        return parse_begin(w, 0) if w is not None else Command("bad", error="cannot parse "
                                                                             "begin options")
    if name == "ctx":
        if len(args) > 128 or any(not " " <= ch <= "~" for ch in args):
            return Command("bad", error="a context name is 1 to 128 printable ASCII characters")
        return Command("ctx", arg=args)
    if name in _PLAIN_META:
        if args:
            return Command("bad", error="\\%s takes no argument" % name)
        return Command(_PLAIN_META[name])
    return Command("bad", error="unknown command \\%s (\\? lists them)" % name[:40])


HELP = """\
Statements end with ';'; they run in the current context, which begins a transaction by
itself (commit; to keep the work).
  begin [options];  commit;  rollback;     transaction control, sent as ops
  savepoint NAME;  release NAME;  rollback to NAME;
  \\begin [isolation level LEVEL] [read only|read write] [[not] deferrable] [nested|join]
  \\commit  \\rollback                        end the innermost level
  \\status                                   show the transaction state
  \\end                                      end the session (rolls back)
  \\ctx [NAME]                               switch to context NAME (or show it)
  \\json                                     toggle raw JSON output
  \\r                                        forget the unfinished statement
  \\q                                        quit (ends every session)
  \\?                                        this help
"""

# ---- output (the C CLI's format.c, simplified) -------------------------------------------

_NUMERIC_TYPES = {"int2", "int4", "int8", "float4", "float8", "numeric", "oid", "smallint",
                  "integer", "int", "bigint", "tinyint", "mediumint", "decimal", "float",
                  "double", "real", "year", "money"}
_TAGS_WITH_COUNT = {"INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "COPY", "FETCH", "MOVE"}
_OP_TAGS = {"begin": "BEGIN", "commit": "COMMIT", "rollback": "ROLLBACK",
            "rollback_to": "ROLLBACK", "savepoint": "SAVEPOINT", "release": "RELEASE",
            "end": "END"}


def value_text(v: Any) -> str:
    if v is None:
        return ""
    if v is True or v is False:
        return "t" if v else "f"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def format_table(fields: list[dict[str, Any]], rows: list[list[Any]]) -> str:
    """A psql-like aligned table: names centred, numbers right-aligned, NULL empty, a
    value over several lines marked with '+'; then (N rows) and a blank line."""
    nrows = len(rows)
    footer = "(%d row%s)\n\n" % (nrows, "" if nrows == 1 else "s")
    if not fields:
        return "--\n" + footer
    names = [str(f.get("name", "?column?")) for f in fields]
    cells = [[value_text(row[j] if j < len(row) else None).split("\n")
              for j in range(len(names))] for row in rows]
    widths = [max([len(n)] + [len(line) for r in cells for line in r[j]])
              for j, n in enumerate(names)]
    right = []
    for j, f in enumerate(fields):
        values = [row[j] for row in rows if j < len(row) and row[j] is not None]
        numbers = bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                       for v in values)
        right.append(str(f.get("type", "")).lower() in _NUMERIC_TYPES or
                     (str(f.get("type", "")) not in ("text", "varchar") and numbers))
    out = []
    head = []
    for n, w in zip(names, widths):
        pad = w - len(n)
        head.append(" " + " " * (pad // 2) + n + " " * (pad - pad // 2) + " ")
    out.append("|".join(head).rstrip())
    out.append("+".join("-" * (w + 2) for w in widths))
    for r in cells:
        for k in range(max(len(c) for c in r)):
            parts = []
            for j, c in enumerate(r):
                text = c[k] if k < len(c) else ""
                text = text.rjust(widths[j]) if right[j] else text.ljust(widths[j])
                parts.append(" " + text + ("+" if k + 1 < len(c) else " "))
            out.append("|".join(parts).rstrip())
    return "\n".join(out) + "\n" + footer


def format_result(reply: dict[str, Any]) -> str:
    text = ""
    command = reply.get("command") or ""
    if reply.get("fields"):
        text = format_table(reply["fields"], reply.get("rows") or [])
        if command == "SELECT":
            return text
    if command:
        tag = command
        if command in _TAGS_WITH_COUNT and "rowCount" in reply:
            tag += " %s" % reply["rowCount"]
        if reply.get("lastInsertId") is not None:
            tag += " (last insert id %s)" % reply["lastInsertId"]
        text += tag + "\n"
    return text


def format_error(reply: dict[str, Any]) -> str:
    err = reply.get("error") if isinstance(reply.get("error"), dict) else {}
    lines = ["ERROR:  %s %s" % (err.get("code", "?????"), err.get("message", ""))]
    for key, label in (("detail", "DETAIL"), ("hint", "HINT")):
        if err.get(key):
            lines.append("%s:  %s" % (label, err[key]))
    return "\n".join(lines) + "\n"


# ---- running commands --------------------------------------------------------------------

class Lost(Exception):
    """The connection to the daemon broke: stop, exit 2."""


@dataclass
class Context:
    session: Session
    live: bool = False  # the daemon may hold a session for it

    @property
    def tx_open(self) -> bool:
        return self.live and self.session.tx_state != "idle"


class Runner:
    """Runs commands in named contexts on one connection and prints their replies."""

    def __init__(self, client: Client, ctx: str, db: str | None, json_out: bool,
                 out: TextIO, err: TextIO) -> None:
        self.client, self.db, self.json = client, db, json_out
        self.out, self.err = out, err
        self.contexts: dict[str, Context] = {}
        self.current = ctx
        self.use(ctx)
        self.failed = False

    def use(self, name: str) -> None:
        if name not in self.contexts:
            self.contexts[name] = Context(self.client.session(name, self.db))
        self.current = name

    def _print_err(self, text: str) -> None:
        self.out.flush()
        self.err.write(text)
        self.err.flush()

    def run(self, name: str, cmd: Command, show: str = "all") -> bool:
        """Sends one request; show: "all", "errors" (the final commits of -e) or "none"
        (clean-up). Returns whether it succeeded; raises Lost."""
        ctx = self.contexts[name]
        fields: dict[str, Any] = dict(cmd.fields)
        op = "query" if cmd.kind == "sql" else cmd.kind
        if cmd.kind == "sql":
            fields["sql"] = cmd.arg
        elif cmd.kind in ("savepoint", "release", "rollback_to"):
            fields["name"] = cmd.arg
        try:
            reply, line = ctx.session._send(op, fields)
        except errors.ConnectionLostError as exc:
            self._print_err("txscope: %s\n" % exc)
            raise Lost() from None
        except errors.InterfaceError as exc:
            self._print_err("txscope: %s\n" % exc)
            self.failed = True
            return False
        ok = bool(reply.get("ok"))
        ctx.live = not (ok and op == "end")
        if self.json:
            self.out.write(line.decode("utf-8", "replace").rstrip("\r\n") + "\n")
        elif not ok and show != "none":
            self._print_err(format_error(reply))
        elif ok and show == "all":
            if op == "query":
                self.out.write(format_result(reply))
            elif op == "status":
                s = ctx.session
                self.out.write("%s: %s (depth %d)\n" % (name, s.tx_state, s.tx_depth))
            else:
                self.out.write(_OP_TAGS[op] + "\n")
        if not ok and show != "none":
            self.failed = True
        return ok

    def execute(self, cmd: Command) -> bool:
        """A parsed command in the current context; False when it failed."""
        if cmd.kind == "ctx":
            if cmd.arg:
                self.use(cmd.arg)
            else:
                self.out.write(self.current + "\n")
            return True
        if cmd.kind == "json":
            self.json = not self.json
            self.out.write("JSON output is %s.\n" % ("on" if self.json else "off"))
            return True
        if cmd.kind == "help":
            self.out.write(HELP)
            return True
        if cmd.kind in ("quit", "reset"):
            return True
        if cmd.kind == "bad":
            self._print_err("txscope: %s\n" % cmd.error)
            self.failed = True
            return False
        return self.run(self.current, cmd)

    def commit_all(self) -> bool:
        for name, ctx in self.contexts.items():
            for _ in range(1000):  # one commit per level
                if not ctx.tx_open:
                    break
                if not self.run(name, Command("commit"), show="errors"):
                    return False
        return True

    def rollback_all(self) -> None:
        for name, ctx in self.contexts.items():
            if ctx.tx_open:
                self.run(name, Command("rollback"), show="none")

    def end_all(self, warn: bool) -> None:
        for name, ctx in self.contexts.items():
            if not ctx.live:
                continue
            if warn and ctx.tx_open:
                self._print_err("WARNING:  context %s: its %s transaction is rolled back\n"
                                % (name, ctx.session.tx_state))
            self.run(name, Command("end"), show="none")

    def prompt(self, continuation: bool) -> str:
        if continuation:
            return "-> "
        state = self.contexts[self.current].session.tx_state
        mark = {"open": "*", "failed": "!", "inactive": "!"}.get(state, "")
        return "txscope:%s%s> " % (self.current, mark)


def run_text(runner: Runner, text: str) -> tuple[bool, bool]:
    """One -e text: a meta command, or statements (the last needs no ';').
    Returns (ok, quit)."""
    if is_meta(text):
        cmd = parse_meta(text)
        return runner.execute(cmd), cmd.kind == "quit"
    splitter = StatementSplitter()
    for line in text.split("\n"):
        splitter.feed(line)
    stmts = list(splitter.statements())
    last = splitter.flush()
    if last:
        stmts.append(last)
    for stmt in stmts:
        if not runner.execute(parse_statement(stmt)):
            return False, False
    return True, False


def run_one_shot(runner: Runner, texts: list[str]) -> int:
    """-e: everything in one transaction; commit at the end, or roll back at the first
    failure; then end the context."""
    ok, quit_ = True, False
    for text in texts:
        ok, quit_ = run_text(runner, text)
        if not ok or quit_:
            break
    if ok:
        ok = runner.commit_all()
    if not ok:
        runner.rollback_all()
    runner.end_all(warn=False)
    return EXIT_OK if ok else EXIT_FAILED


def run_lines(runner: Runner, read_line: Callable[[str], str | None], interactive: bool) -> int:
    """Statements read line by line: a terminal's (read_line shows the prompt) or a
    script's, which goes on after a failure, as psql does, and exits 1 at the end."""
    splitter = StatementSplitter()
    quit_ = False
    while True:
        line = read_line(runner.prompt(splitter.pending))
        if line is None:
            break
        line = line.rstrip("\r\n")
        if not splitter.in_quote and is_meta(line):
            cmd = parse_meta(line)
            if cmd.kind == "quit":
                quit_ = True
                break
            if cmd.kind == "reset":
                splitter.reset()
            runner.execute(cmd)
            continue
        if not splitter.pending:  # "begin", "commit", ... typed alone need no ';'
            cmd = parse_statement(line)
            if cmd.kind != "sql":
                runner.execute(cmd)
                continue
        splitter.feed(line)
        for stmt in splitter.statements():
            runner.execute(parse_statement(stmt))
    if not quit_ and not interactive:
        last = splitter.flush()
        if last:
            runner.execute(parse_statement(last))
    runner.end_all(warn=True)
    return EXIT_FAILED if runner.failed and not interactive else EXIT_OK


def _terminal_line(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        print()
        return None


def _script_line(prompt: str) -> str | None:
    return sys.stdin.readline() or None


# ---- main --------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="txscope",
        description="Run statements through txscoped: -e in one transaction, or read them "
                    "from stdin (interactive at a terminal).",
        epilog="Exit status: 0 ok, 1 a statement failed, 2 usage or connection error.")
    p.add_argument("command", nargs="?", choices=["ping"], help="ping: check the daemon answers")
    p.add_argument("-a", "--address", default=os.environ.get("TXSCOPE_ADDRESS") or
                   _wire.DEFAULT_ADDRESS, help="host:port, [v6addr]:port, host or /unix/path "
                   "(default $TXSCOPE_ADDRESS, else %(default)s)")
    p.add_argument("-t", "--token", default=os.environ.get("TXSCOPE_TOKEN") or None,
                   help="authenticate with hello (default $TXSCOPE_TOKEN)")
    p.add_argument("-c", "--ctx", help="the context (default: a uuid4)")
    p.add_argument("-d", "--db", help="the database (a [db.*] of the daemon's config)")
    p.add_argument("-e", "--execute", action="append", metavar="SQL",
                   help="run SQL; repeatable; all are committed when all succeed")
    p.add_argument("-i", "--interactive", action="store_true",
                   help="prompt even when stdin is not a terminal")
    p.add_argument("--json", action="store_true", help="print replies as the JSON lines received")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="connect timeout in seconds, and ping's reply timeout (default 5)")
    p.add_argument("-V", "--version", action="version", version="txscope " + _wire.VERSION)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _wire.parse_address(args.address)
        ctx = _wire.check_context(args.ctx) if args.ctx is not None else _wire.new_context()
    except errors.InterfaceError as exc:
        print("txscope: %s" % exc, file=sys.stderr)
        return EXIT_LOST
    if args.command == "ping":
        if args.execute or args.ctx or args.db or args.interactive:
            print("txscope: ping takes only -a, -t and --timeout", file=sys.stderr)
            return EXIT_LOST
        try:
            with Client(args.address, token=args.token, connections=1,
                        timeout=args.timeout) as client:
                client.ping()
        except errors.Error as exc:
            print("txscope: %s" % exc, file=sys.stderr)
            return EXIT_FAILED
        print("ok")
        return EXIT_OK

    # Statements may run for long: no reply timeout; --timeout bounds the connect.
    client = Client(args.address, token=args.token, connections=1, timeout=None, db=args.db)
    client._connect_timeout = args.timeout
    try:
        try:
            client._connection(0)  # connect and say hello now: fail fast, exit 2
        except errors.Error as exc:
            print("txscope: %s" % exc, file=sys.stderr)
            return EXIT_LOST
        runner = Runner(client, ctx, args.db, args.json, sys.stdout, sys.stderr)
        try:
            if args.execute:
                return run_one_shot(runner, args.execute)
            interactive = args.interactive or sys.stdin.isatty()
            if interactive:
                try:  # loading it gives input() line editing and history
                    importlib.import_module("readline")
                except ImportError:
                    pass
                print("txscope %s (python); \\? for help, \\q to quit." % _wire.VERSION)
                return run_lines(runner, _terminal_line, True)
            return run_lines(runner, _script_line, False)
        except Lost:
            return EXIT_LOST
        except KeyboardInterrupt:
            # Ctrl-C: no traceback. Closing the connection (below) makes the daemon roll
            # back whatever this session left open, as for any client that goes away.
            print(file=sys.stderr)
            return 130
    finally:
        sys.stdout.flush()
        client.close()


if __name__ == "__main__":
    sys.exit(main())
