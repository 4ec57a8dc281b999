// system.down: the system says when its root is gone for good (OTP: a permanent application whose
// top supervisor exits takes the node down; here the application decides), and ctx.signal: what a
// kill can reach in a worker whose callback is still awaiting.
import { expect } from 'chai';
import { EventEmitter, once } from 'node:events';
import { ActorSystem, exit, NoProcessError, supervisor, worker, type ChildRef, type SupervisorRef } from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { crashChild, EventLog, is, probe, rejection } from './helpers.js';

describe('system.down', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'down' });
    events = new EventLog(system);
    log = [];
  });
  afterEach(() => system.stop());

  it('supervisor_SUITE one_for_one_escalation, at the top: the root gives up and system.down says so, with its reason', async () => {
    let settled = false;
    void system.down.then(() => (settled = true));
    const root = await system.start(supervisor({ intensity: 0, children: [{ id: 'w', start: probe(log, 'w') }] }));
    await crashChild(root);
    const down = await system.down;
    expect(down).to.include({ cause: 'exit', reason: 'shutdown', path: 'down/root' });
    expect(settled).to.equal(true);
    expect(events.count(is('gave_up', 'w'))).to.equal(1);
    expect(await system.tree()).to.deep.equal({ name: 'down', children: [] });
  });

  it('any exit of a top-level child counts: nothing restarts it (here a kill)', async () => {
    const root = await system.start(supervisor({ children: [{ id: 'w', start: probe(log, 'w') }] }));
    exit(root, 'kill');
    expect(await system.down).to.include({ cause: 'exit', reason: 'killed', path: 'down/root' });
  });

  it('system.stop() settles it with cause stop, once everything is stopped', async () => {
    await system.start(supervisor({ children: [{ id: 'w', start: probe(log, 'w') }] }));
    const stopping = system.stop();
    const down = await system.down;
    expect(down).to.include({ cause: 'stop', reason: 'shutdown', path: 'down' });
    expect(log).to.deep.equal(['init:w', 'terminate:w']);
    await stopping;
  });

  it('is pending while the tree runs, restarts included', async () => {
    let settled = false;
    void system.down.then(() => (settled = true));
    const root = await system.start(supervisor({ intensity: 5, children: [{ id: 'w', start: probe(log, 'w') }] }));
    await crashChild(root);
    await events.waitFor(is('started', 'w'), 2);
    await new Promise((r) => setImmediate(r));
    expect(settled).to.equal(false);
  });
});

describe('ctx.signal: what a kill can reach while a callback awaits', () => {
  let system: ActorSystem;
  beforeEach(() => {
    system = new ActorSystem({ name: 'sig' });
  });
  afterEach(() => system.stop());

  /**
   * A worker whose 'fetch' awaits `source`'s 'data' event (passing ctx.signal to the wait, or
   * not), then writes the result: the side effect a kill should prevent.
   */
  const fetching = (source: EventEmitter, sideEffects: string[], useSignal: boolean, entered: Deferred<void>) =>
    worker<number, 'fetch', string>({
      init: () => 0,
      handleCall: async (_msg, n, ctx) => {
        entered.resolve();
        try {
          await once(source, 'data', useSignal ? { signal: ctx.signal } : {});
        } catch (error) {
          sideEffects.push(`gave up: ${(error as Error).name}`);
          throw error;
        }
        sideEffects.push('wrote the result');
        return { reply: 'fetched', state: n };
      },
    });

  for (const useSignal of [true, false]) {
    it(
      useSignal
        ? 'a kill fires ctx.signal at once: a wait that passes it ends, and the late side effect never happens'
        : 'without the signal, the callback resumes after the kill and does its side effect late (what a kill cannot pre-empt)',
      async () => {
        const source = new EventEmitter();
        const sideEffects: string[] = [];
        const entered = new Deferred<void>();
        const root = await system.start(supervisor({ children: [{ id: 'w', start: fetching(source, sideEffects, useSignal, entered), restart: 'temporary' }] }));
        const ref = await root.child<ChildRef<'fetch', string>>('w');
        const call = ref.call('fetch', { timeout: 'infinity' });
        await entered.promise;
        exit(ref, 'kill');
        expect(await rejection(call)).to.be.instanceOf(NoProcessError).with.property('reason', 'killed');
        source.emit('data');
        await new Promise((r) => setImmediate(r));
        expect(sideEffects).to.deep.equal(useSignal ? ['gave up: AbortError'] : ['wrote the result']);
      },
    );
  }

  it("the shutdown timeout's kill fires it too, when the orderly stop waits on a callback that does not end", async () => {
    const source = new EventEmitter();
    const sideEffects: string[] = [];
    const entered = new Deferred<void>();
    const root: SupervisorRef = await system.start(
      supervisor({ children: [{ id: 'w', start: fetching(source, sideEffects, true, entered), restart: 'temporary', shutdown: 20 }] }),
    );
    const ref = await root.child<ChildRef<'fetch', string>>('w');
    const call = ref.call('fetch', { timeout: 'infinity' });
    await entered.promise;
    // The orderly stop waits for the callback in progress; after 20 ms the supervisor kills.
    await root.terminateChild('w');
    expect(await rejection(call)).to.be.instanceOf(NoProcessError);
    expect(sideEffects).to.deep.equal(['gave up: AbortError']);
  });

  it('ctx.exit fires it as well, with the exit reason', async () => {
    const reasons: unknown[] = [];
    const ref = (await system.start(
      worker<number, 'stop', string>({
        init: (ctx) => {
          ctx.signal.addEventListener('abort', () => reasons.push((ctx.signal.reason as NoProcessError).reason));
          return 0;
        },
        handleCall: (_msg, n, ctx) => {
          ctx.exit({ shutdown: 'done' });
          return { reply: 'stopping', state: n };
        },
      }),
    ))!;
    await rejection(ref.call('stop'));
    expect(reasons).to.deep.equal([{ shutdown: 'done' }]);
  });
});
