export { PythonPool } from './pool.js';
export { pythonPool, type PoolRef, type PythonModule, type InterpreterStatus } from './supervised.js';
export * from './errors.js';
export * from './ndarray.js';
export type { PoolOptions, CallOptions, StreamOptions, InterpreterOutput, StartMethod } from './options.js';
export { DEFAULT_START_METHOD } from './options.js';
export type { InterpreterExitCause } from './crash-policy.js';
export type {
  InterpreterEvent,
  InterpreterLaunchingEvent,
  InterpreterReadyEvent,
  InterpreterExitedEvent,
} from './interpreter-events.js';
export type { PoolStats } from './stats.js';
export { resolvePython } from './python-executable.js';
