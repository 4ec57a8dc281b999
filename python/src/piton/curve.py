"""CURVE for a worker bound on tcp: encryption, and an allow-list of the clients that may connect.

A worker started by an agent (``python -m piton.agent``) binds ``tcp://ADDRESS:0`` as a CURVE
server. Its key pair is made by the agent for this one worker, and the only client key it
accepts is that of the Node process that asked for it: both arrive in the environment
(``PITON_CURVE_SECRET_KEY``, ``PITON_CURVE_CLIENT_KEYS``, Z85 text) rather than on the command line,
where any user of the host could read them, and are removed from ``os.environ`` before user code
runs. The allow-list is enforced by a ZAP handler (RFC 27) on a thread of the worker.
"""

from __future__ import annotations

import os
import threading
from typing import FrozenSet, Iterable, Optional

import zmq
from zmq.utils import z85

__all__ = ["SECRET_KEY_ENV", "CLIENT_KEYS_ENV", "ZAP_DOMAIN", "ZapHandler", "secure_server", "secure_like", "report_endpoint"]

SECRET_KEY_ENV = "PITON_CURVE_SECRET_KEY"
CLIENT_KEYS_ENV = "PITON_CURVE_CLIENT_KEYS"
ZAP_DOMAIN = "piton"
ZAP_ENDPOINT = "inproc://zeromq.zap.01"


class ZapHandler:
    """Answers ZAP requests on ``inproc://zeromq.zap.01``: CURVE clients whose public key is in
    ``allowed`` (Z85) get 200, anyone else 400. Any other mechanism is refused."""

    def __init__(self, context: zmq.Context, allowed: Iterable[str]) -> None:
        self.allowed: FrozenSet[bytes] = frozenset(z85.decode(k) for k in allowed)
        self._socket = context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(ZAP_ENDPOINT)
        self._thread = threading.Thread(target=self._serve, name="piton-zap", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                frames = self._socket.recv_multipart()
            except zmq.ZMQError:
                # The context is terminating: close here, or its term() would wait for us forever.
                self._socket.close(linger=0)
                return
            # version, request id, domain, address, identity, mechanism, credentials...
            if len(frames) < 6:
                continue
            version, request_id, mechanism = frames[0], frames[1], frames[5]
            key = frames[6] if mechanism == b"CURVE" and len(frames) > 6 else None
            ok = key is not None and key in self.allowed
            user = z85.encode(key) if ok and key is not None else b""
            self._socket.send_multipart([version, request_id, b"200" if ok else b"400",
                                         b"OK" if ok else b"client key not allowed", user, b""])


def secure_server(socket: zmq.Socket, context: zmq.Context, environ: Optional[dict] = None) -> ZapHandler:
    """Makes ``socket`` a CURVE server with the key and allow-list from the environment, and takes
    both out of it. Raises ``RuntimeError`` when either is missing or libzmq lacks CURVE."""
    env = os.environ if environ is None else environ
    secret = env.pop(SECRET_KEY_ENV, None)
    clients = [k for k in env.pop(CLIENT_KEYS_ENV, "").split(",") if k]
    if not zmq.has("curve"):
        raise RuntimeError("this libzmq has no CURVE support")
    if secret is None or not clients:
        raise RuntimeError(f"--curve needs {SECRET_KEY_ENV} and {CLIENT_KEYS_ENV} in the environment")
    handler = ZapHandler(context, clients)
    global _secret_key
    _secret_key = secret.encode("ascii")
    secure_like(socket)
    return handler


#: The worker's secret key, once :func:`secure_server` took it from the environment (libzmq does
#: not give a socket's key back): the worker's other sockets are made servers with it too.
_secret_key: Optional[bytes] = None


def secure_like(socket: zmq.Socket) -> None:
    """Makes ``socket`` a CURVE server with the worker's key, for the same allowed clients (the ZAP
    handler serves every socket of the context): another socket of a worker :func:`secure_server`
    secured. Raises ``RuntimeError`` before that."""
    if _secret_key is None:
        raise RuntimeError("secure_like() before secure_server(): there is no key yet")
    socket.curve_server = True
    socket.curve_secretkey = _secret_key
    socket.zap_domain = ZAP_DOMAIN.encode("ascii")


def report_endpoint(socket: zmq.Socket, fd: int) -> None:
    """Writes the endpoint the socket is bound to (``tcp://ADDRESS:PORT``, the port chosen by the
    kernel for ``:0``), one line, to ``fd``, and closes it: how the agent learns where to send Node."""
    endpoint = socket.getsockopt(zmq.LAST_ENDPOINT)
    try:
        os.write(fd, endpoint + b"\n")
    finally:
        os.close(fd)
