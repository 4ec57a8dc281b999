"""``async def`` functions and async generators, answered by the handler in-process (outside the
loop, as at ``concurrency: 1``) and by a real worker over its socket: awaited, with the same
replies a sync function's would get."""

import os

import msgpack
import pytest

from piton import conversation
from piton.codec import decode
from piton.protocol import PROTOCOL_VERSION
from piton.handler import Action, Handler
from piton.resolver import Resolver

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


@pytest.fixture(autouse=True)
def fixtures_on_path(monkeypatch):
    monkeypatch.syspath_prepend(FIXTURES)


@pytest.fixture
def handler():
    return Handler(Resolver([FIXTURES]))


@pytest.mark.parametrize("kwargs", [None, {}, {"b": 2}])
def test_a_coroutine_function_is_awaited_on_either_call_path(handler, kwargs):
    expected = 3 if kwargs == {"b": 2} else 1
    assert answer(handler, "call", 1, "asyncs", "add", [1], kwargs) == ["ok", 1, expected]


def test_a_sync_function_returning_a_coroutine_or_a_future_is_awaited(handler):
    assert answer(handler, "call", 1, "asyncs", "returns_coroutine", ["x"], None) == ["ok", 1, "x"]
    # A future needs a running loop to be made: the sync call has none, as anywhere else.
    reply = answer(handler, "call", 2, "asyncs", "returns_future", ["y"], None)
    assert reply[0] == "error" and reply[2]["type"] == "RuntimeError"


def test_an_exception_of_a_coroutine_is_an_error_reply_with_its_traceback(handler):
    reply = answer(handler, "call", 4, "asyncs", "fail", ["boom"], None)
    assert reply[:2] == ["error", 4]
    info = reply[2]
    assert info["type"] == "ValueError" and info["message"] == "boom"
    # The traceback starts at the user's code, as a sync function's does: no worker or asyncio frames.
    frames = [line for line in info["traceback"].splitlines() if line.lstrip().startswith("File ")]
    assert frames and all("asyncs.py" in line for line in frames), info["traceback"]


def test_a_coroutine_that_awaits_its_own_tasks_runs_them_together(handler):
    assert answer(handler, "call", 1, "asyncs", "gather_sleeps", [50, 0.01], None) == ["ok", 1, 50]


def test_the_loop_is_never_the_threads_current_one_so_sync_code_may_run_its_own(handler):
    assert answer(handler, "call", 1, "asyncs", "add", [1], None)[0] == "ok"  # the loop exists now
    assert answer(handler, "call", 2, "asyncs", "sync_runs_asyncio", [7], None) == ["ok", 2, 7]


def test_an_async_generator_is_a_stream_pulled_in_batches(handler, tmp_path):
    marker = tmp_path / "marker"
    assert answer(handler, "stream", 1, "asyncs", "count", [5, str(marker)], None, 2) == ["items", 1, [0, 1], False]
    assert answer(handler, "next", 2, 2) == ["items", 2, [2, 3], False]
    assert answer(handler, "next", 3, 2) == ["items", 3, [4], True]
    assert marker.read_text() == "closed"


def test_closing_an_async_generator_runs_its_finally(handler, tmp_path):
    marker = tmp_path / "marker"
    assert answer(handler, "stream", 1, "asyncs", "count", [100, str(marker)], None, 1)[2] == [0]
    assert answer(handler, "close", 2) == ["closed", 2]
    assert marker.read_text() == "closed"


def test_a_call_closes_an_open_async_stream(handler, tmp_path):
    marker = tmp_path / "marker"
    assert answer(handler, "stream", 1, "asyncs", "count", [100, str(marker)], None, 1)[0] == "items"
    assert answer(handler, "call", 2, "asyncs", "add", [1, 1], None) == ["ok", 2, 2]
    assert marker.read_text() == "closed"


def test_an_async_generator_that_raises_after_items_sends_them_first(handler):
    assert answer(handler, "stream", 1, "asyncs", "count_then_fail", [3], None, 5) == ["items", 1, [0, 1, 2], False]
    reply = answer(handler, "next", 2, 5)
    assert reply[:2] == ["error", 2] and reply[2]["message"] == "failed after 3"


def test_an_async_def_returning_a_list_streams_its_items(handler):
    assert answer(handler, "stream", 1, "asyncs", "numbers_later", [3], None, 10) == ["items", 1, [0, 1, 2], True]


def test_a_batch_awaits_its_coroutines_in_order(handler):
    reply = answer(handler, "batch", 1, [["asyncs", "add", [1, 2], None], ["asyncs", "fail", ["x"], None],
                                         ["asyncs", "immediate", [5], None]])
    assert reply[0] == "results"
    assert reply[2][0] == ["ok", 3] and reply[2][1][0] == "error" and reply[2][2] == ["ok", 5]


class ScriptedNode:
    """Node's side of a conversation: answers each question with the next scripted request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.questions = []

    def __call__(self, frames):
        self.questions.append(decode(frames))
        return [msgpack.packb(self.answers.pop(0))]


@pytest.fixture
def exposing_handler(handler):
    handler.handle([msgpack.packb(["hello", 1, PROTOCOL_VERSION, {"expose": ["lookup"]}])])
    yield handler
    conversation.CURRENT.exchange = None
    conversation.CURRENT.aexchange = None
    conversation.CURRENT.exposed = frozenset()


def test_node_acall_from_a_coroutine_asks_node_in_order(exposing_handler):
    node_side = ScriptedNode(["return", 8, "a"], ["return", 9, "b"])
    conversation.CURRENT.exchange = node_side  # no loop-aware socket here: asked as node.call asks
    assert answer(exposing_handler, "call", 7, "asyncs", "ask_node", ["lookup", 1], None) == ["ok", 9, ["a", "b"]]
    assert [q[:3] for q in node_side.questions] == [["callback", 7, "lookup"], ["callback", 8, "lookup"]]


def test_aprogress_sends_nothing_without_a_listener(handler):
    assert answer(handler, "call", 3, "asyncs", "report", [3], None) == ["ok", 3, 3]


# ------------------------------------------------------------------------- a real worker

import signal  # noqa: E402

from helpers import answer, wait_until  # noqa: E402
from piton.codec import encode  # noqa: E402


def test_a_worker_awaits_coroutines_and_says_which_loop_it_runs(worker):
    assert worker.call("asyncs", "add", 2, 3) == ["ok", worker.next_id - 1, 5]
    name = worker.call("asyncs", "loop_name")[2]
    try:
        import uvloop  # noqa: F401
        expected = "uvloop"
    except ImportError:
        expected = "asyncio"
    assert name == expected


def test_node_acall_over_the_socket_lets_node_answer_each_question(fresh_worker):
    assert fresh_worker.hello(expose=["lookup"])[0] == "ready"
    sock = fresh_worker.socket
    sock.send_multipart(encode(["call", 2, "asyncs", "ask_node", ["lookup", "k"], None]))
    for rid, value in ((3, "first"), (4, "second")):
        assert sock.poll(10_000)
        question = decode(sock.recv_multipart())
        assert question[0] == "callback" and question[2:4] == ["lookup", ["k"]]
        sock.send_multipart(encode(["return", rid, value]))
    assert sock.poll(10_000)
    assert decode(sock.recv_multipart()) == ["ok", 4, ["first", "second"]]


def test_aprogress_over_the_socket(fresh_worker):
    assert fresh_worker.hello()[0] == "ready"
    sock = fresh_worker.socket
    sock.send_multipart(encode(["call", 2, "asyncs", "report", [2], None, {"progress": True}]))
    seen = []
    for rid in (3, 4):
        assert sock.poll(10_000)
        message = decode(sock.recv_multipart())
        assert message[0] == "progress"
        seen.append(message[2])
        sock.send_multipart(encode(["resume", rid]))
    assert sock.poll(10_000)
    assert decode(sock.recv_multipart()) == ["ok", 4, 2]
    assert seen == [0, 1]


def test_sigterm_during_an_async_call_cancels_it_and_exits_0(fresh_worker, tmp_path):
    marker = tmp_path / "marker"
    fresh_worker.socket.send_multipart(encode(["call", 1, "asyncs", "sleep_then", [60, str(marker)], None]))
    assert wait_until(lambda: marker.exists() and marker.read_text() == "started", timeout=30)
    fresh_worker.process.send_signal(signal.SIGTERM)
    assert fresh_worker.wait(30) == 0
    assert marker.read_text() == "cancelled"
