import { expect } from 'chai';
import { ActorSystem, backoffDelay, supervisor, SupervisorError, type RestartingEvent } from '../src/index.js';
import { EventLog, crashChild, is, probe, rejection, until } from './helpers.js';

describe('backoff', () => {
  it('backoffDelay grows by factor from min and caps at max', () => {
    const b = { min: 100, max: 1_000, factor: 2, jitter: 0, resetAfter: 1_000 };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, b))).to.deep.equal([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('jitter takes up to that fraction off each delay', () => {
    const b = { min: 100, max: 1_000, factor: 3, jitter: 0.5, resetAfter: 1_000 };
    expect(backoffDelay(1, b, () => 0)).to.equal(300);
    expect(backoffDelay(1, b, () => 1)).to.equal(150);
    expect(backoffDelay(1, b, () => 0.5)).to.equal(225);
  });

  describe('in a supervisor', () => {
    let system: ActorSystem;
    let events: EventLog;
    let log: string[];
    beforeEach(() => {
      system = new ActorSystem({ name: 'bo' });
      events = new EventLog(system);
      log = [];
    });
    afterEach(() => system.stop());


    it('delays consecutive restarts exponentially, then resets after a stable run', async () => {
      const backoff = { min: 20, max: 80, factor: 2, resetAfter: 600 };
      const root = await system.start(supervisor({ intensity: 20, period: 60_000, children: [{ id: 'w', start: probe(log, 'w'), backoff }] }));
      for (let i = 1; i <= 4; i++) {
        await crashChild(root);
        const exit = await events.waitFor(is('exited', 'w'), i);
        const started = await events.waitFor(is('started', 'w'), i + 1);
        const restarting = await events.waitFor<RestartingEvent>(is('restarting', 'w'), i);
        expect(started.at - exit.at).to.be.at.least(restarting.delay - 2);
      }
      const delays = events.events.filter(is('restarting', 'w')).map((e) => (e as RestartingEvent).delay);
      expect(delays).to.deep.equal([20, 40, 80, 80]);
      const last = await events.waitFor(is('started', 'w'), 5);
      await until(() => Date.now() - last.at > backoff.resetAfter + 10);
      await crashChild(root);
      expect((await events.waitFor<RestartingEvent>(is('restarting', 'w'), 5)).delay).to.equal(20);
    });

    it("a child waiting out its delay is shown 'restarting'; terminateChild cancels the restart", async () => {
      const root = await system.start(
        supervisor({ children: [{ id: 'w', start: probe(log, 'w'), backoff: { min: 60_000, max: 60_000 } }] }),
      );
      await crashChild(root);
      await events.waitFor(is('restarting', 'w'));
      expect((await root.whichChildren())[0]).to.include({ id: 'w', status: 'restarting' });
      const err = await rejection(root.deleteChild('w'));
      expect((err as SupervisorError).code).to.equal('restarting');
      expect(((await rejection(root.restartChild('w'))) as SupervisorError).code).to.equal('restarting');
      expect((await root.countChildren()).active).to.equal(0);
      await root.terminateChild('w');
      expect((await root.whichChildren())[0]).to.include({ status: 'undefined' });
      await root.deleteChild('w');
      expect(log).to.deep.equal(['init:w', 'terminate:w']);
    });
  });
});
