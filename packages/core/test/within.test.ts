import { expect } from 'chai';
import { Deferred } from '../src/deferred.js';
import { stopLadder, within } from '../src/within.js';

describe('within and the stop ladder (within.ts)', () => {
  it('within: the promise when it settles first, onTimeout when the time runs out first', async () => {
    expect(await within(Promise.resolve('value'), 60_000, () => 'late')).to.equal('value');
    expect(await within(new Promise<never>(() => {}), 1, () => 'late')).to.equal('late');
    const forever = new Promise<string>(() => {});
    expect(within(forever, 'infinity', () => 'late')).to.equal(forever); // no timer at all
  });

  it('within: a rejection passes through, and a throwing onTimeout rejects', async () => {
    const error = new Error('boom');
    expect(await within(Promise.reject(error), 60_000, () => 'late').catch((e: unknown) => e)).to.equal(error);
    expect(await within(new Promise<never>(() => {}), 1, () => { throw error; }).catch((e: unknown) => e)).to.equal(error);
  });

  it('within: waits past the 2^31 ms of one Node timer (no early firing), and clears its timer', async () => {
    // A Node timer past its limit fires after 1 ms: the long one must still be pending here.
    let late = false;
    const settled = within(new Promise<void>((resolve) => setTimeout(resolve, 20)), 2 ** 31 + 5, () => (late = true));
    await settled;
    expect(late).to.equal(false);
  });

  it('stopLadder runs each step until the exit, then no more', async () => {
    let exit!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (exit = resolve));
    const ran: string[] = [];
    const code = await stopLadder(exited, [
      { run: () => ran.push('ask'), wait: 5 },
      { run: () => (ran.push('term'), exit(0)), wait: 60_000 },
      { run: () => ran.push('kill'), wait: 'infinity' },
    ]);
    expect(code).to.equal(0);
    expect(ran).to.deep.equal(['ask', 'term']);
  });

  describe('within(promise, ms, onTimeout) and stopLadder', () => {
    it('gives the promise if it settles first, and passes a rejection through', async () => {
      expect(await within(Promise.resolve('value'), 10_000, () => 'late')).to.equal('value');
      const error = new Error('no');
      expect(await within(Promise.reject(error), 10_000, () => 'late').catch((e: unknown) => e)).to.equal(error);
      expect(await within(Promise.resolve(1), 'infinity', () => 2)).to.equal(1);
    });

    it('gives what onTimeout returns, or rejects with what it throws, once the time is up', async () => {
      const never = new Promise<string>(() => undefined);
      expect(await within(never, 1, () => 'timeout' as const)).to.equal('timeout');
      const failure = await within(never, 1, () => {
        throw new RangeError('too slow');
      }).catch((e: unknown) => e);
      expect(failure).to.be.instanceOf(RangeError).with.property('message', 'too slow');
    });

    it('refuses a timeout outside the one rule', () => {
      expect(() => within(Promise.resolve(), -1, () => undefined)).to.throw(RangeError);
    });

    it('stopLadder runs each step until the exit comes, then no further one', async () => {
      const exited = new Deferred<string>();
      const ran: string[] = [];
      const done = stopLadder(exited.promise, [
        { run: () => ran.push('ask'), wait: 1 },
        { run: () => ran.push('ask harder'), wait: 'infinity' },
        { run: () => ran.push('kill'), wait: 'infinity' },
      ]);
      // 'ask' times out after 1 ms; 'ask harder' then waits for good, and the exit comes.
      while (ran.length < 2) await new Promise((r) => setImmediate(r));
      exited.resolve('gone');
      expect(await done).to.equal('gone');
      expect(ran).to.deep.equal(['ask', 'ask harder']);
    });

    it('stopLadder reaches the last step and waits for the exit however long', async () => {
      const exited = new Deferred<string>();
      const ran: string[] = [];
      const done = stopLadder(exited.promise, [
        { run: () => ran.push('ask'), wait: 1 },
        { run: () => (ran.push('kill'), exited.resolve('killed')), wait: 0 },
      ]);
      expect(await done).to.equal('killed');
      expect(ran).to.deep.equal(['ask', 'kill']);
    });
  });
});
