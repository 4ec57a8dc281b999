"""Measure pyzmq's copy=True vs copy=False for a REQ/REP round trip over ipc://, by message size.

Run: .venv/bin/python python/bench/copy_threshold.py   (figures go into bench/README.md, "Copies on the Python side")

Each round trip sends one frame of the given size from REQ to a REP in another process, which
echoes it back; both ends use the same copy mode on send and receive.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import zmq

SIZES = [1 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]


TIMEOUT_MS = 30_000


def echo(endpoint: str, copy: bool, rounds: int) -> None:
    context = zmq.Context()
    rep = context.socket(zmq.REP)
    rep.copy_threshold = 0  # let copy=False mean zero-copy at every size
    rep.linger = 0
    rep.bind(endpoint)
    for _ in range(rounds):
        if not rep.poll(TIMEOUT_MS):
            break
        rep.send_multipart(rep.recv_multipart(copy=copy), copy=copy)
    rep.close(linger=1000)  # linger 0 would drop the last echo, still queued
    context.term()


def measure(size: int, copy: bool) -> float:
    rounds = max(5, min(2000, (256 << 20) // size // 4))
    with tempfile.TemporaryDirectory() as tmp:
        endpoint = f"ipc://{tmp}/bench.sock"
        peer = subprocess.Popen([sys.executable, __file__, "--echo", endpoint, str(int(copy)), str(rounds + 2)])
        context = zmq.Context()
        req = context.socket(zmq.REQ)
        req.copy_threshold = 0
        req.linger = 0
        req.connect(endpoint)
        payload = os.urandom(size)
        times = []
        for i in range(rounds + 2):
            start = time.perf_counter()
            req.send(payload, copy=copy)
            if not req.poll(TIMEOUT_MS):
                peer.kill()
                raise TimeoutError(f"no echo of {size} bytes within {TIMEOUT_MS} ms")
            req.recv(copy=copy)
            if i >= 2:  # warm-up
                times.append(time.perf_counter() - start)
        peer.wait(30)
        req.close()
        context.term()
    return statistics.median(times)


def main() -> None:
    print(f"{'size':>10} {'copy=True':>12} {'copy=False':>12}  faster")
    for size in SIZES:
        t_copy, t_zero = measure(size, True), measure(size, False)
        label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
        print(f"{label:>10} {t_copy * 1e6:>10.0f}us {t_zero * 1e6:>10.0f}us  {'copy' if t_copy < t_zero else 'zero-copy'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--echo"]:
        echo(sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]))
    else:
        main()
