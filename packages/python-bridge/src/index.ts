export { PythonPool, type StopOptions } from './pool.js';
export { pythonPool, type PoolRef, type PythonModule, type InterpreterStatus } from './supervised.js';
export * from './errors.js';
export * from './ndarray.js';
export type { PoolOptions, CallOptions, StreamOptions, InterpreterOutput } from './options.js';
export type { PoolStats, Percentiles, PoolState, RestartCause, CallOutcome } from './stats.js';
export type { PoolEvent, InterpreterEvent, InterpreterReplacedEvent } from './lifecycle.js';
export { CALL_CHANNEL, type CallTraceContext } from './tracing.js';
export { resolvePython } from './python-executable.js';
