"""One lane: a REQ/REP pair's worth of state on the worker's side (PROTOCOL.md, "Lanes").

A lane carries one request at a time, as REQ/REP does: the user code it runs, that code's
conversation with Node, and the stream open on it (at most one per lane). At ``concurrency: 1``
the worker has one lane, on its first socket; with ``concurrency: n``, n lanes, whose calls
interleave on the interpreter's event loop.

What the control lane may ask of it (PROTOCOL.md, "Cancelling") is answered from the control
lane's own thread, while this lane's code may be running: :meth:`Lane.cancel` reads and changes the
lane's state under a lock that the serving thread takes at each change (:meth:`Lane.begin`,
:meth:`Lane.set_task`, :meth:`Lane.end`).
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from .conversation import Conversation

__all__ = ["Lane", "CANCELLED", "BLOCKED", "DONE"]

#: The lane's request was cancelled: its task (or, not yet begun, the request itself) ends with
#: ``CancelledError``, whose reply follows on the lane; or it ends on its own, its reply following.
CANCELLED = "cancelled"
#: The lane's request runs sync code, which nothing can interrupt: only killing the interpreter ends it.
BLOCKED = "blocked"
#: The lane has already replied to that request.
DONE = "done"


class Lane:
    """What one lane holds between and during its requests."""

    __slots__ = ("index", "conversation", "stream", "stream_async", "stream_error", "stream_context", "tables",
                 "task", "blocking",
                 "_running", "_seen", "_doomed", "_cancel_requested", "_lock")

    def __init__(self, index: int, conversation: Conversation) -> None:
        self.index = index
        self.conversation = conversation
        #: The open stream's iterator (or async iterator), if any.
        self.stream: Any = None
        #: The open stream is an async iterator (its items are awaited).
        self.stream_async = False
        #: An exception the open stream raised after yielding items that were already sent in the
        #: same reply: it closed the stream and is the answer to the next `next`.
        self.stream_error: Optional[BaseException] = None
        #: The open stream's call context (call_context.py), re-entered on every pull.
        self.stream_context: Any = None
        #: The request being answered holds Arrow tables among its arguments.
        self.tables = False
        #: The task that runs the lane's user code while it awaits, if any.
        self.task: Any = None
        #: Sync user code of the lane's request runs now (on the serving thread).
        self.blocking = False
        # The id of the request whose user code runs, the highest id received, the id of a request
        # cancelled before it arrived, and whether a cancel came while no task could take it.
        self._running: Optional[int] = None
        self._seen = 0
        self._doomed: Optional[int] = None
        self._cancel_requested = False
        self._lock = threading.Lock()

    # --------------------------------------------------------------------- the serving thread

    def begin(self, rid: int) -> bool:
        """Request ``rid`` arrived and would run user code: False if it was cancelled before it
        arrived (it must not run), else True (it is the lane's running request from now on).
        Request ids increase on a lane, and the answers within a request's conversation come
        before the lane's next request: an id above the last one begun has not arrived yet."""
        # acquire/release rather than `with`: this and end() are on every call's path, and the
        # context manager's protocol costs more than the lock itself.
        lock = self._lock
        lock.acquire()
        try:
            self._seen = rid
            if self._doomed == rid:
                self._doomed = None
                return False
            self._running = rid
            self._cancel_requested = False
            return True
        finally:
            lock.release()

    def set_task(self, task: Any) -> None:
        """The task that runs the request's awaitable now (None: it ended). A cancel that came
        while the request had no task reaches the new one at once."""
        with self._lock:
            self.task = task
            if task is not None and self._cancel_requested:
                self._cancel_requested = False
                task.cancel()

    def end(self) -> None:
        """The lane's request has its reply: nothing of it runs any more."""
        lock = self._lock
        lock.acquire()
        try:
            self._running = None
            self.task = None
            self._cancel_requested = False
        finally:
            lock.release()

    # ------------------------------------------------------------------ the control lane's thread

    def cancel(self, rid: int) -> str:
        """Cancels request ``rid`` of this lane if it is still to come or running: one of
        :data:`CANCELLED`, :data:`BLOCKED`, :data:`DONE`."""
        with self._lock:
            if rid > self._seen:
                self._doomed = rid  # not arrived yet: it will be answered without running
                return CANCELLED
            if self._running != rid:
                return DONE
            task = self.task
            if task is not None:
                task.get_loop().call_soon_threadsafe(task.cancel)
                return CANCELLED
            if self.blocking:
                return BLOCKED
            # Between two steps (its task not made yet, or its reply being made): the next task
            # it makes is cancelled as it is made; if it makes none, its reply is on its way.
            self._cancel_requested = True
            return CANCELLED
