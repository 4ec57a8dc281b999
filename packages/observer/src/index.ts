/**
 * `@piton/observer`: a live page of a system's supervision tree and Python pools, in the spirit of
 * Erlang's `observer`. It reads only the public APIs: `system.tree()`, `system.events` and each
 * pool's `stats()`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActorSystem } from '@piton/core';
import { createObserverHandler, type ObserverHandler } from './server.js';
import type { ObserverOptions } from './options.js';

export { createObserverHandler, type ObserverHandler, type HandlerOptions } from './server.js';
export { OBSERVER_DEFAULTS, isLoopback, type ObserverOptions, type ObservablePool } from './options.js';
export type { Snapshot, PoolView, PoolSample, ObservedEvent } from './model.js';
export type { ObservedNode } from './tree.js';

export interface Observer {
  /** The page's address (with `?token=` when a token is set). */
  readonly url: string;
  readonly server: Server;
  /** Ends open pages' streams, closes the server and stops listening to the system. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Serves the observer page for `system` on its own HTTP server (loopback, a free port, by default). */
export async function startObserver(system: ActorSystem, options: ObserverOptions = {}): Promise<Observer> {
  const handler: ObserverHandler = createObserverHandler(system, options);
  const server = createServer((req, res) => {
    if (!handler.handle(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    handler.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}/${options.token === undefined ? '' : `?token=${encodeURIComponent(options.token)}`}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      handler.close();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  return { url, server, close, [Symbol.asyncDispose]: close };
}
