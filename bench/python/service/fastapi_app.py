"""The service benchmark's uvicorn+FastAPI server: ``POST /predict`` as examples/http-service answers it.

Run by ``uvicorn fastapi_app:app --workers 2``. The body is a pydantic model (1 to 1,000 rows of
4 finite numbers; a bad one is answered 422, FastAPI's way). The endpoint is ``async def``: the
prediction takes well under a millisecond of CPU, which costs less on the event loop than handed
to the thread pool a plain ``def`` endpoint runs in. Each worker writes ``ready <pid>`` on stderr
when its application has started, for the benchmark's fault round.
"""
import os
import sys
from contextlib import asynccontextmanager
from typing import Annotated, List

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

import iris

Row = Annotated[List[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=4, max_length=4)]


class PredictBody(BaseModel):
    features: Annotated[List[Row], Field(min_length=1, max_length=1000)]


@asynccontextmanager
async def lifespan(_app):
    sys.stderr.write(f"ready {os.getpid()}\n")
    sys.stderr.flush()
    yield


app = FastAPI(lifespan=lifespan)


@app.post("/predict")
async def predict(body: PredictBody):
    try:
        return {"predictions": iris.predict(body.features)}
    except ValueError as exc:  # the model refused the input, as the example answers it
        raise HTTPException(status_code=400, detail=str(exc)) from exc
