"""The worker's process group and its guard (piton.group): what a call forks dies with the worker."""

import os
import signal
import sys

import pytest

from helpers import Worker, wait_until
from piton.group import GUARD_NAME

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guard needs PR_SET_PDEATHSIG")


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


def test_the_worker_leads_its_own_group_with_a_guard(fresh_worker):
    assert fresh_worker.hello()[0] == "ready"
    pid = fresh_worker.process.pid
    assert os.getpgid(pid) == pid != os.getpgrp()
    guards = [p for p, comm in _group_members(pid).items() if comm == GUARD_NAME.decode()]
    assert len(guards) == 1


@pytest.mark.parametrize("how", ["SIGKILL", "stop"])
def test_a_fork_of_the_worker_dies_with_it(fresh_worker, how):
    assert fresh_worker.hello()[0] == "ready"
    fork = fresh_worker.call("functions", "fork_sleeper")[2]
    assert _alive(fork)
    if how == "SIGKILL":  # the worker alone, as the death of its parent does: the guard ends the rest
        fresh_worker.process.send_signal(signal.SIGKILL)
    else:
        assert fresh_worker.request("stop")[0] == "bye"
    fresh_worker.wait()
    assert wait_until(lambda: not _alive(fork)), f"fork {fork} outlived the worker"
    assert wait_until(lambda: not _group_members(fresh_worker.process.pid)), "the group outlived the worker"


def test_on_its_way_out_the_worker_reaps_its_guard_no_zombie_is_left(fresh_worker):
    assert fresh_worker.hello()[0] == "ready"
    pid = fresh_worker.process.pid
    guard = next(p for p, comm in _group_members(pid).items() if comm == GUARD_NAME.decode())
    assert fresh_worker.request("stop")[0] == "bye"
    assert fresh_worker.wait() == 0
    # Reaped by the worker, so not even a zombie waits for the system's reaper.
    assert not os.path.exists(f"/proc/{guard}")
