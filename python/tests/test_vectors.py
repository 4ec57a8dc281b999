"""The shared vectors (protocol/vectors.json): every case decodes to its value; the cases listing
"py" as encoder encode to exactly their frames."""

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

from tagged import as_decoded, from_tagged, same  # noqa: E402

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
                   "envelope ready with lanes"]:
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
    assert encoded == case["frames"]


def test_vectors_file_is_what_make_vectors_writes():
    result = subprocess.run([sys.executable, os.path.join(PROTOCOL_DIR, "make_vectors.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
