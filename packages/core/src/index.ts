export { ActorSystem, type ActorSystemOptions, type TopLevelOptions, type SystemTree } from './system.js';
export type { TreeNode, ChildInspection, SupervisorFlagsInfo } from './tree.js';
export { IGNORE, isIgnore, type Ignore, type ChildId, type StartedChild, type StartContext, type StartFn } from './child.js';
export { isNormalExit, formatReason, type ExitReason } from './exit-reason.js';
export {
  PitonError,
  NoProcessError,
  CallTimeoutError,
  InvalidSpecError,
  SupervisorError,
  StartChildError,
  type SupervisorErrorCode,
} from './errors.js';
export type {
  SupervisorEvent,
  StartedEvent,
  IgnoredEvent,
  StartFailedEvent,
  ExitedEvent,
  RestartingEvent,
  GaveUpEvent,
  ShutdownEvent,
  SystemEvents,
  SystemEventMap,
} from './events.js';
export { worker, DEFAULT_CALL_TIMEOUT, type WorkerBehaviour, type WorkerContext } from './worker.js';
export type { ChildRef, CallOptions } from './child-ref.js';
export type { CallResult } from './call-result.js';
export type { From } from './pending-call.js';
export { supervisor, type ChildInfo, type ChildCounts, type ChildStatus } from './supervisor/supervisor.js';
export { SupervisorRef } from './supervisor/supervisor-ref.js';
export { FLAG_DEFAULTS, type SupervisorFlags, type Strategy, type AutoShutdown } from './supervisor/flags.js';
export {
  CHILD_DEFAULTS,
  checkChildSpecs,
  type ChildSpec,
  type Restart,
  type Shutdown,
  type ChildType,
  type Backoff,
} from './supervisor/child-spec.js';
export { addRestart, type IntensityResult } from './supervisor/intensity.js';
export { backoffDelay } from './supervisor/backoff.js';
export { stopChild } from './supervisor/shutdown.js';
export { setLongTimeout, MAX_TIMER_DELAY, type LongTimeout } from './long-timeout.js';
export type { ActorParent } from './nact.js';
