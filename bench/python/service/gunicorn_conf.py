"""gunicorn settings of the service benchmark: say on stderr when a worker is ready to serve.

The benchmark reads ``ready <pid>`` to know when a replacement worker is back (the fault round's
"time back to full strength"); gunicorn's own log says when a worker is forked, not when it serves.
"""
import os
import sys


def post_worker_init(worker):
    sys.stderr.write(f"ready {os.getpid()}\n")
    sys.stderr.flush()
