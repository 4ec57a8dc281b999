"""The agent protocol (PROTOCOL.md, "The agent protocol"): what crosses the control link between a
Node process and ``python -m piton.agent``. One home for its kinds, shapes and checks.

Every message is one frame: a MessagePack array whose first item is the kind. Node sends
``hello``, ``start``, ``signal``, ``ping`` and ``bye``; the agent sends ``welcome``, ``started``,
``failed``, ``exited``, ``output``, ``pong`` and ``refused``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..codec import decode, encode
from ..errors import ProtocolError

__all__ = ["AGENT_PROTOCOL_VERSION", "SIGNALS", "StartSpec", "parse_request", "message"]

AGENT_PROTOCOL_VERSION = 1

#: The signals Node may ask the agent to send to an interpreter's process group.
SIGNALS = ("SIGTERM", "SIGKILL")


class StartSpec:
    """The body of ``start``: how to run one interpreter (the worker's command-line options)."""

    __slots__ = ("id", "path", "preload", "max_message_size", "allow_modules", "allow_private", "allow_reexports",
                 "env", "cwd")

    def __init__(self, body: Dict[str, Any]) -> None:
        self.id = _str("start", "id", body.get("id"))
        self.path = _strs("start", "path", body.get("path", []))
        self.preload = _strs("start", "preload", body.get("preload", []))
        size = body.get("maxMessageSize")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ProtocolError(f"start: maxMessageSize must be a positive integer, got {size!r}")
        self.max_message_size = size
        self.allow_modules = _strs("start", "allowModules", body.get("allowModules", []))
        self.allow_private = body.get("allowPrivate", False) is True
        self.allow_reexports = _strs("start", "allowReexports", body.get("allowReexports", []))
        env = body.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in env.items()):
            raise ProtocolError("start: env must be a map of string to string or nil")
        self.env: Dict[str, Optional[str]] = env
        cwd = body.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ProtocolError(f"start: cwd must be a string or nil, got {cwd!r}")
        self.cwd: Optional[str] = cwd


def _str(kind: str, field: str, value: Any) -> str:
    if not isinstance(value, str) or value == "":
        raise ProtocolError(f"{kind}: {field} must be a non-empty string, got {value!r}")
    return value


def _strs(kind: str, field: str, value: Any) -> List[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{kind}: {field} must be a list of strings, got {value!r}")
    return value


def _uint(kind: str, field: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{kind}: {field} must be an unsigned integer, got {value!r}")
    return value


def parse_request(frames: List[bytes]) -> List[Any]:
    """Decodes and checks one message from Node: returns ``[kind, ...]`` with checked fields
    (``start``'s body becomes a :class:`StartSpec`). Raises :class:`ProtocolError`."""
    if len(frames) != 1:
        raise ProtocolError(f"an agent message has one frame, got {len(frames)}")
    envelope = decode(frames)
    if not isinstance(envelope, list) or not envelope or not isinstance(envelope[0], str):
        raise ProtocolError("an agent message is an array whose first item is its kind")
    kind = envelope[0]
    shapes = {"hello": 3, "start": 3, "signal": 3, "ping": 2, "bye": 1}
    if kind not in shapes:
        raise ProtocolError(f"unknown agent message kind {kind!r}")
    if len(envelope) != shapes[kind]:
        raise ProtocolError(f"{kind}: expected {shapes[kind]} items, got {len(envelope)}")
    if kind == "hello":
        body = envelope[2]
        if not isinstance(body, dict):
            raise ProtocolError("hello: the third item must be a map")
        timeout = _uint("hello", "timeout", body.get("timeout"))
        return ["hello", _uint("hello", "protocol", envelope[1]), {"pid": body.get("pid"), "timeout": timeout}]
    if kind == "start":
        if not isinstance(envelope[2], dict):
            raise ProtocolError("start: the third item must be a map")
        return ["start", _uint("start", "ref", envelope[1]), StartSpec(envelope[2])]
    if kind == "signal":
        if envelope[2] not in SIGNALS:
            raise ProtocolError(f"signal: must be one of {', '.join(SIGNALS)}, got {envelope[2]!r}")
        return ["signal", _uint("signal", "ref", envelope[1]), envelope[2]]
    if kind == "ping":
        return ["ping", _uint("ping", "n", envelope[1])]
    return ["bye"]


def message(*items: Any) -> bytes:
    """One agent → Node message, encoded."""
    (frame,) = encode(list(items))
    return bytes(frame)
