// The observer's HTTP side on a real server: the token, mounting under a prefix, the event stream.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActorSystem, exit, supervisor, worker, type SupervisorRef } from '@piton/core';
import { createObserverHandler, startObserver } from '../src/index.js';

const idle = worker({ init: () => 0 });

describe('observer server', () => {
  let system: ActorSystem;
  let root: SupervisorRef;

  beforeEach(async () => {
    system = new ActorSystem({ name: 'obs' });
    root = await system.start(supervisor({ strategy: 'one_for_one', children: [{ id: 'w', start: idle }] }));
  });

  afterEach(() => system.stop());

  it('with a token: 401 without it, the page and the snapshot with it', async () => {
    const token = 'a-long-enough-secret';
    const obs = await startObserver(system, { token });
    try {
      const bare = new URL(obs.url);
      bare.search = '';
      expect((await fetch(bare)).status).to.equal(401);
      expect((await fetch(new URL('api/snapshot', bare), { headers: { authorization: 'Bearer wrong-token-of-length' } })).status).to.equal(401);
      expect((await fetch(obs.url)).status).to.equal(200);
      const snap = await fetch(new URL('api/snapshot', bare), { headers: { authorization: `Bearer ${token}` } });
      expect(snap.status).to.equal(200);
      expect(((await snap.json()) as { tree: { path: string }[] }).tree[0]!.path).to.equal('obs/root');
    } finally {
      await obs.close();
    }
  });

  it('mounts under a prefix on an existing server, leaving other URLs to it', async () => {
    const handler = createObserverHandler(system, { prefix: '/observer' });
    const server: Server = createServer((req, res) => {
      if (!handler.handle(req, res)) res.writeHead(200).end('the service');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await (await fetch(`${base}/other`)).text()).to.equal('the service');
      const redirect = await fetch(`${base}/observer`, { redirect: 'manual' });
      expect(redirect.status).to.equal(308);
      expect(redirect.headers.get('location')).to.equal('/observer/');
      expect(await (await fetch(`${base}/observer/`)).text()).to.contain('Piton observer');
      expect((await fetch(`${base}/observer/observer.js`)).headers.get('content-type')).to.match(/javascript/);
    } finally {
      handler.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('streams a snapshot, then each event as it happens', async () => {
    const obs = await startObserver(system, { sampleInterval: 50 });
    const controller = new AbortController();
    try {
      const res = await fetch(new URL('api/events', obs.url), { signal: controller.signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let seen = '';
      const until = async (needle: string) => {
        while (!seen.includes(needle)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${needle}`);
          seen += value;
        }
      };
      await until('event: snapshot');
      await system.start(supervisor({ strategy: 'one_for_one', children: [] }), { id: 'second' });
      await until('"path":"obs/second"');
      expect(seen).to.match(/event: event\ndata: \{"type":"started"/);
    } finally {
      controller.abort();
      await obs.close();
    }
  });

  it('says in the snapshot when the system is down (system.down): its root exited for good', async () => {
    const obs = await startObserver(system);
    try {
      const before = (await (await fetch(new URL('api/snapshot', obs.url))).json()) as { down?: unknown };
      expect(before.down).to.equal(undefined);
      exit(root, 'kill');
      await system.down;
      const after = (await (await fetch(new URL('api/snapshot', obs.url))).json()) as { down?: Record<string, unknown> };
      expect(after.down).to.include({ cause: 'exit', reason: 'killed', path: 'obs/root' });
    } finally {
      await obs.close();
    }
  });
});
