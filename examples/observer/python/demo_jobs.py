"""Python functions of the observer example: some work, and a crash on request."""
import ctypes
import time
from typing import NoReturn


def work(ms: float) -> float:
    """Busy for `ms` milliseconds of wall time, then returns how long it took."""
    start = time.perf_counter()
    time.sleep(ms / 1000)
    return round((time.perf_counter() - start) * 1000, 1)


def segfault() -> NoReturn:
    """Reads address 0: the interpreter dies with SIGSEGV and the pool replaces it."""
    ctypes.string_at(0)
