"""The decoder's contract under hostile bytes: any input gives either a value or a ProtocolError,
never another exception, a hang, or a wrong value.

"Wrong value", made checkable:

- a message cut short (any frame truncated at any offset, or trailing frames dropped) must NEVER
  decode: every MessagePack value and every ext 1 frame has an exact length, so a value from a
  strict prefix would be one the sender did not send;
- a message with flipped bytes that still decodes must give a value the encoder takes (encoding
  raises nothing), and that value must be a fixed point: decoding its encoding and encoding again
  gives the same bytes.

Seeded, so a failure replays; the seed and the case are in the assertion message. The same test
for the Node codec: packages/python-bridge/test/codec-fuzz.test.ts.
"""

import random

import pytest

from helpers import read_vectors
from piton import codec
from piton.codec import decode, encode
from piton.errors import ProtocolError

SEED = 0x5EED10C
FLIP_CASES = 4000

VECTORS = [(c["name"], [bytes.fromhex(h) for h in c["frames"]]) for c in read_vectors()["cases"]]


def _bytes(frames):
    return [bytes(memoryview(f).cast("B")) for f in frames]


def _outcome(frames):
    """("value", v) or ("error", exc): whatever decode raises is returned, to be checked."""
    try:
        return "value", decode(frames)
    except Exception as exc:  # noqa: BLE001 - the point is to see any type that escapes
        return "error", exc


@pytest.fixture(params=["numpy", "without numpy"])
def arrays(request, monkeypatch):
    """Arrays decode to numpy arrays, or to RawArray where numpy is not installed: fuzz both."""
    if request.param == "without numpy":
        monkeypatch.setattr(codec, "_np", None)
    return request.param


def test_has_the_shared_vectors_to_work_on():
    assert len(VECTORS) > 50


def test_a_vector_cut_short_never_decodes_and_fails_with_protocol_error(arrays):
    cases = 0
    for name, frames in VECTORS:
        for f, frame in enumerate(frames):
            for cut in range(len(frame)):
                cut_frames = list(frames)
                cut_frames[f] = frame[:cut]
                kind, result = _outcome(cut_frames)
                what = f"{name}: frame {f} cut to {cut} bytes ({[x.hex() for x in cut_frames]})"
                assert kind == "error", f"{what} decoded to {result!r}"
                assert type(result) is ProtocolError, f"{what} raised {result!r}"
                cases += 1
        for kept in range(len(frames)):
            kind, result = _outcome(frames[:kept])
            what = f"{name}: only {kept} of {len(frames)} frames"
            assert kind == "error", f"{what} decoded to {result!r}"
            assert type(result) is ProtocolError, f"{what} raised {result!r}"
            cases += 1
    assert cases > 3000


def test_flipped_vectors_give_protocol_error_or_a_re_encodable_fixed_point(arrays):
    rng = random.Random(SEED)
    refused = decoded = 0
    for i in range(FLIP_CASES):
        name, original = VECTORS[rng.randrange(len(VECTORS))]
        frames = [bytearray(f) for f in original]
        # Mostly frame 0, where the structure is; array frames are raw numbers and always decode.
        f = 1 + rng.randrange(len(frames) - 1) if len(frames) > 1 and rng.random() < 0.1 else 0
        if not frames[f]:
            continue
        for _ in range(1 + rng.randrange(3)):
            at = rng.randrange(len(frames[f]))
            frames[f][at] ^= 1 + rng.randrange(255)
        frames = [bytes(x) for x in frames]
        what = f"case {i} (seed {SEED}) from {name}: {[x.hex() for x in frames]}"
        kind, result = _outcome(frames)
        if kind == "error":
            assert type(result) is ProtocolError, f"{what} raised {result!r}"
            refused += 1
            continue
        decoded += 1
        try:
            first = _bytes(encode(result))
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{what} decoded to {result!r}, which the encoder refuses: {exc!r}")
        again = decode(first)
        assert _bytes(encode(again)) == first, f"{what}: re-encoding is not a fixed point"
    # Both outcomes must occur, or the test would not be testing what it says.
    assert refused > FLIP_CASES / 10
    assert decoded > FLIP_CASES / 10


def _nested_ext(n):
    """``n`` ext 1 (ext 32) headers each wrapping the next, innermost nil."""
    out = bytearray(6 * n + 1)
    for k in range(n):
        out[6 * k] = 0xC9
        out[6 * k + 1 : 6 * k + 5] = (len(out) - 6 * (k + 1)).to_bytes(4, "big")
        out[6 * k + 5] = 0x01
    out[6 * n] = 0xC0
    return bytes(out)


HOSTILE = {
    "str 32 declaring 4 GiB": [bytes.fromhex("dbffffffff41")],
    "bin 32 declaring 4 GiB": [bytes.fromhex("c6ffffffff00")],
    "array 32 declaring 2^32-1 items": [bytes.fromhex("ddffffffff00")],
    "map 32 declaring 2^32-1 entries": [bytes.fromhex("dfffffffff0000")],
    "ext 32 declaring 4 GiB": [bytes.fromhex("c9ffffffff0100")],
    "ext 2 with no bytes": [bytes.fromhex("c70002")],
    "timestamp of 3 bytes": [bytes.fromhex("c703ff000000")],
    "timestamp 64 with nanoseconds of 10^9 or more": [bytes.fromhex("d7ff" + "ee6b2800" + "00000000")],
    "timestamp 96 at 2^62 seconds": [bytes.fromhex("c70cff" + "00000000" + "4000000000000000")],
    "timestamp 96 in the year 10000": [bytes.fromhex("c70cff" + "00000000" + "0000003afff44180")],
    "timestamp 96 one second before the year 1": [bytes.fromhex("c70cff" + "00000000" + "fffffff1886e08ff")],
    "ext 1 of shape [2^32, 2^32] over an empty frame": [
        bytes.fromhex("c71d01" + "93a7666c6f6174363492cf0000000100000000cf000000010000000001"),
        b"",
    ],
    "ext 1 whose payload is an ext 1, 100 000 deep": [_nested_ext(100_000)],
    "100 000 nested arrays": [b"\x91" * 100_000 + b"\x00"],
    "100 000 nested maps": [b"\x81\xc0" * 100_000 + b"\x00"],
    "ext 3 over a frame that is not an Arrow IPC stream": [bytes.fromhex("d70392a57461626c6501"), b"not arrow at all"],
    "ext 3 whose stream declares 2 GiB of metadata": [
        bytes.fromhex("d70392a57461626c6501"),
        bytes.fromhex("ffffffff" + "ffffff7f" + "ffffffff00000000"),
    ],
    "ext 3 of an unknown kind": [bytes.fromhex("d70392a56368617274" + "01"), bytes.fromhex("ffffffff00000000")],
    "ext 3 referring to frame 0": [bytes.fromhex("d70392a57461626c6500")],
}


@pytest.mark.parametrize("frames", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_headers_give_protocol_error(frames, arrays):
    with pytest.raises(ProtocolError):
        decode(frames)


#: Arrays that are protocol data but that numpy cannot make (without numpy they are RawArrays).
NUMPY_REFUSES = {
    "ext 1 of shape [0, 2^62] over an empty frame": [
        bytes.fromhex("c71501" + "93a7666c6f617436349200cf400000000000000001"),
        b"",
    ],
    "ext 1 with 100 dimensions of 1": [
        bytes.fromhex("c77101" + "93a7666c6f61743634dc0064" + "01" * 100 + "01"),
        bytes(8),
    ],
}


@pytest.mark.parametrize("frames", list(NUMPY_REFUSES.values()), ids=list(NUMPY_REFUSES))
def test_arrays_numpy_cannot_make_give_protocol_error(frames):
    pytest.importorskip("numpy")
    with pytest.raises(ProtocolError):
        decode(frames)


def test_nesting_1024_deep_decodes_and_1025_is_refused_as_on_the_node_side():
    value = decode([b"\x91" * 1024 + b"\x00"])
    depth = 0
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert depth == 1024
    with pytest.raises(ProtocolError):
        decode([b"\x91" * 1025 + b"\x00"])
