"""The worker runtime with its serve loop swapped for a variant, to compare serve loops side by
side (bench/latency-split.ts): ``worker_variant.py VARIANT <piton.worker arguments>``.

- ``current``: the serve loop as shipped (blocking receive, SIGTERM relay thread);
- ``poll``: the earlier loop, which polled the socket together with the signal wakeup fd before
  every receive (kept here to measure what that poll cost);
- ``stub``: the serve loop as shipped, its handler answering every call with the bytes of
  ``["ok", 1, 1]`` made once (what the loop costs without the protocol's work);
- ``floorloop``: the floor's loop (receive, send those bytes) in the worker process as it is set
  up (its threads, its guard, its imports): what the process costs without the serve loop;
- ``timeo``: the floor's loop with the serve loop's receive timeout;
- ``loopget``, ``loopframe``, ``loopbackend``: the floor's loop, asking whether more frames follow
  with ``socket.get(zmq.RCVMORE)``, a received Frame's ``more``, or the backend's ``get`` with the
  option's number;
- ``nogc``, ``frozen``: the runtime as shipped with the cyclic collector off, or with everything
  alive at the start moved out of its reach (``gc.freeze()``).

The last three take the bare floor's request (``FloorClient``'s bytes) and end at any other.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

import zmq

import piton.server as server
from piton.handler import Action
from piton.protocol import EXIT_OK, EXIT_VERSION_MISMATCH


def receive(socket):
    """One request's frames. Frame 0 is copied (msgpack copies what it decodes anyway); array
    frames are received without a copy, so ndarrays view them and nothing is copied."""
    frames = [socket.recv(copy=True)]
    while socket.rcvmore:
        frames.append(socket.recv(copy=False))
    return frames


def serve_poll(socket, handler):
    reader, writer = os.pipe()
    os.set_blocking(reader, False)
    os.set_blocking(writer, False)
    previous = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)
    poller.register(reader, zmq.POLLIN)
    try:
        while True:
            ready = dict(poller.poll())
            if reader in ready:
                try:
                    while os.read(reader, 512):
                        pass
                except BlockingIOError:
                    pass
            if socket not in ready:
                continue
            reply, action = handler.handle(receive(socket))
            socket.send_multipart(reply, copy=False)
            if action is not Action.CONTINUE:
                return EXIT_OK if action is Action.STOP else EXIT_VERSION_MISMATCH
    finally:
        signal.set_wakeup_fd(previous)
        os.close(reader)
        os.close(writer)


#: The MessagePack of ["ok", 1, 1], as floor_rep.py answers.
REPLY = b"\x93\xa2ok\x01\x01"


def serve_stub(socket, handler):
    call = handler.handle

    def handle(frames):
        if frames[0][:1] == b"\x96":  # a call: answered with the bytes made once
            return [REPLY], Action.CONTINUE
        return call(frames)

    handler.handle = handle
    return _serve(socket, handler)


def serve_minimal(socket, handler):
    """The serve loop as shipped with the least protocol work a call could have: msgpack decode,
    a dict lookup of the function, the call, msgpack encode."""
    import msgpack

    call = handler.handle
    functions = {}

    def handle(frames):
        envelope = msgpack.unpackb(frames[0])
        if envelope[0] != "call":
            return call(frames)
        key = (envelope[2], envelope[3])
        fn = functions.get(key)
        if fn is None:
            fn = functions[key] = handler.resolver.resolve(*key)
        return [msgpack.packb(["ok", envelope[1], fn(*envelope[4])])], Action.CONTINUE

    handler.handle = handle
    return _serve(socket, handler)


class _NoScope:
    def leave(self):
        pass


def serve_without(parts):
    """The runtime as shipped, with `parts` of a plain call's path replaced by nothing (to see what each costs)."""
    import msgpack

    import piton.handler as handler_module

    def serve(socket, handler):
        if "context" in parts:
            scope = _NoScope()
            handler_module.call_context = type("cc", (), {"enter": staticmethod(lambda meta: scope)})
        if "lock" in parts:
            lane = handler.lane
            type(lane).begin = lambda self, rid: True
            type(lane).end = lambda self: None
        if "codec" in parts:
            handler_module.decode = lambda frames: msgpack.unpackb(frames[0])
            handler_module.encode = lambda value: [msgpack.packb(value)]
        return _serve(socket, handler)

    return serve


def serve_floorloop(socket, handler, timeout=None, more=None, relay=False):
    recv, send = socket.recv, socket.send
    if timeout is not None:
        socket.rcvtimeo = timeout
    if relay:
        server._SigtermRelay()
    get, RCVMORE = socket.get, zmq.RCVMORE
    backend_get, rcvmore = zmq.backend.Socket.get, int(zmq.RCVMORE)
    first = None
    while True:
        try:
            if more == "frame":
                frame = recv(copy=False)
                frame.more
                request = frame.bytes
            else:
                request = recv()
                if more == "get":
                    get(RCVMORE)
                elif more == "backend":
                    backend_get(socket, rcvmore)
        except zmq.Again:
            continue
        if first is None:
            first = request
        if request != first:
            send(b"bye")
            return EXIT_OK
        send(REPLY)


def serve_after(setup, socket, handler):
    """The serve loop as shipped, after ``setup()`` (a change to the collector)."""
    setup()
    return _serve(socket, handler)


VARIANTS = {
    "current": None, "poll": serve_poll, "stub": serve_stub, "minimal": serve_minimal,
    "nocontext": serve_without({"context"}), "nolock": serve_without({"lock"}), "nocodec": serve_without({"codec"}),
    "noall": serve_without({"context", "lock", "codec"}),
    "floorloop": serve_floorloop, "timeo": lambda s, h: serve_floorloop(s, h, server.RECEIVE_TIMEOUT_MS),
    "loopget": lambda s, h: serve_floorloop(s, h, more="get"),
    "loopframe": lambda s, h: serve_floorloop(s, h, more="frame"),
    "loopbackend": lambda s, h: serve_floorloop(s, h, more="backend"),
    "relay": lambda s, h: serve_floorloop(s, h, relay=True),
    "nogc": lambda s, h: serve_after(gc.disable, s, h),
    "frozen": lambda s, h: serve_after(gc.freeze, s, h),
}
_serve = server.serve

if __name__ == "__main__":
    variant = sys.argv.pop(1)
    if VARIANTS[variant] is not None:
        chosen = VARIANTS[variant]
        server.serve = lambda socket, handler, lanes=None: chosen(socket, handler)
    from piton.worker import main

    main()
