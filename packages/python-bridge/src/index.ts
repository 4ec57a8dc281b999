export { PythonPool, type StopOptions } from './pool.js';
export { pythonPool, type PoolRef, type PythonModule, type InterpreterStatus } from './supervised.js';
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
} from './typed-calls.js';
export * from './errors.js';
export * from './ndarray.js';
export type { PoolOptions, CallOptions, StreamOptions, InterpreterOutput, StartMethod } from './options.js';
export { DEFAULT_START_METHOD } from './options.js';
export type { PoolStats, Percentiles, PoolState, RestartCause, CallOutcome } from './stats.js';
export type { PoolEvent } from './lifecycle.js';
export type { InterpreterExitCause } from './crash-policy.js';
export type {
  InterpreterEvent,
  InterpreterLaunchingEvent,
  InterpreterReadyEvent,
  InterpreterExitedEvent,
  InterpreterReplacedEvent,
} from './interpreter-events.js';
export { CALL_CHANNEL, type CallTraceContext } from './tracing.js';
export type { ExposedFunction } from './callbacks.js';
export { resolvePython } from './python-executable.js';
export type { HostOptions } from './remote/options.js';
export type { CurveKeyPair, Heartbeat } from './remote/agent-link.js';
export { curveKeyPair } from './remote/keys.js';
