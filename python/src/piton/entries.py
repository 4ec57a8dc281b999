"""The entries of a reply that carries several values (``results`` of a batch, ``items`` of a
stream), each encoded on its own, when it is made (PROTOCOL.md, "Batches" and "Size limits").

Encoding each value when it is made, rather than the whole reply at the end, gives each its own
fate and its own moment:

- what Node receives is the value as it was when the function returned it or the generator
  yielded it: its MessagePack bytes are written then, and an array's memory, which travels as
  its own frame, is copied before any more user code runs (:meth:`Entries.freeze_last`), so a
  generator that refills one buffer gives each item as it was yielded, whatever the batch size;
- a value that cannot be encoded, or is too large alone, fails alone;
- the reply's size is known as it grows, so it ends once it reaches the limit instead of
  failing as a whole: it then exceeds the limit by at most its last entry, itself within it.
"""

from __future__ import annotations

from typing import Any, List, Sequence

import msgpack

from .codec import Buffer, encode, frames_size, owned
from .errors import MessageTooLarge

__all__ = ["Entries"]

_packer = msgpack.Packer(use_bin_type=True)


class Entries:
    """Values encoded one by one, then assembled into ``[*head, [entry, ...], *tail]``."""

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self._heads: List[bytes] = []
        self._frames: List[Buffer] = []
        # Where the frames of the last entry start in ``_frames``.
        self._last_frames = 0
        self.size = 0

    def __len__(self) -> int:
        return len(self._heads)

    @property
    def full(self) -> bool:
        """The reply has reached the size limit: no entry may be added."""
        return self.size >= self.max_message_size

    def add(self, value: Any) -> None:
        """Encode ``value`` as the next entry. Raises ``EncodeError``, or ``MessageTooLarge``
        when the value alone exceeds the limit; the entries stay as they were."""
        frames = encode(value, frame_offset=len(self._frames))
        size = frames_size(frames)
        if size > self.max_message_size:
            raise MessageTooLarge(
                f"a value of {size} bytes exceeds the worker's maximum message size of "
                f"{self.max_message_size} bytes"
            )
        self._heads.append(frames[0])
        self._last_frames = len(self._frames)
        self._frames.extend(frames[1:])
        self.size += size

    def freeze_last(self) -> None:
        """Copy the array memory of the last entry: user code is about to run again and may
        write to the arrays the entry views. (An Arrow table's stream is already a copy.)"""
        for i in range(self._last_frames, len(self._frames)):
            frame = self._frames[i]
            if not owned(frame):
                self._frames[i] = bytes(memoryview(frame).cast("B"))
        self._last_frames = len(self._frames)

    def message(self, head: Sequence[Any], tail: Sequence[Any] = ()) -> List[Buffer]:
        """The reply's frames: ``[*head, [entries...], *tail]``, the bytes a single ``encode``
        of that envelope would give."""
        parts = [_packer.pack_array_header(len(head) + 1 + len(tail))]
        parts.extend(_packer.pack(item) for item in head)
        parts.append(_packer.pack_array_header(len(self._heads)))
        parts.extend(self._heads)
        parts.extend(_packer.pack(item) for item in tail)
        return [b"".join(parts), *self._frames]
