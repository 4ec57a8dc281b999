"""Tables on the wire (PROTOCOL.md, "Tables (ext 3)"): pandas, polars and pyarrow values as Arrow
IPC streams, each carried as its own frame, and received streams as pyarrow values.

Sending, a value becomes a pyarrow ``Table`` (a ``pandas.DataFrame``, ``polars.DataFrame``,
``pyarrow.Table`` or ``RecordBatch``: kind ``table``) or one column (a ``pandas.Series``,
``polars.Series``, ``pyarrow.Array`` or ``ChunkedArray``: kind ``vector``), which is written as an
IPC stream into one buffer of its exact size (memory reused from reply to reply:
:class:`_StreamMemory`). That write is the one copy of the column data in Python; making the pyarrow table from a pandas frame converts what Arrow does not hold as numpy
does (strings, objects), and wraps numeric columns without copying them.

Choices, on record in PROTOCOL.md and the README:

- a pandas frame is converted by ``pyarrow.Table.from_pandas``, so its index is kept as pyarrow
  keeps it (a ``RangeIndex`` in the schema's pandas metadata, any other index as columns named
  after its levels, ``__index_level_0__`` when unnamed), except that a float column's NaN stays
  NaN: ``from_pandas`` would make it null, while the wire keeps values bit for bit;
- a column Arrow cannot hold (Python objects of any other kind, a polars ``Object`` column, which
  polars would export as raw pointers) is an :class:`EncodeError` naming the column and its dtype;
- without pyarrow, sending a frame or receiving a table is a :class:`MissingDependency` that names
  the command that installs it.

Receiving, a ``table`` arrives as a ``pyarrow.Table`` and a ``vector`` as a ``pyarrow.Array``; both
view the received frame (no copy), except a vector sent in several chunks, which is concatenated.

Nothing here is imported until a value needs it: pandas, polars and pyarrow are recognised only
once something else has imported them, and pyarrow is imported on first need.
"""

from __future__ import annotations

import sys
import time
from typing import Any, List, Optional, Tuple

from .errors import EncodeError, MissingDependency, ProtocolError
from .lazy import import_optional

__all__ = ["EXT_TABLE", "SETUP_COMMAND", "describe_tabular", "to_ipc", "from_ipc", "is_ipc_frame", "release_idle"]

EXT_TABLE = 3

#: The name of a vector's one column on the wire (not part of the value: it arrives as an Array).
VECTOR_COLUMN = "values"

#: What installs pyarrow into the project's Python environment.
SETUP_COMMAND = "npx piton setup --arrow"

#: The 8 bytes that end an Arrow IPC stream (a continuation marker and a zero metadata length).
END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"

#: pyarrow once looked for: ``False`` until then, ``None`` when it is not installed.
_pa: Any = False


def _pyarrow() -> Any:
    global _pa
    if _pa is False:
        module = import_optional("pyarrow")
        _pa = None if module is None or import_optional("pyarrow.ipc") is None else module
    return _pa


def _require_pyarrow(what: str) -> Any:
    pa = _pyarrow()
    if pa is None:
        raise MissingDependency("pyarrow", what, SETUP_COMMAND)
    return pa


def describe_tabular(value: Any) -> Optional[str]:
    """``'pandas.DataFrame'`` (and so on) when ``value`` is a value of a library this module
    sends as a table or a vector, else None. Only libraries already imported are looked at."""
    modules = sys.modules
    pd = modules.get("pandas")
    if pd is not None:
        if isinstance(value, pd.DataFrame):
            return "pandas.DataFrame"
        if isinstance(value, pd.Series):
            return "pandas.Series"
    pl = modules.get("polars")
    if pl is not None:
        if isinstance(value, pl.DataFrame):
            return "polars.DataFrame"
        if isinstance(value, pl.Series):
            return "polars.Series"
    pa = modules.get("pyarrow")
    if pa is not None:
        for name in ("Table", "RecordBatch", "Array", "ChunkedArray"):
            if isinstance(value, getattr(pa, name)):
                return f"pyarrow.{name}"
    return None


def to_ipc(value: Any, description: str) -> Tuple[str, Any]:
    """``(kind, stream)``: ``kind`` is ``table`` or ``vector``, ``stream`` a ``pyarrow.Buffer``
    holding the IPC stream. ``description`` is what :func:`describe_tabular` said of ``value``."""
    pa = _require_pyarrow(f"cannot send a {description} as an Arrow table")
    library, _, kind_name = description.partition(".")
    if library == "pandas":
        data = _from_pandas_frame(pa, value) if kind_name == "DataFrame" else _from_pandas_series(pa, value)
    elif library == "polars":
        data = _from_polars(value, kind_name)
    else:
        data = value
    if kind_name in ("DataFrame", "Table", "RecordBatch"):
        return "table", _write(pa, data)
    return "vector", _write(pa, pa.Table.from_arrays([data], names=[VECTOR_COLUMN]))


def _write(pa: Any, data: Any) -> Any:
    """The IPC stream of a table or record batch, written once into a buffer of its exact size
    (measured first by a stream that only counts: no copy, and no buffer grown and copied)."""
    counter = pa.MockOutputStream()
    with pa.ipc.new_stream(counter, data.schema) as writer:
        writer.write(data)
    buffer = _memory.take(pa, counter.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buffer), data.schema) as writer:
        writer.write(data)
    return buffer


class _StreamMemory:
    """Buffers for IPC streams, reused from reply to reply.

    Writing a large stream into fresh memory costs the kernel's page faults on top of the copy
    (the allocator maps a large block anew each time, as the block of the previous reply is freed
    by pyzmq's thread once libzmq has sent it). A program returns tables of the same few sizes, so
    each stream's buffer is kept, and reused for the next stream of its size once nothing else
    holds it: ``sys.getrefcount`` tells, since a frame being sent holds a reference until libzmq
    lets it go. At most :data:`MAX_BYTES` are kept, and all are let go once no stream was written
    for :data:`IDLE_SECONDS` (the serve loop calls :func:`release_idle` while it waits)."""

    MAX_BYTES = 256 * 1024 * 1024
    IDLE_SECONDS = 1.0
    #: Below this a stream is written into fresh memory (the allocator serves it cheaply).
    MIN_BYTES = 64 * 1024

    def __init__(self) -> None:
        self._kept: List[Any] = []
        self._kept_bytes = 0
        self.last_take = 0.0

    def take(self, pa: Any, size: int) -> Any:
        if size < self.MIN_BYTES:
            return pa.allocate_buffer(size)
        self.last_take = time.monotonic()
        for i in range(len(self._kept)):
            # 2: the list's reference and the argument's. A frame still being sent holds one more.
            if self._kept[i].size == size and sys.getrefcount(self._kept[i]) == 2:
                return self._kept[i]
        buffer = pa.allocate_buffer(size)
        if self._kept_bytes + size <= self.MAX_BYTES:
            self._kept.append(buffer)
            self._kept_bytes += size
        return buffer

    def release_idle(self) -> None:
        if self._kept and time.monotonic() - self.last_take >= self.IDLE_SECONDS:
            self._kept = []
            self._kept_bytes = 0


_memory = _StreamMemory()


def release_idle() -> None:
    """Lets go of the kept stream buffers once no stream was written for a while (cheap when none are kept)."""
    _memory.release_idle()


def _is_numpy_float(dtype: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(dtype, np.dtype) and dtype.kind == "f"


def _from_pandas_frame(pa: Any, df: Any) -> Any:
    try:
        table = pa.Table.from_pandas(df)
    except Exception as exc:
        raise _pandas_frame_error(pa, df, exc) from None
    # from_pandas takes a float column's NaN for "missing" and makes it null; the wire keeps the
    # value. The numpy column is wrapped again, without a copy, as it is.
    for i in range(df.shape[1]):
        if table.column(i).null_count and _is_numpy_float(df.dtypes.iloc[i]):
            field = table.schema.field(i)
            table = table.set_column(i, field, pa.array(df.iloc[:, i].to_numpy(), type=field.type, from_pandas=False))
    return table


def _pandas_frame_error(pa: Any, df: Any, exc: BaseException) -> EncodeError:
    """Which column Arrow cannot hold, found by converting the columns one by one."""
    for i, name in enumerate(df.columns):
        column = df.iloc[:, i]
        try:
            pa.Array.from_pandas(column)
        except Exception as column_exc:
            return EncodeError(
                f"cannot send column {name!r} (dtype {column.dtype}) of a pandas.DataFrame as Arrow: "
                f"{_reason(column_exc)}; convert or drop that column first"
            )
    return EncodeError(f"cannot send a pandas.DataFrame as an Arrow table: {_reason(exc)}")


def _from_pandas_series(pa: Any, series: Any) -> Any:
    try:
        if _is_numpy_float(series.dtype):
            return pa.array(series.to_numpy(), from_pandas=False)  # NaN stays NaN, as for frames
        return pa.Array.from_pandas(series)
    except Exception as exc:
        raise EncodeError(
            f"cannot send a pandas.Series {series.name!r} (dtype {series.dtype}) as an Arrow array: {_reason(exc)}"
        ) from None


def _from_polars(value: Any, kind_name: str) -> Any:
    pl = sys.modules["polars"]
    columns = value.schema.items() if kind_name == "DataFrame" else [(value.name, value.dtype)]
    for name, dtype in columns:
        if _holds_objects(pl, dtype):
            raise EncodeError(
                f"cannot send column {name!r} (dtype {dtype}) of a polars.{kind_name} as Arrow: "
                "it holds Python objects, which Arrow cannot hold; convert or drop that column first"
            )
    try:
        return value.to_arrow()
    except Exception as exc:
        raise EncodeError(f"cannot send a polars.{kind_name} as Arrow: {_reason(exc)}") from None


def _holds_objects(pl: Any, dtype: Any) -> bool:
    if dtype == pl.Object:
        return True
    inner = getattr(dtype, "inner", None)
    if inner is not None and _holds_objects(pl, inner):
        return True
    return any(_holds_objects(pl, field.dtype) for field in getattr(dtype, "fields", None) or ())


def _reason(exc: BaseException) -> str:
    # pyarrow's conversion errors carry (reason, "Conversion failed for column ...") as args.
    args = exc.args
    return str(args[0]) if len(args) >= 1 and isinstance(args[0], str) else str(exc)


def from_ipc(kind: str, frame: Any) -> Any:
    """A received IPC stream as a ``pyarrow.Table`` (kind ``table``) or ``pyarrow.Array`` (kind
    ``vector``), viewing ``frame``. Raises :class:`ProtocolError` for anything that is not one
    stream of that kind, :class:`MissingDependency` without pyarrow."""
    view = memoryview(frame).cast("B")
    if view.nbytes < len(END_OF_STREAM) or view[-len(END_OF_STREAM):] != END_OF_STREAM:
        raise ProtocolError("ext 3 (table) frame is not an Arrow IPC stream: it does not end with the end-of-stream marker")
    pa = _require_pyarrow("cannot receive an Arrow table")
    try:
        table = pa.ipc.open_stream(pa.py_buffer(view)).read_all()
        table.validate()
    except Exception as exc:  # ArrowInvalid, ArrowIOError, ...: whatever the bytes make pyarrow say
        raise ProtocolError(f"ext 3 (table) frame is not a readable Arrow IPC stream: {exc}") from None
    if kind == "table":
        return table
    if table.num_columns != 1:
        raise ProtocolError(f"ext 3 (table) of kind 'vector' must hold one column, got {table.num_columns}")
    column = table.column(0)
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def is_ipc_frame(frame: Any) -> bool:
    """Whether ``frame`` is a stream :func:`to_ipc` wrote: memory of its own, which no user code
    can write to, so it needs no copy before more user code runs."""
    pa = _pa if _pa is not False else None
    return pa is not None and type(frame) is pa.Buffer
