import { expect } from 'chai';
import { ActorSystem, supervisor, worker, type Shutdown } from '../src/index.js';
import { EventLog, is } from './helpers.js';

describe('shutdown: timeout then kill, brutal_kill, infinity', () => {
  let system: ActorSystem;
  let events: EventLog;
  beforeEach(() => {
    system = new ActorSystem({ name: 'sd' });
    events = new EventLog(system);
  });
  afterEach(() => system.stop());

  function stubborn(log: string[], terminate: 'never' | 'slow' | 'fast') {
    return worker({
      init: () => 0,
      terminate: async () => {
        log.push('terminate');
        if (terminate === 'never') await new Promise(() => undefined);
        if (terminate === 'slow') await new Promise((r) => setTimeout(r, 30));
        log.push('terminated');
      },
    });
  }

  async function stopWith(shutdown: Shutdown, terminate: 'never' | 'slow' | 'fast') {
    const log: string[] = [];
    const root = await system.start(supervisor({ children: [{ id: 'w', start: stubborn(log, terminate), shutdown }] }));
    const t0 = Date.now();
    await root.terminateChild('w');
    const exit = await events.waitFor(is('exited', 'w'));
    return { log, elapsed: Date.now() - t0, reason: (exit as { reason: unknown }).reason, root };
  }

  it('a terminate that never returns is killed after the shutdown timeout', async () => {
    const { log, elapsed, reason } = await stopWith(60, 'never');
    expect(log).to.deep.equal(['terminate']);
    expect(reason).to.equal('killed');
    expect(elapsed).to.be.at.least(55).and.below(3_000);
  });

  it('a terminate that returns in time exits with shutdown', async () => {
    const { log, reason } = await stopWith(2_000, 'slow');
    expect(log).to.deep.equal(['terminate', 'terminated']);
    expect(reason).to.equal('shutdown');
  });

  it("'brutal_kill' does not run terminate", async () => {
    const { log, reason } = await stopWith('brutal_kill', 'never');
    expect(log).to.deep.equal([]);
    expect(reason).to.equal('killed');
  });

  it("'infinity' waits for terminate however long it takes", async () => {
    const { log, reason, root } = await stopWith('infinity', 'slow');
    expect(log).to.deep.equal(['terminate', 'terminated']);
    expect(reason).to.equal('shutdown');
    expect((await root.whichChildren())[0]).to.include({ id: 'w', status: 'undefined' });
  });

  it('an orderly shutdown lets the call in progress finish first', async () => {
    let release!: () => void;
    let entered!: () => void;
    const inCall = new Promise<void>((r) => (entered = r));
    const root = await system.start(
      supervisor({
        children: [
          {
            id: 'w',
            shutdown: 5_000,
            start: worker({
              init: () => 0,
              handleCall: async (_m, s) => {
                entered();
                await new Promise<void>((r) => (release = r));
                return { reply: 'done', state: s };
              },
            }),
          },
        ],
      }),
    );
    const w = await root.child<import('../src/index.js').ChildRef>('w');
    const reply = w.call('work');
    await inCall;
    const stopped = root.terminateChild('w');
    release();
    expect(await reply).to.equal('done');
    await stopped;
    expect(w.alive).to.equal(false);
  });

  it('a killed supervisor kills its children at once', async () => {
    const log: string[] = [];
    await system.start(
      supervisor({
        children: [
          {
            id: 'mid',
            type: 'supervisor',
            shutdown: 50,
            start: supervisor({ children: [{ id: 'w', start: stubborn(log, 'never'), shutdown: 'infinity' }] }),
          },
        ],
      }),
    );
    await system.stop();
    // mid asked w to stop and waits forever ('infinity'); after 50 ms mid is killed, and w with it.
    expect(log).to.deep.equal(['terminate']);
    expect(events.events.find((e) => e.type === 'exited' && e.id === 'w')).to.include({ reason: 'killed' });
    expect(events.events.find((e) => e.type === 'exited' && e.id === 'mid')).to.include({ reason: 'killed' });
  });
});
