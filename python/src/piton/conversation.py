"""The request being answered, as the user's code sees it: calling back into Node, reporting progress.

REQ/REP is lock-step: while the worker answers a request it may send one message, its reply. So
user code that needs Node mid-call sends its question *as the reply* (``callback``, ``progress``),
and Node's next request is the answer (``return``/``throw``, ``resume``); the worker then goes on
with the call. Whatever it sends next (another question, or the call's own reply) answers that
latest request and carries its id: :attr:`Conversation.rid` follows the exchange.

One conversation per worker process (:data:`CURRENT`): the handler opens it around the user code
of each request and closes it after; :mod:`piton.node` and :func:`progress` use it.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, FrozenSet, List, Optional

from . import protocol as p
from .codec import Buffer, decode, encode, frames_size
from .errors import MessageTooLarge, ProtocolError

__all__ = ["Conversation", "CURRENT", "progress"]

#: Sends a reply's frames and returns the frames of the next request (the server's socket).
Exchange = Callable[[List[Buffer]], List[Buffer]]


class Conversation:
    """What user code may say to Node while a request is being answered."""

    __slots__ = ("rid", "listening", "exposed", "exchange", "thread", "max_message_size")

    def __init__(self) -> None:
        #: The id of the request being answered while user code runs for it; None otherwise.
        self.rid: Optional[int] = None
        #: Someone in Node listens for progress of the running call (its request said so).
        self.listening = False
        #: The Node functions Python may call, from the handshake.
        self.exposed: FrozenSet[str] = frozenset()
        #: Set by the serve loop; None where there is no socket (then nothing can be asked).
        self.exchange: Optional[Exchange] = None
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

    def ask(self, envelope: list) -> p.Request:
        """Sends ``envelope`` as the reply and returns Node's next request, the answer.

        A question that cannot be encoded or is too large raises here, and nothing is sent. An
        answer that breaks the protocol raises :class:`ProtocolError` in the user's code; the
        reply that follows (normally the error) then answers it."""
        assert self.exchange is not None
        frames = encode(envelope)
        size = frames_size(frames)
        if size > self.max_message_size:
            raise MessageTooLarge(
                f"{envelope[0]} message of {size} bytes exceeds the worker's maximum message size "
                f"of {self.max_message_size} bytes"
            )
        reply = self.exchange(frames)
        # From here the socket owes Node a reply to *this* request: follow its id even when the
        # request is unreadable, as the serve loop does.

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


#: The worker's one conversation.
CURRENT = Conversation()


def progress(value: Any) -> None:
    """Reports ``value`` (any value a call may return) to the running call's ``onProgress`` in Node.

    Returns at once, sending nothing, when the call has no ``onProgress`` (or outside a call):
    code may report progress unconditionally. Otherwise it costs one round trip to Node, which
    delivers the values in order, before the call settles; throttle in Python if that is too many.
    Call it from the thread that runs the call."""
    conversation = CURRENT
    if not conversation.listening:
        return
    rid = conversation.check("progress()")
    answer = conversation.ask(p.progress(rid, value))
    if not isinstance(answer, p.Resume):
        raise ProtocolError(f"Node answered 'progress' with {type(answer).__name__.lower()!r}, not 'resume'")
