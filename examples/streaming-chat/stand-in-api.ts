// A stand-in for a slow completion API (an LLM behind HTTP), so that the example runs without a
// network or an account: `POST /v1/completions` with `{"prompt": "..."}` answers one token per
// line (`{"token": "..."}`, newline-delimited JSON) with a delay before each, as streaming APIs
// do. It listens on loopback only. The reply is a pure function of the prompt (`standInReply`),
// so a test knows exactly which tokens each client must receive, in which order.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The tokens the stand-in answers `prompt` with: words, each after the first with its leading space. */
export function standInReply(prompt: string): string[] {
  return `Here is a reply to "${prompt}", streamed one token at a time by a slow API.`.split(/(?= )/);
}

export interface StandInApi {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Stops listening and ends the answers still being written. */
  close(): Promise<void>;
}

export interface StandInOptions {
  /** Delay before each token, in ms. */
  tokenDelayMs: number;
  /** Told when an answer ends: all its tokens written, or the caller gone after `written`. */
  onAnswerEnded?: (ended: { requestId: string; written: number; of: number; complete: boolean }) => void;
}

const MAX_BODY_BYTES = 64 * 1024;

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_BODY_BYTES) req.destroy(new Error('body too large'));
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

/** Starts the stand-in on 127.0.0.1, on a free port. */
export async function startStandInApi({ tokenDelayMs, onAnswerEnded }: StandInOptions): Promise<StandInApi> {
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/completions') {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    void readJson(req).then(
      (body) => {
        const prompt = typeof body === 'object' && body !== null && 'prompt' in body ? body.prompt : undefined;
        if (typeof prompt !== 'string') {
          res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"prompt must be a string"}');
          return;
        }
        const requestId = String(req.headers['x-request-id'] ?? '-');
        const tokens = standInReply(prompt);
        let written = 0;
        const writeNext = () => {
          res.write(`${JSON.stringify({ token: tokens[written] })}\n`);
          written++;
          if (written < tokens.length) {
            next = setTimeout(writeNext, tokenDelayMs);
          } else {
            res.end();
            onAnswerEnded?.({ requestId, written, of: tokens.length, complete: true });
          }
        };
        let next = setTimeout(writeNext, tokenDelayMs);
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        // The caller may stop reading and close the connection at any time: stop writing then.
        res.on('close', () => {
          if (written === tokens.length) return;
          clearTimeout(next);
          onAnswerEnded?.({ requestId, written, of: tokens.length, complete: false });
        });
      },
      () => res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"the body must be JSON"}'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    // Closing the connections ends the answers in progress (their 'close' clears their timers).
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
