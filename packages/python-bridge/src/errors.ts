/**
 * Every error `@piton/python-bridge` raises. Each is a class so callers can branch with
 * `instanceof`, and all extend {@link PitonError} so one check catches them all.
 * Messages name what was wrong (the worker, the field, the value, the limit).
 *
 * One class per condition, whichever side found it: a value that cannot be encoded is an
 * {@link EncodeError}, a message over the limit a {@link MessageTooLargeError}, bytes that break the
 * protocol a {@link ProtocolError}, whether Node found it or the Python worker reported it in an
 * error reply. Those three carry `origin` (`'node'` or `'python'`) and, from Python, the worker's
 * `pythonType` and `pythonTraceback`, named as on {@link PythonError}. {@link PythonError} itself is
 * only what the called Python code raised (and the worker's refusals of the call: no such module
 * or function, a private name, wrong arguments).
 */

import { CallTimeoutError as CoreCallTimeoutError, PitonError } from '@piton/core';

// One family for the whole framework: `instanceof PitonError` catches core's errors and ours.
export { PitonError };

/** The base of this package's errors: a PitonError named after its own class. */
class BridgeError extends PitonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Subclasses get their own name without repeating it in each constructor.
    this.name = new.target.name;
  }
}

/**
 * The Python function raised, or the worker refused the call (no such module or function, a
 * private name, wrong arguments). The interpreter stays usable.
 */
export class PythonError extends BridgeError {
  /** The exception's qualified class name, e.g. `ValueError` or `mymodule.MyError`. */
  readonly pythonType: string;
  /** The formatted Python traceback. */
  readonly pythonTraceback: string;

  /** `message` is the Python exception's `str(exc)`. */
  constructor(pythonType: string, message: string, pythonTraceback: string) {
    super(message);
    this.pythonType = pythonType;
    this.pythonTraceback = pythonTraceback;
  }
}

/** How a process ended, for messages: "exited with code 3", "was killed by SIGKILL". */
export function describeExit(exitCode: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `was killed by ${signal}`;
  if (exitCode !== null) return `exited with code ${exitCode}`;
  return 'exited';
}

/** The interpreter process exited (or was killed) while a request was outstanding. */
export class InterpreterExitedError extends BridgeError {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the interpreter wrote to stderr (may be empty). */
  readonly stderrTail: string;

  /** Without `details.message`, the message says how the process ended. */
  constructor(
    exitCode: number | null,
    signal: NodeJS.Signals | null,
    details: { message?: string; stderrTail?: string } = {},
  ) {
    super(details.message ?? `the Python interpreter ${describeExit(exitCode, signal)}`);
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderrTail = details.stderrTail ?? '';
  }
}

/**
 * The name of {@link InterpreterExitedError} before 0.2: the same class (`instanceof` either
 * matches), kept so that code written for 0.1 goes on working.
 * @deprecated Use `InterpreterExitedError`: the process that exited is the interpreter; the
 * worker is the supervised slot it ran in, which goes on.
 */
export const WorkerExitedError = InterpreterExitedError;
/** @deprecated Use `InterpreterExitedError`. */
export type WorkerExitedError = InterpreterExitedError;

/**
 * A call ran past its timeout; the interpreter running it is killed and replaced. A kind of
 * core's `CallTimeoutError`, so one `instanceof` check covers worker calls and Python calls.
 */
export class CallTimeoutError extends CoreCallTimeoutError {
  constructor(timeout: number, message = `the call did not complete within its timeout of ${timeout} ms`) {
    super('the Python call', timeout);
    this.name = 'CallTimeoutError';
    this.message = message;
  }
}

/**
 * A batched function (`@piton.batched`) returned something other than one output per input: every
 * call of that batch rejects with it. A `PythonError` whose `pythonType` is `BatchError`.
 */
export class BatchError extends PythonError {
  constructor(message: string, pythonTraceback: string) {
    super('BatchError', message, pythonTraceback);
    this.name = 'BatchError';
  }
}

/** The pool's queue already holds `maxQueue` calls. */
export class QueueFullError extends BridgeError {
  readonly maxQueue: number;

  constructor(maxQueue: number, message = `the call queue is full (maxQueue is ${maxQueue})`) {
    super(message);
    this.maxQueue = maxQueue;
  }
}

/** The pool is stopping or stopped and accepts no more calls. */
export class PoolStoppedError extends BridgeError {}

/** The pool could not start its interpreters; the message contains the cause. */
export class PoolStartError extends BridgeError {
  declare readonly cause: unknown;

  /** Without `message`, the message is "the Python pool could not start: " and the cause's message. */
  constructor(cause: unknown, message?: string) {
    super(message ?? `the Python pool could not start: ${cause instanceof Error ? cause.message : String(cause)}`, cause === undefined ? undefined : { cause });
  }
}

/**
 * A remote interpreter was lost without a confirmed exit: its host's agent stopped answering (a
 * partition, a dead host, a restarted agent) or its connection dropped and no exit report followed.
 * The call may have run, or may still be running there until the agent kills it, so it is never
 * retried, whatever `retries` says: a partition must not run a call twice.
 */
export class HostLostError extends InterpreterExitedError {
  /** The agent's endpoint, `tcp://host:port`. */
  readonly agent: string;

  constructor(agent: string, reason: string, details: { stderrTail?: string } = {}) {
    super(null, null, { message: `the host of agent ${agent} was lost: ${reason}`, stderrTail: details.stderrTail ?? '' });
    this.agent = agent;
  }
}

/**
 * Which key a CURVE handshake with an agent failed on: `'client-key'`, our public key is not on
 * the agent's allow-list (its ZAP handler said so); `'server-key'`, the agent's key is not the
 * `serverKey` we pinned (it could not read our handshake and hung up).
 */
export type KeyRefusal = 'client-key' | 'server-key';

/** The agent of a remote host could not be reached, or refused this Node (key, protocol), when its link was made. */
export class AgentConnectError extends BridgeError {
  /** The agent's endpoint, `tcp://host:port`. */
  readonly agent: string;
  /** Set when the handshake failed on a key: which one. Known at once, without waiting for a timeout. */
  readonly refused: KeyRefusal | undefined;

  constructor(agent: string, reason: string, details: { refused?: KeyRefusal } = {}) {
    super(`cannot reach the piton agent at ${agent}: ${reason}`);
    this.agent = agent;
    this.refused = details.refused;
  }
}

/** One interpreter failed to start: it exited, did not report ready in time, or could not be spawned. */
export class InterpreterStartError extends BridgeError {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the interpreter wrote to stderr (a traceback, "No module named zmq", …). */
  readonly stderrTail: string;

  constructor(
    message: string,
    details: { exitCode?: number | null; signal?: NodeJS.Signals | null; stderrTail?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.exitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
    this.stderrTail = details.stderrTail ?? '';
  }
}

/** Which side found the condition: this Node process, or the Python worker (in an error reply). */
export type ErrorOrigin = 'node' | 'python';

/** What an error reply of the worker carries besides its message. */
export interface PythonReport {
  /** The worker's type name of the condition: `EncodeError`, `MessageTooLarge`, `ProtocolError`. */
  type: string;
  /** The formatted Python traceback. */
  traceback: string;
}

/** The base of the conditions either side can find: who found it, and Python's own account if it did. */
abstract class FoundByEitherSide extends BridgeError {
  readonly origin: ErrorOrigin;
  /** The worker's type name when Python found it (`origin: 'python'`); else undefined. */
  readonly pythonType: string | undefined;
  /** The Python traceback when Python found it; else undefined. */
  readonly pythonTraceback: string | undefined;

  constructor(message: string, python: PythonReport | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.origin = python === undefined ? 'node' : 'python';
    this.pythonType = python?.type;
    this.pythonTraceback = python?.traceback;
  }
}

/**
 * A value cannot be sent: an argument (found by Node; nothing was sent) or a result (found by
 * Python; the interpreter stays). From Node, `path` locates it, e.g. `args[1].user.callback`; from
 * Python, `path` is empty and the message names the Python type (`cannot encode object of type 'set'`).
 */
export class EncodeError extends FoundByEitherSide {
  readonly path: string;

  constructor(message: string, path: string, python?: PythonReport) {
    super(message, python);
    this.path = path;
  }
}

/**
 * A message exceeds its limit: Node's `maxMessageSize` (an outgoing one was not sent, an incoming
 * one was dropped) or, found by Python, the worker's `--max-message-size` (a request it did not
 * run, or a result it did not send; the interpreter stays).
 */
export class MessageTooLargeError extends FoundByEitherSide {
  /** The message's size in bytes, all frames together. */
  readonly size: number;
  /** The maximum of the side that found it, in bytes. */
  readonly limit: number;

  constructor(
    size: number,
    limit: number,
    message = `message of ${size} bytes exceeds maxMessageSize of ${limit} bytes`,
    python?: PythonReport,
  ) {
    super(message, python);
    this.size = size;
    this.limit = limit;
  }
}

/**
 * Bytes do not follow PROTOCOL.md. Found by Node in a reply (malformed frame, unexpected kind or
 * id): the interpreter is replaced. Found by Python in a request (undecodable, e.g. a `Map` key
 * Python cannot hash; wrong shape; version mismatch): that request fails and the interpreter stays.
 */
export class ProtocolError extends FoundByEitherSide {
  constructor(message: string, options?: { cause?: unknown; python?: PythonReport }) {
    super(message, options?.python, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * A value needs an optional library that one side lacks: an Arrow table arrived and Node cannot
 * load `apache-arrow` (found by Node: that request fails, the interpreter stays), or Python was
 * to send a DataFrame or received a table without `pyarrow` (found by Python: the call fails, the
 * interpreter stays). `command` installs it: `npm install apache-arrow`, `npx piton setup --arrow`.
 */
export class MissingDependencyError extends FoundByEitherSide {
  /** The library: `apache-arrow` (Node) or `pyarrow` (Python). */
  readonly dependency: string;
  /** The command that installs it. */
  readonly command: string;

  constructor(dependency: string, command: string, message: string, python?: PythonReport) {
    super(message, python);
    this.dependency = dependency;
    this.command = command;
  }
}

/** Every error an error reply of the worker can stand for. */
export type PythonReportedError = PythonError | EncodeError | MessageTooLargeError | ProtocolError | MissingDependencyError;

/**
 * A call or stream was made to a pool from inside a function that pool exposes to Python (or from
 * something that function started): it could wait forever for the interpreter that is waiting for
 * the function, so it is refused at once. Nothing was sent.
 */
export class ReentrantCallError extends BridgeError {}
