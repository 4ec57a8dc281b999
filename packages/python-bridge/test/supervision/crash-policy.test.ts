import { expect } from 'chai';
import { replacedInPlace, unplannedExitCause } from '../../src/supervision/crash-policy.js';
import { resolvePoolOptions } from '../../src/pool/validate.js';

describe('crash policy (pure)', () => {
  it('calls a death after serving a crash, replaced in place; one before serving a failed start, for the supervisor', () => {
    expect(unplannedExitCause(true)).to.equal('crash');
    expect(unplannedExitCause(false)).to.equal('start_failure');
    expect(replacedInPlace('crash')).to.equal(true);
    for (const cause of ['start_failure', 'recycle', 'stop'] as const) expect(replacedInPlace(cause), cause).to.equal(false);
  });
});

describe('startMethod option', () => {
  it('defaults to forkserver on Linux and remembers whether it was chosen', () => {
    const defaulted = resolvePoolOptions({});
    expect(defaulted.startMethod).to.equal(process.platform === 'linux' ? 'forkserver' : 'spawn');
    expect(defaulted.startMethodExplicit).to.equal(false);
    expect(resolvePoolOptions({ startMethod: 'spawn' })).to.include({ startMethod: 'spawn', startMethodExplicit: true });
  });

  it('names the option when the value is not a start method', () => {
    expect(() => resolvePoolOptions({ startMethod: 'fork' as 'spawn' })).to.throw(TypeError, /options\.startMethod must be 'forkserver' or 'spawn', got "fork"/);
  });
});
