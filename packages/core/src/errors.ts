import { formatReason, type ExitReason } from './exit-reason.js';

/** Base class of every error @piton/core raises, so callers can catch them as one family. */
export class PitonError extends Error {
  override name = 'PitonError';
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

/** A supervisor flag or child spec is invalid. `field` names the offending key, `value` what was given. */
export class InvalidSpecError extends PitonError {
  override name = 'InvalidSpecError';
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, expected: string) {
    super(`invalid ${field}: expected ${expected}, got ${describeValue(value)}`);
    this.field = field;
    this.value = value;
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
 * A child could not be started (its start function threw or rejected). Raised by `system.start`
 * when a supervisor's initial children fail, and by `startChild`/`restartChild`. `cause` holds the
 * child's own error; for nested supervisors it is again a `StartChildError`, one per level.
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
}

function describeValue(value: unknown): string {
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') {
    try {
      return `${JSON.stringify(value)} (${Array.isArray(value) ? 'array' : 'object'})`;
    } catch {
      return 'an object';
    }
  }
  return `${String(value)} (${typeof value})`;
}
