"""The control lane (PROTOCOL.md, "Cancelling"): how Node cancels a call that timed out or was aborted.

A REP socket beside the worker's own, bound at the handshake and answered by a thread of its own:
the lanes' requests run on the serving thread, which may be held by sync code for as long as that
code runs, and a cancel must be answered meanwhile, so that Node can tell a call it can wait for
(its task was cancelled: ``CancelledError`` is raised in it and its ``finally`` runs) from one
that nothing but a kill will end (sync code). The thread only reads and changes the lanes' state
(lane.py); it runs no user code and touches no other socket.

Its messages are plain MessagePack (no arrays), encoded with msgpack itself: the codec's encoder
belongs to the serving thread.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Callable, List, Sequence

import msgpack
import zmq

from .lane import DONE, Lane

__all__ = ["ControlLane"]


class ControlLane:
    """The control lane's socket and thread. ``lanes()`` gives the worker's lanes by number."""

    def __init__(self, context: zmq.Context, endpoint: str, lanes: Callable[[], Sequence[Lane]],
                 secure: Callable[[zmq.Socket], None]) -> None:
        self._lanes = lanes
        self._socket = context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        secure(self._socket)  # a CURVE server on tcp, like the worker's own socket
        self._socket.bind(endpoint)
        self.endpoint = self._socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        # Started with SIGTERM blocked, so that the kernel keeps delivering it to the serving thread.
        masked = hasattr(signal, "pthread_sigmask")
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}) if masked else None
        try:
            self._thread = threading.Thread(target=self._serve, name="piton-control", daemon=True)
            self._thread.start()
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    @property
    def socket(self) -> zmq.Socket:
        return self._socket

    def _serve(self) -> None:
        socket = self._socket
        while True:
            try:
                frames = socket.recv_multipart()
            except zmq.ZMQError:
                # The context is terminating: close here, or its term() would wait for us forever.
                socket.close(linger=0)
                return
            try:
                socket.send(self.answer(frames))
            except zmq.ZMQError:
                socket.close(linger=0)
                return

    def answer(self, frames: List[Any]) -> bytes:
        """The reply to one control request (``cancel``), or an ``error`` reply for anything else."""
        rid = 0
        try:
            if len(frames) != 1:
                raise ValueError(f"a control request is one frame, got {len(frames)}")
            request = msgpack.unpackb(frames[0], raw=False, strict_map_key=True)
            if not (isinstance(request, list) and len(request) >= 2 and type(request[1]) is int and request[1] >= 0):
                raise ValueError("a control request must be [kind, id, ...]")
            rid = request[1]
            if request[0] != "cancel" or len(request) != 3 or not isinstance(request[2], list):
                raise ValueError(f"the control lane takes [\"cancel\", id, [[lane, request], ...]], got {request!r:.80}")
            return msgpack.packb(["cancelled", rid, [self._cancel(entry) for entry in request[2]]])
        except Exception as exc:
            info = {"type": "ProtocolError", "message": str(exc), "traceback": ""}
            return msgpack.packb(["error", rid, info])

    def _cancel(self, entry: Any) -> str:
        if not (isinstance(entry, list) and len(entry) == 2 and all(type(v) is int and v >= 0 for v in entry)):
            raise ValueError(f"a cancel entry must be [lane, request id], got {entry!r:.40}")
        index, rid = entry
        lanes = self._lanes()
        if index >= len(lanes):
            # No such lane (yet): nothing of it runs. Node only names lanes it has.
            sys.stderr.write(f"piton: a cancel named lane {index} of {len(lanes)}\n")
            return DONE
        return lanes[index].cancel(rid)
