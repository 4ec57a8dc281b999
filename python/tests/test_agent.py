"""The agent for real: a process on loopback, a DEALER talking the agent protocol with CURVE, and
the interpreters it starts reached over tcp + CURVE like a pool would."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator, List, Optional

import pytest
import zmq

from helpers import FIXTURES, gone, wait_until, worker_env
from piton.agent.protocol import AGENT_PROTOCOL_VERSION
from piton.codec import decode, encode
from piton.call_context import MARKER
from piton.protocol import PROTOCOL_VERSION

REPLY_MS = 10_000


class Agent:
    """``warm``: the agent's workers are forked from its zygote (the test waits until it is ready);
    else every one is a cold start (``--cold-starts``)."""

    def __init__(self, allowed: List[bytes], warm: bool = True) -> None:
        self.public, secret = zmq.curve_keypair()
        self.dir = tempfile.mkdtemp(prefix="piton-agent-test-")
        key_file = os.path.join(self.dir, "agent.key")
        with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(secret)
        # Port 0: the kernel picks a free one, and the agent says which.
        argv = [sys.executable, "-m", "piton.agent", "--bind", "tcp://127.0.0.1:0", "--secret-key-file", key_file]
        for key in allowed:
            argv.append(f"--allow={key.decode()}")  # a Z85 key may begin with '-'
        if not warm:
            argv.append("--cold-starts")
        self.warm = warm
        self.proc = subprocess.Popen(argv, env=worker_env(), stderr=subprocess.PIPE)
        line = self.proc.stderr.readline().decode()  # type: ignore[union-attr]
        assert "listening on tcp://" in line, line
        self.endpoint = line.split("listening on ")[1].split(",")[0]
        self.zygote: Optional[int] = None
        if warm:
            line = self.proc.stderr.readline().decode()  # type: ignore[union-attr]
            assert "forked from the zygote" in line, line
            self.zygote = int(line.split("(pid ")[1].split(")")[0])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc.stderr.close()  # type: ignore[union-attr]


class Node:
    """What the pool's agent link does, in Python."""

    def __init__(self, agent: Agent, keys: Optional[tuple] = None) -> None:
        self.public, self.secret = keys or zmq.curve_keypair()
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.curve_serverkey = agent.public
        self.sock.curve_publickey = self.public
        self.sock.curve_secretkey = self.secret
        self.sock.connect(agent.endpoint)
        self.agent = agent

    def send(self, *items: Any) -> None:
        self.sock.send_multipart(encode(list(items)))

    def recv(self, timeout: int = REPLY_MS) -> list:
        if not self.sock.poll(timeout):
            raise TimeoutError("no message from the agent")
        return decode(self.sock.recv_multipart())

    def recv_kind(self, kind: str, timeout: int = REPLY_MS) -> list:
        deadline = time.monotonic() + timeout / 1000
        while True:
            msg = self.recv(int(max(1, (deadline - time.monotonic()) * 1000)))
            if msg[0] == kind:
                return msg

    def hello(self, timeout: int = 60_000) -> list:
        self.send("hello", AGENT_PROTOCOL_VERSION, {"pid": os.getpid(), "timeout": timeout})
        return self.recv()

    def start(self, ref: int, **extra: Any) -> list:
        self.send("start", ref, {"id": f"remote-{ref}", "path": [FIXTURES], "maxMessageSize": 1 << 20, **extra})
        kind = "started" if not extra.get("expect_fail") else "failed"
        # A start can take longer than a short heartbeat timeout on a loaded machine: ping while
        # waiting, as the pool's link does, so the Node is not taken as lost before the answer.
        deadline = time.monotonic() + REPLY_MS / 1000
        while time.monotonic() < deadline:
            if self.sock.poll(50):
                msg = decode(self.sock.recv_multipart())
                if msg[0] == kind:
                    return msg
            else:
                self.send("ping", 0)
        raise TimeoutError(f"no '{kind}' from the agent")

    def start_pinging(self, ref: int) -> list:
        """``start``, pinging meanwhile: a Node that announced a short timeout stays alive however
        long the worker takes to start on a loaded machine."""
        self.send("start", ref, {"id": f"remote-{ref}", "path": [FIXTURES], "maxMessageSize": 1 << 20})
        deadline = time.monotonic() + REPLY_MS / 1000
        started: Optional[list] = None
        pings = pongs = 0
        while started is None or pongs < pings:  # each ping's pong is read here, not by the test
            if time.monotonic() > deadline:
                raise TimeoutError("no started from the agent")
            if started is None and not self.sock.poll(50):
                self.send("ping", pings)
                pings += 1
                continue
            msg = self.recv()
            assert msg[0] != "failed", msg
            if msg[0] == "started":
                started = msg
            elif msg[0] == "pong":
                pongs += 1
        return started

    def worker(self, started: list) -> zmq.Socket:
        req = self.ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.curve_serverkey = started[2]["serverKey"].encode()
        req.curve_publickey = self.public
        req.curve_secretkey = self.secret
        req.connect(started[2]["endpoint"])
        return req

    def close(self) -> None:
        self.ctx.destroy(linger=0)


def ask(req: zmq.Socket, *envelope: Any) -> list:
    req.send_multipart(encode(list(envelope)))
    assert req.poll(REPLY_MS), "no reply from the remote worker"
    return decode(req.recv_multipart())




@pytest.fixture(params=["warm", "cold"])
def node(request: pytest.FixtureRequest) -> Iterator[Node]:
    keys = zmq.curve_keypair()
    agent = Agent([keys[0]], warm=request.param == "warm")
    n = Node(agent, keys)
    yield n
    n.close()
    agent.stop()


def test_hello_start_call_and_a_reported_kill(node: Node) -> None:
    welcome = node.hello()
    assert welcome[0] == "welcome" and welcome[1] == AGENT_PROTOCOL_VERSION
    assert welcome[2]["pid"] == node.agent.proc.pid
    started = node.start(1)
    assert started[2]["endpoint"].startswith("tcp://127.0.0.1:")
    req = node.worker(started)
    ready = ask(req, "hello", 1, PROTOCOL_VERSION)
    assert ready[0] == "ready" and ready[2]["pid"] == started[2]["pid"]
    assert ask(req, "call", 2, "functions", "add", [2, 3], None) == ["ok", 2, 5]
    node.send("signal", 1, "SIGKILL")
    exited = node.recv_kind("exited")
    assert exited[1] == 1 and exited[2]["signal"] == "SIGKILL" and exited[2]["code"] is None


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


PROBE = """import os, sys
def where():
    return [os.getcwd(), os.environ.get("PITON_PROBE"), os.environ.get("PYTHONHASHSEED"), sys.path, os.getppid(),
            os.getpgrp() == os.getpid()]
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_a_worker_forked_from_the_zygote_is_the_worker_a_cold_start_gives(node: Node) -> None:
    node.hello()
    code = tempfile.mkdtemp(prefix="piton-probe-")
    cwd = tempfile.mkdtemp(prefix="piton-cwd-")
    extra = tempfile.mkdtemp(prefix="piton-pythonpath-")
    with open(os.path.join(code, "probe.py"), "w") as f:
        f.write(PROBE)
    try:
        started = node.start(1, path=[code], cwd=cwd, env={"PITON_PROBE": "yes", "PYTHONPATH": extra})
        pid = started[2]["pid"]
        # Warm: the zygote's child; cold: the agent's.
        assert _parent_of(pid) == (node.agent.zygote if node.agent.warm else node.agent.proc.pid)
        req = node.worker(started)
        assert ask(req, "hello", 1, PROTOCOL_VERSION)[0] == "ready"
        ok, _, (where_cwd, probe, _, path, _, leads) = ask(req, "call", 2, "probe", "where", [], None)
        assert ok == "ok" and where_cwd == os.path.realpath(cwd) and probe == "yes" and leads
        # --path first, then PYTHONPATH's entries before the standard library, as a cold start has them.
        assert path[0] == code and extra in path and path.index(extra) < min(i for i, p in enumerate(path) if "lib/python" in p)
        # A variable Python reads as it starts cannot be given to a fork: such a worker starts cold.
        started = node.start(2, path=[code], env={"PYTHONHASHSEED": "7"})
        assert _parent_of(started[2]["pid"]) == node.agent.proc.pid
        req2 = node.worker(started)
        assert ask(req2, "hello", 1, PROTOCOL_VERSION)[0] == "ready"
        assert ask(req2, "call", 2, "probe", "where", [], None)[2][2] == "7"
        req.close()
        req2.close()
    finally:
        for d in (code, cwd, extra):
            shutil.rmtree(d)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_a_dead_zygote_takes_its_workers_and_the_agent_starts_cold_from_then_on() -> None:
    keys = zmq.curve_keypair()
    agent = Agent([keys[0]], warm=True)
    node = Node(agent, keys)
    try:
        node.hello()
        pid = node.start(1)[2]["pid"]
        assert _parent_of(pid) == agent.zygote
        os.kill(agent.zygote, signal.SIGKILL)  # type: ignore[arg-type]
        # Its worker dies with it (parent-death signal) and is reported, killed.
        exited = node.recv_kind("exited")
        assert exited[1] == 1 and exited[2]["signal"] == "SIGKILL"
        assert wait_until(lambda: gone(pid), timeout=10)
        # The agent goes on: the next worker is a cold start, its own child, and serves.
        started = node.start(2)
        assert _parent_of(started[2]["pid"]) == agent.proc.pid
        req = node.worker(started)
        assert ask(req, "hello", 1, PROTOCOL_VERSION)[0] == "ready"
        assert ask(req, "call", 2, "functions", "add", [2, 3], None) == ["ok", 2, 5]
        req.close()
    finally:
        node.close()
        agent.stop()


def test_output_is_forwarded_and_a_normal_exit_reported_with_its_code(node: Node) -> None:
    node.hello()
    started = node.start(1)
    req = node.worker(started)
    ask(req, "hello", 1, PROTOCOL_VERSION)
    ask(req, "call", 2, "functions", "shout", ["over the wire"], None)
    # The worker names the call before its first line (call_context.py); the agent relays both.
    marker = node.recv_kind("output")
    assert marker[1:3] == [1, "stdout"] and marker[3].startswith(MARKER), marker
    out = node.recv_kind("output")
    assert out[1:] == [1, "stdout", "over the wire"]
    assert ask(req, "stop", 3) == ["bye", 3]
    exited = node.recv_kind("exited")
    assert exited[2]["code"] == 0 and exited[2]["signal"] is None


def test_modules_planted_in_the_requested_cwd_never_run(node: Node) -> None:
    # What `python -m piton.worker` would import from its cwd first: modules the worker or the
    # standard library import at start-up, and a package named like the runtime itself.
    cwd = tempfile.mkdtemp(prefix="piton-planted-")
    marker = os.path.join(cwd, "planted-code-ran")
    planted = f"open({marker!r}, 'a').write(__name__ + '\\n')\nraise ImportError('planted')\n"
    for name in ("enum", "random", "typing", "zmq"):
        with open(os.path.join(cwd, f"{name}.py"), "w") as f:
            f.write(planted)
    os.mkdir(os.path.join(cwd, "piton"))
    with open(os.path.join(cwd, "piton", "__init__.py"), "w") as f:
        f.write(planted)
    try:
        node.hello()
        started = node.start(1, cwd=cwd)
        req = node.worker(started)
        assert ask(req, "hello", 1, PROTOCOL_VERSION)[0] == "ready"
        assert ask(req, "call", 2, "functions", "add", [2, 3], None) == ["ok", 2, 5]
        assert ask(req, "stop", 3) == ["bye", 3]
        assert node.recv_kind("exited")[2]["code"] == 0
        assert not os.path.exists(marker), open(marker).read()
    finally:
        shutil.rmtree(cwd)


def test_a_worker_that_cannot_start_is_reported_failed_with_its_stderr(node: Node) -> None:
    node.hello()
    failed = node.start(1, preload=["raises_on_import"], expect_fail=True)
    assert "before binding" in failed[2]["message"]
    assert "ImportError" in failed[2]["stderr"] or "Error" in failed[2]["stderr"]


def test_the_worker_accepts_only_the_key_of_the_node_that_started_it(node: Node) -> None:
    node.hello()
    started = node.start(1)
    intruder = Node(node.agent)
    try:
        req = intruder.worker(started)
        req.send_multipart(encode(["hello", 1, PROTOCOL_VERSION]))
        assert not req.poll(500), "a worker answered a client whose key it was not given"
    finally:
        intruder.close()
    assert ask(node.worker(started), "hello", 1, PROTOCOL_VERSION)[0] == "ready"


def test_a_client_whose_key_is_not_allowed_gets_nothing(node: Node) -> None:
    stranger = Node(node.agent)
    try:
        stranger.send("hello", AGENT_PROTOCOL_VERSION, {"pid": 1, "timeout": 1000})
        with pytest.raises(TimeoutError):
            stranger.recv(500)
    finally:
        stranger.close()


def test_a_request_before_hello_or_of_another_version_is_refused(node: Node) -> None:
    node.send("ping", 1)
    assert node.recv()[0] == "refused"
    node.send("hello", AGENT_PROTOCOL_VERSION + 1, {"pid": 1, "timeout": 1000})
    refused = node.recv()
    assert refused[0] == "refused" and "agent protocol" in refused[1]
    node.send("start", 1, {"id": "x", "maxMessageSize": -1})
    assert node.recv()[0] == "refused"


def test_a_silent_node_loses_its_interpreters(node: Node) -> None:
    node.hello(timeout=300)
    pid = node.start_pinging(1)[2]["pid"]
    assert not gone(pid)
    # No ping: the agent takes the Node as lost after 300 ms and kills what it started.
    assert wait_until(lambda: gone(pid), timeout=10)


def test_ping_keeps_a_node_and_bye_ends_its_interpreters(node: Node) -> None:
    node.hello(timeout=300)
    pid = node.start_pinging(1)[2]["pid"]
    for n in range(8):
        node.send("ping", n)
        pong = node.recv_kind("pong")
        assert pong[1] == n
        time.sleep(0.1)
    assert not gone(pid)
    node.send("bye")
    assert wait_until(lambda: gone(pid), timeout=10)


def test_interpreters_die_with_the_agent(node: Node) -> None:
    node.hello()
    pid = node.start(1)[2]["pid"]
    node.agent.proc.kill()
    node.agent.proc.wait()
    assert wait_until(lambda: gone(pid), timeout=10)
    if node.agent.zygote is not None:  # and so does its zygote
        assert wait_until(lambda: gone(node.agent.zygote), timeout=10)


def test_a_node_whose_connection_closes_loses_its_interpreters_at_once(node: Node) -> None:
    node.hello(timeout=60_000)
    pid = node.start(1)[2]["pid"]
    # The Node process dies: its kernel closes the connection. Far sooner than the 60 s timeout,
    # the agent sees the disconnect, cannot route to the peer any more, and kills what it ran.
    node.sock.close(linger=0)
    assert wait_until(lambda: gone(pid), timeout=5)


def test_each_of_many_closed_connections_is_seen_at_once(node: Node) -> None:
    # libzmq's monitor may report a disconnect before the ROUTER has dropped the peer, so that a
    # probe made at the event still routes: the agent probes again for a moment. Several Nodes in
    # turn, each closing with a 60 s timeout announced, so that one probe alone would be caught out.
    for round_ in range(6):
        other = Node(node.agent, (node.public, node.secret))
        other.hello(timeout=60_000)
        pid = other.start(1)[2]["pid"]
        other.close()
        assert wait_until(lambda: gone(pid), timeout=5), f"Node {round_}'s interpreter outlived its connection"


# ---- the agent protocol against the shared vectors ------------------------------------------------

from helpers import read_vectors  # noqa: E402
from piton.agent.protocol import StartSpec, message, parse_request  # noqa: E402
from piton.errors import ProtocolError  # noqa: E402

VECTORS = {c["name"]: [bytes.fromhex(f) for f in c["frames"]] for c in read_vectors()["cases"]}


def test_the_agent_parses_nodes_messages_as_the_vectors_mean_them() -> None:
    assert parse_request(VECTORS["agent hello"]) == ["hello", 1, {"pid": 4242, "timeout": 3000}]
    assert parse_request(VECTORS["agent signal"]) == ["signal", 1, "SIGKILL"]
    assert parse_request(VECTORS["agent ping"]) == ["ping", 7]
    assert parse_request(VECTORS["agent bye"]) == ["bye"]
    kind, ref, spec = parse_request(VECTORS["agent start"])
    assert (kind, ref) == ("start", 1) and isinstance(spec, StartSpec)
    assert (spec.id, spec.path, spec.preload, spec.max_message_size) == ("host-1/python-1", ["/srv/app"], ["model"], 67108864)
    assert spec.env == {"OMP_NUM_THREADS": "1", "DEBUG": None} and spec.cwd is None and spec.allow_private is False


def test_the_agent_writes_the_vectors_bytes() -> None:
    written = {
        "agent welcome": ["welcome", 1, {"agent": "0.1.0", "instance": "9f1c2d", "host": "gpu-1", "pid": 77, "python": "3.11.7"}],
        "agent output": ["output", 1, "stdout", "epoch 3"],
        "agent exited by a signal": ["exited", 1, {"code": None, "signal": "SIGKILL", "stderr": ""}],
        "agent pong": ["pong", 7, "9f1c2d"],
        "agent refused": ["refused", "say hello first"],
    }
    for name, items in written.items():
        assert [message(*items)] == VECTORS[name], name


@pytest.mark.parametrize("envelope, says", [
    (["launch", 1], "unknown agent message kind"),
    (["ping"], "ping: expected 2 items"),
    (["signal", 1, "SIGSTOP"], "signal: must be one of SIGTERM, SIGKILL"),
    (["start", 1, {"id": "", "maxMessageSize": 1}], "start: id must be a non-empty string"),
    (["start", 1, {"id": "x", "maxMessageSize": 0}], "maxMessageSize must be a positive integer"),
    (["start", 1, {"id": "x", "maxMessageSize": 1, "env": {"A": 1}}], "env must be a map"),
    (["hello", 1, {"pid": 1}], "hello: timeout must be an unsigned integer"),
])
def test_malformed_messages_are_protocol_errors_naming_the_field(envelope, says) -> None:
    with pytest.raises(ProtocolError, match=says):
        parse_request(encode(envelope))
