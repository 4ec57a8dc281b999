"""The agent's warm start: ``python -c LAUNCHER --parent-pid AGENT_PID --control-fd FD``, one per
agent, started by it (``piton.agent.service``).

A cold worker start is mostly imports: the interpreter itself, zmq, msgpack and the worker runtime,
tens of ms on a quiet machine and over a second on a loaded one, and it comes first on the path of
every call a new host serves (a host found by DNS serves nothing until its first interpreter has
started). The zygote pays for those imports once, when the agent starts, and then forks a worker
for each ``start``: the fork takes milliseconds, and the child then becomes the worker the spec asks
for, exactly as a cold start would (its environment, working directory, ``PYTHONPATH``, ``--path``
and ``--preload``, applied in the child before any of the user's code runs). Only what the zygote
imported (the runtime and what it needs, never user code) is shared, so no spec leaks into
another. An environment variable that Python itself reads as it starts (``PYTHONHASHSEED``,
``PYTHONMALLOC``...) cannot take effect in a fork: the agent starts such a spec cold.

Fork safety: like ``piton.forkserver``, the zygote creates no ZeroMQ context and starts no thread;
each worker makes its own after the fork.

Control channel: a Unix ``SOCK_SEQPACKET`` socket to the agent (``--control-fd``), one JSON object
per packet. ``{"op": "fork", "ref", "argv", "env", "cwd"}`` comes with three descriptors
(``SCM_RIGHTS``): the worker's stdout, its stderr, and the pipe it reports its endpoint on; the
answer is ``{"op": "forked", "ref", "pid"}`` or ``{"op": "fork_failed", "ref", "error"}``.

Exits: the agent sees a worker's exit itself, at once, as it does a cold one's (a pidfd, readable
when the process ends, and its exit status read from ``/proc`` while it is a zombie): the zygote
does not reap a worker until the agent says ``{"op": "reap", "pid"}``, so no report of the exit has
to travel through the zygote, which would put one more process to be scheduled between a worker's
death and its report. Lifetimes: the zygote dies with the agent (PR_SET_PDEATHSIG, the
``--parent-pid`` check, the channel's end-of-file, on which it kills and reaps its children), and
each worker dies with the zygote (its ``--parent-pid`` is the zygote's, and the worker ties itself
to it as to any parent). Each worker leads a session of its own, as a cold one does.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
from typing import Dict, List, NoReturn, Optional, Sequence

from .. import lifetime
from ..protocol import EXIT_FAILED, EXIT_OK, EXIT_ORPHANED

__all__ = ["main", "STARTUP_VARIABLES", "forkable", "ENDPOINT_FD", "MAX_PACKET"]

#: Where a forked worker finds the pipe it reports its endpoint on (its ``--endpoint-fd``).
ENDPOINT_FD = 3
#: The largest control packet (a spec's argv and environment).
MAX_PACKET = 1 << 20
#: What every worker imports anyway, imported once here (no zmq context is created): the runtime,
#: and what its start-up imports (ctypes for the parent-death signal, shutil for the group's guard).
RUNTIME_MODULES = ("zmq", "zmq.auth", "piton.worker", "piton.server", "piton.handler", "piton.resolver", "piton.codec",
                   "piton.protocol", "piton.curve", "piton.call_context", "piton.group", "ctypes", "shutil", "fcntl", "locale")
#: Environment variables Python reads as it starts (besides ``PYTHONPATH``, which a fork applies to
#: ``sys.path``, and ``PYTHONUNBUFFERED``, which the zygote runs with): a start that sets one of them
#: differently from the zygote's environment must be a cold one.
STARTUP_VARIABLES = ("PYTHONHOME", "PYTHONHASHSEED", "PYTHONMALLOC", "PYTHONDEVMODE", "PYTHONUTF8", "PYTHONIOENCODING",
                     "PYTHONOPTIMIZE", "PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "PYTHONWARNINGS",
                     "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONVERBOSE", "PYTHONDEBUG", "PYTHONFAULTHANDLER",
                     "PYTHONTRACEMALLOC", "PYTHONPROFILEIMPORTTIME", "PYTHONINTMAXSTRDIGITS", "PYTHONPYCACHEPREFIX",
                     "PYTHONPLATLIBDIR", "PYTHONEXECUTABLE", "PYTHONCASEOK", "PYTHONLEGACYWINDOWSFSENCODING",
                     "PYTHONWARNDEFAULTENCODING", "PYTHONNODEBUGRANGES", "PYTHONPERFSUPPORT", "PYTHONBREAKPOINT",
                     "PYTHONCOERCECLOCALE", "LC_ALL", "LC_CTYPE", "LANG")


def forkable(env: Dict[str, str], zygote_env: Dict[str, str]) -> bool:
    """Whether a worker with the environment ``env`` can be forked from a zygote started with
    ``zygote_env``: every variable Python reads as it starts is the same in both."""
    return all(env.get(name) == zygote_env.get(name) for name in STARTUP_VARIABLES)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m piton.agent.zygote", description=__doc__.split("\n\n")[0])
    parser.add_argument("--parent-pid", type=int, required=True, metavar="PID")
    parser.add_argument("--control-fd", type=int, required=True, metavar="FD")
    return parser.parse_args(argv)


class Zygote:
    def __init__(self, control: socket.socket, parent_pid: int) -> None:
        self.control = control
        self.parent_pid = parent_pid
        self.children: Dict[int, int] = {}  # pid -> ref, until reaped

    def send(self, message: dict) -> None:
        self.control.send(json.dumps(message, separators=(",", ":")).encode())

    def serve(self) -> int:
        while True:
            readable, _, _ = select.select([self.control], [], [], lifetime.PARENT_POLL_INTERVAL)
            if readable and not self.read_control():
                return EXIT_OK
            if os.getppid() != self.parent_pid:
                return EXIT_ORPHANED

    def read_control(self) -> bool:
        try:
            data, fds, _, _ = socket.recv_fds(self.control, MAX_PACKET, 3)
        except InterruptedError:
            return True
        except OSError:
            return False
        if not data:
            for fd in fds:
                os.close(fd)
            return False  # the agent closed the channel, or died
        message = json.loads(data)
        op = message.get("op")
        if op == "fork" and len(fds) == 3:
            self.fork(int(message["ref"]), [str(a) for a in message["argv"]], {str(k): str(v) for k, v in message["env"].items()},
                      message.get("cwd"), fds)
            return True
        for fd in fds:
            os.close(fd)
        if op == "reap":
            self.reap(int(message["pid"]))
        else:
            sys.stderr.write(f"piton agent zygote: unknown request {op!r} with {len(fds)} descriptors\n")
        return True

    def fork(self, ref: int, argv: List[str], env: Dict[str, str], cwd: Optional[str], fds: List[int]) -> None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered may be written twice
        gc.freeze()
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            self.send({"op": "fork_failed", "ref": ref, "error": str(exc)})
            return
        if pid == 0:
            code = EXIT_FAILED
            try:
                self.become_worker(argv, env, cwd, fds)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else EXIT_FAILED
            except BaseException as exc:  # noqa: BLE001 - reported on the worker's stderr, as a cold start's would be
                os.write(2, f"piton: the worker could not start: {exc!r}\n".encode())
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        self.children[pid] = ref
        self.send({"op": "forked", "ref": ref, "pid": pid})

    def reap(self, pid: int) -> None:
        """The agent has read the worker's exit: its zombie can go."""
        if pid not in self.children:
            return
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                del self.children[pid]
        except ChildProcessError:
            del self.children[pid]

    def kill_children(self) -> None:
        for pid in self.children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass

    # ---- in the child ---------------------------------------------------------------------------

    def become_worker(self, argv: List[str], env: Dict[str, str], cwd: Optional[str], fds: List[int]) -> NoReturn:
        """Runs in the forked child: what a cold start's ``Popen`` and interpreter start would have
        done (a new session, the pipes as stdout and stderr, the environment, the working
        directory, ``PYTHONPATH``), then the worker's own ``main``."""
        from .. import worker

        os.setsid()
        # Nothing of the zygote's stays open in the worker: its channel (closed first, so that its
        # number is free), then the descriptors just received become 1, 2 and ENDPOINT_FD, and
        # every other is closed.
        self.control.close()
        out, err, endpoint = fds
        os.dup2(out, 1)
        os.dup2(err, 2)
        if endpoint != ENDPOINT_FD:
            os.dup2(endpoint, ENDPOINT_FD)
        os.closerange(ENDPOINT_FD + 1, os.sysconf("SC_OPEN_MAX"))
        os.environ.clear()
        os.environ.update(env)
        # As the interpreter does with PYTHONPATH at its start: its entries before the standard library.
        for entry in reversed([p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        if cwd is not None:
            os.chdir(cwd)
        gc.enable()
        sys.argv = ["-c", *argv]
        worker.main(argv)


def _preload_runtime() -> None:
    for name in RUNTIME_MODULES:
        importlib.import_module(name)


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lifetime.set_parent_death_signal()
    if os.getppid() != args.parent_pid:
        lifetime.orphaned(args.parent_pid)
    control = socket.socket(fileno=args.control_fd)
    _preload_runtime()
    gc.disable()  # see piton.forkserver: the pages the workers share stay shared
    zygote = Zygote(control, args.parent_pid)
    zygote.send({"op": "ready", "pid": os.getpid()})
    code = EXIT_FAILED
    try:
        code = zygote.serve()
    finally:
        zygote.kill_children()
    lifetime.exit_process(code)


if __name__ == "__main__":
    main()
