"""The floor: a bare pyzmq REP socket answering the benchmark's requests, with no framework.

``--mode bare`` (the floor of the latency and throughput figures) is what anyone would write to
answer a request over these sockets: receive a message, send back a reply whose bytes were made
once at start-up (the MessagePack of ``["ok", 1, 1]``, what the pool's no-op call answers), read
nothing, decode nothing. ``--mode array`` receives every frame without a copy and sends the array
frames back after that same reply (array bytes travel as their own frames, as in the pool).
``--mode msgpack`` is the floor as it was before issue 22, kept for scale: it decodes the call
envelope ``["call", id, module, fn, args, kwargs]`` with msgpack and answers ``["ok", id, args[0]]``.

Prints ``ready`` once bound; exits after answering the request ``stop`` (the 4 bytes, in every mode).
"""

from __future__ import annotations

import argparse

import zmq

#: The MessagePack of ["ok", 1, 1]: a fixarray of 3, the fixstr "ok", the fixints 1 and 1.
REPLY = b"\x93\xa2ok\x01\x01"
STOP = b"stop"
BYE = b"bye"


def serve_bare(sock: zmq.Socket) -> None:
    recv, send = sock.recv, sock.send
    while True:
        if recv() == STOP:
            send(BYE)
            return
        send(REPLY)


def serve_array(sock: zmq.Socket) -> None:
    while True:
        frames = sock.recv_multipart(copy=False)
        if len(frames) == 1 and frames[0].bytes == STOP:
            sock.send(BYE)
            return
        sock.send_multipart([REPLY, *frames[1:]], copy=False)


def serve_msgpack(sock: zmq.Socket) -> None:
    import msgpack

    while True:
        head = sock.recv()
        if head == STOP:
            sock.send(BYE)
            return
        request = msgpack.unpackb(head)
        sock.send(msgpack.packb(["ok", request[1], request[4][0]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--mode", choices=("bare", "array", "msgpack"), default="bare")
    args = parser.parse_args()
    context = zmq.Context()
    sock = context.socket(zmq.REP)
    sock.linger = 0
    sock.bind(args.endpoint)
    print("ready", flush=True)
    try:
        {"bare": serve_bare, "array": serve_array, "msgpack": serve_msgpack}[args.mode](sock)
        sock.close(linger=1000)
    finally:
        sock.close(linger=0)
        context.term()


if __name__ == "__main__":
    main()
