import { formatReason, type ExitReason } from './exit-reason.js';
import { describeValue } from './describe-value.js';

/**
 * The errors of @piton/core that extend `TypeError` or `RangeError` (the validation rule) and so
 * cannot extend `PitonError`: `instanceof PitonError` still holds for them.
 */
const otherFamilyMembers = new WeakSet<object>();

/** Base class of every error @piton/core raises, so callers can catch them as one family. */
export class PitonError extends Error {
  override name = 'PitonError';

  /** Ordinary `instanceof`, plus `InvalidSpecError`/`SpecRangeError` for `PitonError` itself. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === PitonError && typeof value === 'object' && value !== null && otherFamilyMembers.has(value);
  }
}

/** A call or message went to a process that is not running (never started, exited, or restarting). */
export class NoProcessError extends PitonError {
  override name = 'NoProcessError';
  /** The exit reason of the process, when it is known. */
  readonly reason: ExitReason | undefined;
  constructor(target: string, reason?: ExitReason) {
    super(
      reason === undefined
        ? `no process: ${target} is not running`
        : `no process: ${target} is not running (exited: ${formatReason(reason)})`,
    );
    this.reason = reason;
  }
}

/** `ref.call()` got no reply within its timeout. The worker keeps running; a late reply is dropped. */
export class CallTimeoutError extends PitonError {
  override name = 'CallTimeoutError';
  readonly timeout: number;
  constructor(target: string, timeout: number) {
    super(`call to ${target} timed out after ${timeout} ms`);
    this.timeout = timeout;
  }
}

/** Errors that are `InvalidSpecError`s without extending it (`SpecRangeError`). */
const invalidSpecs = new WeakSet<object>();

/**
 * Something passed in is wrong: a supervisor flag, a child spec, a behaviour, an option. `field`
 * names the offending key (`children[2].shutdown`), `value` is what was given. It is a `TypeError`
 * (a wrong name or type); a wrong number is its sibling `SpecRangeError`, a `RangeError`, which
 * `instanceof InvalidSpecError` matches too. Both are `PitonError`s. Thrown by the validation kit.
 */
export class InvalidSpecError extends TypeError {
  override name = 'InvalidSpecError';
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, expected: string, options: { readonly message?: string } = {}) {
    super(options.message ?? `${field} must be ${expected}, got ${describeValue(value)}`);
    this.field = field;
    this.value = value;
    otherFamilyMembers.add(this);
  }

  /** Ordinary `instanceof`, plus `SpecRangeError` for `InvalidSpecError` itself. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === InvalidSpecError && typeof value === 'object' && value !== null && invalidSpecs.has(value);
  }
}

/** A number out of its range (`intensity: -1`, `shutdown: 1.5e400`): a `RangeError` that is also an `InvalidSpecError`. */
export class SpecRangeError extends RangeError {
  override name = 'SpecRangeError';
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, expected: string) {
    super(`${field} must be ${expected}, got ${describeValue(value)}`);
    this.field = field;
    this.value = value;
    invalidSpecs.add(this);
    otherFamilyMembers.add(this);
  }
}

/** OTP's error atoms for the dynamic supervisor API, plus the start failure. */
export type SupervisorErrorCode =
  | 'already_present'
  | 'already_started'
  | 'running'
  | 'restarting'
  | 'not_found'
  | 'simple_one_for_one'
  | 'failed_to_start_child'
  | 'shutdown';

/** A supervisor refused a request; `code` is OTP's atom for why. */
export class SupervisorError extends PitonError {
  override name = 'SupervisorError';
  readonly code: SupervisorErrorCode;
  constructor(code: SupervisorErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
  }
}

/**
 * A child could not be started: its start function threw or rejected, or did not finish within
 * the child's `startTimeout`. Raised by `system.start` when a supervisor's initial children fail,
 * and by `startChild`/`restartChild`. `cause` holds the child's own error (a `StartTimeoutError`
 * after a timeout); for nested supervisors it is again a `StartChildError`, one per level.
 * `reason` is OTP's reason: `'timeout'` after a timeout, else the cause.
 */
export class StartChildError extends SupervisorError {
  override name = 'StartChildError';
  readonly childId: string | undefined;
  constructor(supervisor: string, childId: string | undefined, cause: unknown) {
    super(
      'failed_to_start_child',
      `${supervisor} could not start child ${childId === undefined ? '(dynamic)' : JSON.stringify(childId)}: ${formatReason(cause as ExitReason)}`,
      { cause },
    );
    this.childId = childId;
  }

  /** `'timeout'` when the start did not finish within its `startTimeout` (OTP's `{error, timeout}`), else the child's error. */
  get reason(): unknown {
    return this.cause instanceof StartTimeoutError ? 'timeout' : this.cause;
  }
}

/** A start function did not finish within the child's `startTimeout`; the child was killed as it arrived, if it ever did. */
export class StartTimeoutError extends PitonError {
  override name = 'StartTimeoutError';
  /** OTP's reason for it. */
  readonly reason = 'timeout';
  readonly timeout: number;
  constructor(path: string, timeout: number) {
    super(`${path} did not start within ${timeout} ms (its startTimeout)`);
    this.timeout = timeout;
  }
}

/** `stop(ref, reason, timeout)` saw no exit within `timeout` (OTP: `gen_server:stop` exits with `timeout`). The process goes on stopping. */
export class StopTimeoutError extends PitonError {
  override name = 'StopTimeoutError';
  readonly timeout: number;
  constructor(target: string, timeout: number) {
    super(`${target} did not stop within ${timeout} ms`);
    this.timeout = timeout;
  }
}

/**
 * A worker callback returned what it must not (OTP's `bad_return_value`): the worker crashes with
 * this as its reason. `callback` names it; `value` is what it returned.
 */
export class BadReturnValueError extends PitonError {
  override name = 'BadReturnValueError';
  readonly callback: string;
  readonly value: unknown;
  constructor(path: string, callback: string, value: unknown, expected: string) {
    super(`bad_return_value: ${callback} of ${path} returned ${describeValue(value)}; it must return ${expected}`);
    this.callback = callback;
    this.value = value;
  }
}

/**
 * A worker called itself from inside its own callback (OTP exits with `calling_self`): the call
 * could only wait for the handler that makes it, so it fails at once.
 */
export class CallingSelfError extends PitonError {
  override name = 'CallingSelfError';
  /** `what`: a `call` to itself, or a `stop` of itself (which would wait for its own exit). */
  constructor(path: string, what: 'call' | 'stop' = 'call') {
    super(
      what === 'call'
        ? `calling_self: ${path} called itself from one of its own callbacks, which would wait for itself until the timeout`
        : `calling_self: ${path} stopped itself with stop() from one of its own callbacks, which would wait for its own exit (use ctx.exit)`,
    );
  }
}
