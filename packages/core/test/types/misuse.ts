// What the types of @piton/core refuse: test/types.test.ts requires tsc to fail on each line marked
// `// error TSxxxx` with that code, and on no other line.
import { ActorSystem, exit, stop, supervisor, worker } from '../../src/index.js';

interface Job {
  readonly id: string;
}

const needsStart = { init: (_ctx: unknown, start: number) => start };

// A wrong argument.
export const wrong = worker(needsStart, 'zero'); // error TS2345
// One argument too many.
export const extra = worker(needsStart, 0, 1); // error TS2554
// Type arguments said without init's arguments: the worker takes none, so 0 is one too many.
export const unsaid = worker<number, 'get', number, number>({ init: () => 0 }, 0); // error TS2554
// A forgotten argument makes a simple_one_for_one template; used anywhere else, it does not compile.
export const forgotten = worker(needsStart);
export const template = worker({ init: (_ctx, prefix: string, job: Job) => `${prefix}${job.id}` }, 'job-');

export async function run(): Promise<void> {
  const system = new ActorSystem({ name: 'misuse' });
  await system.start(forgotten); // error TS2769
  await system.start(supervisor({ children: [{ id: 'f', start: forgotten }] })); // error TS2769
  const root = await system.start(supervisor({}));
  // Nor as a child added later: a static supervisor's startChild passes no extra arguments.
  await root.startChild({ id: 'f', start: forgotten }); // error TS2345
  // Process control: a timeout is ms or 'infinity'; exit takes a reason.
  await stop(root, 'normal', 'forever'); // error TS2345
  exit(root); // error TS2554
  const jobs = await system.start(supervisor({ strategy: 'simple_one_for_one', children: [{ id: 'job', start: template }] }));
  await jobs.startChild([{ name: 'a' }]); // error TS2353
  await jobs.startChild([]); // error TS2345
  await jobs.startChild(); // error TS2554
  const handle = system.whereis<{ readonly path: string; ping(): void }>('x');
  const path: string = handle.path; // error TS2322
  void path;
}

// A handleCast that forgets its `return` (bad_return_value at run time) does not compile once the state's type is said.
export const forgetful = worker<number, never, never, 'inc'>({ init: () => 0, handleCast: (_m, n) => { void n; } }); // error TS2322
