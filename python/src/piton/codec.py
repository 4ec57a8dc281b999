"""MessagePack codec of the wire protocol (PROTOCOL.md, "Values").

A message is a list of frames: frame 0 is one MessagePack value, frames 1..n are the raw bytes
of arrays, referenced from frame 0 by ext 1 values. Extensions on top of MessagePack:

- ext -1 (timestamp) <-> ``datetime`` with ``tzinfo=UTC``; a naive datetime is sent as UTC;
- ext 1 <-> ``numpy.ndarray`` (or :class:`RawArray` when numpy is missing);
- ext 2 <-> ``int`` beyond int64/uint64, as big-endian two's complement of minimal length;
- ext 3 <-> Arrow tables: pandas/polars/pyarrow frames and columns out, ``pyarrow.Table`` /
  ``pyarrow.Array`` in, the IPC stream being a frame of its own (:mod:`piton.arrow`).

Everything else is plain MessagePack. Choices made here, on record in PROTOCOL.md:
``set``/``frozenset`` are refused (no order, no lossless JS counterpart), ``bool`` and other
unsupported dtypes are refused, so are masked arrays (the mask would be lost), a 0-d array is sent
as its scalar, numpy scalars as plain numbers.
"""

from __future__ import annotations

import datetime as _dt
import sys
import threading
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import msgpack

from .arrow import describe_tabular, from_ipc, is_ipc_frame, to_ipc
from .errors import EncodeError, MissingDependency, ProtocolError
from .lazy import import_optional

#: numpy, imported on first need: it is optional (without it arrays arrive as RawArray), and an
#: interpreter that never meets an array should not pay its import (~300 ms) at every start.
#: ``False`` until looked for, ``None`` when it is not installed (the tests also set ``None``).
_np: Any = False


def _numpy() -> Any:
    global _np
    if _np is False:
        _np = import_optional("numpy")
    return _np


def _numpy_if_imported() -> Any:
    # A value can only be an ndarray if something has imported numpy already.
    return _np if _np is not False else sys.modules.get("numpy")

__all__ = ["RawArray", "DTYPES", "Buffer", "encode", "decode", "frames_size", "owned", "EXT_ARRAY", "EXT_BIGINT", "EXT_TABLE"]

EXT_ARRAY = 1
EXT_BIGINT = 2
EXT_TABLE = 3

#: The kinds of an ext 3 value: a table, or one column of one.
TABLE_KINDS = ("table", "vector")

#: Tables decoded so far by this process: the handler compares it around a request's decoding to
#: learn, for the price of reading a number, whether its arguments hold any.
tables_decoded = 0

#: The dtypes an array may have on the wire, with their item sizes in bytes.
DTYPES = {
    "float64": 8,
    "float32": 4,
    "int8": 1,
    "int16": 2,
    "int32": 4,
    "int64": 8,
    "uint8": 1,
    "uint16": 2,
    "uint32": 4,
    "uint64": 8,
}

_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1
_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)

#: What a frame may be: anything exposing the buffer protocol (bytes, memoryview, zmq.Frame).
Buffer = Union[bytes, bytearray, memoryview, Any]


class RawArray:
    """An array received while numpy is not installed: its dtype, its shape (C order) and a
    read-only view of its little-endian bytes. It is sent back as the same array."""

    __slots__ = ("dtype", "shape", "data")

    def __init__(self, dtype: str, shape: Sequence[int], data: Buffer) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"RawArray dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.dtype = dtype
        self.shape = tuple(int(n) for n in shape)
        self.data = memoryview(data).cast("B")
        expected = _product(self.shape) * DTYPES[dtype]
        if self.data.nbytes != expected:
            raise ValueError(
                f"RawArray of dtype {dtype} and shape {list(self.shape)} needs {expected} bytes, "
                f"got {self.data.nbytes}"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RawArray):
            return NotImplemented
        return (self.dtype, self.shape) == (other.dtype, other.shape) and self.data == other.data

    def __repr__(self) -> str:
        return f"RawArray(dtype={self.dtype!r}, shape={list(self.shape)!r}, nbytes={self.data.nbytes})"


def _product(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# ---------------------------------------------------------------------------------- encoding


def _bigint_payload(n: int) -> bytes:
    # One bit more than the magnitude needs, for the sign; ~n covers negatives exactly.
    length = (~n if n < 0 else n).bit_length() // 8 + 1
    return n.to_bytes(length, "big", signed=True)


def _timestamp(value: _dt.datetime) -> msgpack.Timestamp:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    delta = value - _EPOCH
    return msgpack.Timestamp(delta.days * 86400 + delta.seconds, delta.microseconds * 1000)


def _type_name(value: Any) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _type_error(value: Any) -> EncodeError:
    return EncodeError(f"cannot encode object of type '{_type_name(value)}'")


class _Encoder:
    """Encodes messages; the ``default`` hook collects the current message's array frames.

    One per thread (see :func:`encode`): building a Packer costs more than packing a small call.
    """

    def __init__(self) -> None:
        self.frames: List[Buffer] = []
        self._offset = 0
        self._packer = msgpack.Packer(default=self._default, use_bin_type=True, datetime=False)

    def encode(self, value: Any, frame_offset: int = 0) -> List[Buffer]:
        self.frames = []
        self._offset = frame_offset
        try:
            head = self._packer.pack(value)
        except EncodeError:
            self._packer.reset()
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            # msgpack's own refusals: nesting too deep (or circular), a string too long, ...
            self._packer.reset()
            raise EncodeError(f"cannot encode value: {exc}") from None
        frames, self.frames = [head, *self.frames], []
        return frames

    def _default(self, value: Any) -> Any:
        if isinstance(value, int):  # only called for ints beyond int64/uint64
            return msgpack.ExtType(EXT_BIGINT, _bigint_payload(int(value)))
        if isinstance(value, _dt.datetime):
            return _timestamp(value)
        if isinstance(value, RawArray):
            return self._array(value.dtype, value.shape, value.data)
        np = _numpy_if_imported()
        if np is not None:
            if isinstance(value, np.ndarray):
                return self._ndarray(np, value)
            if isinstance(value, np.generic):
                return self._scalar(value)
        tabular = describe_tabular(value)
        if tabular is not None:
            kind, stream = to_ipc(value, tabular)
            self.frames.append(stream)
            meta = msgpack.packb([kind, self._offset + len(self.frames)], use_bin_type=True)
            return msgpack.ExtType(EXT_TABLE, meta)
        raise _type_error(value)

    def _array(self, dtype: str, shape: Sequence[int], data: Buffer) -> msgpack.ExtType:
        self.frames.append(data)
        meta = msgpack.packb([dtype, list(shape), self._offset + len(self.frames)], use_bin_type=True)
        return msgpack.ExtType(EXT_ARRAY, meta)

    def _ndarray(self, np: Any, array: Any) -> Any:
        # A masked array is an ndarray whose mask the wire has no place for: sent as one, its
        # masked values would arrive as if they were data. (numpy.ma is imported only on use.)
        ma = sys.modules.get("numpy.ma")
        if ma is not None and isinstance(array, ma.MaskedArray):
            raise EncodeError(
                f"cannot encode object of type '{_type_name(array)}': its mask would be lost; send "
                "array.filled(value), or array.data and array.mask.astype('uint8') as two arrays"
            )
        if array.ndim == 0:
            return self._scalar(array[()])
        name = array.dtype.name
        if name not in DTYPES:
            raise EncodeError(
                f"cannot encode numpy array of dtype '{name}': supported dtypes are "
                f"{', '.join(DTYPES)}" + (" (send a bool array as .astype('uint8'))" if name == "bool" else "")
            )
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        array = np.ascontiguousarray(array)
        # A flat byte view: zero-copy, and one-dimensional whatever the shape.
        return self._array(name, array.shape, array.reshape(-1).view(np.uint8).data)

    def _scalar(self, scalar: Any) -> Any:
        item = scalar.item()
        if isinstance(item, (bool, int, float, str, bytes)):
            if isinstance(item, int) and not isinstance(item, bool) and not _INT64_MIN <= item <= _UINT64_MAX:
                return msgpack.ExtType(EXT_BIGINT, _bigint_payload(item))
            return item
        if isinstance(item, _dt.datetime):
            return _timestamp(item)
        raise _type_error(scalar)


_local = threading.local()


def encode(value: Any, frame_offset: int = 0) -> List[Buffer]:
    """Encode ``value`` as frames: ``[msgpack bytes, array buffer, ...]``.

    ``frame_offset``: the frames that will precede these in the message, when ``value`` is one
    part of a message assembled from parts (its ext 1 indices then start at ``frame_offset + 1``).
    Raises :class:`EncodeError` naming the Python type of the first value it cannot encode.
    """
    encoder = getattr(_local, "encoder", None)
    if encoder is None:
        encoder = _local.encoder = _Encoder()
    return encoder.encode(value, frame_offset)


# ---------------------------------------------------------------------------------- decoding


def _ext_hook(frames: Sequence[Buffer]) -> Callable[[int, bytes], Any]:
    def hook(code: int, data: bytes) -> Any:
        if code == EXT_BIGINT:
            if not data:
                raise ProtocolError("ext 2 (big integer) with an empty payload")
            return int.from_bytes(data, "big", signed=True)
        if code == EXT_ARRAY:
            return _decode_array(data, frames)
        if code == EXT_TABLE:
            return _decode_table(data, frames)
        raise ProtocolError(f"unknown MessagePack extension type {code}")

    return hook


#: The ext hook of every one-frame message: an array or table it names is out of range (the
#: message has 1 frame), whatever that frame is.
_ONE_FRAME_HOOK = _ext_hook((b"",))


def _decode_array(data: bytes, frames: Sequence[Buffer]) -> Any:
    try:
        meta = msgpack.unpackb(data, raw=False)
    except Exception as exc:
        raise ProtocolError(f"ext 1 (array) payload is not MessagePack: {exc}") from None
    if not (isinstance(meta, list) and len(meta) == 3):
        raise ProtocolError(f"ext 1 (array) payload must be [dtype, shape, frame], got {meta!r}")
    dtype, shape, index = meta
    if dtype not in DTYPES:
        raise ProtocolError(f"ext 1 (array) dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise ProtocolError(f"ext 1 (array) shape must be a list of non-negative integers, got {shape!r}")
    if not (type(index) is int and 1 <= index < len(frames)):
        raise ProtocolError(
            f"ext 1 (array) frame index {index!r} is out of range: the message has {len(frames)} frames"
        )
    # toreadonly: a received frame is writable in pyzmq, but arrays arrive read-only (PROTOCOL.md).
    buffer = memoryview(frames[index]).toreadonly().cast("B")
    expected = _product(shape) * DTYPES[dtype]
    if buffer.nbytes != expected:
        raise ProtocolError(
            f"ext 1 (array) of dtype {dtype} and shape {shape} needs {expected} bytes, "
            f"frame {index} has {buffer.nbytes}"
        )
    np = _numpy()
    if np is None:
        return RawArray(dtype, shape, buffer)
    return np.frombuffer(buffer, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)


def _decode_table(data: bytes, frames: Sequence[Buffer]) -> Any:
    global tables_decoded
    try:
        meta = msgpack.unpackb(data, raw=False)
    except Exception as exc:
        raise ProtocolError(f"ext 3 (table) payload is not MessagePack: {exc}") from None
    if not (isinstance(meta, list) and len(meta) == 2):
        raise ProtocolError(f"ext 3 (table) payload must be [kind, frame], got {meta!r:.80}")
    kind, index = meta
    if kind not in TABLE_KINDS:
        raise ProtocolError(f"ext 3 (table) kind must be 'table' or 'vector', got {kind!r:.40}")
    if not (type(index) is int and 1 <= index < len(frames)):
        raise ProtocolError(
            f"ext 3 (table) frame index {index!r} is out of range: the message has {len(frames)} frames"
        )
    value = from_ipc(kind, frames[index])
    tables_decoded += 1
    return value


def decode(frames: Sequence[Buffer]) -> Any:
    """Decode a message's frames into a Python value (arrays view their frames, no copy).

    Raises :class:`ProtocolError` for anything that is not valid protocol data,
    :class:`MissingDependency` for a table when pyarrow is not installed.
    """
    if not frames:
        raise ProtocolError("empty message: expected at least one frame")
    try:
        return msgpack.unpackb(
            frames[0],
            raw=False,
            strict_map_key=False,
            timestamp=3,
            # Most messages are one frame: their hook is made once (it refers to no other frame).
            ext_hook=_ext_hook(frames) if len(frames) > 1 else _ONE_FRAME_HOOK,
            use_list=True,
        )
    except (ProtocolError, MissingDependency):
        raise
    except Exception as exc:  # ExtraData, FormatError, unhashable keys, invalid UTF-8, ...
        raise ProtocolError(f"undecodable message: {type(exc).__name__}: {exc}") from None


def frames_size(frames: Sequence[Buffer]) -> int:
    """Total size in bytes of a message's frames."""
    return sum(len(f) if type(f) is bytes else memoryview(f).nbytes for f in frames)


def owned(frame: Buffer) -> bool:
    """Whether a frame :func:`encode` made is memory of its own (``bytes``, an Arrow IPC stream)
    rather than a view of a value's memory, which user code could write to before it is sent."""
    return type(frame) is bytes or is_ipc_frame(frame)
