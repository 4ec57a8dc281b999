import { expect } from 'chai';
import { checkCall, checkStream, resolvePoolOptions, sizeLimits } from '../../src/pool/validate.js';
import { curveKeyPair } from '../../src/remote/keys.js';

describe('pool, call and stream options', () => {
  it('size: a number is fixed, { min, max } elastic (min may be 0); bad bounds are RangeErrors, bad shapes TypeErrors, before anything starts', () => {
    expect(resolvePoolOptions({ size: 3 }).size).to.deep.equal({ min: 3, max: 3 });
    expect(resolvePoolOptions({ size: { min: 0, max: 4 } }).size).to.deep.equal({ min: 0, max: 4 });
    expect(resolvePoolOptions({ size: { min: 2, max: 2 } }).size).to.deep.equal({ min: 2, max: 2 });
    expect(resolvePoolOptions({}).idleTimeout).to.equal(30_000);
    for (const size of [0, -1, 1.5, Number.NaN, { min: -1, max: 2 }, { min: 3, max: 2 }, { min: 0, max: 0 }, { min: 1.5, max: 2 }]) {
      expect(() => resolvePoolOptions({ size: size as never }), JSON.stringify(size)).to.throw(RangeError, /^options\.size/);
    }
    for (const size of [{ min: 1 }, { max: 2 }, { min: '1', max: 2 }]) {
      expect(() => resolvePoolOptions({ size: size as never }), JSON.stringify(size)).to.throw(TypeError, /^options\.size\.m(in|ax) must be an integer/);
    }
    for (const size of ['4', null, [1, 2], () => 3]) {
      expect(() => resolvePoolOptions({ size: size as never }), String(size)).to.throw(TypeError, /^options\.size must be a number or \{ min, max \}/);
    }
    expect(() => resolvePoolOptions({ size: { min: 1, max: 2, mx: 3 } as never })).to.throw(TypeError, /options\.size\.mx is not an option/);
    expect(() => resolvePoolOptions({ idleTimeout: 0 })).to.throw(RangeError, /options\.idleTimeout/);
    expect(sizeLimits('resize(size)', 5, 1)).to.deep.equal({ min: 5, max: 5 });
    expect(() => sizeLimits('resize(size)', { min: 4, max: 1 }, 1)).to.throw(RangeError, /^resize\(size\)\.max must be an integer >= 4/);
  });

  it('env may be a function of the slot index; remote.dns.servers must be addresses; remote.keys alone make a pool that may be given hosts', () => {
    const env = (i: number) => ({ SLOT: String(i) });
    const resolved = resolvePoolOptions({ env });
    expect(resolved.envForSlot).to.equal(env);
    expect(resolved.env).to.deep.equal({});
    expect(() => resolvePoolOptions({ env: 'x' as never })).to.throw(TypeError, /options\.env/);
    const keys = { publicKey: 'a'.repeat(40), secretKey: 'b'.repeat(40) };
    expect(resolvePoolOptions({ remote: { keys, dns: { servers: ['127.0.0.1:5353'] } } }).remote?.dns).to.deep.equal({ servers: ['127.0.0.1:5353'] });
    expect(() => resolvePoolOptions({ remote: { keys, dns: { servers: [] } } })).to.throw(TypeError, /options\.remote\.dns\.servers/);
    expect(() => resolvePoolOptions({ remote: { keys, dns: { server: ['x'] } as never } })).to.throw(TypeError, /options\.remote\.dns\.server is not an option; did you mean servers\?/);
    expect(() => resolvePoolOptions({ dns: { servers: ['x'] } } as never)).to.throw(TypeError, /options\.dns is not an option/);
    const keyed = resolvePoolOptions({ remote: { keys } });
    expect(keyed.remote?.hosts).to.deep.equal([]);
    expect(keyed.size).to.deep.equal({ min: 0, max: 0 });
  });

  it('a hosts entry may be a DNS name: port, key, size and interval checked, the interval defaulting to 5 s', () => {
    const keys = { publicKey: 'a'.repeat(40), secretKey: 'b'.repeat(40) };
    const serverKey = 'c'.repeat(40);
    const resolved = resolvePoolOptions({ remote: { keys, hosts: [{ dns: 'piton-agents.ml.svc.cluster.local', port: 7100, serverKey, size: 2 }] } });
    expect(resolved.remote?.discover).to.deep.equal([{ dns: 'piton-agents.ml.svc.cluster.local', port: 7100, serverKey, size: 2, interval: 5_000 }]);
    expect(resolved.remote?.hosts).to.deep.equal([]);
    const entry = (extra: object) => resolvePoolOptions({ remote: { keys, hosts: [{ dns: 'agents.local', port: 7100, serverKey, size: 1, ...extra } as never] } });
    expect(() => entry({ port: 0 })).to.throw(RangeError, /hosts\[0\]\.port/);
    expect(() => entry({ size: 0 })).to.throw(RangeError, /hosts\[0\]\.size/);
    expect(() => entry({ dns: 'bad name' })).to.throw(TypeError, /hosts\[0\]\.dns/);
    expect(() => entry({ interval: 1 })).to.throw(RangeError, /hosts\[0\]\.interval/);
    expect(() => entry({ agent: 'tcp://x:1' })).to.throw(TypeError, /hosts\[0\]\.agent is not an option/);
  });

  it('takes timeouts beyond 2^31 ms (they are chained) and refuses a backoff past the timer limit, naming it', () => {
    const long = 2 ** 31;
    const resolved = resolvePoolOptions({ startTimeout: long, callTimeout: long, shutdownTimeout: long, streamIdleTimeout: long });
    expect(resolved).to.include({ startTimeout: long, callTimeout: long, shutdownTimeout: long, streamIdleTimeout: long });
    expect(() => resolvePoolOptions({ supervision: { backoff: { min: 1, max: long } } })).to.throw(RangeError, /supervision\.backoff\.max must be at most 2147483647 ms/);
    expect(checkCall('m', 'f', [], { timeout: long * 4 }, undefined).timeout).to.equal(long * 4);
  });

  it('closes idle streams after 60 s by default; streamIdleTimeout: 0 turns it off; a stream may set its own', () => {
    expect(resolvePoolOptions({}).streamIdleTimeout).to.equal(60_000);
    expect(resolvePoolOptions({ streamIdleTimeout: 0 }).streamIdleTimeout).to.equal(undefined);
    expect(checkStream('m', 'f', [], {}, 60_000).idleTimeout).to.equal(60_000);
    expect(checkStream('m', 'f', [], { idleTimeout: 5 }, 60_000).idleTimeout).to.equal(5);
    expect(() => checkStream('m', 'f', [], { idleTimeout: 0 }, 60_000)).to.throw(RangeError, /options\.idleTimeout/);
    expect(() => resolvePoolOptions({ streamIdleTimeout: -1 })).to.throw(RangeError, /options\.streamIdleTimeout/);
  });

  it('checks a stream as a call: names, args, kwargs, timeout, signal, unknown options', () => {
    const cases: [unknown, unknown, unknown, Record<string, unknown>][] = [
      ['', 'f', [], {}],
      ['m', 7, [], {}],
      ['m', 'f', 'x', {}],
      ['m', 'f', [], { kwargs: [] }],
      ['m', 'f', [], { signal: {} }],
    ];
    for (const [module, fn, args, options] of cases) {
      const fromCall = (() => { try { checkCall(module, fn, args, options, undefined); } catch (e) { return e as Error; } })();
      const fromStream = (() => { try { checkStream(module, fn, args, options, undefined); } catch (e) { return e as Error; } })();
      expect(fromCall, JSON.stringify(options)).to.be.instanceOf(Error);
      expect(fromStream?.message).to.equal(fromCall?.message);
      expect(fromStream?.constructor).to.equal(fromCall?.constructor);
    }
    expect(() => checkStream('m', 'f', [], { retries: 1 } as never, undefined)).to.throw(TypeError, /^options\.retries is not an option/);
    expect(() => checkStream('m', 'f', [], { batch: 0 }, undefined)).to.throw(RangeError, /options\.batch/);
    expect(() => checkCall('m', 'f', [], { timeout: 0 }, undefined)).to.throw(RangeError, /^options\.timeout must be an integer >= 1/);
    expect(() => checkStream('m', 'f', [], { waitTimeout: 0 }, undefined)).to.throw(RangeError, /^options\.waitTimeout must be an integer >= 1/);
    expect(checkStream('m', 'f', [], { waitTimeout: 5 }, undefined).waitTimeout).to.equal(5);
  });
});

describe('startMethod option', () => {
  it("defaults to 'auto'; 'forkserver' and 'spawn' are kept as asked", () => {
    expect(resolvePoolOptions({}).startMethod).to.equal('auto');
    expect(resolvePoolOptions({ startMethod: 'spawn' }).startMethod).to.equal('spawn');
    if (process.platform === 'linux') expect(resolvePoolOptions({ startMethod: 'forkserver' }).startMethod).to.equal('forkserver');
  });

  it('names the option when the value is not a start method', () => {
    expect(() => resolvePoolOptions({ startMethod: 'fork' as 'spawn' })).to.throw(TypeError, /options\.startMethod must be 'auto', 'forkserver' or 'spawn', got "fork"/);
  });
});

describe('option families', () => {
  it('nest allow, recycle, supervision and remote, each with its defaults', () => {
    const resolved = resolvePoolOptions({ allow: { modules: ['math'], reexports: true }, recycle: { afterCalls: 3 }, supervision: { intensity: 2 } });
    expect(resolved.allow).to.deep.equal({ modules: ['math'], private: false, reexports: ['*'] });
    expect(resolved.recycle).to.deep.equal({ afterCalls: 3, aboveMemory: undefined });
    expect(resolved.supervision).to.deep.equal({ intensity: 2, period: 10_000, backoff: { min: 1, max: 1_000 } });
    expect(resolvePoolOptions({}).supervision.backoff).to.deep.equal({ min: 1, max: 1_000 });
    expect(resolvePoolOptions({ supervision: { backoff: false } }).supervision.backoff).to.equal(undefined);
    expect(resolvePoolOptions({}).remote).to.equal(undefined);
  });

  it('refuse unknown names inside a family, and a family that is not an object', () => {
    expect(() => resolvePoolOptions({ allow: { module: ['os'] } } as never)).to.throw(TypeError, /^options\.allow\.module is not an option; did you mean modules\?/);
    expect(() => resolvePoolOptions({ recycle: 5 } as never)).to.throw(TypeError, /^options\.recycle must be an object/);
    expect(() => resolvePoolOptions({ supervision: { intensity: -1 } })).to.throw(RangeError, /options\.supervision\.intensity/);
    expect(() => resolvePoolOptions({ allow: { private: 'yes' } } as never)).to.throw(TypeError, /options\.allow\.private must be a boolean/);
  });

  it('remote: one rule for its fields, and never a key in a message', () => {
    const { publicKey, secretKey } = curveKeyPair();
    const host = { agent: 'tcp://10.0.0.7:7100', serverKey: publicKey, size: 2 };
    const remote = (extra: object) => ({ remote: { hosts: [host], keys: { publicKey, secretKey }, ...extra } }) as never;
    expect(resolvePoolOptions(remote({})).remote?.heartbeat).to.deep.equal({ interval: 1_000, timeout: 3_000 });
    expect(resolvePoolOptions(remote({})).size).to.deep.equal({ min: 0, max: 0 });
    expect(() => resolvePoolOptions(remote({ hosts: [{ ...host, sise: 2 }] }))).to.throw(TypeError, /^options\.remote\.hosts\[0\]\.sise is not an option; did you mean size\?/);
    expect(() => resolvePoolOptions(remote({ hosts: [{ ...host, size: 0 }] }))).to.throw(RangeError, 'options.remote.hosts[0].size must be an integer >= 1, got 0 (number)');
    expect(() => resolvePoolOptions(remote({ heartbeat: { interval: 2 ** 31 } }))).to.throw(RangeError, /options\.remote\.heartbeat\.interval must be an integer from 10 to 2147483647/);
    expect(() => resolvePoolOptions(remote({ heartbeat: { interval: 500, timeout: 400 } }))).to.throw(RangeError, /heartbeat\.timeout must be greater than its interval/);
    expect(() => resolvePoolOptions(remote({ heartbeet: {} }))).to.throw(TypeError, /^options\.remote\.heartbeet is not an option; did you mean heartbeat\?/);
    const badSecret = secretKey.slice(1);
    const error = (() => { try { resolvePoolOptions(remote({ keys: { publicKey, secretKey: badSecret } })); } catch (e) { return e as Error; } })();
    expect(error).to.be.instanceOf(TypeError).with.property('message').that.contains('options.remote.keys.secretKey must be a Z85 CURVE key');
    expect(error!.message).to.not.contain(badSecret);
  });

  it('each name of 0.1 is a TypeError that gives its new spelling', () => {
    const moved: [string, unknown, RegExp][] = [
      ['allowModules', ['os'], /^options\.allowModules is now options\.allow\.modules: write \{ allow: \{ modules: … \} \}$/],
      ['allowPrivate', true, /options\.allow\.private/],
      ['allowReexports', true, /options\.allow\.reexports/],
      ['hosts', [], /options\.remote\.hosts/],
      ['keys', {}, /options\.remote\.keys/],
      ['heartbeat', {}, /options\.remote\.heartbeat/],
      ['maxTasksPerWorker', 3, /^options\.maxTasksPerWorker is now options\.recycle\.afterCalls: write \{ recycle: \{ afterCalls: … \} \}$/],
      ['maxMemoryPerWorker', 1e9, /options\.recycle\.aboveMemory/],
      ['intensity', 3, /options\.supervision\.intensity/],
      ['period', 1000, /options\.supervision\.period/],
      ['restartBackoff', false, /options\.supervision\.backoff/],
    ];
    for (const [name, value, says] of moved) {
      expect(() => resolvePoolOptions({ [name]: value } as never), name).to.throw(TypeError, says);
    }
    expect(() => checkStream('m', 'f', [], { timeout: 5 } as never, undefined)).to.throw(TypeError, /^options\.timeout is now options\.waitTimeout: write \{ waitTimeout: … \}$/);
  });
});
