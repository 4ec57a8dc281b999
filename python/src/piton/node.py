"""Calling the Node functions a pool exposes: ``from piton import node; node.call('lookup', key)``.

The pool names them when it starts (``PythonPool.start({ expose: { lookup: fn } })``) and the
worker learns the names in the handshake, so a name that is not exposed raises here at once.

``node.call`` blocks until Node answers; ``await node.acall(...)`` is the form for ``async def``
code: the interpreter's loop runs its other calls while Node answers.
"""

from __future__ import annotations

from typing import Any, FrozenSet

from . import protocol as p
from .conversation import current
from .errors import NodeError, NotExposedError, ProtocolError

__all__ = ["call", "acall", "exposed", "NodeError", "NotExposedError"]


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Runs the Node function exposed as ``name`` and returns its (awaited) result.

    ``args`` reach it as its arguments; ``kwargs``, if any, as one more, last argument: a plain
    object (``node.call('find', 'x', limit=3)`` calls ``fn('x', { limit: 3 })``). Values travel as
    those of a call do (arrays without copies). If the function throws, :class:`NodeError` is
    raised with the JavaScript error's name and message. A name that is not exposed raises
    :class:`NotExposedError` before anything is sent. Works only while a call from Node runs, on
    the thread that runs it; the time spent counts toward that call's timeout. In ``async def``
    code it blocks the loop while Node answers: use :func:`acall` there."""
    conversation = current()
    rid = conversation.check("node.call()")
    _check_exposed(conversation.exposed, name)
    return _returned(conversation.ask(p.callback(rid, name, list(args), kwargs)))


async def acall(name: str, *args: Any, **kwargs: Any) -> Any:
    """:func:`call` for ``async def`` code: ``await node.acall('lookup', key)``. While Node runs
    the function, the interpreter's loop runs its other calls (and the calling function's own
    other tasks). Questions of one call to Node go one at a time, in the order they are awaited."""
    conversation = current()
    conversation.check("node.acall()")
    _check_exposed(conversation.exposed, name)
    values = list(args)
    return _returned(await conversation.aask("node.acall()", lambda rid: p.callback(rid, name, values, kwargs)))


def _check_exposed(exposed: FrozenSet[str], name: str) -> None:
    if name not in exposed:
        shown = ", ".join(sorted(exposed)) or "none"
        raise NotExposedError(f"no Node function named {name!r} is exposed to Python (exposed: {shown})")


def _returned(answer: p.Request) -> Any:
    if isinstance(answer, p.Return):
        return answer.value
    if isinstance(answer, p.Throw):
        raise NodeError(answer.message, answer.name, answer.stack)
    raise ProtocolError(f"Node answered 'callback' with {type(answer).__name__.lower()!r}, not 'return' or 'throw'")


def exposed() -> FrozenSet[str]:
    """The names of the Node functions this worker may call."""
    return current().exposed
