"""Finding the function a request names, under the worker's security rules.

Only functions of modules whose file lies under one of the worker's ``--path`` directories, or of
modules named by ``--allow-module``, are callable: a request can never reach ``os.system`` or
``builtins.eval`` unless the user allowed that module. Names starting with ``_`` are refused
unless ``--allow-private``. A module's location is checked *before* it is imported, so a refused
module's top-level code never runs.

A name must also be *at home* where it is called: the module a function (or class, or callable
object) was defined in must itself be callable under these rules. A path module that does
``from os import system`` or ``from json import loads`` does not make ``system`` or ``loads``
callable (their homes, ``posix`` and ``json``, are not), while a package re-exporting its own
submodule's function (``from .impl import run``) does. ``--allow-reexports MODULE`` lifts this for
one module, ``--allow-reexports '*'`` for all; a module named by ``--allow-module`` is opened whole.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

__all__ = ["Resolver"]

#: At most this many checked names are remembered.
_MAX_CHECKED = 4096


class Resolver:
    """Resolves ``(module, function)`` to a callable; modules are imported once, on demand."""

    def __init__(
        self,
        paths: Iterable[str] = (),
        allow_modules: Iterable[str] = (),
        allow_private: bool = False,
        allow_reexports: Iterable[str] = (),
    ) -> None:
        self.paths: List[str] = [os.path.realpath(p) for p in paths]
        self.allow_modules = frozenset(allow_modules)
        self.allow_private = allow_private
        self.allow_reexports = frozenset(allow_reexports)
        self._modules: Dict[str, ModuleType] = {}
        # (module, function) names that passed every check, with their module and the object that
        # passed: the attribute is still looked up on each call, and a module that rebinds it to
        # another object has that object checked again.
        self._checked: Dict[Tuple[str, str], Tuple[ModuleType, object]] = {}

    def resolve(self, module: str, function: str) -> Callable[..., Any]:
        checked = self._checked.get((module, function))
        if checked is not None:
            fn = getattr(checked[0], function, None)
            if fn is checked[1]:
                return fn  # type: ignore[return-value]
        mod = self.module(module)
        if not function.isidentifier():
            raise AttributeError(f"{function!r} is not a function name (module {module!r})")
        self._check_private("function", function)
        try:
            fn = getattr(mod, function)
        except AttributeError:
            raise AttributeError(f"module {module!r} has no function {function!r}") from None
        if not callable(fn):
            raise TypeError(f"{module}.{function} is not callable: it is a {type(fn).__name__}")
        self._check_home(module, function, fn)
        if len(self._checked) >= _MAX_CHECKED:  # a module's __getattr__ may answer any name
            self._checked.clear()
        self._checked[(module, function)] = (mod, fn)
        return fn

    def _check_home(self, module: str, function: str, fn: object) -> None:
        """Refuses a name the module took from elsewhere (``from os import system``) unless its
        home is callable too, or re-exports are allowed for this module."""
        if module in self.allow_modules or module in self.allow_reexports or "*" in self.allow_reexports:
            return
        # A function's, class's or callable object's __module__ (an instance answers its class's):
        # functools.partial objects and such answer 'functools', and are refused like the rest.
        home = getattr(fn, "__module__", None)
        if home == module:
            return
        home_module = sys.modules.get(home) if isinstance(home, str) else None
        if home_module is not None and (home in self.allow_modules or self._allowed_file(home_module)):
            return
        raise PermissionError(
            f"{module}.{function} is defined in module {home!r}, which is not under the worker's paths: "
            f"names a module imports from elsewhere are not callable through it unless re-exports are "
            f"allowed for {module!r} (--allow-reexports)"
        )

    def module(self, name: str) -> ModuleType:
        cached = self._modules.get(name)
        if cached is not None:
            return cached
        parts = name.split(".")
        if not all(p.isidentifier() for p in parts):
            raise ModuleNotFoundError(f"{name!r} is not a module name", name=name)
        for part in parts:
            self._check_private("module", part)
        if name not in self.allow_modules:
            self._check_location(name)
        mod = importlib.import_module(name)
        if name not in self.allow_modules and not self._allowed_file(mod):
            # find_spec and import disagree only when a module rewrites sys.modules or __path__.
            raise PermissionError(f"module {name!r} lies outside the worker's paths")
        self._modules[name] = mod
        return mod

    def _check_private(self, what: str, name: str) -> None:
        if name.startswith("_") and not self.allow_private:
            raise PermissionError(
                f"{what} name {name!r} is private (starts with '_'); the worker refuses it "
                f"unless started with --allow-private"
            )

    def _check_location(self, name: str) -> None:
        loaded = sys.modules.get(name)
        if loaded is not None:
            if self._allowed_file(loaded):
                return
            raise self._outside(name)
        # Check the top-level package first: find_spec of a dotted name imports its parents,
        # and a parent outside the paths must not run either.
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in sys.modules:
                if not self._allowed_file(sys.modules[prefix]):
                    raise self._outside(name)
                continue
            spec = importlib.util.find_spec(prefix)
            if spec is None:
                raise ModuleNotFoundError(f"No module named {prefix!r}", name=prefix)
            if not self._allowed_spec(spec.origin, spec.submodule_search_locations):
                raise self._outside(name)

    def _outside(self, name: str) -> PermissionError:
        return PermissionError(
            f"module {name!r} is not under the worker's paths ({', '.join(self.paths) or 'none'}); "
            f"name it with --allow-module to make it callable"
        )

    def _allowed_file(self, mod: ModuleType) -> bool:
        return self._allowed_spec(getattr(mod, "__file__", None), getattr(mod, "__path__", None))

    def _allowed_spec(self, origin: Optional[str], locations: Optional[Iterable[str]]) -> bool:
        if origin and os.path.isabs(origin):
            return self._under_paths(origin)
        # A namespace package has no file, only directories: all of them must be ours.
        dirs = list(locations or ())
        return bool(dirs) and all(self._under_paths(d) for d in dirs)

    def _under_paths(self, file: str) -> bool:
        real = os.path.realpath(file)
        for root in self.paths:
            try:
                if os.path.commonpath([root, real]) == root:
                    return True
            except ValueError:  # different drives on Windows
                continue
        return False
