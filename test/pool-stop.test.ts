// stop() resolves only when no interpreter of the pool runs, including one being recycled.
import { expect } from 'chai';
import { PythonPool } from '@piton/python-bridge';
import { fixtures, isAlive, workersOf } from './helpers.js';
import { until } from './support.js';

describe('PythonPool.stop() while an interpreter is being recycled', function () {
  this.timeout(30_000);

  it('resolves only once the recycled interpreter, slow to die, is gone too', async () => {
    // shutdownTimeout bounds how long stop() waits before it kills; the point is what it kills.
    const pool = await PythonPool.start({ size: 1, path: fixtures, recycle: { afterCalls: 1 }, shutdownTimeout: 500 });
    let old: number;
    try {
      old = await pool.call<number>('runaways', 'linger_at_exit', [30]);
      // Its task count reached: it leaves service and is being stopped (bye, then 30 s of atexit).
      await until(() => pool.interpreters().every((i) => i.pid !== old), 'the old interpreter to leave service');
      expect(isAlive(old)).to.equal(true);
    } finally {
      await pool.stop();
    }
    expect(isAlive(old), `the recycled interpreter ${old} after stop()`).to.equal(false);
    expect(workersOf()).to.deep.equal([]);
  });
});
