"""The serve loop: receive a request, let the handler answer it, send the reply.

The loop waits on the REP socket and on the signal wakeup fd together, so a SIGTERM that the
kernel delivered to another thread (one started by user code) still wakes the main thread, which
then runs the handler and unwinds.
"""

from __future__ import annotations

import os
import signal
import socket as _socket
from typing import Any, List, Optional

import zmq

from .handler import Action, Handler

__all__ = ["EXIT_OK", "EXIT_VERSION_MISMATCH", "ZERO_COPY_THRESHOLD", "receive", "serve", "open_socket"]

EXIT_OK = 0
EXIT_VERSION_MISMATCH = 2

#: Frames at least this large are sent without a copy (pyzmq's copy_threshold): zero-copy has a
#: fixed cost that only pays off above ~100 KiB (python/bench/copy_threshold.py, PROTOCOL.md).
ZERO_COPY_THRESHOLD = 128 * 1024


def open_socket(context: zmq.Context) -> zmq.Socket:
    socket = context.socket(zmq.REP)
    socket.setsockopt(zmq.LINGER, 0)
    socket.copy_threshold = ZERO_COPY_THRESHOLD
    return socket


def receive(socket: zmq.Socket) -> List[Any]:
    """One request's frames. Frame 0 is copied (msgpack copies what it decodes anyway); array
    frames are received without a copy, so ndarrays view them and nothing is copied."""
    frames: List[Any] = [socket.recv(copy=True)]
    while socket.rcvmore:
        frames.append(socket.recv(copy=False))
    return frames


class _SignalWakeup:
    """A socketpair whose write end is Python's signal wakeup fd."""

    def __init__(self) -> None:
        self.reader, self.writer = _socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)
        self.previous = signal.set_wakeup_fd(self.writer.fileno(), warn_on_full_buffer=False)

    def drain(self) -> None:
        try:
            while self.reader.recv(512):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        signal.set_wakeup_fd(self.previous)
        self.reader.close()
        self.writer.close()


def serve(socket: zmq.Socket, handler: Handler) -> int:
    """Answer requests until ``stop`` or a version mismatch; return the exit code.

    SIGTERM's handler raises out of here (see worker.py)."""
    wakeup: Optional[_SignalWakeup] = _SignalWakeup()
    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)
    poller.register(wakeup.reader.fileno(), zmq.POLLIN)
    try:
        while True:
            ready = dict(poller.poll())
            if wakeup.reader.fileno() in ready:
                wakeup.drain()  # the signal's Python handler has run by now (or runs next)
            if socket not in ready:
                continue
            reply, action = handler.handle(receive(socket))
            socket.send_multipart(reply, copy=False)
            if action is Action.STOP:
                return EXIT_OK
            if action is Action.VERSION_MISMATCH:
                return EXIT_VERSION_MISMATCH
    finally:
        wakeup.close()
