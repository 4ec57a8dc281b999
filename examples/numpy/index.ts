// Arrays between Node and numpy: a Float64Array and a 2-d NdArray go to numpy and come back as
// arrays, with the bytes travelling as their own ZeroMQ frame and numpy viewing them (no copy).
// numeric.py's hints say which arrays are 1-d and which 2-d: piton-types.d.ts (`npx piton types`)
// types each call, so no result needs a type argument.
//
//   npm install && npx tsx examples/numpy/index.ts
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NdArray, PythonPool } from '@piton/python-bridge';

const here = dirname(fileURLToPath(import.meta.url));

function show(label: string, value: unknown) {
  console.log(`${label.padEnd(46)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
}

function check(what: string, ok: boolean): void {
  if (!ok) throw new Error(`unexpected result: ${what}`);
}

const pool = await PythonPool.start({ size: 1, path: here, preload: ['numeric'] });
try {
  // A 1-d Float64Array arrives as a float64 ndarray that views the received message.
  const signal = Float64Array.from({ length: 100_000 }, (_, i) => Math.sin(i / 100) + (i % 7) * 0.01);
  show('numpy sees a Float64Array as', await pool.call('numeric', 'inspect', [signal]));

  // numpy computes; the result comes back as a Float64Array.
  const window = 5;
  const smooth = await pool.call('numeric', 'moving_average', [signal, window]);
  const expected = signal.slice(1000, 1000 + window).reduce((a, b) => a + b, 0) / window;
  check('moving average at 1000', Math.abs(smooth[1000]! - expected) < 1e-12);
  show('moving_average(signal, 5)', `${smooth.constructor.name} of ${smooth.length}, [1000] = ${smooth[1000]!.toFixed(6)}`);

  // A 2-d array is an NdArray: data in C order plus a shape.
  const a = new NdArray(new Float64Array([4, 1, 0, 1, 3, 1, 0, 1, 2]), [3, 3]);
  const b = new Float64Array([1, 2, 3]);
  show('numpy sees an NdArray [3, 3] as', await pool.call('numeric', 'inspect', [a]));
  const x = await pool.call('numeric', 'solve', [a, b]);
  const residual = [0, 1, 2].map((r) => [0, 1, 2].reduce((sum, c) => sum + a.data[r * 3 + c]! * x[c]!, 0) - b[r]!);
  check('a @ x == b', residual.every((e) => Math.abs(e) < 1e-12));
  show('solve(a, b)', [...x].map((v) => Number(v.toFixed(6))));

  // n-d results come back as NdArray; numpy scalars as plain numbers.
  const matrix = new NdArray(Float32Array.from({ length: 12 }, (_, i) => i), [4, 3]);
  const { stats, max } = await pool.call('numeric', 'column_stats', [matrix]);
  check('column means', [...stats.data.slice(0, 3)].join() === '4.5,5.5,6.5');
  show('column_stats(float32 [4, 3])', `NdArray ${stats.dtype} [${stats.shape.join(', ')}], means ${[...stats.data.slice(0, 3)]}, max ${max}`);

  // A big array: 64 MiB each way.
  const big = new Float64Array((64 * 1024 * 1024) / 8).fill(1.5);
  const started = performance.now();
  const doubled = await pool.call('numeric', 'scaled', [big, 2]);
  const ms = performance.now() - started;
  check('64 MiB doubled', doubled.length === big.length && doubled[0] === 3 && doubled[doubled.length - 1] === 3);
  show('64 MiB Float64Array × 2, round trip', `${ms.toFixed(0)} ms (${((2 * big.byteLength) / 1e6 / (ms / 1000)).toFixed(0)} MB/s both ways)`);
} finally {
  await pool.stop();
}
show('stopped', 'no interpreter left running');
