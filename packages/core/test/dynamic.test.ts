import { expect } from 'chai';
import {
  ActorSystem,
  InvalidSpecError,
  NoProcessError,
  supervisor,
  SupervisorError,
  type ChildRef,
  type SupervisorRef,
} from '../src/index.js';
import { probe, rejection, type ProbeCall, supervisorCode } from './helpers.js';

describe('dynamic supervisor API', () => {
  let system: ActorSystem;
  let log: string[];
  let root: SupervisorRef;
  beforeEach(async () => {
    system = new ActorSystem({ name: 'dyn' });
    log = [];
    root = await system.start(supervisor({ children: [{ id: 'a', start: probe(log, 'a') }] }));
  });
  afterEach(() => system.stop());

  it('startChild adds a child after the others and returns its ref', async () => {
    const ref = await root.startChild<ChildRef<ProbeCall>>({ id: 'b', start: probe(log, 'b') });
    expect(await ref.call('ping')).to.equal('pong');
    expect((await root.whichChildren()).map((c) => c.id)).to.deep.equal(['a', 'b']);
    expect((await root.whichChildren())[1]!.ref).to.equal(ref);
    expect(await root.child('b')).to.equal(ref);
  });

  it('already_started, already_present, running and not_found', async () => {
    expect(await supervisorCode(root.startChild({ id: 'a', start: probe(log, 'a2') }))).to.equal('already_started');
    await root.terminateChild('a');
    expect((await root.whichChildren())[0]).to.deep.include({ id: 'a', status: 'undefined', ref: undefined });
    expect(await supervisorCode(root.startChild({ id: 'a', start: probe(log, 'a2') }))).to.equal('already_present');
    const again = await root.restartChild<ChildRef<ProbeCall>>('a');
    expect(await again.call('ping')).to.equal('pong');
    expect(await supervisorCode(root.restartChild('a'))).to.equal('running');
    expect(await supervisorCode(root.deleteChild('a'))).to.equal('running');
    for (const op of [root.terminateChild('zz'), root.restartChild('zz'), root.deleteChild('zz'), root.getChildSpec('zz'), root.child('zz')]) {
      expect(await supervisorCode(op)).to.equal('not_found');
    }
  });

  it('deleteChild forgets a stopped child; terminateChild of a temporary child drops its spec', async () => {
    await root.terminateChild('a');
    await root.deleteChild('a');
    expect(await supervisorCode(root.getChildSpec('a'))).to.equal('not_found');
    await root.startChild({ id: 't', start: probe(log, 't'), restart: 'temporary' });
    await root.terminateChild('t');
    expect(await root.whichChildren()).to.deep.equal([]);
  });

  it('child(id) of a stopped child rejects with NoProcessError', async () => {
    await root.terminateChild('a');
    expect(await rejection(root.child('a'))).to.be.instanceOf(NoProcessError);
  });

  it('getChildSpec fills in OTP defaults', async () => {
    const spec = await root.getChildSpec('a');
    expect(spec).to.include({ id: 'a', restart: 'permanent', shutdown: 5_000, type: 'worker', significant: false });
    await root.startChild({ id: 's', type: 'supervisor', start: supervisor({}) });
    expect(await root.getChildSpec('s')).to.include({ type: 'supervisor', shutdown: 'infinity' });
  });

  it('countChildren counts specs, active, supervisors and workers', async () => {
    await root.startChild({ id: 's', type: 'supervisor', start: supervisor({}) });
    await root.startChild({ id: 'b', start: probe(log, 'b') });
    await root.terminateChild('b');
    expect(await root.countChildren()).to.deep.equal({ specs: 3, active: 2, supervisors: 1, workers: 2 });
  });

  it('startChild validates the spec, naming the field', async () => {
    const err = await rejection(root.startChild({ id: 'bad', start: probe(log, 'bad'), restart: 'sometimes' as 'permanent' }));
    expect(err).to.be.instanceOf(InvalidSpecError);
    expect((err as InvalidSpecError).field).to.equal('spec.restart');
    expect((err as Error).message).to.contain('"sometimes"');
  });

  it('simple_one_for_one: id-based calls reject with simple_one_for_one; terminateChild takes a ref', async () => {
    const jobs = await root.startChild<SupervisorRef>({
      id: 'jobs',
      type: 'supervisor',
      start: supervisor({ strategy: 'simple_one_for_one', children: [{ id: 'job', start: probe(log, 'job') }] }),
    });
    const j1 = await jobs.startChild<ChildRef>([]);
    const j2 = await jobs.startChild<ChildRef>([]);
    for (const op of [jobs.restartChild('job'), jobs.deleteChild('job'), jobs.terminateChild('job'), jobs.child('job')]) {
      expect(await supervisorCode(op)).to.equal('simple_one_for_one');
    }
    expect(await jobs.getChildSpec(j1)).to.include({ id: 'job' });
    await jobs.terminateChild(j1);
    expect(j1.alive).to.equal(false);
    await jobs.terminateChild(j1); // already gone: ok, as OTP answers for a dead pid
    expect((await jobs.whichChildren()).map((c) => c.ref)).to.deep.equal([j2]);
  });

  it('requests queued while the supervisor shuts down reject with NoProcessError', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    await root.startChild({ id: 'slow', shutdown: 'infinity', start: probe(log, 'slow', { terminate: () => slow }) });
    const stopping = system.stop();
    const queued = root.whichChildren(); // behind the shutdown, which waits on 'slow'
    release();
    await stopping;
    expect(await rejection(queued)).to.be.instanceOf(NoProcessError);
  });

  it('requests to a stopped supervisor reject with NoProcessError', async () => {
    await system.stop();
    expect(await rejection(root.whichChildren())).to.be.instanceOf(NoProcessError);
    expect(root.alive).to.equal(false);
  });
});
