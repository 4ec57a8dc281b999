"""Received tables as the frames a function's parameters ask for.

An Arrow table from Node arrives as a ``pyarrow.Table`` (a vector as a ``pyarrow.Array``). A
parameter annotated with a pandas or polars type gets that type instead, converted on the way in::

    def summarize(sales: pd.DataFrame) -> pd.DataFrame:   # a pandas frame, from Node's Table
    def top(scores: pl.Series, n: int) -> pl.Series:       # a polars Series, from Node's Vector

``pd.DataFrame`` gets ``table.to_pandas()`` (the index restored from pandas metadata, if the
table was a pandas frame once), ``pd.Series`` ``array.to_pandas()``, ``pl.DataFrame`` and
``pl.Series`` ``polars.from_arrow(...)``; ``Optional[...]`` of these too. Any other parameter, and
a table nested inside another value, stays pyarrow. Only a call whose arguments hold a table pays
for this: the handler asks only then, and a function's annotations are read once.
"""

from __future__ import annotations

import inspect
import sys
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["adapt"]

Convert = Callable[[Any], Any]

#: At most this many functions' plans are kept (a module's __getattr__ may make callables at will).
_MAX_PLANS = 1024


class _Plan:
    """What to convert, by parameter: positional parameters in order, then by name."""

    __slots__ = ("positional", "var_positional", "by_name", "var_keyword")

    def __init__(self) -> None:
        self.positional: List[Optional[Convert]] = []
        self.var_positional: Optional[Convert] = None
        self.by_name: Dict[str, Convert] = {}
        self.var_keyword: Optional[Convert] = None


#: A function's plan, or None when none of its parameters asks for a frame.
_plans: Dict[Any, Optional[_Plan]] = {}


def adapt(fn: Callable[..., Any], args: List[Any], kwargs: Dict[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
    """``args`` and ``kwargs`` with each received table that a parameter of ``fn`` annotates as
    a pandas or polars type converted to it."""
    try:
        plan = _plans[fn]
    except KeyError:
        plan = _plan(fn)
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
        _plans[fn] = plan
    except TypeError:  # an unhashable callable object: no plan is kept for it
        plan = _plan(fn)
    if plan is None:
        return args, kwargs
    converted = list(args)
    for i, value in enumerate(converted):
        convert = plan.positional[i] if i < len(plan.positional) else plan.var_positional
        if convert is not None:
            converted[i] = convert(value)
    named = dict(kwargs)
    for name, value in named.items():
        convert = plan.by_name.get(name, plan.var_keyword)
        if convert is not None:
            named[name] = convert(value)
    return converted, named


def _plan(fn: Callable[..., Any]) -> Optional[_Plan]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    namespace = _namespace(fn)
    plan = _Plan()
    found = False
    for parameter in signature.parameters.values():
        convert = _converter(_resolve(parameter.annotation, namespace))
        found = found or convert is not None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            plan.positional.append(convert)
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and convert is not None:
                plan.by_name[parameter.name] = convert
        elif parameter.kind is parameter.VAR_POSITIONAL:
            plan.var_positional = convert
        elif parameter.kind is parameter.KEYWORD_ONLY:
            if convert is not None:
                plan.by_name[parameter.name] = convert
        else:
            plan.var_keyword = convert
    return plan if found else None


def _namespace(fn: Callable[..., Any]) -> Dict[str, Any]:
    """Where a string annotation (``from __future__ import annotations``) is looked up."""
    unwrapped = inspect.unwrap(fn) if callable(fn) else fn
    namespace = getattr(unwrapped, "__globals__", None)
    if isinstance(namespace, dict):
        return namespace
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    return vars(module) if module is not None else {}


def _resolve(annotation: Any, namespace: Dict[str, Any]) -> Any:
    # A quoted annotation in a module with `from __future__ import annotations` is a string twice.
    for _ in range(2):
        if not isinstance(annotation, str):
            break
        try:
            annotation = eval(annotation, namespace)  # noqa: S307 - the function's own annotation, in its own module
        except Exception:
            return None
    return annotation


def _converter(hint: Any) -> Optional[Convert]:
    """How to turn a received table into what ``hint`` names, or None if it names no frame type."""
    if hint is None or hint is inspect.Parameter.empty:
        return None
    origin = typing.get_origin(hint)
    if origin is typing.Union or type(hint).__name__ == "UnionType":  # Optional[X], X | None
        converters = [c for c in (_converter(arg) for arg in typing.get_args(hint)) if c is not None]
        return converters[0] if len(converters) == 1 else None
    if origin is typing.Annotated:
        return _converter(typing.get_args(hint)[0])
    pd = sys.modules.get("pandas")
    if pd is not None and hint is pd.DataFrame:
        return _to_pandas_frame
    if pd is not None and hint is pd.Series:
        return _to_pandas_series
    pl = sys.modules.get("polars")
    if pl is not None and hint is pl.DataFrame:
        return _to_polars_frame
    if pl is not None and hint is pl.Series:
        return _to_polars_series
    return None


def _pyarrow() -> Any:
    # A received table was decoded by pyarrow, so it is imported whenever a converter runs.
    return sys.modules["pyarrow"]


def _to_pandas_frame(value: Any) -> Any:
    return value.to_pandas() if isinstance(value, _pyarrow().Table) else value


def _to_pandas_series(value: Any) -> Any:
    return value.to_pandas() if isinstance(value, _pyarrow().Array) else value


def _to_polars_frame(value: Any) -> Any:
    return sys.modules["polars"].from_arrow(value) if isinstance(value, _pyarrow().Table) else value


def _to_polars_series(value: Any) -> Any:
    return sys.modules["polars"].from_arrow(value) if isinstance(value, _pyarrow().Array) else value
