"""Importing an optional library on first need, without taking SIGTERM away from the serving thread.

numpy and pyarrow are optional and costly to import (hundreds of milliseconds), so the worker
imports them only when a value needs them. Both may start threads as they import (numpy's BLAS
pool, pyarrow's allocator and thread pool), and a new thread inherits the signal mask of the
thread that starts it: SIGTERM is blocked meanwhile, so that the kernel keeps delivering it to
the serving thread (PROTOCOL.md, "The worker process").
"""

from __future__ import annotations

import importlib
import signal
import threading
from types import ModuleType
from typing import Optional

__all__ = ["import_optional"]


def import_optional(name: str) -> Optional[ModuleType]:
    """``name`` imported, or None when it is not installed (or cannot be imported)."""
    masked = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}) if masked else None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
