"""Serving several lanes on the interpreter's event loop (``concurrency > 1``; PROTOCOL.md, "Lanes").

When the handshake asks for n lanes, the worker binds a ROUTER socket next to its REP socket and
Node connects n - 1 REQ sockets to it, each with its lane's number as routing id; lane 0 stays on
the REP socket. Each REQ socket keeps REQ/REP's lock-step, and the worker keeps it per lane: one
request at a time, one reply to it (or a question to Node, whose answer is the lane's next
request). The ROUTER is REP's envelope handling made explicit, so that one socket can hold replies
owed to many lanes at once.

Everything runs on the loop's thread. Both sockets' descriptors are watched by the loop; a request
is answered by the handler's steps (handler.py), run in a context of its own that names its lane's
conversation: its sync part runs at once (sync user code blocks the loop while it runs, as it
blocks the interpreter at ``concurrency: 1``, with the loop's running mark lifted so that it may
run ``asyncio.run()``), and from its first awaitable on, in a task, while the loop serves the
other lanes. Only a question asked with the blocking form (``node.call``, ``progress``) waits on
the sockets themselves; what arrives for the other lanes meanwhile waits for it to end.

SIGTERM unwinds whatever runs: the running calls' tasks are cancelled (their ``finally`` blocks
run, as a sync call's do at ``concurrency: 1``), then the worker exits 0.
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any, Callable, List, Optional, Tuple

import zmq

from . import aio
from .conversation import _LANE_CONVERSATION
from .errors import Terminated
from .handler import Action, Handler, Steps
from .lane import Lane

__all__ = ["LaneServer", "EXIT_OK"]

EXIT_OK = 0
#: The longest a blocking question waits on the sockets at once: how late a SIGTERM may be acted on.
_POLL_MS = 100
# Plain ints: pyzmq's flag enums cost an enum operation at each use, several per message.
_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)


class LaneServer:
    """The lanes of one worker, served on its loop until ``stop`` (or SIGTERM)."""

    def __init__(self, handler: Handler, main: zmq.Socket, router: zmq.Socket) -> None:
        self.handler = handler
        self.main = main
        self.router = router
        self.loop = aio.get_loop()
        count = handler.lanes
        # The handshake made them (handler.py), so that the control lane could name them at once.
        self.lanes: List[Lane] = handler.lane_list[:count]
        assert len(self.lanes) == count, "the handshake makes every lane" 
        self._ids = [b""] + [str(i).encode() for i in range(1, count)]
        # Each lane's calls run in a copy of this context: it names the lane's conversation.
        self._contexts: List[contextvars.Context] = []
        for lane in self.lanes:
            context = contextvars.copy_context()
            context.run(_LANE_CONVERSATION.set, lane.conversation)
            self._contexts.append(context)
            self._wire(lane)
        self._busy = [False] * count
        # A lane whose call asked Node something expects the answer as its next message.
        self._expecting = [False] * count
        self._waiters: List[Any] = [None] * count
        self._inbox: List[Optional[List[Any]]] = [None] * count
        self._deferred: List[Any] = []
        self._blocked = False  # a blocking question is waiting on the sockets
        self._pump_scheduled = False
        self._exit_code: Optional[int] = None
        self._shutting_down = False
        self._poller = zmq.Poller()
        self._poller.register(main, zmq.POLLIN)
        self._poller.register(router, zmq.POLLIN)
        handler.outside_loop = True

    def _wire(self, lane: Lane) -> None:
        index = lane.index
        conversation = lane.conversation

        async def aexchange(frames: List[Any]) -> List[Any]:
            self._send(index, frames)
            self._expecting[index] = True
            return await self._receive(index)

        async def areceive() -> List[Any]:
            return await self._receive(index)

        conversation.exchange = lambda frames: self._exchange(index, frames)
        conversation.aexchange = aexchange
        conversation.areceive = areceive

    # ---------------------------------------------------------------------------------- running

    def run(self) -> int:
        """Serves until ``stop`` (exit code 0); SIGTERM raises Terminated once the calls have unwound."""
        loop = self.loop
        hook = self._terminate_soon
        aio.termination_hooks.append(hook)
        loop.set_exception_handler(_quiet_about_termination)
        loop.add_reader(self.main.getsockopt(zmq.FD), self._pump)
        loop.add_reader(self.router.getsockopt(zmq.FD), self._pump)
        self._schedule_pump()  # requests that came before the readers were added
        terminated = False
        try:
            while self._exit_code is None:
                try:
                    loop.run_forever()
                except Terminated:
                    terminated = True
                    self._terminate()
        finally:
            loop.remove_reader(self.main.getsockopt(zmq.FD))
            loop.remove_reader(self.router.getsockopt(zmq.FD))
            aio.termination_hooks.remove(hook)
            for lane in self.lanes:
                lane.conversation.exchange = lane.conversation.aexchange = lane.conversation.areceive = None
            self.router.close(linger=0)
        if terminated or self._shutting_down:
            raise Terminated()
        return self._exit_code

    def _terminate_soon(self) -> None:
        # From the SIGTERM handler, which then raises Terminated where the main thread is (that
        # unwinds sync user code at once): wherever the loop catches it instead, this still ends
        # the serving.
        self.loop.call_soon_threadsafe(self._terminate)

    def _terminate(self) -> None:
        """Cancels every running call (their ``finally`` blocks run), then stops serving."""
        if self._shutting_down:
            return
        self._shutting_down = True
        tasks = [lane.task for lane in self.lanes if lane.task is not None and not lane.task.done()]
        for task in tasks:
            task.cancel()

        async def unwound() -> None:
            if tasks:
                import asyncio

                await asyncio.wait(tasks)
            self._stop(EXIT_OK)

        self.loop.create_task(unwound())

    def _stop(self, code: int) -> None:
        if self._exit_code is None:
            self._exit_code = code
        self.loop.stop()

    # -------------------------------------------------------------------------------- receiving

    def _schedule_pump(self) -> None:
        if not self._pump_scheduled:
            self._pump_scheduled = True
            self.loop.call_soon(self._pump)

    def _pump(self) -> None:
        """Reads every message both sockets hold (their descriptors only say that this may have
        changed) and hands each to its lane."""
        self._pump_scheduled = False
        try:
            self._drain()
        except Terminated:
            self._terminate()

    def _drain(self) -> None:
        main, router = self.main, self.router
        while self._exit_code is None and main.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            self._arrive(0, _receive(main))
        # The ROUTER is read until it has nothing (zmq.Again) rather than asking its events before
        # each message: that question costs a system call per message (PROTOCOL.md's many lanes in
        # flight bring hundreds at a time), and a ROUTER, unlike the REP socket above, can always
        # receive. An empty read also clears the descriptor's edge, as asking the events does.
        while self._exit_code is None:
            frames = _receive_any(router)
            if frames is None:
                break
            index = _lane_of(frames[0], len(self.lanes))
            if index is None or len(frames) < 3 or len(frames[1]) != 0:
                sys.stderr.write(f"piton: dropped a message from an unknown lane {bytes(frames[0])!r:.40}\n")
                continue
            self._arrive(index, frames[2:])

    def _arrive(self, index: int, frames: List[Any]) -> None:
        if self._expecting[index]:
            # Node's answer to the question the lane's call asked.
            self._expecting[index] = False
            waiter = self._waiters[index]
            self._waiters[index] = None
            if waiter is not None and not waiter.done():
                waiter.set_result(frames)
            else:
                self._inbox[index] = frames
            return
        if self._blocked:
            # A blocking question holds the loop: this request runs once it has its answer.
            if not self._deferred:
                self.loop.call_soon(self._run_deferred)
            self._deferred.append((index, frames))
            return
        if self._busy[index]:  # a REQ socket cannot send this: only a foreign peer could
            sys.stderr.write(f"piton: lane {index} sent a request while its call runs; dropped\n")
            return
        self._start(index, frames)

    def _run_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for index, frames in deferred:
            self._arrive(index, frames)

    async def _receive(self, index: int) -> List[Any]:
        frames = self._inbox[index]
        if frames is not None:
            self._inbox[index] = None
            return frames
        waiter = self.loop.create_future()
        self._waiters[index] = waiter
        try:
            return await waiter
        except BaseException:
            # Cancelled once the answer had come (its task had not run since): keep the answer
            # for the lane, which must read it before it replies (Conversation.settle).
            if waiter.done() and not waiter.cancelled():
                self._inbox[index] = waiter.result()
            raise
        finally:
            if self._waiters[index] is waiter:
                self._waiters[index] = None

    def _exchange(self, index: int, frames: List[Any]) -> List[Any]:
        """A blocking question (``node.call`` from sync code): waits on the sockets themselves
        until the lane's answer comes; requests for other lanes wait until then."""
        self._send(index, frames)
        self._expecting[index] = True
        self._blocked = True
        try:
            while True:
                answer = self._inbox[index]
                if answer is not None:
                    self._inbox[index] = None
                    return answer
                self._poller.poll(_POLL_MS)  # pyzmq runs pending signal handlers on the way out
                self._drain()
        finally:
            self._blocked = False
            self._schedule_pump()

    # ----------------------------------------------------------------------------- answering

    def _start(self, index: int, frames: List[Any]) -> None:
        self._busy[index] = True
        context = self._contexts[index].copy()
        steps = context.run(self._begin, self.lanes[index], frames)
        if steps is not None:
            lane, awaitable = self.lanes[index], steps[1]
            # The rest runs in a task, in the same context as the steps so far: what they entered
            # (the call's context) they leave there.
            lane.set_task(aio.start_task(self.loop, self._continue(lane, steps[0], awaitable), context))

    def _begin(self, lane: Lane, frames: List[Any]) -> Optional[Tuple[Steps, Any]]:
        """Runs the request's steps up to their first awaitable (all of them, for sync code);
        returns the steps and that awaitable, or None when they are done. Runs in the call's own
        context."""
        steps = self.handler.steps(lane, frames)
        try:
            awaitable = steps.send(None)
        except StopIteration as stop:
            self._finish(lane, stop.value)
            return None
        except Terminated:
            self._terminate()
            return None
        return steps, awaitable

    async def _continue(self, lane: Lane, steps: Steps, awaitable: Any) -> None:
        value: Any = None
        failure: Optional[BaseException] = None
        try:
            while True:
                try:
                    value = await awaitable
                except Terminated:
                    raise
                except BaseException as exc:
                    value, failure = None, exc
                try:
                    awaitable = steps.send(value) if failure is None else steps.throw(failure)
                except StopIteration as stop:
                    lane.set_task(None)
                    self._finish(lane, stop.value)
                    return
                value = failure = None
        except Terminated:
            self._terminate()

    def _finish(self, lane: Lane, outcome: Any) -> None:
        reply, action = outcome
        self._busy[lane.index] = False
        self._send(lane.index, reply)
        if action is Action.STOP:
            self._stop(EXIT_OK)

    def _send(self, index: int, frames: List[Any]) -> None:
        if index == 0:
            if len(frames) == 1:
                self.main.send(frames[0], copy=False)
            else:
                self.main.send_multipart(frames, copy=False)
        else:
            # send_multipart's checks and flag enums, spelled out: a reply per lane, hundreds at a time.
            send = self.router.send
            send(self._ids[index], _SNDMORE)
            send(b"", _SNDMORE)
            last = len(frames) - 1
            for i, frame in enumerate(frames):
                send(frame, _SNDMORE if i < last else 0, copy=False)
        # A send can leave the sockets' events changed without their descriptors saying so.
        self._schedule_pump()


def _receive(socket: zmq.Socket) -> List[Any]:
    return _with_rest(socket, socket.recv(_NOBLOCK))


def _receive_any(socket: zmq.Socket) -> Optional[List[Any]]:
    """The next message on ``socket``, or None if it has none now."""
    try:
        first = socket.recv(_NOBLOCK)
    except zmq.Again:
        return None
    return _with_rest(socket, first)


def _with_rest(socket: zmq.Socket, first: Any) -> List[Any]:
    """A message's frames: its ``first``, received, and the rest, received without a copy."""
    frames: List[Any] = [first]
    more = socket.getsockopt
    while more(_RCVMORE):
        frames.append(socket.recv(copy=False))
    return frames


def _lane_of(identity: Any, count: int) -> Optional[int]:
    """The lane a routing id names (its number in decimal), or None."""
    try:
        index = int(bytes(identity))
    except ValueError:
        return None
    return index if 1 <= index < count else None


def _quiet_about_termination(loop: Any, context: dict) -> None:
    # A SIGTERM's Terminated caught by the loop's machinery: the scheduled shutdown handles it.
    if isinstance(context.get("exception"), Terminated):
        return
    loop.default_exception_handler(context)


def open_lanes_socket(context: zmq.Context, endpoint: str, secure: Callable[[zmq.Socket], None]) -> "tuple[zmq.Socket, str]":
    """Binds the lanes' ROUTER socket next to the worker's endpoint (``secure`` makes it a CURVE
    server like the first, where that is one); returns it with the endpoint it bound."""
    from .server import ZERO_COPY_THRESHOLD

    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.copy_threshold = ZERO_COPY_THRESHOLD
    secure(router)
    router.bind(sibling_endpoint(endpoint, "lanes"))
    return router, router.getsockopt(zmq.LAST_ENDPOINT).decode()


def sibling_endpoint(endpoint: str, name: str) -> str:
    """An endpoint beside ``endpoint`` for another of the worker's sockets: for ``ipc://PATH``,
    ``ipc://PATH-NAME``; for tcp, the same address on a port the kernel chooses."""
    if endpoint.startswith("ipc://"):
        return f"{endpoint}-{name}"
    if endpoint.startswith("tcp://"):
        host = endpoint[len("tcp://"):].rsplit(":", 1)[0]
        return f"tcp://{host}:0"
    raise ValueError(f"no sibling endpoint for {endpoint!r}")
