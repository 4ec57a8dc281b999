import { expect } from 'chai';
import { Fifo } from '../../src/dispatch/fifo.js';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ i }));

describe('Fifo', () => {
  it('shifts in push order; unshift puts an item back at the head', () => {
    const q = new Fifo<{ i: number }>();
    const [a, b, c] = items(3) as [{ i: number }, { i: number }, { i: number }];
    q.push(a);
    q.push(b);
    expect(q.shift()).to.equal(a);
    q.unshift(a);
    q.push(c);
    expect(q.size).to.equal(3);
    expect(q.drain()).to.deep.equal([a, b, c]);
    expect(q.shift()).to.equal(undefined);
    expect(q.size).to.equal(0);
  });

  it('removes any item in O(1): it is skipped when it reaches the head, and peek skips it too', () => {
    const q = new Fifo<{ i: number }>();
    const all = items(5);
    for (const item of all) q.push(item);
    q.remove(all[0]!);
    q.remove(all[2]!);
    expect(q.size).to.equal(3);
    expect(q.peek()).to.equal(all[1]);
    expect(q.drain()).to.deep.equal([all[1], all[3], all[4]]);
  });

  it('keeps its order across compaction of a long queue', () => {
    const q = new Fifo<{ i: number }>();
    const all = items(5_000);
    for (const item of all) q.push(item);
    const out: { i: number }[] = [];
    for (let k = 0; k < 3_000; k++) out.push(q.shift()!);
    for (const item of items(10)) q.push(item);
    out.push(...q.drain());
    expect(out.slice(0, 5_000)).to.deep.equal(all);
    expect(out).to.have.length(5_010);
  });
});
