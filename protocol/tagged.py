"""Tagged JSON of the shared test vectors (protocol/vectors.json), both ways, and strict equality.

JSON null, booleans, strings and arrays stand for themselves; every JSON object is a tag with
exactly one key: int, float, bytes, dict, map, datetime, ndarray, tuple (see PROTOCOL.md).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

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
    raise TypeError(f"no tagged JSON form for {type(value).__name__}")


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
    if np is not None and isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if type(a) is not type(b):
        return False
    return a == b


def as_decoded(value: Any) -> Any:
    """The value as decoding gives it back: tuples come back as lists."""
    if isinstance(value, (tuple, list)):
        return [as_decoded(v) for v in value]
    if isinstance(value, dict):
        return {k: as_decoded(v) for k, v in value.items()}
    return value
