"""A plain stdio pipe, for scale: each message is a 4-byte little-endian length and a MessagePack
envelope ``["call", id, module, fn, args, kwargs]``; the reply ``["ok", id, args[0]]`` comes back
the same way on stdout. No sockets, no framework: the cheapest IPC a bridge could use."""

import struct
import sys

import msgpack


def read_exact(stream, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) < n:
        raise EOFError
    return data


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(b"ready\n")
    stdout.flush()
    try:
        while True:
            (size,) = struct.unpack("<I", read_exact(stdin, 4))
            request = msgpack.unpackb(read_exact(stdin, size))
            reply = msgpack.packb(["ok", request[1], request[4][0]])
            stdout.write(struct.pack("<I", len(reply)) + reply)
            stdout.flush()
    except EOFError:
        pass


if __name__ == "__main__":
    main()
