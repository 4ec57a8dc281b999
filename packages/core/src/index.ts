export { ActorSystem, type ActorSystemOptions, type TopLevelOptions, type SystemTree, type SystemDown } from './system.js';
export type { Registered } from './registry.js';
export type { TreeNode, ChildInspection, SupervisorFlagsInfo } from './tree.js';
export { IGNORE, isIgnore, type Ignore, type ChildId, type StartedChild, type StartContext, type StartFn } from './child.js';
export { isNormalExit, formatReason, type ExitReason } from './exit-reason.js';
export {
  PitonError,
  NoProcessError,
  CallTimeoutError,
  InvalidSpecError,
  SpecRangeError,
  SupervisorError,
  StartChildError,
  StartTimeoutError,
  StopTimeoutError,
  BadReturnValueError,
  CallingSelfError,
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
  UnexpectedMessageEvent,
  SystemEvents,
  SystemEventMap,
} from './events.js';
export { worker, DEFAULT_CALL_TIMEOUT, type WorkerBehaviour, type WorkerContext } from './worker.js';
export type { ChildRef, CallOptions } from './child-ref.js';
export type { CallResult } from './call-result.js';
export type { From } from './pending-call.js';
export { supervisor, type ChildInfo, type ChildCounts, type ChildStatus } from './supervisor/supervisor.js';
export { SupervisorRef } from './supervisor/supervisor-ref.js';
export {
  FLAG_DEFAULTS,
  type SupervisorFlags,
  type StaticSupervisorFlags,
  type SimpleSupervisorFlags,
  type Strategy,
  type AutoShutdown,
} from './supervisor/flags.js';
export {
  CHILD_DEFAULTS,
  checkChildSpecs,
  type ChildSpec,
  type AnyChildSpec,
  type Restart,
  type Shutdown,
  type ChildType,
  type Backoff,
} from './supervisor/child-spec.js';
export { addRestart, type IntensityResult } from './supervisor/intensity.js';
export { backoffDelay } from './supervisor/backoff.js';
export { stopChild } from './supervisor/shutdown.js';
export { setLongTimeout, MAX_TIMER_DELAY, type LongTimeout, type LongTimeoutOptions } from './long-timeout.js';
export { within, stopLadder, type StopStep } from './within.js';
export { exit, stop } from './process-control.js';
export {
  names,
  rejectUnknownKeys,
  closest,
  editDistance,
  describeValue,
  checkObject,
  checkOptions,
  checkFunction,
  checkBoolean,
  checkNonEmptyString,
  checkOneOf,
  checkNumber,
  checkPositiveInteger,
  checkNonNegativeInteger,
  checkTimeout,
} from './validation.js';
export type { ActorParent } from './nact.js';
