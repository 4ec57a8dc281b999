"""Entries assembled one by one give the bytes one encode of the whole envelope gives."""

import numpy as np
import pytest

from piton.codec import decode, encode
from piton.entries import Entries
from piton.errors import EncodeError, MessageTooLarge

VALUES = [
    ["ok", 55],
    ["ok", {"mean": 2.0, "values": np.array([0.5, 0.25], dtype="float32")}],
    ["error", {"type": "ValueError", "message": "bad", "traceback": ""}],
    ["ok", [np.arange(4, dtype="int32").reshape(2, 2), np.array([1.0, 2.0])]],
    ["ok", "x" * 300],
]


def as_bytes(frames):
    return [bytes(memoryview(f).cast("B")) for f in frames]


@pytest.mark.parametrize("tail", [[], [True], [False]])
def test_the_assembled_reply_is_the_envelope_encoded_at_once(tail):
    entries = Entries(1 << 20)
    for value in VALUES:
        entries.add(value)
    assert as_bytes(entries.message(["results", 300], tail)) == as_bytes(encode(["results", 300, VALUES, *tail]))


def test_an_empty_reply_is_an_empty_array_of_entries():
    assert as_bytes(Entries(1000).message(["items", 7], [True])) == as_bytes(encode(["items", 7, [], True]))


def test_freeze_last_copies_the_arrays_the_last_entry_views():
    buffer = np.zeros(3)
    entries = Entries(1 << 20)
    entries.add(buffer)
    entries.freeze_last()
    buffer[:] = 1
    entries.add(buffer)
    first, second = decode(entries.message(["items", 1], [False]))[2]
    assert first.tolist() == [0.0] * 3 and second.tolist() == [1.0] * 3


def test_a_value_that_fails_leaves_the_entries_as_they_were():
    entries = Entries(100)
    entries.add(1)
    with pytest.raises(EncodeError):
        entries.add({1, 2})
    with pytest.raises(MessageTooLarge):
        entries.add(b"x" * 200)
    assert len(entries) == 1 and not entries.full
    assert decode(entries.message(["items", 1], [False])) == ["items", 1, [1], False]
