"""Tables on the wire, in-process (PROTOCOL.md, "Tables (ext 3)"): pandas, polars and pyarrow
values encode to an IPC stream in a frame of their own and decode to pyarrow values that view
it; what Arrow cannot hold, and a missing pyarrow, are errors that say what to do; parameters
annotated with a frame type get it. The same values cross a real pool in test/tables.test.ts."""

import datetime as dt
import decimal
import math
import os
import struct
import subprocess
import sys

import msgpack
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from helpers import FIXTURES, Worker, worker_env
from piton import arrow, codec
from piton.codec import decode, encode, owned
from piton.entries import Entries
from piton.errors import EncodeError, MissingDependency
from piton.handler import Action, Handler
from piton.resolver import Resolver


def round_trip(value):
    frames = encode(value)
    return decode([bytes(memoryview(f).cast("B")) for f in frames])


def float_bits(array):
    return [struct.pack("<d", v) if v is not None else None for v in array.to_pylist()]


# ------------------------------------------------------------------------------ pandas


def test_a_pandas_frame_keeps_names_order_nulls_nan_minus_zero_and_big_integers():
    df = pd.DataFrame({
        "z": [2**60 + 1, -(2**63), 0],
        "a": [math.nan, -0.0, 1.5],
        "n": pd.array([1, None, 3], dtype="Int64"),
        "s": ["", "Grüße 👋🏽", None],
    })
    table = round_trip(df)
    assert isinstance(table, pa.Table)
    assert table.column_names == ["z", "a", "n", "s"]
    assert table.column("z").to_pylist() == [2**60 + 1, -(2**63), 0]
    assert float_bits(table.column("a").combine_chunks()) == [struct.pack("<d", math.nan), struct.pack("<d", -0.0),
                                                              struct.pack("<d", 1.5)]
    assert table.column("a").null_count == 0, "NaN stays NaN, it does not become null"
    assert table.column("n").to_pylist() == [1, None, 3]
    assert table.column("s").to_pylist() == ["", "Grüße 👋🏽", None]
    pd.testing.assert_frame_equal(table.to_pandas(), df)


def test_a_pandas_index_is_kept_as_pyarrow_keeps_it():
    ranged = round_trip(pd.DataFrame({"x": [1, 2]}))
    assert ranged.column_names == ["x"], "a RangeIndex is metadata only"
    assert b"range" in ranged.schema.metadata[b"pandas"]
    named = round_trip(pd.DataFrame({"x": [1, 2]}, index=pd.Index(["a", "b"], name="key")))
    assert named.column_names == ["x", "key"]
    unnamed = round_trip(pd.DataFrame({"x": [1, 2]}, index=[10, 20]))
    assert unnamed.column_names == ["x", "__index_level_0__"]
    assert list(named.to_pandas().index) == ["a", "b"] and named.to_pandas().index.name == "key"


def test_pandas_types_arrive_as_their_arrow_types():
    df = pd.DataFrame({
        "when": pd.DatetimeIndex([pd.Timestamp("2024-03-31 01:30"), pd.NaT]).tz_localize("Europe/Paris"),
        "day": [dt.date(2024, 2, 29), None],
        "category": pd.Categorical(["b", "a"], categories=["a", "b", "c"]),
        "decimal": [decimal.Decimal("12345678901234567890.12"), None],
        "list": [[1, 2], None],
        "struct": [{"x": 1}, None],
    })
    table = round_trip(df)
    types = {name: table.schema.field(name).type for name in table.column_names}
    assert types["when"] == pa.timestamp("us", tz="Europe/Paris")
    assert types["day"] == pa.date32()
    assert pa.types.is_dictionary(types["category"])
    assert table.column("category").chunk(0).dictionary.to_pylist() == ["a", "b", "c"], "unused categories too"
    assert types["decimal"] == pa.decimal128(22, 2)
    assert table.column("decimal").to_pylist() == [decimal.Decimal("12345678901234567890.12"), None]
    assert pa.types.is_list(types["list"]) and pa.types.is_struct(types["struct"])
    pd.testing.assert_frame_equal(table.to_pandas(), df)


def test_a_pandas_series_arrives_as_an_array_nan_kept():
    values = round_trip(pd.Series([0.5, math.nan, None], name="ratio"))
    assert isinstance(values, pa.Array) and values.type == pa.float64()
    assert values.null_count == 0 and math.isnan(values[1].as_py()) and math.isnan(values[2].as_py())
    categories = round_trip(pd.Series(pd.Categorical(["lo", "hi", "lo"])))
    assert isinstance(categories, pa.DictionaryArray) and categories.to_pylist() == ["lo", "hi", "lo"]


def test_a_column_arrow_cannot_hold_is_an_encode_error_naming_it_and_its_dtype():
    class Opaque:
        pass

    df = pd.DataFrame({"fine": [1, 2], "opaque": [Opaque(), Opaque()]})
    with pytest.raises(EncodeError, match=r"column 'opaque' \(dtype object\) of a pandas\.DataFrame .*Opaque"):
        encode(["ok", 1, df])
    with pytest.raises(EncodeError, match=r"column 'mixed' \(dtype object\).*'a' with type str"):
        encode(pd.DataFrame({"mixed": [1, "a"]}))
    with pytest.raises(EncodeError, match="Duplicate column names"):
        encode(pd.DataFrame([[1, 2]], columns=["x", "x"]))
    with pytest.raises(EncodeError, match=r"pandas\.Series 'o' \(dtype object\)"):
        encode(pd.Series([Opaque()], name="o"))
    # The encoder is usable after a refusal.
    assert decode(encode([1, "two"])) == [1, "two"]


# ------------------------------------------------------------------------------ polars, pyarrow


def test_polars_frames_and_series_arrive_as_their_arrow_form():
    frame = pl.DataFrame({"i": pl.Series([1, None, 2**60 + 1], dtype=pl.Int64), "s": ["", "ü", None],
                          "c": pl.Series(["a", "b", "a"], dtype=pl.Categorical)})
    table = round_trip(frame)
    assert table.equals(frame.to_arrow())
    assert pl.from_arrow(table).equals(frame)
    series = round_trip(pl.Series("x", [1.5, None, float("nan")]))
    assert isinstance(series, pa.Array) and series.null_count == 1 and math.isnan(series[2].as_py())


def test_a_polars_object_column_is_refused_naming_it():
    frame = pl.DataFrame({"fine": [1], "opaque": [object()]}, schema={"fine": pl.Int64, "opaque": pl.Object})
    with pytest.raises(EncodeError, match=r"column 'opaque' \(dtype Object\) of a polars\.DataFrame"):
        encode(frame)


def test_pyarrow_values_arrive_as_tables_and_arrays():
    table = pa.table({"a": [1, 2, 3]}, metadata={"k": "v"})
    assert round_trip(table).equals(table, check_metadata=True)
    assert round_trip(table.to_batches()[0]).equals(table)
    assert round_trip(pa.chunked_array([[1, 2], [3]])).equals(pa.array([1, 2, 3]))
    assert round_trip(pa.array(["x", None])).equals(pa.array(["x", None]))
    empty = pa.table({"a": pa.array([], type=pa.int8())})
    assert round_trip(empty).schema == empty.schema and round_trip(empty).num_rows == 0


def test_tables_nest_in_values_beside_arrays_with_frames_numbered_in_order():
    table = pa.table({"a": [1]})
    frames = encode({"t": table, "arr": np.arange(3), "v": pa.array([1.5])})
    assert len(frames) == 4 and all(owned(frames[i]) for i in (1, 3)) and not owned(frames[2])
    value = decode([bytes(memoryview(f).cast("B")) for f in frames])
    assert value["t"].equals(table) and list(value["arr"]) == [0, 1, 2] and value["v"].to_pylist() == [1.5]


# ------------------------------------------------------------------------------ copies


def test_the_ipc_stream_is_written_once_into_a_buffer_of_its_size_and_never_copied_again():
    table = pa.table({"x": np.arange(100_000, dtype="float64")})
    frames = encode(table)
    stream = frames[1]
    counter = pa.MockOutputStream()
    with pa.ipc.new_stream(counter, table.schema) as writer:
        writer.write(table)
    assert isinstance(stream, pa.Buffer) and owned(stream)
    assert stream.size == counter.size() and stream.size > table.nbytes
    entries = Entries(1 << 30)
    entries.add(pa.table({"x": [1.0]}))
    before = entries._frames[0]
    entries.freeze_last()  # arrays' memory is copied here; a stream is memory of its own
    assert entries._frames[0] is before


def test_a_streams_memory_is_reused_once_nothing_holds_it_and_let_go_when_idle(monkeypatch):
    memory = arrow._StreamMemory()
    monkeypatch.setattr(arrow, "_memory", memory)
    table = pa.table({"x": np.arange(100_000, dtype="float64")})
    first = encode(table)
    held = encode(table)  # the first is still held (as by a frame being sent): fresh memory
    assert held[1].address != first[1].address
    kept_address = first[1].address
    del first
    again = encode(table)
    assert again[1].address == kept_address, "the memory of a stream nothing holds any more"
    assert again[1].to_pybytes() == held[1].to_pybytes()
    memory.last_take -= memory.IDLE_SECONDS
    arrow.release_idle()
    assert memory._kept == [] and memory._kept_bytes == 0


def test_a_received_table_views_the_frame_without_a_copy():
    data = np.arange(1 << 16, dtype="float64")
    frames = encode(pa.table({"x": data}))
    received = bytearray(memoryview(frames[1]).cast("B"))  # as pyzmq hands a frame: writable memory
    table = decode([frames[0], received])
    start = np.frombuffer(received, dtype=np.uint8).ctypes.data
    values = table.column("x").chunk(0).buffers()[1]
    assert start <= values.address < start + len(received), "the column is a view of the frame"
    assert np.array_equal(table.column("x").to_numpy(), data)


# ------------------------------------------------------------------------------ no pyarrow


def test_without_pyarrow_a_frame_to_send_or_a_table_received_names_the_fix(monkeypatch):
    frames = encode(pa.table({"a": [1]}))
    monkeypatch.setattr(arrow, "_pa", None)
    with pytest.raises(MissingDependency) as sent:
        encode(["ok", 1, pd.DataFrame({"a": [1]})])
    assert str(sent.value) == ("pyarrow is not installed in the worker's Python: cannot send a pandas.DataFrame as an "
                               "Arrow table; install it with: npx piton setup --arrow")
    assert isinstance(sent.value, EncodeError), "a stream or batch handles it like any value it cannot send"
    with pytest.raises(MissingDependency, match="cannot receive an Arrow table; install it with: npx piton setup --arrow"):
        decode([frames[0], bytes(memoryview(frames[1]).cast("B"))])


def test_a_worker_without_pyarrow_answers_tables_with_missing_dependency_and_serves_on():
    with Worker(command=[os.path.join(FIXTURES, "no_pyarrow_worker.py")]) as w:
        assert w.hello()[0] == "ready"
        reply = w.call("frames", "kind", pa.table({"a": [1]}))
        assert reply[0] == "error" and reply[2]["type"] == "MissingDependency"
        assert reply[2]["message"].endswith("install it with: npx piton setup --arrow")
        reply = w.call("plain", "echo", [1, 2])
        assert reply[0] == "ok" and reply[2] == [1, 2]
        assert w.request("stop")[0] == "bye"
        assert w.wait() == 0


def test_nothing_of_arrow_is_imported_until_a_table_crosses():
    code = (
        "import sys, piton.worker\n"
        "from piton.codec import encode, decode\n"
        "from piton.handler import Handler\n"
        "from piton.resolver import Resolver\n"
        "import msgpack\n"
        "h = Handler(Resolver([]))\n"
        "h.handle([msgpack.packb(['call', 1, 'os', 'getpid', [], None])])\n"
        "decode(encode({'a': [1, 2.5, 'x', b'y', None]}))\n"
        "print(sorted(m for m in ('pyarrow', 'pandas', 'polars', 'piton.table_hints') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=worker_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ annotations


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.syspath_prepend(FIXTURES)
    return Handler(Resolver([FIXTURES]))


def answer(handler, *envelope):
    frames = encode(list(envelope))
    reply, action = handler.handle([bytes(memoryview(f).cast("B")) for f in frames])
    assert action is Action.CONTINUE
    return decode(reply)


def test_a_parameter_annotated_with_a_frame_type_gets_that_type(handler):
    table, values = pa.table({"a": [1, 2]}), pa.array([1.5, 2.5])
    assert answer(handler, "call", 1, "frames", "pandas_frame", [table], None) == ["ok", 1, "pandas.DataFrame"]
    assert answer(handler, "call", 2, "frames", "positional_only", [table], None) == ["ok", 2, "pandas.DataFrame"]
    assert answer(handler, "call", 3, "frames", "made", [table], None) == ["ok", 3, "polars.DataFrame"]
    assert answer(handler, "call", 4, "frames", "unresolvable", [table], None) == ["ok", 4, "pyarrow.Table"]
    reply = answer(handler, "call", 5, "frames", "several", [table, table, table, values, values],
                   {"named": values, "extra": table})
    assert reply == ["ok", 5, ["pandas.DataFrame", "polars.DataFrame", "pyarrow.Table", ["polars.Series", "polars.Series"],
                               "pandas.Series", {"extra": "polars.DataFrame"}]]
    # by keyword, and with a value that is not a table (it is passed as it is)
    reply = answer(handler, "call", 6, "frames", "several", [], {"a": table, "b": 7, "c": None})
    assert reply == ["ok", 6, ["pandas.DataFrame", "builtins.int", "builtins.NoneType", [], "builtins.NoneType", {}]]


def test_batches_and_streams_convert_too(handler):
    table = pa.table({"a": [1, 2]}, metadata=None)
    reply = answer(handler, "batch", 1, [["frames", "pandas_frame", [table], None], ["frames", "kind", [table], None]])
    assert reply == ["results", 1, [["ok", "pandas.DataFrame"], ["ok", "pyarrow.Table"]]]
    reply = answer(handler, "stream", 2, "frames", "stream_rows", [table], None, 5)
    assert reply == ["items", 2, [["0", "pandas.DataFrame"], ["1", "pandas.DataFrame"]], True]


def test_a_missing_pyarrow_is_the_reply_to_a_request_that_carries_a_table(handler, monkeypatch):
    frames = encode(["call", 9, "frames", "kind", [pa.table({"a": [1]})], None])
    monkeypatch.setattr(arrow, "_pa", None)
    reply, _ = handler.handle([bytes(memoryview(f).cast("B")) for f in frames])
    assert decode(reply)[:2] == ["error", 9] and decode(reply)[2]["type"] == "MissingDependency"
