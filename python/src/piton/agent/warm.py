"""The agent's side of its zygote (``zygote.py``): starting it, asking it for workers, and hearing
their exits.

The zygote is started with the agent and is ready a moment later (it imports the worker runtime);
until then, and if it ever dies, workers are started cold (``subprocess.Popen``), as they are for
a spec the zygote cannot serve (``zygote.forkable``). A forked worker is, to the rest of the
agent, a :class:`ForkedProcess`: the part of ``Popen`` it uses (a pid, its stdout and stderr, and a
return code, which the zygote reports).
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
from typing import BinaryIO, Dict, List, Optional

from ..lifetime import launcher_code
from .zygote import MAX_PACKET

__all__ = ["ForkedProcess", "ZygoteClient", "ZygoteGone", "FORK_REPLY_S"]

#: How long the agent waits for the zygote's answer to a fork before it takes the zygote as gone.
FORK_REPLY_S = 10.0


class ZygoteGone(Exception):
    """The zygote did not answer (it died, or never started): start cold."""


class ForkedProcess:
    """A worker forked by the zygote, as the agent sees it."""

    def __init__(self, pid: int, stdout_fd: int, stderr_fd: int) -> None:
        self.pid = pid
        self.returncode: Optional[int] = None
        self.stdout: BinaryIO = open(stdout_fd, "rb", buffering=0)
        self.stderr: BinaryIO = open(stderr_fd, "rb", buffering=0)

    def poll(self) -> Optional[int]:
        """Its exit code (negative: the signal) once the zygote has reported it."""
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """The zygote reaps it; the agent learns of its exit on the zygote's channel."""
        return self.returncode


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
        self.forked: Dict[int, ForkedProcess] = {}

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
        process = ForkedProcess(pid, stdout_fd, stderr_fd)
        self.forked[pid] = process
        return process

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
        op = message.get("op")
        if op == "ready":
            self.ready = True
            sys.stderr.write(f"piton agent: workers are forked from the zygote (pid {self.proc.pid}) from now on\n")
            sys.stderr.flush()
        elif op == "exit":
            process = self.forked.pop(int(message["pid"]), None)
            if process is not None:
                process.returncode = int(message["code"])
        return message

    def _lost(self, why: str) -> None:
        if self.gone:
            return
        self.gone = True
        if self.ready:
            sys.stderr.write(f"piton agent: the zygote is gone ({why}); workers start cold from now on\n")
        # Its workers die with it (their parent-death signal): they are reported exited, killed.
        for process in self.forked.values():
            if process.returncode is None:
                process.returncode = -signal.SIGKILL
        self.forked.clear()

    def close(self) -> None:
        """Ends the zygote (it kills what it still runs) and waits for it."""
        self.sock.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
