"""Start-up and end of the worker process: parent death, preload, numpy missing."""

import os
import signal
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from helpers import FIXTURES, Client, Worker, wait_until, worker_env, gone




@pytest.mark.parametrize("mode", ["pdeathsig", "watchdog"])
def test_worker_exits_within_2s_when_its_parent_is_killed(mode):
    with tempfile.TemporaryDirectory(prefix="piton-test-") as tmp:
        endpoint = f"ipc://{tmp}/worker.sock"
        args = [sys.executable, os.path.join(FIXTURES, "spawn_parent.py"), endpoint, FIXTURES]
        if mode == "watchdog":
            args.append("--no-pdeathsig")
        parent = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=worker_env())
        worker_pid = int(parent.stdout.readline())
        try:
            client = Client(endpoint)
            try:
                assert client.hello()[0] == "ready"
            finally:
                client.close()
            parent.kill()
            parent.wait(5)
            assert wait_until(lambda: gone(worker_pid), timeout=2.0), "worker outlived its parent by 2 s"
        finally:
            if not gone(worker_pid):
                os.kill(worker_pid, signal.SIGKILL)
            parent.kill()
            parent.wait(5)
            parent.stdin.close()
            parent.stdout.close()


def test_parent_pid_that_is_not_the_parent_exits_at_once_with_code_4():
    with Worker("--parent-pid", "1") as w:
        assert w.wait() == 4
        assert "parent process 1 is gone" in w.stderr_text()


def test_preload_runs_before_the_first_request():
    with Worker("--preload", "preloaded") as w:
        assert w.hello()[0] == "ready"
        assert isinstance(w.call("preloaded", "loaded_at")[2], float)


def test_preload_that_raises_exits_3_with_the_traceback_on_stderr():
    with Worker("--preload", "broken_preload") as w:
        assert w.wait() == 3
        err = w.stderr_text()
        assert "RuntimeError: preload refuses to load" in err and "Traceback" in err


def test_worker_without_numpy_passes_arrays_as_raw_arrays():
    with Worker(command=[os.path.join(FIXTURES, "no_numpy_worker.py")]) as w:
        array = np.arange(6, dtype="int16").reshape(2, 3)
        assert w.call("plain", "kind", array)[2] == ["piton.codec.RawArray", False]
        back = w.call("plain", "echo", array)[2]
        assert back.dtype == np.int16 and np.array_equal(back, array)
        assert w.request("stop")[0] == "bye"
        assert w.wait() == 0
