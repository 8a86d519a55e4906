"""daemon.py - a throwaway txscoped for the Python client's tests.

Starts the daemon binary named by $TXS_DAEMON (default build/asan/bin/txscoped, from the
repository root) on free loopback ports, in front of the PostgreSQL that tests/scripts/pg.sh
started (PGHOST, PGPORT, PGUSER, PGDATABASE in the environment), waits until it answers, and
stops it with SIGTERM at the end, requiring exit status 0 (leaks included under ASan).
Also a plain psql-like side connection for looking at the database from outside.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_dsn():
    return "postgresql://%s@%s:%s/%s" % (
        os.environ.get("PGUSER", "postgres"),
        os.environ.get("PGHOST", "127.0.0.1"),
        os.environ.get("PGPORT", "5432"),
        os.environ.get("PGDATABASE", "postgres"),
    )


class Daemon:
    """txscoped on free ports; `address` is "127.0.0.1:PORT", `admin_port` its admin HTTP."""

    def __init__(self, **settings):
        """settings: extra TXSCOPE_* variables, e.g. TXSCOPE_DB_MAIN_POOL_SIZE="2"."""
        self.port = free_port()
        self.admin_port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.app_name = "txs_py_%d" % self.port
        env = {k: v for k, v in os.environ.items() if not k.startswith("TXSCOPE_")}
        env.update(
            TXSCOPE_LISTEN=self.address,
            TXSCOPE_ADMIN_LISTEN="127.0.0.1:%d" % self.admin_port,
            TXSCOPE_DB_MAIN_DSN="%s?application_name=%s" % (pg_dsn(), self.app_name),
            TXSCOPE_LOG_LEVEL="debug",
            TXSCOPE_DRAIN_TIMEOUT="0",
        )
        env.update(settings)
        binary = os.environ.get("TXS_DAEMON", os.path.join(REPO, "build/asan/bin/txscoped"))
        if not os.path.isabs(binary):
            binary = os.path.join(REPO, binary)
        logdir = os.environ.get("TXS_TEST_LOGDIR") or tempfile.gettempdir()
        self.log_path = os.path.join(logdir, "txscoped-py-%d.log" % self.port)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary], env=env, stderr=self._log, stdout=self._log)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("txscoped exited at start-up (%s); log: %s"
                                   % (self.proc.returncode, self.log_path))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b'{"op":"ping"}\n')
                    if s.makefile("rb").readline():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("txscoped did not answer within 10 s; log: " + self.log_path)
            time.sleep(0.02)

    def stop(self):
        """SIGTERM; returns the exit status (0 expected)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def stats(self):
        """The daemon's admin /stats, as a dict."""
        url = "http://127.0.0.1:%d/stats" % self.admin_port
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)

    def open_sessions(self):
        """The daemon's open sessions (admin /stats)."""
        return self.stats()["sessions"]

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def psql(sql):
    """Runs sql with psql against the test PostgreSQL; returns its unaligned output."""
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True, text=True,
        env={**os.environ, "PGDATABASE": os.environ.get("PGDATABASE", "postgres")},
    )
    return out.stdout.strip()


def backends(daemon, state=None):
    """The daemon's backend connections seen in pg_stat_activity (optionally in one state,
    e.g. 'idle in transaction')."""
    where = "application_name = '%s'" % daemon.app_name
    if state:
        where += " and state = '%s'" % state
    return int(psql("select count(*) from pg_stat_activity where " + where))
