import { expect } from 'chai';
import { isLoopback, OBSERVER_DEFAULTS } from '../src/options.js';
import { resolveObserverOptions } from '../src/options.js';

describe('observer options', () => {
  it('defaults: loopback, a free port, no token', () => {
    const o = resolveObserverOptions();
    expect(o).to.include({ host: '127.0.0.1', port: 0, token: undefined, sampleInterval: OBSERVER_DEFAULTS.sampleInterval });
  });

  it('an unknown option is a TypeError naming it, in the form of the other packages', () => {
    expect(() => resolveObserverOptions({ prot: 80 } as never)).to.throw(TypeError, /^options\.prot is not an option; did you mean port\? \(known: port, host, /);
  });

  it('a bad type is a TypeError, a number out of range a RangeError, each naming its field and what it got', () => {
    expect(() => resolveObserverOptions({ port: 70_000 })).to.throw(RangeError, 'options.port must be an integer from 0 to 65535, got 70000 (number)');
    expect(() => resolveObserverOptions({ port: '80' as never })).to.throw(TypeError, 'options.port must be an integer from 0 to 65535, got "80" (string)');
    expect(() => resolveObserverOptions({ sampleInterval: 10 })).to.throw(RangeError, /options\.sampleInterval .* got 10/);
    expect(() => resolveObserverOptions({ token: 'short' })).to.throw(TypeError, /token must be a string of at least 16/);
    expect(() => resolveObserverOptions({ pools: { p: {} as never } })).to.throw(TypeError, /pools\.p must have a stats\(\) method/);
  });

  it('listening beyond loopback needs a token', () => {
    expect(() => resolveObserverOptions({ host: '0.0.0.0' })).to.throw(TypeError, /not a loopback address: give a token/);
    expect(() => resolveObserverOptions({ host: '::' })).to.throw(TypeError, /token/);
    expect(resolveObserverOptions({ host: '0.0.0.0', token: 'a-long-enough-secret' }).host).to.equal('0.0.0.0');
  });

  it('knows the loopback names', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(isLoopback(host), host).to.equal(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.org', '127.0.0.1.example.org']) expect(isLoopback(host), host).to.equal(false);
  });
});
