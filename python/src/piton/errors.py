"""Exceptions the worker raises on its own, and how any exception becomes an error reply.

The names of these classes are part of the wire protocol: an ``error`` reply carries them bare
(``ProtocolError``, not ``piton.errors.ProtocolError``), like Python's built-in exceptions.
"""

from __future__ import annotations

import os
import traceback
from typing import Dict

__all__ = [
    "PitonError",
    "ProtocolError",
    "EncodeError",
    "MessageTooLarge",
    "MissingDependency",
    "NodeError",
    "NotExposedError",
    "error_info",
    "type_name",
]


class PitonError(Exception):
    """Base class of the worker's own errors."""


class ProtocolError(PitonError):
    """A request that does not follow PROTOCOL.md: wrong shape, unknown kind, undecodable bytes,
    or a protocol version this worker does not speak."""


class EncodeError(PitonError, TypeError):
    """A value that the codec cannot put on the wire; the message names its Python type."""


class MissingDependency(EncodeError):
    """A value needs an optional library this interpreter lacks: a DataFrame to send, or an Arrow
    table received, without pyarrow. The message names the library and ends with the command that
    installs it (``install it with: npx piton setup --arrow``), which Node reads back."""

    def __init__(self, dependency: str, what: str, command: str) -> None:
        super().__init__(f"{dependency} is not installed in the worker's Python: {what}; install it with: {command}")
        self.dependency = dependency
        self.command = command


class MessageTooLarge(PitonError):
    """A request or reply whose frames together exceed the worker's ``--max-message-size``."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_BARE_MODULES = {"builtins", __name__}


def type_name(exc: BaseException) -> str:
    """The qualified class name sent as ``type``: bare for built-ins and the worker's own
    errors, ``module.QualName`` for everything else."""
    cls = type(exc)
    if cls.__module__ in _BARE_MODULES:
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a user's __str__ that raises must not take the worker down
        return f"<unprintable {type(exc).__name__} object>"


def _user_traceback(exc: BaseException) -> str:
    # The first frames are the worker's own dispatch code (and, for a coroutine, the event
    # loop's that ran it): the user wants to see theirs.
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and _in_worker(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    try:
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except Exception:
        return f"{type_name(exc)}: {_message(exc)}\n"


def _in_worker(filename: str) -> bool:
    if filename.startswith("uvloop/"):  # uvloop's Cython frames carry their source's relative name
        return True
    directory = os.path.dirname(os.path.abspath(filename))
    return directory == _PACKAGE_DIR or directory == _asyncio_dir()


_ASYNCIO_DIR: "str | None" = None


def _asyncio_dir() -> "str | None":
    """asyncio's directory, once a coroutine has been run (its frames may lead then)."""
    global _ASYNCIO_DIR
    if _ASYNCIO_DIR is None:
        import sys

        asyncio = sys.modules.get("asyncio")
        if asyncio is None or not getattr(asyncio, "__file__", None):
            return None
        _ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
    return _ASYNCIO_DIR


def error_info(exc: BaseException) -> Dict[str, str]:
    """The ``{type, message, traceback}`` map of an ``error`` reply."""
    return {"type": type_name(exc), "message": _message(exc), "traceback": _user_traceback(exc)}


class BatchError(PitonError):
    """A batched function (``piton.batched``) returned something other than one output per input."""


class Terminated(BaseException):
    """Raised by the worker's SIGTERM handler to unwind whatever runs (user code included, its
    ``finally`` blocks run) back to the serve loop, which closes the socket and exits. It derives
    from BaseException so that ``except Exception`` in user code does not swallow it."""


class NodeError(PitonError):
    """A Node function called with ``node.call`` threw. ``name`` is the JavaScript error's name
    (``TypeError``, ``Error``, a class of the user's), ``message`` its message, ``stack`` its
    stack as Node formatted it; ``str(exc)`` is ``"name: message"``."""

    def __init__(self, message: str, name: str = "Error", stack: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.stack = stack

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class NotExposedError(PitonError, LookupError):
    """``node.call`` named a function the pool does not expose; raised before anything is sent."""
