import { expect } from 'chai';
import { PairMap } from '../../src/dispatch/pair-map.js';

describe('PairMap', () => {
  it('keeps a value per pair, with no collision between pairs that join to the same string', () => {
    const map = new PairMap<number>();
    map.set('a', 'bc', 1);
    map.set('ab', 'c', 2);
    map.set('a\0b', 'c', 3);
    expect([map.get('a', 'bc'), map.get('ab', 'c'), map.get('a\0b', 'c'), map.get('a', 'b')]).to.deep.equal([1, 2, 3, undefined]);
    expect(map.size).to.equal(3);
    map.set('a', 'bc', 4);
    expect(map.size).to.equal(3);
    expect([...map.values()].sort()).to.deep.equal([2, 3, 4]);
  });

  it('deletes an entry only while it holds the given value', () => {
    const map = new PairMap<object>();
    const first = {};
    const second = {};
    map.set('m', 'f', first);
    map.set('m', 'f', second);
    map.deleteIf('m', 'f', first);
    expect(map.get('m', 'f')).to.equal(second);
    map.deleteIf('m', 'f', second);
    expect(map.get('m', 'f')).to.equal(undefined);
    expect(map.size).to.equal(0);
    map.deleteIf('m', 'f', second);
    expect(map.size).to.equal(0);
    map.set('x', 'y', first);
    map.clear();
    expect([map.size, [...map.values()].length]).to.deep.equal([0, 0]);
  });
});
