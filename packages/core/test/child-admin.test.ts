import { expect } from 'chai';
import {
  ActorSystem,
  IGNORE,
  supervisor,
  SupervisorError,
  worker,
  type ChildRef,
  type ChildSpec,
  type ExitedEvent,
  type StartFn,
  type SupervisorRef,
} from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { EventLog, crashChild, is, probe, rejection, type ProbeCall, supervisorCode } from './helpers.js';

/**
 * A first restart attempt after 1 ms, then 60 s before the next: a restart that fails leaves the
 * child 'restarting' for the rest of the test (OTP's supervisor_deadlock child, without the sleep).
 */
const STUCK_AFTER_ONE_FAILED_RESTART = { min: 1, max: 60_000, factor: 60_000 };

/** Waits until the second restart attempt is scheduled, i.e. the first one has failed. */
async function restartFailed(events: EventLog): Promise<void> {
  await events.waitFor(is('start_failed'));
  await events.waitFor((e) => e.type === 'restarting' && e.attempt === 2);
}

describe('child administration while restarting and after exit (supervisor_SUITE)', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  let failStart: boolean;
  beforeEach(() => {
    system = new ActorSystem({ name: 'adm' });
    events = new EventLog(system);
    log = [];
    failStart = false;
  });
  afterEach(() => system.stop());

  const child1 = (): ChildSpec => ({
    id: 'child1',
    start: probe(log, 'child1', { initFails: () => failStart }),
    shutdown: 'brutal_kill',
    backoff: STUCK_AFTER_ONE_FAILED_RESTART,
  });

  it('hanging_restart_loop: a child whose restart fails is present, not started; it can be terminated and restarted', async () => {
    const root = await system.start(supervisor({ intensity: 8, period: 10_000 }));
    const cpid1 = await root.startChild<ChildRef<ProbeCall>>(child1());
    failStart = true;
    await crashChild(root, 'child1');
    await restartFailed(events);

    expect(await supervisorCode(root.startChild(child1()))).to.equal('already_present');
    expect(await supervisorCode(root.restartChild('child1'))).to.equal('restarting');
    expect(await supervisorCode(root.deleteChild('child1'))).to.equal('restarting');
    expect(await root.whichChildren()).to.deep.equal([{ id: 'child1', ref: undefined, type: 'worker', status: 'restarting' }]);
    expect(await root.countChildren()).to.deep.equal({ specs: 1, active: 0, supervisors: 0, workers: 1 });

    await root.terminateChild('child1');
    expect(cpid1.alive).to.equal(false);
    expect((await events.waitFor<ExitedEvent>(is('exited', 'child1'))).reason).to.be.instanceOf(Error);
    expect(await root.whichChildren()).to.deep.equal([{ id: 'child1', ref: undefined, type: 'worker', status: 'undefined' }]);

    failStart = false;
    const cpid2 = await root.restartChild<ChildRef<ProbeCall>>('child1');
    expect(await root.whichChildren()).to.deep.equal([{ id: 'child1', ref: cpid2, type: 'worker', status: 'running' }]);
    expect(await root.countChildren()).to.deep.equal({ specs: 1, active: 1, supervisors: 0, workers: 1 });

    // The supervisor does not hang in the restart loop: it stops, and so does the child.
    await system.stop();
    expect(cpid2.alive).to.equal(false);
    expect(log).to.deep.equal(['init:child1', 'terminate:child1', 'init-failed:child1', 'init:child1']);
  });

  it('hanging_restart_loop_simple: a simple_one_for_one child stuck restarting is terminated by its old ref', async () => {
    const root = await system.start(supervisor({ strategy: 'simple_one_for_one', intensity: 8, period: 10_000, children: [child1()] }));
    const cpid1 = await root.startChild<ChildRef<ProbeCall>>([]);
    failStart = true;
    await rejection(cpid1.call({ crash: 'boom' }));
    await restartFailed(events);

    expect(await supervisorCode(root.restartChild('child1'))).to.equal('simple_one_for_one');
    expect(await supervisorCode(root.deleteChild('child1'))).to.equal('simple_one_for_one');
    expect(await root.whichChildren()).to.deep.equal([{ id: undefined, ref: undefined, type: 'worker', status: 'restarting' }]);
    expect(await root.whichChild(cpid1)).to.include({ status: 'restarting' });
    expect(await root.countChildren()).to.deep.equal({ specs: 1, active: 0, supervisors: 0, workers: 1 });

    await root.terminateChild(cpid1);
    expect(await root.whichChildren()).to.deep.equal([]);

    failStart = false;
    const cpid2 = await root.startChild<ChildRef<ProbeCall>>([]);
    expect(await root.whichChildren()).to.deep.equal([{ id: undefined, ref: cpid2, type: 'worker', status: 'running' }]);
    expect(await root.countChildren()).to.deep.equal({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    await system.stop();
    expect(cpid2.alive).to.equal(false);
  });

  it('child_adm_simple: dynamic children by ref; terminating one that already exited is ok, a stranger is not_found', async () => {
    const template = worker<number, 'ping', string>({
      init: (_ctx, mode) => (mode === 'ignore' ? IGNORE : 0),
      handleCall: (_msg, n) => ({ reply: 'pong', state: n }),
    });
    const sup = await system.start(
      supervisor({ strategy: 'simple_one_for_one', intensity: 2, period: 3_600_000, children: [{ id: 'child', start: template, shutdown: 'brutal_kill' }] }),
    );
    expect(await sup.whichChildren()).to.deep.equal([]);
    expect(await sup.countChildren()).to.deep.equal({ specs: 1, active: 0, supervisors: 0, workers: 0 });

    const cpid1 = await sup.startChild<ChildRef>([]);
    expect(await sup.whichChildren()).to.deep.equal([{ id: undefined, ref: cpid1, type: 'worker', status: 'running' }]);
    const cpid2 = await sup.startChild<ChildRef>(['extra']);
    expect((await sup.whichChildren()).map((c) => c.ref)).to.have.members([cpid1, cpid2]);
    expect(await sup.countChildren()).to.deep.equal({ specs: 1, active: 2, supervisors: 0, workers: 2 });

    const spec = await sup.getChildSpec(cpid1);
    expect(await sup.getChildSpec(cpid2)).to.deep.equal(spec);
    expect(await supervisorCode(sup.getChildSpec('hej'))).to.equal('not_found');

    // A start with ignore: { ok, undefined }, nothing stored.
    expect(await sup.startChild(['ignore'])).to.equal(undefined);
    expect(await sup.countChildren()).to.deep.equal({ specs: 1, active: 2, supervisors: 0, workers: 2 });

    await sup.terminateChild(cpid2);
    expect(await sup.countChildren()).to.deep.equal({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    expect(await supervisorCode(sup.terminateChild('hej'))).to.equal('simple_one_for_one');
    expect(await supervisorCode(sup.restartChild('child'))).to.equal('simple_one_for_one');
    expect(await supervisorCode(sup.deleteChild('child'))).to.equal('simple_one_for_one');

    await sup.terminateChild(cpid1);
    expect(await sup.whichChildren()).to.deep.equal([]);
    // Terminating a child that is not running any more is ok.
    await sup.terminateChild(cpid1);
    expect(await sup.countChildren()).to.deep.equal({ specs: 1, active: 0, supervisors: 0, workers: 0 });

    // A ref that is alive but not a child of this supervisor is not ok.
    const stranger = await system.start(template, { id: 'stranger' });
    expect(stranger?.alive).to.equal(true);
    expect(await supervisorCode(sup.terminateChild(stranger!))).to.equal('not_found');
  });

  it('a custom ref without `alive` is known as exited once it was a child; a stranger object is not_found', async () => {
    interface Plain {
      readonly n: number;
    }
    let made = 0;
    const plain: StartFn<Plain> = async () => {
      const exited = new Deferred<'shutdown' | 'killed'>();
      return { ref: { n: ++made }, exited: exited.promise, shutdown: () => exited.resolve('shutdown'), kill: () => exited.resolve('killed') };
    };
    const sup = await system.start(supervisor({ strategy: 'simple_one_for_one', children: [{ id: 'plain', start: plain }] }));
    const ref = await sup.startChild<Plain>([]);
    await sup.terminateChild(ref);
    await sup.terminateChild(ref);
    expect(await supervisorCode(sup.terminateChild({ n: 1 }))).to.equal('not_found');
  });

  it('whichChild(id): one row; not_found for an unknown id', async () => {
    const root: SupervisorRef = await system.start(supervisor({ children: [{ id: 'a', start: probe(log, 'a') }, child1()] }));
    const a = await root.child('a');
    expect(await root.whichChild('a')).to.deep.equal({ id: 'a', ref: a, type: 'worker', status: 'running' });
    await root.terminateChild('child1');
    expect(await root.whichChild('child1')).to.deep.equal({ id: 'child1', ref: undefined, type: 'worker', status: 'undefined' });
    expect(await supervisorCode(root.whichChild('zz'))).to.equal('not_found');
  });
});
