"""An iris classifier, trained when the module is imported.

The pool preloads this module, so each interpreter trains its model once, before it reports
ready; a replacement interpreter trains its own. The iris data ships with scikit-learn: nothing is
downloaded.
"""
from typing import List, Tuple, TypedDict

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import piton

_iris = load_iris()
_model = LogisticRegression(max_iter=1000).fit(_iris.data, _iris.target)

CLASSES = [str(name) for name in _iris.target_names]
FEATURES = [str(name) for name in _iris.feature_names]


class ModelInfo(TypedDict):
    classes: List[str]
    features: List[str]


#: Rows of 4 measurements: an NdArray<Float64Array> of shape [n, 4] in Node.
Rows = np.ndarray[Tuple[int, int], np.dtype[np.float64]]


# Dynamic batching: the pool merges the predictions waiting together (up to 64 requests, waiting
# at most 2 ms for more while an interpreter is free) into one call. Each request sends its rows as
# one float64 array, so this gets every request's rows as one array, and scikit-learn's fixed cost
# per predict() is paid once per batch instead of once per request.
@piton.batched(max_size=64, max_wait_ms=2)
def predict(features: Rows) -> List[str]:
    """The class name of each row of `features` (rows of 4 measurements, in cm)."""
    rows = np.asarray(features, dtype=float)
    if rows.ndim != 2 or rows.shape[1] != len(FEATURES):
        raise ValueError(f"features must be rows of {len(FEATURES)} numbers ({', '.join(FEATURES)})")
    return [CLASSES[i] for i in _model.predict(rows)]


def describe() -> ModelInfo:
    return {"classes": CLASSES, "features": FEATURES}
