"""Lanes (PROTOCOL.md, "Lanes"): a handshake that asks for several lanes gets a ROUTER beside the
worker's REP socket, and each lane (lane 0 on the REP socket, the others on REQ sockets whose
routing id is their number) carries its own calls, interleaved on the worker's loop."""

import os
import signal
import time

import pytest
import zmq

from helpers import REPLY_TIMEOUT_MS, Worker, wait_until
from piton.codec import decode, encode


class Lanes:
    """REQ sockets on the lanes a worker opened, lane 0 being the worker's own Client."""

    def __init__(self, worker, count, expose=None):
        options = {"lanes": count}
        if expose:
            options["expose"] = expose
        self.ready = worker.hello(**options)
        assert self.ready[0] == "ready", self.ready
        self.endpoint = self.ready[2]["lanes"]
        self.sockets = [worker.socket]
        for index in range(1, count):
            sock = worker.client.context.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.ROUTING_ID, str(index).encode())
            sock.connect(self.endpoint)
            self.sockets.append(sock)
        self.next_id = 100

    def send(self, lane, *envelope):
        self.sockets[lane].send_multipart(encode(list(envelope)))

    def receive(self, lane, timeout=REPLY_TIMEOUT_MS):
        sock = self.sockets[lane]
        if not sock.poll(timeout):
            raise TimeoutError(f"no reply on lane {lane}")
        return decode(sock.recv_multipart())

    def close(self):
        for sock in self.sockets[1:]:
            sock.close(linger=0)


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_kind(request):
    return request.param


@pytest.fixture
def fresh_worker(loop_kind):
    """A worker of its own, with uvloop or (its import blocked) asyncio's loop."""
    with Worker(*(["--preload", "no_uvloop"] if loop_kind == "asyncio" else [])) as w:
        yield w


@pytest.fixture
def lanes(fresh_worker):
    made = []

    def open_lanes(count, **options):
        lanes = Lanes(fresh_worker, count, **options)
        made.append(lanes)
        return lanes

    yield open_lanes
    for lanes in made:
        lanes.close()


def test_ready_names_the_lanes_endpoint_and_the_loop(fresh_worker, lanes, loop_kind):
    opened = lanes(3)
    assert opened.endpoint == fresh_worker.endpoint + "-lanes"
    assert opened.ready[2]["loop"] == loop_kind
    opened.send(1, "call", 1, "asyncs", "loop_name", [], None)
    assert opened.receive(1) == ["ok", 1, loop_kind]


def test_calls_on_several_lanes_run_at_once(lanes):
    opened = lanes(8)
    started = time.monotonic()
    for lane in range(8):
        opened.send(lane, "call", lane + 1, "asyncs", "sleep_then", [0.5], None)
    replies = [opened.receive(lane) for lane in range(8)]
    elapsed = time.monotonic() - started
    assert replies == [["ok", lane + 1, 0.5] for lane in range(8)]
    assert elapsed < 8 * 0.5, f"8 sleeps of 0.5 s took {elapsed:.2f} s: they did not overlap"


def test_each_lane_keeps_its_own_stream(lanes, tmp_path):
    opened = lanes(2)
    markers = [tmp_path / "m0", tmp_path / "m1"]
    for lane in range(2):
        opened.send(lane, "stream", 1, "asyncs", "count", [10 * (lane + 1), str(markers[lane])], None, 3)
    assert opened.receive(0) == ["items", 1, [0, 1, 2], False]
    assert opened.receive(1) == ["items", 1, [0, 1, 2], False]
    opened.send(1, "close", 2)
    assert opened.receive(1) == ["closed", 2]
    assert markers[1].read_text() == "closed" and not markers[0].exists()
    opened.send(0, "next", 2, 100)
    assert opened.receive(0) == ["items", 2, list(range(3, 10)), True]


def test_a_sync_function_holds_the_loop_while_it_runs(lanes, tmp_path):
    """Sync code keeps its meaning: no other call's Python code runs while it does."""
    opened = lanes(2)
    marker = tmp_path / "marker"
    opened.send(0, "call", 1, "functions", "sleep_then", [0.5, str(marker)], None)
    assert wait_until(lambda: marker.exists())  # the sync call runs on lane 0
    opened.send(1, "call", 1, "asyncs", "immediate", ["quick"], None)
    assert opened.receive(1) == ["ok", 1, "quick"]
    # Lane 1's call could only run once lane 0's had ended: its reply is there already.
    assert opened.sockets[0].poll(0)
    assert opened.receive(0) == ["ok", 1, None]
    assert marker.read_text() == "unwound"


def test_a_sync_function_may_run_asyncio_itself(lanes):
    opened = lanes(2)
    opened.send(1, "call", 1, "asyncs", "sync_runs_asyncio", [5], None)
    assert opened.receive(1) == ["ok", 1, 5]


def test_callbacks_from_several_lanes_are_answered_on_each(lanes):
    opened = lanes(3, expose=["lookup"])
    for lane in (1, 2):
        opened.send(lane, "call", 10, "asyncs", "ask_node", ["lookup", lane], None)
    # Each lane's call asks twice, one question at a time; Node answers on the lane it asked on.
    for lane in (1, 2):
        for answer_id, value in ((11, "a"), (12, "b")):
            question = opened.receive(lane)
            assert question[0] == "callback" and question[3] == [lane]
            opened.send(lane, "return", answer_id, f"{value}{lane}")
    assert opened.receive(1) == ["ok", 12, ["a1", "b1"]]
    assert opened.receive(2) == ["ok", 12, ["a2", "b2"]]


def test_a_blocking_callback_holds_the_loop_and_other_lanes_wait(lanes):
    opened = lanes(2, expose=["lookup"])
    opened.send(0, "call", 1, "asyncs", "ask_node_blocking", ["lookup", 1], None)
    assert opened.receive(0)[0] == "callback"
    opened.send(1, "call", 1, "asyncs", "immediate", ["later"], None)
    assert not opened.sockets[1].poll(200)  # lane 0's call holds the loop while Node answers
    opened.send(0, "return", 2, "answer")
    assert opened.receive(0) == ["ok", 2, "answer"]
    assert opened.receive(1) == ["ok", 1, "later"]


def test_stop_on_lane_0_ends_the_worker(fresh_worker, lanes):
    opened = lanes(2)
    opened.send(1, "call", 1, "asyncs", "add", [1, 2], None)
    assert opened.receive(1) == ["ok", 1, 3]
    opened.send(0, "stop", 5)
    assert opened.receive(0) == ["bye", 5]
    assert fresh_worker.wait() == 0


def test_sigterm_cancels_the_running_calls_and_exits_0(fresh_worker, lanes, tmp_path):
    opened = lanes(3)
    markers = [tmp_path / f"m{lane}" for lane in range(3)]
    for lane in range(3):
        opened.send(lane, "call", 1, "asyncs", "sleep_then", [60, str(markers[lane])], None)
    assert wait_until(lambda: all(m.exists() for m in markers), timeout=30)
    fresh_worker.process.send_signal(signal.SIGTERM)
    assert fresh_worker.wait(30) == 0
    assert [m.read_text() for m in markers] == ["cancelled"] * 3


def test_sigterm_during_sync_code_on_the_loop_unwinds_it(fresh_worker, lanes, tmp_path):
    opened = lanes(2)
    marker = tmp_path / "marker"
    opened.send(1, "call", 1, "functions", "sleep_then", [60, str(marker)], None)
    assert wait_until(lambda: marker.exists() and marker.read_text() == "started", timeout=30)
    fresh_worker.process.send_signal(signal.SIGTERM)
    assert fresh_worker.wait(30) == 0
    assert marker.read_text() == "unwound"


def test_a_hello_asking_for_bad_lanes_is_a_protocol_error(fresh_worker):
    for bad in (0, -1, 1.5, "2", 10**9):
        reply = fresh_worker.hello(lanes=bad)
        assert reply[0] == "error" and reply[2]["type"] == "ProtocolError", (bad, reply)
