// The validation kit (pure logic): one rule (TypeError for a wrong name or type, RangeError for a
// wrong number), one message form, one describer.
import { expect } from 'chai';
import {
  backoffDelay,
  checkNonNegativeInteger,
  checkNumber,
  checkOneOf,
  checkOptions,
  checkPositiveInteger,
  checkTimeout,
  closest,
  describeValue,
  editDistance,
  InvalidSpecError,
  PitonError,
  rejectUnknownKeys,
  setLongTimeout,
  SpecRangeError,
  stopLadder,
} from '../src/index.js';
import { thrown } from '../../../test/support.js';

describe('validation kit', () => {
  describe('unknown names', () => {
    it('edit distance counts insertions, deletions, substitutions and transpositions as one edit each', () => {
      expect(editDistance('restart', 'restart')).to.equal(0);
      expect(editDistance('restrat', 'restart')).to.equal(1);
      expect(editDistance('shutdwn', 'shutdown')).to.equal(1);
      expect(editDistance('', 'abc')).to.equal(3);
    });

    it('suggests a near name, and nothing for a name far from all', () => {
      const known = ['id', 'start', 'restart', 'shutdown', 'startTimeout'];
      expect(closest('restrat', known)).to.equal('restart');
      expect(closest('starttimeout', known)).to.equal('startTimeout');
      expect(closest('priority', known)).to.equal(undefined);
    });

    it('rejectUnknownKeys: a TypeError (InvalidSpecError) in the one message form, with "did you mean" when near', () => {
      const near = thrown(() => rejectUnknownKeys('options', { sise: 4 }, ['size', 'path']));
      expect(near).to.be.instanceOf(TypeError).and.instanceOf(InvalidSpecError).and.instanceOf(PitonError);
      expect(near.message).to.equal('options.sise is not an option; did you mean size? (known: size, path)');
      expect((near as InvalidSpecError).field).to.equal('options.sise');
      expect((near as InvalidSpecError).value).to.equal(4);
      const far = thrown(() => rejectUnknownKeys('children[0]', { priority: 1 }, ['id', 'start']));
      expect(far.message).to.equal('children[0].priority is not an option (known: id, start)');
      expect(() => rejectUnknownKeys('options', { size: 1, path: undefined }, ['size', 'path'])).to.not.throw();
    });

    it('checkOptions: an object whose keys are all known, else the same TypeError', () => {
      expect(checkOptions('options', { a: 1 }, ['a'])).to.deep.equal({ a: 1 });
      expect(thrown(() => checkOptions('options', [1], ['a']))).to.be.instanceOf(TypeError).with.property('message', 'options must be an object, got [1] (array)');
      expect(thrown(() => checkOptions('options', { b: 1 }, ['a']))).to.be.instanceOf(TypeError);
    });
  });

  describe('describe(value): one form for every message', () => {
    it('says what a value is and, where short, what it holds', () => {
      expect(describeValue('x')).to.equal('"x" (string)');
      expect(describeValue(-1)).to.equal('-1 (number)');
      expect(describeValue(NaN)).to.equal('NaN (number)');
      expect(describeValue(true)).to.equal('true (boolean)');
      expect(describeValue(10n)).to.equal('10n (bigint)');
      expect(describeValue(null)).to.equal('null');
      expect(describeValue(undefined)).to.equal('undefined');
      expect(describeValue([1, 2])).to.equal('[1,2] (array)');
      expect(describeValue({ a: 1 })).to.equal('{"a":1} (object)');
      expect(describeValue(function init() {})).to.equal('a function (init)');
      expect(describeValue(new Map())).to.equal('a Map');
      expect(describeValue(new AbortController().signal)).to.equal('an AbortSignal');
      expect(describeValue(Symbol('s'))).to.equal('Symbol(s) (symbol)');
    });

    it('clips long contents and survives what JSON cannot show', () => {
      const long = describeValue('y'.repeat(500));
      expect(long.length).to.be.lessThan(100);
      expect(long).to.match(/…\s\(string\)$/);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(describeValue(cyclic)).to.equal('an object');
    });
  });

  describe('checkers: TypeError for a wrong type, RangeError for a wrong number', () => {
    it('numbers', () => {
      expect(checkPositiveInteger('options.size', 3)).to.equal(3);
      const typeError = thrown(() => checkPositiveInteger('options.size', '3'));
      expect(typeError).to.be.instanceOf(TypeError).and.instanceOf(InvalidSpecError);
      expect(typeError.message).to.equal('options.size must be an integer >= 1, got "3" (string)');
      for (const bad of [0, 1.5, NaN, -2, Infinity, 2 ** 60]) {
        const rangeError = thrown(() => checkPositiveInteger('options.size', bad));
        expect(rangeError, String(bad)).to.be.instanceOf(RangeError).and.instanceOf(SpecRangeError).and.instanceOf(InvalidSpecError).and.instanceOf(PitonError);
        expect((rangeError as SpecRangeError).field).to.equal('options.size');
      }
      expect(checkNonNegativeInteger('intensity', 0)).to.equal(0);
      expect(thrown(() => checkNumber('jitter', 2, { min: 0, max: 1 })).message).to.equal('jitter must be a finite number from 0 to 1, got 2 (number)');
      expect(thrown(() => checkNumber('backoff.min', Infinity, { min: 0 }))).to.be.instanceOf(RangeError);
    });

    it('timeouts: one rule, any finite ms >= 0 (past 2^31 - 1 too), and "infinity" where allowed', () => {
      expect(checkTimeout('t', 0)).to.equal(0);
      expect(checkTimeout('t', 2.5)).to.equal(2.5);
      expect(checkTimeout('t', 2 ** 40)).to.equal(2 ** 40);
      expect(checkTimeout('t', 'infinity', { infinity: true })).to.equal('infinity');
      expect(thrown(() => checkTimeout('t', 'infinity'))).to.be.instanceOf(TypeError);
      expect(thrown(() => checkTimeout('t', '5'))).to.be.instanceOf(TypeError);
      for (const bad of [-1, Infinity, NaN]) expect(thrown(() => checkTimeout('t', bad, { infinity: true })), String(bad)).to.be.instanceOf(RangeError);
    });

    it('one of a set of words', () => {
      expect(checkOneOf('type', 'worker', ['worker', 'supervisor'])).to.equal('worker');
      const error = thrown(() => checkOneOf('type', 'manager', ['worker', 'supervisor']));
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.equal(`type must be 'worker' or 'supervisor', got "manager" (string)`);
    });

    it("the kit's own options, and those of core's helpers, refuse unknown keys too", () => {
      const unknown = (run: () => unknown, message: RegExp) => {
        const error = thrown(run);
        expect(error).to.be.instanceOf(InvalidSpecError);
        expect(error.message).to.match(message);
      };
      unknown(() => checkNumber('n', 1, { mn: 0 } as never), /^checkNumber bounds\.mn is not an option; did you mean min\? \(known: min, max, integer\)/);
      unknown(() => checkTimeout('t', 'infinity', { infinty: true } as never), /^checkTimeout options\.infinty is not an option; did you mean infinity\?/);
      unknown(() => setLongTimeout(() => undefined, 10, { unrf: true } as never), /^setLongTimeout options\.unrf is not an option; did you mean unref\?/);
      unknown(() => backoffDelay(0, { min: 1, max: 2, factor: 2, jitter: 0, resetAfter: 2, jiter: 1 } as never), /^backoff\.jiter is not an option; did you mean jitter\?/);
      expect(backoffDelay(1, { min: 1, max: 10, factor: 2, jitter: 0, resetAfter: 10 })).to.equal(2);
    });

    it('stopLadder checks every step before running the first', async () => {
      const ran: string[] = [];
      const never = new Promise<never>(() => undefined);
      const error = await stopLadder(never, [{ run: () => ran.push('ask'), wait: 10 }, { run: () => ran.push('kill'), wiat: 'infinity' } as never]).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(InvalidSpecError);
      expect((error as Error).message).to.match(/^stopLadder steps\[1\]\.wiat is not an option; did you mean wait\?/);
      expect(ran).to.deep.equal([]);
    });

    it('instanceof keeps its ordinary meaning for every other class', () => {
      expect(new TypeError('x')).to.not.be.instanceOf(InvalidSpecError);
      expect(new TypeError('x')).to.not.be.instanceOf(PitonError);
      expect(new InvalidSpecError('f', 1, 'x')).to.not.be.instanceOf(RangeError);
      expect(new SpecRangeError('f', 1, 'x')).to.not.be.instanceOf(TypeError);
    });
  });
});
