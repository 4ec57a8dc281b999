"""piton.typegen: what each kind of type hint is described as, which names and modules are read,
and the report the program writes (the JSON that `npx piton types` reads)."""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import datetime as dt
import decimal
import enum
import json
import os
import subprocess
import sys
import textwrap
import typing
from typing import Any, Dict, List, Literal, NamedTuple, Optional, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt
import pytest

from helpers import worker_env
from piton.resolver import Resolver
from piton.typegen import Describer, describe_module, discover

UNKNOWN = {"kind": "unknown"}


def described(hint: Any) -> dict:
    return Describer().describe(hint)


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Plain(enum.Enum):
    A = (1, 2)


class Flags(enum.IntFlag):
    X = 1
    Y = 2


class Point(NamedTuple):
    x: float
    y: float


class Movie(TypedDict, total=False):
    title: str
    year: int


class Node(TypedDict):
    name: str
    children: List["Node"]


@dataclasses.dataclass
class Record:
    a: int


class UserId(str):
    pass


@pytest.mark.parametrize(
    "hint, expected",
    [
        (int, {"kind": "int"}),
        (float, {"kind": "float"}),
        (bool, {"kind": "bool"}),
        (str, {"kind": "str"}),
        (bytes, {"kind": "bytes"}),
        (bytearray, {"kind": "bytes"}),
        (memoryview, {"kind": "bytes"}),
        (None, {"kind": "none"}),
        (type(None), {"kind": "none"}),
        (Any, UNKNOWN),
        (object, UNKNOWN),
        (dt.datetime, {"kind": "datetime"}),
        (List[int], {"kind": "list", "items": {"kind": "int"}}),
        (list, {"kind": "list", "items": UNKNOWN}),
        (typing.Sequence[str], {"kind": "list", "items": {"kind": "str"}}),
        (abc.Iterable[int], {"kind": "iterable", "items": {"kind": "int"}}),
        (Tuple[int, str], {"kind": "tuple", "items": [{"kind": "int"}, {"kind": "str"}]}),
        (Tuple[int, ...], {"kind": "tuple", "rest": {"kind": "int"}}),
        (Tuple[()], {"kind": "tuple", "items": []}),
        (Dict[str, float], {"kind": "dict", "key": {"kind": "str"}, "value": {"kind": "float"}}),
        (typing.Mapping[int, str], {"kind": "dict", "key": {"kind": "int"}, "value": {"kind": "str"}}),
        (Optional[int], {"kind": "union", "options": [{"kind": "int"}, {"kind": "none"}]}),
        (Union[int, str], {"kind": "union", "options": [{"kind": "int"}, {"kind": "str"}]}),
        (Literal["a", 1, True, None, b"x"], {"kind": "literal", "values": [
            {"str": "a"}, {"int": "1"}, {"bool": True}, {"none": True}, {"bytes": "78"}]}),
        (Literal[2**70], {"kind": "literal", "values": [{"int": str(2**70)}]}),
        (Literal[Color.RED], {"kind": "literal", "values": [{"str": "red"}]}),
        (typing.Annotated[int, "meta"], {"kind": "int"}),
        (typing.NewType("UserKey", str), {"kind": "str"}),
        (typing.TypeVar("T"), UNKNOWN),
        (typing.TypeVar("N", bound=int), {"kind": "int"}),
        (typing.NoReturn, {"kind": "never"}),
        (UserId, {"kind": "str"}),
        (typing.Iterator[int], {"kind": "iterator", "async": False, "items": {"kind": "int"}}),
        (typing.AsyncIterator[str], {"kind": "iterator", "async": True, "items": {"kind": "str"}}),
        (typing.Awaitable[int], {"kind": "awaitable", "result": {"kind": "int"}}),
        (np.float32, {"kind": "float"}),
        (np.int64, {"kind": "int"}),
        (np.bool_, {"kind": "bool"}),
        (np.ndarray, {"kind": "ndarray", "dtype": None, "ndim": None}),
        (npt.NDArray[np.float64], {"kind": "ndarray", "dtype": "float64", "ndim": None}),
        (npt.NDArray[np.floating], {"kind": "ndarray", "dtype": None, "ndim": None}),
        (np.ndarray[Tuple[int], np.dtype[np.uint16]], {"kind": "ndarray", "dtype": "uint16", "ndim": 1}),
        (np.ndarray[Tuple[int, int, int], np.dtype[np.int8]], {"kind": "ndarray", "dtype": "int8", "ndim": 3}),
    ],
    ids=repr,
)
def test_hints_are_described_as_the_wire_needs(hint, expected):
    assert described(hint) == expected


@pytest.mark.parametrize(
    "hint, python, reason",
    [
        (typing.Set[int], "Set[int]", "a set is refused by the wire"),
        (frozenset, "frozenset", "a set is refused by the wire"),
        (decimal.Decimal, "decimal.Decimal", "not carried by the wire"),
        (dt.date, "datetime.date", "only datetime crosses the wire"),
        (dt.timedelta, "datetime.timedelta", "send seconds as a number"),
        (complex, "complex", "not carried by the wire"),
        (Record, "test_typegen.Record", "a dataclass instance is refused by the wire"),
        (typing.Callable[[int], str], "Callable[[int], str]", "a function cannot cross the wire"),
        (npt.NDArray[np.bool_], "numpy array of bool", "arrays of dtype bool are refused"),
        (npt.NDArray[np.complex128], "numpy array of complex128", "arrays of dtype complex128 are refused"),
        (np.complex64, "numpy.complex64", "not carried by the wire"),
        ("NoSuchName", "NoSuchName", "the hint does not resolve (NameError"),
    ],
    ids=repr,
)
def test_what_the_wire_cannot_carry_is_unsupported_naming_the_python_type(hint, python, reason):
    out = described(hint)
    assert out["kind"] == "unsupported"
    assert out["python"] == python
    assert reason in out["reason"]


def test_named_classes_are_refs_described_once_in_defs():
    d = Describer()
    assert d.describe(Movie) == {"kind": "ref", "id": "test_typegen.Movie"}
    assert d.describe(List[Movie]) == {"kind": "list", "items": {"kind": "ref", "id": "test_typegen.Movie"}}
    d.describe(Point)
    d.describe(Color)
    d.describe(Flags)
    d.describe(Plain)
    defs = {x["name"]: x for x in d.new_defs()}
    assert d.new_defs() == []  # each sent once
    assert defs["Movie"]["kind"] == "typeddict"
    assert defs["Movie"]["fields"] == [
        {"name": "title", "type": {"kind": "str"}, "required": False},
        {"name": "year", "type": {"kind": "int"}, "required": False},
    ]
    assert defs["Point"] == {"id": "test_typegen.Point", "name": "Point", "module": "test_typegen", "doc": None,
                             "kind": "namedtuple", "fields": [{"name": "x", "type": {"kind": "float"}},
                                                              {"name": "y", "type": {"kind": "float"}}]}
    assert defs["Color"]["members"] == [{"name": "RED", "value": {"str": "red"}}, {"name": "BLUE", "value": {"str": "blue"}}]
    assert (defs["Color"]["base"], defs["Color"]["flag"]) == ("str", False)
    assert (defs["Flags"]["base"], defs["Flags"]["flag"]) == ("int", True)
    assert defs["Plain"]["base"] is None and defs["Plain"]["members"] == [{"name": "A", "value": None}]


def test_a_recursive_typeddict_refers_to_itself():
    d = Describer()
    d.namespace = globals()
    assert d.describe(Node) == {"kind": "ref", "id": "test_typegen.Node"}
    (node,) = d.new_defs()
    assert node["fields"][1] == {"name": "children", "type": {"kind": "list", "items": {"kind": "ref", "id": "test_typegen.Node"}},
                                 "required": True}


def test_a_hint_object_that_breaks_introspection_is_unsupported_not_an_error():
    class Hostile:
        def __getattr__(self, name):
            raise RuntimeError("no attributes here")

        def __repr__(self):
            return "Hostile()"

    assert described(Hostile())["kind"] == "unsupported"


def test_a_class_stands_for_a_table_by_its_module_and_name_without_importing_it():
    frame = type("DataFrame", (), {"__module__": "pandas.core.frame"})
    series = type("Series", (), {"__module__": "polars.series.series"})
    table = type("Table", (), {"__module__": "pyarrow.lib"})
    # Other test modules of the same run may have imported them: what counts is that this did not.
    before = set(sys.modules)
    assert described(frame) == {"kind": "table", "python": "pandas.core.frame.DataFrame", "vector": False}
    assert described(series) == {"kind": "table", "python": "polars.series.series.Series", "vector": True}
    assert described(table)["kind"] == "table"
    assert not {"pandas", "polars", "pyarrow"} & (set(sys.modules) - before)


# ------------------------------------------------------------------------------------ functions

SOURCE = textwrap.dedent(
    '''
    """A module of signatures."""
    from __future__ import annotations
    import typing
    from os import system
    from helper_mod import helper

    def plain(a: int, b: str = "x", /, c: float = 1.0, *rest: bool, key: str, opt: int | None = None, **extra: float) -> list[int]:
        """Plain.

        More text."""
        return []

    def gen(n: int) -> typing.Iterator[str]:
        yield "x"

    def gen_untyped(n):
        yield n

    async def coro(n: int) -> str:
        return ""

    async def agen() -> typing.AsyncIterator[int]:
        yield 1

    def streamed() -> typing.Iterable[int]:
        return [1]

    def forward(x: "Later") -> "list[Later]":
        return [x]

    def broken(x: NoSuchName, y: int) -> int:
        return y

    class Later(typing.TypedDict):
        v: int

    class Caller:
        def __call__(self, x: int) -> bool:
            return True

    call_me = Caller()

    def _private() -> None: ...
    VALUE = 3
    '''
)


@pytest.fixture
def modules(tmp_path, monkeypatch):
    (tmp_path / "sigs.py").write_text(SOURCE)
    (tmp_path / "helper_mod.py").write_text("def helper(x: int) -> int:\n    return x\n")
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("def f() -> None: ...\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "deep.py").write_text("")
    (tmp_path / "nspkg").mkdir()
    (tmp_path / "nspkg" / "x.py").write_text("")
    (tmp_path / "_hidden.py").write_text("")
    (tmp_path / "not-a-name.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("sigs", "helper_mod", "batching_mod")
    for name in names:
        sys.modules.pop(name, None)
    yield tmp_path
    for name in names:
        sys.modules.pop(name, None)


def test_discover_lists_modules_and_packages_as_the_worker_names_them(modules):
    assert discover([str(modules)], allow_private=False) == [
        "helper_mod", "pkg", "pkg.mod", "pkg.sub", "pkg.sub.deep", "sigs"]
    assert "_hidden" in discover([str(modules)], allow_private=True)


def test_a_module_is_described_with_only_the_names_a_call_could_reach(modules):
    out = describe_module(Resolver([str(modules)]), Describer(), "sigs")
    assert out["doc"] == "A module of signatures."
    by_name = {f["name"]: f for f in out["functions"]}
    assert list(by_name) == ["helper", "plain", "gen", "gen_untyped", "coro", "agen", "streamed", "forward", "broken",
                             "Later", "Caller", "call_me"]  # not system (from os), _private or VALUE

    plain = by_name["plain"]
    assert plain["doc"] == "Plain."
    assert [(p["name"], p["kind"], p["default"]) for p in plain["params"]] == [
        ("a", "positional_only", False), ("b", "positional_only", True), ("c", "positional", True),
        ("rest", "var_positional", False), ("key", "keyword", False), ("opt", "keyword", True), ("extra", "var_keyword", False)]
    assert plain["params"][5]["type"] == {"kind": "union", "options": [{"kind": "int"}, {"kind": "none"}]}
    assert plain["returns"] == {"kind": "list", "items": {"kind": "int"}}

    assert by_name["gen"]["kind"] == "generator"
    assert by_name["gen"]["returns"] == {"kind": "iterator", "async": False, "items": {"kind": "str"}}
    assert by_name["gen_untyped"]["returns"] == {"kind": "iterator", "async": False, "items": UNKNOWN}
    assert by_name["coro"]["returns"] == {"kind": "awaitable", "result": {"kind": "str"}}
    assert by_name["agen"]["returns"] == {"kind": "iterator", "async": True, "items": {"kind": "int"}}
    assert by_name["streamed"]["returns"] == {"kind": "iterator", "async": False, "items": {"kind": "int"}}
    later = {"kind": "ref", "id": "sigs.Later"}
    assert by_name["forward"]["params"][0]["type"] == later
    assert by_name["forward"]["returns"] == {"kind": "list", "items": later}
    # One hint that does not resolve costs only itself.
    assert by_name["broken"]["params"][0]["type"]["kind"] == "unsupported"
    assert by_name["broken"]["params"][1]["type"] == {"kind": "int"}
    assert by_name["Later"]["params"] == [{"name": "v", "kind": "keyword", "type": {"kind": "int"}, "default": False}]
    assert by_name["call_me"]["params"][0]["type"] == {"kind": "int"}
    assert by_name["call_me"]["returns"] == {"kind": "bool"}
    assert [d["id"] for d in out["defs"]] == ["sigs.Later"]


BATCHED = textwrap.dedent(
    """
    from typing import List
    import numpy as np
    import numpy.typing as npt
    import piton

    @piton.batched(max_size=4)
    def lengths(words: List[str]) -> List[int]:
        return [len(w) for w in words]

    @piton.batched()
    def predict(rows: npt.NDArray[np.float64]) -> List[str]:
        return ["x"] * len(rows)

    @piton.batched()
    def odd(items: List[int]) -> int:
        return 0
    """
)


def test_a_batched_function_is_described_as_node_calls_it(modules):
    (modules / "batching_mod.py").write_text(BATCHED)
    out = describe_module(Resolver([str(modules)]), Describer(), "batching_mod")
    by_name = {f["name"]: f for f in out["functions"]}
    assert list(by_name) == ["lengths", "predict", "odd"]
    lengths = by_name["lengths"]
    assert lengths["batched"] is True
    assert lengths["params"] == [{"name": "words", "kind": "positional_only", "type": {"kind": "str"}, "default": False}]
    assert lengths["returns"] == {"kind": "int"}
    # An array of rows in, its slice of the outputs back: the hints as written.
    assert by_name["predict"]["params"][0]["type"] == {"kind": "ndarray", "dtype": "float64", "ndim": None}
    assert by_name["predict"]["returns"] == {"kind": "list", "items": {"kind": "str"}}
    assert by_name["odd"]["returns"]["kind"] == "unsupported"


def test_a_module_that_raises_at_import_is_an_error_entry(modules):
    (modules / "raises.py").write_text("raise SystemExit(4)\n")
    out = describe_module(Resolver([str(modules)]), Describer(), "raises")
    assert out == {"module": "raises", "error": "SystemExit: 4"}


def test_the_program_reports_json_lines_on_its_own_stdout_whatever_modules_print(modules):
    (modules / "noisy.py").write_text("import os, sys\nprint('to stdout')\nos.write(1, b'raw fd 1\\n')\ndef f(x: int) -> int:\n    return x\n")
    result = subprocess.run(
        [sys.executable, "-c", "from piton.typegen import main; main()", "--path", str(modules), "--module", "noisy",
         "--module", "sigs"],
        env=worker_env(), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"modules": ["noisy", "sigs"]}
    assert lines[1] == {"importing": "noisy"}
    assert lines[2]["module"] == "noisy" and [f["name"] for f in lines[2]["functions"]] == ["f"]
    assert lines[3] == {"importing": "sigs"}
    assert lines[-1] == {"done": True}
    assert "to stdout" in result.stderr and "raw fd 1" in result.stderr


def test_skip_leaves_modules_out_and_allow_module_adds_one(modules):
    result = subprocess.run(
        [sys.executable, "-c", "from piton.typegen import main; main()", "--path", str(modules), "--skip", "sigs",
         "--skip", "pkg.sub.deep", "--allow-module", "json"],
        env=worker_env(), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout.splitlines()[0])
    assert first == {"modules": ["helper_mod", "pkg", "pkg.mod", "pkg.sub", "json"]}


def test_it_exits_when_its_stdin_pipe_closes(modules):
    (modules / "slow.py").write_text("import time\ntime.sleep(60)\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from piton.typegen import main; main()", "--path", str(modules), "--module", "slow"],
        env=worker_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert json.loads(proc.stdout.readline()) == {"modules": ["slow"]}
        assert json.loads(proc.stdout.readline()) == {"importing": "slow"}
        proc.stdin.close()
        assert proc.wait(timeout=10) == 1
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
