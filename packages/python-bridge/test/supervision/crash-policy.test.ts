import { expect } from 'chai';
import { replacedInPlace, unplannedExitCause } from '../../src/supervision/crash-policy.js';
import { forkServerArgs } from '../../src/launch/forkserver.js';
import { resolvePoolOptions } from '../../src/pool/options.js';

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

describe('fork server command line', () => {
  it('carries the pool-wide options, and no endpoint (each fork names its own)', () => {
    const args = forkServerArgs(
      { python: 'python3', path: ['/a', '/b'], preload: ['m'], maxMessageSize: 1024, allowModules: ['math'], allowPrivate: true, startTimeout: 1 },
      42,
    );
    expect(args).to.deep.equal([
      '--parent-pid', '42', '--max-message-size', '1024', '--path', '/a', '--path', '/b', '--preload', 'm', '--allow-module', 'math', '--allow-private',
    ]);
  });
});
