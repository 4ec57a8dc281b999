export { PythonPool, type StopOptions } from './pool/python-pool.js';
export { pythonPool, type PoolRef, type PythonModule, type InterpreterStatus } from './pool/pool-child.js';
export * from './errors.js';
export * from './wire/ndarray.js';
export type { PoolOptions, CallOptions, StreamOptions, InterpreterOutput, StartMethod, SizeLimits, EnvForSlot, DnsOptions } from './pool/options.js';
export { DEFAULT_START_METHOD } from './pool/options.js';
export type { PoolStats, Percentiles, PoolState, RestartCause, CallOutcome } from './ops/stats.js';
export type { PoolEvent } from './ops/lifecycle.js';
export type { InterpreterExitCause } from './supervision/crash-policy.js';
export type {
  InterpreterEvent,
  InterpreterLaunchingEvent,
  InterpreterReadyEvent,
  InterpreterExitedEvent,
  InterpreterReplacedEvent,
  HostEvent,
  HostStateEvent,
  DnsResolvedEvent,
  HostState,
} from './ops/events.js';
export type { HostStatus } from './remote/host-set.js';
export { CALL_CHANNEL, type CallTraceContext } from './ops/tracing.js';
export type { ExposedFunction } from './interpreter/callbacks.js';
export { resolvePython } from './environment/python-executable.js';
export type { HostOptions, DnsHostsOptions, HostEntry } from './remote/options.js';
export type { CurveKeyPair, Heartbeat } from './remote/agent-link.js';
export { curveKeyPair } from './remote/keys.js';
