"""The module the benchmarks call through the pool (and through python-shell and the stdio pipe)."""

import time


def noop(x):
    """Returns its argument: the cost of a call with nothing to do."""
    return x


def echo(array):
    """Returns its argument; a typed array arrives as a numpy array and goes back as one."""
    return array


def fib(n):
    """The seed's fib (examples/fibonacci/functions.py), CPU-bound."""
    if n < 0: raise Exception("No negative values !!!")
    if n == 0: return 0
    if n < 3: return 1
    return fib(n - 1) + fib(n - 2)


def sleep(seconds):
    """Keeps its interpreter busy, for the recovery benchmark (which kills it meanwhile)."""
    time.sleep(seconds)
    return seconds


def call_back(n):
    """Calls the Node function exposed as ``noop`` ``n`` times: n callback round trips in one call."""
    from piton import node

    for _ in range(n):
        node.call("noop", 1)
    return n


def report(n):
    """Reports progress ``n`` times: n round trips with an ``onProgress``, none without."""
    from piton import progress

    for i in range(n):
        progress(i)
    return n


def silent_progress_ns(n):
    """ns per ``progress()`` when nobody listens, timed inside Python (nothing crosses the wire)."""
    from piton import progress

    start = time.perf_counter_ns()
    for i in range(n):
        progress(i)
    return (time.perf_counter_ns() - start) / n


def record(ledger, call_id, seconds=0):
    """Appends ``call_id`` to the file ``ledger`` (one line, one write), then sleeps: every run of
    a call leaves one line, so a call that ran twice shows twice (the remote benchmark's ledger)."""
    import os

    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{call_id}\n".encode())
    finally:
        os.close(fd)
    time.sleep(seconds)
    return call_id


def burn(ms):
    """Keeps a CPU busy for ``ms`` ms of this process's CPU time (the elastic burst's unit of work)."""
    end = time.process_time() + ms / 1000
    while time.process_time() < end:
        pass
    return ms


def net_inode(seconds=0):
    """The network namespace this interpreter runs in (its inode), after ``seconds``."""
    import os

    time.sleep(seconds)
    return os.stat("/proc/self/ns/net").st_ino
