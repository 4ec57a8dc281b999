"""An iris classifier, trained when the module is imported.

The pool preloads this module, so each interpreter trains its model once, before it reports
ready; a replacement interpreter trains its own. The iris data ships with scikit-learn: nothing is
downloaded.
"""
from typing import List, TypedDict

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

_iris = load_iris()
_model = LogisticRegression(max_iter=1000).fit(_iris.data, _iris.target)

CLASSES = [str(name) for name in _iris.target_names]
FEATURES = [str(name) for name in _iris.feature_names]


class ModelInfo(TypedDict):
    classes: List[str]
    features: List[str]


def predict(features: List[List[float]]) -> List[str]:
    """The class name of each row of `features` (rows of 4 measurements, in cm)."""
    rows = np.asarray(features, dtype=float)
    if rows.ndim != 2 or rows.shape[1] != len(FEATURES):
        raise ValueError(f"features must be rows of {len(FEATURES)} numbers ({', '.join(FEATURES)})")
    return [CLASSES[i] for i in _model.predict(rows)]


def describe() -> ModelInfo:
    return {"classes": CLASSES, "features": FEATURES}
