import { expect } from 'chai';
import { ActorSystem, StartChildError, supervisor } from '../src/index.js';
import { EventLog, crashChild, is, probe, rejection } from './helpers.js';

describe('start failures', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'sf' });
    events = new EventLog(system);
    log = [];
  });
  afterEach(() => system.stop());

  it('at init: already-started children are stopped in reverse and start rejects with failed_to_start_child', async () => {
    const err = await rejection(
      system.start(
        supervisor({
          children: [
            { id: 'a', start: probe(log, 'a') },
            { id: 'b', start: probe(log, 'b') },
            { id: 'c', start: probe(log, 'c', { initFails: () => true }) },
            { id: 'd', start: probe(log, 'd') },
          ],
        }),
      ),
    );
    expect(err).to.be.instanceOf(StartChildError);
    const e = err as StartChildError;
    expect(e.code).to.equal('failed_to_start_child');
    expect(e.childId).to.equal('c');
    expect(e.message).to.contain('failed_to_start_child').and.contain('"c"').and.contain('c cannot start');
    expect((e.cause as Error).message).to.equal('c cannot start');
    expect(log).to.deep.equal(['init:a', 'init:b', 'init-failed:c', 'terminate:b', 'terminate:a']);
  });

  it('nested: the error names each level, the innermost cause last', async () => {
    const err = await rejection(
      system.start(
        supervisor({
          children: [
            { id: 'ok', start: probe(log, 'ok') },
            { id: 'mid', type: 'supervisor', start: supervisor({ children: [{ id: 'w', start: probe(log, 'w', { initFails: () => true }) }] }) },
          ],
        }),
      ),
    );
    const outer = err as StartChildError;
    expect(outer.childId).to.equal('mid');
    const inner = outer.cause as StartChildError;
    expect(inner).to.be.instanceOf(StartChildError);
    expect(inner.childId).to.equal('w');
    expect((inner.cause as Error).message).to.equal('w cannot start');
    expect(log).to.deep.equal(['init:ok', 'init-failed:w', 'terminate:ok']);
  });


  it('during a restart: retried through the mailbox, each attempt counted, until it starts', async () => {
    let failures = 0;
    const root = await system.start(
      supervisor({ intensity: 3, period: 60_000, children: [{ id: 'w', start: probe(log, 'w', { initFails: () => failures-- > 0 }) }] }),
    );
    failures = 2;
    await crashChild(root);
    await events.waitFor(is('started', 'w'), 2);
    expect(events.count(is('start_failed', 'w'))).to.equal(2);
    expect(events.count(is('restarting', 'w'))).to.equal(3);
    expect(events.events.filter(is('restarting', 'w')).map((e) => (e as { attempt: number }).attempt)).to.deep.equal([1, 2, 3]);
    expect(root.alive).to.equal(true);
  });

  it('during a restart: failed attempts count, so the supervisor can give up', async () => {
    let failures = 0;
    const root = await system.start(
      supervisor({ intensity: 2, period: 60_000, children: [{ id: 'w', start: probe(log, 'w', { initFails: () => failures-- > 0 }) }] }),
    );
    failures = 5;
    await crashChild(root);
    await events.waitFor(is('exited', 'root'));
    expect(events.count(is('start_failed', 'w'))).to.equal(2);
    expect(events.count(is('gave_up', 'w'))).to.equal(1);
  });

  it('startChild failing rejects that call and counts no restart', async () => {
    const root = await system.start(supervisor({ intensity: 0 }));
    const err = await rejection(root.startChild({ id: 'x', start: probe(log, 'x', { initFails: () => true }) }));
    expect(err).to.be.instanceOf(StartChildError);
    expect((err as StartChildError).childId).to.equal('x');
    expect(root.alive).to.equal(true);
    expect(await root.whichChildren()).to.deep.equal([]);
    // The spec was not kept: the same id can be started again.
    await root.startChild({ id: 'x', start: probe(log, 'x') });
    expect((await root.countChildren()).active).to.equal(1);
  });
});
