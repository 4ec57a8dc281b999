// A root hook for the whole mocha run: a Python worker (or its guard, or a fork of it) that
// outlives the tests is a bug, always.
import { workerProcessesOf } from './helpers.js';
import { until } from './support.js';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(10_000);
    // Interpreters stopped by the last test may take a moment to be reaped.
    await until(
      () => workerProcessesOf().length === 0,
      `no Python worker left (still running: ${workerProcessesOf().join(', ')})`,
      5_000,
    );
  },
};
