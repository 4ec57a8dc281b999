/**
 * `pythonPool(options)`: a pool as a child of any supervision tree. It wires the parts together
 * and owns nothing itself: the dispatcher that queues calls, the supervision tree of interpreter
 * workers (tree.ts; hosts.ts for other hosts), the lifecycle and events the operator reads, and
 * the {@link PoolHandle} users call through (pool-handle.ts).
 */
import {
  formatReason,
  isNormalExit,
  type ChildSpec,
  type ExitReason,
  type StartContext,
  type StartFn,
  type StartedChild,
  type SupervisorEvent,
  type SupervisorRef,
} from '@piton/core';
import { ExposedFunctions } from '../interpreter/callbacks.js';
import { Dispatcher } from '../dispatch/dispatcher.js';
import { CallTimeoutError, describeExit, PoolStoppedError } from '../errors.js';
import type { HostEvent, InterpreterEvent } from '../ops/events.js';
import { InterpreterStarts } from '../supervision/interpreter-starts.js';
import { followPoolEvents, inPool, PoolLifecycle } from '../ops/lifecycle.js';
import { PoolLaunchers } from '../supervision/tree.js';
import type { Interpreter, InterpreterOptions } from '../interpreter/interpreter.js';
import type { ServeSpec } from '../launch/command-line.js';
import type { PoolOptions, ResolvedPoolOptions } from './options.js';
import { resolvePoolOptions } from './validate.js';
import { outputSink } from '../ops/output.js';
import { residentBytes } from '../launch/proc.js';
import { resolvePython } from '../environment/python-executable.js';
import { checkPathEntries, poolStartError } from '../environment/start-checks.js';
import { sweepStaleSocketDirs } from '../interpreter/socket-dir.js';
import type { PoolStats } from '../ops/stats.js';
import { HostSet } from '../remote/host-set.js';
import { DnsHosts, hostResolver } from '../remote/dns-hosts.js';
import { pythonWorker, type WorkerEnvironment } from '../supervision/python-worker.js';
import { PoolHandle, type PoolRef } from './pool-handle.js';
import { BatchPolicies } from '../dispatch/batcher.js';
import { attributedOutput } from '../ops/output-attribution.js';
import { ElasticSize } from './elastic-size.js';

/**
 * A pool as a child of any supervision tree: a `one_for_one` supervisor of `size` Python workers
 * (under a `rest_for_one` supervisor whose first child is the fork server, with `startMethod:
 * 'forkserver'`: pool-launchers.ts), plus the dispatcher that queues calls for them. The workers
 * apply the crash policy (crash-policy.ts). Give the child spec a `name` to reach the pool with
 * `system.whereis(name)` across its restarts.
 */
export function pythonPool(options: PoolOptions = {}): StartFn<PoolRef> {
  const resolved = resolvePoolOptions(options);
  return (ctx) => startPool(ctx, resolved);
}

async function startPool(ctx: StartContext, options: ResolvedPoolOptions): Promise<StartedChild<PoolRef>> {
  const unfollow = options.events && followPoolEvents(ctx.system, ctx.path, options.events);
  let python: string;
  try {
    await checkPathEntries(options.path, options.cwd);
    python = await resolvePython(options.python, options.cwd, options.startTimeout);
  } catch (error) {
    unfollow?.();
    throw error;
  }
  const lifecycle = new PoolLifecycle(ctx.system, ctx.path);
  // One identity per pool incarnation: the reentrancy rule refuses calls to it from its own callbacks.
  const callbacks = options.expose && new ExposedFunctions(options.expose, {}, `the pool ${String(ctx.path)}`);
  // Socket directories of Node processes that were SIGKILLed (nothing else leaves them behind).
  await sweepStaleSocketDirs();
  const recyclers = new WeakMap<Interpreter, () => void>();
  const overMemory = new WeakSet<Interpreter>();
  const memoryLimit = memoryPolicy(options.recycle.aboveMemory);
  // Learned from replies (`@piton.batched`); the pool's handle merges calls to those functions.
  const batchPolicies = new BatchPolicies();
  // Set below, once the dispatcher it reads exists: the dispatcher asks it after each run.
  let elastic!: ElasticSize;
  const dispatcher = new Dispatcher<Interpreter>({
    maxQueue: options.maxQueue,
    maxMessageSize: options.maxMessageSize,
    batchCallsUnderMs: options.batchCallsUnderMs,
    maxTasksPerExecutor: options.recycle.afterCalls,
    shouldRetire: (interpreter) =>
      elastic.isSurplus(interpreter) || (memoryLimit !== undefined && memoryLimit(interpreter) && (overMemory.add(interpreter), true)),
    onRetire: (interpreter) => {
      // Above the pool's max after a resize: its slot stops, now that its work is done.
      if (elastic.retired(interpreter)) return;
      lifecycle.note(interpreter.id, 'recycle', overMemory.has(interpreter) ? 'recycle.aboveMemory' : 'recycle.afterCalls');
      recyclers.get(interpreter)?.();
    },
    onCancel: (interpreter, error) =>
      lifecycle.note(interpreter.id, error instanceof CallTimeoutError ? 'timeout' : 'abort', error instanceof Error ? error.message : String(error)),
    onQueued: () => elastic.queued(),
  });
  const counts = { crashes: 0, startFailures: 0 };
  const emitOutput = outputSink(options.onOutput, ctx.system.events);
  const emit = (event: InterpreterEvent) => ctx.system.events.emit('interpreter', event);
  const emitHost = (event: HostEvent) => ctx.system.events.emit('host', event);
  // What every interpreter of this pool, and its fork server, is started with (command-line.ts).
  const serve: ServeSpec = {
    python,
    path: options.path,
    // Interpreters with lanes run their calls on asyncio from the start: imported once, here
    // (before a fork server forks; no event loop exists until an interpreter needs one).
    preload: options.concurrency > 1 ? ['asyncio', ...options.preload] : options.preload,
    env: options.env,
    cwd: options.cwd,
    maxMessageSize: options.maxMessageSize,
    allow: options.allow,
  };
  const { intensity, period } = options.supervision;
  const launchers = new PoolLaunchers(ctx, { startMethod: options.startMethod, startTimeout: options.startTimeout, intensity, period }, serve, emitOutput);

  const interpreterOptions = (workerId: string): InterpreterOptions => ({
    ...serve,
    env: slotEnvironment(options, workerId),
    id: workerId,
    startTimeout: options.startTimeout,
    launcher: launchers.current,
    onOutput: attributedOutput(workerId, emitOutput),
    callbacks,
    onBatched: batchPolicies.learn,
    concurrency: options.concurrency,
    cancelGrace: options.cancelGrace,
  });
  const starts = new InterpreterStarts({
    pool: ctx.path,
    startMethod: () => launchers.current.kind,
    emit,
    onStartFailure: () => counts.startFailures++,
    options: interpreterOptions,
  });
  const environment: WorkerEnvironment = {
    start: (workerId) => starts.start(workerId),
    onReady: (interpreter, recycle) => {
      lifecycle.ready(interpreter.id, interpreter.pid);
      recyclers.set(interpreter, recycle);
      dispatcher.attach(interpreter);
    },
    onLeave: (interpreter) => dispatcher.detach(interpreter),
    canLaunch: () => launchers.canLaunch,
    onExit: (workerId, interpreter, info, cause) => {
      if (cause === 'crash') {
        counts.crashes++;
        lifecycle.crashed(workerId, describeExit(info.code, info.signal));
      }
      else if (cause === 'start_failure') counts.startFailures++;
      else if (cause === 'shrink') lifecycle.forget(interpreter.id);
      emit({ type: 'exited', pool: ctx.path, worker: workerId, at: Date.now(), cause, pid: interpreter.pid, code: info.code, signal: info.signal });
    },
  };

  // The local workers: the elastic size keeps count of those serving, and names a stopped slot's exit.
  const localEnvironment: WorkerEnvironment = {
    ...environment,
    onReady: (interpreter, recycle) => {
      environment.onReady(interpreter, recycle);
      elastic.ready(interpreter);
    },
    onLeave: (interpreter) => {
      elastic.left(interpreter);
      return environment.onLeave(interpreter);
    },
    onExit: (workerId, interpreter, info, cause) =>
      environment.onExit(workerId, interpreter, info, cause === 'stop' && elastic.isStopping(workerId) ? 'shrink' : cause),
  };
  const slotSpec = (id: string, background: boolean): ChildSpec => ({
    id,
    start: pythonWorker(localEnvironment, { background }),
    restart: 'permanent',
    shutdown: options.shutdownTimeout,
    // Only failed starts reach the supervisor (crashes are replaced in place), so its backoff
    // grows only while starts keep failing.
    ...(options.supervision.backoff && { backoff: { ...options.supervision.backoff, factor: 2 } }),
  });
  let localSupervisor: SupervisorRef | undefined;
  elastic = new ElasticSize({
    limits: options.size,
    idleTimeout: options.idleTimeout,
    queued: () => dispatcher.counts.queued,
    idleFor: (interpreter, now) => dispatcher.idleFor(interpreter, now),
    retireIfIdle: (interpreter) => dispatcher.retireIfIdle(interpreter),
    supervisor: () => localSupervisor,
    slotSpec,
  });
  const hosts = options.remote && new HostSet({
    pool: ctx.path,
    remote: options.remote,
    startTimeout: options.startTimeout,
    shutdownTimeout: options.shutdownTimeout,
    environment,
    interpreterOptions,
    emit: emitHost,
    emitInterpreter: emit,
    detach: (interpreter) => dispatcher.detach(interpreter),
  });

  let tree: StartedChild<unknown>;
  try {
    tree = await launchers.startTree(
      {
        // Each start of the local workers' supervisor (a fork server's death restarts it) has the slots kept now.
        interpreters: () => elastic.slotIds().map((id) => slotSpec(id, false)),
        ...(hosts && { hosts: hosts.childSpec() }),
        onInterpreters: (ref) => (localSupervisor = ref),
      },
      () => starts.launchAhead(elastic.slotIds()),
    );
  } catch (error) {
    lifecycle.state = 'failed';
    lifecycle.dispose();
    elastic.close();
    hosts?.close();
    await starts.discard();
    dispatcher.close(new PoolStoppedError('the pool failed to start'));
    throw poolStartError(error, python);
  }
  lifecycle.state = 'running';
  const remote = options.remote;
  const resolver = hosts && remote && remote.discover.length > 0 ? hostResolver(remote.dns.servers) : undefined;
  const discovery = hosts && remote && resolver ? remote.discover.map((entry) => new DnsHosts(entry, resolver, hosts, emitHost, ctx.path)) : [];
  for (const names of discovery) names.start();

  const stop = (why: string) => {
    const error = new PoolStoppedError(why);
    for (const names of discovery) names.stop();
    resolver?.cancel();
    elastic.close(error);
    hosts?.close(error);
    ref.closeBatches(error);
    dispatcher.close(error);
  };
  const failures = watchFailures(ctx);
  void tree.exited.then((reason) => {
    failures.dispose();
    lifecycle.dispose();
    lifecycle.state = failures.gaveUp ? 'failed' : 'stopped';
    // After a give-up, say why the interpreters kept failing: that is what the caller must fix.
    stop(
      failures.gaveUp
        ? `the pool stopped: more than ${options.supervision.intensity} failed interpreter starts within ${options.supervision.period} ms ` +
            `(supervision.intensity); ` +
            `the last failure: ${failures.last ?? 'unknown'}`
        : `the pool stopped (${formatReason(reason)})`,
    );
  });

  const ref = new PoolHandle(dispatcher, options, lifecycle, ctx.path, tree.ref as SupervisorRef, callbacks, batchPolicies, elastic, hosts, () => ({
    crashes: counts.crashes,
    startFailures: counts.startFailures,
    startMethod: launchers.current.kind as PoolStats['startMethod'],
  }));
  return {
    ref,
    // Not exited while an interpreter launched ahead (and never taken) may still run.
    exited: tree.exited.then(async (reason) => {
      await starts.discard();
      return reason;
    }),
    shutdown: (reason) => {
      lifecycle.state = 'stopping';
      stop('the pool is stopping');
      tree.shutdown(reason);
    },
    kill: () => {
      lifecycle.state = 'stopping';
      stop('the pool was killed');
      tree.kill();
    },
    // The pool's node in system.tree() is its supervisor's, plus what its stats() say at that
    // moment, marked as a pool's so that tools (the observer) can tell it from other supervisors.
    inspect: async () => ({ ...(await tree.inspect?.()), info: { kind: 'python-pool', ...ref.stats() } }),
  };
}

/**
 * The environment of one interpreter: the pool's `env`, or what its function gives for the
 * interpreter's slot (`python-3` → index 2; on a host, `host-1/python-2` → 1), asked anew at each start.
 */
function slotEnvironment(options: ResolvedPoolOptions, workerId: string): Record<string, string | undefined> {
  if (options.envForSlot === undefined) return options.env;
  const match = /python-(\d+)$/.exec(workerId);
  const index = match ? Number(match[1]) - 1 : 0;
  const env = options.envForSlot(index);
  if (typeof env !== 'object' || env === null) throw new TypeError(`options.env(${index}) must return an object of strings, got ${String(env)}`);
  return { ...options.env, ...env };
}

/** With a memory limit: replace an interpreter whose RSS exceeds it after a call. */
function memoryPolicy(maxMemory: number | undefined): ((interpreter: Interpreter) => boolean) | undefined {
  if (maxMemory === undefined) return undefined;
  return (interpreter) => (residentBytes(interpreter.pid) ?? 0) > maxMemory;
}

/** Follows the pool supervisor's events: whether it gave up, and its children's last failure. */
function watchFailures(ctx: StartContext): { gaveUp: boolean; last: string | undefined; dispose(): void } {
  const state = { gaveUp: false, last: undefined as string | undefined, dispose: () => {} };
  const listener = (event: SupervisorEvent) => {
    // The pool's own supervisor, and with a fork server the interpreters' supervisor under it.
    if (!inPool(event.supervisor, ctx.path)) return;
    if (event.type === 'gave_up') state.gaveUp = true;
    else if (event.type === 'start_failed') state.last = formatReason(event.reason as ExitReason);
    else if (event.type === 'exited' && !isNormalExit(event.reason)) state.last = formatReason(event.reason);
  };
  ctx.system.events.on('event', listener);
  state.dispose = () => ctx.system.events.off('event', listener);
  return state;
}
