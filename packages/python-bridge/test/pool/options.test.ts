import { expect } from 'chai';
import { checkCall, checkStream, resolvePoolOptions, sizeLimits } from '../../src/pool/options.js';

describe('pool, call and stream options', () => {
  it('size: a number is fixed, { min, max } elastic (min may be 0); bad bounds are RangeErrors, bad shapes TypeErrors, before anything starts', () => {
    expect(resolvePoolOptions({ size: 3 }).size).to.deep.equal({ min: 3, max: 3 });
    expect(resolvePoolOptions({ size: { min: 0, max: 4 } }).size).to.deep.equal({ min: 0, max: 4 });
    expect(resolvePoolOptions({ size: { min: 2, max: 2 } }).size).to.deep.equal({ min: 2, max: 2 });
    expect(resolvePoolOptions({}).idleTimeout).to.equal(30_000);
    for (const size of [0, -1, 1.5, Number.NaN, { min: -1, max: 2 }, { min: 3, max: 2 }, { min: 0, max: 0 }, { min: 1.5, max: 2 }, { min: 1 }, { max: 2 }]) {
      expect(() => resolvePoolOptions({ size: size as never }), JSON.stringify(size)).to.throw(RangeError, /^options\.size/);
    }
    for (const size of ['4', null, [1, 2], () => 3]) {
      expect(() => resolvePoolOptions({ size: size as never }), String(size)).to.throw(TypeError, /^options\.size must be a number or \{ min, max \}/);
    }
    expect(() => resolvePoolOptions({ size: { min: 1, max: 2, mx: 3 } as never })).to.throw(TypeError, /options\.size\.mx is not an option/);
    expect(() => resolvePoolOptions({ idleTimeout: 0 })).to.throw(RangeError, /options\.idleTimeout/);
    expect(sizeLimits(5, 'resize(size)', 1)).to.deep.equal({ min: 5, max: 5 });
    expect(() => sizeLimits({ min: 4, max: 1 }, 'resize(size)', 1)).to.throw(RangeError, /^resize\(size\)\.max must be an integer >= 4/);
  });

  it('env may be a function of the slot index; dns.servers must be addresses; keys alone make a pool that may be given hosts', () => {
    const env = (i: number) => ({ SLOT: String(i) });
    const resolved = resolvePoolOptions({ env });
    expect(resolved.envForSlot).to.equal(env);
    expect(resolved.env).to.deep.equal({});
    expect(() => resolvePoolOptions({ env: 'x' as never })).to.throw(TypeError, /options\.env/);
    expect(resolvePoolOptions({ dns: { servers: ['127.0.0.1:5353'] } }).dns).to.deep.equal({ servers: ['127.0.0.1:5353'] });
    expect(() => resolvePoolOptions({ dns: { servers: [] } })).to.throw(TypeError, /options\.dns\.servers/);
    expect(() => resolvePoolOptions({ dns: { server: ['x'] } as never })).to.throw(TypeError, /options\.dns\.server is not an option; did you mean servers\?/);
    const keys = { publicKey: 'a'.repeat(40), secretKey: 'b'.repeat(40) };
    const keyed = resolvePoolOptions({ keys });
    expect(keyed.remote?.hosts).to.deep.equal([]);
    expect(keyed.size).to.deep.equal({ min: 0, max: 0 });
  });

  it('a hosts entry may be a DNS name: port, key, size and interval checked, the interval defaulting to 5 s', () => {
    const keys = { publicKey: 'a'.repeat(40), secretKey: 'b'.repeat(40) };
    const serverKey = 'c'.repeat(40);
    const resolved = resolvePoolOptions({ keys, hosts: [{ dns: 'piton-agents.ml.svc.cluster.local', port: 7100, serverKey, size: 2 }] });
    expect(resolved.remote?.discover).to.deep.equal([{ dns: 'piton-agents.ml.svc.cluster.local', port: 7100, serverKey, size: 2, interval: 5_000 }]);
    expect(resolved.remote?.hosts).to.deep.equal([]);
    const entry = (extra: object) => resolvePoolOptions({ keys, hosts: [{ dns: 'agents.local', port: 7100, serverKey, size: 1, ...extra } as never] });
    expect(() => entry({ port: 0 })).to.throw(RangeError, /hosts\[0\]\.port/);
    expect(() => entry({ size: 0 })).to.throw(RangeError, /hosts\[0\]\.size/);
    expect(() => entry({ dns: 'bad name' })).to.throw(TypeError, /hosts\[0\]\.dns/);
    expect(() => entry({ interval: 1 })).to.throw(TypeError, /hosts\[0\]\.interval/);
    expect(() => entry({ agent: 'tcp://x:1' })).to.throw(TypeError, /hosts\[0\]\.agent is not an option/);
  });

  it('takes timeouts beyond 2^31 ms (they are chained) and refuses a backoff past the timer limit, naming it', () => {
    const long = 2 ** 31;
    const resolved = resolvePoolOptions({ startTimeout: long, callTimeout: long, shutdownTimeout: long, streamIdleTimeout: long });
    expect(resolved).to.include({ startTimeout: long, callTimeout: long, shutdownTimeout: long, streamIdleTimeout: long });
    expect(() => resolvePoolOptions({ restartBackoff: { min: 1, max: long } })).to.throw(RangeError, /restartBackoff\.max must be at most 2147483647 ms/);
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
      ['m', 'f', [], { timeout: 0 }],
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
  });
});
