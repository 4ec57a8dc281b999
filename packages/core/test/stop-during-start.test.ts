import { expect } from 'chai';
import { ActorSystem, NoProcessError, supervisor, SupervisorError, worker, type ExitReason, type StartFn } from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { probe, rejection } from './helpers.js';

/** A child whose start completes only when the test says so, and which records how it ends. */
function controlledChild(log: string[], tag: string) {
  const called = new Deferred<void>();
  const release = new Deferred<void>();
  const exited = new Deferred<ExitReason>();
  const start: StartFn<{ tag: string }> = async () => {
    called.resolve();
    await release.promise;
    log.push(`started:${tag}`);
    return {
      ref: { tag },
      exited: exited.promise,
      shutdown: (reason) => {
        log.push(`stopped:${tag}`);
        exited.resolve(reason);
      },
      kill: () => {
        log.push(`killed:${tag}`);
        exited.resolve('killed');
      },
    };
  };
  return { start, called: called.promise, finishStart: () => release.resolve(), exited: exited.promise };
}

/** Lets everything already runnable run (timers and I/O included), so a stop that does not wait would finish. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('system.stop() while a child is starting', () => {
  let system: ActorSystem;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'sds' });
    log = [];
  });
  afterEach(() => system.stop());

  it('a top-level start that completes after stop() began is stopped at once, and stop() waits for it', async () => {
    const child = controlledChild(log, 'slow');
    const starting = system.start(child.start, { id: 'slow' });
    await child.called;
    const stopping = system.stop().then(() => log.push('system stopped'));
    await settle();
    expect(log).to.deep.equal([]); // stop() is still waiting for the start
    child.finishStart();
    await stopping;
    expect(log).to.deep.equal(['started:slow', 'stopped:slow', 'system stopped']);
    expect(await child.exited).to.equal('shutdown');
    const err = await rejection(starting);
    expect(err).to.be.instanceOf(SupervisorError);
    expect((err as SupervisorError).code).to.equal('shutdown');
  });

  it('a supervisor still starting its children starts no more of them, stops those it started, and stop() waits', async () => {
    const child = controlledChild(log, 'b');
    const starting = system.start(
      supervisor({ children: [{ id: 'a', start: probe(log, 'a') }, { id: 'b', start: child.start }, { id: 'c', start: probe(log, 'c') }] }),
    );
    await child.called;
    const stopping = system.stop().then(() => log.push('system stopped'));
    await settle();
    child.finishStart();
    await stopping;
    expect(log).to.deep.equal(['init:a', 'started:b', 'stopped:b', 'terminate:a', 'system stopped']);
    const err = await rejection(starting);
    expect(err).to.be.instanceOf(SupervisorError);
    expect((err as SupervisorError).code).to.equal('shutdown');
  });

  it('a nested supervisor starting inside a starting tree winds down too', async () => {
    const child = controlledChild(log, 'deep');
    const starting = system.start(
      supervisor({
        children: [
          { id: 'a', start: probe(log, 'a') },
          {
            id: 'inner',
            type: 'supervisor',
            start: supervisor({ children: [{ id: 'deep', start: child.start }, { id: 'x', start: probe(log, 'x') }] }),
          },
          { id: 'c', start: probe(log, 'c') },
        ],
      }),
    );
    await child.called;
    const stopping = system.stop().then(() => log.push('system stopped'));
    child.finishStart();
    await stopping;
    expect(log).to.deep.equal(['init:a', 'started:deep', 'stopped:deep', 'terminate:a', 'system stopped']);
    expect(await rejection(starting)).to.be.instanceOf(SupervisorError);
  });

  it('a startChild in progress when the tree stops: the new child is stopped before stop() resolves', async () => {
    const root = await system.start(supervisor({}));
    const child = controlledChild(log, 'late');
    const adding = root.startChild({ id: 'late', start: child.start });
    await child.called;
    const stopping = system.stop().then(() => log.push('system stopped'));
    await settle();
    child.finishStart();
    await stopping;
    expect(log).to.deep.equal(['started:late', 'stopped:late', 'system stopped']);
    expect(await adding).to.deep.equal({ tag: 'late' }); // asked for before the stop, and served
  });

  it("a top-level worker whose init hangs (the top level's startTimeout is 'infinity') does not hold stop() up: its init is killed, its start rejects with shutdown", async () => {
    const entered = new Deferred<void>();
    const aborted = new Deferred<unknown>();
    const hanging = worker({
      init: (ctx) => {
        ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
        entered.resolve();
        return new Promise<number>(() => undefined);
      },
    });
    const starting = system.start(hanging, { id: 'hang' });
    await entered.promise;
    await system.stop();
    const err = await rejection(starting);
    expect(err).to.be.instanceOf(SupervisorError).with.property('code', 'shutdown');
    expect((err as Error).message).to.equal('shutdown: actor system sds stopped while sds/hang was starting');
    expect(await aborted.promise).to.be.instanceOf(NoProcessError).with.property('reason', 'killed');
    expect(await system.down).to.include({ cause: 'stop' });
  });

  it('a top-level start that fails after stop() began lets stop() resolve', async () => {
    const called = new Deferred<void>();
    const fail = new Deferred<never>();
    const failing: StartFn = async () => {
      called.resolve();
      return fail.promise;
    };
    const starting = system.start(failing);
    await called.promise;
    const stopping = system.stop();
    fail.reject(new Error('could not start'));
    await stopping;
    expect(await rejection(starting)).to.be.instanceOf(Error);
  });
});
