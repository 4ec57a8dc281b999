// Start timeouts: OTP's start_link(..., [{timeout, T}]) (gen_server_SUITE `start`: "anonymous
// with timeout" gives {error, timeout}), as a child spec's startTimeout; with supervisor_SUITE's
// sup_start_fail shape ({failed_to_start_child, Id, Reason}) when it happens at a supervisor's start.
import { expect } from 'chai';
import {
  ActorSystem,
  NoProcessError,
  StartChildError,
  StartTimeoutError,
  supervisor,
  worker,
  type ChildRef,
  type StartContext,
  type StartedChild,
  type StartFailedEvent,
} from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { EventLog, is, probe, rejection } from './helpers.js';

describe('start timeouts (child spec startTimeout)', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'st' });
    events = new EventLog(system);
    log = [];
  });
  afterEach(() => system.stop());

  /** A worker whose init never returns by itself; it records when its ctx.signal fires. */
  const hanging = (aborted: unknown[]) =>
    worker({
      init: (ctx) =>
        new Promise<number>(() => {
          ctx.signal.addEventListener('abort', () => aborted.push(ctx.signal.reason));
        }),
    });

  it('gen_server_SUITE start ("anonymous with timeout"): an init past its startTimeout fails the start with reason timeout', async () => {
    const aborted: unknown[] = [];
    const err = await rejection(
      system.start(supervisor({ children: [{ id: 'a', start: probe(log, 'a') }, { id: 'slow', start: hanging(aborted), startTimeout: 30 }] })),
    );
    // sup_start_fail's shape: {shutdown, {failed_to_start_child, slow, timeout}}.
    expect(err).to.be.instanceOf(StartChildError);
    const e = err as StartChildError;
    expect(e.code).to.equal('failed_to_start_child');
    expect(e.childId).to.equal('slow');
    expect(e.reason).to.equal('timeout');
    expect(e.cause).to.be.instanceOf(StartTimeoutError).with.property('timeout', 30);
    expect(e.message).to.contain('did not start within 30 ms');
    // The children already started are stopped, as after any failed start.
    expect(log).to.deep.equal(['init:a', 'terminate:a']);
    // The worker was killed: its init saw ctx.signal fire.
    expect(aborted).to.have.length(1);
    expect(aborted[0]).to.be.instanceOf(NoProcessError).with.property('reason', 'killed');
    const failed = events.events.find(is('start_failed', 'slow')) as StartFailedEvent;
    expect(failed.reason).to.be.instanceOf(StartTimeoutError);
  });

  it('a worker waits 5000 ms by default, not for ever', async () => {
    const root = await system.start(supervisor({ children: [{ id: 'w', start: probe(log, 'w') }] }));
    expect((await root.getChildSpec('w')).startTimeout).to.equal(5_000);
  });

  it('startChild with a hanging init rejects with the timeout, and the supervisor serves the next request', async () => {
    const root = await system.start(supervisor({}));
    const aborted: unknown[] = [];
    const starting = root.startChild({ id: 'slow', start: hanging(aborted), startTimeout: 30 });
    // Queued behind the start: answered once the start has timed out, not never.
    const children = root.whichChildren();
    const err = await rejection(starting);
    expect(err).to.be.instanceOf(StartChildError).with.property('reason', 'timeout');
    expect(await children).to.deep.equal([]);
    expect(aborted).to.have.length(1);
  });

  it('system.stop() does not hang on a child whose init hangs', async () => {
    const aborted: unknown[] = [];
    const root = await system.start(supervisor({}));
    const failed = rejection(root.startChild({ id: 'slow', start: hanging(aborted), startTimeout: 30 }));
    await system.stop();
    expect(await failed).to.be.instanceOf(StartChildError);
    expect(root.alive).to.equal(false);
  });

  it('a restart whose init hangs fails like any failed restart: counted, retried through the mailbox', async () => {
    let hang = false;
    const root = await system.start(
      supervisor({
        intensity: 5,
        period: 60_000,
        children: [
          {
            id: 'w',
            startTimeout: 30,
            start: worker<number, 'crash', never>({
              init: () => (hang ? new Promise<number>(() => undefined) : 0),
              handleCall: () => {
                throw new Error('crash');
              },
            }),
          },
        ],
      }),
    );
    hang = true;
    await rejection((await root.child<ChildRef<'crash'>>('w')).call('crash'));
    await events.waitFor(is('start_failed', 'w'));
    hang = false;
    await events.waitFor(is('started', 'w'), 2);
    expect((await root.whichChild('w')).status).to.equal('running');
  });

  it('a custom start that resolves after its timeout is killed as it arrives, and saw its ctx.signal abort', async () => {
    const arrive = new Deferred<void>();
    const killed = new Deferred<void>();
    let signal: AbortSignal | undefined;
    const late = async (ctx: StartContext): Promise<StartedChild<string>> => {
      signal = ctx.signal;
      await arrive.promise;
      const exited = new Deferred<'killed'>();
      return {
        ref: 'late',
        exited: exited.promise,
        shutdown: () => exited.resolve('killed'),
        kill: () => {
          killed.resolve();
          exited.resolve('killed');
        },
      };
    };
    const root = await system.start(supervisor({}));
    const err = await rejection(root.startChild({ id: 'late', start: late, startTimeout: 20 }));
    expect((err as StartChildError).reason).to.equal('timeout');
    expect(signal?.aborted).to.equal(true);
    expect(signal?.reason).to.be.instanceOf(StartTimeoutError);
    arrive.resolve();
    await killed.promise;
    expect(await root.whichChildren()).to.deep.equal([]);
  });

  it("a supervisor child defaults to 'infinity': its start is its children's, each bounded by its own", async () => {
    const aborted: unknown[] = [];
    const err = await rejection(
      system.start(
        supervisor({
          children: [{ id: 'sub', type: 'supervisor', start: supervisor({ children: [{ id: 'slow', start: hanging(aborted), startTimeout: 30 }] }) }],
        }),
      ),
    );
    const outer = err as StartChildError;
    expect(outer.childId).to.equal('sub');
    const inner = outer.cause as StartChildError;
    expect(inner.childId).to.equal('slow');
    expect(inner.reason).to.equal('timeout');
  });

  it('a supervisor whose own start times out kills the children it started and starts no more', async () => {
    const aborted: unknown[] = [];
    const err = await rejection(
      system.start(
        supervisor({
          children: [
            {
              id: 'sub',
              type: 'supervisor',
              startTimeout: 30,
              start: supervisor({
                children: [
                  { id: 'a', start: probe(log, 'a') },
                  { id: 'slow', start: hanging(aborted), startTimeout: 'infinity' },
                  { id: 'never', start: probe(log, 'never') },
                ],
              }),
            },
          ],
        }),
      ),
    );
    expect((err as StartChildError).childId).to.equal('sub');
    expect((err as StartChildError).reason).to.equal('timeout');
    expect(aborted).to.have.length(1);
    await events.waitFor(is('exited', 'a'));
    expect(events.events.find(is('exited', 'a'))).to.include({ reason: 'killed' });
    expect(log).to.deep.equal(['init:a']);
  });

  it('a start that reaches its nested supervisor only after its timeout (as a pool does): that supervisor starts no child', async () => {
    const gate = new Deferred<void>();
    let nested: Promise<unknown> | undefined;
    const wrapping = async (ctx: StartContext) => {
      await gate.promise; // e.g. probing an executable, bounded by a timeout of its own
      nested = supervisor({ children: [{ id: 'inner', start: probe(log, 'inner') }] })(ctx);
      return nested as Promise<StartedChild<unknown>>;
    };
    const root = await system.start(supervisor({}));
    const err = await rejection(root.startChild({ id: 'wrap', start: wrapping, startTimeout: 20 }));
    expect((err as StartChildError).reason).to.equal('timeout');
    gate.resolve();
    while (nested === undefined) await new Promise((r) => setImmediate(r));
    expect(await rejection(nested)).to.be.instanceOf(NoProcessError).with.property('reason', 'killed');
    expect(log).to.deep.equal([]);
  });

  it('top level: system.start takes a startTimeout too (default infinity: its caller is the one waiting)', async () => {
    const aborted: unknown[] = [];
    const err = await rejection(system.start(hanging(aborted), { id: 'top', startTimeout: 20 }));
    expect(err).to.be.instanceOf(StartChildError).with.property('reason', 'timeout');
    expect(aborted).to.have.length(1);
  });
});
