/**
 * One build's no-op pools in a Node process of their own, for comparisons between two builds of
 * the bridge (bench/async.ts against "today's"). Loaded side by side in the measuring process, the
 * two copies do not start even: this checkout's has run every family before (V8's feedback from
 * other call paths, lanes, streams), the other only no-ops; and the three no-ops of one rotation
 * did not follow one another alike. Here each build runs in a fresh process that makes only these
 * calls, started and warmed alike, and the parent alternates between the two.
 *
 *   node --import tsx bench/lib/noop-child.ts <the bridge's dist/index.js> <python> <path>
 *
 * Prints `ready` once its pools serve (a pool of 1 and a pool of 2), then answers each line of
 * stdin with one line: `call` makes one no-op call on the pool of 1 and answers its time in ms;
 * `block N C` makes N no-op calls with C callers on the pool of 2 and answers the time in ms;
 * `stop` stops both pools and answers `stopped`. It exits when its stdin ends.
 */
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { nowMs } from './stats.js';
import { throughput } from './timing.js';

interface AnyPool {
  call(module: string, fn: string, args: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
}

const [entry, python, path] = process.argv.slice(2);
if (entry === undefined || python === undefined || path === undefined) {
  throw new TypeError('usage: noop-child.ts <bridge entry> <python> <path>');
}
const { PythonPool } = (await import(pathToFileURL(entry).href)) as {
  PythonPool: { start(options: { size: number; path: string; python: string }): Promise<AnyPool> };
};
const one = await PythonPool.start({ size: 1, path, python });
const two = await PythonPool.start({ size: 2, path, python });
const noop = async (pool: AnyPool) => {
  if ((await pool.call('functions', 'noop', [1])) !== 1) throw new Error('the no-op did not return its argument');
};
process.stdout.write('ready\n');

for await (const line of createInterface({ input: process.stdin })) {
  const [command, ...args] = line.split(' ');
  if (command === 'call') {
    const t0 = nowMs();
    await noop(one);
    process.stdout.write(`${nowMs() - t0}\n`);
  } else if (command === 'block') {
    const [count, callers] = args.map(Number);
    const rate = await throughput(() => noop(two), count!, callers!);
    process.stdout.write(`${(count! * 1000) / rate}\n`);
  } else if (command === 'stop') {
    await one.stop();
    await two.stop();
    process.stdout.write('stopped\n');
  } else {
    throw new RangeError(`noop-child: unknown command ${JSON.stringify(line)}`);
  }
}
