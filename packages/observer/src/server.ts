/**
 * The observer's HTTP side: the page and its two assets, a JSON snapshot, and a Server-Sent Events
 * stream that carries a snapshot every `sampleInterval` ms and each supervisor event as it happens.
 *
 * `createObserverHandler` is the request handler alone, for mounting under a prefix on a server the
 * service already has; `startObserver` (index.ts) gives it a server of its own.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { ActorSystem } from '@piton/core';
import { ObserverModel, type ObservedEvent } from './model.js';
import { resolveObserverOptions, type ObserverOptions, type ResolvedObserverOptions } from './options.js';

const ASSETS = new URL('../assets/', import.meta.url);

interface Asset {
  type: string;
  body: Buffer;
}

/** The page's files, read once: the page is self-contained (no CDN, no build step at run time). */
function loadAssets(): Map<string, Asset> {
  const read = (name: string, type: string): [string, Asset] => [`/${name}`, { type, body: readFileSync(new URL(name, ASSETS)) }];
  const assets = new Map([
    read('index.html', 'text/html; charset=utf-8'),
    read('observer.js', 'text/javascript; charset=utf-8'),
    read('observer.css', 'text/css; charset=utf-8'),
  ]);
  assets.set('/', assets.get('/index.html')!);
  return assets;
}

export interface ObserverHandler {
  /** Serves a request whose URL (less `prefix`) is the observer's; returns false for any other URL. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Pages open now. */
  readonly watchers: number;
  /** Ends every open page's stream and stops listening to the system. */
  close(): void;
}

export interface HandlerOptions extends ObserverOptions {
  /** Path under which the observer is mounted, e.g. `/observer`. @default '' */
  prefix?: string;
}

function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function givenToken(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length);
  return url.searchParams.get('token') ?? undefined;
}

export function createObserverHandler(system: ActorSystem, options: HandlerOptions = {}): ObserverHandler {
  const { prefix = '', ...rest } = options;
  if (typeof prefix !== 'string' || (prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/')))) {
    throw new TypeError(`options.prefix must be '' or start with '/' and not end with it, got ${JSON.stringify(prefix)}`);
  }
  const resolved = resolveObserverOptions(rest);
  return new Handler(system, resolved, prefix);
}

class Handler implements ObserverHandler {
  readonly #model: ObserverModel;
  readonly #options: ResolvedObserverOptions;
  readonly #prefix: string;
  readonly #assets = loadAssets();
  readonly #streams = new Set<ServerResponse>();
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(system: ActorSystem, options: ResolvedObserverOptions, prefix: string) {
    this.#options = options;
    this.#prefix = prefix;
    this.#model = new ObserverModel(system, options);
  }

  get watchers(): number {
    return this.#streams.size;
  }

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://observer');
    if (this.#prefix !== '' && url.pathname !== this.#prefix && !url.pathname.startsWith(`${this.#prefix}/`)) return false;
    if (this.#prefix !== '' && url.pathname === this.#prefix) {
      // The page's links are relative: it must be served from a directory-like URL.
      res.writeHead(308, { location: `${this.#prefix}/${url.search}` }).end();
      return true;
    }
    const path = url.pathname.slice(this.#prefix.length);
    const known = this.#assets.has(path) || path === '/api/snapshot' || path === '/api/events';
    if (!known) return false;
    if (this.#options.token !== undefined && !tokenMatches(this.#options.token, givenToken(req, url))) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end('observer: a valid token is required\n');
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    const asset = this.#assets.get(path);
    if (asset !== undefined) {
      res.writeHead(200, {
        'content-type': asset.type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:",
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
    } else if (path === '/api/snapshot') {
      void this.#model.snapshot().then(
        (snapshot) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(snapshot)),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
      );
    } else {
      this.#openStream(req, res);
    }
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopSampling();
    for (const res of this.#streams) res.end();
    this.#streams.clear();
    this.#model.close();
  }

  #openStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closed) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: 1000\n\n`);
    res.write(frame('events', this.#model.events));
    this.#streams.add(res);
    req.once('close', () => {
      this.#streams.delete(res);
      if (this.#streams.size === 0) this.#stopSampling();
    });
    this.#startSampling();
    // A page that opens gets the charts' whole history once; the ticks after carry the latest samples.
    void this.#model.snapshot().then(
      (snapshot) => res.write(frame('snapshot', snapshot)),
      () => undefined,
    );
  }

  #startSampling(): void {
    if (this.#timer !== undefined) return;
    this.#unsubscribe = this.#model.onEvent(this.#onEvent);
    this.#timer = setInterval(() => void this.#sample(), this.#options.sampleInterval);
  }

  #stopSampling(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  readonly #onEvent = (event: ObservedEvent): void => {
    this.#broadcast(frame('event', event));
    // A restart or a give-up changes the tree: show it now, not at the next tick.
    void this.#sample();
  };

  /** One snapshot to every open page; samples never overlap (a slow tree read skips a tick). */
  async #sample(): Promise<void> {
    if (this.#sampling || this.#streams.size === 0) return;
    this.#sampling = true;
    try {
      this.#broadcast(frame('snapshot', ObserverModel.tick(await this.#model.snapshot())));
    } catch {
      // The system is stopping: the next tick (if any) tries again.
    } finally {
      this.#sampling = false;
    }
  }

  #broadcast(data: string): void {
    for (const res of this.#streams) res.write(data);
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
