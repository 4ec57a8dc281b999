"""The shared vectors (protocol/vectors.json): every case decodes to its value; the cases listing
"py" as encoder encode to exactly their frames (a frame holding an Arrow IPC stream, listed in the
case's "ipc", to the same table: PROTOCOL.md, "Tables (ext 3)")."""

import json
import os
import subprocess
import sys

import pytest

from piton.codec import decode, encode
from piton.protocol import PROTOCOL_VERSION

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTOCOL_DIR = os.path.join(ROOT, "protocol")
sys.path.insert(0, PROTOCOL_DIR)

from tagged import as_decoded, from_tagged, same, same_arrow  # noqa: E402
from piton.arrow import from_ipc  # noqa: E402

with open(os.path.join(PROTOCOL_DIR, "vectors.json"), encoding="utf-8") as f:
    VECTORS = json.load(f)
CASES = VECTORS["cases"]
IDS = [c["name"] for c in CASES]


def _frames(case):
    return [bytes.fromhex(h) for h in case["frames"]]




def test_vectors_are_this_protocol_version_and_cover_the_required_cases():
    assert VECTORS["protocol"] == PROTOCOL_VERSION
    names = " | ".join(IDS)
    for needle in ["nil", "int 2^64 (ext 2)", "int -2^63-1", "int 2^100", "int -2^100", "float NaN", "float -0",
                   "str astral emoji", "bytes", "map int keys", "datetime", "ndarray int32 empty 2-d",
                   "envelope hello", "envelope ready", "envelope call", "envelope ok", "envelope error",
                   "envelope items", "envelope batch", "envelope results", "envelope bye", "envelope hello with exposed functions",
                   "envelope call listening for progress", "envelope callback", "envelope return",
                   "envelope throw", "envelope progress", "envelope resume", "envelope hello with lanes",
                   "envelope ready with lanes", "envelope cancel", "envelope cancelled"]:
        assert needle in names, needle
    for dtype in ["float64", "float32", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]:
        assert f"ndarray {dtype} 1-d" in names and f"ndarray {dtype} 2-d" in names
    assert len(set(IDS)) == len(IDS), "case names are unique"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_decode(case):
    assert same(decode(_frames(case)), as_decoded(from_tagged(case["value"])))


@pytest.mark.parametrize("case", [c for c in CASES if "py" in c["encoders"]],
                         ids=[c["name"] for c in CASES if "py" in c["encoders"]])
def test_encode(case):
    encoded = [bytes(memoryview(f).cast("B")).hex() for f in encode(from_tagged(case["value"]))]
    ipc = case.get("ipc", [])
    assert [f for i, f in enumerate(encoded) if i not in ipc] == [f for i, f in enumerate(case["frames"]) if i not in ipc]
    assert len(encoded) == len(case["frames"])
    for i in ipc:
        written, expected = (from_ipc("table", bytes.fromhex(frames[i])) for frames in (encoded, case["frames"]))
        assert same_arrow(written, expected), f"frame {i} reads as another table"


def test_the_vectors_cover_tables_and_both_writers():
    names = " | ".join(IDS)
    for needle in ["table of every kind of column", "vector of strings", "table written by apache-arrow",
                   "table from a pandas DataFrame", "envelope call with a table"]:
        assert needle in names, needle


def test_vectors_file_is_what_make_vectors_writes():
    result = subprocess.run([sys.executable, os.path.join(PROTOCOL_DIR, "make_vectors.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_call_context_vectors_parse_to_the_meta_they_mean():
    from piton.protocol import Meta, parse_request

    by_name = {c["name"]: c for c in CASES}
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    call = parse_request(decode(_frames(by_name["envelope call with trace context"])))
    assert call.meta == Meta(traceparent, None, None, None) and call.progress is False
    call = parse_request(decode(_frames(by_name["envelope call with trace context, baggage and values"])))
    assert call.meta == Meta(traceparent, "vendor=opaque", "tenant=acme%20corp", {"requestId": "r-17"})
    assert call.progress is True
    batch = parse_request(decode(_frames(by_name["envelope batch with a traced call"])))
    assert [c.meta for c in batch.calls] == [None, Meta(traceparent, None, None, None)]
    stream = parse_request(decode(_frames(by_name["envelope stream with values"])))
    assert stream.meta == Meta(None, None, None, {"requestId": "r-18"}) and stream.batch == 2
    plain = parse_request(decode(_frames(by_name["envelope call"])))
    assert plain.meta is None


def test_the_control_lane_reads_and_writes_the_cancel_vectors():
    """control.py speaks plain MessagePack from its own thread: the same bytes as the vectors."""
    from piton.control import ControlLane
    from piton.lane import Lane
    from piton.conversation import Conversation

    by_name = {c["name"]: c for c in CASES}
    lanes = [Lane(0, Conversation()), Lane(1, Conversation())]
    lanes[0]._seen = lanes[1]._seen = 20  # both requests arrived and replied: "done"
    lane = ControlLane.__new__(ControlLane)
    lane._lanes = lambda: lanes
    reply = lane.answer(_frames(by_name["envelope cancel"]))
    assert decode([reply]) == ["cancelled", 7, ["done", "done"]]
    expected = by_name["envelope cancelled"]
    assert encode(from_tagged(expected["value"]))[0] == _frames(expected)[0]
    import msgpack

    assert msgpack.packb(["cancelled", 7, ["cancelled", "blocked", "done"]]) == _frames(expected)[0]
