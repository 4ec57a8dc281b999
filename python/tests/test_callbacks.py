"""Calling back into Node and reporting progress (PROTOCOL.md, "Calling back into Node").

The messages against the shared vectors; the handler in-process with a scripted Node; a real
worker over a real socket, with this test playing Node's part of the conversation."""

import json
import os

import msgpack
import pytest

from helpers import Worker, answer
from piton import conversation, node, progress
from piton import protocol as p
from piton.codec import decode, encode
from piton.resolver import Resolver
from piton.errors import NodeError, NotExposedError, ProtocolError
from piton.handler import Action, Handler

TESTS = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(TESTS, "fixtures")
with open(os.path.join(os.path.dirname(os.path.dirname(TESTS)), "protocol", "vectors.json"), encoding="utf-8") as f:
    VECTORS = {c["name"]: c for c in json.load(f)["cases"]}


def vector(name):
    return decode([bytes.fromhex(h) for h in VECTORS[name]["frames"]])


def hexes(frames):
    return [bytes(memoryview(f).cast("B")).hex() for f in frames]


# ------------------------------------------------------------------------------ the messages


def test_the_requests_parse_as_the_vectors_say():
    assert p.parse_request(vector("envelope hello with exposed functions")) == p.Hello(1, 3, ("lookup", "flag"), 1)
    assert p.parse_request(vector("envelope hello")) == p.Hello(1, 3, (), 1)
    assert p.parse_request(vector("envelope hello with lanes")) == p.Hello(1, 3, (), 4)
    call = p.parse_request(vector("envelope call listening for progress"))
    assert call == p.Call(12, "jobs", "train", [3], {}, True, None, False)
    assert p.parse_request(vector("envelope call")).progress is False
    assert p.parse_request(vector("envelope return")) == p.Return(13, {"name": "Ada"})
    thrown = p.parse_request(vector("envelope throw"))
    assert (thrown.id, thrown.name, thrown.message) == (14, "TypeError", "key must be a string")
    assert thrown.stack.startswith("TypeError: key must be a string\n    at lookup")
    assert p.parse_request(vector("envelope resume")) == p.Resume(15)


def test_the_worker_writes_the_vectors_bytes():
    assert hexes(encode(p.callback(12, "lookup", ["user:1"], {}))) == VECTORS["envelope callback"]["frames"]
    assert hexes(encode(p.callback(12, "find", ["x"], {"limit": 3}))) == VECTORS["envelope callback with kwargs"]["frames"]
    assert hexes(encode(p.progress(14, 0.25))) == VECTORS["envelope progress"]["frames"]


@pytest.mark.parametrize(
    "envelope, says",
    [
        (["throw", 3, "boom"], "'throw' field 'error' must be a map"),
        (["throw", 3, {"name": 1, "message": "m"}], "'throw' field 'error' must be a map"),
        (["return", 3], "'return' must be"),
        (["resume", 3, None], "'resume' must be"),
        (["hello", 1, 2, {"expose": "lookup"}], "'expose' must be an array of strings"),
        (["hello", 1, 2, [1]], "'hello' options must be a map or nil"),
        (["call", 1, "m", "f", [], None, "progress"], "'call' options must be a map or nil"),
        (["call", 1, "m", "f", [], None, None, None], "'call' must be"),
    ],
)
def test_malformed_new_messages_are_protocol_errors_naming_the_field(envelope, says):
    with pytest.raises(ProtocolError, match=says):
        p.parse_request(envelope)


# ------------------------------------------------------------------------- in-process handler


class ScriptedNode:
    """Plays Node for an in-process handler: records each question, answers from a script."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked = []

    def __call__(self, frames):
        self.asked.append(decode(frames))
        return [msgpack.packb(self.answers.pop(0))]


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.syspath_prepend(FIXTURES)
    handler = Handler(Resolver([FIXTURES]))
    handler.handle([msgpack.packb(["hello", 1, p.PROTOCOL_VERSION, {"expose": ["lookup", "double"]}])])
    yield handler
    conversation.CURRENT.exchange = None
    conversation.CURRENT.exposed = frozenset()


def test_a_callback_is_the_calls_reply_and_the_result_answers_the_latest_request(handler):
    node_side = ScriptedNode(["return", 8, "one"], ["return", 9, "two"])
    conversation.CURRENT.exchange = node_side
    assert answer(handler, "call", 7, "callbacks", "ask_twice", ["lookup"], None) == ["ok", 9, ["one", "two"]]
    assert node_side.asked == [["callback", 7, "lookup", [1], None], ["callback", 8, "lookup", [2], None]]


def test_kwargs_travel_as_a_map_and_a_throw_raises_node_error(handler):
    node_side = ScriptedNode(["throw", 8, {"name": "RangeError", "message": "too far", "stack": "RangeError: too far"}])
    conversation.CURRENT.exchange = node_side
    reply = answer(handler, "call", 7, "callbacks", "ask", ["lookup", "k"], {"limit": 2})
    assert node_side.asked == [["callback", 7, "lookup", ["k"], {"limit": 2}]]
    assert reply[0] == "error" and reply[1] == 8
    assert reply[2]["type"] == "NodeError" and reply[2]["message"] == "RangeError: too far"


def test_a_name_not_exposed_raises_at_once_naming_it_and_nothing_is_sent(handler):
    node_side = ScriptedNode()
    conversation.CURRENT.exchange = node_side
    caught = answer(handler, "call", 7, "callbacks", "ask_and_catch", ["nope"], None)[2]
    assert caught["type"] == "NotExposedError"
    assert "'nope'" in caught["str"] and "double, lookup" in caught["str"]
    assert node_side.asked == []
    assert issubclass(NotExposedError, LookupError)


def test_progress_is_sent_only_when_the_call_says_someone_listens(handler):
    node_side = ScriptedNode(*[["resume", 8 + i] for i in range(3)])
    conversation.CURRENT.exchange = node_side
    assert answer(handler, "call", 7, "callbacks", "count", [3], None) == ["ok", 7, 3]
    assert node_side.asked == []
    assert answer(handler, "call", 7, "callbacks", "count", [3], None, {"progress": True}) == ["ok", 10, 3]
    assert node_side.asked == [["progress", 7, 0], ["progress", 8, 1], ["progress", 9, 2]]
    # The next call does not inherit the listener.
    assert answer(handler, "call", 11, "callbacks", "count", [2], None) == ["ok", 11, 2]
    assert len(node_side.asked) == 3


def test_a_batch_and_a_stream_may_call_back_too(handler):
    conversation.CURRENT.exchange = ScriptedNode(["return", 8, 10], ["return", 9, 20])
    reply = answer(handler, "batch", 7, [["callbacks", "ask", ["lookup", 1], None], ["callbacks", "ask", ["lookup", 2], None]])
    assert reply == ["results", 9, [["ok", 10], ["ok", 20]]]
    conversation.CURRENT.exchange = ScriptedNode(["return", 21, 0], ["return", 22, 2])
    assert answer(handler, "stream", 20, "callbacks", "numbers", [5], None, 2) == ["items", 22, [0, 2], False]


def test_an_answer_outside_a_conversation_is_a_protocol_error(handler):
    for envelope in (["return", 5, 1], ["resume", 6]):
        reply = answer(handler, *envelope)
        assert reply[0] == "error" and reply[1] == envelope[1] and reply[2]["type"] == "ProtocolError"


def test_a_wrong_answer_raises_protocol_error_in_the_users_code_and_the_error_answers_it(handler):
    conversation.CURRENT.exchange = ScriptedNode(["resume", 8])
    reply = answer(handler, "call", 7, "callbacks", "ask", ["lookup"], None)
    assert reply[0] == "error" and reply[1] == 8 and reply[2]["type"] == "ProtocolError"
    assert "'resume', not 'return' or 'throw'" in reply[2]["message"]


def test_outside_a_call_node_call_raises_and_progress_returns():
    with pytest.raises(RuntimeError, match="only while the worker runs a call"):
        node.call("lookup")
    assert progress(0.5) is None


def test_node_error_carries_the_javascript_name_message_and_stack():
    exc = NodeError("key must be a string", "TypeError", "TypeError: key must be a string\n    at f")
    assert (exc.name, exc.message, str(exc)) == ("TypeError", "key must be a string", "TypeError: key must be a string")
    assert exc.stack.endswith("at f")


# --------------------------------------------------------------------------- a real worker


@pytest.fixture
def talking_worker():
    with Worker() as w:
        assert w.hello(expose=["lookup", "double"])[0] == "ready"
        yield w


def test_a_real_worker_calls_back_over_its_socket(talking_worker):
    w = talking_worker
    first = w.call("callbacks", "ask_twice", "lookup")
    assert first[0] == "callback" and first[2:] == ["lookup", [1], None]
    second = w.request("return", "one")
    assert second[0] == "callback" and second[2:] == ["lookup", [2], None]
    assert w.request("return", "two")[::2] == ["ok", ["one", "two"]]
    # Still serving, in step.
    assert w.call("functions", "add", 1, 2)[::2] == ["ok", 3]


def test_a_real_worker_reports_progress_and_learns_the_names_from_the_handshake(talking_worker):
    w = talking_worker
    assert w.call("callbacks", "exposed")[::2] == ["ok", ["double", "lookup"]]
    reply = w.request("call", "callbacks", "count", [2], None, {"progress": True})
    assert reply[0] == "progress" and reply[2] == 0
    assert w.request("resume")[::2] == ["progress", 1]
    assert w.request("resume")[::2] == ["ok", 2]


def test_only_the_thread_that_runs_the_call_may_talk_to_node(talking_worker):
    w = talking_worker
    caught = w.call("callbacks", "from_a_thread", "call")[2]
    assert len(caught) == 1 and "RuntimeError" in caught[0] and "thread" in caught[0]
    reply = w.request("call", "callbacks", "from_a_thread", ["progress"], None, {"progress": True})
    assert reply[0] == "ok" and "RuntimeError" in reply[2][0]
