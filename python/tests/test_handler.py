"""The handler in-process: the plain-call fast path answers exactly as the general path does, and
the resolver's memory of checked names never lets a refused name through."""

import os
import re
import sys
import types

import msgpack
import pytest

from piton.codec import decode
from piton.resolver import Resolver
from piton.handler import Action, Handler
from helpers import answer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


@pytest.fixture(autouse=True)
def fixtures_on_path(monkeypatch):
    monkeypatch.syspath_prepend(FIXTURES)  # as the worker does with --path


@pytest.fixture
def handler():
    return Handler(Resolver([FIXTURES]))


@pytest.mark.parametrize("kwargs", [None, {}])
def test_a_plain_call_and_one_with_empty_kwargs_get_the_same_answer(handler, kwargs):
    assert answer(handler, "call", 7, "functions", "add", [1, 2], kwargs) == ["ok", 7, 3]


@pytest.mark.parametrize(
    "envelope, field",
    [
        (["call", 1, "functions", "add", "12", None], "'args' must be an array"),
        (["call", 1, 5, "add", [], None], "'module' must be a string"),
        (["call", 1, "functions", None, [], None], "'function' must be a string"),
        (["call", -1, "functions", "add", [1, 2], None], "request id must be an unsigned integer"),
        (["call", True, "functions", "add", [1, 2], None], "request id must be an unsigned integer"),
    ],
)
def test_malformed_calls_still_get_the_general_paths_protocol_errors(handler, envelope, field):
    reply = answer(handler, *envelope)
    assert reply[0] == "error" and reply[2]["type"] == "ProtocolError"
    assert field in reply[2]["message"]


def test_errors_of_a_plain_call_are_error_replies_with_its_id(handler):
    reply = answer(handler, "call", 9, "functions", "fail", ["boom"], None)
    assert reply[0] == "error" and reply[1] == 9 and reply[2]["message"] == "boom"
    reply = answer(handler, "call", 10, "functions", "returns_set", [], None)
    assert reply[0] == "error" and reply[1] == 10 and reply[2]["type"] == "EncodeError"


def test_a_plain_calls_reply_over_the_size_limit_is_message_too_large():
    small = Handler(Resolver([FIXTURES]), max_message_size=64)
    reply = answer(small, "call", 3, "functions", "echo", ["x" * 100], None)
    assert reply[0] == "error" and reply[1] == 3 and reply[2]["type"] == "MessageTooLarge"
    # Node reads the size and the limit from these forms (PROTOCOL.md, "Size limits").
    assert re.fullmatch(r"request of \d+ bytes exceeds the worker's maximum message size of 64 bytes", reply[2]["message"])
    result = answer(small, "call", 4, "functions", "big", [100], None)
    assert result[0] == "error" and result[2]["type"] == "MessageTooLarge"
    assert re.fullmatch(r"reply of \d+ bytes exceeds the worker's maximum message size of 64 bytes", result[2]["message"])


def test_a_plain_call_closes_the_open_stream(handler, tmp_path):
    marker = tmp_path / "marker"
    assert answer(handler, "stream", 1, "functions", "count", [5, str(marker)], None, 1)[0] == "items"
    assert answer(handler, "call", 2, "functions", "add", [1, 1], None) == ["ok", 2, 2]
    assert marker.read_text() == "closed"


def test_a_function_the_module_rebinds_is_the_one_called():
    module = types.ModuleType("rebinding")
    module.__file__ = os.path.join(FIXTURES, "rebinding.py")
    exec('f = lambda: "first"\nsecond = lambda: "second"', module.__dict__)  # defined in the module
    sys.modules["rebinding"] = module
    try:
        resolver = Resolver([FIXTURES])
        assert resolver.resolve("rebinding", "f")() == "first"
        module.f = module.second
        assert resolver.resolve("rebinding", "f")() == "second"
        module.f = 42
        with pytest.raises(TypeError, match="not callable"):
            resolver.resolve("rebinding", "f")
        del module.f
        with pytest.raises(AttributeError, match="has no function 'f'"):
            resolver.resolve("rebinding", "f")
    finally:
        del sys.modules["rebinding"]


def test_a_resolved_name_does_not_open_other_names_of_its_module():
    resolver = Resolver([FIXTURES])
    assert resolver.resolve("functions", "add")(1, 2) == 3
    for _ in range(2):  # refused the first time and every time after
        with pytest.raises(PermissionError, match="private"):
            resolver.resolve("functions", "_private")
        with pytest.raises(AttributeError, match="not a function name"):
            resolver.resolve("functions", "add.__globals__")
