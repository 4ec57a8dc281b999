/** The pure parts of calling back into Node: running exposed functions, the reentrancy rule, errors for Python. */
import { expect } from 'chai';
import { currentScope, ExposedFunctions, thrownOf } from '../../src/interpreter/callbacks.js';
import { ReentrantCallError } from '../../src/errors.js';

describe('callbacks', () => {
  describe('ExposedFunctions.run', () => {
    it('passes args, and kwargs as one last argument only when there are some', async () => {
      const seen: unknown[][] = [];
      const fns = new ExposedFunctions({ f: (...args: unknown[]) => (seen.push(args), args.length) }, {});
      expect(await fns.run('f', [1, 2], undefined)).to.equal(2);
      expect(await fns.run('f', [1], { k: 3 })).to.equal(2);
      expect(seen).to.deep.equal([[1, 2], [1, { k: 3 }]]);
      expect(fns.names).to.deep.equal(['f']);
    });

    it('turns a synchronous throw into a rejection, and rejects a name it does not have', async () => {
      const fns = new ExposedFunctions({ boom: () => { throw new RangeError('no'); } }, {});
      const thrown = await fns.run('boom', [], undefined).catch((e: unknown) => e);
      expect(thrown).to.be.instanceOf(RangeError);
      const missing = await fns.run('toString', [], undefined).catch((e: unknown) => e);
      expect(missing).to.be.instanceOf(ReferenceError).with.property('message').that.contains('"toString"');
    });

    it("runs inside its pool's scope, on top of the caller's, and only there", async () => {
      const a = {};
      const b = {};
      const inB = new ExposedFunctions({ where: () => currentScope() }, b);
      const fromA = (await inB.run('where', [], undefined, new Set([a]))) as ReadonlySet<object>;
      expect([...fromA]).to.deep.equal([a, b]);
      expect(currentScope()).to.equal(undefined);
    });
  });

  describe('reentry', () => {
    it("is refused inside the pool's own callback and in what it starts, allowed elsewhere", async () => {
      const owner = {};
      let fns!: ExposedFunctions;
      const outcomes: (ReentrantCallError | undefined)[] = [];
      fns = new ExposedFunctions(
        {
          again: async () => {
            outcomes.push(fns.reentry('the call'));
            await new Promise((resolve) => setTimeout(resolve, 1));
            outcomes.push(fns.reentry('the call after a timer'));
          },
        },
        owner,
        'the pool py',
      );
      expect(fns.reentry('a call from outside')).to.equal(undefined);
      await fns.run('again', [], undefined);
      expect(outcomes).to.have.length(2);
      for (const error of outcomes) expect(error).to.be.instanceOf(ReentrantCallError);
      expect(outcomes[0]!.message).to.match(/^the call was made to the pool py from inside a function it exposes/);
      const other = new ExposedFunctions({}, {});
      expect(await fns.run('again', [], undefined).then(() => other.reentry('x'))).to.equal(undefined);
    });
  });

  describe('thrownOf', () => {
    it("keeps an Error's name, message and stack", () => {
      class LookupFailed extends Error {
        override name = 'LookupFailed';
      }
      const thrown = thrownOf(new LookupFailed('no such key'));
      expect(thrown).to.include({ name: 'LookupFailed', message: 'no such key' });
      expect(thrown.stack).to.contain('no such key');
    });

    it('describes anything else that was thrown', () => {
      expect(thrownOf('oops')).to.deep.equal({ name: 'Error', message: 'a non-Error value was thrown: oops', stack: '' });
      expect(thrownOf(Object.create(null)).message).to.contain('[object Object]');
    });
  });
});
