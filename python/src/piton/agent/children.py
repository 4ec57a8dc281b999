"""The processes an agent runs: one worker per `start`, started by the launch contract (its
command line and environment), its output read line by line, its stderr tail kept for its exit
report, signalled as a process group."""

from __future__ import annotations

import os
import signal
from typing import IO, Dict, List, Optional, Protocol, Tuple

from ..curve import CLIENT_KEYS_ENV, SECRET_KEY_ENV
from ..lifetime import launcher_code, serve_args
from .protocol import StartSpec

__all__ = ["MAX_LINE", "TAIL_LINES", "RUNTIME_DIR", "worker_args", "worker_command", "worker_env", "runtime_env", "LineReader",
           "Interpreter", "Process"]

#: The most a forwarded output line may be; longer ones are cut (as the local pool does).
MAX_LINE = 64 * 1024
#: The stderr tail kept for exit reports.
TAIL_LINES = 50
#: The directory that holds the ``piton`` package, put on the workers' ``PYTHONPATH``.
RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def worker_args(spec: StartSpec, endpoint: str, endpoint_fd: int, parent_pid: int) -> List[str]:
    """A remote worker's arguments (``piton.worker``'s): it binds ``endpoint`` as a CURVE server and
    writes the endpoint it bound to ``endpoint_fd``."""
    return ["--endpoint", endpoint, "--endpoint-fd", str(endpoint_fd), "--curve",
            *serve_args(parent_pid, spec.max_message_size, spec.path, spec.preload, spec.allow_modules, spec.allow_private,
                        spec.allow_reexports)]


def worker_command(python: str, spec: StartSpec, endpoint: str, endpoint_fd: int, parent_pid: int) -> List[str]:
    """A remote worker's command line for a cold start: ``python -c LAUNCHER ARGS...``, as the Node
    side starts local ones, so that the requested cwd is never importable (a planted ``enum.py``
    there never runs)."""
    return [python, "-c", launcher_code("piton.worker"), *worker_args(spec, endpoint, endpoint_fd, parent_pid)]


def runtime_env(base: Dict[str, str]) -> Dict[str, str]:
    """``base`` with unbuffered output and the runtime importable: the agent's zygote runs with it."""
    env = dict(base)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([RUNTIME_DIR, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return env


def worker_env(spec: StartSpec, secret_key: str, client_key: str) -> Dict[str, str]:
    """A remote worker's environment: the agent's, the spec's changes, unbuffered output, the runtime
    importable, and its CURVE keys (its own secret, the one client it accepts)."""
    env = dict(os.environ)
    for name, value in spec.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env = runtime_env(env)
    env[SECRET_KEY_ENV] = secret_key
    env[CLIENT_KEYS_ENV] = client_key
    return env


class LineReader:
    """Splits a non-blocking pipe into lines, bounded in length."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.partial = b""

    def read(self) -> Tuple[List[str], bool]:
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return [], False
        if not chunk:
            lines = [self.partial.decode("utf-8", "replace")] if self.partial else []
            self.partial = b""
            return lines, True
        data = self.partial + chunk
        *complete, self.partial = data.split(b"\n")
        if len(self.partial) > MAX_LINE:
            complete.append(self.partial[:MAX_LINE])
            self.partial = b""
        return [line[:MAX_LINE].decode("utf-8", "replace") for line in complete], False


class Process(Protocol):
    """What the agent uses of a worker's process: a ``subprocess.Popen`` (a cold start) or a
    ``warm.ForkedProcess`` (forked by the zygote)."""

    pid: int
    stdout: Optional[IO[bytes]]
    stderr: Optional[IO[bytes]]

    def poll(self) -> Optional[int]: ...

    def wait(self, timeout: Optional[float] = None) -> Optional[int]: ...


class Interpreter:
    """One worker this agent started for a Node, until its exit is reported."""

    def __init__(self, peer: bytes, ref: int, proc: Process, endpoint_fd: int, server_key: bytes, deadline: float) -> None:
        self.peer, self.ref, self.proc = peer, ref, proc
        self.endpoint_reader: Optional[LineReader] = LineReader(endpoint_fd)
        self.server_key = server_key
        self.deadline = deadline
        self.started = False
        self.readers: Dict[int, Tuple[str, LineReader]] = {}
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            self.readers[stream.fileno()] = (name, LineReader(stream.fileno()))
        os.set_blocking(endpoint_fd, False)
        self.tail: List[str] = []

    def signal(self, name: str) -> None:
        if self.proc.poll() is not None:
            return  # reaped: its pid may be another process's by now
        try:
            os.killpg(self.proc.pid, getattr(signal, name))
        except (ProcessLookupError, PermissionError):
            pass
