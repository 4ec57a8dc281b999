"""Calling the Node functions a pool exposes: ``from piton import node; node.call('lookup', key)``.

The pool names them when it starts (``PythonPool.start({ expose: { lookup: fn } })``) and the
worker learns the names in the handshake, so a name that is not exposed raises here at once.
"""

from __future__ import annotations

from typing import Any, FrozenSet

from . import protocol as p
from .conversation import CURRENT
from .errors import NodeError, NotExposedError, ProtocolError

__all__ = ["call", "exposed", "NodeError", "NotExposedError"]


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Runs the Node function exposed as ``name`` and returns its (awaited) result.

    ``args`` reach it as its arguments; ``kwargs``, if any, as one more, last argument: a plain
    object (``node.call('find', 'x', limit=3)`` calls ``fn('x', { limit: 3 })``). Values travel as
    those of a call do (arrays without copies). If the function throws, :class:`NodeError` is
    raised with the JavaScript error's name and message. A name that is not exposed raises
    :class:`NotExposedError` before anything is sent. Works only while a call from Node runs, on
    the thread that runs it; the time spent counts toward that call's timeout."""
    conversation = CURRENT
    rid = conversation.check("node.call()")
    if name not in conversation.exposed:
        shown = ", ".join(sorted(conversation.exposed)) or "none"
        raise NotExposedError(f"no Node function named {name!r} is exposed to Python (exposed: {shown})")
    answer = conversation.ask(p.callback(rid, name, list(args), kwargs))
    if isinstance(answer, p.Return):
        return answer.value
    if isinstance(answer, p.Throw):
        raise NodeError(answer.message, answer.name, answer.stack)
    raise ProtocolError(f"Node answered 'callback' with {type(answer).__name__.lower()!r}, not 'return' or 'throw'")


def exposed() -> FrozenSet[str]:
    """The names of the Node functions this worker may call."""
    return CURRENT.exposed
