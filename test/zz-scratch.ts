import { PythonPool } from '@piton/python-bridge';
import { fixtures } from './helpers.js';
for (const startMethod of ['forkserver', 'spawn'] as const) {
  const pool = await PythonPool.start({ size: { min: 1, max: 4 }, idleTimeout: 500, path: fixtures, onOutput: false, startMethod });
  pool.system.events.on('interpreter', (e) => { if (e.type !== 'launching') console.log(startMethod, e.type, e.worker, 'cause' in e ? e.cause : ''); });
  console.log(pool.stats().size, pool.stats().limits);
  const t0 = Date.now();
  const r = await Promise.all(Array.from({ length: 20 }, () => pool.call<number>('calls', 'pid_after', [0.1])));
  console.log('pids', new Set(r).size, Date.now() - t0, pool.stats().size, pool.stats().grown);
  await new Promise((res) => setTimeout(res, 1500));
  console.log('after idle', pool.stats().size, pool.stats().shrunk, pool.interpreters().map((i) => i.worker));
  await pool.resize({ min: 3, max: 3 });
  console.log('resized', pool.interpreters().map((i) => i.worker));
  await pool.resize(1);
  console.log('resized 1', pool.interpreters().map((i) => i.worker), pool.stats().stopping);
  await pool.stop();
}
