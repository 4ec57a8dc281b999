"""One lane: a REQ/REP pair's worth of state on the worker's side (PROTOCOL.md, "Lanes").

A lane carries one request at a time, as REQ/REP does: the user code it runs, that code's
conversation with Node, and the stream open on it (at most one per lane). At ``concurrency: 1``
the worker has one lane, on its first socket; with ``concurrency: n``, n lanes, whose calls
interleave on the interpreter's event loop.
"""

from __future__ import annotations

from typing import Any, Optional

from .conversation import Conversation

__all__ = ["Lane"]


class Lane:
    """What one lane holds between and during its requests."""

    __slots__ = ("index", "conversation", "stream", "stream_async", "stream_error", "task")

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
        #: The task that runs the lane's user code while it awaits, if any.
        self.task: Any = None

    def set_task(self, task: Any) -> None:
        self.task = task
