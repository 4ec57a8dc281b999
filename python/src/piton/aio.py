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
from typing import Any, Callable, Coroutine, List, Optional, Tuple

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

    The task's first step runs at once, outside the loop's run (as Python 3.12's eager tasks run
    theirs, :func:`_unstarted_task`): the loop is run only if the task is not done after it,
    i.e. if the coroutine suspends. A coroutine that never does (a no-op ``async def``) thus costs
    no loop run, which on uvloop's loop is most of an ``async def`` call's cost otherwise (each
    run on the main thread sets up and tears down its signal handling).

    ``on_task`` is told the task as soon as it exists, before its first step, and ``None`` once it
    is done, so that the control lane can cancel it meanwhile (a cancel that arrives during the
    first step is scheduled on the loop and reaches the task when the loop runs it further; if the
    first step finishes it, the reply is on its way). A SIGTERM cancels the task and lets it unwind
    (its ``finally`` runs); then :class:`~piton.errors.Terminated` passes on."""
    from .errors import Terminated

    loop = get_loop()
    task, first_step = _unstarted_task(loop, awaitable)
    terminated: List[bool] = []

    def terminate() -> None:
        terminated.append(True)
        loop.call_soon_threadsafe(task.cancel)

    on_task(task)
    termination_hooks.append(terminate)
    try:
        try:
            if first_step is not None:
                _run_step(loop, first_step)
            if not task.done():
                loop.run_until_complete(task)
            result = task.result()
        except Terminated:
            terminated.append(True)
            task.cancel()
            if first_step is not None and not task.done() and not _started(task.get_coro()):
                # SIGTERM came before the first step ran: the loop runs it (it ends the task at once)
                loop.call_soon(first_step[0], context=first_step[1])
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


#: A task's first step held back from the loop: the callback and the context to run it in.
_Step = Tuple[Callable[[], Any], Any]


def _unstarted_task(loop: Any, awaitable: Any) -> Tuple[Any, Optional[_Step]]:
    """A task of ``loop`` for ``awaitable`` whose first step is given back rather than scheduled.

    A task schedules its first step with ``loop.call_soon`` as it is made; while it is made, the
    loop's ``call_soon`` is replaced (an attribute of the instance, which Python's method lookup
    prefers, the C task's included) by one that keeps the step. So the task is asyncio's own
    (``current_task()`` is it in every step, ``asyncio.timeout`` and the like work), made before
    any of its code runs (so that a cancel can reach it at any point), and its first step can run
    at once. Where this cannot be done (a loop without an instance dict, a task that schedules
    something else), the step is left scheduled (None): the loop runs it."""
    coroutine = as_coroutine(awaitable)
    attributes = getattr(loop, "__dict__", None)
    if attributes is None or "call_soon" in attributes:
        return start_task(loop, coroutine), None
    held: List[Any] = []

    def hold(callback: Callable[..., Any], *args: Any, context: Any = None) -> None:
        held.append((callback, args, context))

    attributes["call_soon"] = hold
    try:
        task = start_task(loop, coroutine)
    finally:
        del attributes["call_soon"]
    if len(held) == 1 and not held[0][1]:
        callback, _, context = held[0]
        return task, (callback, context)
    for callback, args, context in held:  # not the one step expected: schedule what was asked
        loop.call_soon(callback, *args, context=context)
    return task, None


def _run_step(loop: Any, step: _Step) -> None:
    """Runs a task's step outside the loop's run, as the loop would run it: in the task's
    context, with ``loop`` as the running loop (``asyncio.get_running_loop()`` and everything
    made of it work) and its async generator hooks installed."""
    events = sys.modules["asyncio.events"]
    callback, context = step
    previous = events._get_running_loop()
    hooks = sys.get_asyncgen_hooks()
    events._set_running_loop(loop)
    sys.set_asyncgen_hooks(firstiter=getattr(loop, "_asyncgen_firstiter_hook", None),
                           finalizer=getattr(loop, "_asyncgen_finalizer_hook", None))
    try:
        if context is not None:
            context.run(callback)
        else:
            callback()
    finally:
        sys.set_asyncgen_hooks(*hooks)
        events._set_running_loop(previous)


def _started(coroutine: Any) -> bool:
    """Whether a coroutine has run (or is running, or is closed): not merely made."""
    if coroutine.cr_frame is None or coroutine.cr_running:
        return True
    suspended = getattr(coroutine, "cr_suspended", None)  # Python 3.11+
    if suspended is not None:
        return bool(suspended)
    return coroutine.cr_frame.f_lasti != -1
