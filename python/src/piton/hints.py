"""What a type hint means on the wire, as JSON: the describer behind ``npx piton types``.

:class:`Describer` turns a Python type hint (``int``, ``list[str]``, a ``TypedDict``, numpy's
``NDArray[np.float64]``, a DataFrame, ...) into the JSON description that ``piton.typegen`` reports
to Node, and reads a callable's parameters and result (``Describer.function``). What a hint *means*
is decided here, following PROTOCOL.md ("Values"); what it *becomes in TypeScript* is decided in
Node (``packages/python-bridge/src/typegen/``). A type is ``{"kind": ...}``; the kinds and their
fields are listed in ``typegen/ir.ts``. Classes that get a name in TypeScript (TypedDict,
NamedTuple, Enum) are ``{"kind": "ref", "id": ...}``, and the describer keeps their descriptions
(defs) so that each is sent once.

A hint that cannot be read or said becomes ``unsupported`` with the reason; describing never
raises.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import datetime as dt
import enum
import inspect
import sys
import types
import typing
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

__all__ = ["Describer", "Json", "first_paragraph"]

Json = Dict[str, Any]

#: Nesting beyond this (a forward reference that names itself, a runaway alias) is unsupported.
_MAX_DEPTH = 64

#: numpy dtypes that cross the wire (PROTOCOL.md, "Arrays (ext 1)").
_DTYPES = ("float64", "float32", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")

#: Classes whose instances become an Arrow table (or vector) in Node, by module prefix and name.
_TABLES = {
    ("pandas", "DataFrame"): False,
    ("pandas", "Series"): True,
    ("polars", "DataFrame"): False,
    ("polars", "Series"): True,
    ("pyarrow", "Table"): False,
    ("pyarrow", "RecordBatch"): False,
    ("pyarrow", "Array"): True,
    ("pyarrow", "ChunkedArray"): True,
}

#: Standard classes the wire refuses, with what to send instead.
_NOT_CARRIED = {
    set: "a set is refused by the wire (no order): return a list",
    frozenset: "a set is refused by the wire (no order): return a list",
    complex: "not carried by the wire",
    dt.date: "only datetime crosses the wire, not date",
    dt.time: "only datetime crosses the wire, not time",
    dt.timedelta: "not carried by the wire: send seconds as a number",
}

_UNION_TYPE = getattr(types, "UnionType", None)
_NONE_TYPE = type(None)


def _unsupported(python: str, reason: str) -> Json:
    return {"kind": "unsupported", "python": python, "reason": reason}


def _type_name(tp: Any) -> str:
    """``decimal.Decimal``, ``int``, ``typing.Callable[[int], str]``: how a message names a hint."""
    if isinstance(tp, type):
        return tp.__qualname__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__qualname__}"
    text = repr(tp)
    return text[len("typing."):] if text.startswith("typing.") else text


def first_paragraph(doc: Optional[str]) -> Optional[str]:
    if not doc:
        return None
    text = inspect.cleandoc(doc).split("\n\n", 1)[0].strip()
    return " ".join(text.split()) or None


class Describer:
    """Describes type hints; remembers the named classes (defs) it met, so that each is sent once.

    ``namespace`` is where a string hint (a forward reference) is looked up: the globals of the
    function whose hints are being read.
    """

    def __init__(self) -> None:
        self.defs: Dict[str, Json] = {}
        self._sent: Set[str] = set()
        self.namespace: Dict[str, Any] = {}

    def new_defs(self) -> List[Json]:
        """The defs met since the last call, in the order they were met."""
        fresh = [d for key, d in self.defs.items() if key not in self._sent]
        self._sent.update(d["id"] for d in fresh)
        return fresh

    # ------------------------------------------------------------------------------- hints

    def describe(self, tp: Any, depth: int = 0) -> Json:
        if depth > _MAX_DEPTH:
            return _unsupported(_type_name(tp), "nested too deeply")
        try:
            return self._describe(tp, depth + 1)
        except Exception as exc:  # a hint object that breaks introspection: never fail the module
            return _unsupported(_type_name(tp), f"could not be read ({type(exc).__name__}: {exc})")

    def _describe(self, tp: Any, depth: int) -> Json:
        if tp is inspect.Parameter.empty or tp is typing.Any or tp is object:
            return {"kind": "unknown"}
        if tp is None or tp is _NONE_TYPE:
            return {"kind": "none"}
        if isinstance(tp, (str, typing.ForwardRef)):
            return self._forward(tp.__forward_arg__ if isinstance(tp, typing.ForwardRef) else tp, depth)
        if tp in (getattr(typing, "NoReturn", None), getattr(typing, "Never", None)):
            return {"kind": "never"}
        if tp is getattr(typing, "LiteralString", None):
            return {"kind": "str"}
        if isinstance(tp, typing.TypeVar):
            if tp.__bound__ is not None:
                return self.describe(tp.__bound__, depth)
            if tp.__constraints__:
                return {"kind": "union", "options": [self.describe(c, depth) for c in tp.__constraints__]}
            return {"kind": "unknown"}
        supertype = getattr(tp, "__supertype__", None)  # typing.NewType
        if supertype is not None and callable(tp):
            return self.describe(supertype, depth)
        if type(tp).__name__ == "TypeAliasType" and hasattr(tp, "__value__"):  # `type X = ...` (3.12)
            return self.describe(tp.__value__, depth)

        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is not None:
            return self._generic(tp, origin, args, depth)
        if isinstance(tp, type):
            return self._class(tp, depth)
        return _unsupported(_type_name(tp), "not a type the generator knows")

    def _forward(self, text: str, depth: int) -> Json:
        try:
            value = eval(text, dict(self.namespace))  # a hint written as a string, in its module's globals
        except Exception as exc:
            return _unsupported(text, f"the hint does not resolve ({type(exc).__name__}: {exc})")
        return self.describe(value, depth)  # a string here is a forward reference quoted twice: depth bounds it

    def _generic(self, tp: Any, origin: Any, args: Tuple[Any, ...], depth: int) -> Json:
        annotated = getattr(typing, "Annotated", None)
        if origin is annotated or origin in _WRAPPERS:
            return self.describe(args[0], depth)
        if origin is typing.Union or (_UNION_TYPE is not None and origin is _UNION_TYPE):
            return {"kind": "union", "options": [self.describe(a, depth) for a in args]}
        if origin is typing.Literal:
            return self._literal(args)
        if origin in (list, abc.Sequence, abc.MutableSequence, abc.Collection, abc.Reversible):
            return {"kind": "list", "items": self.describe(args[0] if args else typing.Any, depth)}
        if origin in (abc.Iterable, abc.Container):
            return {"kind": "iterable", "items": self.describe(args[0] if args else typing.Any, depth)}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"kind": "tuple", "rest": self.describe(args[0], depth)}
            if args == ((),):  # typing.Tuple[()]
                args = ()
            return {"kind": "tuple", "items": [self.describe(a, depth) for a in args]}
        if isinstance(origin, type) and issubclass(origin, tuple) and hasattr(origin, "_fields"):
            return self._class(origin, depth)
        if origin in (dict, abc.Mapping, abc.MutableMapping) or (
            isinstance(origin, type) and issubclass(origin, dict)
        ):
            key = self.describe(args[0], depth) if args else {"kind": "unknown"}
            value = self.describe(args[1], depth) if len(args) > 1 else {"kind": "int"} if origin is typing.Counter else {"kind": "unknown"}
            return {"kind": "dict", "key": key, "value": value}
        if origin in (abc.Iterator, abc.Generator):
            return {"kind": "iterator", "async": False, "items": self.describe(args[0] if args else typing.Any, depth)}
        if origin in (abc.AsyncIterator, abc.AsyncGenerator, abc.AsyncIterable):
            return {"kind": "iterator", "async": True, "items": self.describe(args[0] if args else typing.Any, depth)}
        if origin in (abc.Awaitable, abc.Coroutine):
            return {"kind": "awaitable", "result": self.describe(args[-1] if args else typing.Any, depth)}
        if origin in (set, frozenset, abc.Set, abc.MutableSet):
            return _unsupported(_type_name(tp), _NOT_CARRIED[set])
        if origin is abc.Callable:
            return _unsupported(_type_name(tp), "a function cannot cross the wire")
        if origin is type:
            return _unsupported(_type_name(tp), "a class cannot cross the wire")
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(origin, type) and issubclass(origin, numpy.ndarray):
            return self._ndarray(numpy, args)
        if isinstance(origin, type):  # a generic class of the user's: MyList[int]
            return self._class(origin, depth)
        return _unsupported(_type_name(tp), "not a type the generator knows")

    def _literal(self, values: Sequence[Any]) -> Json:
        out = []
        for value in values:
            literal = _literal_value(value)
            if literal is None:
                return _unsupported(f"Literal[{value!r}]", "a literal value the wire does not carry")
            out.append(literal)
        return {"kind": "literal", "values": out}

    def _ndarray(self, numpy: Any, args: Tuple[Any, ...]) -> Json:
        """``np.ndarray[shape, np.dtype[scalar]]`` (``NDArray[scalar]`` is one): the dtype and,
        when the shape is a tuple of known length, the number of dimensions."""
        ndim: Optional[int] = None
        dtype: Optional[str] = None
        if args:
            shape = args[0]
            if typing.get_origin(shape) is tuple:
                dims = typing.get_args(shape)
                if dims and not (len(dims) == 2 and dims[1] is Ellipsis) and all(d is not Ellipsis for d in dims):
                    ndim = len(dims)
                elif dims == ((),):
                    ndim = 0
        if len(args) > 1:
            dtype_args = typing.get_args(args[1])
            scalar = dtype_args[0] if dtype_args else typing.Any
            if isinstance(scalar, type) and issubclass(scalar, numpy.generic):
                try:
                    dtype = numpy.dtype(scalar).name
                except TypeError:  # an abstract scalar class (np.floating, np.generic): any dtype
                    dtype = None
                if dtype is not None and dtype not in _DTYPES:
                    return _unsupported(f"numpy array of {dtype}",
                                        f"arrays of dtype {dtype} are refused by the wire (supported: {', '.join(_DTYPES)})")
        return {"kind": "ndarray", "dtype": dtype, "ndim": ndim}

    def _class(self, cls: type, depth: int) -> Json:
        if cls is bool:
            return {"kind": "bool"}
        if cls in (int, float, str):
            return {"kind": cls.__name__}
        if cls in (bytes, bytearray, memoryview):
            return {"kind": "bytes"}
        if cls is _NONE_TYPE:
            return {"kind": "none"}
        if issubclass(cls, dt.datetime):
            return {"kind": "datetime"}
        for base, reason in _NOT_CARRIED.items():
            if issubclass(cls, base):
                return _unsupported(_type_name(cls), reason)
        table = self._table(cls)
        if table is not None:
            return table
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            if issubclass(cls, numpy.ndarray):
                return {"kind": "ndarray", "dtype": None, "ndim": None}
            if issubclass(cls, numpy.generic):
                return self._numpy_scalar(numpy, cls)
        if issubclass(cls, enum.Enum):
            return self._def(cls, depth, self._enum)
        if _is_typeddict(cls):
            return self._def(cls, depth, self._typeddict)
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):
            return self._def(cls, depth, self._namedtuple)
        if dataclasses.is_dataclass(cls):
            return _unsupported(_type_name(cls), "a dataclass instance is refused by the wire: send dataclasses.asdict(value)")
        # Subclasses of these encode as their base type (PROTOCOL.md, "Values").
        if issubclass(cls, (str, int, float)):
            return self._class(next(b for b in (str, bool, int, float) if issubclass(cls, b)), depth)
        if issubclass(cls, (list, tuple)):
            return {"kind": "list", "items": {"kind": "unknown"}} if issubclass(cls, list) else {"kind": "tuple", "rest": {"kind": "unknown"}}
        if issubclass(cls, dict):
            return {"kind": "dict", "key": {"kind": "unknown"}, "value": {"kind": "unknown"}}
        if cls in _BARE_ABC:  # `Sequence` with no arguments: as `Sequence[Any]`
            return self._generic(cls, cls, (), depth)
        return _unsupported(_type_name(cls), "instances of this class are not carried by the wire")

    def _table(self, cls: type) -> Optional[Json]:
        for klass in cls.__mro__:
            top = klass.__module__.split(".", 1)[0]
            vector = _TABLES.get((top, klass.__name__))
            if vector is not None:
                return {"kind": "table", "python": _type_name(cls), "vector": vector}
        return None

    def _numpy_scalar(self, numpy: Any, cls: type) -> Json:
        if issubclass(cls, numpy.bool_):
            return {"kind": "bool"}
        if issubclass(cls, numpy.integer):
            return {"kind": "int"}
        if issubclass(cls, numpy.floating):
            return {"kind": "float"}  # a numpy scalar is sent as a plain number
        if issubclass(cls, numpy.str_):
            return {"kind": "str"}
        if issubclass(cls, numpy.bytes_):
            return {"kind": "bytes"}
        return _unsupported(_type_name(cls), "not carried by the wire")

    # -------------------------------------------------------------------------------- defs

    def _def(self, cls: type, depth: int, build: Callable[[type, int], Json]) -> Json:
        key = f"{cls.__module__}.{cls.__qualname__}"
        if key not in self.defs:
            entry: Json = {"id": key, "name": cls.__name__, "module": cls.__module__, "doc": first_paragraph(_own_doc(cls))}
            self.defs[key] = entry  # before its fields: a recursive class refers to itself
            saved = self.namespace
            module = sys.modules.get(cls.__module__)
            if module is not None:
                self.namespace = vars(module)
            try:
                entry.update(build(cls, depth))
            finally:
                self.namespace = saved
        return {"kind": "ref", "id": key}

    def _enum(self, cls: type, depth: int) -> Json:
        members = []
        for name, member in cls.__members__.items():
            literal = _literal_value(member.value)
            members.append({"name": name, "value": literal})
        base = "int" if issubclass(cls, int) else "str" if issubclass(cls, str) else None
        return {"kind": "enum", "members": members, "base": base, "flag": issubclass(cls, enum.Flag)}

    def _typeddict(self, cls: type, depth: int) -> Json:
        hints = _hints(cls)
        required = set(getattr(cls, "__required_keys__", hints.keys() if getattr(cls, "__total__", True) else ()))
        fields = [
            {"name": name, "type": self.describe(hint, depth), "required": name in required}
            for name, hint in hints.items()
        ]
        return {"kind": "typeddict", "fields": fields}

    def _namedtuple(self, cls: type, depth: int) -> Json:
        hints = _hints(cls)
        return {"kind": "namedtuple", "fields": [
            {"name": name, "type": self.describe(hints.get(name, typing.Any), depth)} for name in cls._fields
        ]}

    # ---------------------------------------------------------------------------- callables

    def function(self, name: str, fn: Any) -> Json:
        """One callable name: its parameters, what a call returns, and how (a value, a stream)."""
        if inspect.isclass(fn):
            kind, code = "class", _class_init(fn)
        else:
            # A decorated function (functools.wraps, @piton.batched) is read from the one it wraps;
            # a callable object through its class's __call__.
            code = fn if inspect.isroutine(fn) or hasattr(fn, "__wrapped__") else getattr(type(fn), "__call__", fn)
            code = inspect.unwrap(code) if callable(code) else code
            kind = ("asyncgenerator" if inspect.isasyncgenfunction(code) else "generator" if inspect.isgeneratorfunction(code)
                    else "async" if inspect.iscoroutinefunction(code) else "function")
        out: Json = {"name": name, "kind": kind, "doc": first_paragraph(_own_doc(fn))}
        # String hints are looked up where the code was written (a re-exported function's own
        # module); a class's in its module (namedtuple's generated __new__ has globals of its own).
        globalns = getattr(code, "__globals__", None) if kind != "class" else None
        if not isinstance(globalns, dict):
            module = sys.modules.get(getattr(fn, "__module__", None) or "")
            globalns = vars(module) if module is not None else {}
        self.namespace = globalns
        if kind == "class" and (issubclass(fn, enum.Enum) or _is_typeddict(fn)):
            return self._class_call(fn, out)
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            out.update(params=None, returns={"kind": "unknown"}, note=f"its signature cannot be read ({exc})")
            return out
        hints = _hints(code) if code is not None else {}
        params = []
        for param in signature.parameters.values():
            params.append({
                "name": param.name,
                "kind": _PARAM_KINDS[param.kind],
                "type": self.describe(hints.get(param.name, param.annotation)),
                "default": param.default is not param.empty,
            })
        out["params"] = params
        if kind == "class":
            out["returns"] = self.describe(fn)  # calling a class makes an instance of it
        else:
            out["returns"] = self._returns(kind, hints.get("return", signature.return_annotation))
        return self._per_call(out) if _is_batched(fn) else out

    @staticmethod
    def _per_call(out: Json) -> Json:
        """A ``@piton.batched`` function as Node calls it: with one input, for one output. Its
        hints are the batch's: a list of inputs and a list of outputs (then each call sends one
        item and receives one), or an array of rows (then each call sends an array of its rows
        and receives its slice of the outputs: the hints as written)."""
        out["batched"] = True
        params = out.get("params") or []
        batch = params[0]["type"] if params else {"kind": "unknown"}
        returns = out["returns"]
        if batch["kind"] in ("list", "iterable") or (batch["kind"] == "tuple" and "rest" in batch):
            item = batch.get("items", batch.get("rest"))
            if returns["kind"] in ("list", "iterable"):
                returns = returns["items"]
            elif returns["kind"] == "tuple" and "rest" in returns:
                returns = returns["rest"]
            elif returns["kind"] != "unknown":
                returns = _unsupported("one output of a batch", "the hint of the batch's outputs is not a list")
            batch = item
        elif batch["kind"] != "ndarray":
            batch = {"kind": "unknown"}
        name = params[0]["name"] if params else "input"
        out["params"] = [{"name": name, "kind": "positional_only", "type": batch, "default": False}]
        out["returns"] = returns
        return out

    def _class_call(self, cls: type, out: Json) -> Json:
        """Calling an Enum class looks a member up by its value; calling a TypedDict makes a dict
        of its keyword arguments. Their signatures say neither."""
        described = self.describe(cls)
        if described["kind"] != "ref":  # a class that broke introspection: any arguments
            out.update(params=None, returns=described)
            return out
        if issubclass(cls, enum.Enum):
            out["params"] = [{"name": "value", "kind": "positional_only", "type": described, "default": False}]
        else:
            fields = self.defs[described["id"]].get("fields", [])
            out["params"] = [{"name": f["name"], "kind": "keyword", "type": f["type"], "default": not f["required"]} for f in fields]
        out["returns"] = described
        return out

    def _returns(self, kind: str, hint: Any) -> Json:
        described = self.describe(hint)
        if kind in ("generator", "asyncgenerator"):
            is_async = kind == "asyncgenerator"
            if described["kind"] in ("iterator", "iterable"):
                return {"kind": "iterator", "async": is_async, "items": described["items"]}
            return {"kind": "iterator", "async": is_async, "items": {"kind": "unknown"}}
        if described["kind"] == "iterable":  # returned by a plain function: it is streamed
            return {"kind": "iterator", "async": False, "items": described["items"]}
        if kind == "async":
            return {"kind": "awaitable", "result": described}
        return described


_PARAM_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}


def _class_init(cls: type) -> Any:
    """The Python function that takes a class's arguments (its own or inherited __init__, else
    __new__), whose hints describe them; None when both are the built-in ones."""
    for attr in ("__init__", "__new__"):
        code = getattr(cls, attr, None)
        if inspect.isfunction(code):
            return code
    return None


_WRAPPERS = tuple(
    w for w in (getattr(typing, n, None) for n in ("ClassVar", "Final", "Required", "NotRequired", "ReadOnly")) if w is not None
)

#: Abstract collections that `_generic` knows, written bare in a hint (`Sequence`, `Iterator`).
_BARE_ABC = frozenset({
    abc.Sequence, abc.MutableSequence, abc.Collection, abc.Iterable, abc.Mapping, abc.MutableMapping,
    abc.Iterator, abc.Generator, abc.AsyncIterator, abc.AsyncGenerator, abc.AsyncIterable,
    abc.Awaitable, abc.Coroutine, abc.Callable, abc.Set, abc.MutableSet,
})


def _is_batched(fn: Any) -> bool:
    """Whether ``fn`` is a ``@piton.batched`` function (without importing piton.batching)."""
    return type(fn).__name__ == "BatchedFunction" and type(fn).__module__ == "piton.batching"


def _own_doc(obj: Any) -> Optional[str]:
    """The docstring the object itself carries; not one inherited from ``dict``, ``tuple``, ``Enum``."""
    doc = getattr(obj, "__doc__", None)
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        if doc and obj.__name__ + "(" in doc.split("\n", 1)[0]:  # namedtuple's generated "Point(x, y)"
            return None
    return doc if isinstance(doc, str) else None


def _is_typeddict(cls: type) -> bool:
    check = getattr(typing, "is_typeddict", None)
    if check is not None and check(cls):
        return True
    return issubclass(cls, dict) and hasattr(cls, "__required_keys__") and hasattr(cls, "__optional_keys__")


def _literal_value(value: Any) -> Optional[Json]:
    if isinstance(value, enum.Enum):
        return _literal_value(value.value)
    if value is None:
        return {"none": True}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(int(value))}
    if isinstance(value, str):
        return {"str": str(value)}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, float):
        return {"float": value} if value == value and value not in (float("inf"), float("-inf")) else None
    return None


def _hints(obj: Any) -> Dict[str, Any]:
    """The object's type hints (``typing.get_type_hints``). When one of them does not resolve (a
    forward reference to a missing name), the raw annotations: each string is then resolved alone
    by the describer, and only the broken one is reported as unsupported."""
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:
        annotations = getattr(obj, "__annotations__", None)
        return dict(annotations) if isinstance(annotations, dict) else {}
