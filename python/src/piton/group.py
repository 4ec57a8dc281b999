"""The worker's process group: everything a call starts lives and dies with the worker.

Each worker leads a process group of its own (the Node side spawns it in a new session; a worker
started otherwise makes its group here, first thing). Subprocesses and forks made by user code
join that group, so one ``killpg`` ends them all: the Node side signals the whole group to stop,
time out or kill an interpreter, and SIGKILLs what is left of it once the worker has exited.

When the Node process dies, nobody on the Node side is left to do that. The worker itself dies by
its parent-death signal (SIGKILL: it may be stuck in C holding the GIL, where no Python code of its
own could run), so a *guard* does it instead: a ``/bin/sh`` started at the worker's start-up
(``posix_spawn``, before any thread or import of user code), about 0.2–0.5 MiB of PSS where a
forked copy of the worker cost 6–32 MiB. Its stdin is the read end of a pipe, the *lifeline*, whose
only write end the worker holds (close-on-exec, and closed in every ``os.fork()`` child by an
after-fork hook); its stdout tells the worker it is ready; its stderr is ``/dev/null``; it ignores
the signals a stop sends to the group and names itself ``piton-guard`` (where ``printf`` is a
builtin, as in dash, bash and busybox ash). It waits in ``read``: when the worker is gone, for
whatever reason, its end of the lifeline closes, ``read`` sees end-of-file, and the guard SIGKILLs
the group, itself included. An end-of-file cannot be missed the way a signal can (it lasts), so
there is no window at start-up or later in which the worker's death goes unseen. Its command line
ends with the worker's own, so ``ps`` shows whose guard it is. Without ``/bin/sh`` the guard is a
forked copy of the worker doing the same.

On its way out (``stop``, SIGTERM, a dead parent) the worker ends the group itself and reaps those
members that are its children, the guard among them: only a worker that is SIGKILLed leaves its
guard (and what its calls started) to the system's reaper, as any orphan.

What still escapes: a process that leaves the group (``setsid``, ``setpgid``, a daemonising
double fork) is out of reach of the group and of the guard; and a process forked by native code
that bypasses Python's fork hooks (not ``os.fork``, ``subprocess`` or ``multiprocessing``) and
does not exec keeps the lifeline open, so the guard acts only once that process has ended.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Dict, List, Optional, Tuple

__all__ = ["lead_own_group", "start_guard", "end_group", "GUARD_NAME", "SHELL"]

PR_SET_NAME = 15
#: The guard's name in ``ps -o comm`` and ``/proc/PID/comm``, and its ``$0``.
GUARD_NAME = b"piton-guard"
#: The program the guard runs (a POSIX shell: only its builtins are used).
SHELL = "/bin/sh"
#: How long the worker waits on its way out for the members it killed to be reaped, in seconds.
REAP_WAIT = 0.5
#: Signals the group may receive that must not end the guard before the worker.
_IGNORED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE,
            signal.SIGQUIT)
#: The guard (``$0`` is its name, then the worker's command line, for ``ps``): ignore what a stop
#: sends; take its name; close stdout, which tells the worker it is set up; wait for the end of
#: the lifeline (stdin); SIGKILL its own process group, the worker's.
_GUARD_SCRIPT = "; ".join((
    f"trap '' {' '.join(s.name[3:] for s in _IGNORED)}",
    f"printf %s {GUARD_NAME.decode()} >/proc/$$/comm",
    "exec >&-",
    "while read -r line; do :; done",
    "kill -s KILL 0",
))

#: The write end of this worker's lifeline and its identity (device, inode), once it has a guard.
_lifeline: Optional[Tuple[int, Tuple[int, int]]] = None


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
    """Starts the guard of this worker's group and returns once it is set up (Linux, where it is
    tested). Call it while the process has one thread, before any user code. Returns the guard's
    pid, or ``None`` when there is no guard (not Linux, this process does not lead its group, or
    the guard could not be started)."""
    global _lifeline
    if not sys.platform.startswith("linux") or os.getpgrp() != os.getpid() or _lifeline is not None:
        return None
    lifeline_r, lifeline_w = _pipe_above_stdio()
    ready_r, ready_w = _pipe_above_stdio()
    try:
        try:
            pid: Optional[int] = _spawn_shell_guard(lifeline_r, ready_w)
        except OSError:
            pid = _fork_python_guard(lifeline_r, ready_w)
    finally:
        os.close(lifeline_r)
        os.close(ready_w)
    try:
        while os.read(ready_r, 64):  # end-of-file: the guard closed its stdout (or is gone)
            pass
    finally:
        os.close(ready_r)
    if pid is None:
        os.close(lifeline_w)
        return None
    stat = os.fstat(lifeline_w)
    _lifeline = (lifeline_w, (stat.st_dev, stat.st_ino))
    os.register_at_fork(after_in_child=_drop_lifeline)
    return pid


def _pipe_above_stdio() -> Tuple[int, int]:
    """A pipe (close-on-exec) neither of whose ends is fd 0, 1 or 2, which the guard's stdio become."""
    import fcntl

    ends = []
    for fd in os.pipe():
        if fd <= 2:
            moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(fd)
            fd = moved
        ends.append(fd)
    return ends[0], ends[1]


def _open_fds() -> List[int]:
    """This process's open descriptors (those that may be, without /proc)."""
    try:
        return [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(256))


def _command_line() -> List[str]:
    """This process's command line as the kernel shows it (``sys.argv`` lacks ``-m piton.worker``)."""
    try:
        with open("/proc/self/cmdline", "rb") as f:
            return [arg.decode("utf-8", "surrogateescape") for arg in f.read().split(b"\0")[:-1]]
    except OSError:
        return [sys.executable, *sys.argv]


def _spawn_shell_guard(lifeline_r: int, ready_w: int) -> int:
    """``/bin/sh`` running the guard script, with nothing of the worker but its command line: an
    empty environment, stdio as described above, every other descriptor closed."""
    actions: list = [
        (os.POSIX_SPAWN_DUP2, lifeline_r, 0),
        (os.POSIX_SPAWN_DUP2, ready_w, 1),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    # Close-on-exec descriptors close by themselves; those the worker inherited open (an agent's
    # --endpoint-fd, say) must not be held by the guard.
    for fd in _open_fds():
        try:
            if fd > 2 and os.get_inheritable(fd):
                actions.append((os.POSIX_SPAWN_CLOSE, fd))
        except OSError:
            pass  # the directory listing's own descriptor, closed since
    argv = [SHELL, "-c", _GUARD_SCRIPT, GUARD_NAME.decode(), *_command_line()]
    return os.posix_spawn(SHELL, argv, {}, file_actions=actions, setsigmask=())


def _fork_python_guard(lifeline_r: int, ready_w: int) -> Optional[int]:
    """The same guard as a forked copy of this worker, where ``/bin/sh`` cannot be started."""
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid != 0:
        return pid
    try:  # pragma: no cover - runs in the forked guard
        for sig in _IGNORED:
            signal.signal(sig, signal.SIG_IGN)
        os.dup2(lifeline_r, 0)
        os.dup2(ready_w, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        for fd in _open_fds():
            if fd > 2:
                try:
                    os.close(fd)  # the lifeline's write end among them
                except OSError:
                    pass
        try:
            import ctypes

            ctypes.CDLL(None).prctl(PR_SET_NAME, GUARD_NAME, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        os.close(1)  # set up
        while os.read(0, 512):
            pass
        os.kill(0, signal.SIGKILL)
    finally:
        os._exit(0)


def _drop_lifeline() -> None:
    """After ``os.fork()`` in a child: the lifeline's write end is the worker's alone, or the guard
    would wait for the child too. Closed only if the descriptor is still the lifeline."""
    global _lifeline
    if _lifeline is None:
        return
    fd, identity = _lifeline
    _lifeline = None
    try:
        stat = os.fstat(fd)
    except OSError:
        return
    if (stat.st_dev, stat.st_ino) == identity:
        os.close(fd)


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
