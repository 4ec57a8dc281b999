export { PythonPool } from './pool.js';
export { pythonPool, type PoolRef, type PythonModule, type InterpreterStatus } from './supervised.js';
export * from './errors.js';
export * from './ndarray.js';
export type { PoolOptions, CallOptions, StreamOptions, InterpreterOutput } from './options.js';
export type { ExposedFunction } from './callbacks.js';
export type { PoolStats } from './stats.js';
export { resolvePython } from './python-executable.js';
