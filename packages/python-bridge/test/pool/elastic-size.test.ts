import { expect } from 'chai';
import { interpretersToStart } from '../../src/pool/elastic-size.js';

describe('elastic size: the growth rule (pure)', () => {
  it('starts one interpreter per queued call no starting one will take, within max', () => {
    expect(interpretersToStart({ serving: 4, starting: 0, queued: 2, slots: 4, max: 8 })).to.equal(2);
    expect(interpretersToStart({ serving: 4, starting: 1, queued: 2, slots: 5, max: 8 })).to.equal(1);
    expect(interpretersToStart({ serving: 4, starting: 2, queued: 2, slots: 6, max: 8 })).to.equal(0);
    expect(interpretersToStart({ serving: 7, starting: 0, queued: 100, slots: 7, max: 8 })).to.equal(1);
    expect(interpretersToStart({ serving: 8, starting: 0, queued: 100, slots: 8, max: 8 })).to.equal(0);
    expect(interpretersToStart({ serving: 2, starting: 0, queued: 0, slots: 2, max: 8 })).to.equal(0);
  });

  it('never has more starting at once than serving (at least one): a burst at most doubles the pool per start time', () => {
    expect(interpretersToStart({ serving: 1, starting: 0, queued: 1000, slots: 1, max: 8 })).to.equal(1);
    expect(interpretersToStart({ serving: 2, starting: 0, queued: 1000, slots: 2, max: 8 })).to.equal(2);
    expect(interpretersToStart({ serving: 4, starting: 0, queued: 1000, slots: 4, max: 8 })).to.equal(4);
    expect(interpretersToStart({ serving: 0, starting: 0, queued: 5, slots: 0, max: 8 })).to.equal(1);
    expect(interpretersToStart({ serving: 0, starting: 1, queued: 5, slots: 1, max: 8 })).to.equal(0);
    // 1 → 2 → 4 → 8: three start times to reach max from one.
    let serving = 1;
    let rounds = 0;
    while (serving < 8) {
      serving += interpretersToStart({ serving, starting: 0, queued: 1000, slots: serving, max: 8 });
      rounds++;
    }
    expect(rounds).to.equal(3);
  });
});
