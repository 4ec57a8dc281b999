import { expect } from 'chai';
import { replacedInPlace, unplannedExitCause } from '../../src/supervision/crash-policy.js';

describe('crash policy (pure)', () => {
  it('calls a death after serving a crash, replaced in place; one before serving a failed start, for the supervisor', () => {
    expect(unplannedExitCause(true)).to.equal('crash');
    expect(unplannedExitCause(false)).to.equal('start_failure');
    expect(replacedInPlace('crash')).to.equal(true);
    for (const cause of ['start_failure', 'recycle', 'stop'] as const) expect(replacedInPlace(cause), cause).to.equal(false);
  });
});
