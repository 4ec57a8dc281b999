"""Piton's Python worker runtime: serves function calls from Node over ZeroMQ and MessagePack.

Run it as ``python -m piton.worker --endpoint ENDPOINT --path DIR``; the wire protocol is
described in PROTOCOL.md at the root of the repository.
"""

__version__ = "0.1.0"

from .codec import RawArray, decode, encode  # noqa: E402
from .errors import EncodeError, MessageTooLarge, PitonError, ProtocolError  # noqa: E402

__all__ = [
    "__version__",
    "RawArray",
    "encode",
    "decode",
    "PitonError",
    "ProtocolError",
    "EncodeError",
    "MessageTooLarge",
]
