"""The envelopes of PROTOCOL.md: parsing requests (with shape checks) and building replies.

A request that does not have the documented shape raises :class:`ProtocolError` naming the
field that is wrong; the worker answers it with an ``error`` reply and keeps serving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

from .errors import ProtocolError

if TYPE_CHECKING:
    from .codec import Buffer

__all__ = [
    "PROTOCOL_VERSION",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MAX_LANES",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_VERSION_MISMATCH",
    "EXIT_PRELOAD_FAILED",
    "EXIT_ORPHANED",
    "Hello",
    "Call",
    "Stream",
    "Next",
    "Close",
    "Stop",
    "Batch",
    "Return",
    "Throw",
    "Resume",
    "Request",
    "Answer",
    "parse_request",
    "request_id",
    "ready",
    "ok",
    "error",
    "items",
    "closed",
    "bye",
    "results",
    "callback",
    "progress",
]

PROTOCOL_VERSION = 3
#: The largest message, all frames together, unless configured otherwise.
DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024 * 1024
#: The most lanes a hello may ask for (the routing id of a lane is its number, in decimal).
MAX_LANES = 10_000

# The exit codes of a worker, a forked interpreter and the fork server (PROTOCOL.md, "The worker process").
#: After ``stop`` (once ``bye`` is sent), on SIGTERM, or (fork server) when the pool closes the channel.
EXIT_OK = 0
#: The endpoint cannot be bound, or another error prevents serving.
EXIT_FAILED = 1
#: After replying to a ``hello`` of another protocol version.
EXIT_VERSION_MISMATCH = 2
#: A ``--preload`` module raised; its traceback is on stderr.
EXIT_PRELOAD_FAILED = 3
#: The parent process is gone (``--parent-pid`` check or watchdog).
EXIT_ORPHANED = 4


class _Record:
    """An immutable request: fields in ``__slots__``, compared and shown by value.

    Written out rather than made with ``dataclasses``: importing dataclasses (and inspect, ast,
    tokenize with it) and generating the methods of eight classes was the largest part of the
    worker's own import time, which every interpreter start pays.
    """

    __slots__: Tuple[str, ...] = ()

    def __init__(self, *values: Any) -> None:
        if len(values) != len(self.__slots__):
            raise TypeError(f"{type(self).__name__} takes {len(self.__slots__)} fields, got {len(values)}")
        for name, value in zip(self.__slots__, values):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is immutable")

    def _values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Hello(_Record):
    # protocol: checked by the worker, so a mismatch gets its own message. expose: the names of
    # the Node functions Python may call (``node.call``), from the optional options map. lanes:
    # how many REQ/REP lanes Node opens to carry calls (PROTOCOL.md, "Lanes"), 1 when absent.
    __slots__ = ("id", "protocol", "expose", "lanes")
    id: int
    protocol: Any
    expose: Tuple[str, ...]
    lanes: int


class Meta(_Record):
    """What a call carries besides its arguments (the options map's ``trace`` and ``context``):
    the caller's W3C trace context and the application's values (PROTOCOL.md, "Call context")."""

    __slots__ = ("traceparent", "tracestate", "baggage", "values")
    traceparent: Optional[str]
    tracestate: Optional[str]
    baggage: Optional[str]
    values: Optional[Dict[str, Any]]


class Call(_Record):
    # progress: someone in Node listens for ``progress()`` (the optional options map says so).
    # meta: the call's trace context and values, None when it carries none (most calls).
    # batched: args[0] is the inputs of several calls merged by Node, for a batched function.
    __slots__ = ("id", "module", "function", "args", "kwargs", "progress", "meta", "batched")
    id: int
    module: str
    function: str
    args: List[Any]
    kwargs: Dict[str, Any]
    progress: bool
    meta: Optional[Meta]
    batched: bool


class Stream(_Record):
    __slots__ = ("id", "module", "function", "args", "kwargs", "batch", "meta")
    id: int
    module: str
    function: str
    args: List[Any]
    kwargs: Dict[str, Any]
    batch: int
    meta: Optional[Meta]


class Next(_Record):
    __slots__ = ("id", "batch")
    id: int
    batch: int


class Close(_Record):
    __slots__ = ("id",)
    id: int


class Stop(_Record):
    __slots__ = ("id",)
    id: int


class BatchCall(_Record):
    __slots__ = ("module", "function", "args", "kwargs", "meta")
    module: str
    function: str
    args: List[Any]
    kwargs: Dict[str, Any]
    meta: Optional[Meta]


class Batch(_Record):
    __slots__ = ("id", "calls")
    id: int
    calls: List[BatchCall]


class Return(_Record):
    """Node's answer to a ``callback``: the exposed function returned ``value``."""

    __slots__ = ("id", "value")
    id: int
    value: Any


class Throw(_Record):
    """Node's answer to a ``callback``: the exposed function threw (``{name, message, stack}``)."""

    __slots__ = ("id", "name", "message", "stack")
    id: int
    name: str
    message: str
    stack: str


class Resume(_Record):
    """Node's answer to a ``progress`` message: carry on."""

    __slots__ = ("id",)
    id: int


Request = Union[Hello, Call, Stream, Next, Close, Stop, Batch, Return, Throw, Resume]
#: The requests that answer a worker's ``callback`` or ``progress`` rather than start something.
Answer = Union[Return, Throw, Resume]


def _is_uint(value: Any) -> bool:
    return type(value) is int and value >= 0


def request_id(envelope: Any) -> int:
    """The id to answer ``envelope`` with: its own when readable, else 0."""
    if isinstance(envelope, list) and len(envelope) >= 2 and _is_uint(envelope[1]):
        return envelope[1]
    return 0


def peek_id(head: Buffer) -> int:
    """The id of a request read from the start of frame 0 alone, for answering a message that is
    refused before it is decoded (too large) or that does not decode. 0 when it cannot be read."""
    import msgpack  # here, on this error path only: importing protocol needs nothing beyond the standard library

    try:
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(bytes(memoryview(head).cast("B")[:256]))
        if unpacker.read_array_header() < 2:
            return 0
        unpacker.skip()
        rid = unpacker.unpack()
        return rid if type(rid) is int and rid >= 0 else 0
    except Exception:
        return 0


def _expect_len(kind: str, envelope: List[Any], n: int, shape: str) -> None:
    if len(envelope) != n:
        raise ProtocolError(f"'{kind}' must be {shape} ({n} items), got {len(envelope)} items")


def _str(kind: str, field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"'{kind}' field '{field}' must be a string, got {type(value).__name__}")
    return value


def _args(kind: str, value: Any) -> List[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"'{kind}' field 'args' must be an array, got {type(value).__name__}")
    return value


def _kwargs(kind: str, value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"'{kind}' field 'kwargs' must be a map or nil, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise ProtocolError(f"'{kind}' field 'kwargs' must have string keys, got key {key!r}")
    return value


def _options(kind: str, envelope: List[Any], n: int) -> Dict[str, Any]:
    """The optional trailing options map of a request of ``n`` fixed items (empty when absent)."""
    if len(envelope) == n:
        return {}
    value = envelope[n]
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"'{kind}' options must be a map or nil, got {type(value).__name__}")
    return value


def _expose(value: Any) -> Tuple[str, ...]:
    if value is None:
        return ()
    if not (isinstance(value, list) and all(isinstance(name, str) for name in value)):
        raise ProtocolError(f"'hello' option 'expose' must be an array of strings, got {value!r:.80}")
    return tuple(value)


def _lanes(value: Any) -> int:
    if value is None:
        return 1
    if not (_is_uint(value) and 1 <= value <= MAX_LANES):
        raise ProtocolError(f"'hello' option 'lanes' must be an integer from 1 to {MAX_LANES}, got {value!r:.40}")
    return value


def _thrown(value: Any) -> Tuple[str, str, str]:
    if not (isinstance(value, dict) and isinstance(value.get("name"), str) and isinstance(value.get("message"), str)):
        raise ProtocolError(f"'throw' field 'error' must be a map {{name, message, stack}} of strings, got {value!r:.80}")
    stack = value.get("stack")
    return value["name"], value["message"], stack if isinstance(stack, str) else ""


def _batch(kind: str, value: Any) -> int:
    if not (_is_uint(value) and value >= 1):
        raise ProtocolError(f"'{kind}' field 'batch' must be an integer >= 1, got {value!r}")
    return value


def _batch_call(index: int, value: Any) -> BatchCall:
    where = f"batch call {index}"
    if not (isinstance(value, list) and len(value) in (4, 5)):
        raise ProtocolError(f"{where} must be [module, function, args, kwargs, options?], got {value!r:.80}")
    module, function, args, kwargs = value[:4]
    return BatchCall(_str(where, "module", module), _str(where, "function", function),
                     _args(where, args), _kwargs(where, kwargs), _meta(where, _options(where, value, 4)))


#: The keys of a ``trace`` option: W3C Trace Context and Baggage headers, as strings.
_TRACE_KEYS = ("traceparent", "tracestate", "baggage")


def _merged(options: Dict[str, Any]) -> bool:
    value = options.get("batched", False)
    if type(value) is not bool:
        raise ProtocolError(f"'call' option 'batched' must be a boolean, got {value!r:.40}")
    return value


def _meta(kind: str, options: Dict[str, Any]) -> Optional[Meta]:
    """The call's trace context and values from its options map; None when it carries neither."""
    trace = options.get("trace")
    values = options.get("context")
    if trace is None and values is None:
        return None
    if trace is None:
        trace = {}
    elif not (isinstance(trace, dict) and isinstance(trace.get("traceparent"), str)
              and all(k in _TRACE_KEYS and isinstance(v, str) for k, v in trace.items())):
        raise ProtocolError(f"'{kind}' option 'trace' must be a map {{traceparent, tracestate?, baggage?}} of strings, got {trace!r:.80}")
    if values is not None and not isinstance(values, dict):
        raise ProtocolError(f"'{kind}' option 'context' must be a map, got {type(values).__name__}")
    return Meta(trace.get("traceparent"), trace.get("tracestate"), trace.get("baggage"), values)


def parse_request(envelope: Any) -> Request:
    """Check a decoded envelope against PROTOCOL.md and return its request."""
    if not isinstance(envelope, list):
        raise ProtocolError(f"a request must be an array, got {type(envelope).__name__}")
    if len(envelope) < 2:
        raise ProtocolError(f"a request must be [kind, id, ...], got {len(envelope)} items")
    kind, rid = envelope[0], envelope[1]
    if not isinstance(kind, str):
        raise ProtocolError(f"request kind must be a string, got {type(kind).__name__}")
    if not _is_uint(rid):
        raise ProtocolError(f"request id must be an unsigned integer, got {rid!r}")
    if kind == "call":
        if len(envelope) != 7:
            _expect_len(kind, envelope, 6, '["call", id, module, function, args, kwargs, options?]')
        options = _options(kind, envelope, 6)
        return Call(rid, _str(kind, "module", envelope[2]), _str(kind, "function", envelope[3]),
                    _args(kind, envelope[4]), _kwargs(kind, envelope[5]), options.get("progress") is True,
                    _meta(kind, options) if options else None, _merged(options))
    if kind == "stream":
        if len(envelope) != 8:
            _expect_len(kind, envelope, 7, '["stream", id, module, function, args, kwargs, batch, options?]')
        options = _options(kind, envelope, 7)
        return Stream(rid, _str(kind, "module", envelope[2]), _str(kind, "function", envelope[3]),
                      _args(kind, envelope[4]), _kwargs(kind, envelope[5]), _batch(kind, envelope[6]),
                      _meta(kind, options) if options else None)
    if kind == "next":
        _expect_len(kind, envelope, 3, '["next", id, batch]')
        return Next(rid, _batch(kind, envelope[2]))
    if kind == "batch":
        _expect_len(kind, envelope, 3, '["batch", id, [[module, function, args, kwargs], ...]]')
        calls = envelope[2]
        if not isinstance(calls, list):
            raise ProtocolError(f"'batch' field 'calls' must be an array, got {type(calls).__name__}")
        return Batch(rid, [_batch_call(i, c) for i, c in enumerate(calls)])
    if kind == "hello":
        if len(envelope) != 4:
            _expect_len(kind, envelope, 3, '["hello", id, protocol, options?]')
        options = _options(kind, envelope, 3)
        return Hello(rid, envelope[2], _expose(options.get("expose")), _lanes(options.get("lanes")))
    if kind == "return":
        _expect_len(kind, envelope, 3, '["return", id, value]')
        return Return(rid, envelope[2])
    if kind == "throw":
        _expect_len(kind, envelope, 3, '["throw", id, {name, message, stack}]')
        return Throw(rid, *_thrown(envelope[2]))
    if kind == "resume":
        _expect_len(kind, envelope, 2, '["resume", id]')
        return Resume(rid)
    if kind == "close":
        _expect_len(kind, envelope, 2, '["close", id]')
        return Close(rid)
    if kind == "stop":
        _expect_len(kind, envelope, 2, '["stop", id]')
        return Stop(rid)
    raise ProtocolError(f"unknown request kind {kind!r:.60}")


# ------------------------------------------------------------------------------------ replies


def ready(rid: int, pid: int, python: str, piton: str, **more: Any) -> list:
    """The handshake's reply; ``more`` adds the worker's other facts (``loop``, ``lanes``, ...)."""
    return ["ready", rid, {"pid": pid, "python": python, "protocol": PROTOCOL_VERSION, "piton": piton, **more}]


def ok(rid: int, result: Any) -> list:
    return ["ok", rid, result]


def ok_batched(rid: int, result: Any, policy: Mapping[str, Any]) -> list:
    """The reply of a call to a batched function: its result, and the batching policy that Node
    follows for the calls to it that come next (PROTOCOL.md, "Dynamic batching")."""
    return ["ok", rid, result, {"batched": dict(policy)}]


def error(rid: int, info: Mapping[str, str]) -> list:
    return ["error", rid, dict(info)]


def items(rid: int, done: bool) -> Tuple[list, list]:
    """``["items", id, [item...], done]`` around its items, which entries.py assembles."""
    return ["items", rid], [done]


def closed(rid: int) -> list:
    return ["closed", rid]


def bye(rid: int) -> list:
    return ["bye", rid]


def results(rid: int) -> Tuple[list, list]:
    """``["results", id, [entry...]]`` around its entries, which entries.py assembles."""
    return ["results", rid], []


def callback(rid: int, name: str, args: List[Any], kwargs: Mapping[str, Any]) -> list:
    """Asks Node to run its exposed function ``name``; answered by ``return`` or ``throw``."""
    return ["callback", rid, name, args, dict(kwargs) if kwargs else None]


def progress(rid: int, value: Any) -> list:
    """Reports progress of the running call; answered by ``resume``."""
    return ["progress", rid, value]
