import { expect } from 'chai';
import { ActorSystem, supervisor, type ChildRef, type SupervisorRef } from '../src/index.js';
import { EventLog, is, probe, rejection, type ProbeCall } from './helpers.js';

describe('escalation through nested supervisors', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'esc' });
    events = new EventLog(system);
    log = [];
  });
  afterEach(() => system.stop());

  async function crash(sup: SupervisorRef, id: string): Promise<void> {
    const ref = await sup.child<ChildRef<ProbeCall>>(id);
    await rejection(ref.call({ crash: 'boom' }));
  }

  function build(rootIntensity: number) {
    return supervisor({
      intensity: rootIntensity,
      period: 60_000,
      children: [
        { id: 'before', start: probe(log, 'before') },
        {
          id: 'mid',
          type: 'supervisor',
          start: supervisor({ intensity: 1, period: 60_000, children: [{ id: 'w', start: probe(log, 'w') }] }),
        },
      ],
    });
  }

  it("a supervisor that gives up exits 'shutdown' and its parent restarts it from its initial spec", async () => {
    const root = await system.start(build(5));
    const mid = await root.child<SupervisorRef>('mid');
    await mid.startChild({ id: 'extra', start: probe(log, 'extra') });
    await crash(mid, 'w');
    await events.waitFor(is('started', 'w'), 2);
    await crash(mid, 'w'); // second restart within the period: mid gives up
    await events.waitFor(is('started', 'mid'), 2);
    expect(events.summary(['gave_up', 'shutdown', 'exited', 'restarting', 'started']).slice(-8)).to.deep.equal([
      'exited:w', // the crash
      'gave_up:w', // mid: second restart within its period
      'shutdown:mid', // mid stops its remaining children, newest first
      'exited:extra',
      'exited:mid', // with reason 'shutdown'...
      'restarting:mid', // ...which root handles: a permanent child, restarted
      'started:w',
      'started:mid',
    ]);
    expect(events.events.find((e) => e.type === 'exited' && e.id === 'mid')).to.include({ reason: 'shutdown' });
    const newMid = await root.child<SupervisorRef>('mid');
    expect(newMid).not.to.equal(mid);
    expect((await newMid.whichChildren()).map((c) => c.id)).to.deep.equal(['w']);
    expect(log.filter((l) => l === 'init:before')).to.have.length(1);
  });

  it('escalates to the top: the root gives up too and the whole tree stops', async () => {
    const root = await system.start(build(0));
    const mid = await root.child<SupervisorRef>('mid');
    await crash(mid, 'w');
    await events.waitFor(is('started', 'w'), 2);
    await crash(mid, 'w');
    const top = await events.waitFor(is('exited', 'root'));
    expect(top).to.include({ reason: 'shutdown', supervisor: 'esc' });
    expect(events.summary(['gave_up'])).to.deep.equal(['gave_up:w', 'gave_up:mid']);
    expect(log.at(-1)).to.equal('terminate:before');
    expect(root.alive).to.equal(false);
  });
});
