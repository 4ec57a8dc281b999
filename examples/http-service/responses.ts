// The HTTP side of the service, as pure functions: what a request body must look like, and which
// status each way a call can fail deserves. Kept apart from the server so a test can check them.
import { CallTimeoutError, PoolStoppedError, PythonError, QueueFullError, InterpreterExitedError } from '@piton/python-bridge';

/** Measurements per flower: sepal length, sepal width, petal length, petal width (cm). */
export const FEATURES_PER_ROW = 4;
export const MAX_ROWS = 1_000;

export class BadRequest extends Error {}

/** The rows of a `/predict` body, checked and laid out as one float64 array, row after row. */
export interface PredictRows {
  values: Float64Array;
  rows: number;
}

/**
 * The `features` of a `/predict` body, checked and copied into one `Float64Array` in the same
 * pass (plain loops: this runs on every request, and `flat()` plus a check per value in closures
 * cost the Node process more than the rest of the request's JavaScript); throws `BadRequest`
 * naming what is wrong.
 */
export function parsePredictBody(text: string): PredictRows {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new BadRequest(`the body must be JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || !('features' in body)) {
    throw new BadRequest('the body must be an object with "features": [[sepal length, sepal width, petal length, petal width], ...]');
  }
  const { features } = body as { features: unknown };
  if (!Array.isArray(features) || features.length === 0 || features.length > MAX_ROWS) {
    throw new BadRequest(`"features" must be an array of 1 to ${MAX_ROWS} rows`);
  }
  const values = new Float64Array(features.length * FEATURES_PER_ROW);
  for (let i = 0; i < features.length; i++) {
    const row: unknown = features[i];
    if (!Array.isArray(row) || row.length !== FEATURES_PER_ROW) {
      throw new BadRequest(`features[${i}] must be an array of ${FEATURES_PER_ROW} numbers`);
    }
    for (let j = 0; j < FEATURES_PER_ROW; j++) {
      const value: unknown = row[j];
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new BadRequest(`features[${i}][${j}] must be a finite number, got ${JSON.stringify(value)}`);
      }
      values[i * FEATURES_PER_ROW + j] = value;
    }
  }
  return { values, rows: features.length };
}

export interface ErrorResponse {
  status: number;
  /** Seconds a client should wait before retrying (`Retry-After`), for 503s. */
  retryAfter?: number;
  message: string;
}

/** The response for a failed prediction: the client's fault (4xx), overload (503), or ours (5xx). */
export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof BadRequest) return { status: 400, message: error.message };
  // The model refused the input (sklearn raises ValueError): the client's fault.
  if (error instanceof PythonError && error.pythonType === 'ValueError') return { status: 400, message: error.message };
  if (error instanceof QueueFullError) return { status: 503, retryAfter: 1, message: 'overloaded: too many predictions waiting' };
  if (error instanceof PoolStoppedError) return { status: 503, retryAfter: 5, message: 'the service is shutting down' };
  // Even after its retry the interpreter died: a replacement is starting.
  if (error instanceof InterpreterExitedError) return { status: 503, retryAfter: 1, message: 'the model restarted; try again' };
  if (error instanceof CallTimeoutError) return { status: 504, message: 'the prediction took too long' };
  return { status: 500, message: 'internal error' };
}
