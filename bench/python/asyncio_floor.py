"""The floors of the ``async`` family: the same awaits as the pool's calls, run with
``asyncio.gather`` in this one plain Python process (``asyncio.run``, on uvloop's loop when it is
importable, as the pool's interpreters are: a floor on the slower default loop would flatter the
pool), timed inside the process so that its start-up is left out, as the pools compared with it are
already running.

Prints ``ready``, then answers each line read from stdin with the wall time of the gather in ms:

- ``sleep COUNT SECONDS``: COUNT coroutines of ``await asyncio.sleep(SECONDS)``;
- ``get CLIENT COUNT CONCURRENCY URL``: COUNT GETs of URL, at most CONCURRENCY at once, with one
  ``httpx.AsyncClient`` or ``aiohttp.ClientSession`` (CLIENT ``httpx`` or ``aiohttp``) made
  beforehand and warmed with CONCURRENCY GETs, as the pool's interpreter keeps its own.

Exits at end of input.
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import coroutines  # noqa: E402


async def sleeps(count: int, seconds: float) -> float:
    t0 = time.perf_counter()
    results = await asyncio.gather(*(asyncio.sleep(seconds, i) for i in range(count)))
    elapsed = time.perf_counter() - t0
    if results != list(range(count)):
        raise SystemExit("gather returned wrong results")
    return elapsed * 1000


async def gets(client: str, count: int, concurrency: int, url: str) -> float:
    get = {"httpx": coroutines.httpx_get, "aiohttp": coroutines.aiohttp_get}[client]
    limit = asyncio.Semaphore(concurrency)

    async def one():
        async with limit:
            return await get(url)

    await asyncio.gather(*(one() for _ in range(concurrency)))
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)))
    elapsed = time.perf_counter() - t0
    if any(r != [200, "ok"] for r in results):
        raise SystemExit("a GET did not answer 200 ok")
    await coroutines.close_clients()
    return elapsed * 1000


def main() -> None:
    try:
        import uvloop
    except ImportError:
        pass
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print("ready", flush=True)
    for line in sys.stdin:
        kind, *args = line.split()
        if kind == "sleep":
            ms = asyncio.run(sleeps(int(args[0]), float(args[1])))
        elif kind == "get":
            ms = asyncio.run(gets(args[0], int(args[1]), int(args[2]), args[3]))
        else:
            raise SystemExit(f"unknown command {kind!r}")
        print(ms, flush=True)


if __name__ == "__main__":
    main()
