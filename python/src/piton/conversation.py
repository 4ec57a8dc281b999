"""The request being answered, as the user's code sees it: calling back into Node, reporting progress.

REQ/REP is lock-step: while the worker answers a request it may send one message, its reply. So
user code that needs Node mid-call sends its question *as the reply* (``callback``, ``progress``),
and Node's next request is the answer (``return``/``throw``, ``resume``); the worker then goes on
with the call. Whatever it sends next (another question, or the call's own reply) answers that
latest request and carries its id: :attr:`Conversation.rid` follows the exchange.

One conversation per lane (PROTOCOL.md, "Lanes"): the handler opens it around the user code of
each request and closes it after. :data:`CURRENT` is the first lane's, the only one at
``concurrency: 1``; with more lanes, each call runs in a context that names its lane's
(:func:`current`). A question is asked blocking (:meth:`Conversation.ask`: ``node.call``,
``progress``), or awaited (:meth:`Conversation.aask`: ``node.acall``, ``aprogress``), which lets
the loop run the other calls meanwhile. A call's questions are asked one at a time: the lane
carries one.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, FrozenSet, List, Optional

from . import protocol as p
from .codec import Buffer, decode, encode, frames_size
from .errors import MessageTooLarge, ProtocolError

__all__ = ["Conversation", "CURRENT", "current", "progress", "aprogress"]

#: Sends a reply's frames and returns the frames of the next request (the server's socket).
Exchange = Callable[[List[Buffer]], List[Buffer]]
#: Sends a reply's frames; the frames of the next request are awaited.
AsyncExchange = Callable[[List[Buffer]], Awaitable[List[Buffer]]]
#: Awaits the frames of the lane's next request (an answer owed to a question already sent).
AsyncReceive = Callable[[], Awaitable[List[Buffer]]]


class Conversation:
    """What user code may say to Node while a request is being answered."""

    __slots__ = ("rid", "listening", "exposed", "exchange", "aexchange", "areceive", "owed", "asking", "_turn",
                 "thread", "max_message_size")

    def __init__(self) -> None:
        #: The id of the request being answered while user code runs for it; None otherwise.
        self.rid: Optional[int] = None
        #: Someone in Node listens for progress of the running call (its request said so).
        self.listening = False
        #: The Node functions Python may call, from the handshake.
        self.exposed: FrozenSet[str] = frozenset()
        #: Set by the serve loop; None where there is no socket (then nothing can be asked).
        self.exchange: Optional[Exchange] = None
        #: The same, awaited on the interpreter's loop (for ``aask``); set by the serve loop.
        self.aexchange: Optional[AsyncExchange] = None
        self.areceive: Optional[AsyncReceive] = None
        #: A question went out and its answer has not been read (an ``aask`` cancelled while it
        #: waited): the answer must be read before the lane sends anything else.
        self.owed = False
        #: An awaited question is out: a blocking one from the same call cannot be asked meanwhile.
        self.asking = False
        #: Held by the awaited question that is out; made on first need (asyncio.Lock).
        self._turn: Any = None
        #: The thread that answers requests: the only one that may use the socket.
        self.thread = threading.get_ident()
        self.max_message_size = p.DEFAULT_MAX_MESSAGE_SIZE

    def open(self, rid: int, listening: bool = False) -> None:
        self.rid = rid
        self.listening = listening

    def close(self) -> int:
        """Ends the user code's turn; returns the id the reply must carry (the latest request's)."""
        rid = self.rid
        self.rid = None
        self.listening = False
        assert rid is not None
        return rid

    def check(self, what: str) -> int:
        """The id to ask with, or a RuntimeError saying why nothing can be asked from here."""
        rid = self.rid
        if rid is None or self.exchange is None:
            raise RuntimeError(f"{what} works only while the worker runs a call from Node")
        if threading.get_ident() != self.thread:
            raise RuntimeError(
                f"{what} must be called from the thread that runs the call from Node, "
                f"not from a thread the call started"
            )
        return rid

    def _question(self, envelope: list) -> List[Buffer]:
        frames = encode(envelope)
        size = frames_size(frames)
        if size > self.max_message_size:
            raise MessageTooLarge(
                f"{envelope[0]} message of {size} bytes exceeds the worker's maximum message size "
                f"of {self.max_message_size} bytes"
            )
        return frames

    def _answer(self, reply: List[Buffer]) -> p.Request:
        # From here the socket owes Node a reply to *this* request: follow its id even when the
        # request is unreadable, as the serve loop does.
        self.owed = False
        self.rid = p.peek_id(reply[0]) if reply else 0
        size = frames_size(reply)
        if size > self.max_message_size:
            raise MessageTooLarge(
                f"request of {size} bytes exceeds the worker's maximum message size of "
                f"{self.max_message_size} bytes"
            )
        answer = p.parse_request(decode(reply))
        self.rid = answer.id
        return answer

    def ask(self, envelope: list) -> p.Request:
        """Sends ``envelope`` as the reply and returns Node's next request, the answer.

        A question that cannot be encoded or is too large raises here, and nothing is sent. An
        answer that breaks the protocol raises :class:`ProtocolError` in the user's code; the
        reply that follows (normally the error) then answers it."""
        assert self.exchange is not None
        if self.asking:
            raise RuntimeError("a blocking question to Node while an awaited one of the same call is out: "
                               "await node.acall() / piton.aprogress() in async code")
        frames = self._question(envelope)
        return self._answer(self.exchange(frames))

    async def aask(self, what: str, envelope_for: Callable[[int], list]) -> p.Request:
        """:meth:`ask`, awaited: the loop runs the other calls while Node answers. The question is
        ``envelope_for(rid)``. Questions of one call go one at a time (its lane carries one): a
        second waits for the first's answer, and is then asked with the id that answer carried.
        If the asking task is cancelled while Node answers, the answer is still read before the
        call's reply goes (:meth:`settle`)."""
        self.check(what)
        if self.aexchange is None:  # no loop-aware socket here: ask as the blocking form does
            return self.ask(envelope_for(self.check(what)))
        if self._turn is None:
            import asyncio

            self._turn = asyncio.Lock()
        async with self._turn:
            frames = self._question(envelope_for(self.check(what)))
            self.asking = True
            self.owed = True
            try:
                return self._answer(await self.aexchange(frames))
            finally:
                self.asking = False

    async def settle(self) -> None:
        """Reads the answer owed to a question whose asker stopped waiting (cancelled), so that
        the lane can reply: the reply then answers that latest request."""
        if self.owed and self.areceive is not None:
            reply = await self.areceive()
            self.owed = False
            self.rid = p.peek_id(reply[0]) if reply else 0


#: The first lane's conversation: the worker's only one at ``concurrency: 1``.
CURRENT = Conversation()

#: The conversation of the lane that runs the current call, where there are several lanes.
_LANE_CONVERSATION: ContextVar[Conversation] = ContextVar("piton_lane_conversation")


def current() -> Conversation:
    """The conversation of the call that runs now (its lane's)."""
    return _LANE_CONVERSATION.get(CURRENT)


def progress(value: Any) -> None:
    """Reports ``value`` (any value a call may return) to the running call's ``onProgress`` in Node.

    Returns at once, sending nothing, when the call has no ``onProgress`` (or outside a call):
    code may report progress unconditionally. Otherwise it costs one round trip to Node, which
    delivers the values in order, before the call settles; throttle in Python if that is too many.
    Call it from the thread that runs the call. In an ``async def`` function, ``await
    aprogress(value)`` does the same without blocking the loop for the other calls."""
    conversation = current()
    if not conversation.listening:
        return
    rid = conversation.check("progress()")
    _resumed(conversation.ask(p.progress(rid, value)))


async def aprogress(value: Any) -> None:
    """:func:`progress` for ``async def`` code: awaits Node's acknowledgement on the loop, so the
    interpreter's other calls run meanwhile. Returns at once when nobody listens."""
    conversation = current()
    if not conversation.listening:
        return
    _resumed(await conversation.aask("aprogress()", lambda rid: p.progress(rid, value)))


def _resumed(answer: p.Request) -> None:
    if not isinstance(answer, p.Resume):
        raise ProtocolError(f"Node answered 'progress' with {type(answer).__name__.lower()!r}, not 'resume'")
