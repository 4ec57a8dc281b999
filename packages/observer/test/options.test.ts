import { expect } from 'chai';
import { isLoopback, OBSERVER_DEFAULTS } from '../src/options.js';
import { resolveObserverOptions } from '../src/options.js';

describe('observer options', () => {
  it('defaults: loopback, a free port, no token', () => {
    const o = resolveObserverOptions();
    expect(o).to.include({ host: '127.0.0.1', port: 0, token: undefined, sampleInterval: OBSERVER_DEFAULTS.sampleInterval });
  });

  it('an unknown option is a TypeError naming it', () => {
    expect(() => resolveObserverOptions({ prot: 80 } as never)).to.throw(TypeError, /options.prot is not an option; did you mean port\?/);
  });

  it('each bad value is a TypeError naming its field and what it got', () => {
    expect(() => resolveObserverOptions({ port: 70_000 })).to.throw(TypeError, /port must be an integer from 0 to 65535, got 70000/);
    expect(() => resolveObserverOptions({ sampleInterval: 10 })).to.throw(TypeError, /sampleInterval .* got 10/);
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
