// examples/streaming-chat run as a user runs it (its own process, a real HTTP server, real
// interpreters, real httpx connections), read by real SSE clients. The first test points the
// example at a completion API of the test's own (CHAT_API_URL), which paces the tokens by events:
// it holds every answer after its first token until all the clients' requests are open at once,
// so that they are provably in flight together on a pool of two; and it holds some answers for
// good, so that a client that leaves, and a shutdown, are seen to cancel a generator waiting on
// the API (Python closes its connection).
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { standInReply } from '../examples/streaming-chat/stand-in-api.js';
import { startExample, workersOf, type HttpService } from './helpers.js';
import { until } from './support.js';

interface ServerSentEvent {
  event: string;
  data: unknown;
}

/** Reads `GET base/chat?prompt=` as Server-Sent Events, each given to `onEvent` as it comes. */
async function chat(base: string, prompt: string, onEvent: (e: ServerSentEvent) => void, signal?: AbortSignal): Promise<{ status: number; requestId: string | null }> {
  const res = await fetch(`${base}/chat?prompt=${encodeURIComponent(prompt)}`, { signal });
  const requestId = res.headers.get('x-request-id');
  if (res.status !== 200) return { status: res.status, requestId };
  expect(res.headers.get('content-type')).to.equal('text/event-stream');
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const lines = text.slice(0, end).split('\n');
        text = text.slice(end + 2);
        const event = lines.find((l) => l.startsWith('event: '))?.slice('event: '.length) ?? 'message';
        const data = lines.find((l) => l.startsWith('data: '))?.slice('data: '.length);
        onEvent({ event, data: data === undefined ? undefined : JSON.parse(data) });
      }
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
  }
  return { status: res.status, requestId };
}

/** Reads a whole reply: its id, tokens in order, and its last event. */
async function wholeReply(base: string, prompt: string): Promise<{ id: unknown; tokens: unknown[]; last: ServerSentEvent | undefined; requestId: string | null }> {
  const tokens: unknown[] = [];
  let id: unknown;
  let last: ServerSentEvent | undefined;
  const { requestId } = await chat(base, prompt, (e) => {
    if (e.event === 'start') id = (e.data as { id: string }).id;
    else if (e.event === 'message') tokens.push(e.data);
    else last = e;
  });
  return { id, tokens, last, requestId };
}

/** Starts the example as `npm run example:chat` would, on a free port; resolves with its URL. */
function startChat(env: Record<string, string>): Promise<HttpService> {
  return startExample('streaming-chat', env);
}

/** The JSON log lines of the example (stderr) that have `message`, parsed. */
function logLines(stderr: string, message: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.message === message);
}

/** What chat.py's finally said about the reply `id` (a `python output` line), if it has. */
function replyEnded(stderr: string, id: string): Record<string, unknown> | undefined {
  for (const entry of logLines(stderr, 'python output')) {
    const line = String(entry.line);
    if (!line.startsWith('{')) continue;
    const said = JSON.parse(line) as Record<string, unknown>;
    if (said.event === 'reply ended' && said.id === id) return said;
  }
  return undefined;
}

/** An answer the API holds after its first token until its caller closes the connection. */
interface HeldAnswer {
  /** Resolves with how many tokens the answer had written when its caller closed the connection. */
  closed: Promise<number>;
}

/**
 * A completion API speaking the stand-in's protocol (a token per NDJSON line, `standInReply`'s
 * tokens), paced by the test: each answer's first token at once, the others only once `expected`
 * requests have arrived (so every answer not yet sent whole is open at that moment); except the
 * answers to the prompts given to `hold()`. Arrivals, not open requests, are counted: a held
 * answer's client may leave after its first token, before the last request arrives.
 */
class PacedApi {
  readonly server: Server;
  open = 0;
  #arrived = 0;
  #allOpen!: () => void;
  readonly allOpen = new Promise<void>((resolve) => (this.#allOpen = resolve));
  readonly #held = new Map<string, (written: number) => void>();

  constructor(readonly expected: number) {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const { prompt } = JSON.parse(body) as { prompt: string };
        const tokens = standInReply(prompt);
        const held = this.#held.get(prompt);
        let written = 0;
        const write = () => res.write(`${JSON.stringify({ token: tokens[written++] })}\n`);
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        write();
        this.open++;
        res.on('close', () => {
          this.open--;
          held?.(written);
        });
        if (++this.#arrived === this.expected) this.#allOpen();
        if (held) return;
        void this.allOpen.then(() => {
          while (written < tokens.length) write();
          res.end();
        });
      });
    });
  }

  hold(prompt: string): HeldAnswer {
    let onClose!: (written: number) => void;
    const closed = new Promise<number>((resolve) => (onClose = resolve));
    this.#held.set(prompt, onClose);
    return { closed };
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('examples/streaming-chat (npm run example:chat)', function () {
  this.timeout(120_000);
  let example: HttpService | undefined;
  let api: PacedApi | undefined;

  afterEach(async () => {
    // A failed test must not leave the example (and its interpreters) running.
    if (example && example.child.exitCode === null && example.child.signalCode === null) {
      const exited = once(example.child, 'exit');
      example.child.kill('SIGKILL');
      await exited;
    }
    example = undefined;
    await api?.close();
    api = undefined;
  });

  it('streams every client its own tokens in order, all at once on a pool of 2; a client that leaves ends its generator; SIGTERM stops everything', async () => {
    const clients = 12;
    const quitterPrompt = 'I will leave early';
    api = new PacedApi(clients + 1);
    const quitterAnswer = api.hold(quitterPrompt);
    const apiUrl = await api.listen();
    example = await startChat({ CHAT_API_URL: apiUrl, POOL_SIZE: '2', CONCURRENCY: '8' });
    const { child, base } = example;

    // The client that leaves: it reads the first token, then disconnects.
    const leaving = new AbortController();
    let quitterId: string | undefined;
    const quitterTokens: unknown[] = [];
    const quitter = chat(
      base,
      quitterPrompt,
      (e) => {
        if (e.event === 'start') quitterId = (e.data as { id: string }).id;
        if (e.event === 'message') {
          quitterTokens.push(e.data);
          leaving.abort();
        }
      },
      leaving.signal,
    );

    const prompts = Array.from({ length: clients }, (_, i) => `question ${i + 1} of ${clients}`);
    const replies = Promise.all(prompts.map((prompt) => wholeReply(base, prompt)));

    // The API holds every answer after its first token until all 13 requests have arrived: were
    // the 12 streams it holds not in flight at once on the 2 interpreters, this would never resolve.
    await api.allOpen;

    for (const [i, reply] of (await replies).entries()) {
      expect(reply.tokens, prompts[i]).to.deep.equal(standInReply(prompts[i]!));
      expect(reply.last).to.deep.equal({ event: 'done', data: { tokens: standInReply(prompts[i]!).length } });
      expect(reply.id).to.be.a('string').and.equal(reply.requestId);
      await until(() => replyEnded(example!.stderr(), reply.id as string) !== undefined, `chat.py's finally for ${prompts[i]}`);
      expect(replyEnded(example.stderr(), reply.id as string)).to.include({ outcome: 'finished', tokens: standInReply(prompts[i]!).length });
    }
    expect(new Set((await replies).map((r) => r.id)).size).to.equal(clients);

    // The quitter's client is gone while its generator awaits the next token, which the API holds:
    // the server aborts the stream, the pull is cancelled in Python, whose `async with` closes
    // the connection to the API and whose finally says so. The other streams were not disturbed.
    expect(await quitter).to.include({ status: 200 });
    expect(quitterTokens).to.deep.equal(standInReply(quitterPrompt).slice(0, 1));
    expect(await quitterAnswer.closed, 'tokens the API wrote before Python closed its connection').to.equal(1);
    expect(logLines(example.stderr(), 'client disconnected').filter((e) => e.id === quitterId)).to.have.length(1);
    await until(() => replyEnded(example!.stderr(), quitterId!) !== undefined, "the quitter's generator ended");
    // Cancelled in its pull, or closed at its yield if the abort came before the next pull did.
    expect(replyEnded(example.stderr(), quitterId!)).to.include({ tokens: 1 }).and.have.property('outcome').that.is.oneOf(['cancelled', 'closed']);
    expect(api.open).to.equal(0);

    // A reply still streaming when SIGTERM comes (its API holding the next token) ends with
    // `event: error`, its generator cancelled; then the example stops, leaving nothing behind.
    const lingererPrompt = 'still here at shutdown';
    const lingererAnswer = api.hold(lingererPrompt);
    const lingererEvents: ServerSentEvent[] = [];
    const lingerer = chat(base, lingererPrompt, (e) => lingererEvents.push(e));
    await until(() => lingererEvents.some((e) => e.event === 'message'), 'the first token of a reply');
    const exited = once(child, 'exit');
    const pid = child.pid!;
    child.kill('SIGTERM');
    await lingerer;
    expect(lingererEvents.map((e) => e.event)).to.deep.equal(['start', 'message', 'error']);
    expect(lingererEvents[2]!.data).to.deep.equal({ error: 'the server is shutting down', tokens: 1 });
    expect(await lingererAnswer.closed).to.equal(1);
    const [code, signal] = await exited;
    expect({ code, signal }, example.stderr()).to.deep.equal({ code: 0, signal: null });
    const [lingererStart] = lingererEvents;
    expect(replyEnded(example.stderr(), (lingererStart!.data as { id: string }).id)).to.include({ tokens: 1 }).and.have.property('outcome').that.is.oneOf(['cancelled', 'closed']);
    expect(logLines(example.stderr(), 'stopped').map((e) => e.repliesServed)).to.deep.equal([clients]);
    expect(workersOf(pid)).to.deep.equal([]);
  });

  it('runs on its own stand-in API, answers 400 to a missing prompt, and stops on SIGINT', async () => {
    example = await startChat({ TOKEN_DELAY_MS: '1' });
    const { child, base } = example;
    expect(logLines(example.stderr(), 'stand-in API started')).to.have.length(1);

    const prompts = ['hello', 'what is a supervision tree?', 'ünïcödé ✓'];
    const replies = await Promise.all(prompts.map((prompt) => wholeReply(base, prompt)));
    for (const [i, reply] of replies.entries()) {
      expect(reply.tokens).to.deep.equal(standInReply(prompts[i]!));
      expect(reply.last).to.deep.equal({ event: 'done', data: { tokens: standInReply(prompts[i]!).length } });
    }

    expect((await chat(base, '', () => undefined)).status).to.equal(400);
    expect((await fetch(`${base}/elsewhere`)).status).to.equal(404);

    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code, example.stderr()).to.equal(0);
    expect(workersOf(child.pid!)).to.deep.equal([]);
  });
});
