"""Dynamic batching: a function that takes a list of inputs and returns a list of outputs, called
from Node one input at a time (PROTOCOL.md, "Dynamic batching").

    @piton.batched(max_size=64, max_wait_ms=2)
    def predict(rows):            # rows: the inputs of up to 64 calls, or one array of their rows
        return model.predict(rows)

Node calls it as ``pool.call('model', 'predict', [row])``; the pool merges the calls waiting for
it into one Python call of up to ``max_size`` inputs, waiting at most ``max_wait_ms`` for more,
and gives each call its own output. When every input is a numpy array of one dtype and one
trailing shape, the function receives them concatenated into one array (a model's batch of
rows), and its outputs are split back by each input's length; otherwise it receives the list of
inputs. Either way it must return one output per row (or per input): anything else fails every
call of that batch with ``BatchError``. An ``async def`` function is awaited like any other
(with ``concurrency`` > 1, batches of it overlap while they await). Called from Python, the function is the plain function.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

from .aio import is_awaitable
from .errors import BatchError

__all__ = ["batched", "BatchedFunction", "BatchError"]


class BatchedFunction:
    """What ``@batched`` makes: the function, callable as it was, with its batching policy."""

    def __init__(self, fn: Callable[[Any], Sequence[Any]], max_size: int, max_wait_ms: float) -> None:
        functools.update_wrapper(self, fn)
        self.__wrapped__ = fn
        self.__module__ = getattr(fn, "__module__", None)  # where the resolver looks for its home
        self.max_size = max_size
        self.max_wait_ms = max_wait_ms
        #: What Node is told with each reply, so that it merges the calls that follow.
        self.policy: Dict[str, Any] = {"maxSize": max_size, "maxWaitMs": max_wait_ms}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def run(self, inputs: List[Any]) -> Any:
        """One output per input: the inputs concatenated when they are arrays of one kind. For an
        ``async def`` function, an awaitable of them."""
        rows = _stacked_rows(inputs)
        if rows is None:
            outputs = self.__wrapped__(list(inputs))
            if is_awaitable(outputs):
                return self._awaited(outputs, len(inputs), None)
            return self._per_input(outputs, len(inputs), None)
        stacked, lengths = rows
        outputs = self.__wrapped__(stacked)
        if is_awaitable(outputs):
            return self._awaited(outputs, len(inputs), lengths)
        return self._per_input(outputs, len(inputs), lengths)

    async def _awaited(self, outputs: Any, count: int, lengths: Optional[List[int]]) -> List[Any]:
        return self._per_input(await outputs, count, lengths)

    def _per_input(self, outputs: Any, count: int, lengths: Optional[List[int]]) -> List[Any]:
        """The function's outputs as one per input: split back by each input's rows when the
        inputs were concatenated (``lengths``)."""
        if lengths is None:
            _check_length(outputs, count, "inputs", self.__name__)
            return list(outputs)
        total = sum(lengths)
        _check_length(outputs, total, "rows", self.__name__)
        split: List[Any] = []
        at = 0
        for n in lengths:
            split.append(outputs[at:at + n])
            at += n
        return split


def _check_length(outputs: Any, expected: int, of: str, name: str) -> None:
    try:
        got = len(outputs)
    except TypeError:
        raise BatchError(f"batched function {name} must return a sequence of {expected} outputs (one per {of[:-1]}), "
                         f"got {type(outputs).__name__}") from None
    if got != expected:
        raise BatchError(f"batched function {name} returned {got} outputs for {expected} {of}")


def _stacked_rows(inputs: List[Any]):
    """``(one array, each input's length)`` when every input is a numpy array of one dtype and one
    trailing shape (at least 1-d); else None. numpy is looked at only if something imported it."""
    np = sys.modules.get("numpy")
    if np is None or not inputs:
        return None
    first = inputs[0]
    if type(first) is not np.ndarray or first.ndim < 1:
        return None
    for item in inputs:
        if type(item) is not np.ndarray or item.dtype != first.dtype or item.shape[1:] != first.shape[1:]:
            return None
    lengths = [len(item) for item in inputs]
    return (first if len(inputs) == 1 else np.concatenate(inputs)), lengths


def batched(max_size: int = 64, max_wait_ms: float = 2) -> Callable[[Callable[[Any], Sequence[Any]]], BatchedFunction]:
    """Marks a function that takes a list of inputs for dynamic batching (see the module's doc)."""
    if type(max_size) is not int or max_size < 1:
        raise ValueError(f"max_size must be an integer >= 1, got {max_size!r}")
    if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, (int, float)) or not 0 <= max_wait_ms <= 60_000:
        raise ValueError(f"max_wait_ms must be a number of ms from 0 to 60000, got {max_wait_ms!r}")

    def decorate(fn: Callable[[Any], Sequence[Any]]) -> BatchedFunction:
        if not callable(fn):
            raise TypeError(f"@batched decorates a function, got {type(fn).__name__}")
        return BatchedFunction(fn, max_size, max_wait_ms)

    return decorate
