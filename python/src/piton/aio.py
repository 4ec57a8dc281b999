"""The interpreter's event loop, on which ``async def`` functions and async generators run.

One loop per interpreter, made on first need: at ``concurrency: 1`` the first coroutine makes it
(an interpreter that never meets one does not pay asyncio's import); with more lanes the lane
server makes it when the handshake asks for lanes. Either way it is made in the process that
uses it, so a forked interpreter has its own, made after the fork. It is uvloop's when the
interpreter can import ``uvloop``, else asyncio's (:func:`loop_kind` says which, without importing
either). It is never set as the thread's current event loop: sync user code that calls
``asyncio.run()`` or ``asyncio.new_event_loop()`` gets a loop of its own, as it would anywhere.

Sync user code that runs while the loop runs (a sync function at ``concurrency > 1`` runs on the
loop's thread, between two steps of the other calls' coroutines) runs with the loop's "running"
mark lifted (:func:`outside_loop`): to that code no loop is running, so ``asyncio.run()`` in it
works as it does at ``concurrency: 1``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import CoroutineType
from typing import Any, Callable, Coroutine, List, Optional

__all__ = ["loop_kind", "get_loop", "is_awaitable", "as_coroutine", "outside_loop", "call_outside_loop", "start_task",
           "receive", "run_to_completion"]

#: What the interpreter's loop is, once looked for: ``"uvloop"`` or ``"asyncio"``.
_kind: Optional[str] = None
_loop: Any = None
#: The process that made ``_loop``: a loop is never used across a fork.
_loop_pid: Optional[int] = None

#: Result types that are never awaitable: the check on every sync call's result starts here.
_PLAIN_TYPES = frozenset({type(None), bool, int, float, str, bytes, list, dict, tuple})


def loop_kind() -> str:
    """``"uvloop"`` when the interpreter can import uvloop (its loop is then uvloop's), else
    ``"asyncio"``. Looks the module up without importing it (nor asyncio)."""
    global _kind
    if _kind is None:
        if _loop is not None:
            _kind = "uvloop" if type(_loop).__module__.startswith("uvloop") else "asyncio"
        else:
            if "uvloop" in sys.modules:
                found = sys.modules["uvloop"] is not None  # None: its import is blocked
            else:
                try:
                    found = importlib.util.find_spec("uvloop") is not None
                except (ImportError, ValueError):
                    found = False
            _kind = "uvloop" if found else "asyncio"
    return _kind


def get_loop() -> Any:
    """The interpreter's event loop, made on the first call (in the process that calls it)."""
    global _loop, _kind, _loop_pid
    if _loop is not None and _loop_pid != os.getpid():
        # Made before a fork (it should not have been): the parent's loop, its selector and its
        # self-pipe are not this process's to use. This process makes its own.
        _loop, _kind = None, None
    if _loop is None:
        loop = None
        if loop_kind() == "uvloop":
            try:
                import uvloop

                loop = uvloop.new_event_loop()
            except Exception as exc:  # found but broken: the standard loop serves as well
                sys.stderr.write(f"piton: uvloop could not make a loop ({exc!r}); using asyncio's\n")
                _kind = "asyncio"
        if loop is None:
            import asyncio

            loop = asyncio.new_event_loop()
        _loop, _loop_pid = loop, os.getpid()
    return _loop


def loop_owner() -> Optional[int]:
    """The pid of the process that made the interpreter's loop, or None if none was made."""
    return _loop_pid if _loop is not None else None


def is_awaitable(value: Any) -> bool:
    """Whether a function's result is to be awaited: a coroutine, a future, anything whose type
    has ``__await__``. Cheap for the plain values sync functions return."""
    if value.__class__ in _PLAIN_TYPES:
        return False
    return hasattr(type(value), "__await__") or _is_generator_coroutine(value)


def _is_generator_coroutine(value: Any) -> bool:
    # A generator decorated with @types.coroutine is awaitable without __await__.
    code = getattr(value, "gi_code", None)
    return code is not None and bool(code.co_flags & 0x100)  # CO_ITERABLE_COROUTINE


async def _await(awaitable: Any) -> Any:
    return await awaitable


def as_coroutine(awaitable: Any) -> Coroutine[Any, Any, Any]:
    """A coroutine that awaits ``awaitable`` (itself, when it is one): what a task can run."""
    if type(awaitable) is CoroutineType:
        return awaitable
    return _await(awaitable)


class outside_loop:
    """Runs sync user code with the running loop's mark lifted, so that to it no loop runs
    (``asyncio.run()`` works in it); restores the mark after. Nothing to do when none runs."""

    __slots__ = ("_previous",)

    def __enter__(self) -> None:
        events = sys.modules.get("asyncio.events")
        self._previous = events._get_running_loop() if events is not None else None
        if self._previous is not None:
            events._set_running_loop(None)  # type: ignore[union-attr]

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            sys.modules["asyncio.events"]._set_running_loop(self._previous)


def call_outside_loop(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with the running loop's mark lifted (see :class:`outside_loop`)."""
    with outside_loop():
        return fn(*args, **kwargs)


def start_task(loop: Any, awaitable: Any, context: Any = None) -> Any:
    """Makes ``awaitable`` a task of ``loop``: the one place where a call's coroutine becomes a
    task, in both serve modes. With ``context`` (a :class:`contextvars.Context` not entered now),
    the task runs in that very context, so that what the request's steps entered before the task
    (its call context) they can leave inside it (Python 3.11+; before, the task runs in a copy)."""
    if context is not None and sys.version_info >= (3, 11):
        return loop.create_task(as_coroutine(awaitable), context=context)
    return loop.create_task(as_coroutine(awaitable))


async def receive(socket: Any) -> List[Any]:
    """The next message of ``socket`` (frame 0 copied, the others not, as the serve loop receives
    them), awaited on the running loop rather than blocking it."""
    import zmq

    loop = sys.modules["asyncio"].get_running_loop()
    while True:
        if socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            frames: List[Any] = [socket.recv(zmq.NOBLOCK)]
            while socket.rcvmore:
                frames.append(socket.recv(copy=False))
            return frames
        # The socket's descriptor signals that its events may have changed, not that a message
        # is there: look again each time it does.
        waiter = loop.create_future()
        fd = socket.getsockopt(zmq.FD)
        loop.add_reader(fd, _wake, waiter)
        try:
            await waiter
        finally:
            loop.remove_reader(fd)


def _wake(waiter: Any) -> None:
    if not waiter.done():
        waiter.set_result(None)


#: Called by the worker's SIGTERM handler before it raises Terminated, while the loop runs:
#: uvloop's callbacks (and asyncio's own) catch that exception, so these make sure the serving
#: ends anyway (they only schedule: a signal handler must not do more).
termination_hooks: List[Callable[[], None]] = []


def on_sigterm() -> None:
    for hook in list(termination_hooks):
        hook()


def run_to_completion(awaitable: Any, on_task: Callable[[Any], None]) -> Any:
    """Runs ``awaitable`` as a task of the interpreter's loop until it is done and returns its
    result (or raises its exception); for a request served outside the loop (``concurrency: 1``).

    ``on_task`` is told the task as soon as it exists, and ``None`` once it is done, so that the
    control lane can cancel it meanwhile. A SIGTERM cancels the task and lets it unwind (its
    ``finally`` runs); then :class:`~piton.errors.Terminated` passes on."""
    from .errors import Terminated

    loop = get_loop()
    task = start_task(loop, awaitable)
    terminated: List[bool] = []

    def terminate() -> None:
        terminated.append(True)
        loop.call_soon_threadsafe(task.cancel)

    on_task(task)
    termination_hooks.append(terminate)
    try:
        try:
            result = loop.run_until_complete(task)
        except Terminated:
            terminated.append(True)
            task.cancel()
            try:
                loop.run_until_complete(task)
            except BaseException:
                pass
            raise
        except BaseException:
            if terminated:
                raise Terminated() from None
            raise
        if terminated:
            raise Terminated()
        return result
    finally:
        termination_hooks.remove(terminate)
        on_task(None)
