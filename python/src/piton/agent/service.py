"""The per-host agent: ``python -m piton.agent --bind tcp://ADDRESS:PORT --secret-key-file FILE
--allow CLIENT_KEY``.

One runs on each host that lends interpreters to pools elsewhere, placed and restarted by systemd
or Kubernetes. It is small on purpose: no membership, queue or scheduling. Over one control
socket (a ROUTER, CURVE server, clients allow-listed by their public key, ZMTP heartbeats) it
starts interpreters for the Node processes that ask (the same worker runtime as local ones,
bound on ``tcp://INTERFACE:0`` as CURVE servers that accept only the asking Node's key), forwards
their output, and reports each one's exit with its code or signal and stderr tail.

It keeps no interpreter of a Node it no longer hears: a Node pings every heartbeat interval, and
one silent for its announced timeout is taken as lost and its interpreters are killed, so a
partition never leaves a call running unseen. A Node whose connection closes (its process died,
and its kernel closed the socket) is lost at once: after every disconnect the agent sends each
peer a pong, every few ms for a moment, and one it can no longer route to is gone. Interpreters die with the agent (the worker's
parent-death signal), and each runs in its own process group, which a kill takes down whole.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket as _socket
import subprocess
import sys
import time
import uuid
from typing import Dict, List, Optional, Sequence, Tuple

import zmq

from .. import __version__
from .children import TAIL_LINES, Interpreter, Process, runtime_env, worker_args, worker_command, worker_env
from .warm import ZygoteClient, ZygoteGone, supported as zygote_supported
from .zygote import ENDPOINT_FD, forkable
from .protocol import AGENT_PROTOCOL_VERSION, StartSpec, message, parse_request
from ..curve import ZAP_DOMAIN, ZapHandler
from ..errors import ProtocolError

#: How often the loop wakes to look for silent peers and late starts, in ms.
TICK_MS = 50
#: After a disconnect, when (s) to try reaching every peer again.
DISCONNECT_PROBES_S = (0.02, 0.1, 0.5)
#: ZMTP heartbeats on the control socket: a dead TCP peer is dropped after this long.
HEARTBEAT_IVL_MS, HEARTBEAT_TIMEOUT_MS = 1000, 3000
#: After a connection closes, every peer is probed again this often, for this long: libzmq's I/O
#: thread reports the disconnect to the monitor before the socket has dropped the peer, so a probe
#: made at the event alone can still route (and a dead Node would then be seen only at its timeout).
PROBE_EVERY_MS, PROBE_FOR_MS = 10, 300


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m piton.agent", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", required=True, help="control endpoint, tcp://ADDRESS:PORT")
    parser.add_argument("--secret-key-file", required=True, metavar="FILE",
                        help="the agent's CURVE secret key (Z85, 40 characters); readable by its owner only")
    parser.add_argument("--allow", action="append", default=[], metavar="KEY",
                        help="a client public key (Z85) allowed to connect (repeatable); write --allow=KEY, "
                             "since a key may begin with '-'")
    parser.add_argument("--allow-file", metavar="FILE", help="allowed client public keys, one per line")
    parser.add_argument("--interface", metavar="ADDRESS",
                        help="address interpreters bind (default: the --bind address)")
    parser.add_argument("--python", default=sys.executable, help="interpreter to run workers with")
    parser.add_argument("--start-timeout", type=int, default=30_000, metavar="MS",
                        help="how long a worker may take to bind before its start fails")
    parser.add_argument("--cold-starts", action="store_true",
                        help="start every worker as a new interpreter, rather than fork it from the agent's "
                             "zygote (which has imported the worker runtime once)")
    args = parser.parse_args(argv)
    if not args.bind.startswith("tcp://"):
        parser.error("--bind must be a tcp:// endpoint")
    host = args.bind[len("tcp://"):].rsplit(":", 1)[0]
    args.interface = args.interface or host
    if args.interface in ("*", "0.0.0.0", "::", "[::]"):
        parser.error("--interface is required when --bind listens on every address")
    return args


def read_secret_key(path: str) -> bytes:
    mode = os.stat(path).st_mode
    if mode & 0o077:
        raise SystemExit(f"piton agent: {path} is readable by others (mode {oct(mode & 0o777)}); chmod 600 it")
    key = open(path, "rb").read().strip()
    if len(key) != 40:
        raise SystemExit(f"piton agent: {path} must hold a Z85 CURVE secret key (40 characters)")
    return key


def allowed_keys(args: argparse.Namespace) -> List[str]:
    keys = list(args.allow)
    if args.allow_file:
        with open(args.allow_file, encoding="ascii") as f:
            keys += [line.strip() for line in f if line.strip() and not line.startswith("#")]
    bad = [k for k in keys if len(k) != 40]
    if bad or not keys:
        raise SystemExit("piton agent: give at least one --allow key, each a Z85 public key of 40 characters")
    return keys


class Agent:
    def __init__(self, args: argparse.Namespace, secret: bytes, keys: List[str]) -> None:
        self.args = args
        self.instance = uuid.uuid4().hex
        self.context = zmq.Context()
        self.zap = ZapHandler(self.context, keys)
        self.router = self.context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.router.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        self.router.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        self.router.curve_server = True
        self.router.curve_secretkey = secret
        self.router.zap_domain = ZAP_DOMAIN.encode("ascii")
        self.router.bind(args.bind)
        self.monitor = self.router.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self.probes: List[float] = []  # when to look for a peer whose connection closed
        self.slow_peers: set = set()  # peers told once that their messages are dropped
        self.peers: Dict[bytes, Tuple[str, float, float]] = {}  # routing id -> (client key, last seen, timeout s)
        self.interpreters: Dict[Tuple[bytes, int], Interpreter] = {}
        # Workers are forked from the zygote once it is ready (warm.py); cold until then.
        self.zygote: Optional[ZygoteClient] = None
        if not args.cold_starts and zygote_supported():
            try:
                self.zygote = ZygoteClient(args.python, runtime_env(dict(os.environ)))
            except OSError as exc:
                sys.stderr.write(f"piton agent: could not start the zygote ({exc}); workers start cold\n")
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        self.running = True

    def _on_term(self, *_: object) -> None:
        self.running = False

    # ---- sending ------------------------------------------------------------------------------

    def send(self, peer: bytes, *items: object) -> bool:
        """Whether the message could be routed: with ROUTER_MANDATORY, a peer whose connection
        has closed is EHOSTUNREACH at once. Never blocks: the agent serves every Node from one
        loop, so a Node that stops reading (its queue full) loses messages rather than freezing
        the others; it is told on stderr, once."""
        try:
            self.router.send_multipart([peer, message(*items)], zmq.NOBLOCK)
            return True
        except zmq.Again:
            if peer not in self.slow_peers:
                self.slow_peers.add(peer)
                sys.stderr.write("piton agent: a Node does not read its messages; dropping them until it does\n")
            return True
        except zmq.ZMQError:
            return False

    def reachable(self, peer: bytes) -> bool:
        """Whether the socket still has a connection to ``peer`` (a pong is sent to find out)."""
        try:
            self.router.send_multipart([peer, message("pong", 0, self.instance)], zmq.NOBLOCK)
            return True
        except zmq.Again:
            return True  # its queue is full: connected, only slow to read
        except zmq.ZMQError as exc:
            return exc.errno != zmq.EHOSTUNREACH

    def on_disconnect(self) -> None:
        """Some connection closed: find whose, by trying to reach every peer, now and a few times
        more (the monitor's event can come before the ROUTER has dropped the peer's pipe, when a
        send to it still succeeds)."""
        now = time.monotonic()
        self.probes = sorted(set(self.probes) | {now + d for d in DISCONNECT_PROBES_S})
        self.probe_peers()

    def probe_peers(self) -> None:
        for peer in list(self.peers):
            if not self.reachable(peer):
                sys.stderr.write("piton agent: a Node's connection closed; its interpreters are killed\n")
                self.forget(peer)

    # ---- requests -----------------------------------------------------------------------------

    def on_message(self, peer: bytes, frames: List[zmq.Frame]) -> None:
        key = frames[0].get("User-Id") if frames else ""
        try:
            request = parse_request([bytes(f.buffer) for f in frames])
        except ProtocolError as exc:
            self.send(peer, "refused", str(exc))
            return
        kind = request[0]
        if kind == "hello":
            if request[1] != AGENT_PROTOCOL_VERSION:
                self.send(peer, "refused", f"this agent speaks agent protocol {AGENT_PROTOCOL_VERSION}, not {request[1]}")
                return
            self.peers[peer] = (key, time.monotonic(), max(request[2]["timeout"], 100) / 1000)
            self.send(peer, "welcome", AGENT_PROTOCOL_VERSION, {
                "agent": __version__, "instance": self.instance, "host": _socket.gethostname(),
                "pid": os.getpid(), "python": sys.version})
            return
        if peer not in self.peers:
            self.send(peer, "refused", "say hello first")
            return
        client_key, _, timeout = self.peers[peer]
        self.peers[peer] = (client_key, time.monotonic(), timeout)
        if kind == "ping":
            self.send(peer, "pong", request[1], self.instance)
        elif kind == "start":
            self.start(peer, client_key, request[1], request[2])
        elif kind == "signal":
            interp = self.interpreters.get((peer, request[1]))
            if interp is not None:
                interp.signal(request[2])
        elif kind == "bye":
            self.forget(peer)

    def start(self, peer: bytes, client_key: str, ref: int, spec: StartSpec) -> None:
        if (peer, ref) in self.interpreters:
            self.send(peer, "failed", ref, {"message": f"ref {ref} is in use", "stderr": ""})
            return
        public, secret = zmq.curve_keypair()
        read_fd, write_fd = os.pipe()
        env = worker_env(spec, secret.decode("ascii"), client_key)
        endpoint = f"tcp://{self.args.interface}:0"
        try:
            proc = self.fork(ref, spec, env, endpoint, write_fd)
            if proc is None:
                argv = worker_command(self.args.python, spec, endpoint, write_fd, os.getpid())
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=env, cwd=spec.cwd, pass_fds=(write_fd,), start_new_session=True)
        except OSError as exc:
            os.close(read_fd)
            self.send(peer, "failed", ref, {"message": f"could not run {self.args.python}: {exc}", "stderr": ""})
            return
        finally:
            os.close(write_fd)
        deadline = time.monotonic() + self.args.start_timeout / 1000
        self.interpreters[(peer, ref)] = Interpreter(peer, ref, proc, read_fd, public, deadline)

    def fork(self, ref: int, spec: StartSpec, env: Dict[str, str], endpoint: str, endpoint_fd: int) -> Optional[Process]:
        """The worker forked from the zygote, or None when it must start cold (no zygote ready, or
        an environment a fork cannot give: zygote.forkable)."""
        zygote = self.zygote
        if zygote is None or not zygote.usable() or not forkable(env, zygote.env):
            return None
        if spec.cwd is not None and not os.path.isdir(spec.cwd):
            return None  # a cold start reports it as Popen does
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            pid = zygote.fork(ref, worker_args(spec, endpoint, ENDPOINT_FD, zygote.pid), env, spec.cwd, [out_w, err_w, endpoint_fd])
        except ZygoteGone:
            os.close(out_r)
            os.close(err_r)
            return None
        except OSError:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        return zygote.adopt(pid, out_r, err_r)

    def forget(self, peer: bytes) -> None:
        """The Node is gone or done: none of its interpreters may go on running."""
        self.peers.pop(peer, None)
        for (owner, _), interp in list(self.interpreters.items()):
            if owner == peer:
                interp.signal("SIGKILL")

    # ---- the loop -----------------------------------------------------------------------------

    def poll_fds(self) -> Dict[int, Interpreter]:
        fds: Dict[int, Interpreter] = {}
        for interp in self.interpreters.values():
            if interp.endpoint_reader is not None:
                fds[interp.endpoint_reader.fd] = interp
            for fd in interp.readers:
                fds[fd] = interp
        return fds

    def exit_fds(self) -> List[int]:
        """The pidfds of forked workers still running: readable when one exits (a cold one's exit
        wakes the loop by SIGCHLD)."""
        return [fd for interp in self.interpreters.values() if (fd := getattr(interp.proc, "exit_fd", None)) is not None]

    def read_fd(self, fd: int, interp: Interpreter) -> None:
        if interp.endpoint_reader is not None and fd == interp.endpoint_reader.fd:
            lines, eof = interp.endpoint_reader.read()
            if lines and lines[0].startswith("tcp://"):
                interp.started = True
                self.send(interp.peer, "started", interp.ref, {
                    "pid": interp.proc.pid, "endpoint": lines[0], "serverKey": interp.server_key.decode("ascii")})
            if lines or eof:
                os.close(fd)
                interp.endpoint_reader = None
            return
        name, reader = interp.readers[fd]
        lines, eof = reader.read()
        for line in lines:
            if name == "stderr":
                interp.tail = (interp.tail + [line])[-TAIL_LINES:]
            self.send(interp.peer, "output", interp.ref, name, line)
        if eof:
            del interp.readers[fd]

    def reap(self) -> None:
        for key, interp in list(self.interpreters.items()):
            code = interp.proc.poll()
            if code is None:
                if not interp.started and time.monotonic() > interp.deadline:
                    interp.signal("SIGKILL")
                continue
            # The exit is reported once its output has been forwarded.
            for fd in list(interp.readers):
                while fd in interp.readers:
                    self.read_fd(fd, interp)
            if interp.endpoint_reader is not None:
                os.close(interp.endpoint_reader.fd)
                interp.endpoint_reader = None
            interp.proc.stdout.close()  # type: ignore[union-attr]
            interp.proc.stderr.close()  # type: ignore[union-attr]
            del self.interpreters[key]
            tail = "\n".join(interp.tail)
            if not interp.started:
                self.send(interp.peer, "failed", interp.ref, {
                    "message": f"the worker exited with {_describe(code)} before binding", "stderr": tail})
            elif interp.peer in self.peers:
                sig = signal.Signals(-code).name if code < 0 else None
                self.send(interp.peer, "exited", interp.ref, {"code": code if code >= 0 else None, "signal": sig, "stderr": tail})

    def expire_peers(self) -> None:
        now = time.monotonic()
        for peer, (_, last, timeout) in list(self.peers.items()):
            if now - last > timeout:
                sys.stderr.write(f"piton agent: a Node was silent for {timeout:.1f} s; its interpreters are killed\n")
                self.forget(peer)

    def run(self) -> int:
        probe_until = 0.0  # peers are probed on every turn until then (see PROBE_FOR_MS)
        while self.running:
            poller = zmq.Poller()
            poller.register(self.router, zmq.POLLIN)
            poller.register(self.wake_r, zmq.POLLIN)
            poller.register(self.monitor, zmq.POLLIN)
            fds = self.poll_fds()
            zygote = self.zygote if self.zygote is not None and not self.zygote.gone else None
            if zygote is not None:
                poller.register(zygote.fileno(), zmq.POLLIN)
            for fd in self.exit_fds():
                poller.register(fd, zmq.POLLIN)
            for fd in fds:
                poller.register(fd, zmq.POLLIN)
            try:
                ready = dict(poller.poll(PROBE_EVERY_MS if time.monotonic() < probe_until else TICK_MS))
            except zmq.ZMQError:
                continue  # EINTR from a signal
            if self.wake_r in ready:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            if self.monitor in ready:
                while True:
                    try:
                        self.monitor.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                probe_until = time.monotonic() + PROBE_FOR_MS / 1000
            if time.monotonic() < probe_until:
                self.on_disconnect()
            if zygote is not None and zygote.fileno() in ready:
                zygote.read()
            if self.router in ready:
                while True:
                    try:
                        frames = self.router.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self.on_message(bytes(frames[0].buffer), frames[1:])
            for fd, interp in fds.items():
                if fd in ready and (interp.peer, interp.ref) in self.interpreters:
                    if fd in interp.readers or (interp.endpoint_reader and interp.endpoint_reader.fd == fd):
                        self.read_fd(fd, interp)
            if self.probes and time.monotonic() >= self.probes[0]:
                self.probes = [t for t in self.probes if t > time.monotonic()]
                self.probe_peers()
            self.reap()
            self.expire_peers()
        return self.shutdown()

    def shutdown(self) -> int:
        for interp in self.interpreters.values():
            interp.signal("SIGKILL")
        for interp in self.interpreters.values():
            interp.proc.wait()
        if self.zygote is not None:
            self.zygote.close()  # it reaps what it forked before it exits
        self.router.disable_monitor()
        self.monitor.close(linger=0)
        self.router.close(linger=0)
        self.context.term()
        return 0


def _describe(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if not zmq.has("curve"):
        raise SystemExit("piton agent: this libzmq has no CURVE support")
    agent = Agent(args, read_secret_key(args.secret_key_file), allowed_keys(args))
    # The endpoint as bound: with port 0 in --bind, the one the kernel chose.
    bound = agent.router.getsockopt(zmq.LAST_ENDPOINT).decode()
    sys.stderr.write(f"piton agent {__version__}: listening on {bound}, interpreters on {args.interface}\n")
    sys.stderr.flush()
    sys.exit(agent.run())

