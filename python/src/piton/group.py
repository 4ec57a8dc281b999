"""The worker's process group: everything a call starts lives and dies with the worker.

Each worker leads a process group of its own (the Node side spawns it in a new session; a worker
started otherwise makes its group here, first thing). Subprocesses and forks made by user code
join that group, so one ``killpg`` ends them all: the Node side signals the whole group to stop,
time out or kill an interpreter, and SIGKILLs what is left of it once the worker has exited.

When the Node process dies, nobody on the Node side is left to do that. The worker itself dies
by its parent-death signal (SIGKILL: it may be stuck in C holding the GIL, where no Python code of
its own could run), so a *guard* does it instead: a small process forked at start-up, before any
thread or import of user code, that holds no file of the worker (its stdio is ``/dev/null``),
ignores the signals a stop sends to the group, and waits for its own parent-death signal: when the
worker is gone, for whatever reason, the guard SIGKILLs the group, itself included.

On its way out (``stop``, SIGTERM, a dead parent) the worker ends the group itself and reaps those
members that are its children, the guard among them: only a worker that is SIGKILLed leaves its
guard (and what its calls started) to the system's reaper, as any orphan.

What still escapes: a process that leaves the group (``setsid``, ``setpgid``, a daemonising
double fork) is out of reach of the group and of the guard.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Dict, Optional

__all__ = ["lead_own_group", "start_guard", "end_group", "GUARD_NAME", "GUARD_SIGNAL"]

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
#: The guard's name in ``ps -o comm`` and ``/proc/PID/comm`` (its command line is the worker's).
GUARD_NAME = b"piton-guard"
#: The guard's parent-death signal: one that a stop never sends to the group.
GUARD_SIGNAL = signal.SIGUSR2
#: How long the worker waits on its way out for the members it killed to be reaped, in seconds.
REAP_WAIT = 0.5
#: Signals the group may receive that must not end the guard before the worker.
_IGNORED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGPIPE, signal.SIGQUIT)


def lead_own_group() -> bool:
    """Makes this process the leader of a process group of its own, unless it already is (the
    Node side spawns workers in a new session). Returns whether it leads its group."""
    if not hasattr(os, "setpgid"):
        return False
    if os.getpgrp() == os.getpid():
        return True
    try:
        os.setpgid(0, 0)
    except OSError:
        return False
    return os.getpgrp() == os.getpid()


def start_guard() -> Optional[int]:
    """Forks the guard of this worker's group (Linux only: it needs a parent-death signal).
    Call it while the process has one thread. Returns the guard's pid, or ``None`` when there is
    no guard (not Linux, or this process does not lead its group)."""
    if not sys.platform.startswith("linux") or os.getpgrp() != os.getpid():
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    leader = os.getpid()
    # Blocked before the fork, so the guard cannot miss a signal between the fork and its wait.
    signal.pthread_sigmask(signal.SIG_BLOCK, {GUARD_SIGNAL})
    try:
        pid = os.fork()
    finally:
        if os.getpid() == leader:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {GUARD_SIGNAL})
    if pid != 0:
        return pid
    try:
        _guard(libc, leader)
    finally:
        os._exit(0)


def _guard(libc: "object", leader: int) -> None:  # pragma: no cover - runs in the forked guard
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.closerange(3, 256)
    libc.prctl(PR_SET_NAME, GUARD_NAME, 0, 0, 0)  # type: ignore[attr-defined]
    libc.prctl(PR_SET_PDEATHSIG, int(GUARD_SIGNAL), 0, 0, 0)  # type: ignore[attr-defined]
    # The signal says the worker is gone; so does a changed parent, whoever sent the signal.
    while os.getppid() == leader:
        signal.sigwait({GUARD_SIGNAL})
    os.killpg(leader, signal.SIGKILL)


def _members(pgid: int) -> Optional[Dict[int, int]]:
    """pid → parent pid of the live processes of group ``pgid``; ``None`` without /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    members = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] != b"Z" and int(fields[2]) == pgid:
            members[int(entry)] = int(fields[1])
    return members


def end_group() -> None:
    """SIGKILLs the other members of the group this process leads (what its calls started, and
    its guard, whose job this is then done), and reaps those that are its own children, so that
    none is left as a zombie. Without /proc, nothing is done: the Node side ends the group."""
    me = os.getpid()
    if os.getpgrp() != me:
        return
    members = _members(me)
    if not members:
        return
    children = set()
    for pid, parent in members.items():
        if pid == me:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        if parent == me:
            children.add(pid)
    deadline = time.monotonic() + REAP_WAIT
    while children and time.monotonic() < deadline:
        for pid in list(children):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] != 0:
                    children.discard(pid)
            except ChildProcessError:
                children.discard(pid)
        if children:
            time.sleep(0.002)
