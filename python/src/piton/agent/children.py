"""The processes an agent runs: one worker per `start`, its output read line by line, its
stderr tail kept for its exit report, signalled as a process group."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Dict, List, Optional, Tuple

__all__ = ["MAX_LINE", "TAIL_LINES", "LineReader", "Interpreter"]

#: The most a forwarded output line may be; longer ones are cut (as the local pool does).
MAX_LINE = 64 * 1024
#: The stderr tail kept for exit reports.
TAIL_LINES = 50


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


class Interpreter:
    """One worker this agent started for a Node, until its exit is reported."""

    def __init__(self, peer: bytes, ref: int, proc: subprocess.Popen, endpoint_fd: int, server_key: bytes, deadline: float) -> None:
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
        try:
            os.killpg(self.proc.pid, getattr(signal, name))
        except (ProcessLookupError, PermissionError):
            pass
