/**
 * The `context` call option: application values that travel with a call to its Python
 * (`piton.context().values`). They are checked at `call()` so that what Python reads is what
 * JSON could say, and kept small: they ride along every call that has them.
 */
import { MAX_CALL_CONTEXT_BYTES } from './options.js';

/** Throws TypeError for a value JSON could not carry as it is, RangeError when it is too large. */
export function checkCallContext(value: unknown): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw new TypeError(`options.context must be a plain object, got ${kindOf(value)}`);
  checkJsonLike(value, 'options.context', 0);
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_CALL_CONTEXT_BYTES) {
    throw new RangeError(`options.context is ${bytes} bytes as JSON; at most ${MAX_CALL_CONTEXT_BYTES} may travel with a call`);
  }
  return Object.keys(value).length === 0 ? undefined : value;
}

const MAX_DEPTH = 8;

function checkJsonLike(value: unknown, where: string, depth: number): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${where} must be a finite number, got ${value}`);
    return;
  }
  if (depth >= MAX_DEPTH) throw new RangeError(`${where} nests deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJsonLike(item, `${where}[${i}]`, depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) checkJsonLike(item, `${where}.${key}`, depth + 1);
    return;
  }
  throw new TypeError(`${where} must be a string, number, boolean, null, array or plain object, got ${kindOf(value)}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'an unknown class'}`;
  return `${typeof value} ${String(value)}`;
}
