"""The agent's side of its zygote (``zygote.py``): starting it, asking it for workers, and hearing
their exits.

The zygote is started with the agent and is ready a moment later (it imports the worker runtime);
until then, and if it ever dies, workers are started cold (``subprocess.Popen``), as they are for
a spec the zygote cannot serve (``zygote.forkable``), and on a system without pidfds (Linux 5.3+).
A forked worker is, to the rest of the agent, a :class:`ForkedProcess`: the part of ``Popen`` it
uses (a pid, its stdout and stderr, a return code), and a descriptor that becomes readable when it
exits (its pidfd), which the agent waits on as it waits on SIGCHLD for a cold one. Its exit status
is read from ``/proc/PID/stat`` while it is a zombie; then the zygote is told to reap it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import BinaryIO, Callable, Dict, List, Optional

from ..lifetime import launcher_code
from .zygote import MAX_PACKET

__all__ = ["ForkedProcess", "ZygoteClient", "ZygoteGone", "FORK_REPLY_S", "supported"]

#: How long the agent waits for the zygote's answer to a fork before it takes the zygote as gone.
FORK_REPLY_S = 10.0


class ZygoteGone(Exception):
    """The zygote did not answer (it died, or never started): start cold."""


def supported() -> bool:
    """Whether workers can be forked from a zygote here (pidfds and ``/proc``: Linux 5.3+)."""
    return hasattr(os, "pidfd_open") and os.path.isdir("/proc/self")


def _exit_status(pid: int) -> int:
    """A zombie's exit code as ``Popen.returncode`` has it (negative: the signal), from field 52
    of ``/proc/PID/stat`` (``exit_code``, a wait status). Gone already: taken as killed."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            status = int(f.read().rsplit(")", 1)[1].split()[49])
    except (OSError, IndexError, ValueError):
        return -signal.SIGKILL
    return os.waitstatus_to_exitcode(status)


class ForkedProcess:
    """A worker forked by the zygote, as the agent sees it."""

    def __init__(self, pid: int, stdout_fd: int, stderr_fd: int, exit_fd: int, reap: Callable[[int], None]) -> None:
        self.pid = pid
        self.returncode: Optional[int] = None
        self.stdout: BinaryIO = open(stdout_fd, "rb", buffering=0)
        self.stderr: BinaryIO = open(stderr_fd, "rb", buffering=0)
        #: Readable once the worker has exited (its pidfd); the agent's loop waits on it.
        self.exit_fd: Optional[int] = exit_fd
        self._reap = reap

    def poll(self) -> Optional[int]:
        """Its exit code (negative: the signal) once it has exited."""
        if self.returncode is None and self.exit_fd is not None and select.select([self.exit_fd], [], [], 0)[0]:
            self.returncode = _exit_status(self.pid)
            os.close(self.exit_fd)
            self.exit_fd = None
            self._reap(self.pid)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """Waits for its exit (up to ``timeout`` s)."""
        if self.exit_fd is not None:
            select.select([self.exit_fd], [], [], timeout)
        return self.poll()


class ZygoteClient:
    def __init__(self, python: str, env: Dict[str, str]) -> None:
        #: The environment the zygote runs with: a worker's must agree with it (``zygote.forkable``).
        self.env = env
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [python, "-c", launcher_code("piton.agent.zygote"), "--parent-pid", str(os.getpid()),
                 "--control-fd", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, env=env, pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        self.sock = ours
        self.ready = False
        self.gone = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def fileno(self) -> int:
        return self.sock.fileno()

    def usable(self) -> bool:
        return self.ready and not self.gone

    def fork(self, ref: int, argv: List[str], env: Dict[str, str], cwd: Optional[str], fds: List[int]) -> int:
        """Asks for a worker; returns its pid. The caller keeps (and closes) ``fds``."""
        if not self.usable():
            raise ZygoteGone("the zygote is not ready")
        data = json.dumps({"op": "fork", "ref": ref, "argv": argv, "env": env, "cwd": cwd}, separators=(",", ":")).encode()
        try:
            socket.send_fds(self.sock, [data], fds)
        except OSError as exc:
            self._lost(f"could not ask it: {exc}")
            raise ZygoteGone(str(exc)) from None
        deadline = time.monotonic() + FORK_REPLY_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                self._lost(f"no answer to a fork within {FORK_REPLY_S:.0f} s")
                raise ZygoteGone("no answer")
            message = self._receive()
            if message is None:
                raise ZygoteGone("it exited")
            if message.get("ref") == ref and message.get("op") == "forked":
                return int(message["pid"])
            if message.get("ref") == ref and message.get("op") == "fork_failed":
                raise OSError(str(message.get("error")))

    def adopt(self, pid: int, stdout_fd: int, stderr_fd: int) -> ForkedProcess:
        """The worker ``pid`` the zygote forked, with the read ends of its output. It stays a zombie
        until the agent has read its exit, so its pidfd cannot be another process's."""
        return ForkedProcess(pid, stdout_fd, stderr_fd, os.pidfd_open(pid), self._reap)

    def _reap(self, pid: int) -> None:
        if not self.gone:
            try:
                self.sock.send(json.dumps({"op": "reap", "pid": pid}).encode())
            except OSError as exc:
                self._lost(str(exc))

    def read(self) -> None:
        """Reads what the zygote said (it is readable): its readiness, workers' exits."""
        while not self.gone:
            try:
                ready = select.select([self.sock], [], [], 0)[0]
            except (OSError, ValueError):
                ready = []
            if not ready or self._receive() is None:
                return

    def _receive(self) -> Optional[dict]:
        try:
            data = self.sock.recv(MAX_PACKET)
        except InterruptedError:
            return {}
        except OSError as exc:
            self._lost(str(exc))
            return None
        if not data:
            self._lost("its channel closed")
            return None
        message = json.loads(data)
        if message.get("op") == "ready":
            self.ready = True
            sys.stderr.write(f"piton agent: workers are forked from the zygote (pid {self.proc.pid}) from now on\n")
            sys.stderr.flush()
        return message

    def _lost(self, why: str) -> None:
        if self.gone:
            return
        self.gone = True
        self.proc.poll()  # reaped if it has exited: no zombie while the agent runs on
        if self.ready:
            # Its workers die with it (their parent-death signal): their pidfds say so.
            sys.stderr.write(f"piton agent: the zygote is gone ({why}); workers start cold from now on\n")

    def close(self) -> None:
        """Ends the zygote (it kills what it still runs) and waits for it."""
        self.sock.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
