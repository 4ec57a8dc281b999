// OTP's loud failures in a worker: bad_return_value (gen_server_SUITE `call`), unexpected messages
// (gen_server_SUITE `undef_handle_info`: logged, not dropped in silence), calling_self
// (gen_server_SUITE `calling_self`: gen.erl's do_call refuses a call to self(), and
// gen_server:stop(self()) exits with it), and a call with timeout 0 (gen_server_SUITE `call`: timeout).
import { expect } from 'chai';
import {
  ActorSystem,
  BadReturnValueError,
  CallingSelfError,
  CallTimeoutError,
  NoProcessError,
  stop,
  supervisor,
  worker,
  type ChildRef,
  type ExitedEvent,
  type StartFn,
  type UnexpectedMessageEvent,
} from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { EventLog, is, rejection } from './helpers.js';

describe('loud failures (as OTP)', () => {
  let system: ActorSystem;
  let events: EventLog;
  beforeEach(() => {
    system = new ActorSystem({ name: 'loud' });
    events = new EventLog(system);
  });
  afterEach(() => system.stop());

  /** Starts `start` as the temporary child `w` and returns its ref. */
  async function child<Ref>(start: StartFn<unknown, []>): Promise<Ref> {
    const root = await system.start(supervisor({ children: [{ id: 'w', start, restart: 'temporary' }] }));
    return root.child<Ref>('w');
  }

  describe('bad_return_value', () => {
    type Msg = 'forget' | 'keep';
    const forgetful = worker<{ n: number }, 'get' | 'badreturn', number, Msg>({
      init: () => ({ n: 1 }),
      handleCall: (msg, state) => (msg === 'badreturn' ? ('badreturn') : { reply: state.n, state }),
      handleCast: (msg, state) => {
        if (msg === 'forget') return undefined as never; // a forgotten `return`
        return { n: state.n + 1 };
      },
      handleInfo: () => undefined as never,
      handleContinue: () => undefined as never,
    });

    it('gen_server_SUITE call: a handleCall result of the wrong shape crashes the worker with bad_return_value', async () => {
      const ref = await child<ChildRef<'get' | 'badreturn', number, Msg>>(forgetful);
      const err = await rejection(ref.call('badreturn'));
      expect(err).to.be.instanceOf(BadReturnValueError).with.property('callback', 'handleCall');
      expect((err as BadReturnValueError).value).to.equal('badreturn');
      expect((err as Error).message).to.match(/^bad_return_value: handleCall of loud\/root\/w returned "badreturn" \(string\)/);
      expect((await events.waitFor<ExitedEvent>(is('exited', 'w'))).reason).to.equal(err);
    });

    it('gen_server_SUITE call: a key no form has (contine) is a bad_return_value with "did you mean", not a continue dropped in silence', async () => {
      const continued: unknown[] = [];
      const typo = worker<number, 'go' | 'halt', string>({
        init: () => 0,
        handleCall: (msg, n) =>
          (msg === 'go' ? { reply: 'went', state: n, contine: 'next' } : { stop: 'normal', reply: 'halted', state: n, continue: 'next' }) as never,
        handleContinue: (msg, n) => {
          continued.push(msg);
          return n;
        },
      });
      const ref = await child<ChildRef<'go' | 'halt', string>>(typo);
      const err = await rejection(ref.call('go'));
      expect(err).to.be.instanceOf(BadReturnValueError).with.property('callback', 'handleCall');
      expect((err as Error).message).to.match(/it must return \{ reply, state, continue\? \}, and contine is not a key of it; did you mean continue\?$/);
      expect((await events.waitFor<ExitedEvent>(is('exited', 'w'))).reason).to.equal(err);
      // { stop, reply, state } takes no continue (nothing runs after the stop).
      const again = await child<ChildRef<'go' | 'halt', string>>(typo);
      const stopErr = await rejection(again.call('halt'));
      expect((stopErr as Error).message).to.match(/it must return \{ stop, reply, state \}, and continue is not a key of it$/);
      expect(continued).to.deep.equal([]);
    });

    it('handleCast returning undefined for a state that was not undefined is a crash, not a lost state', async () => {
      const ref = await child<ChildRef<'get', number, Msg>>(forgetful);
      ref.cast('keep');
      expect(await ref.call('get')).to.equal(2);
      ref.cast('forget');
      const exited = await events.waitFor<ExitedEvent>(is('exited', 'w'));
      expect(exited.reason).to.be.instanceOf(BadReturnValueError).with.property('callback', 'handleCast');
    });

    it('handleInfo likewise', async () => {
      const ref = await child<ChildRef>(forgetful);
      ref.send('anything');
      const exited = await events.waitFor<ExitedEvent>(is('exited', 'w'));
      expect(exited.reason).to.be.instanceOf(BadReturnValueError).with.property('callback', 'handleInfo');
    });

    it('handleContinue likewise', async () => {
      const continuing = worker<number, 'go', string>({
        init: () => 1,
        handleCall: (_msg, n) => ({ reply: 'going', state: n, continue: 'next' }),
        handleContinue: () => undefined as never,
      });
      const ref = await child<ChildRef<'go', string>>(continuing);
      expect(await ref.call('go')).to.equal('going');
      const exited = await events.waitFor<ExitedEvent>(is('exited', 'w'));
      expect(exited.reason).to.be.instanceOf(BadReturnValueError).with.property('callback', 'handleContinue');
    });

    it('a worker whose state is undefined may keep returning it (the documented rule)', async () => {
      const stateless = worker<undefined, 'ping', string, 'tick'>({
        init: () => undefined,
        handleCall: (_msg, state) => ({ reply: 'pong', state }),
        handleCast: () => undefined,
      });
      const ref = await child<ChildRef<'ping', string, 'tick'>>(stateless);
      ref.cast('tick');
      expect(await ref.call('ping')).to.equal('pong');
      expect(ref.alive).to.equal(true);
    });
  });

  it("gen_server_SUITE undef_handle_info: a message no handleInfo takes is an 'unexpected_message' event, and the worker runs on", async () => {
    const ref = await child<ChildRef<'ping', string>>(
      worker<number, 'ping', string>({ init: () => 0, handleCall: (_m, n) => ({ reply: 'pong', state: n }) }),
    );
    ref.send({ stray: true });
    const seen = await events.waitFor<UnexpectedMessageEvent>(is('unexpected_message', 'w'));
    expect(seen).to.include({ supervisor: 'loud/root', path: 'loud/root/w' });
    expect(seen.message).to.deep.equal({ stray: true });
    expect(await ref.call('ping')).to.equal('pong');
  });

  describe('calling_self', () => {
    it('gen_server_SUITE calling_self: a call to itself from its own handleCall fails at once with CallingSelfError, not at the timeout (infinity here)', async () => {
      const selfish = worker<number, 'self' | 'ping', unknown>({
        init: () => 0,
        handleCall: async (msg, n, ctx) => {
          if (msg === 'ping') return { reply: 'pong', state: n };
          const error = await ctx.self.call('ping', { timeout: 'infinity' }).catch((e: unknown) => e);
          return { reply: error, state: n };
        },
      });
      const ref = await child<ChildRef<'self' | 'ping', unknown>>(selfish);
      const error = await ref.call('self', { timeout: 'infinity' });
      expect(error).to.be.instanceOf(CallingSelfError);
      expect((error as Error).message).to.match(/^calling_self: loud\/root\/w called itself/);
    });

    it('uncaught, it crashes the worker with it (the caller exits with calling_self in OTP)', async () => {
      const selfish = worker<number, 'self' | 'ping', unknown>({
        init: () => 0,
        handleCall: async (msg, n, ctx) => ({ reply: msg === 'self' ? await ctx.self.call('ping') : 'pong', state: n }),
      });
      const ref = await child<ChildRef<'self' | 'ping', unknown>>(selfish);
      expect(await rejection(ref.call('self'))).to.be.instanceOf(CallingSelfError);
      expect((await events.waitFor<ExitedEvent>(is('exited', 'w'))).reason).to.be.instanceOf(CallingSelfError);
    });

    it('inside init too', async () => {
      const selfish = worker<number, 'ping', string>({
        init: async (ctx) => {
          await ctx.self.call('ping');
          return 0;
        },
        handleCall: (_m, n) => ({ reply: 'pong', state: n }),
      });
      const err = await rejection(system.start(selfish));
      expect((err as Error).cause).to.be.instanceOf(CallingSelfError);
    });

    it('stop(self) from its own callback likewise (gen_server:stop(self()) exits calling_self): at once, and the worker runs on', async () => {
      const terminated: unknown[] = [];
      const selfStopping = worker<number, 'stop-self' | 'ping', unknown>({
        init: () => 0,
        handleCall: async (msg, n, ctx) => {
          if (msg === 'ping') return { reply: 'pong', state: n };
          const error = await stop(system.whereis('selfish') as object).catch((e: unknown) => e);
          return { reply: error, state: n };
        },
        terminate: (reason) => {
          terminated.push(reason);
        },
      });
      const root = await system.start(supervisor({ children: [{ id: 'w', start: selfStopping, name: 'selfish' }] }));
      const ref = await root.child<ChildRef<'stop-self' | 'ping', unknown>>('w');
      const error = await ref.call('stop-self', { timeout: 'infinity' });
      expect(error).to.be.instanceOf(CallingSelfError);
      expect((error as Error).message).to.match(/^calling_self: loud\/root\/w stopped itself with stop\(\)/);
      expect(await ref.call('ping')).to.equal('pong');
      expect(terminated).to.deep.equal([]);
      // Outside its callbacks, stop(ref) stops it as ever.
      await stop(ref, 'normal');
      expect(terminated).to.deep.equal(['normal']);
    });

    it('a call made later, from a timer the callback set, is an ordinary call', async () => {
      const later = new Deferred<unknown>();
      const patient = worker<number, 'schedule' | 'ping', string>({
        init: () => 0,
        handleCall: (msg, n, ctx) => {
          if (msg === 'schedule') setTimeout(() => ctx.self.call('ping').then(later.resolve, later.resolve), 0);
          return { reply: msg === 'ping' ? 'pong' : 'scheduled', state: n };
        },
      });
      const ref = await child<ChildRef<'schedule' | 'ping', string>>(patient);
      expect(await ref.call('schedule')).to.equal('scheduled');
      expect(await later.promise).to.equal('pong');
    });
  });

  it('gen_server_SUITE call: a call with timeout 0 times out (no reply can come in no time)', async () => {
    const ref = await child<ChildRef<'ping', string>>(
      worker<number, 'ping', string>({ init: () => 0, handleCall: (_m, n) => ({ reply: 'pong', state: n }) }),
    );
    const err = await rejection(ref.call('ping', { timeout: 0 }));
    expect(err).to.be.instanceOf(CallTimeoutError).with.property('timeout', 0);
    expect(await ref.call('ping', { timeout: 'infinity' })).to.equal('pong');
    await system.stop();
    expect(await rejection(ref.call('ping', { timeout: 0 }))).to.be.instanceOf(NoProcessError);
  });
});
