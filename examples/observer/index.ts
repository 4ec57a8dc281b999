/**
 * The observer on a small live system: open the printed URL and watch the tree, the pool and the
 * events. A worker crashes now and then, Python work keeps the pool busy, and now and then a call
 * segfaults its interpreter, which the pool replaces.
 *
 * Run: npm run example:observer   (Ctrl-C to stop; OBSERVER_PORT picks the port, default 8123)
 */
import { startObserver } from '@piton/observer';
import { startDemo } from './demo.js';

const demo = await startDemo();
const observer = await startObserver(demo.system, { port: Number(process.env.OBSERVER_PORT ?? 8123) });
console.log(`observer: ${observer.url}`);

let stopping = false;
const timers = [
  // Steady Python work: a few calls a second on each interpreter.
  setInterval(() => {
    for (let i = 0; i < 4; i++) demo.pool.call('demo_jobs', 'work', [50 + Math.random() * 150]).catch(() => undefined);
  }, 500),
  setInterval(() => demo.crashFlaky(), 7_000),
  setInterval(() => demo.pool.call('demo_jobs', 'segfault').catch((e: Error) => console.log(`python: ${e.message}`)), 11_000),
];

async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const t of timers) clearInterval(t);
  await observer.close();
  await demo.stop();
  console.log('stopped');
}

process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
if (process.env.OBSERVER_EXAMPLE_SECONDS !== undefined) {
  // Used by its test: run this long, then stop as Ctrl-C would.
  setTimeout(() => void shutdown(), Number(process.env.OBSERVER_EXAMPLE_SECONDS) * 1000);
}
