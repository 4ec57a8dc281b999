// A prediction service as it would be deployed: node:http in front of a pool of Python
// interpreters serving a scikit-learn model, with Kubernetes probes, Prometheus metrics,
// structured logs and a graceful shutdown on SIGTERM.
//
//   npm run example:service            (PORT=8080 by default; PORT=0 picks a free port)
//   curl -s localhost:8080/predict -d '{"features": [[5.1, 3.5, 1.4, 0.2]]}'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ndarray, PythonPool, type PoolEvent } from '@piton/python-bridge';
import { poolMetrics } from '@piton/python-bridge/metrics';
import { BadRequest, errorResponse, FEATURES_PER_ROW, parsePredictBody } from './responses.js';
import { traced } from './tracing.js';

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const MAX_BODY_BYTES = 1024 * 1024;

/** One JSON line per event on stderr: what a log collector reads. */
function log(message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), message, ...fields })}\n`);
}

/** The pool's life in the log, from its first moment: interpreters started, exited, replaced. */
function logPoolEvent(event: PoolEvent): void {
  if (event.type === 'replaced') {
    const { worker, cause, reason, pid, previousPid } = event;
    log('interpreter replaced', { worker, cause, reason, pid, previousPid });
  } else if ('path' in event) {
    log(`supervisor ${event.type}`, { path: event.path, ...('reason' in event && { reason: String(event.reason) }) });
  } else if ('worker' in event) {
    log(`interpreter ${event.type}`, { worker: event.worker, ...('cause' in event && { cause: event.cause }) });
  } else {
    log(`pool ${event.type}`, { pool: event.pool }); // remote hosts' state and DNS resolutions (none here)
  }
}

const pool = await PythonPool.start({
  size: Number(process.env.POOL_SIZE ?? 2),
  path: here,
  // Each interpreter trains the classifier (_classifier.py) before it reports ready. model.py,
  // which the service calls, does not import scikit-learn, so `npx piton types` reads its hints fast.
  preload: ['_classifier', 'model'],
  startTimeout: 60_000, // importing scikit-learn and training take seconds on a busy machine
  callTimeout: 10_000,
  maxQueue: Number(process.env.MAX_QUEUE ?? 256), // beyond it: 503 with Retry-After, not an ever-growing queue
  shutdownTimeout: 10_000, // how long SIGTERM lets queued and running predictions finish
  events: logPoolEvent,
  onOutput: ({ worker, stream, line }) => log('python output', { worker, stream, line }),
});

const registry = new Registry();
collectDefaultMetrics({ register: registry });
const metrics = poolMetrics(pool, { registry });

let stopping = false;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  const text = JSON.stringify(body);
  // While stopping, close each connection after its response so keep-alive clients reconnect elsewhere.
  if (stopping) headers.Connection = 'close';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BadRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function predict(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const { values, rows } = parsePredictBody(await readBody(req));
    // predict() is idempotent: a call whose interpreter died may safely run once more.
    // One float64 array per request: the batched predict() gets every waiting request's rows as one.
    // Typed by model.py's hints (piton-types.d.ts): rows must be an NdArray<Float64Array>, predictions is string[].
    // `transfer`: the array is this request's alone and nothing writes to it, so the pool need not copy it.
    const features = ndarray(values, [rows, FEATURES_PER_ROW]);
    const predictions = await pool.call('model', 'predict', [features], { retries: 1, transfer: true });
    send(res, 200, { predictions });
  } catch (error) {
    const { status, retryAfter, message } = errorResponse(error);
    if (status >= 500) log('prediction failed', { status, error: String(error) });
    send(res, status, { error: message }, retryAfter === undefined ? {} : { 'Retry-After': retryAfter });
  }
}

/** Liveness: the process answers and its pool has not given up (a failed pool needs a restart). */
function healthz(res: ServerResponse): void {
  const { state } = pool.stats();
  const alive = state !== 'failed' && state !== 'stopped';
  send(res, alive ? 200 : 503, { status: alive ? 'ok' : 'unhealthy', state });
}

/** Readiness: every interpreter is up and the service accepts work (not during a shutdown). */
function readyz(res: ServerResponse): void {
  const { state, size, ready, busy, starting, queued } = pool.stats();
  const whole = ready + busy === size;
  const isReady = !stopping && state === 'running' && whole;
  send(res, isReady ? 200 : 503, { status: isReady ? 'ready' : 'not ready', state, size, ready, busy, starting, queued });
}

const server = createServer(traced((req, res) => {
  const route = `${req.method} ${new URL(req.url ?? '/', 'http://service').pathname}`;
  switch (route) {
    case 'POST /predict':
      return void predict(req, res);
    case 'GET /healthz':
      return healthz(res);
    case 'GET /readyz':
      return readyz(res);
    case 'GET /metrics':
      return void registry.metrics().then((text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(text);
      });
    case 'GET /debug/tree':
      // The supervision tree: each interpreter's worker, status, restarts and pid.
      return void pool.system.tree().then((tree) => send(res, 200, tree));
    default:
      return send(res, 404, { error: `no route ${route}` });
  }
}));

/**
 * SIGTERM (a deploy, a scale-down): stop accepting connections, let the requests in progress
 * finish (their predictions run on the pool as usual), then let any prediction still queued run
 * and stop the interpreters, and exit 0. Within Kubernetes' default grace period of 30 s:
 * SHUTDOWN_GRACE_MS for the requests, then at most 2 × shutdownTimeout for the pool.
 */
const SHUTDOWN_GRACE_MS = 10_000;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  // No new connections; idle keep-alive ones close now, busy ones after their response
  // (`Connection: close`, see send()).
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  log('shutting down', { signal });
  // A client that keeps its request open past the grace period is cut off.
  const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  await closed;
  clearTimeout(cut);
  await pool.stop({ drain: true });
  metrics.close();
  log('stopped', { completed: pool.stats().completed });
  // Nothing is left holding the event loop: the process exits by itself, with code 0. If
  // something did, say so rather than hang a deploy.
  setTimeout(() => {
    log('still running after shutdown; exiting', { resources: process.getActiveResourcesInfo() });
    process.exit(1);
  }, 5_000).unref();
}
process.once('SIGTERM', (signal) => void shutdown(signal));
process.once('SIGINT', (signal) => void shutdown(signal));

server.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  console.log(`listening on http://${host}:${bound}`);
});
