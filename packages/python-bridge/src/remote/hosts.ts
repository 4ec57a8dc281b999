/**
 * Interpreters on other hosts, in the pool's supervision tree. Each host is a supervisor of its
 * own, `rest_for_one`, whose first child is the link to the host's agent and the others the
 * interpreters it runs for us:
 *
 *   pool (one_for_one)
 *   ├── python-1 … python-N          local interpreters
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
import { HostLostError } from '../errors.js';
import { Interpreter, type InterpreterOptions } from '../interpreter/interpreter.js';
import { pythonWorker, type WorkerEnvironment } from '../supervision/python-worker.js';
import { AgentLink } from './agent-link.js';
import type { HostOptions, ResolvedRemoteOptions } from './options.js';
import { RemoteLauncher } from './remote-launcher.js';

/** Backoff between attempts to reach a host, and to restart its interpreters. */
export const HOST_RETRY_MIN_MS = 100;
export const HOST_RETRY_MAX_MS = 5_000;

/** The link to one agent as a child: it exits (with `HostLostError`) when the host is lost. */
function agentLinkChild(host: HostOptions, remote: ResolvedRemoteOptions, connectTimeout: number, onLink: (link: AgentLink) => void): StartFn<AgentLink> {
  return async (_ctx: StartContext): Promise<StartedChild<AgentLink>> => {
    const link = await AgentLink.connect({
      agent: host.agent,
      serverKey: host.serverKey,
      keys: remote.keys,
      heartbeat: remote.heartbeat,
      connectTimeout,
    });
    onLink(link);
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
      inspect: () => ({ info: { agent: host.agent, host: link.info.host, pid: link.info.pid } }),
    };
  };
}

/** One supervisor per host, as children of the pool's supervisor. */
export function hostChildren(
  environment: WorkerEnvironment,
  interpreterOptions: (workerId: string) => InterpreterOptions,
  remote: ResolvedRemoteOptions,
  settings: { startTimeout: number; shutdownTimeout: number },
): ChildSpec[] {
  return remote.hosts.map((host, h) => {
    const hostId = `host-${h + 1}`;
    let current: AgentLink | undefined;
    const launcher = new RemoteLauncher(
      () => {
        if (current === undefined || current.closed) throw new HostLostError(host.agent, 'not connected');
        return current;
      },
      remote.keys,
      remote.heartbeat,
    );
    const hostEnvironment: WorkerEnvironment = {
      ...environment,
      start: (workerId) => Interpreter.start({ ...interpreterOptions(`${hostId}/${workerId}`), launcher }),
      // A host's interpreters never wait for the local fork server.
      canLaunch: () => true,
    };
    const backoff = { min: HOST_RETRY_MIN_MS, max: HOST_RETRY_MAX_MS, factor: 2 };
    const children: ChildSpec[] = [
      // Each start is bounded by startTimeout (the connection, the handshake); core's is a backstop.
      { id: 'agent', start: agentLinkChild(host, remote, settings.startTimeout, (link) => (current = link)), shutdown: settings.shutdownTimeout, startTimeout: 2 * settings.startTimeout, backoff },
      ...Array.from({ length: host.size }, (_, i): ChildSpec => ({
        id: `python-${i + 1}`,
        start: pythonWorker(hostEnvironment),
        shutdown: settings.shutdownTimeout,
        startTimeout: 2 * settings.startTimeout,
        backoff,
      })),
    ];
    return {
      id: hostId,
      type: 'supervisor',
      // Retried without limit: see the top of this file. Each attempt waits its backoff.
      start: supervisor({ strategy: 'rest_for_one', intensity: Number.MAX_SAFE_INTEGER, period: 1, children }),
      backoff,
    };
  });
}
