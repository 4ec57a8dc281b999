/**
 * The remote launcher: interpreters started by a host's agent (`python -m piton.agent`) through an
 * {@link AgentLink}, and reached over tcp with CURVE. To the interpreter, the channel and the
 * dispatcher they are like any other: a pid, an exit, output lines, a way to signal them.
 *
 * A remote interpreter has exited when the agent reports it (with its code or signal) or when
 * what carries it is gone, whichever comes first: its socket disconnects (the agent's report is
 * awaited for {@link REPORT_GRACE_MS}, capped by the heartbeat timeout, so that the exit keeps its
 * code or signal), or the link to its host is lost (then the exit has no code, and its requests
 * fail with `HostLostError`). The grace is a trade: a SIGKILLed interpreter disconnects at once and
 * its agent reports within a millisecond when idle but tens of milliseconds on a loaded host (too
 * short a grace calls that kill a lost host, and its calls are then not retried); meanwhile the
 * interpreter still looks alive, and a call given to it in that window fails with its exit.
 */
import { HostLostError } from '../errors.js';
import type { ConnectTarget, LaunchedProcess, Launcher, LaunchSpec } from '../launch/launcher.js';
import { NOTHING_MORE } from '../launch/command-line.js';
import { guardedOutputHook, Tail, type OutputStream, type ProcessExit } from '../launch/child-process.js';
import type { AgentLink, CurveKeyPair, Heartbeat } from './agent-link.js';

/** After a disconnect, how long the agent's exit report (code or signal) is awaited at most. */
export const REPORT_GRACE_MS = 250;

export class RemoteLauncher implements Launcher {
  readonly kind = 'remote';
  readonly #link: () => AgentLink;
  readonly #keys: CurveKeyPair;
  readonly #heartbeat: Heartbeat;

  /** `link` returns the host's current link (it is replaced when the host's supervisor restarts it). */
  constructor(link: () => AgentLink, keys: CurveKeyPair, heartbeat: Heartbeat) {
    this.#link = link;
    this.#keys = keys;
    this.#heartbeat = heartbeat;
  }

  async launch(spec: LaunchSpec): Promise<LaunchedProcess> {
    const link = this.#link();
    const process = new RemoteProcess(link, spec, Math.min(REPORT_GRACE_MS, this.#heartbeat.timeout));
    const allow = spec.allow ?? NOTHING_MORE;
    const started = await link.start(
      {
        id: spec.id,
        path: [...spec.path],
        preload: [...(spec.preload ?? [])],
        maxMessageSize: spec.maxMessageSize,
        allowModules: [...allow.modules],
        allowPrivate: allow.private,
        allowReexports: [...allow.reexports],
        env: Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, v ?? null])),
        cwd: spec.cwd ?? null,
      },
      process,
    );
    process.started(started.ref, started.pid, {
      endpoint: started.endpoint,
      socketOptions: {
        curveServerKey: started.serverKey,
        curvePublicKey: this.#keys.publicKey,
        curveSecretKey: this.#keys.secretKey,
        heartbeatInterval: this.#heartbeat.interval,
        heartbeatTimeout: this.#heartbeat.timeout,
      },
    });
    return process;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

class RemoteProcess implements LaunchedProcess {
  readonly exit: Promise<ProcessExit>;
  readonly drained: Promise<void>;
  connect: ConnectTarget | undefined;
  #pid: number | undefined;
  #ref: number | undefined;
  #exit: ProcessExit | undefined;
  #resolve!: (exit: ProcessExit) => void;
  #graceTimer: NodeJS.Timeout | undefined;
  readonly #tail = new Tail();
  readonly #link: AgentLink;
  readonly #spec: LaunchSpec;
  readonly #deliver: (line: string, stream: OutputStream) => void;
  /** After a disconnect, how long the agent's exit report is awaited. */
  readonly #reportGraceMs: number;

  constructor(link: AgentLink, spec: LaunchSpec, reportGraceMs: number) {
    this.#link = link;
    this.#spec = spec;
    this.#reportGraceMs = reportGraceMs;
    this.#deliver = guardedOutputHook(spec.onOutput);
    this.exit = new Promise((resolve) => (this.#resolve = resolve));
    this.drained = this.exit.then(() => undefined);
    void link.lost.then((error) => this.#settle({ code: null, signal: null, lost: error }));
  }

  started(ref: number, pid: number, connect: ConnectTarget): void {
    this.#ref = ref;
    this.#pid = pid;
    this.connect = connect;
  }

  get pid(): number | undefined {
    return this.#pid;
  }

  get running(): boolean {
    return this.#exit === undefined && this.#pid !== undefined;
  }

  stderrTail(): string {
    return this.#tail.toString();
  }

  signal(sig: NodeJS.Signals): boolean {
    if (!this.running || this.#ref === undefined) return false;
    // The agent signals the interpreter's process group; a lost link sends nothing (the agent
    // kills our interpreters by itself once we fall silent).
    return sig === 'SIGTERM' || sig === 'SIGKILL' ? this.#link.signal(this.#ref, sig) : false;
  }

  lose(reason: string): void {
    if (this.#exit !== undefined || this.#graceTimer !== undefined) return;
    if (this.#ref !== undefined) this.#link.signal(this.#ref, 'SIGKILL');
    this.#graceTimer = setTimeout(
      () => this.#settle({ code: null, signal: null, lost: new HostLostError(this.#link.agent, `interpreter ${this.#spec.id}: ${reason}`, { stderrTail: this.stderrTail() }) }),
      this.#reportGraceMs,
    );
  }

  // ---- what the agent reports (the link calls these) -------------------------------------------

  onOutput(stream: 'stdout' | 'stderr', line: string): void {
    if (stream === 'stderr') this.#tail.add(line);
    this.#deliver(line, stream); // a throwing hook must not break the link
  }

  onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.#settle({ code, signal });
  }

  #settle(exit: ProcessExit): void {
    if (this.#exit !== undefined) return;
    clearTimeout(this.#graceTimer);
    this.#exit = exit;
    this.#resolve(exit);
  }
}
