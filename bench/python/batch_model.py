"""The http-service example's model (an iris LogisticRegression), callable per row and batched."""
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import piton

_iris = load_iris()
_model = LogisticRegression(max_iter=1000).fit(_iris.data, _iris.target)
_names = [str(n) for n in _iris.target_names]


def predict_one(rows):
    """One call, one predict(): what every request costs without batching."""
    return [_names[i] for i in _model.predict(np.asarray(rows, dtype=float))]


@piton.batched(max_size=64, max_wait_ms=2)
def predict(rows):
    """The same, given every waiting call's rows as one array."""
    return [_names[i] for i in _model.predict(rows)]
