/**
 * The encoder's slow path: where in the value is the thing that could not be sent?
 *
 * The encoder runs flat out and keeps no path; when it meets a value it cannot send it throws
 * {@link Unsupported} (or {@link TooDeep}), and only then are the roots walked again, making the
 * same decisions as the encoder in the same order, to name the path (`args[1].user.callback`)
 * in the {@link EncodeError}.
 */
import { EncodeError } from '../../errors.js';
import { MAX_DEPTH } from './wire.js';

/** Thrown inside the encoder for a value it cannot send; `what` describes it ("a function (cb)"). */
export class Unsupported {
  constructor(
    readonly value: unknown,
    readonly what: string,
  ) {}
}

/** Thrown inside the encoder past {@link MAX_DEPTH}: a circular reference or absurd nesting. */
export class TooDeep {}

/**
 * Turns what the encoder threw into the error the caller gets: an {@link EncodeError} naming the
 * path for {@link Unsupported} and {@link TooDeep}, anything else unchanged. `names[i]` is the root
 * path of `roots[i]`.
 */
export function toEncodeError(err: unknown, roots: readonly unknown[], names: readonly string[]): unknown {
  if (err instanceof Unsupported) {
    const path = locateValue(roots, names, err.value) ?? names.join(',');
    return new EncodeError(`cannot send ${err.what} at ${path}`, path);
  }
  if (err instanceof TooDeep) {
    const cycle = locateCycle(roots, names);
    if (cycle) {
      return new EncodeError(`cannot send a circular reference at ${cycle.at} (it refers back to ${cycle.target})`, cycle.at);
    }
    const path = locateDepth(roots, names) ?? names.join(',');
    return new EncodeError(`cannot send a value nested deeper than ${MAX_DEPTH} levels at ${path}`, path);
  }
  return err;
}

/** How an object the encoder does not take is named in the EncodeError. */
export function describeObject(value: object): string {
  if (value instanceof Set) return 'a Set';
  if (value instanceof Promise) return 'a Promise';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} (send a Buffer, a protocol typed array or an NdArray)`;
  const name = (value.constructor as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? `an instance of class ${name}` : 'an object with a custom prototype';
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertyPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function mapKeyLabel(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'number' || typeof key === 'boolean' || key === null || key === undefined) return String(key);
  if (typeof key === 'bigint') return `${key}n`;
  return '…';
}

/** Whether the encoder descends into `value` (same decisions as the encoder, in the same order). */
function childrenOf(value: unknown, path: string): Array<[unknown, string]> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) {
    return Object.keys(value).map((k) => [(value as Record<string, unknown>)[k], propertyPath(path, k)]);
  }
  if (Array.isArray(value)) return value.map((v, i) => [v, `${path}[${i}]`]);
  if (value instanceof Map) {
    const out: Array<[unknown, string]> = [];
    let i = 0;
    for (const [k, v] of value) {
      out.push([k, `${path}.keys()[${i++}]`], [v, `${path}.get(${mapKeyLabel(k)})`]);
    }
    return out;
  }
  return undefined;
}

function locateValue(roots: readonly unknown[], names: readonly string[], target: unknown): string | undefined {
  const seen = new Set<object>();
  const visit = (value: unknown, path: string): string | undefined => {
    if (value === target) return path;
    const children = childrenOf(value, path);
    if (!children || seen.has(value as object)) return undefined;
    seen.add(value as object);
    for (const [child, childPath] of children) {
      const found = visit(child, childPath);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  for (let i = 0; i < roots.length; i++) {
    const found = visit(roots[i], names[i] ?? `[${i}]`);
    if (found !== undefined) return found;
  }
  return undefined;
}

function locateCycle(roots: readonly unknown[], names: readonly string[]): { at: string; target: string } | undefined {
  const ancestors = new Map<object, string>();
  const visit = (value: unknown, path: string): { at: string; target: string } | undefined => {
    const children = childrenOf(value, path);
    if (!children) return undefined;
    const obj = value as object;
    const target = ancestors.get(obj);
    if (target !== undefined) return { at: path, target };
    ancestors.set(obj, path);
    for (const [child, childPath] of children) {
      const found = visit(child, childPath);
      if (found) return found;
    }
    ancestors.delete(obj);
    return undefined;
  };
  for (let i = 0; i < roots.length; i++) {
    const found = visit(roots[i], names[i] ?? `[${i}]`);
    if (found) return found;
  }
  return undefined;
}

function locateDepth(roots: readonly unknown[], names: readonly string[]): string | undefined {
  const visit = (value: unknown, path: string, depth: number): string | undefined => {
    if (value === null || typeof value !== 'object') return undefined;
    if (depth > MAX_DEPTH) return path;
    for (const [child, childPath] of childrenOf(value, path) ?? []) {
      const found = visit(child, childPath, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  for (let i = 0; i < roots.length; i++) {
    const found = visit(roots[i], names[i] ?? `[${i}]`, 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
