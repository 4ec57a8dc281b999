import { expect } from 'chai';
import { stopLadder, within } from '../src/timing.js';

describe('timing: within and the stop ladder', () => {
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
});
