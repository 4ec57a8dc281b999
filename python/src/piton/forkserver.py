"""The fork server: ``python -m piton.forkserver --parent-pid PID [--path DIR]... [--preload M]...``.

One per pool (``startMethod: 'forkserver'``). It imports the worker runtime and the ``--preload``
modules once, then forks an interpreter for each ``fork`` request, in milliseconds, sharing what
it imported copy-on-write (``gc.freeze()`` before each fork keeps the collector from writing to
those pages in the children).

A spare: shortly after the last fork request (``SPARE_DELAY``), the server forks one interpreter
ahead of need, which does everything an interpreter does before it knows its endpoint (its process
group, its guard, the tie to the server, its ZeroMQ context and socket, its call handler) and then
waits on a pipe. The next ``fork`` request is given to it: it sets its environment, binds and
serves, so a replacement for an interpreter that died costs a bind and a handshake instead of a
fork and a start-up, on a machine busy with the very load the dead interpreter left. A spare costs its own
few private pages (the rest it shares with the server) and a guard. If spares die before they are
used (``SPARE_FAILURES`` of them), the server stops making them and forks on request only.

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
import time
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
#: How long after the last fork request (or the server's start) the next spare is forked, in
#: seconds: long enough to stay off the way of the interpreters being started, short against the
#: life of one.
SPARE_DELAY = 0.2
#: After this many spares died before they were given an endpoint, the server forks on request only.
SPARE_FAILURES = 3
#: How long the ending server waits for the children it killed to be reaped, in seconds: a SIGKILLed
#: process is gone in milliseconds unless the kernel holds it (uninterruptible sleep). Under the
#: 2 s the pool gives a closed server before it sends SIGTERM (``CLOSE_GRACE_MS``, launch/forkserver.ts).
CHILDREN_REAPED_WITHIN = 1.0


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
    __slots__ = ("id", "pid", "pipes", "reaped", "assign")

    def __init__(self, worker_id: Optional[str], pid: int, pipes: Dict[int, str], assign: Optional[int] = None) -> None:
        #: The pool's id for it; None while it is a spare.
        self.id = worker_id
        self.pid = pid
        #: read end → "stdout" | "stderr", until its end-of-file (a spare's are read once it is given out)
        self.pipes = pipes
        self.reaped = False
        #: A spare's end of the pipe its endpoint is written to; None once given out (or never a spare).
        self.assign = assign


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
        #: The interpreter forked ahead of need, if any, and when to fork the next one.
        self.spare: Optional[_Child] = None
        self.spare_due: Optional[float] = time.monotonic() + SPARE_DELAY
        self.spare_failures = 0
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
            timeout = PARENT_POLL_INTERVAL
            if self.spare_due is not None:
                timeout = min(timeout, max(0.0, self.spare_due - time.monotonic()))
            for key, _ in self.selector.select(timeout):
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
            if self.spare_due is not None and time.monotonic() >= self.spare_due:
                self.spare_due = None
                self.fork_spare()

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
        """Gives the spare, if there is one alive, this endpoint; otherwise forks an interpreter for it."""
        env = env or {}
        spare, self.spare = self.spare, None
        if self.spare_failures < SPARE_FAILURES:
            self.spare_due = time.monotonic() + SPARE_DELAY
        if spare is not None and self.give_out(spare, worker_id, endpoint, env):
            return
        try:
            child = self.fork_child((endpoint, env))
        except OSError as exc:
            self.send({"op": "fork_failed", "id": worker_id, "error": str(exc)})
            return
        self.announce(child, worker_id)

    def fork_spare(self) -> None:
        if self.spare is not None or self.spare_failures >= SPARE_FAILURES:
            return
        try:
            self.spare = self.fork_child(None)
        except OSError:
            self.spare_failures += 1  # EAGAIN and the like: forks on request will say so
            if self.spare_failures < SPARE_FAILURES:
                self.spare_due = time.monotonic() + SPARE_DELAY

    def fork_child(self, assignment: Optional[Tuple[str, Dict[str, Optional[str]]]]) -> _Child:
        """Forks an interpreter: for `assignment` (endpoint, environment), or a spare (None) that
        waits for one on a pipe of its own. Raises OSError when the fork fails."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        assign_r, assign_w = os.pipe() if assignment is None else (-1, -1)
        fds = [out_r, out_w, err_r, err_w] + ([assign_r, assign_w] if assignment is None else [])
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered may be written twice
        gc.freeze()
        _forking.append((out_w, err_w))
        try:
            pid = os.fork()
        except OSError:
            _forking.clear()
            for fd in fds:
                os.close(fd)
            raise
        if pid == 0:
            try:
                self.become_interpreter(assignment, assign_r, out_w, err_w, (out_r, err_r, assign_w))
            finally:
                os._exit(EXIT_FAILED)
        _forking.clear()
        try:
            os.setpgid(pid, pid)  # also done in the child: whichever runs first
        except OSError:
            pass  # the child did it already, or is gone (its exit will be reported)
        os.close(out_w)
        os.close(err_w)
        if assignment is None:
            os.close(assign_r)
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
        child = _Child(None, pid, {out_r: "stdout", err_r: "stderr"}, assign_w if assignment is None else None)
        self.children[pid] = child
        return child

    def give_out(self, spare: _Child, worker_id: str, endpoint: str, env: Dict[str, Optional[str]]) -> bool:
        """Writes `spare` its endpoint and environment; False if it is gone (then it is forgotten)."""
        assign, spare.assign = spare.assign, None
        assert assign is not None
        data = (json.dumps({"endpoint": endpoint, "env": env}, separators=(",", ":")) + "\n").encode()
        try:
            if spare.reaped:
                raise BrokenPipeError
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(assign, view):]
                except InterruptedError:
                    continue
        except OSError:
            os.close(assign)
            if spare.reaped:
                self.drop_spare(spare)
            # else it is dying: its reaping drops it
            return False
        os.close(assign)  # what it waits for is whole: it reads to the end
        self.announce(spare, worker_id)
        return True

    def announce(self, child: _Child, worker_id: str) -> None:
        """`child` is the pool's `worker_id` from now on: its output is relayed, its exit reported."""
        child.id = worker_id
        for fd in child.pipes:
            self.by_pipe[fd] = child
            self.selector.register(fd, selectors.EVENT_READ, "output")
        self.send({"op": "forked", "id": worker_id, "pid": child.pid})

    def drop_spare(self, spare: _Child) -> None:
        """A spare that died before it was given out: the pool never knew it."""
        if spare.assign is not None:
            os.close(spare.assign)
            spare.assign = None
        for fd in list(spare.pipes):
            os.close(fd)
        spare.pipes.clear()
        if spare.reaped and self.children.get(spare.pid) is spare:
            del self.children[spare.pid]
        if self.spare is spare:
            self.spare = None
        self.spare_failures += 1
        if self.spare_failures < SPARE_FAILURES and self.spare is None:
            self.spare_due = time.monotonic() + SPARE_DELAY

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
            if child.id is None:
                self.drop_spare(child)  # never given out: the pool never knew it
                continue
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
        if self.spare is not None and self.spare.assign is not None:
            os.close(self.spare.assign)  # a spare that outlives this (it cannot) reads its end-of-file and exits
            self.spare.assign = None
        for child in self.children.values():
            if not child.reaped:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except OSError:
                    pass
        self.wait_for_children()

    def wait_for_children(self, within: float = CHILDREN_REAPED_WITHIN) -> None:
        """Reaps the killed children before the server exits, so that none is still dying (its
        sockets open, its command line a worker's) once the pool has seen the server end. Bounded:
        a child stuck in the kernel (uninterruptible sleep) cannot be reaped, and must not hold
        up the pool's stop; it then dies as an orphan."""
        pending = {child.pid for child in self.children.values() if not child.reaped}
        deadline = time.monotonic() + within
        while pending:
            for pid in list(pending):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                except InterruptedError:
                    continue
                if done:
                    pending.discard(pid)
            if not pending or time.monotonic() > deadline:
                return
            time.sleep(0.001)

    # ------------------------------------------------------------------------------ in the child

    def become_interpreter(self, assignment: Optional[Tuple[str, Dict[str, Optional[str]]]], assign_r: int,
                           out_w: int, err_w: int, others: Sequence[int]) -> NoReturn:
        """Runs in the forked child: detach from the server's state, then serve like a spawned
        worker; a spare (`assignment` None) first waits on `assign_r` for its endpoint."""
        _forking.clear()
        if assignment is not None:
            _set_environment(assignment[1])
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # The server's descriptors are not the interpreter's: without this, a child would hold the
        # pool's control channel (and its siblings' output pipes, the spare's) open after the server died.
        self.selector.close()
        theirs = [fd for child in self.children.values() for fd in (*child.pipes, child.assign) if fd is not None]
        for fd in (self.control, self.wakeup_r, self.wakeup_w, *others, *self.by_pipe, *theirs):
            if fd < 0:
                continue
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
        with lifetime.sigterm_blocked():
            # PDEATHSIG on the server, the check that it did not die before that, and the watchdog.
            lifetime.tie_to_parent(self.pid)
            import zmq

            from .server import open_socket

            context = zmq.Context()
            socket = open_socket(context)
        handler = None
        if assignment is None:
            # All of serving but the bind, before the endpoint is known (the environment it is
            # given is the calls'; nothing made here reads it).
            handler = worker.prepare_handler(args)
            assignment = _await_assignment(assign_r)
            if assignment is None:  # the server went without giving this spare out
                socket.close(linger=0)
                context.term()
                lifetime.exit_process(EXIT_OK)
            _set_environment(assignment[1])
        args.endpoint = assignment[0]
        worker.serve_until_stopped(args, context, socket, handler)


def _set_environment(env: Dict[str, Optional[str]]) -> None:
    """This interpreter's own environment, before any of its code runs (the preload has run in the
    server already: what it read at import is the server's)."""
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _await_assignment(fd: int) -> Optional[Tuple[str, Dict[str, Optional[str]]]]:
    """A spare's wait: the endpoint and environment the server writes on `fd` (then closes it), or
    None at its end-of-file without them (the server is gone)."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except InterruptedError:
            continue
        if not chunk:
            break
        data += chunk
    os.close(fd)
    if not data.endswith(b"\n"):
        return None
    message = json.loads(data)
    env = message.get("env") or {}
    return str(message["endpoint"]), {str(k): (None if v is None else str(v)) for k, v in env.items()}


def _running_threads() -> List[str]:
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]


def _preload_runtime() -> None:
    """What every interpreter imports anyway, imported once here (no zmq context is created).
    ``piton.lane_server`` and ``piton.control`` are what the handshake imports (the control lane,
    and the lanes' socket at ``concurrency`` > 1): imported in a forked interpreter, they took
    12–15 ms of a replacement's start, after the kill, while the pool was a worker short."""
    for name in ("zmq", "piton.server", "piton.handler", "piton.resolver", "piton.codec", "piton.protocol",
                 "piton.lane_server", "piton.control"):
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
