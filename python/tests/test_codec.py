"""The codec on its own: the choices PROTOCOL.md records, and the numpy-less path."""

import datetime as dt
import decimal
import math
from collections import OrderedDict

import msgpack
import numpy as np
import pytest

from piton import codec
from piton.codec import RawArray, decode, encode
from piton.errors import EncodeError, ProtocolError

UTC = dt.timezone.utc


def round_trip(value):
    return decode([bytes(memoryview(f).cast("B")) for f in encode(value)])


@pytest.mark.parametrize("n", [2**64, -(2**63) - 1, 2**100, -(2**100), 2**1000 + 7, -(2**999) + 3,
                               2**127, -(2**127), 2**127 - 1, -(2**127) - 1, 2**71 - 1, -(2**71)])
def test_big_ints_round_trip_exactly(n):
    assert round_trip(n) == n


def test_big_int_payload_is_minimal_twos_complement():
    for n in [2**64, -(2**64), 2**71 - 1, -(2**71), 2**72 - 1, 2**300]:
        ext = msgpack.unpackb(encode(n)[0], ext_hook=lambda code, data: (code, data))
        code, data = ext
        assert code == 2 and int.from_bytes(data, "big", signed=True) == n
        assert int.from_bytes(data[1:], "big", signed=True) != n or len(data) == 1


def test_naive_datetime_is_sent_as_utc():
    naive = dt.datetime(2024, 3, 4, 5, 6, 7, 890123)
    assert round_trip(naive) == naive.replace(tzinfo=UTC)


def test_aware_datetime_keeps_its_instant_and_comes_back_in_utc():
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    value = dt.datetime(2024, 3, 4, 5, 6, 7, 123456, tzinfo=tz)
    back = round_trip(value)
    assert back == value and back.tzinfo == UTC and back.microsecond == 123456


def test_dates_far_from_the_epoch():
    for value in [dt.datetime(1, 1, 1, tzinfo=UTC), dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                  dt.datetime(1900, 6, 1, 0, 0, 0, 1, tzinfo=UTC)]:
        assert round_trip(value) == value


def test_tuples_and_subclasses_encode_as_their_base_types():
    assert round_trip((1, (2, 3))) == [1, [2, 3]]
    assert round_trip(OrderedDict(a=1)) == {"a": 1}


@pytest.mark.parametrize("value,name", [({1}, "set"), (frozenset(), "frozenset"), (object(), "object"),
                                        (decimal.Decimal("1.5"), "decimal.Decimal"), (1j, "complex"),
                                        ([1, {"x": {2}}], "set"), (np.complex128(1j), "numpy.complex128")])
def test_unsupported_values_are_encode_errors_naming_the_type(value, name):
    with pytest.raises(EncodeError, match=f"cannot encode object of type '{name}'"):
        encode(value)


def test_a_lone_surrogate_is_an_encode_error_naming_the_character():
    with pytest.raises(EncodeError, match=r"\\ud800"):
        encode(["ok", "a\ud800b"])


def test_circular_value_is_an_encode_error():
    value = []
    value.append(value)
    with pytest.raises(EncodeError):
        encode(value)


def test_numpy_scalars_go_as_plain_numbers():
    assert msgpack.unpackb(encode(np.int64(-5))[0]) == -5
    assert msgpack.unpackb(encode(np.uint64(2**64 - 1))[0]) == 2**64 - 1
    assert msgpack.unpackb(encode(np.float32(1.5))[0]) == 1.5
    assert msgpack.unpackb(encode(np.bool_(True))[0]) is True
    assert msgpack.unpackb(encode(np.array(7, dtype="int16"))[0]) == 7  # 0-d array


def test_non_contiguous_and_big_endian_arrays_go_as_c_contiguous_little_endian():
    base = np.arange(24, dtype="float64").reshape(4, 6)
    for array in [base[:, ::2], base.T, np.arange(5, dtype=">i4"), np.asfortranarray(base)]:
        back = round_trip(array)
        assert back.dtype == array.dtype.newbyteorder("=") and np.array_equal(back, array)
        assert back.dtype.byteorder in ("=", "<", "|")


@pytest.mark.parametrize("dtype", ["bool", "float16", "complex128", "object", "U3", "datetime64[s]"])
def test_arrays_of_unsupported_dtypes_are_refused(dtype):
    with pytest.raises(EncodeError, match="numpy array of dtype"):
        encode(np.zeros(2, dtype=dtype))


@pytest.mark.parametrize(
    "masked",
    [
        np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False]),
        np.ma.masked_array(np.arange(6, dtype="int32").reshape(2, 3)),  # no value masked: refused all the same
        np.ma.masked,  # the masked constant, a 0-d masked array
    ],
    ids=["masked values", "nothing masked", "numpy.ma.masked"],
)
def test_masked_arrays_are_refused_rather_than_sent_without_their_mask(masked):
    with pytest.raises(EncodeError, match=r"cannot encode object of type 'numpy\.ma\.[A-Za-z.]*Masked\w*': its mask would be lost"):
        encode({"data": [masked]})
    assert decode(encode(np.ma.getdata(np.ma.masked_array([1.0], mask=[True]))))[0] == 1.0  # the data alone goes


def test_decoded_arrays_view_their_frame_without_a_copy():
    frame = bytearray(np.arange(4, dtype="int32").tobytes())
    head = encode(np.zeros(4, dtype="int32"))[0]
    array = decode([head, frame])
    frame[0:4] = (99).to_bytes(4, "little")
    assert array[0] == 99 and not array.flags.writeable


def test_without_numpy_arrays_arrive_as_raw_arrays_and_go_back(monkeypatch):
    frames = [bytes(memoryview(f).cast("B")) for f in encode(np.arange(6, dtype="uint16").reshape(2, 3))]
    monkeypatch.setattr(codec, "_np", None)
    raw = decode(frames)
    assert isinstance(raw, RawArray)
    assert (raw.dtype, raw.shape, raw.data.tobytes()) == ("uint16", (2, 3), np.arange(6, dtype="<u2").tobytes())
    again = [bytes(memoryview(f).cast("B")) for f in encode(raw)]
    assert again == frames
    with pytest.raises(EncodeError, match="cannot encode object of type 'numpy.ndarray'"):
        encode(np.zeros(1))  # without numpy support, an ndarray is just an unknown object


def test_raw_array_checks_its_size():
    with pytest.raises(ValueError, match="needs 8 bytes"):
        RawArray("int32", [2], b"\x00" * 4)


@pytest.mark.parametrize("frames,message", [
    ([], "empty message"),
    ([b"\xc1"], "undecodable"),
    ([b"\x91\x01extra"], "undecodable"),
    ([msgpack.packb(msgpack.ExtType(1, msgpack.packb(["float64", [2], 1]))), b"\x00" * 8], "needs 16 bytes"),
    ([msgpack.packb(msgpack.ExtType(1, msgpack.packb(["float64", [1], 2]))), b"\x00" * 8], "out of range"),
    ([msgpack.packb(msgpack.ExtType(1, msgpack.packb(["float64", [1], 0]))), b"\x00" * 8], "out of range"),
    ([msgpack.packb(msgpack.ExtType(1, msgpack.packb(["bool", [1], 1]))), b"\x00"], "dtype"),
    ([msgpack.packb(msgpack.ExtType(1, msgpack.packb(["int8", [-1], 1]))), b""], "shape"),
    ([msgpack.packb(msgpack.ExtType(1, b"\xc1"))], "not MessagePack"),
    ([msgpack.packb(msgpack.ExtType(2, b""))], "empty payload"),
    ([msgpack.packb(msgpack.ExtType(7, b"x"))], "unknown MessagePack extension type 7"),
    ([b"\x81\x91\x01\x02"], "undecodable"),  # a map keyed by an array: unhashable in Python
    ([b"\xa2\xff\xfe"], "undecodable"),  # invalid UTF-8
])
def test_bad_input_is_a_protocol_error(frames, message):
    with pytest.raises(ProtocolError, match=message):
        decode(frames)


def test_floats_keep_their_bits():
    for value in [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]:
        back = round_trip(value)
        assert (math.isnan(back) and math.isnan(value)) or (back == value and math.copysign(1, back) == math.copysign(1, value))
