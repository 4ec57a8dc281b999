"""piton.batched, in-process: how inputs reach the function and outputs come back."""
import numpy as np
import pytest

import piton
from piton.batching import BatchedFunction
from piton.errors import BatchError


@piton.batched(max_size=4, max_wait_ms=1)
def double(xs):
    return [x * 2 for x in xs]


@piton.batched()
def sums(rows):
    return rows.sum(axis=1)


def test_the_decorated_function_is_callable_as_it_was():
    assert isinstance(double, BatchedFunction)
    assert double([1, 2]) == [2, 4]
    assert double.__name__ == "double" and double.__module__ == __name__
    assert double.policy == {"maxSize": 4, "maxWaitMs": 1}


def test_inputs_are_a_list_unless_they_are_arrays_of_one_kind():
    assert double.run([1, 2, 3]) == [2, 4, 6]
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[5.0, 6.0]])
    out = sums.run([a, b])
    assert [list(o) for o in out] == [[3.0, 7.0], [11.0]]


def test_arrays_of_different_dtypes_or_shapes_are_not_concatenated():
    seen = []

    @piton.batched()
    def record(xs):
        seen.append(type(xs).__name__)
        return [0] * len(xs)

    record.run([np.zeros((1, 2)), np.zeros((1, 3))])
    record.run([np.zeros((1, 2)), np.zeros((1, 2), dtype=np.int32)])
    assert seen == ["list", "list"]


def test_the_wrong_number_of_outputs_is_a_batch_error():
    @piton.batched()
    def short(xs):
        return xs[:-1]

    with pytest.raises(BatchError, match="returned 1 outputs for 2 inputs"):
        short.run([1, 2])
    with pytest.raises(BatchError, match="returned 2 outputs for 3 rows"):
        short.run([np.zeros((3, 1))])

    @piton.batched()
    def scalar(xs):
        return 7

    with pytest.raises(BatchError, match="must return a sequence"):
        scalar.run([1])


@pytest.mark.parametrize("kwargs", [{"max_size": 0}, {"max_size": 1.5}, {"max_wait_ms": -1}, {"max_wait_ms": "2"}])
def test_a_bad_policy_is_refused_at_decoration(kwargs):
    with pytest.raises(ValueError):
        piton.batched(**kwargs)
