import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import {
  ActorSystem,
  supervisor,
  worker,
  type ChildRef,
  type ExitReason,
  type StartedChild,
  type StartFn,
  type SupervisorRef,
} from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { EventLog, is } from './helpers.js';

/** A stand-in for an external resource (e.g. an OS process) with its own ref type. */
class Resource extends EventEmitter {
  stopRequests: unknown[] = [];
  ignoreStop = false;
}

interface ResourceRef {
  hello(): Promise<string>;
  readonly generation: number;
}

function resourceChild(made: Resource[]): StartFn<ResourceRef> {
  return async () => {
    const res = new Resource();
    made.push(res);
    const generation = made.length;
    const exited = new Deferred<ExitReason>();
    res.once('gone', (reason: ExitReason) => exited.resolve(reason));
    const child: StartedChild<ResourceRef> = {
      ref: { hello: async () => `hello from ${generation}`, generation },
      exited: exited.promise,
      shutdown: (reason) => {
        res.stopRequests.push(reason);
        if (!res.ignoreStop) setImmediate(() => res.emit('gone', reason));
      },
      kill: () => res.emit('gone', 'killed'),
    };
    return child;
  };
}

describe('custom StartFn children', () => {
  let system: ActorSystem;
  let events: EventLog;
  beforeEach(() => {
    system = new ActorSystem({ name: 'cus' });
    events = new EventLog(system);
  });
  afterEach(() => system.stop());

  it('are supervised like any child: restarted after an abnormal exit, with their own ref type', async () => {
    const made: Resource[] = [];
    const root = await system.start(supervisor({ children: [{ id: 'res', name: 'res', start: resourceChild(made) }] }));
    expect(await (await root.child<ResourceRef>('res')).hello()).to.equal('hello from 1');
    made[0]!.emit('gone', new Error('segfault'));
    await events.waitFor(is('started', 'res'), 2);
    const handle = system.whereis<ResourceRef>('res');
    expect(await handle.hello()).to.equal('hello from 2');
    expect(handle.generation).to.equal(2);
  });

  it('get the shutdown protocol: shutdown(), then kill() after the timeout', async () => {
    const made: Resource[] = [];
    const root = await system.start(supervisor({ children: [{ id: 'res', start: resourceChild(made), shutdown: 30 }] }));
    made[0]!.ignoreStop = true;
    await root.terminateChild('res');
    expect(made[0]!.stopRequests).to.deep.equal(['shutdown']);
    expect(await events.waitFor(is('exited', 'res'))).to.include({ reason: 'killed' });
  });

  it('can nest a supervisor and a worker and hand out a facade ref (how a pool mounts)', async () => {
    interface PoolRef {
      run(n: number): Promise<number>;
      size(): Promise<number>;
    }
    const pool = (size: number): StartFn<PoolRef> => async (ctx) => {
      const inner = await supervisor({
        strategy: 'simple_one_for_one',
        children: [{ id: 'slot', start: worker<number, number, number>({ init: () => 0, handleCall: (n, s) => ({ reply: n * 2, state: s }) }) }],
      })(ctx);
      const sup: SupervisorRef = inner.ref;
      const slots: ChildRef<number, number>[] = [];
      for (let i = 0; i < size; i++) slots.push(await sup.startChild<ChildRef<number, number>>([]));
      let next = 0;
      return {
        ...inner,
        ref: {
          run: (n) => slots[next++ % slots.length]!.call(n),
          size: async () => (await sup.countChildren()).active,
        },
      };
    };
    await system.start(supervisor({ children: [{ id: 'py', name: 'py', type: 'supervisor', start: pool(3) }] }));
    const py = system.whereis<PoolRef>('py');
    expect(await py.run(21)).to.equal(42);
    expect(await py.size()).to.equal(3);
    await system.stop();
    expect(await events.waitFor(is('exited', 'py'))).to.include({ reason: 'shutdown' });
  });
});
