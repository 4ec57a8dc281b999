"""A heavy preload for the start-up benchmark: about 1 s of import time and a 256 MiB numpy array,
as a model with its libraries would be (scikit-learn takes ~1 s to import)."""
import time

import numpy as np

#: Import time, spent in Python (not asleep), as a real import is.
IMPORT_SECONDS = 1.0

_until = time.perf_counter() + IMPORT_SECONDS
while time.perf_counter() < _until:
    pass

#: 256 MiB, every page written, so it is resident (and shared copy-on-write by forked interpreters).
MODEL = np.ones(32 * 1024 * 1024, dtype=np.float64)


def predict(x):
    return float(MODEL[int(x)]) * x
