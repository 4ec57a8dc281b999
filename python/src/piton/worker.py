"""The worker process: ``python -m piton.worker --endpoint ENDPOINT [--path DIR]...``.

Start-up order: lead a process group of its own and fork its guard (``group.py``: whatever a
call starts dies with the worker), tie the worker's life to its parent (PR_SET_PDEATHSIG on Linux,
then the ``--parent-pid`` check, then a watchdog thread), put ``--path`` directories at the front of
``sys.path``, import ``--preload`` modules, bind a REP socket, serve until ``stop`` or SIGTERM.

Exit codes: 0 after ``stop`` or on SIGTERM; 2 after a protocol version mismatch; 3 when a preload
raised (its traceback is on stderr); 4 when the parent process is gone; 1 for anything else that
prevents serving (bad endpoint, ...). SIGINT is ignored: the pool, not the terminal's Ctrl-C,
decides when an interpreter stops. stdout and stderr belong to the user's code.
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

# Only the standard library (and modules made of it) at module level: zmq's threads and numpy's
# thread pool are started inside main(), with SIGTERM blocked, so that the kernel delivers
# SIGTERM to the main thread.
from .errors import Terminated
from .group import end_group, lead_own_group, start_guard
from .protocol import DEFAULT_MAX_MESSAGE_SIZE

__all__ = ["main", "parse_args", "serve_until_stopped", "EXIT_OK", "EXIT_FAILED", "EXIT_VERSION_MISMATCH", "EXIT_PRELOAD_FAILED",
           "EXIT_ORPHANED"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_VERSION_MISMATCH = 2
EXIT_PRELOAD_FAILED = 3
EXIT_ORPHANED = 4

PR_SET_PDEATHSIG = 1
#: How often the watchdog thread looks for a dead parent, in seconds.
PARENT_POLL_INTERVAL = 0.5
#: How long the last reply (``bye``, a version mismatch) may take to leave before exit, in ms.
FINAL_REPLY_LINGER_MS = 1000


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m piton.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="ZeroMQ endpoint to bind, e.g. ipc:///tmp/x/sock")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="directory put first on sys.path; its modules are callable (repeatable)")
    parser.add_argument("--preload", action="append", default=[], metavar="MODULE",
                        help="module imported before serving; if it raises, exit with code 3 (repeatable)")
    parser.add_argument("--parent-pid", type=int, default=None, metavar="PID",
                        help="exit at once (code 4) when the parent process is not, or stops being, PID")
    parser.add_argument("--max-message-size", type=_positive_int, default=DEFAULT_MAX_MESSAGE_SIZE,
                        metavar="BYTES", help="largest request or reply, all frames together")
    parser.add_argument("--allow-module", action="append", default=[], metavar="NAME",
                        help="module callable although it is not under a --path (repeatable)")
    parser.add_argument("--allow-private", action="store_true",
                        help="allow module and function names starting with '_'")
    parser.add_argument("--curve", action="store_true",
                        help="bind as a CURVE server; key and allowed clients from the environment (piton.curve)")
    parser.add_argument("--endpoint-fd", type=int, default=None, metavar="FD",
                        help="write the bound endpoint (e.g. the port chosen for tcp://ADDR:0) to FD, then close it")
    parser.add_argument("--allow-reexports", action="append", default=[], metavar="MODULE",
                        help="callable names of MODULE may be defined elsewhere ('*': of every module; repeatable)")
    return parser.parse_args(argv)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


# ------------------------------------------------------------------------------ parent death


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watchdog thread still catches an orphaned worker


#: The pid of this worker's group guard (``group.py``), if it has one.
_guard_pid: Optional[int] = None


def _orphaned(expected_parent: int) -> NoReturn:
    sys.stderr.write(f"piton: parent process {expected_parent} is gone; worker exits\n")
    sys.stderr.flush()
    end_group()  # what calls started, and the guard: nothing outlives the parent
    if _guard_pid is None and os.getpgrp() == os.getpid() and not sys.platform.startswith("linux"):
        # No /proc to find the members by: end the whole group, this process included.
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(EXIT_ORPHANED)


def _watch_parent(expected_parent: int) -> None:
    # Fallback for platforms without PDEATHSIG, and for a parent thread (not process) exit
    # clearing it: once orphaned, the worker is reparented and getppid changes.
    event = threading.Event()
    while not event.wait(PARENT_POLL_INTERVAL):
        if os.getppid() != expected_parent:
            _orphaned(expected_parent)


def _tie_to_parent(parent_pid: Optional[int]) -> None:
    _set_parent_death_signal()
    expected = os.getppid() if parent_pid is None else parent_pid
    if os.getppid() != expected:  # the parent died before prctl took effect
        _orphaned(expected)
    threading.Thread(target=_watch_parent, args=(expected,), name="piton-parent-watch", daemon=True).start()


# ---------------------------------------------------------------------------------- serving


def _preload(modules: List[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:
            sys.stderr.write(f"piton: preloading module {name!r} failed:\n")
            traceback.print_exc()
            _exit(EXIT_PRELOAD_FAILED)


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one unwinding is enough
    aio = sys.modules.get("piton.aio")
    if aio is not None:  # coroutines run: their loop may catch what is raised here (aio.py)
        aio.on_sigterm()
    raise Terminated()


def _exit(code: int) -> NoReturn:
    # Leave without waiting for non-daemon threads that user code may have started: the pool
    # expects the process to end right after `bye`. atexit handlers still run.
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


@contextlib.contextmanager
def _sigterm_blocked() -> Iterator[None]:
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


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    args = parse_args(argv)
    # First, while this is the only thread: the guard must be forked before any other starts.
    global _guard_pid
    if lead_own_group():
        _guard_pid = start_guard()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # stdout is a pipe to the pool, which logs it line by line: a block buffer would hold prints
    # back until 8 KiB have piled up or the worker exits.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    with _sigterm_blocked():
        _tie_to_parent(args.parent_pid)
        import zmq

        from .server import open_socket

        context = zmq.Context()
        socket = open_socket(context)  # starts libzmq's I/O thread
        if args.curve:
            from .curve import secure_server

            secure_server(socket, context)  # its ZAP thread, too, blocks SIGTERM
    for path in reversed(args.path):
        sys.path.insert(0, os.path.abspath(path))
    with _sigterm_blocked():  # a preload may start threads too (numpy's, the user's own)
        _preload(args.preload)

    serve_until_stopped(args, context, socket)


def serve_until_stopped(args: argparse.Namespace, context: "zmq.Context", socket: "zmq.Socket") -> NoReturn:
    """Binds ``args.endpoint`` and serves until ``stop`` or SIGTERM, then exits the process. Shared
    by a spawned worker and an interpreter forked by the fork server (``piton.forkserver``)."""
    import zmq

    from .resolver import Resolver
    from .handler import Handler
    from .server import serve

    handler = Handler(Resolver(args.path, args.allow_module, args.allow_private, args.allow_reexports), args.max_message_size)
    sockets = _HandshakeSockets(args, context, socket, handler)
    handler.on_hello = sockets.on_hello
    code = EXIT_FAILED
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)  # inside: a SIGTERM from here on exits 0
        socket.bind(args.endpoint)
        if args.endpoint_fd is not None:
            from .curve import report_endpoint

            report_endpoint(socket, args.endpoint_fd)
        code = serve(socket, handler, sockets.serve_lanes)
        # The last reply must leave before the socket goes; the peer is there, so this is short.
        socket.close(linger=FINAL_REPLY_LINGER_MS)
    except Terminated:
        code = EXIT_OK
    except zmq.ZMQError as exc:
        sys.stderr.write(f"piton: socket error on {args.endpoint}: {exc}\n")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sockets.close()
        socket.close(linger=0)
        context.term()
    _exit(code)


class _HandshakeSockets:
    """The sockets the handshake opens beside the worker's own, bound like it (a CURVE server on
    tcp): the control lane (control.py), always, and the lanes' ROUTER when it asks for more than
    one lane (lane_server.py)."""

    def __init__(self, args: argparse.Namespace, context: "zmq.Context", socket: "zmq.Socket", handler: "object") -> None:
        self._args = args
        self._context = context
        self._socket = socket
        self._handler = handler
        self._router: "Optional[zmq.Socket]" = None
        self._control: "object" = None

    def on_hello(self, hello: "object") -> dict:
        from .lane_server import open_lanes_socket, sibling_endpoint

        lanes = getattr(hello, "lanes", 1)
        if self._control is not None:
            raise RuntimeError("the worker has had its handshake: it takes one")
        more = {}
        if lanes > 1:
            from .aio import get_loop

            get_loop()  # made now, so that ready names the loop the lanes run on
            self._router, more["lanes"] = open_lanes_socket(self._context, self._args.endpoint, self._secure)
        from .control import ControlLane

        self._control = control = ControlLane(self._context, sibling_endpoint(self._args.endpoint, "control"),
                                              lambda: self._handler.lane_list, self._secure)  # type: ignore[attr-defined]
        more["control"] = control.endpoint
        return more

    def _secure(self, socket: "zmq.Socket") -> None:
        if self._args.curve:
            from .curve import secure_like

            secure_like(socket)

    def serve_lanes(self, handler: "object") -> int:
        from .lane_server import LaneServer

        assert self._router is not None
        return LaneServer(handler, self._socket, self._router).run()  # type: ignore[arg-type]

    def close(self) -> None:
        # The control lane's socket is its thread's: it closes it when the context terminates.
        if self._router is not None:
            self._router.close(linger=0)


if __name__ == "__main__":
    main()
