"""The worker runtime with its serve loop swapped for a variant, to compare serve loops side by
side (bench/latency-split.ts): ``worker_variant.py VARIANT <piton.worker arguments>``.

- ``current``: the serve loop as shipped (blocking receive, SIGTERM relay thread);
- ``poll``: the earlier loop, which polled the socket together with the signal wakeup fd before
  every receive (kept here to measure what that poll cost).
"""

from __future__ import annotations

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


VARIANTS = {"current": None, "poll": serve_poll}

if __name__ == "__main__":
    variant = sys.argv.pop(1)
    if VARIANTS[variant] is not None:
        server.serve = VARIANTS[variant]
    from piton.worker import main

    main()
