"""The worker's process group and its guard (piton.group): what a call forks dies with the worker.

Each guard test runs with both guards: ``/bin/sh`` (the guard wherever there is one) and the
forked copy of the worker that takes its place where ``/bin/sh`` cannot be started (forced here
by a worker whose ``piton.group.SHELL`` names no file)."""

import os
import signal
import sys

import pytest

from helpers import Client, ForkServer, Worker, wait_until
from piton.group import GUARD_NAME

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guard runs on Linux")

#: A worker whose guard is the forked copy: /bin/sh cannot be started.
NO_SHELL = ("-c", "import sys, piton.group; piton.group.SHELL = '/nonexistent/sh'; "
                  "from piton.worker import main; main(sys.argv[1:])")
#: The most PSS a guard may have, in KiB (issue: a guard that costs almost nothing).
GUARD_PSS_LIMIT_KIB = 2048
#: What a stop or a terminal may send to the group, which the guard ignores (its SigIgn mask).
IGNORED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE, signal.SIGQUIT)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _group_members(pgid: int) -> dict:
    """pid → comm of the live processes of group ``pgid``."""
    members = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members[int(entry)] = comm
    return members


def _guard_of(pgid: int) -> int:
    guards = [p for p, comm in _group_members(pgid).items() if comm == GUARD_NAME.decode()]
    assert len(guards) == 1, f"group {pgid}: {_group_members(pgid)}"
    return guards[0]


def _command_line(pid: int) -> list:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[:-1]


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))


def _command(guard_kind: str) -> "tuple[str, ...]":
    return ("-m", "piton.worker") if guard_kind == "shell" else NO_SHELL


@pytest.fixture(params=["shell", "no shell"])
def guarded_worker(request):
    """A worker of its own, with each kind of guard."""
    with Worker(command=_command(request.param)) as w:
        w.guard_kind = request.param
        yield w


def test_the_worker_leads_its_own_group_with_a_guard(guarded_worker):
    assert guarded_worker.hello()[0] == "ready"
    pid = guarded_worker.process.pid
    assert os.getpgid(pid) == pid != os.getpgrp()
    guard = _guard_of(pid)
    # ps shows whose guard it is: its command line ends with the worker's.
    worker_command = _command_line(pid)
    assert _command_line(guard)[-len(worker_command):] == worker_command
    if guarded_worker.guard_kind == "shell":
        assert os.path.realpath(f"/proc/{guard}/exe") == os.path.realpath("/bin/sh")


@pytest.mark.parametrize("how", ["SIGKILL", "stop"])
def test_a_fork_of_the_worker_dies_with_it(guarded_worker, how):
    assert guarded_worker.hello()[0] == "ready"
    fork = guarded_worker.call("functions", "fork_sleeper")[2]
    assert _alive(fork)
    if how == "SIGKILL":  # the worker alone, as the death of its parent does: the guard ends the rest
        guarded_worker.process.send_signal(signal.SIGKILL)
    else:
        assert guarded_worker.request("stop")[0] == "bye"
    guarded_worker.wait()
    assert wait_until(lambda: not _alive(fork)), f"fork {fork} outlived the worker"
    assert wait_until(lambda: not _group_members(guarded_worker.process.pid)), "the group outlived the worker"


def test_on_its_way_out_the_worker_reaps_its_guard_no_zombie_is_left(guarded_worker):
    assert guarded_worker.hello()[0] == "ready"
    pid = guarded_worker.process.pid
    guard = _guard_of(pid)
    assert guarded_worker.request("stop")[0] == "bye"
    assert guarded_worker.wait() == 0
    # Reaped by the worker, so not even a zombie waits for the system's reaper.
    assert not os.path.exists(f"/proc/{guard}")


@pytest.mark.parametrize("guard_kind", ["shell", "no shell"])
def test_the_guard_holds_nothing_of_the_worker_and_ignores_a_stops_signals(guard_kind):
    # A descriptor the worker inherited open (as an agent's --endpoint-fd is) stays with the worker.
    inherited_r, inherited_w = os.pipe()
    try:
        with Worker(command=_command(guard_kind), pass_fds=(inherited_w,)) as worker:
            assert worker.hello()[0] == "ready"
            guard = _guard_of(worker.process.pid)
            assert str(inherited_w) in os.listdir(f"/proc/{worker.process.pid}/fd")
            # stdin: the lifeline; stdout: closed once set up; stderr: /dev/null. Nothing else.
            assert sorted(os.listdir(f"/proc/{guard}/fd")) == ["0", "2"]
            assert os.readlink(f"/proc/{guard}/fd/0").startswith("pipe:")
            assert os.readlink(f"/proc/{guard}/fd/2") == os.devnull
            with open(f"/proc/{guard}/status") as f:
                ignored = int(next(line for line in f if line.startswith("SigIgn:")).split()[1], 16)
            for sig in IGNORED:
                assert ignored & (1 << (sig - 1)), f"the guard does not ignore {sig.name}"
            if guard_kind == "shell":
                with open(f"/proc/{guard}/environ", "rb") as f:
                    assert f.read() == b"", "the shell guard inherits no environment (no secret)"
    finally:
        os.close(inherited_r)
        os.close(inherited_w)


def test_a_spawned_workers_guard_costs_at_most_2_mib_of_pss(fresh_worker):
    assert fresh_worker.hello()[0] == "ready"
    assert fresh_worker.call("functions", "add", 1, 2) == ["ok", 2, 3]
    pss = _pss_kib(_guard_of(fresh_worker.process.pid))
    assert pss <= GUARD_PSS_LIMIT_KIB, f"the guard's PSS is {pss} KiB"


def test_a_forked_interpreters_guard_costs_at_most_2_mib_of_pss():
    # The interpreter is a fork of a server that imported numpy (the fixtures' `functions`): a
    # guard forked from it would share, and be charged for, all of that.
    with ForkServer("--preload", "functions") as server:
        pid, endpoint = server.fork()
        client = Client(endpoint)
        try:
            assert client.hello()[0] == "ready"
            guard = _guard_of(pid)
            assert os.path.realpath(f"/proc/{guard}/exe") == os.path.realpath("/bin/sh")
            pss = _pss_kib(guard)
            assert pss <= GUARD_PSS_LIMIT_KIB, f"the guard's PSS is {pss} KiB"
            # And it guards: the interpreter SIGKILLed, its fork goes with the group.
            fork = client.call("functions", "fork_sleeper")[2]
            os.kill(pid, signal.SIGKILL)
            server.expect("exit", pid=pid)
            assert wait_until(lambda: not _alive(fork)), f"fork {fork} outlived the interpreter"
            assert wait_until(lambda: not _group_members(pid)), "the group outlived the interpreter"
        finally:
            client.close()
