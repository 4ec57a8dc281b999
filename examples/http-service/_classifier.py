"""The iris classifier behind ``model.py``, trained when this module is imported.

The pool preloads it (``preload: ['_classifier']`` in index.ts), so each interpreter trains its
classifier once, before it reports ready; a replacement interpreter trains its own. Its name is
private, so the pool does not serve it and ``npx piton types`` does not import it: reading
``model.py``'s hints costs neither scikit-learn's import nor the training. The iris data ships with
scikit-learn: nothing is downloaded.
"""
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

_iris = load_iris()

MODEL = LogisticRegression(max_iter=1000).fit(_iris.data, _iris.target)
CLASSES = [str(name) for name in _iris.target_names]
FEATURES = [str(name) for name in _iris.feature_names]
