/**
 * `@piton/python-bridge`: a supervised pool of Python interpreters. Named exports only, grouped by
 * who needs them; test/exports.test.ts pins the list, so an export is added (or taken away) on
 * purpose. `@piton/python-bridge/metrics` is the Prometheus exporter (metrics.ts).
 */

// ---- The pool: start one, call it, stop it ----------------------------------------------------
export { PythonPool, type StopOptions } from './pool/python-pool.js';
export type { PoolRef, PythonModule, InterpreterStatus } from './pool/pool-handle.js';
// Calls typed by the declarations `npx piton types` writes from the Python's type hints.
export type {
  PythonModules,
  WithKwargs,
  TypedModule,
  TypedModuleName,
  TypedByPythonModules,
  PythonArgs,
  PythonKwargs,
  PythonResult,
  PythonStreamItem,
} from './pool/typed-calls.js';
export type {
  PoolOptions,
  StartMethod,
  RecycleOptions,
  SupervisionOptions,
  AllowOptions,
  CallOptions,
  StreamOptions,
  SizeLimits,
  EnvForSlot,
} from './pool/options.js';
export type { ExposedFunction } from './interpreter/callbacks.js';
export { resolvePython } from './environment/python-executable.js';

// ---- Supervision trees of your own: the pool as a child of any tree (@piton/core) -------------
export { pythonPool } from './pool/pool-child.js';

// ---- Errors: one class per condition, all `instanceof PitonError` -----------------------------
export {
  PitonError,
  PythonError,
  InterpreterExitedError,
  WorkerExitedError,
  CallTimeoutError,
  QueueFullError,
  PoolStoppedError,
  PoolStartError,
  InterpreterStartError,
  HostLostError,
  AgentConnectError,
  EncodeError,
  MessageTooLargeError,
  BatchError,
  MissingDependencyError,
  ProtocolError,
  ReentrantCallError,
  type ErrorOrigin,
  type PythonReport,
  type PythonReportedError,
} from './errors.js';

// ---- What an operator reads: stats, events, output, tracing ----------------------------------
export type { PoolStats, Percentiles, PoolState, RestartCause, CallOutcome } from './ops/stats.js';
export type { PoolEvent } from './ops/lifecycle.js';
export type {
  InterpreterEvent,
  InterpreterExitCause,
  InterpreterLaunchingEvent,
  InterpreterReadyEvent,
  InterpreterExitedEvent,
  InterpreterReplacedEvent,
  HostEvent,
  HostStateEvent,
  DnsResolvedEvent,
  HostState,
  HostStatus,
} from './ops/events.js';
export type { InterpreterOutput } from './ops/output.js';
export { CALL_CHANNEL, STREAM_CHANNEL, type CallTraceContext, type CallTraceEvent, type StreamTraceContext } from './ops/tracing.js';

// ---- Interpreters on other hosts ---------------------------------------------------------------
export type { RemoteOptions, HostOptions, DnsHostsOptions, HostEntry, DnsOptions } from './remote/options.js';
export type { CurveKeyPair, Heartbeat } from './remote/agent-link.js';
export { curveKeyPair } from './remote/keys.js';

// ---- Values that cross the wire: numpy arrays ---------------------------------------------------
export { NdArray, ndarray, type TypedArray, type DType } from './wire/ndarray.js';
