"""``piton.aio.run_to_completion``, how a coroutine runs at ``concurrency: 1``: its first step runs
at once, outside the loop's run, in a task made before it (so that what needs the task, or a
cancel, finds it); the loop runs only if the coroutine suspends."""

import asyncio
import sys

import pytest

from piton import aio
from piton.conversation import Conversation
from piton.lane import CANCELLED, Lane


@pytest.fixture
def loop_runs(monkeypatch):
    """Counts the runs of the interpreter's loop (``run_until_complete``) while a test runs."""
    loop = aio.get_loop()
    runs = []
    real = loop.run_until_complete

    def counted(future):
        runs.append(future)
        return real(future)

    monkeypatch.setattr(loop, "run_until_complete", counted, raising=False)
    return runs


def run(coroutine, lane=None):
    return aio.run_to_completion(coroutine, lane.set_task if lane is not None else (lambda task: None))


def test_a_coroutine_that_never_suspends_runs_without_running_the_loop(loop_runs):
    async def add(a, b):
        return a + b

    assert run(add(2, 3)) == 5
    assert loop_runs == []


def test_a_coroutine_that_suspends_is_run_on_by_the_loop(loop_runs):
    async def slept():
        await asyncio.sleep(0.01)
        return "slept"

    assert run(slept()) == "slept"
    assert len(loop_runs) == 1


def test_its_exception_is_raised_whether_or_not_it_suspended(loop_runs):
    async def fails(suspend):
        if suspend:
            await asyncio.sleep(0)
        raise ValueError("boom")

    for suspend in (False, True):
        with pytest.raises(ValueError, match="boom"):
            run(fails(suspend))
    assert len(loop_runs) == 1


def test_the_first_step_runs_in_its_task_on_the_running_loop():
    async def where():
        first = (asyncio.current_task(), asyncio.get_running_loop())
        await asyncio.sleep(0)
        return first, (asyncio.current_task(), asyncio.get_running_loop())

    (task, loop), (task_after, loop_after) = run(where())
    assert isinstance(task, asyncio.Task) and task is task_after
    assert loop is aio.get_loop() and loop_after is loop
    # Outside the step, as outside any call, no loop runs.
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is Python 3.11+")
def test_a_timeout_entered_in_the_first_step_applies_to_the_task():
    async def timed_out():
        async with asyncio.timeout(0.05):  # needs the task from the first step on
            await asyncio.sleep(10)

    with pytest.raises(TimeoutError):
        run(timed_out())


def test_a_cancel_that_comes_during_the_first_step_reaches_the_task_at_its_first_wait(tmp_path):
    lane = Lane(0, Conversation())
    assert lane.begin(1)
    marker = tmp_path / "finally"

    async def cancelled_while_starting():
        # What the control lane's thread does when Node cancels the call now.
        assert lane.cancel(1) == CANCELLED
        try:
            await asyncio.sleep(10)
        finally:
            marker.write_text("ran")

    with pytest.raises(asyncio.CancelledError):
        run(cancelled_while_starting(), lane)
    assert marker.read_text() == "ran"
    assert lane.task is None


def test_a_cancel_that_comes_during_a_first_step_that_finishes_leaves_its_result():
    lane = Lane(0, Conversation())
    assert lane.begin(1)

    async def done_at_once():
        assert lane.cancel(1) == CANCELLED
        return "done"

    assert run(done_at_once(), lane) == "done"  # the reply was on its way: Node ignores it
    # The cancel still scheduled on the loop does nothing to the next call.
    assert lane.begin(2)

    async def later():
        await asyncio.sleep(0)
        return "later"

    assert run(later(), lane) == "later"


def test_a_cancel_that_came_before_the_task_existed_cancels_it_before_it_runs():
    lane = Lane(0, Conversation())
    assert lane.begin(1)
    assert lane.cancel(1) == CANCELLED  # between two steps: no task, no sync code
    ran = []

    async def never():
        ran.append(True)

    with pytest.raises(asyncio.CancelledError):
        run(never(), lane)
    assert ran == []


def test_the_first_step_has_the_loops_async_generator_hooks_and_leaves_them():
    before = sys.get_asyncgen_hooks()

    async def hooks():
        return sys.get_asyncgen_hooks()

    loop = aio.get_loop()
    inside = run(hooks())
    # An async generator begun in the step is the loop's to finalize, as if the loop ran the step.
    assert inside.firstiter == loop._asyncgen_firstiter_hook
    assert inside.finalizer == loop._asyncgen_finalizer_hook
    assert sys.get_asyncgen_hooks() == before
