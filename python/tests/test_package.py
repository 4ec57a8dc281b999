"""The package itself: version on record, importable without numpy's start-up cost."""

import os
import re
import subprocess
import sys

import piton
from helpers import SRC, worker_env

PYPROJECT = os.path.join(os.path.dirname(SRC), "pyproject.toml")


def test_version_is_the_one_in_pyproject():
    with open(PYPROJECT) as f:
        declared = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
    assert piton.__version__ == declared


def test_importing_the_worker_module_starts_no_threads_and_imports_neither_zmq_nor_numpy():
    # The worker sets its signal mask before anything starts a thread (PROTOCOL.md, "The worker process").
    code = ("import sys, threading, piton.worker; "
            "print(threading.active_count(), 'numpy' in sys.modules, 'zmq' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=worker_env(), capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False", "False"]


def test_public_names_load_on_first_use():
    assert piton.RawArray.__module__ == "piton.codec"
    assert issubclass(piton.EncodeError, piton.PitonError)
