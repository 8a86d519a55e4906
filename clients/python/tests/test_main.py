"""python3 -m txscope, run as a subprocess against a real txscoped: one-shot -e runs,
--json, scripts on stdin, exit statuses. Plus its statement splitter, without a daemon."""

import json
import os
import subprocess
import sys
import unittest

from txscope.__main__ import StatementSplitter, parse_meta, parse_statement
from tests.test_client import DaemonTestCase, side_ids

PYTHONPATH = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def cli(*args, stdin="", env=None):
    """Runs python3 -m txscope; returns (status, stdout, stderr)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TXSCOPE_")}
    full_env["PYTHONPATH"] = PYTHONPATH
    full_env.update(env or {})
    p = subprocess.run([sys.executable, "-m", "txscope", *args], input=stdin,
                       capture_output=True, text=True, env=full_env, timeout=30)
    return p.returncode, p.stdout, p.stderr


class OneShotTest(DaemonTestCase):
    def test_select_prints_the_value(self):
        status, out, err = cli("-a", self.d.address, "-e", "select 1 as x")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, " x\n---\n 1\n(1 row)\n\n")

    def test_statements_run_in_one_transaction_committed_at_the_end(self):
        t = self.table()
        status, out, err = cli("-a", self.d.address, "-c", "job-1",
                               "-e", "insert into %s values (1, 'a'); insert into %s values (2)"
                               % (t, t),
                               "-e", "select id, note from %s order by id" % t)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, "INSERT 1\nINSERT 1\n id | note\n----+------\n  1 | a\n"
                              "  2 |\n(2 rows)\n\n")
        self.assertEqual(side_ids(t), [1, 2])
        self.assertEqual(self.d.stats()["sessions"], 0)

    def test_a_failing_statement_exits_1_and_rolls_back(self):
        t = self.table()
        status, out, err = cli("-a", self.d.address, "-e", "insert into %s values (1)" % t,
                               "-e", "insert into %s values (1)" % t,
                               "-e", "insert into %s values (3)" % t)
        self.assertEqual(status, 1)
        self.assertEqual(out, "INSERT 1\n")
        self.assertIn("ERROR:  23505 duplicate key value", err)
        self.assertIn("DETAIL:  Key (id)=(1) already exists.", err)
        self.assertEqual(side_ids(t), [])

    def test_json_prints_the_replies(self):
        status, out, err = cli("-a", self.d.address, "--json", "-e", "select 2 as y",
                               "-e", "selec")
        self.assertEqual(status, 1)
        self.assertEqual(err, "")
        replies = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(replies[0]["rows"], [[2]])
        self.assertEqual(replies[0]["fields"], [{"name": "y", "type": "int4"}])
        self.assertEqual(replies[1]["error"]["code"], "42601")
        self.assertEqual([r["ok"] for r in replies], [True, False, True, True])  # rollback, end
        self.assertNotIn(" ", out.splitlines()[0].replace('"SELECT"', ""))  # as sent: compact

    def test_transaction_control_and_meta_commands_in_e(self):
        t = self.table()
        status, out, err = cli("-a", self.d.address, "-e", "\\begin serializable",
                               "-e", "insert into %s values (1); savepoint a" % t,
                               "-e", "insert into %s values (2); rollback to a" % t,
                               "-e", "\\status")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out.splitlines()[:5], ["BEGIN", "INSERT 1", "SAVEPOINT", "INSERT 1",
                                                "ROLLBACK"])
        self.assertRegex(out.splitlines()[5], r": open \(depth 1\)$")
        self.assertEqual(side_ids(t), [1])

    def test_address_and_token_from_the_environment(self):
        status, out, _ = cli("-e", "select 'env'", env={"TXSCOPE_ADDRESS": self.d.address})
        self.assertEqual(status, 0)
        self.assertIn(" env\n", out)

    def test_usage_and_connection_errors_exit_2(self):
        self.assertEqual(cli("--no-such-option")[0], 2)
        self.assertEqual(cli("-a", self.d.address, "-c", "", "-e", "select 1")[0], 2)
        status, _, err = cli("-a", "127.0.0.1:1", "-e", "select 1")
        self.assertEqual(status, 2)
        self.assertIn("cannot connect", err)

    def test_ping(self):
        self.assertEqual(cli("ping", "-a", self.d.address)[:2], (0, "ok\n"))


class ScriptTest(DaemonTestCase):
    def test_a_script_on_stdin_runs_like_psql(self):
        t = self.table()
        script = ("begin\n"
                  "insert into %s values (1, 'a;b');\n"
                  "insert into %s\n  values (2, $$x;\ny$$); -- a comment; not a statement\n"
                  "commit\n"
                  "\\status\n"
                  "selec 1;\n"          # fails: the script goes on, and exits 1 at the end
                  "\\rollback\n"
                  "select note from %s order by id;\n"
                  "insert into %s values (3)\n"  # the last statement needs no ';'
                  % (t, t, t, t))
        status, out, err = cli("-a", self.d.address, "-c", "script-1", stdin=script)
        self.assertEqual(status, 1)
        self.assertIn("ERROR:  42601", err)
        # the open transaction of the last insert is rolled back at exit, with a warning
        self.assertIn("WARNING:  context script-1: its open transaction is rolled back", err)
        self.assertEqual(out.splitlines()[:5], ["BEGIN", "INSERT 1", "INSERT 1", "COMMIT",
                                                "script-1: idle (depth 0)"])
        self.assertIn(" a;b\n", out)
        self.assertIn(" x;  +\n", out)
        self.assertEqual(side_ids(t), [1, 2])
        self.assertEqual(self.d.stats()["sessions"], 0)

    def test_a_clean_script_exits_0_and_q_stops_it(self):
        t = self.table()
        status, out, err = cli("-a", self.d.address, stdin="insert into %s values (1);\n"
                               "\\commit\n\\q\ninsert into %s values (2);\n" % (t, t))
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, "INSERT 1\nCOMMIT\n")
        self.assertEqual(side_ids(t), [1])


class SplitterTest(unittest.TestCase):
    def split(self, *lines):
        sp = StatementSplitter()
        out = []
        for line in lines:
            sp.feed(line)
            out.extend(sp.statements())
        return out, sp.flush()

    def test_statements_end_at_semicolons_outside_quotes_and_comments(self):
        self.assertEqual(self.split("select 1; select 2;"), (["select 1", "select 2"], None))
        self.assertEqual(self.split("select 'a;b', \"c;d\", E'\\';'; x"),
                         (["select 'a;b', \"c;d\", E'\\';'"], "x"))
        self.assertEqual(self.split("select $f$a;", "b$f$;"), (["select $f$a;\nb$f$"], None))
        self.assertEqual(self.split("select /* a; /* b; */ c; */ 1;"),
                         (["select /* a; /* b; */ c; */ 1"], None))
        self.assertEqual(self.split("select 1 -- no; end", ";"), (["select 1"], None))
        self.assertEqual(self.split(";;", "-- only a comment"), ([], None))

    def test_transaction_control_becomes_operations(self):
        self.assertEqual(parse_statement("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY").fields,
                         {"isolation": "serializable", "read_only": True})
        self.assertEqual(parse_statement("start transaction").kind, "begin")
        self.assertEqual(parse_statement("commit work;").kind, "commit")
        self.assertEqual(parse_statement("abort").kind, "rollback")
        cmd = parse_statement("rollback to savepoint Sp1")
        self.assertEqual((cmd.kind, cmd.arg), ("rollback_to", "sp1"))
        cmd = parse_statement('release "Sp1"')
        self.assertEqual((cmd.kind, cmd.arg), ("release", "Sp1"))
        self.assertEqual(parse_statement("commit and chain").kind, "sql")
        self.assertEqual(parse_statement("select 1").kind, "sql")
        self.assertEqual(parse_meta("\\begin repeatable read nested").fields,
                         {"isolation": "repeatable read", "nested": True})
        self.assertEqual(parse_meta("\\begin sideways").kind, "bad")
        self.assertEqual(parse_meta("\\q").kind, "quit")
        self.assertEqual(parse_meta("\\commit now").kind, "bad")


if __name__ == "__main__":
    unittest.main()
