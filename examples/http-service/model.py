"""An iris classifier: predictions and a description of its inputs and classes.

The classifier itself is trained in ``_classifier.py``, which the pool preloads, so each
interpreter has trained it before it reports ready. This module imports only what its signatures
name (numpy), so reading its hints (``npx piton types``) does not import scikit-learn or train.
"""
from types import ModuleType
from typing import List, Tuple, TypedDict

import numpy as np

import piton


def _trained() -> ModuleType:
    """The trained classifier. The pool's preload imported it before this interpreter reported
    ready, so this import finds it in ``sys.modules``; imported without the pool, it trains here."""
    import _classifier

    return _classifier


class ModelInfo(TypedDict):
    classes: List[str]
    features: List[str]


#: Rows of 4 measurements: an NdArray<Float64Array> of shape [n, 4] in Node.
Rows = np.ndarray[Tuple[int, int], np.dtype[np.float64]]


# Dynamic batching: the pool merges the predictions waiting together (up to 64 requests) into one
# call, sent once an interpreter is free and no more requests arrived in that turn of Node's event
# loop (2 ms at most); while both interpreters are busy the batch keeps filling. Each request
# sends its rows as one float64 array, so this gets every request's rows as one array, and
# scikit-learn's fixed cost per predict() is paid once per batch instead of once per request.
@piton.batched(max_size=64, max_wait_ms=2)
def predict(features: Rows) -> List[str]:
    """The class name of each row of `features` (rows of 4 measurements, in cm)."""
    classifier = _trained()
    rows = np.asarray(features, dtype=float)
    if rows.ndim != 2 or rows.shape[1] != len(classifier.FEATURES):
        features_named = ", ".join(classifier.FEATURES)
        raise ValueError(f"features must be rows of {len(classifier.FEATURES)} numbers ({features_named})")
    return [classifier.CLASSES[i] for i in classifier.MODEL.predict(rows)]


def describe() -> ModelInfo:
    classifier = _trained()
    return {"classes": list(classifier.CLASSES), "features": list(classifier.FEATURES)}
