// Two copies of the package in one process (two versions installed side by side, or another
// revision's build loaded beside this one, as the benchmarks against "today's" bridge do) share
// nact when it resolves to one file, and nact keys its systems by name process-wide: each copy's
// systems must have names the other's cannot take.
import { expect } from 'chai';

type NactModule = typeof import('../src/nact.js');

/** A copy of src/nact.ts of its own: a module evaluated afresh, its counters at 0. */
async function freshCopy(tag: string): Promise<NactModule> {
  return (await import(`../src/nact.js?copy=${tag}-${process.hrtime.bigint()}`)) as NactModule;
}

describe('two copies of the package in one process', function () {
  this.timeout(5_000);

  it('stopping a system of one copy leaves the systems of the other serving', async () => {
    const [one, two] = [await freshCopy('one'), await freshCopy('two')];
    expect(two.startNactSystem).to.not.equal(one.startNactSystem); // two copies indeed
    // Each copy's first system, named alike: with names that clashed, the second would replace the
    // first in nact's map, and stopping the first would stop the second.
    const first = one.startNactSystem('copies');
    const second = two.startNactSystem('copies');
    const received: string[] = [];
    let handled!: () => void;
    const after = new Promise<void>((resolve) => (handled = resolve));
    const mailbox = new two.Mailbox<string>(second, 'mailbox', async (message) => {
      received.push(message);
      if (message === 'after') handled();
    });
    one.stopNactSystem(first);
    mailbox.send('after');
    await after;
    expect(received).to.deep.equal(['after']);
    mailbox.stop();
    two.stopNactSystem(second);
  });
});
