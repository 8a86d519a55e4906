"""The error mapping and the wire helpers, without a daemon: what a caller catches for each
SQLSTATE, what an error carries, and what the request lines look like."""

import decimal
import json
import pickle
import unittest
import uuid

import txscope
from txscope import _wire, errors


def reply(code, state="failed", **more):
    err = {"code": code, "message": "m " + code, "source": "db", **more}
    return {"id": 3, "ok": False, "error": err, "tx": {"state": state, "depth": 1}}


class MappingTest(unittest.TestCase):
    def expect(self, code, cls, state="failed"):
        exc = _wire.error_from_reply(reply(code, state))
        self.assertIs(type(exc), cls, code)
        self.assertEqual(exc.sqlstate, code)
        return exc

    def test_classes_by_sqlstate(self):
        table = {
            "23505": txscope.IntegrityError, "23503": txscope.IntegrityError,
            "22P02": txscope.DataError, "22012": txscope.DataError,
            "08006": txscope.OperationalError, "08001": txscope.OperationalError,
            "53300": txscope.OperationalError, "57014": txscope.OperationalError,
            "57P01": txscope.OperationalError, "58030": txscope.OperationalError,
            "HY000": txscope.OperationalError, "40001": txscope.OperationalError,
            "40P01": txscope.OperationalError, "28000": txscope.OperationalError,
            "25P03": txscope.OperationalError,
            "42601": txscope.ProgrammingError, "42P01": txscope.ProgrammingError,
            "3D000": txscope.ProgrammingError, "3B001": txscope.ProgrammingError,
            "26000": txscope.ProgrammingError, "34000": txscope.ProgrammingError,
            "0A000": txscope.NotSupportedError,
            "25001": txscope.InternalError, "25P02": txscope.FailedTransactionError,
            "08007": txscope.CommitOutcomeUnknown,
            "XX000": txscope.InternalError, "54000": txscope.InternalError,
            "P0001": txscope.InternalError,
        }
        for code, cls in table.items():
            self.expect(code, cls)

    def test_25P02_of_an_inactive_session_is_inactive_transaction_error(self):
        exc = self.expect("25P02", txscope.InactiveTransactionError, state="inactive")
        self.assertIsInstance(exc, txscope.FailedTransactionError)
        self.assertIsInstance(exc, txscope.InternalError)
        self.expect("25P02", txscope.FailedTransactionError, state="failed")

    def test_pep249_hierarchy(self):
        self.assertTrue(issubclass(txscope.Error, Exception))
        self.assertTrue(issubclass(txscope.Warning, Exception))
        self.assertFalse(issubclass(txscope.Warning, txscope.Error))
        for cls in (txscope.InterfaceError, txscope.DatabaseError):
            self.assertTrue(issubclass(cls, txscope.Error))
        for cls in (txscope.DataError, txscope.OperationalError, txscope.IntegrityError,
                    txscope.InternalError, txscope.ProgrammingError, txscope.NotSupportedError):
            self.assertTrue(issubclass(cls, txscope.DatabaseError))
        self.assertTrue(issubclass(txscope.CommitOutcomeUnknown, txscope.OperationalError))
        self.assertTrue(issubclass(txscope.ConnectionLostError, txscope.OperationalError))
        self.assertTrue(issubclass(errors.RequestTimeoutError, txscope.OperationalError))
        self.assertTrue(issubclass(errors.RequestTimeoutError, TimeoutError))

    def test_an_error_carries_the_whole_error_object_and_tx(self):
        r = reply("23505", detail="Key (id)=(1) already exists.", hint="h",
                  constraint="t_pkey", position=7)
        exc = _wire.error_from_reply(r)
        self.assertEqual(exc.message, "m 23505")
        self.assertEqual(exc.detail, "Key (id)=(1) already exists.")
        self.assertEqual(exc.hint, "h")
        self.assertEqual(exc.source, "db")
        self.assertEqual(exc.error["constraint"], "t_pkey")
        self.assertEqual(exc.error["position"], 7)
        self.assertEqual(exc.tx, {"state": "failed", "depth": 1})
        self.assertEqual(str(exc), "23505 m 23505")

    def test_errors_survive_pickling(self):
        exc = _wire.error_from_reply(reply("23505", detail="d"))
        back = pickle.loads(pickle.dumps(exc))
        self.assertIs(type(back), txscope.IntegrityError)
        self.assertEqual((back.sqlstate, back.detail, back.tx), ("23505", "d", exc.tx))

    def test_resolve_without_a_client_is_an_interface_error(self):
        exc = _wire.error_from_reply(reply("08007", state="idle"))
        with self.assertRaises(txscope.InterfaceError):
            exc.resolve()

    def test_a_lost_connection_carries_the_daemons_last_word(self):
        last = {"id": None, "ok": False, "error": {"code": "57P01", "message": "shutting down",
                                                   "source": "proxy"}}
        exc = _wire.lost_error("txscoped ended the connection", last)
        self.assertIsInstance(exc, txscope.ConnectionLostError)
        self.assertEqual(exc.sqlstate, "57P01")
        self.assertIn("shutting down", exc.message)
        self.assertIsNone(_wire.lost_error("eof").sqlstate)


class WireTest(unittest.TestCase):
    def test_a_request_is_one_compact_line(self):
        line = _wire.encode({"op": "query", "ctx": "c", "sql": "select 'a\nb'", "params": [1, "é"]})
        self.assertTrue(line.endswith(b"\n"))
        self.assertEqual(line.count(b"\n"), 1)
        self.assertNotIn(b", ", line)
        self.assertNotIn(b": ", line)
        self.assertEqual(json.loads(line)["params"], [1, "é"])
        self.assertIn("é".encode(), line)

    def test_values_json_cannot_carry_are_refused_before_sending(self):
        for bad in (float("nan"), "\ud800", b"bytes", object()):
            with self.assertRaises(txscope.InterfaceError):
                _wire.encode({"op": "query", "params": [bad]})

    def test_decimal_datetime_uuid_params_go_as_their_text(self):
        import datetime
        u = uuid.UUID(int=5)
        line = _wire.encode({"params": [decimal.Decimal("1.10"), datetime.date(2024, 2, 29), u]})
        self.assertEqual(json.loads(line)["params"], ["1.10", "2024-02-29", str(u)])

    def test_params_must_be_a_sequence(self):
        for bad in ("abc", {"a": 1}, 5):
            with self.assertRaises(txscope.InterfaceError):
                _wire.query_fields("select $1", bad, False)
        self.assertEqual(_wire.query_fields("s", (1, 2), True),
                         {"sql": "s", "params": [1, 2], "autocommit": True})

    def test_batch_statement_forms(self):
        f = _wire.batch_fields(["a", ("b", [1]), {"sql": "c", "params": [2]}],
                               {"isolation": "SERIALIZABLE"})
        self.assertEqual(f, {"statements": [{"sql": "a"}, {"sql": "b", "params": [1]},
                                            {"sql": "c", "params": [2]}],
                             "isolation": "serializable"})
        with self.assertRaises(txscope.InterfaceError):
            _wire.batch_fields([1], {})
        with self.assertRaises(txscope.InterfaceError):
            _wire.batch_fields([], {"nested": True})

    def test_addresses(self):
        self.assertEqual(_wire.parse_address("127.0.0.1:7000"), ("127.0.0.1", 7000))
        self.assertEqual(_wire.parse_address("db.local"), ("db.local", 7432))
        self.assertEqual(_wire.parse_address("[::1]:7001"), ("::1", 7001))
        self.assertEqual(_wire.parse_address("[::1]"), ("::1", 7432))
        self.assertEqual(_wire.parse_address("/run/txscope.sock"), ("unix", "/run/txscope.sock"))
        for bad in ("", "h:", "h:x", "::1", "h:70000", "[::1"):
            with self.assertRaises(txscope.InterfaceError, msg=bad):
                _wire.parse_address(bad)

    def test_contexts_are_1_to_128_printable_ascii(self):
        self.assertEqual(_wire.check_context("a" * 128), "a" * 128)
        self.assertEqual(_wire.check_context(" ~"), " ~")
        for bad in ("", "a" * 129, "é", "a\nb", "\x7f", None, 5):
            with self.assertRaises(txscope.InterfaceError, msg=repr(bad)):
                _wire.check_context(bad)
        self.assertEqual(len(_wire.new_context()), 36)

    def test_result(self):
        r = txscope.Result({"command": "SELECT", "rowCount": 2,
                            "fields": [{"name": "a", "type": "int4"},
                                       {"name": "b", "type": "text"}],
                            "rows": [[1, "x"], [2, None]]})
        self.assertEqual((r.command, r.rowcount, len(r), r.scalar()), ("SELECT", 2, 2, 1))
        self.assertEqual(list(r), [[1, "x"], [2, None]])
        self.assertEqual(r.mappings(), [{"a": 1, "b": "x"}, {"a": 2, "b": None}])
        self.assertIsNone(r.last_insert_id)
        empty = txscope.Result({"command": "INSERT", "rowCount": 1, "fields": [], "rows": [],
                                "lastInsertId": 42})
        self.assertIsNone(empty.scalar())
        self.assertEqual(empty.last_insert_id, 42)


if __name__ == "__main__":
    unittest.main()
