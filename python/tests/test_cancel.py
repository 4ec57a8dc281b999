"""The control lane (PROTOCOL.md, "Cancelling"): a cancel is answered at once, from its own thread,
whatever the lanes run: a running task is cancelled (its finally runs, the lane replies with
CancelledError and serves on), sync code is reported as blocked, a request not yet arrived is
answered without running, one already answered is done."""

import msgpack
import pytest
import zmq

from helpers import REPLY_TIMEOUT_MS, Worker, wait_until
from piton.codec import decode, encode
from test_lanes import Lanes


class Control:
    def __init__(self, worker, endpoint):
        self.socket = worker.client.context.socket(zmq.REQ)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.next_id = 1

    def ask(self, *envelope):
        self.socket.send(msgpack.packb(list(envelope)))
        assert self.socket.poll(REPLY_TIMEOUT_MS), "no answer on the control lane"
        return msgpack.unpackb(self.socket.recv(), raw=False)

    def cancel(self, *entries):
        rid = self.next_id
        self.next_id += 1
        reply = self.ask("cancel", rid, [list(e) for e in entries])
        assert reply[:2] == ["cancelled", rid], reply
        return reply[2]

    def close(self):
        self.socket.close(linger=0)


@pytest.fixture(params=["uvloop", "asyncio"])
def worker(request):
    """A worker of its own, with uvloop or (its import blocked) asyncio's loop."""
    with Worker(*(["--preload", "no_uvloop"] if request.param == "asyncio" else [])) as w:
        yield w


@pytest.fixture
def opened(worker):
    """Three lanes and the control lane."""
    lanes = Lanes(worker, 3, expose=["lookup"])
    control = Control(worker, lanes.ready[2]["control"])
    yield lanes, control
    control.close()
    lanes.close()


def test_ready_names_the_control_lane_at_any_concurrency(worker):
    ready = worker.hello()
    assert ready[2]["control"] == worker.endpoint + "-control"


def test_cancelling_a_task_runs_its_finally_and_the_lane_serves_on(opened, tmp_path):
    lanes, control = opened
    markers = [tmp_path / f"m{i}" for i in range(3)]
    for lane in range(3):
        lanes.send(lane, "call", 5, "asyncs", "sleep_then", [60 if lane == 1 else 0.3, str(markers[lane])], None)
    assert wait_until(lambda: markers[1].exists())
    assert control.cancel([1, 5]) == ["cancelled"]
    reply = lanes.receive(1)
    assert reply[:2] == ["error", 5] and reply[2]["type"] == "asyncio.exceptions.CancelledError"
    assert markers[1].read_text() == "cancelled"
    # The other calls went on and ended as they would have.
    assert lanes.receive(0) == ["ok", 5, 0.3] and lanes.receive(2) == ["ok", 5, 0.3]
    lanes.send(1, "call", 6, "asyncs", "add", [1, 2], None)
    assert lanes.receive(1) == ["ok", 6, 3]
    assert control.cancel([1, 6]) == ["done"]


def test_sync_code_is_reported_blocked(opened, tmp_path):
    lanes, control = opened
    marker = tmp_path / "marker"
    lanes.send(2, "call", 1, "functions", "sleep_then", [0.5, str(marker)], None)
    assert wait_until(lambda: marker.exists())
    assert control.cancel([2, 1]) == ["blocked"]
    assert lanes.receive(2) == ["ok", 1, None]  # nothing interrupted it


def test_a_request_cancelled_before_it_arrives_never_runs(opened, tmp_path):
    lanes, control = opened
    marker = tmp_path / "marker"
    assert control.cancel([1, 9]) == ["cancelled"]
    lanes.send(1, "call", 9, "asyncs", "sleep_then", [60, str(marker)], None)
    reply = lanes.receive(1)
    assert reply[:2] == ["error", 9] and "CancelledError" in reply[2]["type"]
    assert not marker.exists()
    lanes.send(1, "call", 10, "asyncs", "add", [2, 2], None)
    assert lanes.receive(1) == ["ok", 10, 4]


def test_one_cancel_request_names_several_lanes(opened, tmp_path):
    lanes, control = opened
    markers = [tmp_path / f"m{i}" for i in range(3)]
    for lane in range(3):
        lanes.send(lane, "call", 3, "asyncs", "sleep_then", [60, str(markers[lane])], None)
    assert wait_until(lambda: all(m.exists() for m in markers))
    assert control.cancel([0, 3], [2, 3], [1, 2]) == ["cancelled", "cancelled", "done"]
    assert lanes.receive(0)[0] == "error" and lanes.receive(2)[0] == "error"
    assert control.cancel([1, 3]) == ["cancelled"]
    assert lanes.receive(1)[0] == "error"
    assert [m.read_text() for m in markers] == ["cancelled"] * 3


def test_a_cancelled_async_pull_closes_its_stream(opened, tmp_path):
    lanes, control = opened
    marker = tmp_path / "marker"
    lanes.send(1, "stream", 1, "asyncs", "count_slowly", [100, 60, str(marker)], None, 1)
    assert lanes.receive(1) == ["items", 1, [0], False]
    lanes.send(1, "next", 2, 1)  # the generator now sleeps 60 s before its next item
    assert wait_until(lambda: marker.exists() and marker.read_text() == "sleeping")
    assert control.cancel([1, 2]) == ["cancelled"]
    reply = lanes.receive(1)
    assert reply[:2] == ["error", 2] and "CancelledError" in reply[2]["type"]
    assert marker.read_text() == "closed"
    lanes.send(1, "next", 3, 1)
    assert lanes.receive(1)[2]["message"] == "'next' without an open stream"


def test_a_call_cancelled_while_node_answers_it_replies_after_the_answer(opened):
    """REQ/REP holds: the question's answer is read before the lane replies, and the reply carries its id."""
    lanes, control = opened
    lanes.send(1, "call", 4, "asyncs", "ask_node", ["lookup", "k"], None)
    assert lanes.receive(1)[0] == "callback"
    assert control.cancel([1, 4]) == ["cancelled"]
    assert not lanes.sockets[1].poll(200)  # no reply before Node's answer: the lane owes that first
    lanes.send(1, "return", 5, "late")
    reply = lanes.receive(1)
    assert reply[:2] == ["error", 5] and "CancelledError" in reply[2]["type"]


def test_cancelling_an_async_call_at_concurrency_1(worker, tmp_path):
    ready = worker.hello()
    control = Control(worker, ready[2]["control"])
    marker = tmp_path / "marker"
    try:
        worker.socket.send_multipart(encode(["call", 2, "asyncs", "sleep_then", [60, str(marker)], None]))
        assert wait_until(lambda: marker.exists())
        assert control.cancel([0, 2]) == ["cancelled"]
        assert worker.socket.poll(REPLY_TIMEOUT_MS)
        reply = decode(worker.socket.recv_multipart())
        assert reply[:2] == ["error", 2] and "CancelledError" in reply[2]["type"]
        assert marker.read_text() == "cancelled"
        assert worker.call("asyncs", "add", 1, 1)[2] == 2
    finally:
        control.close()


@pytest.mark.parametrize("request_", [["stop", 1], ["cancel", 1, "lane"], ["cancel", 1, [[0]]], "nonsense"])
def test_a_malformed_control_request_is_an_error_reply(opened, request_):
    _, control = opened
    reply = control.ask(*request_) if isinstance(request_, list) else control.ask(request_)
    assert reply[0] == "error" and reply[2]["type"] == "ProtocolError"
