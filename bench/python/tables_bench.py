"""The tables benchmark (bench/tables.ts): a 1M-row DataFrame of 8 columns (4 numeric, 2 strings,
1 bool, 1 timestamp), made once per process, and what the pool returns for it: the frame itself
(an Arrow table on the wire), its pyarrow table, ``to_dict('records')``, ``to_json(orient='records')``.

Run as a script, it is the floor (``--endpoint``): a bare pyzmq REP socket that answers ``get``
with the IPC stream of the same frame (written once, at start) as a raw second frame, and ``put``
(a raw frame from Node) with its length. No protocol, no codec, no conversion per request.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List

import numpy as np
import pandas as pd

ROWS = 1_000_000
_cache: Dict[int, Any] = {}


def make(rows: int = ROWS) -> pd.DataFrame:
    """The data set, the same in every process (seeded)."""
    if rows not in _cache:
        rng = np.random.default_rng(2024)
        cities = np.array(["Oslo", "Lima", "Zürich", "Kyoto", "Nairobi", "Quito", "Perth", "Turku"])
        _cache[rows] = pd.DataFrame({
            "id": np.arange(rows, dtype="int64"),
            "price": rng.random(rows) * 100,
            "qty": rng.integers(0, 1000, rows, dtype="int32"),
            "score": rng.random(rows).astype("float32"),
            "city": pd.array(cities[rng.integers(0, len(cities), rows)], dtype="str"),
            "sku": pd.array([f"sku-{i % 50_000:05d}" for i in range(rows)], dtype="str"),
            "paid": rng.random(rows) < 0.5,
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366 * 86_400, rows), unit="s"),
        })
    return _cache[rows]


def frame(rows: int = ROWS) -> pd.DataFrame:
    return make(rows)


def table(rows: int = ROWS):
    import pyarrow as pa

    key = ("table", rows)
    if key not in _cache:
        _cache[key] = pa.Table.from_pandas(make(rows))
    return _cache[key]


def records(rows: int = ROWS) -> List[Dict[str, Any]]:
    return make(rows).to_dict("records")


def json(rows: int = ROWS) -> str:
    return make(rows).to_json(orient="records", date_format="iso")


def rows_of(table) -> int:
    """Node → Python: what a function does with a received table here (its row count)."""
    return table.num_rows


def serve_floor(endpoint: str) -> None:
    import zmq

    from piton.arrow import describe_tabular, to_ipc

    df = make()
    stream = to_ipc(df, describe_tabular(df))[1]  # the bytes the pool sends for frame()
    context = zmq.Context()
    sock = context.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    print(f"ready {stream.size}", flush=True)
    while True:
        frames = sock.recv_multipart(copy=False)
        kind = frames[0].bytes
        if kind == b"get":
            sock.send(b"ok", zmq.SNDMORE)
            sock.send(stream, copy=False)
        elif kind == b"put":
            sock.send(str(len(frames[1])).encode())
        else:
            sock.send(b"bye")
            return


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    serve_floor(parser.parse_args().endpoint)
    sys.exit(0)
