"""The service benchmark's gunicorn+Flask server: ``POST /predict`` as examples/http-service answers it.

Run by ``gunicorn --workers 2 --worker-class sync --preload -c gunicorn_conf.py flask_app:app``.
The body is checked as the example's ``parsePredictBody`` checks it (an object with ``features``:
1 to 1,000 rows of 4 finite numbers), and a bad one is answered 400 with the reason.
"""
import math

from flask import Flask, jsonify, request

import iris

MAX_ROWS = 1000

app = Flask(__name__)


class BadRequest(Exception):
    pass


def parse_features(body):
    if not isinstance(body, dict) or "features" not in body:
        raise BadRequest('the body must be an object with "features"')
    features = body["features"]
    if not isinstance(features, list) or not 1 <= len(features) <= MAX_ROWS:
        raise BadRequest(f'"features" must be an array of 1 to {MAX_ROWS} rows')
    for i, row in enumerate(features):
        if not isinstance(row, list) or len(row) != 4:
            raise BadRequest(f"features[{i}] must be an array of 4 numbers")
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BadRequest(f"features[{i}][{j}] must be a finite number")
    return features


@app.post("/predict")
def predict():
    try:
        features = parse_features(request.get_json(force=True, silent=False))
        return jsonify(predictions=iris.predict(features))
    except BadRequest as exc:
        return jsonify(error=str(exc)), 400
    except ValueError as exc:  # the model refused the input, as the example answers it
        return jsonify(error=str(exc)), 400
