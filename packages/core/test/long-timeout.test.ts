import { expect } from 'chai';
import { setLongTimeout } from '@piton/core';
import { FakeClock } from '../../../test/support.js';

describe('setLongTimeout (fake clock)', () => {
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock().install();
  });

  afterEach(() => clock.uninstall());

  it('fires after any finite delay, chaining timers past 2^31 − 1 ms', () => {
    let fired = 0;
    setLongTimeout(() => fired++, 2 ** 33);
    clock.tick(2 ** 33 - 1);
    expect(fired).to.equal(0);
    clock.tick(1);
    expect(fired).to.equal(1);
    expect(clock.pending).to.equal(0);
  });

  it('clear() cancels it, in whichever link it is', () => {
    let fired = 0;
    const timeout = setLongTimeout(() => fired++, 2 ** 32);
    clock.tick(2 ** 31 + 10);
    timeout.clear();
    clock.tick(2 ** 32);
    expect(fired).to.equal(0);
    expect(clock.pending).to.equal(0);
  });

  it('refuses a delay that is not a finite number >= 0', () => {
    for (const bad of [-1, Number.NaN, Infinity]) expect(() => setLongTimeout(() => undefined, bad)).to.throw(RangeError);
  });
});
