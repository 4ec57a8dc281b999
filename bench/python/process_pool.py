"""What a Python user reaches for: ``concurrent.futures.ProcessPoolExecutor``, timing itself.

Runs COUNT x fib(N) (the seed's fib) sequentially in this process, then through
``ProcessPoolExecutor(WORKERS).map`` with its default chunksize, and prints one JSON line:
``{"sequential_s": ..., "executor_s": ...}``. The executor is started and its workers warmed up
before the timing, as the pool it is compared with is already running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from functions import fib  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    t0 = time.perf_counter()
    for _ in range(args.count):
        fib(args.n)
    sequential = time.perf_counter() - t0

    with ProcessPoolExecutor(args.workers) as executor:
        list(executor.map(fib, [1] * args.workers * 4))  # warm-up: every worker started
        t0 = time.perf_counter()
        results = list(executor.map(fib, [args.n] * args.count))
        parallel = time.perf_counter() - t0
    if len(results) != args.count or results[0] != fib(args.n):
        raise SystemExit("executor returned wrong results")
    print(json.dumps({"sequential_s": sequential, "executor_s": parallel}), flush=True)


if __name__ == "__main__":
    main()
