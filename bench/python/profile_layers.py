"""Times the Python side of one no-op call, layer by layer, in this process (no Node involved):

- ``msgpack_us``: msgpack decode of a call envelope + encode of its ``ok`` reply (what the floor did
  before issue 22; the bare floor encodes nothing);
- ``piton_codec_us``: the same with piton's codec (frames, extensions);
- ``handler_us``: piton's whole request handling (decode, parse, resolve, call ``noop``, encode);
- ``pyzmq_copy_us`` / ``pyzmq_nocopy_us``: a send + receive of a tiny frame between two PAIR
  sockets over ipc, received with ``recv()`` vs ``recv_multipart(copy=False)``;
- ``pyzmq_poll_us``: the same with ``recv()`` after a ``zmq.Poller`` poll of the socket and a pipe,
  as the worker's serve loop does.

Prints one JSON line of medians (µs per operation). ``--quick`` times fewer operations.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import timeit

import msgpack
import zmq

from piton.codec import decode, encode
from piton.dispatch import Resolver
from piton.handler import Handler

HERE = os.path.dirname(os.path.abspath(__file__))


def per_op_us(fn, number: int, repeat: int = 7) -> float:
    fn()
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    scale = 8 if "--quick" in sys.argv[1:] else 1
    call = msgpack.packb(["call", 1, "functions", "noop", [1], None])
    frames = [call]

    def floor_codec() -> None:
        request = msgpack.unpackb(call)
        msgpack.packb(["ok", request[1], request[4][0]])

    def piton_codec() -> None:
        request = decode(frames)
        encode(["ok", request[1], request[4][0]])

    handler = Handler(Resolver([HERE]))
    reply, _ = handler.handle(frames)
    if decode(reply)[0] != "ok":
        raise SystemExit(f"the handler did not answer ok: {decode(reply)!r}")

    def handle() -> None:
        handler.handle(frames)

    results = {
        "msgpack_us": per_op_us(floor_codec, 4000 // scale),
        "piton_codec_us": per_op_us(piton_codec, 4000 // scale),
        "handler_us": per_op_us(handle, 4000 // scale),
    }

    context = zmq.Context()
    with tempfile.TemporaryDirectory() as tmp:
        a, b = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
        endpoint = f"ipc://{tmp}/pair"
        a.bind(endpoint)
        b.connect(endpoint)
        try:
            def copy() -> None:
                a.send(call)
                b.recv()

            def nocopy() -> None:
                a.send(call)
                b.recv_multipart(copy=False)

            # The worker polls its socket together with a signal wake-up pipe before receiving.
            read_fd, write_fd = os.pipe()
            poller = zmq.Poller()
            poller.register(b, zmq.POLLIN)
            poller.register(read_fd, zmq.POLLIN)

            def polled() -> None:
                a.send(call)
                poller.poll()
                b.recv()

            results["pyzmq_copy_us"] = per_op_us(copy, 2000 // scale)
            results["pyzmq_nocopy_us"] = per_op_us(nocopy, 2000 // scale)
            results["pyzmq_poll_us"] = per_op_us(polled, 2000 // scale)
            os.close(read_fd)
            os.close(write_fd)
        finally:
            a.close(linger=0)
            b.close(linger=0)
            context.term()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
