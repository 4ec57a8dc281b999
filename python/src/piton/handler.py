"""Answering requests: frames in, frames out. No sockets here, so it is testable in-process.

User code runs only inside :meth:`Handler.handle`, with the :class:`~piton.conversation.Conversation`
open (so that it may call back into Node and report progress: its questions go out as replies, and
the reply that ends the request answers the latest request); whatever it raises becomes an ``error`` reply
(``SystemExit`` and ``KeyboardInterrupt`` raised by a called function included: they are
reported, the interpreter stays). Only :class:`~piton.errors.Terminated`, raised by the
worker's own SIGTERM handler, passes through.
"""

from __future__ import annotations

import enum
import os
import sys
import traceback
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple


from . import __version__
from . import call_context
from .batching import BatchedFunction
from . import protocol as p
from .protocol import DEFAULT_MAX_MESSAGE_SIZE
from . import codec
from .codec import Buffer, decode, encode, frames_size
from .conversation import CURRENT, Conversation
from .resolver import Resolver
from .entries import Entries
from .errors import EncodeError, MessageTooLarge, MissingDependency, ProtocolError, Terminated, error_info

__all__ = ["Handler", "Action"]


class Action(enum.Enum):
    """What the serve loop does after sending a reply."""

    CONTINUE = "continue"
    STOP = "stop"  # exit code 0
    VERSION_MISMATCH = "version-mismatch"  # exit code 2


class Handler:
    """The request/reply logic of one worker: the resolver, the size limit and the open stream."""

    def __init__(self, resolver: Resolver, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 conversation: Conversation = CURRENT) -> None:
        self.resolver = resolver
        self.max_message_size = max_message_size
        self.conversation = conversation
        conversation.max_message_size = max_message_size
        # The open stream, if any; at most one per worker (PROTOCOL.md, "stream").
        self._stream: Optional[Iterator[Any]] = None
        # An exception the open stream raised after yielding items that were already sent in the
        # same batch: it closed the stream and is the answer to the next `next`.
        self._stream_error: Optional[BaseException] = None
        # The open stream's call, re-entered on every pull (call_context.py).
        self._stream_context: Optional[call_context.CallContext] = None
        # The request being answered holds Arrow tables among its arguments.
        self._tables = False

    # ------------------------------------------------------------------------------ entry point

    def handle(self, frames: Sequence[Buffer]) -> Tuple[List[Buffer], Action]:
        """Answer one request message; never raises except :class:`Terminated`."""
        # The serve loop receives frame 0 as bytes: a one-frame message is its length.
        size = len(frames[0]) if len(frames) == 1 and type(frames[0]) is bytes else frames_size(frames)
        if size > self.max_message_size:
            exc = MessageTooLarge(
                f"request of {size} bytes exceeds the worker's maximum message size of "
                f"{self.max_message_size} bytes"
            )
            return self._error(p.peek_id(frames[0]) if frames else 0, exc), Action.CONTINUE
        tables_before = codec.tables_decoded
        try:
            envelope = decode(frames)
        except (ProtocolError, MissingDependency) as exc:
            # A message that does not decode as a whole (an unhashable map key deep inside) may
            # still start with a readable id: answering with it fails only that request, while
            # REP routes the reply to its sender, so no other caller can receive it.
            return self._error(p.peek_id(frames[0]) if frames else 0, exc), Action.CONTINUE
        # Arguments that hold tables go to the functions' frame annotations (table_hints.py).
        self._tables = codec.tables_decoded != tables_before
        # Most requests are calls without kwargs: answered without building a Call. Anything that
        # is not plainly well-formed goes the general way, with its checks and messages.
        if type(envelope) is list and len(envelope) == 6 and envelope[0] == "call" and envelope[5] is None:
            _, call_id, module, function, args, _ = envelope
            if type(call_id) is int and call_id >= 0 and type(module) is str and type(function) is str \
                    and type(args) is list:
                return self._plain_call(call_id, module, function, args), Action.CONTINUE
        rid = p.request_id(envelope)
        try:
            request = p.parse_request(envelope)
        except ProtocolError as exc:
            return self._error(rid or p.peek_id(frames[0]), exc), Action.CONTINUE
        return self._dispatch(request)

    def _dispatch(self, request: p.Request) -> Tuple[List[Buffer], Action]:
        if isinstance(request, p.Call):
            self._close_stream()
            return self._call(request), Action.CONTINUE
        if isinstance(request, p.Stream):
            self._close_stream()
            return self._open_stream(request), Action.CONTINUE
        if isinstance(request, p.Next):
            return self._next(request), Action.CONTINUE
        if isinstance(request, p.Close):
            return self._close(request), Action.CONTINUE
        if isinstance(request, p.Batch):
            self._close_stream()
            return self._batch(request), Action.CONTINUE
        if isinstance(request, p.Hello):
            return self._hello(request)
        if isinstance(request, p.Stop):
            self._close_stream()
            return self._encode(p.bye(request.id), request.id), Action.STOP
        if isinstance(request, (p.Return, p.Throw, p.Resume)):
            kind = type(request).__name__.lower()
            exc = ProtocolError(f"'{kind}' answers a callback or progress message, and none is pending")
            return self._error(request.id, exc), Action.CONTINUE
        raise AssertionError(f"unhandled request {request!r}")  # parse_request returns only the above

    # ---------------------------------------------------------------------------------- kinds

    def _hello(self, request: p.Hello) -> Tuple[List[Buffer], Action]:
        if request.protocol != p.PROTOCOL_VERSION or type(request.protocol) is not int:
            exc = ProtocolError(
                f"protocol version mismatch: Node speaks {request.protocol!r}, "
                f"this worker (piton {__version__}) speaks {p.PROTOCOL_VERSION}"
            )
            return self._error(request.id, exc), Action.VERSION_MISMATCH
        self.conversation.exposed = frozenset(request.expose)
        reply = p.ready(request.id, os.getpid(), sys.version, __version__)
        return self._encode(reply, request.id), Action.CONTINUE

    def _plain_call(self, rid: int, module: str, function: str, args: List[Any]) -> List[Buffer]:
        """A ``call`` without kwargs: what :meth:`_dispatch` and :meth:`_call` do for it."""
        if self._stream is not None or self._stream_error is not None:
            self._close_stream()
        conversation = self.conversation
        conversation.rid = rid  # open(rid), inlined: this is every plain call's path
        scope = call_context.enter(None)
        try:
            fn = self.resolver.resolve(module, function)
            if type(fn) is BatchedFunction:
                return self._batched_call(fn, args, {}, False)
            if self._tables:
                args, _ = self._adapt(fn, args, {})
            result = fn(*args)
        except Terminated:
            raise
        except BaseException as exc:
            return self._error(conversation.close(), exc)
        finally:
            scope.leave()
        rid = conversation.close()
        try:
            frames = encode(["ok", rid, result])
        except EncodeError as exc:  # MissingDependency included
            return self._error(rid, exc)
        size = len(frames[0]) if len(frames) == 1 else frames_size(frames)
        if size > self.max_message_size:
            return self._error(rid, self._reply_too_large(size))
        return frames

    def _call(self, request: p.Call) -> List[Buffer]:
        self.conversation.open(request.id, request.progress)
        scope = call_context.enter(request.meta)
        try:
            fn = self.resolver.resolve(request.module, request.function)
            if type(fn) is BatchedFunction:
                return self._batched_call(fn, request.args, request.kwargs, request.batched)
            if request.batched:
                raise TypeError(f"{request.module}.{request.function} is not a batched function (piton.batched)")
            args, kwargs = self._adapt(fn, request.args, request.kwargs) if self._tables else (request.args, request.kwargs)
            result = fn(*args, **kwargs)
        except Terminated:
            raise
        except BaseException as exc:
            return self._error(self.conversation.close(), exc)
        finally:
            scope.leave()
        rid = self.conversation.close()
        return self._encode(p.ok(rid, result), rid)

    def _batched_call(self, fn: BatchedFunction, args: List[Any], kwargs: Dict[str, Any], merged: bool) -> List[Buffer]:
        """A call to a batched function: one input (Node does not know yet, or would not merge
        this call), or the inputs of several calls; the reply tells Node the function's policy."""
        if kwargs:
            raise TypeError(f"batched function {fn.__name__} takes one input per call and no keyword arguments")
        if merged:
            if len(args) != 1 or not isinstance(args[0], list):
                raise ProtocolError("a merged call to a batched function carries one list of inputs")
            result: Any = fn.run(args[0])
        else:
            if len(args) != 1:
                raise TypeError(f"batched function {fn.__name__} takes one input per call, got {len(args)} arguments")
            result = fn.run([args[0]])[0]
        rid = self.conversation.close()
        return self._encode(p.ok_batched(rid, result, fn.policy), rid)

    def _batch(self, request: p.Batch) -> List[Buffer]:
        # Each result is encoded as soon as its call returns (entries.py): one that cannot be
        # encoded, or is too large alone, becomes that call's error entry. Once the results
        # reach the size limit the batch ends: the calls not run are Node's to send again.
        entries = Entries(self.max_message_size)
        self.conversation.open(request.id)
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
                        entry = ["ok", fn.run([call.args[0]])[0]]  # one input, as its own call would
                    else:
                        args, kwargs = self._adapt(fn, call.args, call.kwargs) if self._tables else (call.args, call.kwargs)
                        entry = ["ok", fn(*args, **kwargs)]
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
        finally:
            # A callback during the batch moved the request id on: the reply carries the last one.
            rid = self.conversation.close()
        return entries.message(*p.results(rid))

    @staticmethod
    def _adapt(fn: Any, args: List[Any], kwargs: Dict[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
        from .table_hints import adapt  # only requests that carry tables need it

        return adapt(fn, args, kwargs)

    # -------------------------------------------------------------------------------- streams

    def _open_stream(self, request: p.Stream) -> List[Buffer]:
        self.conversation.open(request.id)
        scope = call_context.enter(request.meta)
        self._stream_context = scope.context
        try:
            fn = self.resolver.resolve(request.module, request.function)
            args, kwargs = self._adapt(fn, request.args, request.kwargs) if self._tables else (request.args, request.kwargs)
            iterable = fn(*args, **kwargs)
            self._stream = iter(iterable)
        except Terminated:
            raise
        except BaseException as exc:
            return self._error(self.conversation.close(), exc)
        finally:
            scope.leave()
        return self._pull(self.conversation.close(), request.batch)

    def _next(self, request: p.Next) -> List[Buffer]:
        if self._stream_error is not None:
            exc, self._stream_error = self._stream_error, None
            return self._error(request.id, exc)
        if self._stream is None:
            return self._error(request.id, ProtocolError("'next' without an open stream"))
        return self._pull(request.id, request.batch)

    def _pull(self, rid: int, batch: int) -> List[Buffer]:
        # Each item is encoded as it is yielded (entries.py), so what Node receives does not
        # depend on `batch`: an item that cannot be sent ends the stream after the items before
        # it, as an exception in the generator does; the reply ends early at the size limit.
        assert self._stream is not None
        entries = Entries(self.max_message_size)
        done = False
        failure: Optional[BaseException] = None  # the reply is this error instead of items
        self.conversation.open(rid)
        scope = call_context.resume(self._stream_context) if self._stream_context is not None else call_context.enter(None)
        try:
            while len(entries) < batch and not entries.full:
                if len(entries):
                    entries.freeze_last()
                try:
                    value = next(self._stream)
                except StopIteration:
                    done = True
                    self._stream = None
                    break
                except Terminated:
                    raise
                except BaseException as exc:
                    self._stream = None  # a generator that raised is finished; its finally has run
                    if not len(entries):
                        failure = exc
                    else:
                        self._stream_error = exc
                    break
                try:
                    entries.add(value)
                except (EncodeError, MessageTooLarge) as exc:
                    self._close_stream()
                    if not len(entries):
                        failure = exc
                    else:
                        self._stream_error = exc
                    break
        finally:
            scope.leave()
            rid = self.conversation.close()
        if failure is not None:
            return self._error(rid, failure)
        return entries.message(*p.items(rid, done))

    def _close(self, request: p.Close) -> List[Buffer]:
        self.conversation.open(request.id)  # the generator's finally runs here
        try:
            self._forget_stream()
        except Terminated:
            raise
        except BaseException as exc:
            return self._error(self.conversation.close(), exc)
        rid = self.conversation.close()
        return self._encode(p.closed(rid), rid)

    def _forget_stream(self) -> None:
        """Drop the open stream, closing its iterator (its ``finally`` runs); raises what closing raised."""
        self._stream_error = None
        stream, self._stream = self._stream, None
        ctx, self._stream_context = self._stream_context, None
        if stream is None:
            return
        # The generator's finally runs in its call's context, as its body did.
        scope = call_context.resume(ctx) if ctx is not None else call_context.enter(None)
        try:
            _close_iterator(stream)
        finally:
            scope.leave()

    def _close_stream(self) -> None:
        """Close the open stream before another request replaces it (PROTOCOL.md)."""
        try:
            self._forget_stream()
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


def _close_iterator(stream: Optional[Iterator[Any]]) -> None:
    close = getattr(stream, "close", None)
    if callable(close):
        close()
