import { expect } from 'chai';
import { ActorSystem, isNormalExit, supervisor, type ChildRef, type ExitReason, type Restart } from '../src/index.js';
import { EventLog, is, probe, type ProbeCall, type ProbeCast } from './helpers.js';

describe('restart types × exit reasons (OTP do_restart)', () => {
  let system: ActorSystem;
  let events: EventLog;
  beforeEach(() => {
    system = new ActorSystem({ name: 'rt' });
    events = new EventLog(system);
  });
  afterEach(() => system.stop());

  it('isNormalExit: normal, shutdown and { shutdown: x } only', () => {
    expect(isNormalExit('normal')).to.equal(true);
    expect(isNormalExit('shutdown')).to.equal(true);
    expect(isNormalExit({ shutdown: 'detail' })).to.equal(true);
    expect(isNormalExit('killed')).to.equal(false);
    expect(isNormalExit(new Error('x'))).to.equal(false);
    expect(isNormalExit('other')).to.equal(false);
    expect(isNormalExit({ other: 1 })).to.equal(false);
  });

  const reasons: [string, ExitReason | 'crash'][] = [
    ['normal', 'normal'],
    ['shutdown', 'shutdown'],
    ['{ shutdown: x }', { shutdown: 'x' }],
    ['a thrown error', 'crash'],
    ['killed', 'killed'],
    ['another term', 'oops'],
  ];
  const expected: Record<Restart, (abnormal: boolean) => 'restarted' | 'kept' | 'dropped'> = {
    permanent: () => 'restarted',
    transient: (abnormal) => (abnormal ? 'restarted' : 'kept'),
    temporary: () => 'dropped',
  };

  for (const restart of ['permanent', 'transient', 'temporary'] as const) {
    for (const [label, reason] of reasons) {
      const abnormal = reason === 'crash' || !isNormalExit(reason);
      const outcome = expected[restart](abnormal);
      it(`${restart} child exiting with ${label} is ${outcome}`, async () => {
        const log: string[] = [];
        const root = await system.start(
          supervisor({ intensity: 5, children: [{ id: 'kid', restart, start: probe(log, 'kid') }, { id: 'other', start: probe(log, 'other') }] }),
        );
        const kid = await root.child<ChildRef<ProbeCall, unknown, ProbeCast>>('kid');
        kid.cast(reason === 'crash' ? { crash: 'boom' } : { exit: reason });
        const exited = await events.waitFor(is('exited', 'kid'));
        if (reason === 'crash') expect((exited as { reason: Error }).reason.message).to.equal('boom');
        else expect((exited as { reason: unknown }).reason).to.deep.equal(reason);
        // Requests are served after the exit notice, so this reflects the decision.
        const children = await root.whichChildren();
        const row = children.find((c) => c.id === 'kid');
        if (outcome === 'restarted') {
          expect(row?.status).to.equal('running');
          expect(log.filter((l) => l === 'init:kid')).to.have.length(2);
        } else if (outcome === 'kept') {
          expect(row?.status).to.equal('undefined');
          expect(row?.ref).to.equal(undefined);
        } else {
          expect(row).to.equal(undefined);
        }
        expect(children.find((c) => c.id === 'other')?.status).to.equal('running');
        expect(log.filter((l) => l === 'init:other')).to.have.length(1);
      });
    }
  }
});
