import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { ActorSystem, CallTimeoutError, NoProcessError, StartChildError, worker, type ChildRef } from '../src/index.js';
import { rejection, until } from './helpers.js';

describe('worker (gen_server)', () => {
  let system: ActorSystem;
  beforeEach(() => {
    system = new ActorSystem({ name: 'w' });
  });
  afterEach(() => system.stop());

  const counter = worker<number, 'get' | 'boom', number, number | 'boom'>(
    {
      init: (_ctx, start) => start as number,
      handleCall: (msg, state) => {
        if (msg === 'boom') throw new Error('call boom');
        return { reply: state, state };
      },
      handleCast: (msg, state) => {
        if (msg === 'boom') throw new Error('cast boom');
        return state + msg;
      },
    },
    10,
  );

  it('call/cast thread the state; init gets the args', async () => {
    const ref = (await system.start(counter))!;
    ref.cast(1);
    ref.cast(2);
    expect(await ref.call('get')).to.equal(13);
  });

  it('call rejects with CallTimeoutError; the worker keeps running and serves the next call', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ref = (await system.start(
      worker<number, 'slow' | 'fast', string>({
        init: () => 0,
        handleCall: async (msg, state) => {
          if (msg === 'slow') await gate;
          return { reply: msg, state };
        },
      }),
    ))!;
    const err = await rejection(ref.call('slow', { timeout: 20 }));
    expect(err).to.be.instanceOf(CallTimeoutError);
    expect((err as CallTimeoutError).timeout).to.equal(20);
    expect(ref.alive).to.equal(true);
    const fast = ref.call('fast');
    release();
    expect(await fast).to.equal('fast');
  });

  it('a throw in handleCall is a crash: the call rejects with it and the exit reason is the error', async () => {
    const exits: unknown[] = [];
    system.events.on('event', (e) => e.type === 'exited' && exits.push(e.reason));
    const ref = (await system.start(counter))!;
    const err = await rejection(ref.call('boom'));
    expect((err as Error).message).to.equal('call boom');
    await until(() => exits.length === 1);
    expect((exits[0] as Error).message).to.equal('call boom');
    expect(ref.alive).to.equal(false);
    expect(await rejection(ref.call('get'))).to.be.instanceOf(NoProcessError);
  });

  it('a throw in handleCast is a crash with that error as reason', async () => {
    const exits: unknown[] = [];
    system.events.on('event', (e) => e.type === 'exited' && exits.push(e.reason));
    const ref = (await system.start(counter))!;
    ref.cast('boom');
    await until(() => exits.length === 1);
    expect((exits[0] as Error).message).to.equal('cast boom');
  });

  it('ctx.exit works from an event listener while a handleCall is still awaiting', async () => {
    const death = new EventEmitter();
    const terminated: unknown[] = [];
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const ref = (await system.start(
      worker<{ n: number }, 'hang' | 'get', number>({
        init: (ctx) => {
          death.once('died', (code: number) => ctx.exit({ shutdown: `process died with ${code}` }));
          return { n: 1 };
        },
        handleCall: async (msg, state) => {
          if (msg === 'hang') {
            entered();
            await new Promise(() => undefined);
          }
          return { reply: state.n, state };
        },
        terminate: (reason, state) => {
          terminated.push(reason, state.n);
        },
      }),
    ))!;
    const hanging = ref.call('hang', { timeout: 'infinity' });
    const queued = ref.call('get');
    await inHandler;
    death.emit('died', 137);
    const [e1, e2] = [await rejection(hanging), await rejection(queued)];
    expect(e1).to.be.instanceOf(NoProcessError);
    expect((e1 as NoProcessError).reason).to.deep.equal({ shutdown: 'process died with 137' });
    expect(e2).to.be.instanceOf(NoProcessError);
    await until(() => terminated.length === 2);
    expect(terminated).to.deep.equal([{ shutdown: 'process died with 137' }, 1]);
  });

  it('terminate(reason, state) is awaited on shutdown', async () => {
    const log: string[] = [];
    await system.start(
      worker({
        init: () => 'st',
        terminate: async (reason, state) => {
          await new Promise((r) => setImmediate(r));
          log.push(`terminate ${String(reason)} ${String(state)}`);
        },
      }),
      { shutdown: 1_000 },
    );
    await system.stop();
    expect(log).to.deep.equal(['terminate shutdown st']);
  });

  it('init throwing is a start failure naming the cause', async () => {
    const err = await rejection(system.start(worker({ init: () => { throw new Error('no db'); } }), { id: 'db' }));
    expect(err).to.be.instanceOf(StartChildError);
    expect((err as StartChildError).code).to.equal('failed_to_start_child');
    expect((err as Error).message).to.contain('"db"').and.contain('no db');
    expect(((err as Error).cause as Error).message).to.equal('no db');
  });

  it('handleInfo gets plain messages; send/cast to a dead worker are dropped silently', async () => {
    const seen: unknown[] = [];
    const ref: ChildRef = (await system.start(
      worker({ init: () => 0, handleInfo: (msg, s) => (seen.push(msg), s), handleCall: (_m, s) => ({ reply: 'ok', state: s }) }),
      { shutdown: 100 },
    ))!;
    ref.send('hello');
    expect(await ref.call('sync')).to.equal('ok');
    expect(seen).to.deep.equal(['hello']);
    await system.stop();
    ref.send('late');
    ref.cast('late');
    expect(await rejection(ref.call('x'))).to.be.instanceOf(NoProcessError);
  });
});
