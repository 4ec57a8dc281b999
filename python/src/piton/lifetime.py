"""The launch contract, Python's side: what every process that serves calls shares from its start
to its exit, a worker (``piton.worker``), a fork server (``piton.forkserver``) and the agent that
starts workers on another host (``piton.agent``).

- :func:`add_serve_arguments`: the command-line options every serving process takes (PROTOCOL.md,
  "The worker process"); the Node side builds them in ``launch/command-line.ts``.
  :func:`serve_args` writes them for the workers the agent starts.
- :data:`LAUNCHER_LINE`: the ``python -c`` program that runs a module's ``main()`` with the working
  directory kept off ``sys.path``; the agent starts its workers with it, and a test holds it equal
  to the Node side's ``launcherCode``.
- :func:`guard_group`, :func:`tie_to_parent`, :func:`orphaned`: a serving process dies with its
  parent (PR_SET_PDEATHSIG on Linux, then the ``--parent-pid`` check, then a watchdog thread), and
  what its calls started dies with it (``group.py``).
- :func:`preload`, :func:`sigterm_blocked`, :func:`exit_process`: importing the preloads, keeping
  SIGTERM for the main thread, and leaving without waiting for user threads.

Exit codes are PROTOCOL.md's, in ``protocol.py``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback
from typing import Iterator, List, NoReturn, Optional, Sequence

from .group import end_group, start_guard
from .protocol import DEFAULT_MAX_MESSAGE_SIZE, EXIT_ORPHANED, EXIT_PRELOAD_FAILED

__all__ = [
    "LAUNCHER_LINE",
    "PARENT_POLL_INTERVAL",
    "add_serve_arguments",
    "serve_args",
    "launcher_code",
    "positive_int",
    "guard_group",
    "set_parent_death_signal",
    "tie_to_parent",
    "orphaned",
    "preload",
    "put_first_on_path",
    "sigterm_blocked",
    "exit_process",
]

#: ``python -c LAUNCHER_LINE.format(module=...)``: runs ``module``'s ``main()`` as ``python -m module``
#: would, but drops the working directory that ``-c`` puts first on ``sys.path`` (unless safe-path
#: mode already left it out) before anything is imported, so a planted ``enum.py`` or ``piton/``
#: there never runs. One line, so that ``ps`` shows it whole.
LAUNCHER_LINE = (
    "import sys; sys.path[:1] == [''] and not getattr(sys.flags, 'safe_path', False) and sys.path.pop(0); "
    "from {module} import main; main()"
)

PR_SET_PDEATHSIG = 1
#: How often the watchdog thread looks for a dead parent, in seconds.
PARENT_POLL_INTERVAL = 0.5

#: The pid of this process's group guard (``group.py``), if it has one.
_guard_pid: Optional[int] = None


def launcher_code(module: str) -> str:
    """The ``-c`` program that runs ``module`` (``piton.worker``, ``piton.forkserver``)."""
    return LAUNCHER_LINE.format(module=module)


# ------------------------------------------------------------------------------ arguments


def positive_int(text: str) -> int:
    """An argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def add_serve_arguments(parser: argparse.ArgumentParser, *, parent_required: bool = False) -> None:
    """The options every serving process takes: its parent, the size limit, and what it imports
    and may call (``serveArgs`` in ``launch/command-line.ts``)."""
    parser.add_argument("--parent-pid", type=int, required=parent_required, default=None, metavar="PID",
                        help="exit at once (code 4) when the parent process is not, or stops being, PID")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="directory put first on sys.path; its modules are callable (repeatable)")
    parser.add_argument("--preload", action="append", default=[], metavar="MODULE",
                        help="module imported before serving; if it raises, exit with code 3 (repeatable)")
    parser.add_argument("--max-message-size", type=positive_int, default=DEFAULT_MAX_MESSAGE_SIZE,
                        metavar="BYTES", help="largest request or reply, all frames together")
    parser.add_argument("--allow-module", action="append", default=[], metavar="NAME",
                        help="module callable although it is not under a --path (repeatable)")
    parser.add_argument("--allow-private", action="store_true",
                        help="allow module and function names starting with '_'")
    parser.add_argument("--allow-reexports", action="append", default=[], metavar="MODULE",
                        help="callable names of MODULE may be defined elsewhere ('*': of every module; repeatable)")


def serve_args(parent_pid: int, max_message_size: int, path: Sequence[str], preload: Sequence[str],
               allow_modules: Sequence[str], allow_private: bool, allow_reexports: Sequence[str]) -> List[str]:
    """The options of :func:`add_serve_arguments`, as a command line: what the agent tells the
    workers it starts (the Node side's ``serveArgs`` writes the same for local ones)."""
    args = ["--parent-pid", str(parent_pid), "--max-message-size", str(max_message_size)]
    for directory in path:
        args += ["--path", directory]
    for module in preload:
        args += ["--preload", module]
    for module in allow_modules:
        args += ["--allow-module", module]
    if allow_private:
        args.append("--allow-private")
    for module in allow_reexports:
        args += ["--allow-reexports", module]
    return args


# ------------------------------------------------------------------------------ parent death


def guard_group() -> None:
    """Starts the guard of this process's group (``group.py``) and remembers it. First thing, while
    this is the only thread and before any user code."""
    global _guard_pid
    _guard_pid = start_guard()


def set_parent_death_signal() -> None:
    """SIGKILL when the parent dies (Linux); elsewhere the watchdog thread alone catches it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watchdog thread still catches an orphaned process


def orphaned(expected_parent: int) -> NoReturn:
    """The parent is gone: end what this process's calls started, and exit with code 4."""
    sys.stderr.write(f"piton: parent process {expected_parent} is gone; worker exits\n")
    sys.stderr.flush()
    end_group()  # what calls started, and the guard: nothing outlives the parent
    if _guard_pid is None and os.getpgrp() == os.getpid() and not sys.platform.startswith("linux"):
        # No /proc to find the members by: end the whole group, this process included.
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(EXIT_ORPHANED)


def _watch_parent(expected_parent: int) -> None:
    # Fallback for platforms without PDEATHSIG, and for a parent thread (not process) exit
    # clearing it: once orphaned, the process is reparented and getppid changes.
    event = threading.Event()
    while not event.wait(PARENT_POLL_INTERVAL):
        if os.getppid() != expected_parent:
            orphaned(expected_parent)


def tie_to_parent(parent_pid: Optional[int]) -> None:
    """Dies with ``parent_pid`` (the current parent when None): the death signal, a check that the
    parent did not die before it took effect, and a watchdog thread."""
    set_parent_death_signal()
    expected = os.getppid() if parent_pid is None else parent_pid
    if os.getppid() != expected:  # the parent died before prctl took effect
        orphaned(expected)
    threading.Thread(target=_watch_parent, args=(expected,), name="piton-parent-watch", daemon=True).start()


# ------------------------------------------------------------------------------ start and exit


def preload(modules: Sequence[str]) -> None:
    """Imports ``modules``; the first that raises ends the process with code 3 and its traceback."""
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:
            sys.stderr.write(f"piton: preloading module {name!r} failed:\n")
            traceback.print_exc()
            exit_process(EXIT_PRELOAD_FAILED)


def put_first_on_path(directories: List[str]) -> None:
    """``--path`` directories go first on ``sys.path``, in the order given."""
    for path in reversed(directories):
        sys.path.insert(0, os.path.abspath(path))


@contextlib.contextmanager
def sigterm_blocked() -> Iterator[None]:
    """Threads started inside (the watchdog, libzmq's I/O threads, numpy's BLAS pool) inherit a
    mask that blocks SIGTERM, so the kernel delivers it to the main thread: a main thread blocked
    in a user's sleep() or read() is then interrupted and unwinds at once."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def exit_process(code: int) -> NoReturn:
    """Leaves without waiting for non-daemon threads that user code may have started: the pool
    expects the process to end right after ``bye``. atexit handlers still run."""
    try:
        atexit._run_exitfuncs()
        # After the user's atexit handlers (which may stop their subprocesses gracefully): what
        # is left of the group goes, and the guard is reaped rather than left to the system.
        end_group()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)
