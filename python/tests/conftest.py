"""Make ``piton`` importable from ``python/src`` even when it is not installed; shared fixtures."""

import os
import sys

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from helpers import Worker  # noqa: E402


@pytest.fixture(scope="module")
def worker():
    """A worker shared by the tests of one module: for tests that leave it serving."""
    with Worker() as w:
        assert w.hello()[0] == "ready"
        yield w


@pytest.fixture
def fresh_worker():
    """A worker of its own, for tests that stop or kill it."""
    with Worker() as w:
        yield w
