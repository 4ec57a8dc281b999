import { expect } from 'chai';
import { ActorSystem, supervisor, worker, type ChildRef, type Strategy, type SupervisorRef } from '../src/index.js';
import { EventLog, is, probe, rejection, type ProbeCall } from './helpers.js';

describe('restart strategies: order of stops and starts', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 's' });
    events = new EventLog(system);
    log = [];
  });
  afterEach(() => system.stop());

  async function tree(strategy: Strategy): Promise<SupervisorRef> {
    const root = await system.start(
      supervisor({
        strategy,
        intensity: 10,
        children: ['a', 'b', 'c', 'd'].map((id) => ({ id, start: probe(log, id) })),
      }),
    );
    log.length = 0;
    return root;
  }

  async function crash(root: SupervisorRef, id: string): Promise<void> {
    const ref = await root.child<ChildRef<ProbeCall>>(id);
    await rejection(ref.call({ crash: `${id} crashed` }));
  }

  it('children start in list order', async () => {
    await system.start(supervisor({ children: ['a', 'b', 'c'].map((id) => ({ id, start: probe(log, id) })) }));
    expect(log).to.deep.equal(['init:a', 'init:b', 'init:c']);
    expect(events.summary(['started'])).to.deep.equal(['started:a', 'started:b', 'started:c', 'started:root']);
  });

  it('system.stop stops children in reverse start order, one at a time', async () => {
    await tree('one_for_one');
    await system.stop();
    expect(log).to.deep.equal(['terminate:d', 'terminate:c', 'terminate:b', 'terminate:a']);
  });

  it('one_for_one restarts only the child that exited', async () => {
    const root = await tree('one_for_one');
    await crash(root, 'b');
    await events.waitFor(is('started', 'b'), 2);
    expect(log).to.deep.equal(['terminate:b', 'init:b']);
    const statuses = (await root.whichChildren()).map((c) => `${c.id}:${c.status}`);
    expect(statuses).to.deep.equal(['a:running', 'b:running', 'c:running', 'd:running']);
  });

  it('one_for_all stops the others in reverse order, then starts all in order', async () => {
    const root = await tree('one_for_all');
    await crash(root, 'b');
    await events.waitFor(is('started', 'd'), 2);
    expect(log).to.deep.equal([
      'terminate:b', // the crash itself
      'terminate:d', 'terminate:c', 'terminate:a',
      'init:a', 'init:b', 'init:c', 'init:d',
    ]);
  });

  it('rest_for_one stops those after the child in reverse order, then restarts from it', async () => {
    const root = await tree('rest_for_one');
    await crash(root, 'b');
    await events.waitFor(is('started', 'd'), 2);
    expect(log).to.deep.equal(['terminate:b', 'terminate:d', 'terminate:c', 'init:b', 'init:c', 'init:d']);
  });

  it('a group restart counts once toward intensity', async () => {
    const root = await system.start(
      supervisor({ strategy: 'one_for_all', intensity: 1, children: ['a', 'b', 'c'].map((id) => ({ id, start: probe(log, id) })) }),
    );
    await crash(root, 'a');
    await events.waitFor(is('started', 'c'), 2);
    expect(events.count(is('gave_up'))).to.equal(0);
    expect(root.alive).to.equal(true);
  });

  it('simple_one_for_one: no children at start, startChild appends args, restarts keep them', async () => {
    const inits: unknown[] = [];
    const job = worker<string, 'who' | 'crash', string>(
      {
        init: (_ctx, ...args) => {
          inits.push(args);
          return args.join('-');
        },
        handleCall: (msg, state) => {
          if (msg === 'crash') throw new Error('job crashed');
          return { reply: state, state };
        },
      },
      'base',
    );
    const root = await system.start(supervisor({ strategy: 'simple_one_for_one', intensity: 5, children: [{ id: 'job', start: job }] }));
    expect(await root.countChildren()).to.deep.equal({ specs: 1, active: 0, supervisors: 0, workers: 0 });
    const j1 = await root.startChild<ChildRef<'who' | 'crash', string>>(['x']);
    const j2 = await root.startChild<ChildRef<'who' | 'crash', string>>(['y', 2]);
    expect(await j1.call('who')).to.equal('base-x');
    expect(await j2.call('who')).to.equal('base-y-2');
    await rejection(j2.call('crash'));
    await events.waitFor(is('started'), 4); // root, j1, j2, j2 again
    expect(inits).to.deep.equal([['base', 'x'], ['base', 'y', 2], ['base', 'y', 2]]);
    const children = await root.whichChildren();
    expect(children.map((c) => [c.id, c.status])).to.deep.equal([[undefined, 'running'], [undefined, 'running']]);
    expect(await root.countChildren()).to.deep.equal({ specs: 1, active: 2, supervisors: 0, workers: 2 });
  });

  it('simple_one_for_one children stop in parallel under the template shutdown', async () => {
    let inTerminate = 0;
    let maxConcurrent = 0;
    let releaseAll!: () => void;
    const released = new Promise<void>((r) => (releaseAll = r));
    const job = worker({
      init: () => 0,
      terminate: async () => {
        inTerminate += 1;
        maxConcurrent = Math.max(maxConcurrent, inTerminate);
        if (inTerminate === 3) releaseAll();
        await released;
        inTerminate -= 1;
      },
    });
    const root = await system.start(supervisor({ strategy: 'simple_one_for_one', children: [{ id: 'job', start: job, shutdown: 2_000 }] }));
    for (let i = 0; i < 3; i++) await root.startChild([]);
    await system.stop();
    expect(maxConcurrent).to.equal(3);
    expect(events.count((e) => e.type === 'exited' && e.reason === 'shutdown')).to.equal(4);
  });
});
