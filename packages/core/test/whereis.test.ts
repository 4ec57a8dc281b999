import { expect } from 'chai';
import { ActorSystem, NoProcessError, StartChildError, supervisor, worker, type ChildRef, type SupervisorRef } from '../src/index.js';
import { EventLog, is, rejection } from './helpers.js';

type Msg = 'incarnation' | 'crash';

describe('registered names: system.whereis', () => {
  let system: ActorSystem;
  let events: EventLog;
  let incarnations: number;
  beforeEach(() => {
    system = new ActorSystem({ name: 'reg' });
    events = new EventLog(system);
    incarnations = 0;
  });
  afterEach(() => system.stop());

  const counted = () =>
    worker<number, Msg, number>({
      init: () => ++incarnations,
      handleCall: (msg, n) => {
        if (msg === 'crash') throw new Error('crash');
        return { reply: n, state: n };
      },
    });

  it('the handle stays valid across restarts and reaches the current incarnation', async () => {
    const root = await system.start(supervisor({ intensity: 5, children: [{ id: 'svc', name: 'service', start: counted() }] }));
    const svc = system.whereis<ChildRef<Msg, number>>('service');
    const call = svc.call; // a method taken off the handle still follows the name
    expect(await svc.call('incarnation')).to.equal(1);
    const first = system.whereisCurrent<ChildRef>('service');
    expect(first).to.equal(await root.child('svc'));
    await rejection(svc.call('crash'));
    await events.waitFor(is('started', 'svc'), 2);
    expect(await svc.call('incarnation')).to.equal(2);
    expect(await call('incarnation')).to.equal(2);
    expect(svc.path).to.equal('reg/root/svc');
    expect(system.whereisCurrent('service')).not.to.equal(first);
  });

  it('while nothing runs under the name, methods reject with NoProcessError', async () => {
    const root = await system.start(supervisor({ children: [{ id: 'svc', name: 'service', start: counted() }] }));
    const svc = system.whereis<ChildRef<Msg, number>>('service');
    await root.terminateChild('svc');
    expect(system.whereisCurrent('service')).to.equal(undefined);
    expect(await rejection(svc.call('incarnation'))).to.be.instanceOf(NoProcessError);
    svc.cast('ignored'); // no unhandled rejection
    await root.restartChild('svc');
    expect(await svc.call('incarnation')).to.equal(2);
    expect(system.whereis('nobody')).to.not.have.property('then');
  });

  it('works for any ref type, e.g. a supervisor', async () => {
    await system.start(supervisor({ children: [{ id: 'sub', name: 'sub', type: 'supervisor', start: supervisor({}) }] }));
    const sub = system.whereis<SupervisorRef>('sub');
    expect(await sub.countChildren()).to.deep.equal({ specs: 0, active: 0, supervisors: 0, workers: 0 });
  });

  it('gen_server_SUITE start (local register): a name already registered makes the second start fail with already_started', async () => {
    await system.start(supervisor({ children: [{ id: 'a', name: 'dup', start: counted() }] }), { id: 'one' });
    const err = await rejection(system.start(supervisor({ children: [{ id: 'b', name: 'dup', start: counted() }] }), { id: 'two' }));
    expect(err).to.be.instanceOf(StartChildError);
    expect(((err as Error).cause as { code: string }).code).to.equal('already_started');
  });

  it('gen_server_SUITE start (local register, then noproc once stopped): a handle tells the truth while nothing runs: alive false, and the id and path last registered', async () => {
    const root = await system.start(supervisor({ children: [{ id: 'svc', name: 'service', start: counted() }] }));
    const svc = system.whereis<ChildRef<Msg, number>>('service');
    expect(svc.alive).to.equal(true);
    expect(svc.id).to.equal('svc');
    expect(svc.path).to.equal('reg/root/svc');
    await root.terminateChild('svc');
    expect(svc.alive).to.equal(false);
    expect(svc.id).to.equal('svc');
    expect(svc.path).to.equal('reg/root/svc');
    expect(await rejection(svc.call('incarnation'))).to.be.instanceOf(NoProcessError);
    await root.restartChild('svc');
    expect(svc.alive).to.equal(true);
  });

  it('a handle for a name never registered: alive false, id and path undefined, methods reject', async () => {
    const nobody = system.whereis<ChildRef<Msg, number>>('nobody');
    expect(nobody.alive).to.equal(false);
    expect(nobody.id).to.equal(undefined);
    expect(nobody.path).to.equal(undefined);
    expect('alive' in nobody).to.equal(true);
    expect(await rejection(nobody.call('incarnation'))).to.be.instanceOf(NoProcessError);
    // Nothing to show, nothing that looks like a method of a process: symbols read as undefined.
    expect((nobody as unknown as Record<symbol, unknown>)[Symbol.toPrimitive]).to.equal(undefined);
  });
});
