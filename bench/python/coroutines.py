"""The ``async def`` functions the ``async`` benchmark family calls through the pool (and its
floor, bench/python/asyncio_floor.py, calls in plain Python)."""

import asyncio
from typing import Optional

import aiohttp
import httpx


async def noop(x):
    """Returns its argument: the cost of an ``async def`` call with nothing to do."""
    return x


async def sleep(seconds):
    """Waits on the event loop: an I/O wait that holds no CPU."""
    await asyncio.sleep(seconds)
    return seconds


async def started_sleep(seconds):
    """Tells Node it has started (``aprogress``), then waits: a call known to be running in
    Python, for the benchmark that kills its interpreter."""
    from piton import aprogress

    await aprogress("started")
    await asyncio.sleep(seconds)
    return seconds


# One client of each kind per interpreter, made on first use on the interpreter's loop and kept,
# as a service keeps its API client. Up to 200 connections, all kept alive: the benchmark runs
# at most 100 GETs at once.
_httpx: Optional[httpx.AsyncClient] = None
_aiohttp: Optional[aiohttp.ClientSession] = None


async def httpx_get(url):
    """One HTTP GET with ``httpx.AsyncClient``: returns the status and the body."""
    global _httpx
    if _httpx is None:
        _httpx = httpx.AsyncClient(limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))
    response = await _httpx.get(url)
    return [response.status_code, response.text]


async def aiohttp_get(url):
    """One HTTP GET with ``aiohttp.ClientSession``: returns the status and the body."""
    global _aiohttp
    if _aiohttp is None:
        _aiohttp = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    async with _aiohttp.get(url) as response:
        return [response.status, await response.text()]


async def close_clients():
    """Closes the clients (the floor's, before its event loop ends)."""
    global _httpx, _aiohttp
    if _httpx is not None:
        await _httpx.aclose()
    if _aiohttp is not None:
        await _aiohttp.close()
    _httpx = _aiohttp = None
