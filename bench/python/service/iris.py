"""The model the Python servers of the service benchmark serve: the same as examples/http-service/model.py.

An iris classifier (scikit-learn's ``LogisticRegression`` on the iris data that ships with
scikit-learn), trained when the module is imported, and ``predict`` answering the class name of
each row. It is a copy rather than an import of the example's module, so that the example can
change how its ``predict`` is called (a batching decorator, say) without changing what the
Python servers run; the benchmark checks that all the servers give the same answers.
"""
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

_iris = load_iris()
_model = LogisticRegression(max_iter=1000).fit(_iris.data, _iris.target)

CLASSES = [str(name) for name in _iris.target_names]
FEATURES = [str(name) for name in _iris.feature_names]


def predict(features):
    """The class name of each row of ``features`` (rows of 4 measurements, in cm)."""
    rows = np.asarray(features, dtype=float)
    if rows.ndim != 2 or rows.shape[1] != len(FEATURES):
        raise ValueError(f"features must be rows of {len(FEATURES)} numbers ({', '.join(FEATURES)})")
    return [CLASSES[i] for i in _model.predict(rows)]
