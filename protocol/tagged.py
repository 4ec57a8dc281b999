"""Tagged JSON of the shared test vectors (protocol/vectors.json), both ways, and strict equality.

JSON null, booleans, strings and arrays stand for themselves; every JSON object is a tag with
exactly one key: int, float, bytes, dict, map, datetime, ndarray, tuple, arrow (see PROTOCOL.md).

An ``arrow`` tag is ``{"kind": "table" | "vector", "ipc": hex}``: a pyarrow Table or Array given by
an Arrow IPC stream. Two tables are the same when they have the same schema (metadata included)
and the same values: the same nulls, floats bit for bit (NaN, -0), dictionaries with the same
indices and dictionary (unless empty: an empty column sends no dictionary). Padding and the bytes under a null are not values: the writers of pyarrow
and apache-arrow differ there.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

try:
    import pyarrow as pa
except ImportError:  # pragma: no cover
    pa = None

_UTC = _dt.timezone.utc


def to_tagged(value: Any) -> Any:
    """Python value -> tagged JSON."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            text = "NaN"
        elif math.isinf(value):
            text = "Infinity" if value > 0 else "-Infinity"
        elif value == 0 and math.copysign(1.0, value) < 0:
            text = "-0"
        else:
            text = repr(value)
        return {"float": text}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, tuple):
        return {"tuple": [to_tagged(v) for v in value]}
    if isinstance(value, list):
        return [to_tagged(v) for v in value]
    if isinstance(value, dict):
        tag = "dict" if all(isinstance(k, str) for k in value) else "map"
        return {tag: [[to_tagged(k), to_tagged(v)] for k, v in value.items()]}
    if isinstance(value, _dt.datetime):
        value = value.astimezone(_UTC)
        digits = "%03d" % (value.microsecond // 1000) if value.microsecond % 1000 == 0 else "%06d" % value.microsecond
        return {"datetime": value.strftime("%Y-%m-%dT%H:%M:%S.") + digits + "Z"}
    if np is not None and isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value.astype(value.dtype.newbyteorder("<"))).tobytes()
        return {"ndarray": {"dtype": value.dtype.name, "shape": list(value.shape), "data": data.hex()}}
    if type(value).__module__.split(".")[0] in ("pandas", "polars", "pyarrow"):
        from piton.arrow import describe_tabular, to_ipc

        kind, stream = to_ipc(value, describe_tabular(value))
        return {"arrow": {"kind": kind, "ipc": stream.to_pybytes().hex()}}
    raise TypeError(f"no tagged JSON form for {type(value).__name__}")


def _is_arrow(value: Any) -> bool:
    return pa is not None and isinstance(value, (pa.Table, pa.Array))


def same_arrow(a: Any, b: Any) -> bool:
    """Whether two pyarrow Tables (or Arrays) hold the same schema and values (see the top)."""
    if isinstance(a, pa.Table) and isinstance(b, pa.Table):
        return a.schema.equals(b.schema, check_metadata=True) and all(
            _same_values(a.column(i).combine_chunks(), b.column(i).combine_chunks()) for i in range(a.num_columns)
        )
    return isinstance(a, pa.Array) and isinstance(b, pa.Array) and _same_values(a, b)


def _same_values(x: Any, y: Any) -> bool:
    import pyarrow.compute as pc

    if x.type != y.type or len(x) != len(y) or x.null_count != y.null_count:
        return False
    valid = x.is_valid()
    if not valid.equals(y.is_valid()):
        return False
    kind = x.type
    if pa.types.is_floating(kind):
        bits = {16: np.uint16, 32: np.uint32, 64: np.uint64}[kind.bit_width]
        return bool(np.array_equal(np.asarray(x.fill_null(0)).view(bits), np.asarray(y.fill_null(0)).view(bits)))
    if pa.types.is_struct(kind):
        return all(_same_values(pc.filter(x.field(i), valid), pc.filter(y.field(i), valid)) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return x.value_lengths().equals(y.value_lengths()) and _same_values(x.flatten(), y.flatten())
    if pa.types.is_dictionary(kind):
        # An empty column carries no dictionary batch on the wire: its dictionary is not a value.
        return len(x) == 0 or (_same_values(x.dictionary, y.dictionary) and x.indices.equals(y.indices))
    return x.equals(y)


def from_tagged(tagged: Any) -> Any:
    """Tagged JSON -> Python value (ndarrays need numpy)."""
    if tagged is None or isinstance(tagged, (bool, str)):
        return tagged
    if isinstance(tagged, list):
        return [from_tagged(v) for v in tagged]
    if not (isinstance(tagged, dict) and len(tagged) == 1):
        raise ValueError(f"a tag is an object with exactly one key, got {tagged!r}")
    (tag, body), = tagged.items()
    if tag == "int":
        return int(body)
    if tag == "float":
        return float(body)  # Python's float() reads NaN, Infinity, -Infinity and -0 as written
    if tag == "bytes":
        return bytes.fromhex(body)
    if tag in ("dict", "map"):
        return {_key(from_tagged(k)): from_tagged(v) for k, v in body}
    if tag == "datetime":
        return _dt.datetime.fromisoformat(body.replace("Z", "+00:00"))
    if tag == "ndarray":
        data = bytes.fromhex(body["data"])
        return np.frombuffer(data, dtype=np.dtype(body["dtype"]).newbyteorder("<")).reshape(body["shape"])
    if tag == "tuple":
        return tuple(from_tagged(v) for v in body)
    if tag == "arrow":
        from piton.arrow import from_ipc

        return from_ipc(body["kind"], bytes.fromhex(body["ipc"]))
    raise ValueError(f"unknown tag {tag!r}")


def _key(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def same(a: Any, b: Any) -> bool:
    """Equality that tells 1 from 1.0 and True, -0.0 from 0.0, and compares NaN, arrays, bytes."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, (bytes, bytearray, memoryview)) and isinstance(b, (bytes, bytearray, memoryview)):
        return bytes(a) == bytes(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, _dt.datetime) and isinstance(b, _dt.datetime):
        return a.tzinfo is not None and b.tzinfo is not None and a == b
    if _is_arrow(a) or _is_arrow(b):
        return same_arrow(a, b)
    if np is not None and isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if type(a) is not type(b):
        return False
    return a == b


def as_decoded(value: Any) -> Any:
    """The value as decoding gives it back: tuples come back as lists, frames and record batches
    as the pyarrow Table (or Array) they are sent as."""
    if type(value).__module__.split(".")[0] in ("pandas", "polars", "pyarrow") and not _is_arrow(value):
        from piton.arrow import describe_tabular, from_ipc, to_ipc

        return from_ipc(*to_ipc(value, describe_tabular(value)))
    if isinstance(value, (tuple, list)):
        return [as_decoded(v) for v in value]
    if isinstance(value, dict):
        return {k: as_decoded(v) for k, v in value.items()}
    return value
