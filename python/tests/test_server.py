"""The serve loop blocks in the socket's receive; SIGTERM still stops the worker wherever the
kernel delivers it, and leaves nothing on stderr."""

import signal

from helpers import Worker, wait_until

from piton.codec import encode


def test_sigterm_while_idle_exits_0_quietly():
    with Worker() as w:
        assert w.hello()[0] == "ready"
        w.process.send_signal(signal.SIGTERM)
        assert w.wait() == 0
        assert w.stderr_text() == ""


def test_sigterm_taken_by_another_thread_during_a_blocking_call_unwinds_it(tmp_path):
    # The call sleeps in C (time.sleep) in the main thread; the SIGTERM goes to another thread.
    go, marker = tmp_path / "go", tmp_path / "marker"
    with Worker() as w:
        assert w.call("functions", "sigterm_from_a_thread", str(go))[2] is True
        w.socket.send_multipart(encode(["call", 2, "functions", "sleep_then", [60, str(marker)], None]))
        assert wait_until(lambda: marker.exists() and marker.read_text() == "started")
        go.write_text("go")
        assert w.wait() == 0
        assert marker.read_text() == "unwound"
        assert w.stderr_text() == ""


def test_many_calls_then_sigterm_from_another_thread_while_idle(tmp_path):
    go = tmp_path / "go"
    with Worker() as w:
        for i in range(200):
            assert w.call("functions", "add", i, 1)[2] == i + 1
        assert w.call("functions", "sigterm_from_a_thread", str(go))[2] is True
        go.write_text("go")
        assert w.wait() == 0
