"""Generate protocol/vectors.json, the test vectors both sides of the wire check.

Each case is a hand-written Python value; its frames come from piton's encoder, and where a case
gives ``hand`` (frame 0 written out by hand from the MessagePack spec) the script refuses to
write the file unless the encoder produced exactly those bytes. Cases with ``frames`` given by
hand are forms another encoder legitimately produces (e.g. msgpackr's int 64 for a positive
bigint): they are decoded by every side and encoded by none but those listed.

A case's ``ipc`` lists the frames that hold an Arrow IPC stream (ext 3): pyarrow and apache-arrow
lay out the same table in different bytes, so those frames are compared by the table they read as
(PROTOCOL.md, "Tables (ext 3)"); frame 0 is always compared byte for byte.

    .venv/bin/python protocol/make_vectors.py           # rewrite protocol/vectors.json
    .venv/bin/python protocol/make_vectors.py --check   # exit 1 if the file is not up to date
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import sys
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
import pyarrow as pa

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python", "src"))
sys.path.insert(0, HERE)

from piton.arrow import is_ipc_frame  # noqa: E402
from piton.codec import decode, encode  # noqa: E402
from piton.protocol import PROTOCOL_VERSION  # noqa: E402
from tagged import as_decoded, same, to_tagged  # noqa: E402

OUT = os.path.join(HERE, "vectors.json")
BOTH = ["py", "js"]
PY = ["py"]
UTC = dt.timezone.utc


def case(name: str, value: Any, hand: Optional[str] = None, encoders: List[str] = BOTH,
         frames: Optional[List[str]] = None, ipc: Optional[List[int]] = None) -> Dict[str, Any]:
    return {"name": name, "value": value, "hand": hand, "encoders": encoders, "frames": frames, "ipc": ipc}


def u(hex_text: str) -> str:
    return hex_text.replace(" ", "")


CASES = [
    # --- nil and booleans
    case("nil", None, "c0"),
    case("true", True, "c3"),
    case("false", False, "c2"),
    # --- integers at every MessagePack boundary: smallest form, unsigned forms for n >= 0
    case("int 0", 0, "00"),
    case("int 127 (largest positive fixint)", 127, "7f"),
    case("int 128 (uint 8)", 128, "cc 80"),
    case("int 255", 255, "cc ff"),
    case("int 256 (uint 16)", 256, "cd 0100"),
    case("int 65535", 65535, "cd ffff"),
    case("int 65536 (uint 32)", 65536, "ce 00010000"),
    case("int 2^31", 2**31, "ce 80000000"),
    case("int 2^32-1", 2**32 - 1, "ce ffffffff"),
    case("int 2^32 (uint 64)", 2**32, "cf 0000000100000000"),
    case("int 2^53-1 (largest safe integer)", 2**53 - 1, "cf 001fffffffffffff"),
    case("int 2^53", 2**53, "cf 0020000000000000", PY),
    case("int 2^53+1", 2**53 + 1, "cf 0020000000000001", PY),
    case("int 2^63-1", 2**63 - 1, "cf 7fffffffffffffff", PY),
    case("int 2^63", 2**63, "cf 8000000000000000"),
    case("int 2^64-1 (largest uint 64)", 2**64 - 1, "cf ffffffffffffffff"),
    case("int -1", -1, "ff"),
    case("int -32 (smallest negative fixint)", -32, "e0"),
    case("int -33 (int 8)", -33, "d0 df"),
    case("int -128", -128, "d0 80"),
    case("int -129 (int 16)", -129, "d1 ff7f"),
    case("int -32768", -32768, "d1 8000"),
    case("int -32769 (int 32)", -32769, "d2 ffff7fff"),
    case("int -2^31", -(2**31), "d2 80000000"),
    case("int -2^31-1 (int 64)", -(2**31) - 1, "d3 ffffffff7fffffff"),
    case("int -(2^53-1) (smallest safe integer)", -(2**53 - 1), "d3 ffe0000000000001"),
    case("int -2^53-1", -(2**53) - 1, "d3 ffdfffffffffffff"),
    case("int -2^63 (smallest int 64)", -(2**63), "d3 8000000000000000"),
    case("int 2^64 (ext 2)", 2**64, "c7 09 02 01 0000000000000000"),
    case("int -2^63-1 (ext 2)", -(2**63) - 1, "c7 09 02 ff 7fffffffffffffff"),
    case("int 2^100 (ext 2)", 2**100, "c7 0d 02 10 000000000000000000000000"),
    case("int -2^100 (ext 2)", -(2**100), "c7 0d 02 f0 000000000000000000000000"),
    case("int 2^127-1 (ext 2 as fixext 16)", 2**127 - 1, "d8 02 7fffffffffffffffffffffffffffffff"),
    case("int 2^127 (ext 2, sign byte needed)", 2**127, "c7 11 02 00 80000000000000000000000000000000"),
    # positive integers in int 64 form, as msgpackr writes a bigint: every decoder accepts them
    case("int 2^53+1 written as int 64", 2**53 + 1, encoders=["js"], frames=[u("d3 0020000000000001")]),
    case("int 2^63-1 written as int 64", 2**63 - 1, encoders=["js"], frames=[u("d3 7fffffffffffffff")]),
    case("int 5 written as int 64", 5, encoders=[], frames=[u("d3 0000000000000005")]),
    case("int 2^53-1 written as int 64", 2**53 - 1, encoders=[], frames=[u("d3 001fffffffffffff")]),
    # --- floats: always float 64
    case("float 1.5", 1.5, "cb 3ff8000000000000"),
    case("float 0.1", 0.1, "cb 3fb999999999999a"),
    case("float -2.5e-300", -2.5e-300),
    case("float NaN", math.nan, "cb 7ff8000000000000"),
    case("float Infinity", math.inf, "cb 7ff0000000000000"),
    case("float -Infinity", -math.inf, "cb fff0000000000000"),
    case("float -0", -0.0, "cb 8000000000000000"),
    case("float 2.0 (a JS number 2 is an int)", 2.0, "cb 4000000000000000", PY),
    case("float 2^53+2 (JS number beyond the safe range)", float(2**53 + 2), "cb 4340000000000001"),
    case("float 1e300", 1e300, None),
    # --- strings: UTF-8, smallest header
    case("str empty", "", "a0"),
    case("str ASCII", "hello", "a5 68656c6c6f"),
    case("str 31 bytes (largest fixstr)", "a" * 31, "bf" + "61" * 31),
    case("str 32 bytes (str 8)", "b" * 32, "d9 20" + "62" * 32),
    case("str 256 bytes (str 16)", "c" * 256, "da 0100" + "63" * 256),
    case("str BMP", "é€中", "a8 c3a9 e282ac e4b8ad"),
    case("str astral emoji", "😀", "a4 f09f9880"),
    case("str mixed scripts", "Grüße, Ελλάδα, 日本 👋🏽", None),
    case("str with NUL", "a\x00b", "a3 610062"),
    # --- bytes
    case("bytes empty", b"", "c4 00"),
    case("bytes 3", b"\x00\x01\xff", "c4 03 0001ff"),
    case("bytes 256 (bin 16)", bytes(range(256)), "c5 0100" + bytes(range(256)).hex()),
    # --- arrays and maps
    case("list empty", [], "90"),
    case("list mixed", [1, "a", None, True, 1.5], "95 01 a161 c0 c3 cb3ff8000000000000"),
    case("list nested", [[1], [2, [3]]], "92 91 01 92 02 91 03"),
    case("list 16 items (array 16)", list(range(16)), "dc 0010" + "".join("%02x" % i for i in range(16))),
    case("tuple encodes as array", (1, "a"), "92 01 a161", PY),
    case("dict empty", {}, "80"),
    case("dict nested", {"a": 1, "b": {"c": [True]}}, "82 a161 01 a162 81 a163 91 c3"),
    case("dict 16 keys (map 16)", {f"k{i:02d}": i for i in range(16)}, None),
    case("map int keys", {1: "one", 2: "two"}, "82 01 a36f6e65 02 a374776f"),
    case("map mixed keys", {"a": 1, 2: [3]}, "82 a161 01 02 91 03"),
    case("map big int key", {2**64: True}, "81 c7 09 02 01 0000000000000000 c3"),
    # --- datetimes (ms precision so that a JS Date holds them exactly)
    case("datetime epoch (timestamp 32)", dt.datetime(1970, 1, 1, tzinfo=UTC), "d6 ff 00000000"),
    case("datetime whole second (timestamp 32)", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "d6 ff 65937d25"),
    case("datetime with ms (timestamp 64)", dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC),
         "d7 ff 1d535300 65937d25"),
    case("datetime before 1970 (timestamp 96)", dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
         "c7 0c ff 1dcd6500 ffffffffffffffff"),
    case("datetime year 2600 (timestamp 96)", dt.datetime(2600, 6, 1, 12, 0, 0, 1000, tzinfo=UTC), None),
]


def _arrays() -> List[Dict[str, Any]]:
    samples = {
        "float64": [0.0, -1.5, math.inf],
        "float32": [1.0, -0.5, 3.25],
        "int8": [-128, 0, 127],
        "int16": [-32768, 1, 32767],
        "int32": [-(2**31), 2, 2**31 - 1],
        "int64": [-(2**63), 3, 2**63 - 1],
        "uint8": [0, 128, 255],
        "uint16": [0, 4660, 65535],
        "uint32": [0, 305419896, 2**32 - 1],
        "uint64": [0, 2**53 + 1, 2**64 - 1],
    }
    out = []
    for dtype, values in samples.items():
        one_d = np.array(values, dtype=dtype)
        # A 1-d uint8 array is a Uint8Array in JS, and JS sends a bare Uint8Array as bytes.
        encoders = PY if dtype == "uint8" else BOTH
        out.append(case(f"ndarray {dtype} 1-d", one_d, encoders=encoders))
        out.append(case(f"ndarray {dtype} 2-d", np.arange(6, dtype=dtype).reshape(2, 3)))
    out.append(case("ndarray float64 empty 1-d", np.zeros(0, dtype="float64")))
    out.append(case("ndarray int32 empty 2-d", np.zeros((0, 3), dtype="int32")))
    out.append(case("ndarray float64 3-d", np.arange(24, dtype="float64").reshape(2, 3, 4)))
    out.append(case("ndarray int16 1-d hand-checked", np.array([1, -2], dtype="int16"),
                    "c7 0a 01 93 a5696e743136 91 02 01"))
    out.append(case("two ndarrays in a list", [np.array([1.5], dtype="float64"), np.array([7], dtype="int32")],
                    "92 c7 0c 01 93 a7666c6f61743634 91 01 01  c7 0a 01 93 a5696e743332 91 01 02"))
    return out


def _every_column() -> pa.Table:
    return pa.table(
        {
            "int64": pa.array([1, None, 2**60 + 1, -(2**63)], type=pa.int64()),
            "float64": pa.array([math.nan, -0.0, None, 1.5], type=pa.float64()),
            "str": pa.array(["", "Grüße 日本 👋🏽", None, "a"], type=pa.string()),
            "bool": pa.array([True, None, False, True]),
            "when": pa.array([0, None, -1, 1_700_000_000_123_456], type=pa.timestamp("us", tz="Europe/Paris")),
            "day": pa.array([0, -719162, None, 2932896], type=pa.date32()),
            "category": pa.array(["b", "a", None, "b"]).dictionary_encode(),
            "decimal": pa.array([decimal.Decimal("1.10"), None, decimal.Decimal("-99999.99"), decimal.Decimal("0")],
                                type=pa.decimal128(7, 2)),
            "list": pa.array([[1, 2], [], None, [None]], type=pa.list_(pa.int32())),
            "struct": pa.array([{"x": 1.5, "y": "a"}, None, {"x": None, "y": ""}, {"x": -0.0, "y": None}]),
        },
        metadata={"origin": "make_vectors"},
    )


# The IPC stream apache-arrow 21 writes (tableToIPC(table, 'stream')) for the table of
# _written_by_apache_arrow(): another valid byte form of it, which every decoder reads.
APACHE_ARROW_IPC = u(
    "ffffffffe80000001000000000000a0010000e00070008000a000000000000011000000000000400080008000000040008000000"
    "04000000030000007c0000003c00000004000000a0ffffff14000000000000011400000000000003180000000100000066000000"
    "0000000000000600080006000600000000000200d4ffffff14000000000000011400000000000005140000000100000073000000"
    "0000000004000400040000001000180004000b001300140000000c00100000001400000000000001140000000000000218000000"
    "010000006e0000000000000008000c0008000700080000000000000140000000fffffffff800000014000000000000000c001600"
    "14000f00100004000c000000c800000000000000000000031000000004000a0018000c00080004000a0000001400000088000000"
    "03000000000000000000000007000000000000000000000040000000000000004000000000000000180000000000000058000000"
    "00000000400000000000000098000000000000001000000000000000a8000000000000000800000000000000b000000000000000"
    "0000000000000000b000000000000000180000000000000000000000030000000300000000000000010000000000000003000000"
    "00000000010000000000000003000000000000000000000000000000050000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000010000000000000000000000"
    "00000000010000000000001003000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000200000002000000c3a900000000000000000000"
    "0000f87f0000000000000080000000000000f83fffffffff00000000"
)


def _written_by_apache_arrow() -> pa.Table:
    return pa.table({
        "n": pa.array([1, None, 2**60 + 1], type=pa.int64()),
        "s": pa.array(["", "é", None], type=pa.string()),
        "f": pa.array([math.nan, -0.0, 1.5], type=pa.float64()),
    })


def _tables() -> List[Dict[str, Any]]:
    every = _every_column()
    frame = pd.DataFrame({"city": ["Oslo", "Lima"], "mm": [1.5, math.nan]}, index=pd.Index([10, 20], name="id"))
    return [
        case("table of every kind of column", every, "d7 03 92 a5 7461626c65 01"),
        case("table with columns and no rows", every.slice(0, 0)),
        case("table without record batches (its schema alone)", pa.table({"a": pa.chunked_array([], type=pa.int8())})),
        case("table from a pandas DataFrame (its index a column, NaN kept)", frame, encoders=PY),
        case("vector of strings", pa.array(["", None, "ü"]), "c7 09 03 92 a6 766563746f72 01"),
        case("vector in several chunks arrives as one array", pa.chunked_array([[1, 2], [3]], type=pa.int16()),
             encoders=PY),
        case("table written by apache-arrow", _written_by_apache_arrow(), encoders=["js"],
             frames=[u("d7 03 92 a5 7461626c65 01"), APACHE_ARROW_IPC], ipc=[1]),
        case("a table and an array in one value", {"t": every, "a": np.array([1.0, 2.0])}),
        case("envelope call with a table", ["call", 16, "reports", "summarize", [every], {"top": 3}]),
        case("envelope ok with a table and a vector", ["ok", 16, [every, pa.array([1.5, None])]]),
    ]


ERROR = {"type": "ValueError", "message": "n must be >= 0, got -1",
         "traceback": 'Traceback (most recent call last):\n  File "functions.py", line 3, in fib\nValueError: n must be >= 0, got -1\n'}

THROWN = {"name": "TypeError", "message": "key must be a string",
          "stack": "TypeError: key must be a string\n    at lookup (file:///app/index.js:3:11)"}

ENVELOPES = [
    case("envelope hello", ["hello", 1, 3], "93 a568656c6c6f 01 03"),
    case("envelope hello with exposed functions", ["hello", 1, 3, {"expose": ["lookup", "flag"]}],
         "94 a568656c6c6f 01 03 81 a66578706f7365 92 a66c6f6f6b7570 a4666c6167"),
    case("envelope ready", ["ready", 1, {"pid": 4242, "python": "3.11.7 (main) [GCC 12.2.0]",
                                         "protocol": 3, "piton": "0.1.0", "loop": "asyncio"}]),
    # --- lanes (PROTOCOL.md, "Lanes"): the handshake asks for them, ready names their socket
    case("envelope hello with lanes", ["hello", 1, 3, {"lanes": 4}],
         "94 a568656c6c6f 01 03 81 a56c616e6573 04"),
    case("envelope ready with lanes", ["ready", 1, {"pid": 4242, "python": "3.11.7 (main) [GCC 12.2.0]",
                                                    "protocol": 3, "piton": "0.1.0", "loop": "uvloop",
                                                    "lanes": "ipc:///tmp/piton-x/worker.sock-lanes",
                                                    "control": "ipc:///tmp/piton-x/worker.sock-control"}]),
    # --- cancelling (PROTOCOL.md, "Cancelling"): the control lane's one request and its reply
    case("envelope cancel", ["cancel", 7, [[1, 9], [0, 12]]],
         "93 a663616e63656c 07 92 92 01 09 92 00 0c"),
    case("envelope cancelled", ["cancelled", 7, ["cancelled", "blocked", "done"]],
         "93 a963616e63656c6c6564 07 93 a963616e63656c6c6564 a7626c6f636b6564 a4646f6e65"),
    case("envelope call", ["call", 2, "functions", "fib", [20], None],
         "96 a463616c6c 02 a966756e6374696f6e73 a3666962 91 14 c0"),
    case("envelope call with kwargs", ["call", 3, "functions", "scale", [1.5], {"factor": 2, "round": True}]),
    case("envelope ok", ["ok", 2, 6765], "93 a26f6b 02 cd1a6d"),
    case("envelope error", ["error", 4, ERROR]),
    case("envelope stream", ["stream", 5, "functions", "count", [3], None, 16]),
    case("envelope next", ["next", 6, 16], "93 a46e657874 06 10"),
    case("envelope items", ["items", 6, [0, 1, 2], False]),
    case("envelope items done", ["items", 7, [], True], "94 a56974656d73 07 90 c3"),
    case("envelope close", ["close", 8], "92 a5636c6f7365 08"),
    case("envelope closed", ["closed", 8], "92 a6636c6f736564 08"),
    case("envelope stop", ["stop", 9], "92 a473746f70 09"),
    case("envelope bye", ["bye", 9], "92 a3627965 09"),
    case("envelope batch", ["batch", 10, [["functions", "fib", [10], None], ["functions", "scale", [2.5], {"factor": 3}]]]),
    case("envelope results", ["results", 10, [["ok", 55], ["error", ERROR]]]),
    case("envelope call with arrays (3 frames)",
         ["call", 11, "stats", "describe", [np.array([1.0, 2.0, 4.0]), np.arange(4, dtype="int32").reshape(2, 2)],
          {"ddof": 1}]),
    case("envelope ok with an array", ["ok", 11, {"mean": 2.0, "values": np.array([0.5, 0.25], dtype="float32")}], None, PY),
    case("envelope ok with a big id", ["ok", 2**32 + 1, None], "93 a26f6b cf0000000100000001 c0"),
    # --- calling back into Node, and progress (the call's reply is the worker's question)
    case("envelope call listening for progress", ["call", 12, "jobs", "train", [3], None, {"progress": True}],
         "97 a463616c6c 0c a46a6f6273 a5747261696e 91 03 c0 81 a870726f6772657373 c3"),
    # --- call context (PROTOCOL.md, "Call context"): the options item carries trace and values
    case("envelope call with trace context",
         ["call", 16, "functions", "fib", [20], None,
          {"trace": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}]),
    case("envelope call with trace context, baggage and values",
         ["call", 17, "jobs", "train", [3], None,
          {"progress": True,
           "trace": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                     "tracestate": "vendor=opaque", "baggage": "tenant=acme%20corp"},
           "context": {"requestId": "r-17"}}]),
    case("envelope batch with a traced call",
         ["batch", 18, [["functions", "fib", [10], None],
                        ["functions", "fib", [11], None,
                         {"trace": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}]]]),
    case("envelope stream with values", ["stream", 19, "streaming", "count", [3], None, 2, {"context": {"requestId": "r-18"}}]),
    case("envelope callback", ["callback", 12, "lookup", ["user:1"], None],
         "95 a863616c6c6261636b 0c a66c6f6f6b7570 91 a6757365723a31 c0"),
    case("envelope callback with kwargs", ["callback", 12, "find", ["x"], {"limit": 3}]),
    case("envelope callback with an array", ["callback", 12, "store", [np.array([1.0, 2.0])], None]),
    case("envelope return", ["return", 13, {"name": "Ada"}], "93 a672657475726e 0d 81 a46e616d65 a3416461"),
    case("envelope return with an array", ["return", 13, np.array([3, 4], dtype="int32")]),
    case("envelope throw", ["throw", 14, THROWN]),
    case("envelope progress", ["progress", 14, 0.25], "93 a870726f6772657373 0e cb3fd0000000000000"),
    case("envelope resume", ["resume", 15], "92 a6726573756d65 0f"),
    # --- the agent protocol (PROTOCOL.md, "The agent protocol"): one frame per message
    case("agent hello", ["hello", 1, {"pid": 4242, "timeout": 3000}],
         "93 a568656c6c6f 01 82 a3706964 cd1092 a774696d656f7574 cd0bb8"),
    case("agent welcome", ["welcome", 1, {"agent": "0.1.0", "instance": "9f1c2d", "host": "gpu-1", "pid": 77,
                                          "python": "3.11.7"}]),
    case("agent start", ["start", 1, {"id": "host-1/python-1", "path": ["/srv/app"], "preload": ["model"],
                                      "maxMessageSize": 67108864, "allowModules": [], "allowPrivate": False, "allowReexports": [],
                                      "env": {"OMP_NUM_THREADS": "1", "DEBUG": None}, "cwd": None}]),
    case("agent started", ["started", 1, {"pid": 4343, "endpoint": "tcp://10.0.0.7:41235",
                                          "serverKey": "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"}]),
    case("agent failed", ["failed", 2, {"message": "the worker exited with code 3 before binding",
                                        "stderr": "ImportError: no module named model"}]),
    case("agent signal", ["signal", 1, "SIGKILL"], "93 a67369676e616c 01 a75349474b494c4c"),
    case("agent output", ["output", 1, "stdout", "epoch 3"], "94 a66f7574707574 01 a67374646f7574 a765706f63682033"),
    case("agent exited by a signal", ["exited", 1, {"code": None, "signal": "SIGKILL", "stderr": ""}]),
    case("agent exited with a code", ["exited", 1, {"code": 0, "signal": None, "stderr": ""}]),
    case("agent ping", ["ping", 7], "92 a470696e67 07"),
    case("agent pong", ["pong", 7, "9f1c2d"], "93 a4706f6e67 07 a6396631633264"),
    case("agent bye", ["bye"], "91 a3627965"),
    case("agent refused", ["refused", "say hello first"]),
]


def build() -> Dict[str, Any]:
    cases = []
    for c in CASES + _arrays() + _tables() + ENVELOPES:
        ipc = c["ipc"]
        if c["frames"] is None:
            encoded = encode(c["value"])
            frames = [bytes(memoryview(f).cast("B")).hex() for f in encoded]
            ipc = [i for i, f in enumerate(encoded) if is_ipc_frame(f)]
            if c["hand"] is not None and frames[0] != u(c["hand"]):
                raise SystemExit(f"{c['name']}: encoder wrote {frames[0]}, hand-checked bytes are {u(c['hand'])}")
        else:
            frames = c["frames"]
        decoded = decode([bytes.fromhex(f) for f in frames])
        if not same(decoded, as_decoded(c["value"])):
            raise SystemExit(f"{c['name']}: frames decode to {decoded!r}, not {c['value']!r}")
        entry = {"name": c["name"], "value": to_tagged(c["value"]), "frames": frames, "encoders": c["encoders"]}
        if ipc:
            entry["ipc"] = ipc
        cases.append(entry)
    return {"protocol": PROTOCOL_VERSION, "cases": cases}




def render(doc: Dict[str, Any]) -> str:
    # One case per line: diffs of the file stay readable.
    lines = [json.dumps(c, ensure_ascii=False) for c in doc["cases"]]
    return '{"protocol": %d,\n "cases": [\n  ' % doc["protocol"] + ",\n  ".join(lines) + "\n]}\n"


def main() -> None:
    text = render(build())
    if "--check" in sys.argv:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                raise SystemExit("protocol/vectors.json is out of date: run protocol/make_vectors.py")
        return
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {len(json.loads(text)['cases'])} cases to {OUT}")


if __name__ == "__main__":
    main()
