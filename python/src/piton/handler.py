"""Answering requests: frames in, frames out. No sockets here, so it is testable in-process.

User code runs only while a request is answered, with its lane's
:class:`~piton.conversation.Conversation` open (so that it may call back into Node and report
progress: its questions go out as replies, and the reply that ends the request answers the latest
request); whatever it raises becomes an ``error`` reply (``SystemExit`` and ``KeyboardInterrupt``
raised by a called function included: they are reported, the interpreter stays). Only
:class:`~piton.errors.Terminated`, raised by the worker's own SIGTERM handler, passes through.

A function may return an awaitable (``async def``, or a sync function returning a coroutine or a
future): it is awaited, and its result or exception is the reply, as a sync function's would be.
An async generator (or any async iterable) is a stream whose items are awaited. So that one piece
of code answers a request whether it is served outside the event loop (``concurrency: 1``:
:meth:`Handler.handle`) or on it (the lane server), each kind of request is written as *steps*:
a generator that yields each awaitable it needs and is sent back its result (or thrown its
exception), and returns the reply. :meth:`Handler.handle` drives the steps with the loop run to
completion for each awaitable; the lane server awaits them in a task. Sync user code is called at
one place, :meth:`Handler.invoke`, and an awaitable becomes a task at one place,
:func:`piton.aio.start_task`.
"""

from __future__ import annotations

import enum
import os
import sys
import traceback
from typing import Any, Callable, Dict, Generator, List, Optional, Sequence, Tuple

from . import __version__
from . import call_context
from .batching import BatchedFunction
from . import protocol as p
from .protocol import DEFAULT_MAX_MESSAGE_SIZE
from . import codec
from .codec import Buffer, decode, encode, frames_size
from .aio import is_awaitable, loop_kind, outside_loop, run_to_completion
from .conversation import CURRENT, Conversation
from .lane import Lane
from .resolver import Resolver
from .entries import Entries
from .errors import EncodeError, MessageTooLarge, MissingDependency, ProtocolError, Terminated, error_info

__all__ = ["Handler", "Action", "Steps"]

#: A request's steps: yields awaitables, is sent their results, returns the reply.
Steps = Generator[Any, Any, Any]


class Action(enum.Enum):
    """What the serve loop does after sending a reply."""

    CONTINUE = "continue"
    STOP = "stop"  # exit code 0
    VERSION_MISMATCH = "version-mismatch"  # exit code 2
    SERVE_LANES = "serve-lanes"  # the handshake asked for several lanes: serve them on the loop


class Handler:
    """The request/reply logic of one worker: the resolver, the size limit and its lanes' state."""

    def __init__(self, resolver: Resolver, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 conversation: Conversation = CURRENT) -> None:
        self.resolver = resolver
        self.max_message_size = max_message_size
        self.conversation = conversation
        conversation.max_message_size = max_message_size
        #: The first lane: the only one at ``concurrency: 1``, served by :meth:`handle`.
        self.lane = Lane(0, conversation)
        #: Lanes the handshake asked for (1 until one does).
        self.lanes = 1
        #: Every lane, by number: the first, and the others once the lane server made them.
        self.lane_list: List[Lane] = [self.lane]
        #: Sync user code runs while the loop runs (the lane server): lift its running mark for it.
        self.outside_loop = False
        #: Set by the serve loop: binds what the handshake needs (the lanes' socket) and returns
        #: the endpoints to name in ``ready``; raises if it cannot.
        self.on_hello: Optional[Callable[[p.Hello], dict]] = None

    def invoke(self, lane: Lane, fn: Callable[..., Any], args: Sequence[Any], kwargs: Any) -> Any:
        """Calls user code: the one place a request's function (or a sync stream's ``next`` and
        ``close``) is called, marked as blocking its lane meanwhile (nothing can cancel it). The
        lane server makes the call outside the loop's running mark (:attr:`outside_loop`)."""
        lane.blocking = True
        try:
            if self.outside_loop:
                with outside_loop():
                    return fn(*args, **kwargs)
            return fn(*args, **kwargs)
        finally:
            lane.blocking = False

    # ------------------------------------------------------------------------------ entry point

    def handle(self, frames: Sequence[Buffer]) -> Tuple[List[Buffer], Action]:
        """Answer one request message on the first lane, outside the event loop (awaitables are
        run to completion on it); never raises except :class:`Terminated`."""
        # The serve loop receives frame 0 as bytes: a one-frame message is its length.
        size = len(frames[0]) if len(frames) == 1 and type(frames[0]) is bytes else frames_size(frames)
        if size > self.max_message_size:
            return self._too_large(frames, size), Action.CONTINUE
        tables_before = codec.tables_decoded
        try:
            envelope = decode(frames)
        except (ProtocolError, MissingDependency) as exc:
            # A message that does not decode as a whole (an unhashable map key deep inside) may
            # still start with a readable id: answering with it fails only that request, while
            # REP routes the reply to its sender, so no other caller can receive it.
            return self._error(p.peek_id(frames[0]) if frames else 0, exc), Action.CONTINUE
        # Arguments that hold tables go to the functions' frame annotations (table_hints.py).
        self.lane.tables = codec.tables_decoded != tables_before
        # Most requests are calls without kwargs: answered without building a Call. Anything that
        # is not plainly well-formed goes the general way, with its checks and messages.
        if type(envelope) is list and len(envelope) == 6 and envelope[0] == "call" and envelope[5] is None:
            _, call_id, module, function, args, _ = envelope
            if type(call_id) is int and call_id >= 0 and type(module) is str and type(function) is str \
                    and type(args) is list:
                return self._plain_call(call_id, module, function, args), Action.CONTINUE
        return self.drive(self.lane, self._envelope_steps(self.lane, frames, envelope))

    def steps(self, lane: Lane, frames: Sequence[Buffer]) -> Steps:
        """The steps that answer one request message on ``lane`` (for the lane server); they
        return ``(reply, action)``."""
        size = frames_size(frames)
        if size > self.max_message_size:
            return (self._too_large(frames, size), Action.CONTINUE)
        tables_before = codec.tables_decoded
        try:
            envelope = decode(frames)
        except (ProtocolError, MissingDependency) as exc:
            return (self._error(p.peek_id(frames[0]) if frames else 0, exc), Action.CONTINUE)
        lane.tables = codec.tables_decoded != tables_before
        return (yield from self._envelope_steps(lane, frames, envelope))

    def drive(self, lane: Lane, steps: Steps) -> Any:
        """Runs ``steps`` outside the loop: each awaitable they yield runs on the interpreter's
        loop to completion (as a task the control lane can cancel). Returns what they return."""
        value: Any = None
        failure: Optional[BaseException] = None
        while True:
            try:
                awaitable = steps.send(value) if failure is None else steps.throw(failure)
            except StopIteration as stop:
                return stop.value
            value = failure = None
            try:
                value = run_to_completion(awaitable, lane.set_task)
            except Terminated:
                raise
            except BaseException as exc:
                failure = exc

    def _envelope_steps(self, lane: Lane, frames: Sequence[Buffer], envelope: Any) -> Steps:
        rid = p.request_id(envelope)
        try:
            request = p.parse_request(envelope)
        except ProtocolError as exc:
            return (self._error(rid or p.peek_id(frames[0]), exc), Action.CONTINUE)
        return (yield from self._dispatch(lane, request))

    def _too_large(self, frames: Sequence[Buffer], size: int) -> List[Buffer]:
        exc = MessageTooLarge(
            f"request of {size} bytes exceeds the worker's maximum message size of "
            f"{self.max_message_size} bytes"
        )
        return self._error(p.peek_id(frames[0]) if frames else 0, exc)

    def _dispatch(self, lane: Lane, request: p.Request) -> Steps:
        if isinstance(request, _RUNS_USER_CODE):
            if not lane.begin(request.id):
                return (yield from self._cancelled_before_it_ran(lane, request)), Action.CONTINUE
            try:
                return (yield from self._run(lane, request)), Action.CONTINUE
            finally:
                lane.end()
        if isinstance(request, p.Hello):
            return self._hello(request)
        if isinstance(request, p.Stop):
            yield from self._close_stream(lane)
            return self._encode(p.bye(request.id), request.id), Action.STOP
        if isinstance(request, (p.Return, p.Throw, p.Resume)):
            kind = type(request).__name__.lower()
            exc = ProtocolError(f"'{kind}' answers a callback or progress message, and none is pending")
            return self._error(request.id, exc), Action.CONTINUE
        raise AssertionError(f"unhandled request {request!r}")  # parse_request returns only the above

    def _run(self, lane: Lane, request: p.Request) -> Steps:
        if isinstance(request, p.Call):
            yield from self._close_stream(lane)
            return (yield from self._call(lane, request))
        if isinstance(request, p.Stream):
            yield from self._close_stream(lane)
            return (yield from self._open_stream(lane, request))
        if isinstance(request, p.Next):
            return (yield from self._next(lane, request))
        if isinstance(request, p.Close):
            return (yield from self._close(lane, request))
        assert isinstance(request, p.Batch)
        yield from self._close_stream(lane)
        return (yield from self._batch(lane, request))

    def _cancelled_before_it_ran(self, lane: Lane, request: p.Request) -> Steps:
        """The answer to a request the control lane cancelled before it arrived: it does not run.
        A ``next``'s stream is closed with it, as a cancelled pull ends its stream."""
        if isinstance(request, p.Next):
            yield from self._close_stream(lane)
        import asyncio

        return self._error(request.id, asyncio.CancelledError("cancelled before it ran"))

    # ---------------------------------------------------------------------------------- kinds

    def _hello(self, request: p.Hello) -> Tuple[List[Buffer], Action]:
        if request.protocol != p.PROTOCOL_VERSION or type(request.protocol) is not int:
            exc = ProtocolError(
                f"protocol version mismatch: Node speaks {request.protocol!r}, "
                f"this worker (piton {__version__}) speaks {p.PROTOCOL_VERSION}"
            )
            return self._error(request.id, exc), Action.VERSION_MISMATCH
        self.conversation.exposed = frozenset(request.expose)
        more: dict = {}
        if self.on_hello is not None:
            try:
                more.update(self.on_hello(request))
            except Exception as exc:
                return self._error(request.id, exc), Action.CONTINUE
        elif request.lanes > 1:
            return self._error(request.id, ProtocolError("this worker serves one lane: it has no socket for more")), Action.CONTINUE
        more["loop"] = loop_kind()  # after on_hello, which makes the loop when lanes need it
        self.lanes = request.lanes
        # Every lane exists before `ready` goes out: from then on the control lane may name any.
        first = self.conversation
        for index in range(len(self.lane_list), request.lanes):
            conversation = Conversation()
            conversation.exposed = first.exposed
            conversation.max_message_size = first.max_message_size
            self.lane_list.append(Lane(index, conversation))
        reply = p.ready(request.id, os.getpid(), sys.version, __version__, **more)
        return self._encode(reply, request.id), Action.SERVE_LANES if request.lanes > 1 else Action.CONTINUE

    def _plain_call(self, rid: int, module: str, function: str, args: List[Any]) -> List[Buffer]:
        """A ``call`` without kwargs on the first lane: what :meth:`_dispatch` and :meth:`_call`
        do for it, for a sync function without a generator in between."""
        lane = self.lane
        if not lane.begin(rid):
            return self.drive(lane, self._cancelled_before_it_ran(lane, p.Call(rid, module, function, args, {}, False)))
        try:
            if lane.stream is not None or lane.stream_error is not None:
                self.drive(lane, self._close_stream(lane))
            conversation = self.conversation
            conversation.rid = rid  # open(rid), inlined: this is every plain call's path
            scope = call_context.enter(None)
            batched: Optional[BatchedFunction] = None  # an async def batched function's, awaited below
            try:
                lane.blocking = True
                try:
                    fn = self.resolver.resolve(module, function)
                    if type(fn) is BatchedFunction:
                        result = self._batched_result(fn, args, {}, False)
                        if not is_awaitable(result):
                            return self._batched_reply(lane, fn, result)
                        batched = fn
                    else:
                        if lane.tables:
                            args, _ = self._adapt(fn, args, {})
                        result = fn(*args)
                except Terminated:
                    raise
                except BaseException as exc:
                    return self._error(conversation.close(), exc)
                finally:
                    lane.blocking = False
                if result.__class__ not in _PLAIN_RESULTS and is_awaitable(result):
                    # Awaited with the call's context entered: its task runs in a copy of it.
                    return self.drive(lane, self._awaited_result(lane, result, batched))
            finally:
                scope.leave()
        finally:
            lane.end()
        rid = conversation.close()
        try:
            frames = encode(["ok", rid, result])
        except EncodeError as exc:  # MissingDependency included
            return self._error(rid, exc)
        size = len(frames[0]) if len(frames) == 1 else frames_size(frames)
        if size > self.max_message_size:
            return self._error(rid, self._reply_too_large(size))
        return frames

    def _call(self, lane: Lane, request: p.Call) -> Steps:
        conversation = lane.conversation
        conversation.open(request.id, request.progress)
        # The call's context stays entered while its awaitable runs (a task made meanwhile runs
        # in it: lane_server.py gives the task this very context, run_to_completion a copy).
        scope = call_context.enter(request.meta)
        try:
            try:
                fn = self.resolver.resolve(request.module, request.function)
                if type(fn) is BatchedFunction:
                    result = self.invoke(lane, self._batched_result, (fn, request.args, request.kwargs, request.batched), {})
                    if is_awaitable(result):
                        return (yield from self._awaited_result(lane, result, fn))
                    return self._batched_reply(lane, fn, result)
                if request.batched:
                    raise TypeError(f"{request.module}.{request.function} is not a batched function (piton.batched)")
                args, kwargs = self._adapt(fn, request.args, request.kwargs) if lane.tables else (request.args, request.kwargs)
                result = self.invoke(lane, fn, args, kwargs)
            except Terminated:
                raise
            except BaseException as exc:
                return self._error(conversation.close(), exc)
            return (yield from self._awaited_result(lane, result))
        finally:
            scope.leave()

    @staticmethod
    def _batched_result(fn: BatchedFunction, args: List[Any], kwargs: Dict[str, Any], merged: bool) -> Any:
        """A call to a batched function: one input (Node does not know yet, or would not merge
        this call), or the inputs of several calls."""
        if kwargs:
            raise TypeError(f"batched function {fn.__name__} takes one input per call and no keyword arguments")
        if merged:
            if len(args) != 1 or not isinstance(args[0], list):
                raise ProtocolError("a merged call to a batched function carries one list of inputs")
            return fn.run(args[0])
        if len(args) != 1:
            raise TypeError(f"batched function {fn.__name__} takes one input per call, got {len(args)} arguments")
        outputs = fn.run([args[0]])
        return _first(outputs) if is_awaitable(outputs) else outputs[0]

    def _batched_reply(self, lane: Lane, fn: BatchedFunction, result: Any) -> List[Buffer]:
        """The reply to a call to a batched function: it tells Node the function's policy."""
        rid = lane.conversation.close()
        return self._encode(p.ok_batched(rid, result, fn.policy), rid)

    @staticmethod
    def _adapt(fn: Any, args: List[Any], kwargs: Dict[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
        from .table_hints import adapt  # only requests that carry tables need it

        return adapt(fn, args, kwargs)

    def _awaited_result(self, lane: Lane, result: Any, batched: Optional[BatchedFunction] = None) -> Steps:
        """The reply to a call whose function returned ``result``, awaited if it is awaitable; for
        a call to a ``batched`` function, the reply tells Node its policy."""
        conversation = lane.conversation
        try:
            if is_awaitable(result):
                result = yield result
        except Terminated:
            raise
        except BaseException as exc:
            return self._error((yield from self._end_turn(conversation)), exc)
        rid = yield from self._end_turn(conversation)
        reply = p.ok(rid, result) if batched is None else p.ok_batched(rid, result, batched.policy)
        return self._encode(reply, rid)

    def _end_turn(self, conversation: Conversation) -> Steps:
        """Closes the conversation once no answer is owed to it; returns the id the reply carries."""
        if conversation.owed:
            yield conversation.settle()
        return conversation.close()

    def _batch(self, lane: Lane, request: p.Batch) -> Steps:
        # Each result is encoded as soon as its call returns (entries.py): one that cannot be
        # encoded, or is too large alone, becomes that call's error entry. Once the results
        # reach the size limit the batch ends: the calls not run are Node's to send again.
        entries = Entries(self.max_message_size)
        conversation = lane.conversation
        conversation.open(request.id)
        closed = False
        try:
            for call in request.calls:
                if entries.full:
                    break
                if len(entries):
                    entries.freeze_last()
                scope = call_context.enter(call.meta)
                try:
                    fn = self.resolver.resolve(call.module, call.function)
                    if type(fn) is BatchedFunction and not call.kwargs and len(call.args) == 1:
                        # one input, as its own call would
                        value = self.invoke(lane, self._batched_result, (fn, call.args, {}, False), {})
                    else:
                        args, kwargs = self._adapt(fn, call.args, call.kwargs) if lane.tables else (call.args, call.kwargs)
                        value = self.invoke(lane, fn, args, kwargs)
                    if is_awaitable(value):
                        value = yield value
                    entry = ["ok", value]
                except Terminated:
                    raise
                except BaseException as exc:
                    entry = ["error", error_info(exc)]
                finally:
                    scope.leave()
                try:
                    entries.add(entry)
                except (EncodeError, MessageTooLarge) as exc:
                    entries.add(["error", error_info(exc)])
            # A callback during the batch moved the request id on: the reply carries the last one.
            rid = yield from self._end_turn(conversation)
            closed = True
        finally:
            if not closed:
                conversation.close()
        return entries.message(*p.results(rid))

    # -------------------------------------------------------------------------------- streams

    def _open_stream(self, lane: Lane, request: p.Stream) -> Steps:
        conversation = lane.conversation
        conversation.open(request.id)
        scope = call_context.enter(request.meta)
        lane.stream_context = scope.context
        try:
            fn = self.resolver.resolve(request.module, request.function)
            args, kwargs = self._adapt(fn, request.args, request.kwargs) if lane.tables else (request.args, request.kwargs)
            iterable = self.invoke(lane, fn, args, kwargs)
            if is_awaitable(iterable):  # an async def that returns what to iterate
                iterable = yield iterable
            if hasattr(type(iterable), "__aiter__"):
                lane.stream, lane.stream_async = iterable.__aiter__(), True
            else:
                lane.stream, lane.stream_async = iter(iterable), False
        except Terminated:
            raise
        except BaseException as exc:
            scope.leave()
            return self._error((yield from self._end_turn(conversation)), exc)
        scope.leave()
        rid = yield from self._end_turn(conversation)
        return (yield from self._pull(lane, rid, request.batch))

    def _next(self, lane: Lane, request: p.Next) -> Steps:
        if lane.stream_error is not None:
            exc, lane.stream_error = lane.stream_error, None
            return self._error(request.id, exc)
        if lane.stream is None:
            return self._error(request.id, ProtocolError("'next' without an open stream"))
        return (yield from self._pull(lane, request.id, request.batch))

    def _pull(self, lane: Lane, rid: int, batch: int) -> Steps:
        # Each item is encoded as it is yielded (entries.py), so what Node receives does not
        # depend on `batch`: an item that cannot be sent ends the stream after the items before
        # it, as an exception in the generator does; the reply ends early at the size limit.
        stream = lane.stream
        assert stream is not None
        entries = Entries(self.max_message_size)
        done = False
        failure: Optional[BaseException] = None  # the reply is this error instead of items
        conversation = lane.conversation
        conversation.open(rid)
        closed = False
        ctx = lane.stream_context
        scope = call_context.resume(ctx) if ctx is not None else call_context.enter(None)
        try:
            while len(entries) < batch and not entries.full:
                if len(entries):
                    entries.freeze_last()
                try:
                    if lane.stream_async:
                        value = yield stream.__anext__()
                    else:
                        value = self.invoke(lane, next, (stream,), {})
                except (StopIteration, StopAsyncIteration):
                    done = True
                    lane.stream = None
                    break
                except Terminated:
                    raise
                except BaseException as exc:
                    lane.stream = None  # a generator that raised is finished; its finally has run
                    if not len(entries):
                        failure = exc
                    else:
                        lane.stream_error = exc
                    break
                try:
                    entries.add(value)
                except (EncodeError, MessageTooLarge) as exc:
                    yield from self._close_stream(lane)
                    if not len(entries):
                        failure = exc
                    else:
                        lane.stream_error = exc
                    break
            rid = yield from self._end_turn(conversation)
            closed = True
        finally:
            scope.leave()
            if not closed:
                conversation.close()
        if failure is not None:
            return self._error(rid, failure)
        return entries.message(*p.items(rid, done))

    def _close(self, lane: Lane, request: p.Close) -> Steps:
        conversation = lane.conversation
        conversation.open(request.id)  # the generator's finally runs here
        try:
            yield from self._forget_stream(lane)
        except Terminated:
            raise
        except BaseException as exc:
            return self._error((yield from self._end_turn(conversation)), exc)
        rid = yield from self._end_turn(conversation)
        return self._encode(p.closed(rid), rid)

    def _forget_stream(self, lane: Lane) -> Steps:
        """Drop the open stream, closing its iterator (its ``finally`` runs); raises what closing raised."""
        lane.stream_error = None
        stream, lane.stream = lane.stream, None
        ctx, lane.stream_context = lane.stream_context, None
        if stream is None:
            return
        # The generator's finally runs in its call's context, as its body did.
        scope = call_context.resume(ctx) if ctx is not None else call_context.enter(None)
        try:
            if lane.stream_async:
                aclose = getattr(stream, "aclose", None)
                if callable(aclose):
                    yield aclose()
                return
            close = getattr(stream, "close", None)
            if callable(close):
                self.invoke(lane, close, (), {})
        finally:
            scope.leave()

    def _close_stream(self, lane: Lane) -> Steps:
        """Close the open stream before another request replaces it (PROTOCOL.md)."""
        if lane.stream is None and lane.stream_error is None:
            return
        try:
            yield from self._forget_stream(lane)
        except Terminated:
            raise
        except BaseException:
            # Nobody waits for this stream any more: its failure to close goes to the log.
            sys.stderr.write("piton: closing the open stream raised:\n" + traceback.format_exc())

    # ------------------------------------------------------------------------------- encoding

    def _encode_checked(self, envelope: list) -> List[Buffer]:
        frames = encode(envelope)
        size = frames_size(frames)
        if size > self.max_message_size:
            raise self._reply_too_large(size)
        return frames

    def _reply_too_large(self, size: int) -> MessageTooLarge:
        return MessageTooLarge(
            f"reply of {size} bytes exceeds the worker's maximum message size of "
            f"{self.max_message_size} bytes"
        )

    def _encode(self, envelope: list, rid: int) -> List[Buffer]:
        try:
            return self._encode_checked(envelope)
        except (EncodeError, MessageTooLarge) as exc:
            return self._error(rid, exc)

    def _error(self, rid: int, exc: BaseException) -> List[Buffer]:
        try:
            return encode(p.error(rid, error_info(exc)))
        except EncodeError:  # error_info holds only strings, but a str subclass may misbehave
            return encode(p.error(rid, {"type": "EncodeError", "message": "cannot encode error", "traceback": ""}))


#: The requests that run user code: the control lane may cancel them.
_RUNS_USER_CODE = (p.Call, p.Stream, p.Next, p.Close, p.Batch)

#: Results a sync function commonly returns, none of them awaitable: checked before is_awaitable.
_PLAIN_RESULTS = frozenset({type(None), bool, int, float, str, bytes, list, dict, tuple})


async def _first(outputs: Any) -> Any:
    """The one output of an ``async def`` batched function's call of one input."""
    return (await outputs)[0]
