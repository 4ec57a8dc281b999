"""The serve loop: receive a request, let the handler answer it, send the reply.

The loop blocks in the socket's receive. A SIGTERM delivered to the main thread interrupts that
receive (pyzmq runs the signal's Python handler, which raises out of it). One that the kernel gave
to another thread (one started by user code) would leave the main thread blocked; for that case
Python's signal wakeup fd is read by a relay thread, which passes the SIGTERM on to the serving
thread. A signal can also land just before the receive starts waiting, too early to interrupt
it: the receive times out every RECEIVE_TIMEOUT_MS, which runs any pending handler. Waiting on the
socket alone, rather than polling it together with the wakeup fd before each receive, keeps a
poll out of every call.
"""

from __future__ import annotations

import os
import signal
import threading
from functools import partial as _partial
from typing import Any, Callable, List, Optional

import zmq

from .aio import receive as receive_on_loop
from .arrow import release_idle
from .handler import Action, Handler
from .protocol import EXIT_OK, EXIT_VERSION_MISMATCH

__all__ = ["ZERO_COPY_THRESHOLD", "serve", "open_socket"]

#: Frames at least this large are sent without a copy (pyzmq's copy_threshold): zero-copy has a
#: fixed cost that only pays off above ~100 KiB (python/bench/copy_threshold.py; bench/README.md, "Copies on the Python side").
ZERO_COPY_THRESHOLD = 128 * 1024

#: The longest an idle worker waits in one receive: it bounds how late a SIGTERM that arrived
#: just before the wait began is acted on.
RECEIVE_TIMEOUT_MS = 100

#: Written to the wakeup fd to end the relay thread: no signal has the number 0.
_RELAY_STOP = b"\0"
_SIGTERM_BYTE = bytes([signal.SIGTERM])


_send_frame = zmq.backend.Socket.send


def _frames_of(first: Any, recv: Callable[..., Any]) -> List[Any]:
    """A request's frames from its first (a Frame): frame 0 as bytes, the rest (array frames) as
    Frames, received without a copy."""
    frames: List[Any] = [first.bytes]
    more = first.more
    while more:
        frame = recv(0, False)
        frames.append(frame)
        more = frame.more
    return frames


def open_socket(context: zmq.Context) -> zmq.Socket:
    socket = context.socket(zmq.REP)
    socket.setsockopt(zmq.LINGER, 0)
    socket.copy_threshold = ZERO_COPY_THRESHOLD
    return socket


class _SigtermRelay:
    """Passes a SIGTERM that another thread took on to the serving thread.

    The C-level handler of any thread writes the signal's number to Python's wakeup fd; this
    thread (which has SIGTERM blocked, so the kernel never picks it) reads it and sends SIGTERM to
    the serving thread, interrupting its blocking receive (or a user call blocked in C). By then
    the Python handler is usually the worker's, which ignores SIGTERM once it runs, so a SIGTERM
    the serving thread took itself and that is relayed too is dropped. Other signals' numbers are
    read and left alone: their Python handlers run when the serving thread next runs Python code.
    """

    def __init__(self) -> None:
        self._target = threading.get_ident()
        # A pipe, not a socketpair: the socket module is not otherwise imported, and every start pays its import.
        self._reader, self._writer = os.pipe()
        os.set_blocking(self._writer, False)  # set_wakeup_fd requires it
        self._previous = signal.set_wakeup_fd(self._writer, warn_on_full_buffer=False)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            self._thread = threading.Thread(target=self._run, name="piton-sigterm-relay", daemon=True)
            self._thread.start()  # inherits the mask: SIGTERM stays blocked in it
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _run(self) -> None:
        while True:
            try:
                data = os.read(self._reader, 512)
            except OSError:
                return
            if not data or _RELAY_STOP in data:
                return
            if _SIGTERM_BYTE in data:
                # Once is enough: the handler then unwinds the worker, or already has.
                signal.pthread_kill(self._target, signal.SIGTERM)
                return

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous)
        try:
            os.write(self._writer, _RELAY_STOP)
        except OSError:  # the buffer is full of signal numbers: the thread is reading them
            pass
        self._thread.join(1.0)
        os.close(self._reader)
        os.close(self._writer)


def serve(socket: zmq.Socket, handler: Handler, serve_lanes: Optional[Callable[[Handler], int]] = None) -> int:
    """Answer requests until ``stop`` or a version mismatch; return the exit code. A handshake
    that asks for several lanes hands the serving over to ``serve_lanes`` (the lane server, on
    the loop) once its reply is sent.

    SIGTERM's handler raises out of here (see worker.py)."""
    relay: Optional[_SigtermRelay] = _SigtermRelay() if hasattr(signal, "pthread_kill") else None
    recv, handle = socket.recv, handler.handle
    # pyzmq's own send, without the layer above it that handles `routing_id` and `group` (neither
    # is used here): ~0.5 µs less per reply (bench/README.md, "Where the rest of the latency gap went").
    send = _partial(_send_frame, socket)
    socket.rcvtimeo = RECEIVE_TIMEOUT_MS

    def next_request() -> List[Any]:
        while True:
            try:
                return _frames_of(recv(0, False), recv)
            except zmq.Again:
                continue  # pyzmq has run pending signal handlers on the way out

    def reply_with(reply: List[Any]) -> None:
        if len(reply) == 1:
            head = reply[0]
            send(head, 0, len(head) < ZERO_COPY_THRESHOLD)
        else:
            socket.send_multipart(reply, copy=False)

    def exchange(reply: List[Any]) -> List[Any]:
        # A callback or progress message is the reply to the pending request; Node's answer is
        # the next request (conversation.py).
        reply_with(reply)
        return next_request()

    async def areceive() -> List[Any]:
        return await receive_on_loop(socket)

    async def aexchange(reply: List[Any]) -> List[Any]:
        # The same from a coroutine: the answer is awaited, so the loop runs meanwhile.
        reply_with(reply)
        return await receive_on_loop(socket)

    conversation = handler.conversation
    conversation.exchange, conversation.aexchange, conversation.areceive = exchange, aexchange, areceive
    try:
        while True:  # next_request and reply_with, inlined: this loop is every call's path
            try:
                # A Frame: pyzmq reads its RCVMORE in C as it receives it (`more`), which costs
                # less than asking `socket.get(zmq.RCVMORE)` (bench/README.md, "The latency's two modes").
                first = recv(0, False)
            except zmq.Again:
                release_idle()  # idle: let go of kept table stream memory (arrow.py)
                continue  # pyzmq has run pending signal handlers on the way out
            frames = [first.bytes] if not first.more else _frames_of(first, recv)
            first = None  # frame 0 is read from its bytes: its message's memory may go now
            reply, action = handle(frames)
            if len(reply) == 1:
                head = reply[0]
                # Copied below ZERO_COPY_THRESHOLD (pyzmq would copy it anyway, by a longer way).
                send(head, 0, len(head) < ZERO_COPY_THRESHOLD)
            else:
                socket.send_multipart(reply, copy=False)
            if action is not Action.CONTINUE:
                if action is Action.SERVE_LANES and serve_lanes is not None:
                    return serve_lanes(handler)
                return EXIT_OK if action is Action.STOP else EXIT_VERSION_MISMATCH
    finally:
        conversation.exchange = conversation.aexchange = conversation.areceive = None
        if relay is not None:
            relay.close()
