import { expect } from 'chai';
import { ActorSystem, supervisor, type ChildRef, type SupervisorRef } from '../src/index.js';
import { EventLog, is, probe, rejection, type ProbeCall, type ProbeCast } from './helpers.js';

describe('autoShutdown with significant children', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'auto' });
    events = new EventLog(system);
    log = [];
  });
  afterEach(() => system.stop());

  const ref = (root: SupervisorRef, id: string) => root.child<ChildRef<ProbeCall, unknown, ProbeCast>>(id);

  it('any_significant: a significant child exiting normally shuts the supervisor down', async () => {
    const root = await system.start(
      supervisor({
        autoShutdown: 'any_significant',
        children: [
          { id: 'plain', start: probe(log, 'plain') },
          { id: 'sig', start: probe(log, 'sig'), restart: 'transient', significant: true },
        ],
      }),
    );
    (await ref(root, 'sig')).cast({ exit: 'normal' });
    const shutdown = await events.waitFor(is('shutdown', 'root'));
    expect(shutdown).to.include({ cause: 'auto_shutdown', reason: 'shutdown' });
    expect(await events.waitFor(is('exited', 'root'))).to.include({ reason: 'shutdown' });
    expect(log.at(-1)).to.equal('terminate:plain');
  });

  it('any_significant: a transient significant child crashing is restarted instead', async () => {
    const root = await system.start(
      supervisor({ autoShutdown: 'any_significant', children: [{ id: 'sig', start: probe(log, 'sig'), restart: 'transient', significant: true }] }),
    );
    await rejection((await ref(root, 'sig')).call({ crash: 'x' }));
    await events.waitFor(is('started', 'sig'), 2);
    expect(root.alive).to.equal(true);
  });

  it('all_significant: shuts down only when the last significant child has exited', async () => {
    const root = await system.start(
      supervisor({
        autoShutdown: 'all_significant',
        children: [
          { id: 's1', start: probe(log, 's1'), restart: 'temporary', significant: true },
          { id: 's2', start: probe(log, 's2'), restart: 'temporary', significant: true },
          { id: 'other', start: probe(log, 'other') },
        ],
      }),
    );
    await rejection((await ref(root, 's1')).call({ crash: 'x' }));
    await events.waitFor(is('exited', 's1'));
    expect((await root.whichChildren()).map((c) => c.id)).to.deep.equal(['s2', 'other']);
    (await ref(root, 's2')).cast({ exit: 'normal' });
    expect(await events.waitFor(is('shutdown', 'root'))).to.include({ cause: 'auto_shutdown' });
  });

  it('terminateChild of a significant child does not trigger it', async () => {
    const root = await system.start(
      supervisor({ autoShutdown: 'any_significant', children: [{ id: 'sig', start: probe(log, 'sig'), restart: 'transient', significant: true }] }),
    );
    await root.terminateChild('sig');
    expect(root.alive).to.equal(true);
    expect(events.count(is('shutdown'))).to.equal(0);
  });
});
