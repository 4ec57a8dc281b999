// What the types of @piton/core accept: test/types.test.ts requires this file to compile cleanly.
import {
  ActorSystem,
  supervisor,
  worker,
  type ChildRef,
  type SupervisorRef,
} from '../../src/index.js';

interface Job {
  readonly id: string;
}

// The arguments of init are inferred, and the worker's own arguments are checked against them.
export const counter = worker(
  {
    init: (_ctx, start: number) => start,
    handleCall: (_msg: 'get', n: number) => ({ reply: n, state: n }),
    handleCast: (by: number, n: number) => n + by,
  },
  0,
);

// Or all type arguments said explicitly: state, call, reply, cast, then init's arguments.
export const explicit = worker<number, 'get', number, number, [start: number]>(
  {
    init: (_ctx, start) => start,
    handleCall: (_msg, n) => ({ reply: n, state: n }),
    handleCast: (by, n) => n + by,
  },
  0,
);

// A worker without arguments.
export const idle = worker({ init: () => 0 });

// A simple_one_for_one template: init's parameters after the worker's own are startChild's extra arguments.
export const job = worker({ init: (_ctx, prefix: string, job: Job) => `${prefix}${job.id}` }, 'job-');

export async function run(): Promise<void> {
  const system = new ActorSystem({ name: 'typed' });
  const root: SupervisorRef = await system.start(
    supervisor({ children: [{ id: 'counter', start: counter, name: 'counter' }, { id: 'idle', start: idle }] }),
  );
  const jobs = await system.start(supervisor({ strategy: 'simple_one_for_one', children: [{ id: 'job', start: job }] }));
  await jobs.startChild([{ id: 'a' }]);
  await root.startChild({ id: 'explicit', start: explicit });

  // whereis: a handle that answers alive, id and path truthfully, typed so.
  const c = system.whereis<ChildRef<'get', number, number>>('counter');
  const alive: boolean = c.alive;
  const path: string | undefined = c.path;
  c.cast(2);
  const n: number = await c.call('get');
  void [alive, path, n];
  await system.stop();
}
