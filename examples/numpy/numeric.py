"""numpy functions called from Node in examples/numpy/index.ts.

Arrays arrive as read-only numpy views of the message (no copy): compute new arrays from them.
The hints say each array's dtype and, where it is fixed, its number of dimensions: for Node, a
1-d array is a typed array (`Vector`: a Float64Array) and an n-d one an NdArray.
"""
from typing import Any, List, Tuple, TypedDict

import numpy as np
import numpy.typing as npt

#: A 1-d float64 array: a Float64Array in Node.
Vector = np.ndarray[Tuple[int], np.dtype[np.float64]]
#: A 2-d float64 array: an NdArray<Float64Array> in Node.
Matrix = np.ndarray[Tuple[int, int], np.dtype[np.float64]]


class ArrayInfo(TypedDict):
    dtype: str
    shape: List[int]
    owndata: bool
    writeable: bool


class ColumnStats(TypedDict):
    stats: np.ndarray[Tuple[int, int], np.dtype[np.float32]]
    max: float


def inspect(array: npt.NDArray[Any]) -> ArrayInfo:
    """What Python received: dtype, shape, and whether the array views the message."""
    return {
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "owndata": bool(array.flags.owndata),
        "writeable": bool(array.flags.writeable),
    }


def moving_average(signal: Vector, window: int) -> Vector:
    """The mean of each `window` consecutive samples (length: len(signal) - window + 1)."""
    kernel = np.full(window, 1.0 / window)
    return np.convolve(signal, kernel, mode="valid")


def solve(a: Matrix, b: Vector) -> Vector:
    """x such that a @ x == b, for a square matrix a (an NdArray in Node)."""
    return np.linalg.solve(a, b)


def column_stats(matrix: np.ndarray[Tuple[int, int], np.dtype[np.float32]]) -> ColumnStats:
    """Per-column mean and standard deviation, as a 2 x n NdArray, and the overall max as a numpy scalar."""
    return {"stats": np.stack([matrix.mean(axis=0), matrix.std(axis=0)]), "max": matrix.max()}


def scaled(array: Vector, factor: float) -> Vector:
    return array * factor
