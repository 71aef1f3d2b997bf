"""cella_runtime's JSON helpers (json's C accelerator used directly, to keep json, re and enum out
of the start) against json itself: same values, same output, same errors."""

import decimal
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
import cella_runtime  # noqa: E402

DOCUMENTS = [
    b'{"hello": "cella"}', b"  [1, 2.5, -3e10, true, false, null]\n", b'"\\u00e9\\ud83d\\ude00"',
    "{\"é\": \"ü\"}".encode(), b"123456789012345678901234567890", b"1.5e400", b"-0.0",
    b"[NaN, Infinity, -Infinity]", b'{"a": {"b": {"c": [[], {}]}}}', b'{"a": 1, "a": 2}',
    b"\t\r\n 42 \t\r\n", "\ufeff{}".encode(), "{}".encode("utf-16"), b"\xed\xa0\x80",
    b"", b"   ", b"{", b'{"a": 1} x', b"[1,]", b"nul", b"'single'", b'"\x01"', b"[" * 100000,
]


def outcome(function, value):
    try:
        return "ok", function(value)
    except Exception as exc:
        return type(exc).__name__, str(exc)


def same(a, b):
    # NaN != NaN: compare through repr.
    return repr(a) == repr(b)


class JSONTests(unittest.TestCase):
    def test_loads_matches_json_loads(self):
        for document in DOCUMENTS:
            with self.subTest(document=document[:40]):
                expected = outcome(json.loads, document)
                got = outcome(cella_runtime._loads, document)
                self.assertTrue(same(got, expected), f"{got!r} != {expected!r}")

    def test_dumps_matches_json_dumps(self):
        circular = []
        circular.append(circular)

        class Flag(int):
            pass

        values = [None, True, 0, -1, 2**80, 1.5, float("nan"), float("inf"), "é\u2028\n\"",
                  [1, "a", None], (1, 2), {"b": 1, "a": [{}]}, {1: "int key", None: 0, 2.5: 1},
                  Flag(7), {"set": {1}}, circular, {(1, 2): "tuple key"}, b"bytes", object(),
                  decimal.Decimal("12"), decimal.Decimal("1.25")]
        for value in values:
            with self.subTest(value=repr(value)[:40]):
                expected = outcome(lambda v: json.dumps(v, default=cella_runtime._json_default),
                                   value)
                self.assertEqual(outcome(cella_runtime._dumps, value), expected)
        # A failed encoding leaves nothing behind for the next one.
        self.assertEqual(cella_runtime._dumps([1]), "[1]")


if __name__ == "__main__":
    unittest.main()
