"""A worker process under test: started for real, talked to over a real REQ socket, always killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, List, Optional, Sequence

import zmq

from piton.codec import decode, encode
from piton.protocol import PROTOCOL_VERSION

TESTS = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(TESTS), "src")
FIXTURES = os.path.join(TESTS, "fixtures")
REPLY_TIMEOUT_MS = 10_000


def worker_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited. A zombie counts as gone: an orphan is reaped by PID 1,
    which in a container may never reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):  # the latter: it was reaped between open and read
        return True


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; return whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Client:
    """A REQ socket connected to a worker's endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.REQ)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.next_id = 1

    def send_frames(self, frames: Sequence[Any]) -> List[bytes]:
        self.socket.send_multipart(frames)
        if not self.socket.poll(REPLY_TIMEOUT_MS):
            raise TimeoutError(f"no reply from the worker within {REPLY_TIMEOUT_MS} ms")
        return self.socket.recv_multipart()

    def request(self, kind: str, *fields: Any) -> list:
        rid = self.next_id
        self.next_id += 1
        reply = decode(self.send_frames(encode([kind, rid, *fields])))
        assert reply[1] == rid, f"reply {reply!r} answers another request than {rid}"
        return reply

    def hello(self, **options: Any) -> list:
        """The handshake in this worker's protocol version; ``options`` (e.g. ``expose=[...]``) if any."""
        return self.request("hello", PROTOCOL_VERSION, *([options] if options else []))

    def call(self, module: str, function: str, *args: Any, **kwargs: Any) -> list:
        return self.request("call", module, function, list(args), kwargs or None)

    def close(self) -> None:
        self.socket.close(linger=0)
        self.context.term()


class Worker:
    """One worker process (``python -m piton.worker`` unless ``command`` says otherwise) and a
    :class:`Client` connected to it; the request methods are the client's."""

    def __init__(self, *extra: str, paths: Sequence[str] = (FIXTURES,), stdout: Any = subprocess.PIPE,
                 command: Sequence[str] = ("-m", "piton.worker"), pass_fds: Sequence[int] = ()) -> None:
        self.dir = tempfile.mkdtemp(prefix="piton-test-")
        self.endpoint = f"ipc://{self.dir}/worker.sock"
        args = [sys.executable, *command, "--endpoint", self.endpoint]
        for path in paths:
            args += ["--path", path]
        self.process = subprocess.Popen(
            args + list(extra), env=worker_env(), stdout=stdout, stderr=subprocess.PIPE, cwd=self.dir,
            pass_fds=pass_fds,
        )
        self.client = Client(self.endpoint)
        self.socket = self.client.socket
        self.send_frames = self.client.send_frames
        self.request = self.client.request
        self.call = self.client.call
        self.hello = self.client.hello

    @property
    def next_id(self) -> int:
        return self.client.next_id

    def wait(self, timeout: float = 5.0) -> int:
        return self.process.wait(timeout)

    def stderr_text(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read().decode()

    def close(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.kill()
        _reap(self.process, self.dir)

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_vectors() -> dict:
    """The shared vectors (protocol/vectors.json), checked by both languages."""
    import json

    path = os.path.join(os.path.dirname(os.path.dirname(TESTS)), "protocol", "vectors.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class ForkServer:
    """A fork server (``python -m piton.forkserver``) with its control channel on fd 3, as the pool
    starts it: ``send`` a request, ``expect`` the next message of a kind (others are kept)."""

    def __init__(self, *extra: str, paths: Sequence[str] = (FIXTURES,)) -> None:
        import json
        import socket

        self._json = json
        self.dir = tempfile.mkdtemp(prefix="piton-test-")
        ours, theirs = socket.socketpair()
        self.control = ours
        args = [sys.executable, "-m", "piton.forkserver", "--parent-pid", str(os.getpid())]
        for path in paths:
            args += ["--path", path]
        fd = theirs.fileno()
        self.process = subprocess.Popen(
            args + list(extra), env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.dir,
            pass_fds=(fd, 3), preexec_fn=lambda: _move_fd(fd, 3),
        )
        theirs.close()
        self.reader = ours.makefile("rb")
        self.seen: List[dict] = []
        self.ready = self.expect("ready")

    def send(self, **message: Any) -> None:
        self.control.sendall((self._json.dumps(message) + "\n").encode())

    def expect(self, op: str, timeout: float = REPLY_TIMEOUT_MS / 1000, **fields: Any) -> dict:
        """The first message (seen already or to come) with ``op`` and ``fields``."""
        def matches(m: dict) -> bool:
            return m.get("op") == op and all(m.get(k) == v for k, v in fields.items())
        for m in self.seen:
            if matches(m):
                self.seen.remove(m)
                return m
        self.control.settimeout(timeout)
        while True:
            line = self.reader.readline()
            if not line:
                raise EOFError(f"the fork server closed its channel before {op} {fields}")
            m = self._json.loads(line)
            if matches(m):
                return m
            self.seen.append(m)

    def fork(self, name: str = "w1", env: "dict | None" = None) -> "tuple[int, str]":
        endpoint = f"ipc://{self.dir}/{name}.sock"
        if env is None:
            self.send(op="fork", id=name, endpoint=endpoint)
        else:
            self.send(op="fork", id=name, endpoint=endpoint, env=env)
        return self.expect("forked", id=name)["pid"], endpoint

    def close(self) -> None:
        self.reader.close()
        self.control.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        _reap(self.process, self.dir)

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reap(process: subprocess.Popen, directory: str) -> None:
    """Waits for a process the test ended, closes its pipes and removes its socket directory."""
    process.wait(5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


def _move_fd(fd: int, target: int) -> None:
    """In the child before exec: make ``fd`` appear as ``target`` (and inheritable)."""
    if fd != target:
        os.dup2(fd, target)
    else:
        os.set_inheritable(fd, True)


def answer(handler: Any, *envelope: Any) -> Any:
    """What the worker's handler replies to one request ``envelope`` (packed by msgpack, not the
    runtime's codec), decoded; the request must leave the worker serving."""
    import msgpack

    from piton.handler import Action

    reply, action = handler.handle([msgpack.packb(list(envelope))])
    assert action is Action.CONTINUE
    return decode(reply)
