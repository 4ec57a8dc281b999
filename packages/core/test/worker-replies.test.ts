import { expect } from 'chai';
import {
  ActorSystem,
  CallTimeoutError,
  NoProcessError,
  supervisor,
  worker,
  type ExitedEvent,
  type ExitReason,
  type From,
} from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { EventLog, is, rejection } from './helpers.js';

describe('worker replies: noreply + ctx.reply, stop with a reply, continue', () => {
  let system: ActorSystem;
  let events: EventLog;
  beforeEach(() => {
    system = new ActorSystem({ name: 'rep' });
    events = new EventLog(system);
  });
  afterEach(() => system.stop());

  describe('{ noreply } and ctx.reply(from, value) (gen_server:reply)', () => {
    type Call = 'slow' | 'ping' | 'now';
    interface Waiting {
      waiting: From<string>[];
    }
    const deferring = worker<Waiting, Call, string, 'release' | 'bogus'>({
      init: () => ({ waiting: [] }),
      handleCall: (msg, state, ctx, from) => {
        if (msg === 'slow') return { noreply: { waiting: [...state.waiting, from] } };
        if (msg === 'now') {
          ctx.reply(from, 'answered inside'); // allowed before returning noreply, as in OTP
          return { noreply: state };
        }
        return { reply: 'pong', state };
      },
      handleCast: (msg, state, ctx) => {
        if (msg === 'bogus') ctx.reply({} as From<string>, 'x');
        for (const from of state.waiting) ctx.reply(from, 'done');
        return { waiting: [] };
      },
    });

    it('the worker serves other messages while the answer is pending, then answers', async () => {
      const ref = await system.start(deferring);
      const slow = ref!.call('slow');
      expect(await ref!.call('ping')).to.equal('pong');
      ref!.cast('release');
      expect(await slow).to.equal('done');
      expect(await ref!.call('now')).to.equal('answered inside');
    });

    it("the caller's timeout still applies; a late reply is dropped and the worker runs on", async () => {
      const ref = (await system.start(deferring))!;
      const err = await rejection(ref.call('slow', { timeout: 10 }));
      expect(err).to.be.instanceOf(CallTimeoutError);
      ref.cast('release');
      expect(await ref.call('ping')).to.equal('pong');
      expect(ref.alive).to.equal(true);
    });

    it('a caller still waiting when the worker exits gets NoProcessError', async () => {
      const ref = (await system.start(deferring))!;
      const slow = ref.call('slow');
      expect(await ref.call('ping')).to.equal('pong'); // 'slow' has been handled
      await system.stop();
      expect(await rejection(slow)).to.be.instanceOf(NoProcessError);
    });

    it('ctx.reply with something that is not a `from` is a crash with a TypeError', async () => {
      const root = await system.start(supervisor({ children: [{ id: 'd', start: deferring, restart: 'temporary' }] }));
      (await root.child<{ cast(m: 'bogus'): void }>('d')).cast('bogus');
      const exited = await events.waitFor<ExitedEvent>(is('exited', 'd'));
      expect(exited.reason).to.be.instanceOf(TypeError);
      expect(String((exited.reason as Error).message)).to.contain('`from` must be the one handleCall received');
    });
  });

  describe('{ stop: reason, reply, state }', () => {
    it('terminate runs with the new state, then the caller gets the reply; the other callers get NoProcessError', async () => {
      const log: string[] = [];
      const gate = new Deferred<void>();
      const root = await system.start(
        supervisor({
          children: [
            {
              id: 's',
              restart: 'transient',
              start: worker<number, 'stop' | 'wait', string>({
                init: () => 1,
                handleCall: async (msg, n) => {
                  if (msg === 'wait') return { reply: 'waited', state: n };
                  await gate.promise;
                  return { stop: 'normal', reply: `bye from ${n + 1}`, state: n + 1 };
                },
                terminate: (reason, n) => {
                  log.push(`terminate ${String(reason)} ${n}`);
                },
              }),
            },
          ],
        }),
      );
      const ref = await root.child<{ call(m: 'stop' | 'wait'): Promise<string> }>('s');
      const stopping = ref.call('stop').then((reply) => {
        log.push(reply);
        return reply;
      });
      const queued = ref.call('wait');
      gate.resolve();
      expect(await stopping).to.equal('bye from 2');
      expect(log).to.deep.equal(['terminate normal 2', 'bye from 2']);
      expect(await rejection(queued)).to.be.instanceOf(NoProcessError);
      expect((await events.waitFor<ExitedEvent>(is('exited', 's'))).reason).to.equal('normal');
      // transient + normal exit: not restarted.
      expect(await root.whichChild('s')).to.include({ status: 'undefined' });
    });

    it('the reply is sent even if terminate throws; the exit reason is that error', async () => {
      const root = await system.start(
        supervisor({
          children: [
            {
              id: 's',
              restart: 'temporary',
              start: worker<null, 'stop', string>({
                init: () => null,
                handleCall: () => ({ stop: { shutdown: 'asked' }, reply: 'ok', state: null }),
                terminate: () => {
                  throw new Error('cleanup failed');
                },
              }),
            },
          ],
        }),
      );
      const ref = await root.child<{ call(m: 'stop'): Promise<string> }>('s');
      expect(await ref.call('stop')).to.equal('ok');
      const reason = (await events.waitFor<ExitedEvent>(is('exited', 's'))).reason as ExitReason;
      expect(reason).to.be.instanceOf(Error).with.property('message', 'cleanup failed');
    });
    it('no reply if the worker is killed while terminate runs: the caller gets NoProcessError (killed)', async () => {
      const entered = new Deferred<void>();
      const root = await system.start(
        supervisor({
          children: [
            {
              id: 's',
              shutdown: 'brutal_kill',
              start: worker<null, 'stop', string>({
                init: () => null,
                handleCall: () => ({ stop: 'normal', reply: 'never sent', state: null }),
                terminate: async () => {
                  entered.resolve();
                  await new Promise<void>(() => undefined);
                },
              }),
            },
          ],
        }),
      );
      const ref = await root.child<{ call(m: 'stop'): Promise<string> }>('s');
      const stopping = ref.call('stop');
      await entered.promise;
      await root.terminateChild('s');
      const err = await rejection(stopping);
      expect(err).to.be.instanceOf(NoProcessError);
      expect((err as NoProcessError).reason).to.equal('killed');
    });
  });

  describe('continue: msg and handleContinue (OTP handle_continue)', () => {
    it('runs after the reply is sent and before any other message', async () => {
      const gate = new Deferred<void>();
      const ref = (await system.start(
        worker<string[], 'work' | 'log' | 'later', string[] | string, string>({
          init: () => [],
          handleCall: (msg, log, ctx, from) => {
            if (msg === 'log') return { reply: log, state: log };
            if (msg === 'later') {
              ctx.reply(from, 'later');
              return { noreply: [...log, 'call:later'], continue: 'from-noreply' };
            }
            return { reply: 'working', state: [...log, 'call:work'], continue: 'finish' };
          },
          handleContinue: async (msg, log) => {
            if (msg === 'finish') await gate.promise;
            return [...log, `continue:${String(msg)}`];
          },
          handleCast: (msg, log) => [...log, `cast:${msg}`],
        }),
      ))!;
      expect(await ref.call('work')).to.equal('working'); // answered while handleContinue still waits
      ref.cast('next');
      gate.resolve();
      expect(await ref.call('log')).to.deep.equal(['call:work', 'continue:finish', 'cast:next']);
      expect(await ref.call('later')).to.equal('later');
      expect(await ref.call('log')).to.deep.equal(['call:work', 'continue:finish', 'cast:next', 'call:later', 'continue:from-noreply']);
    });

    it('a crash in handleContinue, or continue without handleContinue, crashes the worker', async () => {
      const root = await system.start(
        supervisor({
          children: [
            {
              id: 'c',
              restart: 'temporary',
              start: worker<null, 'go', string>({
                init: () => null,
                handleCall: () => ({ reply: 'gone', state: null, continue: 'x' }),
                handleContinue: () => {
                  throw new Error('continue failed');
                },
              }),
            },
            {
              id: 'n',
              restart: 'temporary',
              start: worker<null, 'go', string>({ init: () => null, handleCall: () => ({ reply: 'gone', state: null, continue: 'x' }) }),
            },
          ],
        }),
      );
      for (const id of ['c', 'n']) {
        const ref = await root.child<{ call(m: 'go'): Promise<string> }>(id);
        expect(await ref.call('go')).to.equal('gone');
        const exited = await events.waitFor<ExitedEvent>(is('exited', id));
        expect(exited.reason).to.be.instanceOf(Error);
      }
      expect(((await events.waitFor<ExitedEvent>(is('exited', 'n'))).reason as Error).message).to.contain('no handleContinue');
    });
  });
});
