"""Round trips through a real worker from a Python REQ client: small calls one by one, the same
calls as one batch, and a 64 MiB float64 array echoed. Run: .venv/bin/python python/bench/call_rate.py
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from helpers import Worker  # noqa: E402

CALLS = 5000


def main() -> None:
    with Worker() as w:
        w.hello()
        start = time.perf_counter()
        for i in range(CALLS):
            w.call("functions", "add", i, 1)
        single = time.perf_counter() - start
        start = time.perf_counter()
        w.request("batch", [["functions", "add", [i, 1], None] for i in range(CALLS)])
        batch = time.perf_counter() - start
        array = np.random.default_rng(0).random(8 << 20)  # 64 MiB
        w.call("functions", "echo", array[:10])
        start = time.perf_counter()
        rounds = 5
        for _ in range(rounds):
            back = w.call("functions", "echo", array)[2]
        big = (time.perf_counter() - start) / rounds
        assert np.array_equal(back, array)
        w.request("stop")
        w.wait()
    print(f"small call, one by one: {single / CALLS * 1e6:.0f} us/call ({CALLS / single:,.0f} calls/s)")
    print(f"small call, in a batch: {batch / CALLS * 1e6:.1f} us/call ({CALLS / batch:,.0f} calls/s)")
    print(f"64 MiB float64 echo: {big * 1e3:.0f} ms per round trip ({2 * 64 / big / 1024:.2f} GiB/s both ways)")


if __name__ == "__main__":
    main()
