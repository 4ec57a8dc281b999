/**
 * The control link to one host's agent (`python -m piton.agent`): a ZeroMQ DEALER over tcp with
 * CURVE (the agent's public key pins the server; ours must be on its allow-list), ZMTP heartbeats,
 * and the agent protocol on top.
 *
 * Liveness: we ping every `heartbeat.interval` ms and take the host as lost when nothing has come
 * back for `heartbeat.timeout` ms, or when a pong comes from another agent instance (the agent was
 * restarted: what it ran for us is gone). The agent applies the same timeout to us and kills our
 * interpreters when we fall silent, so that both sides give up on each other within about one
 * timeout of a partition, and no call goes on running where nobody waits for it.
 */
import { Dealer } from 'zeromq';
import { AgentConnectError, HostLostError, InterpreterStartError } from '../errors.js';
import {
  AGENT_PROTOCOL_VERSION,
  encodeAgentMessage,
  parseAgentMessage,
  type AgentMessage,
  type NodeMessage,
  type StartBody,
  type Welcome,
} from './agent-protocol.js';

export interface CurveKeyPair {
  /** Z85, 40 characters. */
  publicKey: string;
  secretKey: string;
}

export interface Heartbeat {
  /** ms between pings (and ZMTP heartbeats). */
  interval: number;
  /** ms of silence after which the peer is taken as lost. */
  timeout: number;
}

export interface AgentLinkOptions {
  /** The agent's control endpoint, `tcp://host:port`. */
  agent: string;
  /** The agent's public key (Z85). */
  serverKey: string;
  keys: CurveKeyPair;
  heartbeat: Heartbeat;
  /** ms to wait for the agent's `welcome`. */
  connectTimeout: number;
}

export interface RemoteStarted {
  ref: number;
  pid: number;
  endpoint: string;
  serverKey: string;
}

interface Watcher {
  onOutput(stream: 'stdout' | 'stderr', line: string): void;
  onExit(code: number | null, signal: NodeJS.Signals | null, stderr: string): void;
}

export class AgentLink {
  readonly agent: string;
  /** The agent's `welcome`. */
  readonly info: Welcome;
  /** Resolves (never rejects) with the error that ended the link: the host is lost or the link closed. */
  readonly lost: Promise<HostLostError>;
  readonly #socket: Dealer;
  readonly #heartbeat: Heartbeat;
  readonly #starts = new Map<number, { resolve: (s: RemoteStarted) => void; reject: (e: Error) => void }>();
  readonly #watchers = new Map<number, Watcher>();
  #nextRef = 1;
  #lastHeard = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #lose!: (error: HostLostError) => void;
  #lostError: HostLostError | undefined;

  private constructor(opts: AgentLinkOptions, socket: Dealer, info: Welcome) {
    this.agent = opts.agent;
    this.info = info;
    this.#socket = socket;
    this.#heartbeat = opts.heartbeat;
    this.lost = new Promise((resolve) => (this.#lose = resolve));
    this.#timer = setInterval(() => this.#tick(), Math.max(1, Math.floor(opts.heartbeat.interval)));
    void this.#receiveLoop();
  }

  /** Connects and says hello; rejects with {@link AgentConnectError} naming the agent and the cause. */
  static async connect(opts: AgentLinkOptions): Promise<AgentLink> {
    const socket = new Dealer({
      linger: 0,
      curveServerKey: opts.serverKey,
      curvePublicKey: opts.keys.publicKey,
      curveSecretKey: opts.keys.secretKey,
      heartbeatInterval: opts.heartbeat.interval,
      heartbeatTimeout: opts.heartbeat.timeout,
      reconnectInterval: 100,
      // A TCP connect whose SYNs go nowhere (a cut link) is abandoned and tried afresh after this,
      // rather than left to the kernel's retransmissions: a host whose link comes back is
      // reached within about one heartbeat timeout.
      connectTimeout: opts.heartbeat.timeout,
    });
    // A refusal is known from the handshake itself: fail at once, naming the key, rather than
    // wait out connectTimeout. The agent's ZAP handler refusing our key is an auth error; an
    // agent that cannot read our handshake (we pinned another key than its own) hangs up in it.
    let refuse: (error: AgentConnectError) => void = () => undefined;
    const refused = new Promise<AgentConnectError>((resolve) => (refuse = resolve));
    socket.events.on('handshake:error:auth', () =>
      refuse(new AgentConnectError(opts.agent, `the agent refused our key: our public key ${opts.keys.publicKey} is not on its allow list (--allow, --allow-file)`, { refused: 'client-key' })),
    );
    const pinMismatch = () =>
      refuse(new AgentConnectError(opts.agent, `the agent ended the CURVE handshake: its key is not the serverKey we pinned (${opts.serverKey}); compare it with the agent's public key`, { refused: 'server-key' }));
    socket.events.on('handshake:error:protocol', pinMismatch);
    socket.events.on('handshake:error:other', pinMismatch);
    socket.connect(opts.agent);
    const fail = (why: string | AgentConnectError): never => {
      socket.close();
      throw typeof why === 'string' ? new AgentConnectError(opts.agent, why) : why;
    };
    await socket.send(encodeAgentMessage(['hello', AGENT_PROTOCOL_VERSION, { pid: process.pid, timeout: opts.heartbeat.timeout }]));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), opts.connectTimeout)));
    let reply: AgentMessage;
    let answer: Buffer[] | 'timeout' | AgentConnectError;
    try {
      answer = await Promise.race([socket.receive(), timedOut, refused]);
    } catch (error) {
      return fail(error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
    }
    if (answer instanceof AgentConnectError) return fail(answer);
    if (answer === 'timeout') return fail(`no answer within ${opts.connectTimeout} ms (is it running and reachable?)`);
    try {
      reply = parseAgentMessage(answer);
    } catch (error) {
      return fail(error instanceof Error ? error.message : String(error));
    }
    if (reply.kind === 'refused') return fail(`it refused: ${reply.message}`);
    if (reply.kind !== 'welcome') return fail(`it answered hello with '${reply.kind}'`);
    if (reply.protocol !== AGENT_PROTOCOL_VERSION) return fail(`it speaks agent protocol ${reply.protocol}, we speak ${AGENT_PROTOCOL_VERSION}`);
    return new AgentLink(opts, socket, reply.info);
  }

  get closed(): boolean {
    return this.#lostError !== undefined;
  }

  /** Asks the agent for an interpreter; `watcher` hears its output and its exit. */
  async start(body: StartBody, watcher: Watcher): Promise<RemoteStarted> {
    if (this.#lostError) throw this.#lostError;
    const ref = this.#nextRef++;
    this.#watchers.set(ref, watcher);
    const started = new Promise<RemoteStarted>((resolve, reject) => this.#starts.set(ref, { resolve, reject }));
    this.#send(['start', ref, body]);
    try {
      return await started;
    } catch (error) {
      this.#watchers.delete(ref);
      throw error;
    }
  }

  /** Sends `signal` to the interpreter `ref`'s process group on its host (if the link still holds). */
  signal(ref: number, signal: 'SIGTERM' | 'SIGKILL'): boolean {
    if (this.#lostError) return false;
    this.#send(['signal', ref, signal]);
    return true;
  }

  /** Says bye (the agent kills what it still runs for us) and closes. Idempotent. */
  close(): void {
    if (this.#lostError) return;
    this.#send(['bye']);
    this.#end(new HostLostError(this.agent, 'the link was closed'));
  }

  #send(message: NodeMessage): void {
    // A DEALER queues while disconnected; with linger 0 nothing blocks a close.
    this.#socket.send(encodeAgentMessage(message)).catch(() => undefined);
  }

  #tick(): void {
    const silent = Date.now() - this.#lastHeard;
    if (silent > this.#heartbeat.timeout) {
      this.#end(new HostLostError(this.agent, `no answer for ${silent} ms (heartbeat timeout ${this.#heartbeat.timeout} ms)`));
      return;
    }
    this.#send(['ping', 0]);
  }

  async #receiveLoop(): Promise<void> {
    while (!this.#lostError) {
      let message: AgentMessage;
      try {
        message = parseAgentMessage(await this.#socket.receive());
      } catch (error) {
        if (!this.#lostError) this.#end(new HostLostError(this.agent, `the link failed: ${error instanceof Error ? error.message : String(error)}`));
        return;
      }
      this.#lastHeard = Date.now();
      this.#dispatch(message);
    }
  }

  #dispatch(message: AgentMessage): void {
    switch (message.kind) {
      case 'pong':
        if (message.instance !== this.info.instance) this.#end(new HostLostError(this.agent, 'the agent was restarted'));
        return;
      case 'started':
        this.#starts.get(message.ref)?.resolve(message);
        this.#starts.delete(message.ref);
        return;
      case 'failed': {
        const tail = message.stderr === '' ? '' : `; stderr:\n${message.stderr}`;
        this.#starts.get(message.ref)?.reject(new InterpreterStartError(`${message.message} (agent ${this.agent})${tail}`, { stderrTail: message.stderr }));
        this.#starts.delete(message.ref);
        return;
      }
      case 'output':
        this.#watchers.get(message.ref)?.onOutput(message.stream, message.line);
        return;
      case 'exited':
        this.#watchers.get(message.ref)?.onExit(message.code, message.signal, message.stderr);
        this.#watchers.delete(message.ref);
        return;
      case 'refused':
        // The agent does not know us (it restarted and we spoke first): what it ran for us is gone.
        this.#end(new HostLostError(this.agent, `the agent refused us: ${message.message}`));
        return;
      case 'welcome':
        return;
    }
  }

  #end(error: HostLostError): void {
    if (this.#lostError) return;
    this.#lostError = error;
    clearInterval(this.#timer);
    for (const { reject } of this.#starts.values()) reject(error);
    this.#starts.clear();
    this.#watchers.clear();
    this.#socket.close();
    this.#lose(error);
  }
}
