"""The fork server, talked to over its real control channel: forks, exits, output, lifetimes."""

import base64
import os
import signal

from piton.call_context import MARKER

from helpers import Client, ForkServer, wait_until, gone




def _stat(pid: int) -> "tuple[int, int]":
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return int(fields[1]), int(fields[2])  # ppid, pgid


def test_forks_an_interpreter_that_serves_in_its_own_process_group():
    with ForkServer("--preload", "preloaded") as server:
        assert server.ready["threads"] == []
        pid, endpoint = server.fork()
        assert _stat(pid) == (server.process.pid, pid)
        client = Client(endpoint)
        try:
            assert client.hello()[0] == "ready"
            assert client.call("functions", "add", 2, 3) == ["ok", 2, 5]
        finally:
            client.close()


def test_a_fork_sets_its_own_environment_before_it_serves_and_leaves_the_servers():
    os.environ["PITON_TEST_GONE"] = "server's"
    try:
        with ForkServer("--allow-module", "os") as server:
            pid, endpoint = server.fork("w1", env={"PITON_TEST_SLOT": "slot-1", "PITON_TEST_GONE": None})
            other, other_endpoint = server.fork("w2")
            clients = [Client(endpoint), Client(other_endpoint)]
            try:
                for client in clients:
                    client.hello()
                assert clients[0].call("os", "getenv", "PITON_TEST_SLOT") == ["ok", 2, "slot-1"]
                assert clients[0].call("os", "getenv", "PITON_TEST_GONE") == ["ok", 3, None]
                # Another fork, and so the server, keeps the pool's environment.
                assert clients[1].call("os", "getenv", "PITON_TEST_SLOT") == ["ok", 2, None]
                assert clients[1].call("os", "getenv", "PITON_TEST_GONE") == ["ok", 3, "server's"]
            finally:
                for client in clients:
                    client.close()
    finally:
        del os.environ["PITON_TEST_GONE"]


def test_reports_exits_with_their_code_or_signal():
    with ForkServer() as server:
        pid, endpoint = server.fork("w1")
        client = Client(endpoint)
        try:
            client.request("hello", 999)  # a version this runtime does not speak: exit code 2
            assert server.expect("exit", pid=pid) == {"op": "exit", "pid": pid, "code": 2, "signal": None}
        finally:
            client.close()
        pid2, _ = server.fork("w2")
        server.send(op="signal", pid=pid2, signal="SIGKILL")
        assert server.expect("exit", pid=pid2)["signal"] == "SIGKILL"
        server.expect("closed", pid=pid2)


def test_relays_each_interpreters_output_tagged_with_its_pid():
    with ForkServer() as server:
        pid, endpoint = server.fork()
        client = Client(endpoint)
        try:
            client.hello()
            assert client.call("functions", "shout", "hi") == ["ok", 2, "HI"]
            streams = {"stdout": b"", "stderr": b""}
            while not all(data.count(b"\n") >= 2 for data in streams.values()):
                message = server.expect("output", pid=pid)
                streams[message["stream"]] += base64.b64decode(message["data"])
            # Each stream names the call first (call_context.py), then carries its line.
            lines = {name: data.decode().split("\n")[:-1] for name, data in streams.items()}
            for name in ("stdout", "stderr"):
                assert lines[name][0].startswith(MARKER) and lines[name][1:] == ["hi"], lines
        finally:
            client.close()


def test_names_the_threads_a_preload_left_running():
    with ForkServer("--preload", "starts_thread") as server:
        assert server.ready["threads"] == ["preload-ticker"]


def test_when_the_pool_closes_the_channel_the_server_kills_its_interpreters_and_exits_0():
    server = ForkServer()
    pid, _ = server.fork()
    server.control.shutdown(__import__("socket").SHUT_WR)
    assert server.process.wait(5) == 0
    assert wait_until(lambda: gone(pid), 2)
    server.close()


def test_interpreters_die_with_their_server():
    server = ForkServer()
    try:
        pid, _ = server.fork()
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(5)
        assert wait_until(lambda: gone(pid), 2), "the forked interpreter outlived its server"
    finally:
        server.close()


def _children(pid: int) -> "set[int]":
    """The live children of ``pid`` (zombies not counted)."""
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found.update(int(p) for p in f.read().split())
    return {p for p in found if not gone(p)}


def _spare(server: ForkServer, known: "set[int]") -> int:
    """The server's spare: its one live child that is not among ``known`` (the interpreters given out)."""
    found: "list[int]" = []

    def one() -> bool:
        found[:] = sorted(_children(server.process.pid) - known)
        return len(found) == 1
    assert wait_until(one, 10), f"no spare beside {known}: {found}"
    return found[0]


def test_the_next_fork_is_given_to_the_spare_with_its_own_environment_and_output():
    with ForkServer("--allow-module", "os") as server:
        spare = _spare(server, set())
        # It leads its own group (set by the server and by the child, whichever runs first).
        assert wait_until(lambda: _stat(spare) == (server.process.pid, spare), 5)
        pid, endpoint = server.fork("w1", env={"PITON_TEST_SLOT": "slot-1"})
        assert pid == spare
        client = Client(endpoint)
        try:
            assert client.hello()[0] == "ready"
            assert client.call("os", "getenv", "PITON_TEST_SLOT") == ["ok", 2, "slot-1"]
            assert client.call("functions", "shout", "hi") == ["ok", 3, "HI"]
            assert server.expect("output", pid=pid)["stream"] in ("stdout", "stderr")
        finally:
            client.close()
        # Another spare follows, for the next fork; the server's own environment is unchanged.
        second = _spare(server, {pid})
        assert second != pid
        other, other_endpoint = server.fork("w2")
        assert other == second
        client = Client(other_endpoint)
        try:
            client.hello()
            assert client.call("os", "getenv", "PITON_TEST_SLOT") == ["ok", 2, None]
        finally:
            client.close()


def test_a_spare_that_dies_unused_is_never_reported_and_another_takes_its_place():
    with ForkServer() as server:
        first = _spare(server, set())
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: gone(first), 5)
        second = _spare(server, set())
        assert second != first
        pid, _ = server.fork("w1")
        assert pid == second
        server.send(op="signal", pid=pid, signal="SIGKILL")
        assert server.expect("exit", pid=pid)["signal"] == "SIGKILL"
        # Messages come in order: had the first spare's exit been reported, it would be here by now.
        assert not [m for m in server.seen if m.get("pid") == first]


def test_a_spare_dies_with_its_server():
    server = ForkServer()
    try:
        spare = _spare(server, set())
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(5)
        assert wait_until(lambda: gone(spare), 2), "the spare outlived its server"
    finally:
        server.close()


def test_when_the_pool_closes_the_channel_the_spare_goes_too():
    server = ForkServer()
    spare = _spare(server, set())
    server.control.shutdown(__import__("socket").SHUT_WR)
    assert server.process.wait(5) == 0
    assert wait_until(lambda: gone(spare), 2)
    server.close()


def test_the_server_reaps_what_it_killed_before_it_exits():
    """Once the pool sees the server end, no child of it is still dying: not a process, not a zombie
    (an orphaned zombie may never be reaped in a container whose PID 1 does not reap)."""
    server = ForkServer()
    pid, _ = server.fork()
    spare = _spare(server, {pid})
    server.control.shutdown(__import__("socket").SHUT_WR)
    assert server.process.wait(5) == 0
    assert not [p for p in (pid, spare) if os.path.exists(f"/proc/{p}")]
    server.close()
