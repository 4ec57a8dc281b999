// exit(ref, reason) and stop(ref, reason, timeout) from outside, ported from OTP's
// gen_server_SUITE (stop1..stop4) and supervisor_SUITE (permanent/transient/temporary exits).
import { expect } from 'chai';
import {
  ActorSystem,
  exit,
  InvalidSpecError,
  NoProcessError,
  StopTimeoutError,
  supervisor,
  worker,
  stop,
  type ChildRef,
  type ExitedEvent,
  type ExitReason,
  type SupervisorRef,
} from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { EventLog, is, probe, rejection, type ProbeCall } from './helpers.js';

describe('process control: exit(ref, reason) and stop(ref, reason, timeout)', () => {
  let system: ActorSystem;
  let events: EventLog;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'pc' });
    events = new EventLog(system);
    log = [];
  });
  afterEach(() => system.stop());

  /** A worker whose terminate logs the reason it got. */
  const reasons = (terminated: ExitReason[]) =>
    worker<number, 'ping', string>({
      init: () => 0,
      handleCall: (_msg, n) => ({ reply: 'pong', state: n }),
      terminate: (reason) => {
        terminated.push(reason);
      },
    });

  /** A worker whose 'wait' call signals `entered`, then awaits `gate`; terminate is logged. */
  const gated = (entered: Deferred<void>, gate: Promise<void>) =>
    worker<number, 'wait' | 'ping', string>({
      init: () => 0,
      handleCall: async (msg, n) => {
        if (msg === 'wait') {
          entered.resolve();
          await gate;
          log.push('resumed');
        }
        return { reply: msg, state: n };
      },
      terminate: (reason) => {
        log.push(`terminate:${String(reason)}`);
      },
    });

  describe('stop (gen_server:stop)', () => {
    it('stop1: stops with normal, the process is gone, a second stop is noproc', async () => {
      const terminated: ExitReason[] = [];
      const ref = (await system.start(reasons(terminated)))!;
      await stop(ref);
      expect(ref.alive).to.equal(false);
      expect(terminated).to.deep.equal(['normal']);
      expect(await rejection(stop(ref))).to.be.instanceOf(NoProcessError);
    });

    it('stop2: another reason, and infinity as the timeout', async () => {
      const terminated: ExitReason[] = [];
      const ref = (await system.start(reasons(terminated)))!;
      await stop(ref, 'other_reason', 'infinity');
      expect(ref.alive).to.equal(false);
      expect(terminated).to.deep.equal(['other_reason']);
    });

    it('stop3: an invalid timeout is refused and the process keeps running', async () => {
      const terminated: ExitReason[] = [];
      const ref = (await system.start(reasons(terminated)))!;
      const err = await rejection(stop(ref, 'other_reason', 'invalid_timeout' as never));
      expect(err).to.be.instanceOf(InvalidSpecError).and.instanceOf(TypeError);
      expect(await rejection(stop(ref, 'other_reason', -1))).to.be.instanceOf(RangeError);
      expect(ref.alive).to.equal(true);
      expect(await ref.call('ping')).to.equal('pong');
      await stop(ref);
      expect(ref.alive).to.equal(false);
    });

    it('stop4: by registered name (a whereis handle), then noproc', async () => {
      await system.start(supervisor({ children: [{ id: 'w', name: 'to_stop', start: probe(log, 'w'), restart: 'temporary' }] }));
      const handle = system.whereis<ChildRef<ProbeCall>>('to_stop');
      await stop(handle);
      expect(handle.alive).to.equal(false);
      expect(log).to.deep.equal(['init:w', 'terminate:w']);
      expect(await rejection(stop(handle))).to.be.instanceOf(NoProcessError);
    });

    it('goes through the supervisor: a permanent child stopped with normal is restarted (OTP: restart types apply)', async () => {
      const root = await system.start(supervisor({ children: [{ id: 'w', start: probe(log, 'w') }] }));
      const first = await root.child<ChildRef<ProbeCall>>('w');
      await stop(first);
      await events.waitFor(is('started', 'w'), 2);
      const second = await root.child<ChildRef<ProbeCall>>('w');
      expect(second).to.not.equal(first);
      expect(await second.call('ping')).to.equal('pong');
    });

    it('waits for the callback in progress (the stop request waits in the mailbox), then terminate runs', async () => {
      const entered = new Deferred<void>();
      const gate = new Deferred<void>();
      const ref = (await system.start(gated(entered, gate.promise)))!;
      const waiting = ref.call('wait', { timeout: 'infinity' });
      await entered.promise;
      const stopped = stop(ref, 'shutdown');
      await new Promise((r) => setImmediate(r));
      expect(log).to.deep.equal([]);
      gate.resolve();
      expect(await waiting).to.equal('wait');
      await stopped;
      expect(log).to.deep.equal(['resumed', 'terminate:shutdown']);
    });

    it('rejects with StopTimeoutError when the exit does not come in time; the process goes on stopping', async () => {
      const release = new Deferred<void>();
      const root = await system.start(
        supervisor({ children: [{ id: 'w', start: probe(log, 'w', { terminate: () => release.promise }), restart: 'temporary', shutdown: 'infinity' }] }),
      );
      const ref = await root.child<ChildRef<ProbeCall>>('w');
      const err = await rejection(stop(ref, 'normal', 20));
      expect(err).to.be.instanceOf(StopTimeoutError).with.property('timeout', 20);
      release.resolve();
      const exited = await events.waitFor<ExitedEvent>(is('exited', 'w'));
      expect(exited.reason).to.equal('normal');
    });

    it('rejects with the error terminate threw, as gen_server:stop exits with it', async () => {
      const ref = (await system.start(
        worker({
          init: () => 0,
          terminate: () => {
            throw new Error('terminate failed');
          },
        }),
      ))!;
      const err = await rejection(stop(ref));
      expect(err).to.be.instanceOf(Error).with.property('message', 'terminate failed');
    });

    it('stops a supervisor: its children in reverse order, then itself with the reason', async () => {
      const root = await system.start(
        supervisor({ children: [{ id: 'sub', type: 'supervisor', restart: 'temporary', start: supervisor({ children: [{ id: 'a', start: probe(log, 'a') }, { id: 'b', start: probe(log, 'b') }] }) }] }),
      );
      const sub = await root.child<SupervisorRef>('sub');
      await stop(sub, { shutdown: 'maintenance' });
      expect(sub.alive).to.equal(false);
      expect(log).to.deep.equal(['init:a', 'init:b', 'terminate:b', 'terminate:a']);
      expect((await events.waitFor<ExitedEvent>(is('exited', 'sub'))).reason).to.deep.equal({ shutdown: 'maintenance' });
    });
  });

  describe('exit (erlang:exit/2)', () => {
    it("'kill' kills at once: terminate does not run, the reason is killed, a permanent child comes back", async () => {
      const root = await system.start(supervisor({ children: [{ id: 'w', start: probe(log, 'w') }] }));
      const first = await root.child<ChildRef<ProbeCall>>('w');
      exit(first, 'kill');
      expect(first.alive).to.equal(false);
      expect((await events.waitFor<ExitedEvent>(is('exited', 'w'))).reason).to.equal('killed');
      await events.waitFor(is('started', 'w'), 2);
      expect(log).to.deep.equal(['init:w', 'init:w']);
    });

    it("'kill' pre-empts a callback that is awaiting: its caller gets NoProcessError at once, terminate does not run", async () => {
      const entered = new Deferred<void>();
      const gate = new Deferred<void>();
      const ref = (await system.start(gated(entered, gate.promise)))!;
      const waiting = ref.call('wait', { timeout: 'infinity' });
      await entered.promise;
      exit(ref, 'kill');
      const err = await rejection(waiting);
      expect(err).to.be.instanceOf(NoProcessError).with.property('reason', 'killed');
      expect(ref.alive).to.equal(false);
      // JavaScript cannot stop the awaiting callback: it resumes later, and what it returns is dropped.
      gate.resolve();
      await new Promise((r) => setImmediate(r));
      expect(log).to.deep.equal(['resumed']);
    });

    it('supervisor_SUITE permanent_abnormal: another reason is an orderly exit with it; a permanent child is restarted', async () => {
      const root = await system.start(supervisor({ children: [{ id: 'w', start: probe(log, 'w') }] }));
      exit(await root.child('w'), 'abnormal');
      expect((await events.waitFor<ExitedEvent>(is('exited', 'w'))).reason).to.equal('abnormal');
      await events.waitFor(is('started', 'w'), 2);
      expect(log).to.deep.equal(['init:w', 'terminate:w', 'init:w']);
    });

    it('supervisor_SUITE transient_normal / transient_abnormal: a transient child is restarted only after an abnormal exit', async () => {
      const root = await system.start(supervisor({ intensity: 5, children: [{ id: 'w', start: probe(log, 'w'), restart: 'transient' }] }));
      exit(await root.child('w'), 'abnormal');
      await events.waitFor(is('started', 'w'), 2);
      exit(await root.child('w'), 'normal');
      await events.waitFor(is('exited', 'w'), 2);
      expect((await root.whichChild('w')).status).to.equal('undefined');
      expect(events.count(is('started', 'w'))).to.equal(2);
    });

    it('supervisor_SUITE temporary_abnormal: a temporary child is never restarted, and its spec goes', async () => {
      const root = await system.start(supervisor({ children: [{ id: 'w', start: probe(log, 'w'), restart: 'temporary' }] }));
      exit(await root.child('w'), 'kill');
      await events.waitFor(is('exited', 'w'));
      expect(await root.whichChildren()).to.deep.equal([]);
    });

    it('a process that is not running is left alone; what is not a ref is a TypeError', async () => {
      const ref = (await system.start(probe(log, 'w')))!;
      await stop(ref);
      expect(() => exit(ref, 'kill')).to.not.throw();
      expect(() => exit(system.whereis('nobody') as object, 'kill')).to.not.throw();
      expect(() => exit('w' as never, 'kill')).to.throw(TypeError, /ref must be a child's ref or a whereis handle, got "w" \(string\)/);
      expect(() => exit({}, 'kill')).to.throw(TypeError, /is not a ref that @piton\/core started/);
    });
  });
});
