"""The call a piece of Python code runs for, as that code sees it (PROTOCOL.md, "Call context").

``from piton import context``; while a call runs, ``context()`` gives its :class:`CallContext`:
its ``call_id``, the caller's W3C trace context (``trace_id``, ``span_id``, ``tracestate``,
``baggage``) when the call was made inside an OpenTelemetry span in Node, and ``values``, the
call's ``context`` option. It lives in a :mod:`contextvars` variable, so it is right in async code
and in threads started with ``contextvars.copy_context()``, whatever else runs alongside.

Three things follow it, each costing nothing for calls that carry no trace context:

- **OpenTelemetry.** When the call carries a trace context and ``opentelemetry-api`` is installed,
  the caller's span context is made current while the call runs, so a span the function (or an
  instrumentation library) starts is a child of the Node call's span. ``opentelemetry`` is
  imported on the first traced call only, never when it is not installed.
- **logging.** Every ``logging.LogRecord`` made while a call runs has ``call_id`` and ``trace_id``
  attributes (None outside calls), so a formatter can include them (``%(call_id)s``).
- **print.** A line written to ``sys.stdout``/``sys.stderr`` by Python code reaches Node with the
  id of the call that wrote it: the worker writes a marker line (:data:`MARKER`, which the pool
  takes out) before the first line of a different call. Output written by C code straight to the
  file descriptors, and a line begun by one call and finished by another, keep the last call's id.
"""
from __future__ import annotations

import contextvars
import io
import itertools
import logging
import os
from typing import Any, Callable, Dict, Mapping, Optional, TextIO

from .protocol import Meta

__all__ = ["CallContext", "context", "MARKER"]

#: Starts a marker line on stdout and stderr: ``\\x1epiton-call <call_id> <trace_id or ->``. The
#: ASCII record separator does not start a line users print.
MARKER = "\x1epiton-call"


class CallContext:
    """One call as its Python code sees it. Read-only."""

    __slots__ = ("call_id", "trace_id", "span_id", "trace_flags", "tracestate", "baggage", "values")

    def __init__(self, call_id: str, meta: Optional[Meta]) -> None:
        self.call_id = call_id
        self.trace_id: Optional[str] = None
        self.span_id: Optional[str] = None
        self.trace_flags: Optional[int] = None
        self.tracestate: Optional[str] = None
        self.baggage: Optional[str] = None
        self.values: Mapping[str, Any] = _EMPTY
        if meta is not None:
            if meta.traceparent is not None:
                parsed = _parse_traceparent(meta.traceparent)
                if parsed is not None:
                    self.trace_id, self.span_id, self.trace_flags = parsed
                    self.tracestate = meta.tracestate
                    self.baggage = meta.baggage
            if meta.values is not None:
                self.values = _ReadOnly(meta.values)

    def __repr__(self) -> str:
        return f"CallContext(call_id={self.call_id!r}, trace_id={self.trace_id!r}, values={dict(self.values)!r})"


class _ReadOnly(dict):
    """The call's values: a dict that refuses writes (they would not reach Node)."""

    def _refuse(self, *_: Any, **__: Any) -> None:
        raise TypeError("a call's context values are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]


_EMPTY: Mapping[str, Any] = _ReadOnly()
_current: contextvars.ContextVar[Optional[CallContext]] = contextvars.ContextVar("piton_call", default=None)
_ids = itertools.count(1)
#: What every call id of this process starts with: its pid.
_prefix = f"{os.getpid()}-"


def context() -> CallContext:
    """The running call's context. Raises LookupError outside a call."""
    current = _current.get()
    if current is None:
        raise LookupError("piton.context() is available only while a call from Node runs")
    return current


def _parse_traceparent(value: str) -> Optional[tuple]:
    # version-traceid-spanid-flags (W3C Trace Context, level 1); anything else is ignored.
    parts = value.split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[3]) != 2:
        return None
    try:
        int(parts[1], 16), int(parts[2], 16)
        return parts[1], parts[2], int(parts[3], 16)
    except ValueError:
        return None


def after_fork() -> None:
    """A forked interpreter's call ids carry its own pid."""
    global _ids, _prefix
    _ids = itertools.count(1)
    _prefix = f"{os.getpid()}-"


class Scope:
    """Enters a call's context (and its OpenTelemetry context, when traced) and leaves it."""

    __slots__ = ("context", "_token", "_otel_token")

    def __init__(self, ctx: CallContext) -> None:
        self.context = ctx
        self._token = _current.set(ctx)
        self._otel_token = _otel_attach(ctx) if ctx.trace_id is not None else None

    def leave(self) -> None:
        if self._otel_token is not None:
            _otel_detach(self._otel_token)
        try:
            _current.reset(self._token)
        except ValueError:
            # Left in a copy of the context it was entered in (an awaited call's task before
            # Python 3.11): what it was before is what it is again.
            _current.set(self._token.old_value if self._token.old_value is not contextvars.Token.MISSING else None)


def enter(meta: Optional[Meta]) -> Scope:
    """A new call's scope: a fresh call id, and the meta it came with."""
    if meta is not None:
        return Scope(CallContext(f"{_prefix}{next(_ids)}", meta))
    # Most calls carry no meta: the same objects, made without running their __init__ (two Python
    # frames less on every plain call's path; bench/README.md, "Where the rest of the latency gap
    # went"). Every slot of both is set here: keep this in step with their __init__.
    ctx = _new(CallContext)
    ctx.call_id = f"{_prefix}{next(_ids)}"
    ctx.trace_id = ctx.span_id = ctx.trace_flags = ctx.tracestate = ctx.baggage = None
    ctx.values = _EMPTY
    scope = _new(Scope)
    scope.context = ctx
    scope._token = _current.set(ctx)
    scope._otel_token = None
    return scope


_new = object.__new__


def resume(ctx: CallContext) -> Scope:
    """The scope of a call that goes on (a stream pulled again)."""
    return Scope(ctx)


# ------------------------------------------------------------------------------- OpenTelemetry

_otel: Optional[Dict[str, Callable[..., Any]]] = None  # None: not looked for yet; {}: not installed


def _load_otel() -> Dict[str, Callable[..., Any]]:
    global _otel
    if _otel is None:
        try:
            from opentelemetry import context as otel_context
            from opentelemetry.baggage.propagation import W3CBaggagePropagator
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError:
            _otel = {}
        else:
            trace_context, baggage = TraceContextTextMapPropagator(), W3CBaggagePropagator()

            def extract(carrier: Dict[str, str]) -> Any:
                return baggage.extract(carrier, context=trace_context.extract(carrier))

            _otel = {"extract": extract, "attach": otel_context.attach, "detach": otel_context.detach}
    return _otel


def _otel_attach(ctx: CallContext) -> Any:
    otel = _load_otel()
    if not otel:
        return None
    carrier = {"traceparent": f"00-{ctx.trace_id}-{ctx.span_id}-{ctx.trace_flags:02x}"}
    if ctx.tracestate:
        carrier["tracestate"] = ctx.tracestate
    if ctx.baggage:
        carrier["baggage"] = ctx.baggage
    return otel["attach"](otel["extract"](carrier))


def _otel_detach(token: Any) -> None:
    _load_otel()["detach"](token)


# ------------------------------------------------------------------------------------ logging


def install_log_attributes() -> None:
    """Every LogRecord gets ``call_id`` and ``trace_id`` (None outside a call)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_piton", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        current = _current.get()
        record.call_id = current.call_id if current is not None else None
        record.trace_id = current.trace_id if current is not None else None
        return record

    factory._piton = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# ------------------------------------------------------------------------------------- output


class AttributedOutput(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` for the worker: what a call writes is preceded, when the call
    differs from the last writer's, by a marker line naming it (see the module's doc)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self._last: Optional[CallContext] = None
        self._at_line_start = True

    def write(self, text: str) -> int:  # type: ignore[override]
        if not text:
            return 0
        current = _current.get()
        if current is not self._last and self._at_line_start:
            if current is None:
                self._inner.write(f"{MARKER} - -\n")
            else:
                self._inner.write(f"{MARKER} {current.call_id} {current.trace_id or '-'}\n")
            self._last = current
        self._at_line_start = text.endswith("\n")
        return self._inner.write(text)

    def flush(self) -> None:
        self._inner.flush()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._inner.encoding

    @property
    def errors(self) -> Optional[str]:  # type: ignore[override]
        return self._inner.errors

    @property
    def buffer(self) -> Any:
        return self._inner.buffer

    @property
    def line_buffering(self) -> bool:
        return getattr(self._inner, "line_buffering", False)

    def reconfigure(self, **kwargs: Any) -> None:
        self._inner.reconfigure(**kwargs)  # type: ignore[attr-defined]
