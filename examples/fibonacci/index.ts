// The seed's example, in Node: a supervised pool of two Python interpreters running plain Python.
//
//   npm install && npm run demo
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PythonError, PythonPool, InterpreterExitedError } from '@piton/python-bridge';

const here = dirname(fileURLToPath(import.meta.url));
const fibInput = 25;
const batchSize = 16;

function show(label: string, value: unknown) {
  console.log(`${label.padEnd(44)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
}

const pool = await PythonPool.start({ size: 2, path: here, preload: ['functions'] });
try {
  const { size, ready } = pool.stats();
  show('started a pool of', `${size} interpreters, ${ready} ready`);

  // Piton.Pool.execute(pool, :fib, [20]) → 6765. Typed from functions.py's hints: piton-types.d.ts,
  // written by `npx piton types`, makes this a Promise<number> and checks the argument.
  show("pool.call('functions', 'fib', [20])", await pool.call('functions', 'fib', [20]));

  // The proxy reads like a local module, typed the same way: functions.fib('20') does not compile.
  const functions = pool.module('functions');
  show('functions.fib(30)', await functions.fib(30));

  // Python raises: the call rejects, the interpreter stays.
  try {
    await functions.fib(-1);
  } catch (error) {
    if (!(error instanceof PythonError)) throw error;
    show('functions.fib(-1) raised', `${error.pythonType}: ${error.message}`);
  }
  show('ready interpreters after the exception', pool.stats().ready);

  // An interpreter is killed in the middle of a call: that call rejects, the supervisor
  // starts a replacement, and the pool is back to two ready interpreters.
  const doomed = pool.call('functions', 'fib', [35]).catch((error: unknown) => error);
  const busy = pool.interpreters().find((i) => i.busy)!;
  process.kill(busy.pid, 'SIGKILL');
  const error = await doomed;
  show('a call whose interpreter was SIGKILLed', error instanceof InterpreterExitedError ? `InterpreterExitedError (${error.signal})` : String(error));
  await pool.whenReady();
  show('ready interpreters after the replacement', `${pool.stats().ready} (restarts: ${pool.stats().restarts})`);

  // The GIL keeps one interpreter on one core; two interpreters use two.
  const inputs = Array.from({ length: batchSize }, () => fibInput);
  let started = performance.now();
  for (const n of inputs) await functions.fib(n);
  const sequential = performance.now() - started;
  started = performance.now();
  const results = await Promise.all(inputs.map((n) => functions.fib(n)));
  const parallel = performance.now() - started;
  show(`${batchSize} × fib(${fibInput}), one at a time`, `${sequential.toFixed(0)} ms`);
  show(`${batchSize} × fib(${fibInput}), all at once on the pool`, `${parallel.toFixed(0)} ms (${(sequential / parallel).toFixed(2)}× faster)`);
  show('every result', results.every((r) => r === 75025) ? 'fib(25) = 75025' : 'WRONG');
} finally {
  await pool.stop();
}
show('stopped', 'no interpreter left running');
