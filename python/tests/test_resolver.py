"""The Resolver's rule for names a module took from elsewhere: callable only where they are at home."""

import textwrap

import pytest

from piton.resolver import Resolver

MODULE = textwrap.dedent(
    """
    import functools
    import json
    from os import system
    from pickle import loads
    from collections import OrderedDict
    from reexp_pkg import helper

    def own():
        return "own"

    class Own:
        pass

    @functools.lru_cache(maxsize=None)
    def cached():
        return "cached"

    class _Callable:
        def __call__(self):
            return "instance"

    instance = _Callable()
    dumps = functools.partial(json.dumps, sort_keys=True)
    """
)


@pytest.fixture
def path(tmp_path, monkeypatch):
    (tmp_path / "reexp_mod.py").write_text(MODULE)
    (tmp_path / "reexp_pkg").mkdir()
    (tmp_path / "reexp_pkg" / "__init__.py").write_text("from .impl import run, helper\n")
    (tmp_path / "reexp_pkg" / "impl.py").write_text("def run():\n    return 'run'\n\ndef helper():\n    return 'helper'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield str(tmp_path)
    import sys

    for name in ("reexp_mod", "reexp_pkg", "reexp_pkg.impl"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("name", ["own", "Own", "cached", "instance"])
def test_names_defined_in_the_module_are_callable(path, name):
    assert callable(Resolver([path]).resolve("reexp_mod", name))


@pytest.mark.parametrize("name, home", [("system", "posix"), ("loads", "_pickle"), ("OrderedDict", "collections"),
                                        ("dumps", "functools")])
def test_names_imported_from_outside_the_paths_are_refused(path, name, home):
    with pytest.raises(PermissionError, match=f"defined in module '{home}'"):
        Resolver([path]).resolve("reexp_mod", name)


def test_names_imported_from_a_callable_module_are_callable(path):
    resolver = Resolver([path])
    assert resolver.resolve("reexp_pkg", "run")() == "run"  # a package's own submodule
    assert resolver.resolve("reexp_mod", "helper")() == "helper"


def test_allow_reexports_lifts_the_rule_for_the_modules_named(path):
    assert callable(Resolver([path], allow_reexports=["reexp_mod"]).resolve("reexp_mod", "loads"))
    assert callable(Resolver([path], allow_reexports=["*"]).resolve("reexp_mod", "system"))
    with pytest.raises(PermissionError):
        Resolver([path], allow_reexports=["other"]).resolve("reexp_mod", "system")


def test_an_allowed_module_is_opened_whole(path):
    import os

    assert Resolver([path], allow_modules=["os"]).resolve("os", "system") is os.system


def test_a_name_rebound_after_its_check_is_checked_again(path):
    import sys

    resolver = Resolver([path])
    assert resolver.resolve("reexp_mod", "own")() == "own"
    sys.modules["reexp_mod"].own = sys.modules["reexp_mod"].system
    with pytest.raises(PermissionError):
        resolver.resolve("reexp_mod", "own")
