"""Reading what a pool can call, for ``npx piton types``: signatures and type hints as JSON.

Imports the modules a pool would serve, under the pool's own rules (:class:`piton.resolver.Resolver`:
a name is listed only if a call could reach it), reads each callable's parameters
(``inspect.signature``) and type hints (``typing.get_type_hints``) and describes them for the Node
side. What a hint *means* is decided here, in Python; what it *becomes in JavaScript* is decided in
Node (``packages/python-bridge/src/typegen/``), which follows PROTOCOL.md ("Values").

Run by Node as ``python -c LAUNCHER [--path DIR]... [--module NAME]... [--skip NAME]...`` with the
allow options of the worker. The report is JSON, one object per line, on the stdout the program
started with (what user code prints at import goes to stderr):

- ``{"modules": [...]}``: the modules it will read, in order;
- ``{"importing": NAME}``: before importing a module, so that Node knows which one killed or hung
  the interpreter, if one does (it then runs this program again with ``--skip NAME``);
- ``{"module": NAME, "doc": ..., "functions": [...], "defs": [...]}``, or ``{"module": NAME,
  "error": ...}`` when its import raised: a module that imports is always described, whatever
  its hints say (a hint that cannot be read becomes ``unsupported``);
- ``{"done": true}``.

How each hint is described is :mod:`piton.hints` (:class:`Describer`); this module finds the
modules, imports them under the pool's rules, and runs the report. A named class's description is
sent once, in the ``defs`` of the module that first used it.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import threading
from typing import List, Optional, Sequence

from .hints import Describer, Json, first_paragraph
from .resolver import Resolver

__all__ = ["main", "describe_module", "discover", "Describer"]


# ------------------------------------------------------------------------------------ modules


def discover(paths: Sequence[str], allow_private: bool) -> List[str]:
    """The modules under ``paths`` a pool could call, as the worker would name them: each
    ``NAME.py`` and each package (a directory with ``__init__.py``) and, inside packages, their
    modules. Private names (``_x``) only with ``allow_private``; the first path that has a name wins."""
    found: List[str] = []
    seen = set()

    def allowed(name: str) -> bool:
        return name.isidentifier() and (allow_private or not name.startswith("_"))

    def walk(directory: str, prefix: str) -> None:
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            return
        for entry in entries:
            full = os.path.join(directory, entry)
            if entry.endswith(".py") and os.path.isfile(full):
                name = entry[:-3]
                if name == "__init__" or not allowed(name):
                    continue
                add(prefix + name)
            elif os.path.isfile(os.path.join(full, "__init__.py")) and allowed(entry):
                add(prefix + entry)
                walk(full, prefix + entry + ".")

    def add(name: str) -> None:
        if name not in seen:
            seen.add(name)
            found.append(name)

    for path in paths:
        walk(path, "")
    return found


def describe_module(resolver: Resolver, describer: Describer, name: str) -> Json:
    """One module's callable names, described; ``error`` when the module cannot be imported."""
    try:
        module = resolver.module(name)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt at import too: the module is skipped
        return {"module": name, "error": f"{type(exc).__name__}: {exc}"}
    functions = []
    for attr in list(vars(module)):
        if attr.startswith("__") and attr.endswith("__"):
            continue
        try:
            fn = resolver.resolve(name, attr)
        except Exception:
            continue  # not callable through the pool: private, imported from elsewhere, not callable
        try:
            functions.append(describer.function(attr, fn))
        except Exception as exc:
            functions.append({"name": attr, "kind": "function", "doc": None, "params": None,
                              "returns": {"kind": "unknown"}, "note": f"its signature cannot be read ({type(exc).__name__}: {exc})"})
    return {"module": name, "doc": first_paragraph(getattr(module, "__doc__", None)), "functions": functions,
            "defs": describer.new_defs()}


def _die_with_parent() -> None:
    """Exit when Node goes: SIGKILL on the parent's death (Linux), and EOF on the stdin pipe."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except (OSError, ValueError):
            pass
        os._exit(1)

    try:
        piped = stat.S_ISFIFO(os.fstat(0).st_mode)  # Node's pipe; not a terminal or /dev/null
    except OSError:
        piped = False
    if piped:
        threading.Thread(target=watch, name="piton-typegen-parent", daemon=True).start()


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="piton.typegen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", action="append", default=[], metavar="DIR")
    parser.add_argument("--module", action="append", default=[], metavar="NAME")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME")
    parser.add_argument("--allow-module", action="append", default=[], metavar="NAME")
    parser.add_argument("--allow-private", action="store_true")
    parser.add_argument("--allow-reexports", action="append", default=[], metavar="MODULE")
    args = parser.parse_args(argv)

    # The report keeps the stdout Node reads; everything else printed goes to stderr.
    report_fd = os.dup(1)
    os.dup2(2, 1)
    report = os.fdopen(report_fd, "w", encoding="utf-8")

    def send(message: Json) -> None:
        report.write(json.dumps(message, ensure_ascii=True, allow_nan=False) + "\n")
        report.flush()

    _die_with_parent()
    sys.path[:0] = [p for p in args.path if p not in sys.path]  # as the worker does with --path
    resolver = Resolver(args.path, args.allow_module, args.allow_private, args.allow_reexports)
    modules = args.module or [*discover(args.path, args.allow_private), *args.allow_module]
    modules = list(dict.fromkeys(m for m in modules if m not in args.skip))
    send({"modules": modules})
    describer = Describer()
    for name in modules:
        send({"importing": name})
        send(describe_module(resolver, describer, name))
    send({"done": True})
    report.close()
    os._exit(0)  # threads started by user modules at import must not hold the exit
