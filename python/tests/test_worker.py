"""The worker process end to end: a real interpreter, a real REP socket, real signals."""

import os
import signal
import sys

import msgpack
import numpy as np
import pytest

import piton
from helpers import FIXTURES, Worker, wait_until
from piton.call_context import MARKER
from piton.codec import decode, encode
from piton.protocol import PROTOCOL_VERSION


# ------------------------------------------------------------------------------ handshake


def test_hello_is_answered_with_ready(fresh_worker):
    kind, _, info = fresh_worker.hello()
    assert kind == "ready"
    assert info == {"pid": fresh_worker.process.pid, "python": sys.version, "protocol": PROTOCOL_VERSION,
                    "piton": piton.__version__, "loop": "uvloop",  # uvloop is in the test environment
                    "control": fresh_worker.endpoint + "-control"}


def test_hello_of_another_version_is_a_protocol_error_and_exit_code_2(fresh_worker):
    kind, _, err = fresh_worker.request("hello", 1)
    assert kind == "error"
    assert err["type"] == "ProtocolError"
    assert "Node speaks 1" in err["message"] and f"speaks {PROTOCOL_VERSION}" in err["message"]
    assert fresh_worker.wait() == 2


# ------------------------------------------------------------------------------------ call


def test_call_returns_ok(worker):
    assert worker.call("functions", "add", 2, 3) == ["ok", worker.next_id - 1, 5]


def test_call_passes_kwargs(worker):
    assert worker.call("functions", "add", 2, b=40)[2] == 42
    assert worker.request("call", "functions", "add", [], {"a": 1, "b": 2})[2] == 3


def test_call_nil_kwargs_means_none(worker):
    assert worker.request("call", "functions", "add", [7], None)[2] == 7


def test_python_exception_is_an_error_reply_and_the_interpreter_stays(worker):
    kind, _, err = worker.call("functions", "fail", "boom")
    assert kind == "error"
    assert err["type"] == "ValueError" and err["message"] == "boom"
    assert 'in fail' in err["traceback"] and "raise ValueError(message)" in err["traceback"]
    assert "piton/handler.py" not in err["traceback"]
    assert worker.call("functions", "pid")[2] == worker.process.pid


def test_user_exception_type_is_qualified(worker):
    assert worker.call("functions", "fail_custom")[2]["type"] == "functions.CustomError"


def test_sys_exit_in_a_call_is_reported_not_obeyed(worker):
    kind, _, err = worker.call("functions", "leave")
    assert (kind, err["type"], err["message"]) == ("error", "SystemExit", "3")
    assert worker.process.poll() is None
    assert worker.call("functions", "add", 1)[2] == 1


def test_wrong_argument_count_is_pythons_own_type_error(worker):
    kind, _, err = worker.call("functions", "add")
    assert (kind, err["type"]) == ("error", "TypeError")
    assert "missing 1 required positional argument" in err["message"]


def test_missing_module_is_module_not_found(worker):
    err = worker.call("no_such_module", "f")[2]
    assert err["type"] == "ModuleNotFoundError" and "no_such_module" in err["message"]


def test_missing_function_is_attribute_error(worker):
    err = worker.call("functions", "nope")[2]
    assert err["type"] == "AttributeError" and "'nope'" in err["message"]


def test_non_callable_attribute_is_type_error(worker):
    err = worker.call("functions", "GREETING")[2]
    assert err["type"] == "TypeError" and "not callable" in err["message"]


@pytest.mark.parametrize("module,function", [("os", "system"), ("builtins", "eval"), ("zmq", "Context"),
                                             ("subprocess", "run")])
def test_modules_outside_the_paths_are_refused(worker, module, function):
    kind, _, err = worker.call(module, function, "true")
    assert (kind, err["type"]) == ("error", "PermissionError")
    assert repr(module) in err["message"]


@pytest.mark.parametrize("module,function", [("functions", "_private"), ("functions", "__class__"),
                                             ("_functions", "f")])
def test_private_names_are_refused(worker, module, function):
    err = worker.call(module, function)[2]
    assert err["type"] == "PermissionError" and "private" in err["message"]


def test_dotted_function_names_are_refused(worker):
    assert worker.call("functions", "np.zeros", 3)[2]["type"] == "AttributeError"


def test_allow_module_and_allow_private_open_what_is_refused_by_default():
    with Worker("--allow-module", "math", "--allow-private") as w:
        assert w.call("math", "sqrt", 16.0)[2] == 4.0
        assert w.call("functions", "_private")[2] == "secret"
        assert w.call("os", "getcwd")[2]["type"] == "PermissionError"


def test_unencodable_result_is_an_encode_error_naming_the_type(worker):
    kind, _, err = worker.call("functions", "returns_set")
    assert (kind, err["type"]) == ("error", "EncodeError")
    assert err["message"] == "cannot encode object of type 'set'"
    assert worker.call("functions", "add", 1, 1)[2] == 2


def test_prints_reach_stdout_line_by_line_while_the_worker_runs():
    with Worker() as w:
        w.call("functions", "print_line", "first line")
        # The call is named first (call_context.py), then its line, not held back in a block buffer.
        assert w.process.stdout.readline().startswith(MARKER.encode())
        assert w.process.stdout.readline() == b"first line\n"


def test_prints_do_not_disturb_the_protocol():
    with Worker() as w:
        assert w.call("functions", "shout", "hi there")[2] == "HI THERE"
        assert w.request("stop")[0] == "bye"
        assert w.wait() == 0
        stdout = w.process.stdout.read().decode().split("\n")
        stderr = w.stderr_text().split("\n")
        for lines in (stdout, stderr):
            assert lines[0].startswith(MARKER) and lines[1:] == ["hi there", ""], lines


# ------------------------------------------------------------------------------------ types


def test_values_round_trip(worker):
    import datetime as dt
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)
    value = {"none": None, "big": 2**100, "neg": -(2**70), "nan?": 1.5, "s": "日本 😀", "b": b"\x00\xff",
             "when": when, "list": [1, [2, 3]], 7: "int key"}
    assert worker.call("functions", "echo", value)[2] == value


def test_arrays_arrive_as_read_only_ndarrays_and_go_back(worker):
    array = np.arange(12, dtype="int32").reshape(3, 4)
    info = worker.call("functions", "describe", array)[2]
    assert info == {"type": "ndarray", "dtype": "int32", "shape": [3, 4], "writeable": False}
    back = worker.call("functions", "echo", array)[2]
    assert back.dtype == np.int32 and np.array_equal(back, array)
    assert np.array_equal(worker.call("functions", "matrix")[2], np.arange(6.0).reshape(2, 3))


def test_large_array_round_trip(worker):
    array = np.random.default_rng(1).random(2_000_000)  # 16 MB: sent without copying
    assert np.array_equal(worker.call("functions", "echo", array)[2], array)


# ---------------------------------------------------------------------------------- streams


def test_stream_pulls_in_batches_until_done(worker):
    assert worker.request("stream", "functions", "count", [5], None, 2)[2:] == [[0, 1], False]
    assert worker.request("next", 2)[2:] == [[2, 3], False]
    assert worker.request("next", 10)[2:] == [[4], True]
    assert worker.request("next", 1)[2]["type"] == "ProtocolError"  # done closed it


def test_close_runs_the_generators_finally(worker, tmp_path):
    marker = str(tmp_path / "marker")
    assert worker.request("stream", "functions", "count", [100], {"marker": marker}, 3)[2] == [0, 1, 2]
    assert not os.path.exists(marker)
    assert worker.request("close")[0] == "closed"
    assert open(marker).read() == "closed"
    assert worker.request("close")[0] == "closed"  # closing again is harmless


def test_a_call_closes_the_open_stream(worker, tmp_path):
    marker = str(tmp_path / "marker")
    worker.request("stream", "functions", "count", [100], {"marker": marker}, 1)
    assert worker.call("functions", "add", 1, 2)[2] == 3
    assert open(marker).read() == "closed"
    assert worker.request("next", 1)[2]["type"] == "ProtocolError"


def test_exception_mid_stream_delivers_items_then_the_error(worker):
    assert worker.request("stream", "functions", "count_then_fail", [3], None, 10)[2:] == [[0, 1, 2], False]
    kind, _, err = worker.request("next", 10)
    assert (kind, err["type"], err["message"]) == ("error", "RuntimeError", "failed after 3")
    assert worker.request("next", 1)[2]["type"] == "ProtocolError"


def test_exception_before_any_item_is_an_error(worker):
    kind, _, err = worker.request("stream", "functions", "count_then_fail", [0], None, 10)
    assert (kind, err["type"]) == ("error", "RuntimeError")


def test_non_iterable_result_is_a_type_error(worker):
    kind, _, err = worker.request("stream", "functions", "add", [1, 2], None, 10)
    assert (kind, err["type"]) == ("error", "TypeError")
    assert "not iterable" in err["message"]


def test_stream_item_that_cannot_be_encoded_closes_the_stream(worker, tmp_path):
    marker = tmp_path / "marker"
    assert worker.request("stream", "functions", "yields_a_set", [str(marker)], None, 1)[2:] == [[1], False]
    kind, _, err = worker.request("next", 1)
    assert (kind, err["type"], err["message"]) == ("error", "EncodeError", "cannot encode object of type 'set'")
    assert marker.read_text() == "closed"
    assert worker.request("next", 1)[2]["type"] == "ProtocolError"


def test_stream_items_that_fit_alone_are_never_refused_together():
    # 600-byte items under a 1000-byte limit: a reply ends once it reaches the limit, with fewer
    # items than asked for; the others come with the next pull.
    with Worker("--max-message-size", "1000") as w:
        assert w.request("stream", "functions", "chunks", [600, 5], None, 5)[2:] == [[b"x" * 600] * 2, False]
        assert w.request("next", 5)[2:] == [[b"x" * 600] * 2, False]
        assert w.request("next", 5)[2:] == [[b"x" * 600], True]


def test_stream_item_over_the_size_limit_alone_is_message_too_large_after_the_items_before_it():
    with Worker("--max-message-size", "1000") as w:
        assert w.request("stream", "functions", "chunks", [2000, 5], None, 1)[2]["type"] == "MessageTooLarge"
        assert w.request("next", 1)[2]["type"] == "ProtocolError"  # the stream is closed


def test_stream_items_are_taken_when_yielded_whatever_the_batch(worker):
    # The generator refills one buffer: each item is the buffer as it was when yielded.
    for batch in (1, 2, 3):
        items, done = [], False
        reply = worker.request("stream", "functions", "refills", [3], None, batch)
        while True:
            items.extend(item.tolist() for item in reply[2])
            if reply[3]:
                break
            reply = worker.request("next", batch)
        assert items == [[0.0] * 3, [1.0] * 3, [2.0] * 3], f"batch {batch}"


# ---------------------------------------------------------------------------------- batches


def test_batch_calls_are_independent(worker):
    kind, _, entries = worker.request("batch", [
        ["functions", "add", [1, 2], None],
        ["functions", "fail", ["bad"], None],
        ["functions", "returns_set", [], None],
        ["functions", "add", [], {"a": 5, "b": 5}],
    ])
    assert kind == "results"
    assert entries[0] == ["ok", 3]
    assert entries[1][0] == "error" and entries[1][1]["type"] == "ValueError"
    assert entries[2][0] == "error" and entries[2][1]["message"] == "cannot encode object of type 'set'"
    assert entries[3] == ["ok", 10]


def test_batch_results_are_taken_when_each_call_returns(worker):
    # Both calls return the same module-level array, refilled by the second call.
    kind, _, entries = worker.request("batch", [["functions", "refill", [1], None], ["functions", "refill", [2], None]])
    assert kind == "results"
    assert [entry[1].tolist() for entry in entries] == [[1.0] * 3, [2.0] * 3]


def test_batch_results_that_fit_alone_end_the_batch_early_instead_of_failing_it():
    with Worker("--max-message-size", "1000") as w:
        kind, _, entries = w.request("batch", [["functions", "big", [400], None]] * 5 + [["functions", "add", [1, 1], None]])
        # 3 results of ~400 bytes reach the limit: the other calls did not run (Node sends them again).
        assert kind == "results"
        assert entries == [["ok", b"x" * 400]] * 3


def test_a_batch_result_over_the_size_limit_alone_fails_only_its_call():
    with Worker("--max-message-size", "1000") as w:
        kind, _, entries = w.request("batch", [
            ["functions", "add", [1, 2], None],
            ["functions", "big", [5000], None],
            ["functions", "add", [3, 4], None],
        ])
        assert kind == "results"
        assert entries[0] == ["ok", 3] and entries[2] == ["ok", 7]
        assert entries[1][0] == "error" and entries[1][1]["type"] == "MessageTooLarge"


# ------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("frames", [
    [b"\xc1"],                                   # never-used MessagePack byte
    [b"\x93\xa4call"],                           # truncated
    [msgpack.packb({"kind": "call"})],           # not an array
    [msgpack.packb(["dance", 5])],               # unknown kind
    [msgpack.packb(["call", 5, "functions", "add", "notalist", None])],
    [msgpack.packb(["call", 5, "functions", "add", [1], {1: 2}])],
    [msgpack.packb(["call", -1, "functions", "add", [1], None])],
    [msgpack.packb(["stream", 5, "functions", "count", [1], None, 0])],
    [msgpack.packb(["call", 5, "functions", "echo", [msgpack.ExtType(1, msgpack.packb(["float64", [1], 1]))], None])],
    [msgpack.packb(["call", 5, "functions", "echo", [msgpack.ExtType(9, b"x")], None])],
    [b"\x92\xa4stop\x05trailing"],
    [b""],
])
def test_malformed_requests_get_a_protocol_error_and_the_worker_keeps_serving(worker, frames):
    reply = decode(worker.send_frames(frames))
    assert reply[0] == "error" and reply[2]["type"] == "ProtocolError", reply
    assert reply[1] in (0, 5)
    assert worker.call("functions", "add", 1, 1)[2] == 2


def test_protocol_error_names_the_field(worker):
    reply = decode(worker.send_frames([msgpack.packb(["call", 5, "functions", 3, [], None])]))
    assert reply[1] == 5 and "'function'" in reply[2]["message"]


def test_oversized_request_and_reply_are_message_too_large():
    with Worker("--max-message-size", "1000") as w:
        kind, _, err = w.call("functions", "echo", b"x" * 2000)
        assert (kind, err["type"]) == ("error", "MessageTooLarge")
        assert "1000" in err["message"]
        kind, _, err = w.call("functions", "big", 5000)
        assert (kind, err["type"]) == ("error", "MessageTooLarge")
        assert w.call("functions", "big", 10)[2] == b"x" * 10


# ---------------------------------------------------------------------------------- stopping


def test_stop_says_bye_and_exits_0(fresh_worker):
    assert fresh_worker.request("stop")[0] == "bye"
    assert fresh_worker.wait() == 0


def test_sigterm_while_idle_exits_0(fresh_worker):
    assert fresh_worker.hello()[0] == "ready"
    fresh_worker.process.send_signal(signal.SIGTERM)
    assert fresh_worker.wait() == 0


def test_sigterm_during_a_call_unwinds_it_and_exits_0(fresh_worker, tmp_path):
    marker = tmp_path / "marker"
    fresh_worker.socket.send_multipart(encode(["call", 1, "functions", "sleep_then", [60, str(marker)], None]))
    assert wait_until(lambda: marker.exists() and marker.read_text() == "started")
    fresh_worker.process.send_signal(signal.SIGTERM)
    assert fresh_worker.wait() == 0
    assert marker.read_text() == "unwound"


def test_sigterm_taken_by_another_thread_still_stops_an_idle_worker(fresh_worker, tmp_path):
    go = tmp_path / "go"
    assert fresh_worker.call("functions", "sigterm_from_a_thread", str(go))[2] is True
    go.write_text("go")  # the worker is back waiting for requests
    assert fresh_worker.wait() == 0


def test_sigint_is_ignored(fresh_worker):
    assert fresh_worker.hello()[0] == "ready"  # serving: the handlers are in place
    fresh_worker.process.send_signal(signal.SIGINT)
    assert fresh_worker.call("functions", "add", 1, 2)[2] == 3


def test_unbindable_endpoint_exits_1():
    with Worker("--endpoint", "ipc:///nonexistent-dir/x/y.sock") as w:
        assert w.wait() == 1
        assert "nonexistent-dir" in w.stderr_text()
