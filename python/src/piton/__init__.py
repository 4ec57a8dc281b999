"""Piton's Python worker runtime: serves function calls from Node over ZeroMQ and MessagePack.

Run it as ``python -m piton.worker --endpoint ENDPOINT --path DIR``; the wire protocol is
described in PROTOCOL.md at the root of the repository.

The names below load their modules on first use: importing ``piton`` (as ``python -m
piton.worker`` does first) must not import numpy, whose thread pool has to be started by the
worker after it has set its signal mask.
"""

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "RawArray": "codec",
    "encode": "codec",
    "decode": "codec",
    "PitonError": "errors",
    "ProtocolError": "errors",
    "EncodeError": "errors",
    "MessageTooLarge": "errors",
    "MissingDependency": "errors",
    "NodeError": "errors",
    "NotExposedError": "errors",
    "progress": "conversation",
    "aprogress": "conversation",
    "batched": "batching",
    "BatchError": "errors",
    "context": "call_context",
    "CallContext": "call_context",
}
#: Submodules reachable as attributes: ``import piton; piton.node.call(...)``.
_SUBMODULES = {"node"}

__all__ = ["__version__", *_LAZY, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'piton' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
