"""The worker process: ``python -m piton.worker --endpoint ENDPOINT [--path DIR]...``.

Start-up order: lead a process group of its own and start its guard (``group.py``: whatever a
call starts dies with the worker), tie the worker's life to its parent (PR_SET_PDEATHSIG on Linux,
then the ``--parent-pid`` check, then a watchdog thread), put ``--path`` directories at the front of
``sys.path``, import ``--preload`` modules, bind a REP socket, serve until ``stop`` or SIGTERM.

Exit codes (``protocol.py``, PROTOCOL.md): 0 after ``stop`` or on SIGTERM; 2 after a protocol version
mismatch; 3 when a preload raised (its traceback is on stderr); 4 when the parent process is gone; 1
for anything else that prevents serving (bad endpoint, ...). What every serving process shares (its
arguments, parent death, preload, SIGTERM mask and exit) is in ``lifetime.py``. SIGINT is ignored: the pool, not the terminal's Ctrl-C,
decides when an interpreter stops. stdout and stderr belong to the user's code.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING, NoReturn, Optional, Sequence

# Only the standard library (and modules made of it) at module level: zmq's threads and numpy's
# thread pool are started inside main(), with SIGTERM blocked, so that the kernel delivers
# SIGTERM to the main thread.
from . import lifetime
from .errors import Terminated
from .group import lead_own_group
from .protocol import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from .handler import Handler

__all__ = ["main", "parse_args", "prepare_handler", "serve_until_stopped"]

#: How long the last reply (``bye``, a version mismatch) may take to leave before exit, in ms.
FINAL_REPLY_LINGER_MS = 1000


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m piton.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="ZeroMQ endpoint to bind, e.g. ipc:///tmp/x/sock")
    lifetime.add_serve_arguments(parser)
    parser.add_argument("--curve", action="store_true",
                        help="bind as a CURVE server; key and allowed clients from the environment (piton.curve)")
    parser.add_argument("--endpoint-fd", type=int, default=None, metavar="FD",
                        help="write the bound endpoint (e.g. the port chosen for tcp://ADDR:0) to FD, then close it")
    return parser.parse_args(argv)


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one unwinding is enough
    aio = sys.modules.get("piton.aio")
    if aio is not None:  # coroutines run: their loop may catch what is raised here (aio.py)
        aio.on_sigterm()
    raise Terminated()


def main(argv: Optional[Sequence[str]] = None) -> NoReturn:
    args = parse_args(argv)
    # First, while this is the only thread and before any user code: the guard (group.py).
    if lead_own_group():
        lifetime.guard_group()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # stdout is a pipe to the pool, which logs it line by line: a block buffer would hold prints
    # back until 8 KiB have piled up or the worker exits.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    with lifetime.sigterm_blocked():
        lifetime.tie_to_parent(args.parent_pid)
        import zmq

        from .server import open_socket

        context = zmq.Context()
        socket = open_socket(context)  # starts libzmq's I/O thread
        if args.curve:
            from .curve import secure_server

            secure_server(socket, context)  # its ZAP thread, too, blocks SIGTERM
    lifetime.put_first_on_path(args.path)
    with lifetime.sigterm_blocked():  # a preload may start threads too (numpy's, the user's own)
        lifetime.preload(args.preload)

    serve_until_stopped(args, context, socket)


def serve_until_stopped(args: argparse.Namespace, context: "zmq.Context", socket: "zmq.Socket",
                        handler: "Optional[Handler]" = None) -> NoReturn:
    """Binds ``args.endpoint`` and serves until ``stop`` or SIGTERM, then exits the process. Shared
    by a spawned worker and an interpreter forked by the fork server (``piton.forkserver``), which
    may have made its ``handler`` (:func:`prepare_handler`) before it knew its endpoint."""
    import zmq

    from .server import serve

    if handler is None:
        handler = prepare_handler(args)
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
    lifetime.exit_process(code)


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


def prepare_handler(args: argparse.Namespace) -> "Handler":
    """Everything of serving that does not need the endpoint: each call's id follows what it prints
    and logs (call_context.py; a forked interpreter's ids carry its own pid), and the handler."""
    from .resolver import Resolver
    from .handler import Handler

    from . import call_context

    call_context.after_fork()
    call_context.install_log_attributes()
    sys.stdout = call_context.AttributedOutput(sys.stdout)  # type: ignore[assignment]
    sys.stderr = call_context.AttributedOutput(sys.stderr)  # type: ignore[assignment]
    return Handler(Resolver(args.path, args.allow_module, args.allow_private, args.allow_reexports), args.max_message_size)


if __name__ == "__main__":
    main()
