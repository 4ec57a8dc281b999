/**
 * The bridge's one rule and one message form (validation.ts): a TypeError for a wrong name or
 * type, a RangeError for a number out of range; `<where> must be <expected>, got <described>`.
 */
import { expect } from 'chai';
import { checkNumber, describe as described, rejectUnknownKeys } from '../src/validation.js';

describe('validation: one rule, one message form, one describer', () => {
  it('describes a value by what it is and, where short, what it holds', () => {
    expect(described('x')).to.equal('"x" (string)');
    expect(described(-1)).to.equal('-1 (number)');
    expect(described(true)).to.equal('true (boolean)');
    expect(described(null)).to.equal('null');
    expect(described(undefined)).to.equal('undefined');
    expect(described([1, 2])).to.equal('[1,2] (array)');
    expect(described({ a: 1 })).to.equal('{"a":1} (object)');
    expect(described(function init() {})).to.equal('a function (init)');
    expect(described(new Map())).to.equal('a Map');
    expect(described('y'.repeat(200))).to.match(/^"y+… \(string\)$/).and.have.length.below(100);
  });

  it('a number: TypeError for what is not one, RangeError for one out of range', () => {
    expect(checkNumber('options.size', 3, { min: 1, integer: true })).to.equal(3);
    expect(() => checkNumber('options.size', 'three', { min: 1, integer: true })).to.throw(TypeError, 'options.size must be an integer >= 1, got "three" (string)');
    expect(() => checkNumber('options.size', 0, { min: 1, integer: true })).to.throw(RangeError, 'options.size must be an integer >= 1, got 0 (number)');
    expect(() => checkNumber('options.size', 1.5, { min: 1, integer: true })).to.throw(RangeError, 'got 1.5 (number)');
    expect(() => checkNumber('options.rate', Number.NaN, { min: 0 })).to.throw(RangeError, 'options.rate must be a finite number >= 0, got NaN (number)');
    expect(() => checkNumber('x', 11, { min: 1, max: 10, integer: true })).to.throw(RangeError, 'x must be an integer from 1 to 10, got 11 (number)');
  });

  it('an unknown name: TypeError, with the likely one when it is near', () => {
    expect(() => rejectUnknownKeys('options', { drian: true }, ['drain'])).to.throw(TypeError, 'options.drian is not an option; did you mean drain? (known: drain)');
    expect(() => rejectUnknownKeys('options.allow', { everything: true }, ['modules', 'private'])).to.throw(TypeError, 'options.allow.everything is not an option (known: modules, private)');
  });
});
