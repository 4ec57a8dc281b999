"""numpy functions called from Node in examples/numpy/index.ts.

Arrays arrive as read-only numpy views of the message (no copy): compute new arrays from them.
"""
import numpy as np


def inspect(array):
    """What Python received: dtype, shape, and whether the array views the message."""
    return {
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "owndata": bool(array.flags.owndata),
        "writeable": bool(array.flags.writeable),
    }


def moving_average(signal, window):
    """The mean of each `window` consecutive samples (length: len(signal) - window + 1)."""
    kernel = np.full(window, 1.0 / window)
    return np.convolve(signal, kernel, mode="valid")


def solve(a, b):
    """x such that a @ x == b, for a square matrix a (an NdArray in Node)."""
    return np.linalg.solve(a, b)


def column_stats(matrix):
    """Per-column mean and standard deviation, as a 2 x n NdArray, and the overall max as a numpy scalar."""
    return {"stats": np.stack([matrix.mean(axis=0), matrix.std(axis=0)]), "max": matrix.max()}


def scaled(array, factor):
    return array * factor
