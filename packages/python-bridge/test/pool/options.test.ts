import { expect } from 'chai';
import { checkCall, checkStream, resolvePoolOptions } from '../../src/pool/options.js';

describe('pool, call and stream options', () => {
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
