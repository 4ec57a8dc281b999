"""The floor: a bare pyzmq REP socket answering the benchmark's requests, with no framework.

``--mode msgpack`` decodes the request envelope ``["call", id, module, fn, args, kwargs]`` with
msgpack and answers ``["ok", id, args[0]]``; array bytes arrive as frame 1, are wrapped by
``numpy.frombuffer`` (no copy) and sent back as frame 1 of the reply. This is the least work any
bridge over these sockets and this codec must do. ``--mode raw`` sends every request back
unread: the transport alone (zeromq.js, libzmq, ipc, pyzmq), for the profile.

Prints ``ready`` once bound; exits after answering a ``stop`` request (``["stop", id]``; id 0 in raw mode).
"""

from __future__ import annotations

import argparse

import msgpack
import numpy as np
import zmq

#: Frames at least this large are sent without a copy, as the worker runtime does.
ZERO_COPY_THRESHOLD = 256 * 1024
#: What ends the raw echo (any other message is echoed).
STOP_REQUEST = msgpack.packb(["stop", 0])


def serve_msgpack(sock: zmq.Socket) -> None:
    while True:
        head = sock.recv()
        rest = sock.recv_multipart(copy=False) if sock.rcvmore else []
        request = msgpack.unpackb(head)
        kind, rid = request[0], request[1]
        if kind == "stop":
            sock.send(msgpack.packb(["bye", rid]))
            return
        reply = msgpack.packb(["ok", rid, request[4][0]])
        if not rest:
            sock.send(reply)
            continue
        arrays = [np.frombuffer(frame.buffer, dtype="<f8") for frame in rest]
        sock.send(reply, zmq.SNDMORE)
        for i, array in enumerate(arrays):
            flags = zmq.SNDMORE if i < len(arrays) - 1 else 0
            sock.send(array, flags, copy=array.nbytes < ZERO_COPY_THRESHOLD)


def serve_raw(sock: zmq.Socket) -> None:
    while True:
        # Copying receive and send: for the tiny messages profiled here, the cheapest pyzmq calls.
        frames = sock.recv_multipart()
        if len(frames) == 1 and frames[0] == STOP_REQUEST:
            sock.send(msgpack.packb(["bye", 0]))
            return
        sock.send_multipart(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--mode", choices=("msgpack", "raw"), default="msgpack")
    args = parser.parse_args()
    context = zmq.Context()
    sock = context.socket(zmq.REP)
    sock.linger = 0
    sock.bind(args.endpoint)
    print("ready", flush=True)
    try:
        (serve_msgpack if args.mode == "msgpack" else serve_raw)(sock)
        sock.close(linger=1000)
    finally:
        sock.close(linger=0)
        context.term()


if __name__ == "__main__":
    main()
