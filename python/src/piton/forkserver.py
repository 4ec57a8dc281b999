"""The fork server: ``python -m piton.forkserver --parent-pid PID [--path DIR]... [--preload M]...``.

One per pool (``startMethod: 'forkserver'``). It imports the worker runtime and the ``--preload``
modules once, then forks an interpreter for each ``fork`` request, in milliseconds, sharing what
it imported copy-on-write (``gc.freeze()`` before each fork keeps the collector from writing to
those pages in the children).

Fork safety: the server creates no ZeroMQ context and starts no thread; each forked interpreter
creates its own context and binds its own ``ipc://`` endpoint after the fork. If a preload leaves
a thread running, the ``ready`` message names it and the pool does not fork from this server
(a fork copies only the forking thread, so locks held by the others stay locked in the child).

Control channel: fd 3, a stream socket to the pool, one JSON object per line each way
(PROTOCOL.md, "The fork server"). The server reaps its children (SIGCHLD, ``waitpid``) and
reports each exit with its code or signal; it relays each child's stdout and stderr, tagged with
the child's pid. Lifetimes: the server dies with the pool's process (PR_SET_PDEATHSIG, the
``--parent-pid`` check, and the control channel's end-of-file), and each interpreter dies with
the server (PR_SET_PDEATHSIG set in the child, then a check that the server is still its parent).
Each interpreter leads its own process group, so a signal the pool sends reaches what it started.

Exit codes: 0 when the pool closes the channel; 3 when a preload raised; 4 when the parent is gone;
1 for anything else.
"""

from __future__ import annotations

import argparse
import base64
import errno
import gc
import importlib
import json
import os
import selectors
import signal
import sys
import threading
import traceback
from typing import Dict, List, NoReturn, Optional, Sequence, Tuple

from . import lifetime, worker
from .protocol import EXIT_FAILED, EXIT_OK, EXIT_ORPHANED

__all__ = ["main", "parse_args", "CONTROL_FD", "FORKED_ENDPOINT_ARG"]

#: The control channel's descriptor, set up by the pool (``stdio[3]``).
CONTROL_FD = 3
#: How often the server checks that its parent is still the pool's process, in seconds.
PARENT_POLL_INTERVAL = lifetime.PARENT_POLL_INTERVAL
#: Placeholder endpoint in the server's own arguments: each fork request names the real one.
FORKED_ENDPOINT_ARG = "(per fork)"
_READ_CHUNK = 64 * 1024


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m piton.forkserver", description=__doc__.split("\n\n")[0])
    lifetime.add_serve_arguments(parser, parent_required=True)
    args = parser.parse_args(argv)
    args.endpoint = FORKED_ENDPOINT_ARG
    # The worker options a forked interpreter serves with that the server does not take: forked
    # interpreters are local (ipc), never CURVE servers reporting their endpoint (those are an agent's).
    args.curve = False
    args.endpoint_fd = None
    return args


#: The output pipes of the child being forked, for the after-fork hook (set only around a fork).
_forking: List[Tuple[int, int]] = []


def _become_own_process() -> None:
    """The first thing a forked interpreter does (an after-fork hook registered before any preload's,
    so it runs before theirs): lead its own process group, and write to its own pipes, so that even
    what a preload's own after-fork hooks print is tagged with this interpreter."""
    if not _forking:
        return
    out_w, err_w = _forking[-1]
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)


class _Child:
    __slots__ = ("id", "pid", "pipes", "reaped")

    def __init__(self, worker_id: str, pid: int, pipes: Dict[int, str]) -> None:
        self.id = worker_id
        self.pid = pid
        #: read end → "stdout" | "stderr", until its end-of-file
        self.pipes = pipes
        self.reaped = False


class ForkServer:
    def __init__(self, args: argparse.Namespace, control: int) -> None:
        self.args = args
        self.control = control
        # Node's end of the socket pair is non-blocking and ours may have inherited the flag: a
        # message must go out whole, so a full buffer waits for the pool to read rather than fail.
        os.set_blocking(control, True)
        self.selector = selectors.DefaultSelector()
        self.children: Dict[int, _Child] = {}
        self.by_pipe: Dict[int, _Child] = {}
        self.inbox = b""
        self.pid = os.getpid()
        self.wakeup_r, self.wakeup_w = os.pipe()
        os.set_blocking(self.wakeup_r, False)
        os.set_blocking(self.wakeup_w, False)

    # ------------------------------------------------------------------------------ messages

    def send(self, message: dict) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            try:
                sent = os.write(self.control, view)
            except InterruptedError:
                continue
            view = view[sent:]

    def serve(self) -> int:
        # SIGCHLD wakes the loop through the wakeup fd; the handler itself does nothing.
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        self.selector.register(self.control, selectors.EVENT_READ, "control")
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, "wakeup")
        self.reap()  # a child that exited before the handler was set
        while True:
            for key, _ in self.selector.select(PARENT_POLL_INTERVAL):
                if key.data == "control":
                    if not self.read_control():
                        return EXIT_OK
                elif key.data == "wakeup":
                    try:
                        while os.read(self.wakeup_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                else:
                    self.relay(key.fd)
            if os.getppid() != self.args.parent_pid:
                return EXIT_ORPHANED

    def read_control(self) -> bool:
        try:
            data = os.read(self.control, _READ_CHUNK)
        except InterruptedError:
            return True
        if not data:
            return False  # the pool closed the channel (or died): stop
        self.inbox += data
        while b"\n" in self.inbox:
            line, self.inbox = self.inbox.split(b"\n", 1)
            if line.strip():
                self.handle(json.loads(line))
        return True

    def handle(self, message: dict) -> None:
        op = message.get("op")
        if op == "fork":
            env = message.get("env") or {}
            self.fork(str(message["id"]), str(message["endpoint"]),
                      {str(k): (None if v is None else str(v)) for k, v in env.items()})
        elif op == "signal":
            self.signal(int(message["pid"]), str(message["signal"]))
        else:
            sys.stderr.write(f"piton forkserver: unknown request {message!r}\n")

    # ------------------------------------------------------------------------------ children

    def fork(self, worker_id: str, endpoint: str, env: Optional[Dict[str, Optional[str]]] = None) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered may be written twice
        gc.freeze()
        _forking.append((out_w, err_w))
        try:
            pid = os.fork()
        except OSError as exc:
            _forking.clear()
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            self.send({"op": "fork_failed", "id": worker_id, "error": str(exc)})
            return
        if pid == 0:
            try:
                self.become_interpreter(endpoint, out_w, err_w, (out_r, err_r), env or {})
            finally:
                os._exit(EXIT_FAILED)
        _forking.clear()
        try:
            os.setpgid(pid, pid)  # also done in the child: whichever runs first
        except OSError:
            pass  # the child did it already, or is gone (its exit will be reported)
        os.close(out_w)
        os.close(err_w)
        child = _Child(worker_id, pid, {out_r: "stdout", err_r: "stderr"})
        self.children[pid] = child
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
            self.by_pipe[fd] = child
            self.selector.register(fd, selectors.EVENT_READ, "output")
        self.send({"op": "forked", "id": worker_id, "pid": pid})

    def signal(self, pid: int, name: str) -> None:
        child = self.children.get(pid)
        if child is None or child.reaped:
            return  # already exited: its pid may belong to someone else by now
        signum = getattr(signal.Signals, name, None)
        if signum is None:
            return
        try:
            os.killpg(pid, signum)
        except OSError:
            try:
                os.kill(pid, signum)
            except OSError:
                pass

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if pid == 0:
                return
            child = self.children.get(pid)
            if child is None:
                continue
            child.reaped = True
            for fd in list(child.pipes):
                self.relay(fd)  # what it wrote before it died goes out before its exit
            code = os.waitstatus_to_exitcode(status)
            self.send({
                "op": "exit",
                "pid": pid,
                "code": code if code >= 0 else None,
                "signal": signal.Signals(-code).name if code < 0 else None,
            })
            self.forget_if_done(child)

    def relay(self, fd: int) -> None:
        child = self.by_pipe.get(fd)
        if child is None:
            return
        while True:
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                self.selector.unregister(fd)
                os.close(fd)
                del self.by_pipe[fd]
                del child.pipes[fd]
                self.forget_if_done(child)
                return
            self.send({"op": "output", "pid": child.pid, "stream": child.pipes[fd],
                       "data": base64.b64encode(data).decode("ascii")})

    def forget_if_done(self, child: _Child) -> None:
        if child.reaped and not child.pipes:
            # Its pid may already belong to a newer child (reaped pids are free for reuse): forget
            # only this one.
            if self.children.get(child.pid) is child:
                del self.children[child.pid]
            self.send({"op": "closed", "pid": child.pid})

    def kill_children(self) -> None:
        for child in self.children.values():
            if not child.reaped:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except OSError:
                    pass

    # ------------------------------------------------------------------------------ in the child

    def become_interpreter(self, endpoint: str, out_w: int, err_w: int, others: Sequence[int],
                           env: Dict[str, Optional[str]]) -> NoReturn:
        """Runs in the forked child: detach from the server's state, then serve like a spawned worker."""
        _forking.clear()
        # This interpreter's own environment, before any of its code runs (the preload has run in
        # the server already: what it read at import is the server's).
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # The server's descriptors are not the interpreter's: without this, a child would hold the
        # pool's control channel (and its siblings' output pipes) open after the server died.
        self.selector.close()
        for fd in (self.control, self.wakeup_r, self.wakeup_w, *others, *self.by_pipe):
            try:
                os.close(fd)
            except OSError:
                pass
        os.close(out_w)  # _become_own_process made them fds 1 and 2
        os.close(err_w)
        gc.enable()
        # As a spawned worker does first, while this is its only thread: the guard that ends this
        # interpreter's process group (what its calls started) whenever it is gone, SIGKILL included.
        lifetime.guard_group()
        args = argparse.Namespace(**vars(self.args))
        args.endpoint = endpoint
        with lifetime.sigterm_blocked():
            # PDEATHSIG on the server, the check that it did not die before that, and the watchdog.
            lifetime.tie_to_parent(self.pid)
            import zmq

            from .server import open_socket

            context = zmq.Context()
            socket = open_socket(context)
        worker.serve_until_stopped(args, context, socket)


def _running_threads() -> List[str]:
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


def _preload_runtime() -> None:
    """What every interpreter imports anyway, imported once here (no zmq context is created)."""
    for name in ("zmq", "piton.server", "piton.handler", "piton.resolver", "piton.codec", "piton.protocol"):
        importlib.import_module(name)


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    lifetime.set_parent_death_signal()
    if os.getppid() != args.parent_pid:
        lifetime.orphaned(args.parent_pid)
    _preload_runtime()
    os.register_at_fork(after_in_child=_become_own_process)
    lifetime.put_first_on_path(args.path)
    lifetime.preload(args.preload)
    # From here the server allocates little; no collection may punch holes in the pages the
    # children share, and gc.freeze() before each fork moves everything to the permanent generation.
    gc.disable()
    server = ForkServer(args, CONTROL_FD)
    server.send({"op": "ready", "pid": os.getpid(), "threads": _running_threads(), "python": sys.version})
    code = EXIT_FAILED
    try:
        code = server.serve()
    except BaseException:
        traceback.print_exc()
    finally:
        server.kill_children()
    lifetime.exit_process(code)


if __name__ == "__main__":
    main()
