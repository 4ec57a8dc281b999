/**
 * One remote host in the pool's supervision tree: a supervisor of its own, `rest_for_one`, whose
 * first child is the link to the host's agent and the others the interpreters it runs for us.
 * Every host is a child of the pool's `hosts` supervisor (host-set.ts keeps the set):
 *
 *   hosts (one_for_one)
 *   └── host-1 (rest_for_one)        tcp://gpu-1:7100
 *       ├── agent                    the control link (AgentLink)
 *       └── python-1 … python-M      interpreters started by that agent
 *
 * An interpreter that dies is replaced alone; a link that is lost takes the host's interpreters
 * with it (they were killed by the agent, or are unreachable) and the host comes back whole.
 * A host that cannot be reached is retried forever with backoff (up to HOST_RETRY_MAX_MS between
 * attempts): a host going away must never stop the pool, whose other interpreters go on serving.
 */
import { supervisor, type ChildSpec, type StartContext, type StartedChild, type StartFn } from '@piton/core';
import { HostLostError, InterpreterStartError } from '../errors.js';
import { Interpreter, type InterpreterOptions } from '../interpreter/interpreter.js';
import { pythonWorker, type WorkerEnvironment } from '../supervision/python-worker.js';
import type { InterpreterEvent } from '../ops/events.js';
import type { AgentLink } from './agent-link.js';
import type { HostOptions, ResolvedRemoteOptions } from './options.js';
import { RemoteLauncher } from './remote-launcher.js';

/** Backoff between attempts to reach a host, and to restart its interpreters. */
export const HOST_RETRY_MIN_MS = 100;
export const HOST_RETRY_MAX_MS = 5_000;
export const HOST_BACKOFF = { min: HOST_RETRY_MIN_MS, max: HOST_RETRY_MAX_MS, factor: 2 } as const;

/** What one host's subtree needs from the host set. */
export interface HostWiring {
  /** The supervisor id, `host-N`. */
  id: string;
  host: HostOptions;
  /** The workers' environment for this host (its readiness and exits go through the host set). */
  environment: WorkerEnvironment;
  /**
   * Makes the link (reporting how it went); the first start may adopt a link made beforehand,
   * so that an added host is connected outside any supervisor's mailbox.
   */
  connect(): Promise<AgentLink>;
  /** The host's current link. */
  link(): AgentLink | undefined;
}

/** The link to one agent as a child: it exits (with `HostLostError`) when the host is lost. */
function agentLinkChild(wiring: HostWiring, adopt: AgentLink | undefined): StartFn<AgentLink> {
  let adopted = adopt;
  return async (_ctx: StartContext): Promise<StartedChild<AgentLink>> => {
    const link = adopted ?? (await wiring.connect());
    adopted = undefined;
    let stopping = false;
    const stop = () => {
      stopping = true;
      link.close();
    };
    return {
      ref: link,
      exited: link.lost.then((error) => (stopping ? 'shutdown' : error)),
      shutdown: stop,
      kill: stop,
      inspect: () => ({ info: { agent: wiring.host.agent, host: link.info.host, pid: link.info.pid } }),
    };
  };
}

/** What a host's subtree reports its interpreters' starts to, as a local pool's do. */
export interface HostSettings {
  pool: string;
  startTimeout: number;
  shutdownTimeout: number;
  emitInterpreter(event: InterpreterEvent): void;
}

/** The child spec of one host's supervisor, `adopt`: a link already made for its first start. */
export function hostChild(
  wiring: HostWiring,
  interpreterOptions: (workerId: string) => InterpreterOptions,
  remote: ResolvedRemoteOptions,
  settings: HostSettings,
  adopt?: AgentLink,
): ChildSpec {
  const { host, id } = wiring;
  const launcher = new RemoteLauncher(
    () => {
      const current = wiring.link();
      if (current === undefined || current.closed) throw new HostLostError(host.agent, 'not connected');
      return current;
    },
    remote.keys,
    remote.heartbeat,
  );
  const hostEnvironment: WorkerEnvironment = {
    ...wiring.environment,
    start: (workerId) => startRemote(`${id}/${workerId}`, interpreterOptions, launcher, settings),
    // A host's interpreters never wait for the local fork server.
    canLaunch: () => true,
  };
  const children: ChildSpec[] = [
    // Each start is bounded by startTimeout (the connection, the handshake); core's is a backstop.
    { id: 'agent', start: agentLinkChild(wiring, adopt), shutdown: settings.shutdownTimeout, startTimeout: 2 * settings.startTimeout, backoff: HOST_BACKOFF },
    ...Array.from({ length: host.size }, (_, i): ChildSpec => ({
      id: `python-${i + 1}`,
      start: pythonWorker(hostEnvironment),
      shutdown: settings.shutdownTimeout,
      startTimeout: 2 * settings.startTimeout,
      backoff: HOST_BACKOFF,
    })),
  ];
  return {
    id,
    type: 'supervisor',
    // Retried without limit: see the top of this file. Each attempt waits its backoff.
    start: supervisor({ strategy: 'rest_for_one', intensity: Number.MAX_SAFE_INTEGER, period: 1, children }),
    backoff: HOST_BACKOFF,
  };
}

/** Starts one interpreter on the host, with the `launching`, `ready` and failed-start events a local start has. */
async function startRemote(
  worker: string,
  interpreterOptions: (workerId: string) => InterpreterOptions,
  launcher: RemoteLauncher,
  { pool, emitInterpreter: emit }: HostSettings,
): Promise<Interpreter> {
  emit({ type: 'launching', pool, worker, at: Date.now(), startMethod: launcher.kind });
  try {
    const interpreter = await Interpreter.start({ ...interpreterOptions(worker), launcher });
    emit({ type: 'ready', pool, worker, at: Date.now(), pid: interpreter.pid });
    return interpreter;
  } catch (error) {
    const failed = error instanceof InterpreterStartError ? error : undefined;
    emit({
      type: 'exited', pool, worker, at: Date.now(), cause: 'start_failure', pid: undefined,
      code: failed?.exitCode ?? null, signal: failed?.signal ?? null, error: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }
}
