import { expect } from 'chai';
import {
  ActorSystem,
  IGNORE,
  NoProcessError,
  supervisor,
  SupervisorError,
  worker,
  type ChildRef,
  type StartFn,
} from '../src/index.js';
import { EventLog, crashChild, is, rejection, type ProbeCall } from './helpers.js';

/** A worker whose init returns IGNORE while `ignoring()` is true; 'ping' → 'pong', { crash } throws. */
function maybe(ignoring: () => boolean): StartFn<ChildRef<ProbeCall>> {
  return worker<number, ProbeCall>({
    init: () => (ignoring() ? IGNORE : 0),
    handleCall: (msg, n) => {
      if (typeof msg === 'object' && 'crash' in msg) throw new Error(msg.crash);
      return { reply: 'pong', state: n };
    },
  });
}

const always = () => true;
const never = () => false;

describe('IGNORE: a start that declines (OTP ignore)', () => {
  let system: ActorSystem;
  let events: EventLog;
  beforeEach(() => {
    system = new ActorSystem({ name: 'ign' });
    events = new EventLog(system);
  });
  afterEach(() => system.stop());

  it('at supervisor start: the spec is kept with no ref, a temporary one is dropped, the others start', async () => {
    const root = await system.start(
      supervisor({
        children: [
          { id: 'a', start: maybe(always) },
          { id: 't', start: maybe(always), restart: 'temporary' },
          { id: 'b', start: maybe(never) },
        ],
      }),
    );
    const rows = await root.whichChildren();
    expect(rows.map((c) => [c.id, c.status])).to.deep.equal([
      ['a', 'undefined'],
      ['b', 'running'],
    ]);
    expect(rows[0]!.ref).to.equal(undefined);
    expect(await rejection(root.child('a'))).to.be.instanceOf(NoProcessError);
    expect(events.summary(['ignored', 'started'])).to.deep.equal(['ignored:a', 'ignored:t', 'started:b', 'started:root']);
  });

  it('startChild resolves with undefined: the spec stays (already_present), a temporary one is not stored', async () => {
    const root = await system.start(supervisor({}));
    expect(await root.startChild({ id: 'a', start: maybe(always) })).to.equal(undefined);
    expect(await root.whichChild('a')).to.deep.equal({ id: 'a', ref: undefined, type: 'worker', status: 'undefined' });
    const again = await rejection(root.startChild({ id: 'a', start: maybe(always) }));
    expect((again as SupervisorError).code).to.equal('already_present');
    expect(await root.startChild({ id: 't', start: maybe(always), restart: 'temporary' })).to.equal(undefined);
    expect((await root.whichChildren()).map((c) => c.id)).to.deep.equal(['a']);
  });

  it('restartChild resolves with undefined while the start ignores, then with the ref once it starts', async () => {
    let ignoring = false;
    const root = await system.start(supervisor({ children: [{ id: 'a', start: maybe(() => ignoring) }] }));
    await root.terminateChild('a');
    ignoring = true;
    expect(await root.restartChild('a')).to.equal(undefined);
    expect(await root.whichChild('a')).to.include({ status: 'undefined' });
    ignoring = false;
    const ref = await root.restartChild<ChildRef<ProbeCall>>('a');
    expect(await ref.call('ping')).to.equal('pong');
  });

  it('a restart that ignores leaves the child not running, with no further attempt and no give-up', async () => {
    let ignoring = false;
    const root = await system.start(supervisor({ children: [{ id: 'w', start: maybe(() => ignoring) }] }));
    ignoring = true;
    await crashChild(root);
    await events.waitFor(is('ignored', 'w'));
    expect(await root.whichChild('w')).to.deep.equal({ id: 'w', ref: undefined, type: 'worker', status: 'undefined' });
    expect(events.count(is('restarting', 'w'))).to.equal(1);
    expect(events.count(is('gave_up'))).to.equal(0);
    expect(root.alive).to.equal(true);
  });

  it('one_for_all: a sibling that ignores its restart stays not running; the group restart goes on', async () => {
    let ignoring = false;
    const root = await system.start(
      supervisor({
        strategy: 'one_for_all',
        children: [
          { id: 'a', start: maybe(never) },
          { id: 'b', start: maybe(() => ignoring) },
          { id: 'c', start: maybe(never) },
        ],
      }),
    );
    ignoring = true;
    await crashChild(root, 'a');
    await events.waitFor(is('started', 'c'), 2);
    expect((await root.whichChildren()).map((c) => [c.id, c.status])).to.deep.equal([
      ['a', 'running'],
      ['b', 'undefined'],
      ['c', 'running'],
    ]);
  });

  it('simple_one_for_one: an ignored start or restart leaves nothing behind', async () => {
    let ignoring = false;
    const jobs = await system.start(supervisor({ strategy: 'simple_one_for_one', children: [{ id: 'job', start: maybe(() => ignoring) }] }));
    const job = await jobs.startChild<ChildRef<ProbeCall>>([]);
    ignoring = true;
    expect(await jobs.startChild([])).to.equal(undefined);
    expect(await jobs.countChildren()).to.deep.include({ active: 1, workers: 1 });
    await rejection(job.call({ crash: 'boom' }));
    await events.waitFor(is('ignored'), 2);
    expect(await jobs.whichChildren()).to.deep.equal([]);
  });

  it('any StartFn may return IGNORE; system.start then resolves with undefined', async () => {
    const declines: StartFn<never> = async () => IGNORE;
    expect(await system.start(declines, { id: 'top' })).to.equal(undefined);
    expect(await system.start(maybe(always), { id: 'top2' })).to.equal(undefined);
    expect(events.summary(['ignored', 'started'])).to.deep.equal(['ignored:top', 'ignored:top2']);
    const root = await system.start(supervisor({ children: [{ id: 'c', start: declines }] }));
    expect(await root.whichChild('c')).to.include({ status: 'undefined' });
  });
});
