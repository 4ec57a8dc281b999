"""Serve loops between the bare floor and the floor as it was before issue 22, one difference each,
for bench/floor-split.ts to time side by side (``--loop NAME``):

- ``bare``: receive, send back the reply's bytes made once (``floor_rep.py --mode bare``);
- ``numpy``: the same in a process that has imported numpy (as the old floor did, for its arrays);
- ``rcvmore``: the same, reading ``sock.rcvmore`` after each receive (as the old floor did);
- ``getrcvmore``: the same, reading it as ``sock.get(zmq.RCVMORE)``;
- ``msgpack``: the same, decoding the request and encoding ``["ok", id, args[0]]`` with msgpack;
- ``old``: the old floor's loop as it was (numpy imported, ``rcvmore``, msgpack).

Prints ``ready`` once bound; exits after answering the request ``stop``.
"""

from __future__ import annotations

import argparse

import zmq

REPLY = b"\x93\xa2ok\x01\x01"
STOP = b"stop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--loop", choices=("bare", "numpy", "rcvmore", "getrcvmore", "msgpack", "old"), required=True)
    args = parser.parse_args()
    if args.loop in ("numpy", "old"):
        import numpy  # noqa: F401  (imported for what importing it does to the process)
    if args.loop in ("msgpack", "old"):
        import msgpack
    context = zmq.Context()
    sock = context.socket(zmq.REP)
    sock.linger = 0
    sock.bind(args.endpoint)
    print("ready", flush=True)
    recv, send = sock.recv, sock.send
    loop = args.loop
    if loop in ("bare", "numpy"):
        while (request := recv()) != STOP:
            send(REPLY)
    elif loop == "rcvmore":
        while (request := recv()) != STOP:
            _ = sock.recv_multipart(copy=False) if sock.rcvmore else []
            send(REPLY)
    elif loop == "getrcvmore":
        get, RCVMORE = sock.get, zmq.RCVMORE
        while (request := recv()) != STOP:
            _ = sock.recv_multipart(copy=False) if get(RCVMORE) else []
            send(REPLY)
    elif loop == "msgpack":
        while (request := recv()) != STOP:
            decoded = msgpack.unpackb(request)
            send(msgpack.packb(["ok", decoded[1], decoded[4][0]]))
    else:
        while (request := recv()) != STOP:
            _ = sock.recv_multipart(copy=False) if sock.rcvmore else []
            decoded = msgpack.unpackb(request)
            send(msgpack.packb(["ok", decoded[1], decoded[4][0]]))
    send(b"bye")
    sock.close(linger=1000)
    context.term()


if __name__ == "__main__":
    main()
