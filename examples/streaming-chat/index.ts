// A chat endpoint that streams its reply token by token as Server-Sent Events, the way LLM
// front-ends do: node:http in front of a pool of Python interpreters whose `async def` generator
// (chat.py) calls a slow completion API with httpx. One interpreter streams many replies at once
// (`concurrency`): each waits on the API without holding the others up.
//
// The API is a local stand-in (stand-in-api.ts, loopback only) that the example starts itself;
// CHAT_API_URL points it at another one instead.
//
//   npm run example:chat                 (PORT=8080 by default; PORT=0 picks a free port)
//   curl -N 'localhost:8080/chat?prompt=hello'
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PythonPool } from '@piton/python-bridge';
import { startStandInApi, type StandInApi } from './stand-in-api.js';

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const MAX_PROMPT_CHARS = 2_000;

/** One JSON line per event on stderr: what a log collector reads. */
function log(message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), message, ...fields })}\n`);
}

// The completion API: the one CHAT_API_URL names, else the stand-in, answering a token every
// TOKEN_DELAY_MS (50 ms by default).
let standIn: StandInApi | undefined;
if (process.env.CHAT_API_URL === undefined) {
  standIn = await startStandInApi({
    tokenDelayMs: Number(process.env.TOKEN_DELAY_MS ?? 50),
    onAnswerEnded: ({ requestId, written, of, complete }) => {
      if (!complete) log('stand-in API: caller left mid-answer', { id: requestId, written, of });
    },
  });
  log('stand-in API started', { url: standIn.url });
}
const apiUrl = process.env.CHAT_API_URL ?? standIn!.url;

const pool = await PythonPool.start({
  size: Number(process.env.POOL_SIZE ?? 2),
  // Replies spend nearly all their time waiting on the API: each interpreter streams this many at once.
  concurrency: Number(process.env.CONCURRENCY ?? 64),
  path: here,
  preload: ['chat'],
  env: { CHAT_API_URL: apiUrl },
  startTimeout: 30_000,
  onOutput: ({ worker, stream, line }) => log('python output', { worker, stream, line }),
});

/** Why a stream was aborted: its client left, or the server is stopping. */
class ClientGone extends Error {}
class ShuttingDown extends Error {}

/** The open streams, each with the controller that ends it; `streamsEnded` is told when the last one ends. */
const open = new Map<ServerResponse, AbortController>();
let stopping = false;
let streamsEnded: (() => void) | undefined;
let repliesServed = 0;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** One Server-Sent Event: `event` (the default, `message`, when left out) and its JSON data. */
function sendEvent(res: ServerResponse, data: unknown, event?: string): void {
  res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`);
}

/**
 * GET /chat?prompt=...: `event: start` with the request's id, then one `message` event per token
 * (its data the token as a JSON string), then `event: done` with the number of tokens, or
 * `event: error`. A client that disconnects aborts its stream: the pull in progress is cancelled
 * in Python (`CancelledError` where the generator awaits the API; its `async with` closes the API
 * connection, its `finally` runs) and the interpreter goes on serving the other streams.
 */
async function chat(prompt: string, res: ServerResponse): Promise<void> {
  const id = randomUUID();
  const ending = new AbortController();
  let tokens = 0;
  res.on('close', () => {
    if (res.writableFinished) return;
    log('client disconnected', { id, tokens });
    ending.abort(new ClientGone());
  });
  open.set(res, ending);
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Request-Id': id });
  sendEvent(res, { id }, 'start');
  try {
    for await (const token of pool.stream('chat', 'reply', [id, prompt], { signal: ending.signal })) {
      sendEvent(res, token);
      tokens++;
    }
    sendEvent(res, { tokens }, 'done');
    repliesServed++;
  } catch (error) {
    if (error instanceof ShuttingDown) {
      sendEvent(res, { error: 'the server is shutting down', tokens }, 'error');
    } else if (!(error instanceof ClientGone)) {
      log('reply failed', { id, tokens, error: String(error) });
      sendEvent(res, { error: 'the reply failed' }, 'error');
    }
  } finally {
    open.delete(res);
    res.end();
    if (open.size === 0) streamsEnded?.();
  }
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://chat');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /healthz') {
    const { state } = pool.stats();
    return sendJson(res, state === 'running' ? 200 : 503, { state });
  }
  if (route !== 'GET /chat') return sendJson(res, 404, { error: `no route ${route}` });
  const prompt = url.searchParams.get('prompt');
  if (!prompt || prompt.length > MAX_PROMPT_CHARS) {
    return sendJson(res, 400, { error: `?prompt= must be 1 to ${MAX_PROMPT_CHARS} characters` });
  }
  if (stopping) return sendJson(res, 503, { error: 'shutting down' });
  void chat(prompt, res);
});

/**
 * SIGTERM or SIGINT: no new connections; each open stream is aborted (its generator cancelled as
 * when its client leaves) and ends with `event: error`, so that an EventSource client reconnects
 * elsewhere. Then the pool and the stand-in stop and the process exits 0.
 */
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('shutting down', { signal, streams: open.size });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const ended = new Promise<void>((resolve) => {
    streamsEnded = resolve;
    if (open.size === 0) resolve();
  });
  for (const ending of open.values()) ending.abort(new ShuttingDown());
  await ended;
  server.closeAllConnections();
  await closed;
  await pool.stop();
  await standIn?.close();
  log('stopped', { repliesServed });
}
process.once('SIGTERM', (signal) => void shutdown(signal));
process.once('SIGINT', (signal) => void shutdown(signal));

server.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  console.log(`listening on http://${host}:${bound}`);
});
