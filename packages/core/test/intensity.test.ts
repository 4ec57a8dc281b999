import { expect } from 'chai';
import { ActorSystem, addRestart, supervisor } from '../src/index.js';
import { EventLog, crashChild, is, probe, until } from './helpers.js';

describe('restart intensity (pure add_restart, fake clock)', () => {
  function run(times: number[], intensity: number, period: number): boolean[] {
    let window: readonly number[] = [];
    return times.map((now) => {
      const r = addRestart(window, now, intensity, period);
      window = r.restarts;
      return r.exceeded;
    });
  }

  it('exactly `intensity` restarts within the period survive; one more gives up', () => {
    expect(run([0, 100, 200], 3, 1_000)).to.deep.equal([false, false, false]);
    expect(run([0, 100, 200, 300], 3, 1_000)).to.deep.equal([false, false, false, true]);
  });

  it('restarts spread wider than the period never give up', () => {
    const times = Array.from({ length: 50 }, (_, i) => i * 1_001);
    expect(run(times, 1, 1_000).some(Boolean)).to.equal(false);
  });

  it('only restarts inside the window count', () => {
    // 3 at the start, then a long pause: the old ones fall out of the window.
    expect(run([0, 10, 20, 5_000, 5_010, 5_020], 3, 1_000)).to.deep.equal([false, false, false, false, false, false]);
    expect(run([0, 10, 20, 990], 3, 1_000)).to.deep.equal([false, false, false, true]);
    expect(run([0, 10, 20, 1_011], 3, 1_000)).to.deep.equal([false, false, false, false]);
  });

  it('intensity 0: the first restart gives up', () => {
    expect(run([0], 0, 1_000)).to.deep.equal([true]);
  });

  it('forgets timestamps older than the period', () => {
    expect(addRestart([0, 500, 900], 1_600, 3, 1_000).restarts).to.deep.equal([900, 1_600]);
  });
});

describe('restart intensity (real supervisor)', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'int' });
    events = new EventLog(system);
    log = [];
  });
  afterEach(() => system.stop());


  it('survives `intensity` restarts within the period, gives up on the next and exits shutdown', async () => {
    const root = await system.start(supervisor({ intensity: 2, period: 60_000, children: [{ id: 'w', start: probe(log, 'w') }, { id: 'x', start: probe(log, 'x') }] }));
    await crashChild(root);
    await events.waitFor(is('started', 'w'), 2);
    await crashChild(root);
    await events.waitFor(is('started', 'w'), 3);
    expect(root.alive).to.equal(true);
    await crashChild(root);
    const gaveUp = await events.waitFor(is('gave_up', 'w'));
    expect(gaveUp).to.include({ supervisor: 'int/root', reason: 'reached_max_restart_intensity' });
    const rootExit = await events.waitFor(is('exited', 'root'));
    expect(rootExit).to.include({ reason: 'shutdown' });
    expect(root.alive).to.equal(false);
    // The remaining child was stopped before the supervisor exited.
    expect(log.slice(-2)).to.deep.equal(['terminate:w', 'terminate:x']);
    expect(events.summary(['gave_up', 'shutdown', 'exited']).slice(-4)).to.deep.equal([
      'gave_up:w',
      'shutdown:root',
      'exited:x',
      'exited:root',
    ]);
  });

  it('restarts spread wider than the period never give up', async () => {
    const period = 40;
    const root = await system.start(supervisor({ intensity: 1, period, children: [{ id: 'w', start: probe(log, 'w') }] }));
    for (let i = 2; i <= 5; i++) {
      await crashChild(root);
      const started = await events.waitFor(is('started', 'w'), i);
      await until(() => Date.now() - started.at > period + 5);
    }
    expect(events.count(is('gave_up'))).to.equal(0);
    expect(root.alive).to.equal(true);
  });
});
