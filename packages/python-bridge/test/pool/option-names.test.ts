import { expect } from 'chai';
import { closest, editDistance, rejectUnknownKeys } from '../../src/validation.js';
import type { PoolOptions } from '../../src/pool/options.js';
import { checkCall, checkStream, resolvePoolOptions } from '../../src/pool/validate.js';
import { thrown } from '../../../../test/support.js';

describe('unknown option names', () => {
  it('edit distance counts insertions, deletions, substitutions and transpositions as one edit each', () => {
    expect(editDistance('size', 'size')).to.equal(0);
    expect(editDistance('sise', 'size')).to.equal(1);
    expect(editDistance('pth', 'path')).to.equal(1);
    expect(editDistance('szie', 'size')).to.equal(1);
    expect(editDistance('', 'abc')).to.equal(3);
  });

  it('suggests a near name, and nothing for a name far from all', () => {
    const known = ['size', 'path', 'callTimeout', 'startTimeout'];
    expect(closest('sise', known)).to.equal('size');
    expect(closest('pth', known)).to.equal('path');
    expect(closest('calltimout', known)).to.equal('callTimeout');
    expect(closest('startMethod', known)).to.equal(undefined);
  });

  it('pool options: a TypeError naming the option and the likely one', () => {
    const error = thrown(() => resolvePoolOptions({ sise: 4 } as PoolOptions));
    expect(error).to.be.instanceOf(TypeError);
    expect(error.message).to.match(/^options\.sise is not an option; did you mean size\? \(known: size, path, /);
    expect(thrown(() => resolvePoolOptions({ pth: 'x' } as PoolOptions)).message).to.contain('did you mean path?');
    expect(thrown(() => resolvePoolOptions({ startmethod: 'spawn' } as PoolOptions)).message).to.contain('did you mean startMethod?');
    expect(thrown(() => resolvePoolOptions({ launcher: 'fork' } as PoolOptions)).message).to.match(/^options\.launcher is not an option \(known: /);
  });

  it('call and stream options alike', () => {
    expect(thrown(() => checkCall('m', 'f', [], { timout: 5 } as never, undefined)).message).to.contain('options.timout is not an option; did you mean timeout?');
    expect(thrown(() => checkStream('m', 'f', [], { batchSize: 5 } as never, undefined)).message).to.match(/^options\.batchSize is not an option/);
    expect(thrown(() => checkStream('m', 'f', [], { retries: 1 } as never, undefined))).to.be.instanceOf(TypeError);
  });

  it('lets every known name through', () => {
    expect(() => rejectUnknownKeys('options', { a: 1, b: undefined }, ['a', 'b'])).to.not.throw();
    expect(checkStream('m', 'f', [], { batch: 3, waitTimeout: 10, kwargs: {}, signal: new AbortController().signal }, undefined)).to.deep.equal({
      batch: 3,
      waitTimeout: 10,
      idleTimeout: undefined,
      context: undefined,
    });
    expect(() => resolvePoolOptions({ size: 1, onOutput: false })).to.not.throw();
  });

  it('stream options are validated by name', () => {
    expect(thrown(() => checkStream('m', 'f', [], { batch: 0 }, undefined)).message).to.match(/^options\.batch must be an integer >= 1/);
  });
});
