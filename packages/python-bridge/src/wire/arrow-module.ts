/**
 * Which apache-arrow the bridge works with, loaded the first time a table crosses.
 *
 * `apache-arrow` is an optional peer dependency, and takes most of a second to load: a program that
 * never sends or receives a table never loads it. It ships two builds (ES modules and CommonJS),
 * and a program may even hold two instances of one build (a loader such as tsx gives `require`
 * its own). Each instance has its own classes, and a writer of one instance silently writes a
 * table of another without its data, so the bridge must use the program's own instance:
 *
 * - received tables are made with the instance `import('apache-arrow')` gives from here, the one
 *   the program's own `import` gets (the channel loads it before decoding the first reply that
 *   holds a table: {@link loadArrow});
 * - a table to send is written by the instance whose class made it: that one, or the CommonJS
 *   build if the program `require`d it. A table met before the first load makes the encoder throw
 *   {@link ArrowNotLoaded}, and the caller loads, then encodes again.
 *
 * Decoding outside a channel (the codec alone, as its tests use it) loads synchronously with
 * `require` when nothing was imported yet.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MissingDependencyError } from '../errors.js';
import { guardFlatbuffers } from './flatbuffer-guard.js';

/**
 * An instance of apache-arrow, as far as this module looks into it (arrow.ts uses the rest). Its
 * own types stay out of the bridge's declarations, which must compile where apache-arrow is not installed.
 */
export interface ArrowModule {
  readonly Table: unknown;
  readonly RecordBatch: unknown;
  readonly Vector: unknown;
}

/** The command that installs apache-arrow where the bridge finds it. */
export const ARROW_INSTALL_COMMAND = 'npm install apache-arrow';

/** The classes whose instances cross as tables or vectors. */
export type ArrowClassName = 'Table' | 'RecordBatch' | 'Vector';

/**
 * Thrown by the encoder for an apache-arrow value met before apache-arrow was loaded: the caller
 * awaits {@link loadArrow} and encodes again. Never reaches a user.
 */
export class ArrowNotLoaded extends Error {
  constructor() {
    super('apache-arrow is not loaded yet');
  }
}

const requireHere = createRequire(import.meta.url);

/** The program's instance, once `import()` gave it. */
let imported: ArrowModule | undefined;
let importing: Promise<void> | undefined;
/** Why loading failed: a MissingDependencyError for every later table. */
let failure: MissingDependencyError | undefined;
/** Loaded with `require` where a decode could not wait for `import()`. */
let required: ArrowModule | undefined;

function missing(why: string, cause?: unknown): MissingDependencyError {
  const error = new MissingDependencyError(
    'apache-arrow',
    ARROW_INSTALL_COMMAND,
    `apache-arrow is not installed in Node: ${why}; install it with: ${ARROW_INSTALL_COMMAND}`,
  );
  if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, enumerable: false });
  return error;
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** Loads apache-arrow with `import()`, once; resolves either way (a failure is kept for the next table). */
export function loadArrow(): Promise<void> {
  importing ??= import('apache-arrow').then(
    (module: ArrowModule) => {
      imported = module;
      guard();
    },
    (error: unknown) => {
      failure = isNotFound(error)
        ? missing('cannot receive an Arrow table from Python', error)
        : new MissingDependencyError('apache-arrow', ARROW_INSTALL_COMMAND, `apache-arrow could not be loaded in Node: ${String(error)}`);
    },
  );
  return importing;
}

/** Whether {@link loadArrow} has settled: decoding and encoding need not wait any more. */
export function arrowLoadSettled(): boolean {
  return imported !== undefined || failure !== undefined;
}

/** The instance to make received tables with; throws {@link MissingDependencyError} without apache-arrow. */
export function arrowForDecoding(): ArrowModule {
  if (imported !== undefined) return imported;
  if (failure !== undefined) throw failure;
  return requiredNow('cannot receive an Arrow table from Python');
}

/**
 * The instance whose class made `value` (a `name` by its marks). Throws {@link ArrowNotLoaded}
 * when none is known yet and `import()` has not been tried, a TypeError for a value of an
 * instance the bridge cannot reach.
 */
export function arrowFor(value: object, name: ArrowClassName): ArrowModule {
  if (imported !== undefined && madeBy(imported[name], value)) return imported;
  const commonjs = cachedCommonJs();
  if (commonjs !== undefined && madeBy(commonjs[name], value)) return commonjs;
  if (required !== undefined && madeBy(required[name], value)) return required;
  if (!arrowLoadSettled()) throw new ArrowNotLoaded();
  throw new TypeError(
    `an apache-arrow ${name} made by an instance of apache-arrow that the bridge cannot reach (neither the one ` +
      `import('apache-arrow') gives nor the CommonJS build): send tables made with the program's own apache-arrow`,
  );
}

/** The CommonJS build, if the program has `require`d it. */
function cachedCommonJs(): ArrowModule | undefined {
  try {
    return requireHere.cache[requireHere.resolve('apache-arrow')]?.exports as ArrowModule | undefined;
  } catch {
    return undefined;
  }
}

/** Whether `value`'s prototype chain holds `ctor.prototype` (apache-arrow's own `instanceof` also answers true for other instances). */
function madeBy(ctor: unknown, value: object): boolean {
  return typeof ctor === 'function' && (Function.prototype[Symbol.hasInstance] as (this: unknown, v: unknown) => boolean).call(ctor, value);
}

/** apache-arrow loaded synchronously: the build `import` resolves to from here, through `require`. */
function requiredNow(why: string): ArrowModule {
  if (required !== undefined) return required;
  let path: string;
  try {
    // Compiled to CommonJS (as a test runner's transform does) the bridge has no
    // import.meta.resolve, and require's resolution is what its imports get there.
    path = typeof import.meta.resolve === 'function' ? fileURLToPath(import.meta.resolve('apache-arrow')) : requireHere.resolve('apache-arrow');
  } catch (error) {
    if (isNotFound(error)) throw missing(why, error);
    throw error;
  }
  required = requireHere(path) as ArrowModule;
  guardFlatbuffers(path);
  return required;
}

/** The flatbuffer guard on the apache-arrow `require` resolves from here (that of `import` too: see flatbuffer-guard.ts). */
function guard(): void {
  try {
    guardFlatbuffers(requireHere.resolve('apache-arrow'));
  } catch {
    // Not resolvable through require: nothing to guard from here.
  }
}
