/**
 * Calls checked against the Python they reach. `PythonModules` is an empty interface that a
 * declaration file augments with each module's signatures, one entry per callable name:
 *
 *     declare module '@piton/python-bridge' {
 *       interface PythonModules {
 *         functions: {
 *           fib(n: number): number;                                    // def fib(n: int) -> int
 *           scaled: WithKwargs<(a: Float64Array) => Float64Array, { factor?: number }>;
 *           count(n: number): Iterator<number>;                        // a generator: stream() it
 *         };
 *       }
 *     }
 *
 * `npx piton types` writes that file from the Python's type hints; one can also be written by
 * hand. With it, `pool.module('functions').fib(20)` is a `Promise<number>`, and `pool.call`,
 * `pool.stream` check the function's name, its positional arguments (`args`), its keyword
 * arguments (`options.kwargs`) and what it returns. A module without an entry is called as before
 * (untyped, or typed by the caller: `pool.call<R>(…)`, `pool.module<T>(…)`), and so is a typed
 * one when the caller gives the type argument.
 *
 * An entry is a function type: its parameters are the positional ones, its result what a call
 * resolves to (a `Promise<R>`, for `async def`, resolves to `R`). A result of `Iterator<T>` or
 * `AsyncIterator<T>` marks a generator: `stream()` yields `T` and `call()` refuses it, since a
 * generator cannot be sent as a value. What may be passed by keyword (keyword-only parameters,
 * `**kwargs`, and optional parameters that are not positional-only) is given with
 * {@link WithKwargs}; a function whose keyword arguments are required is called with `call()`,
 * since the module proxy passes positional arguments only.
 */
import type { CallOptions, StreamOptions } from './options.js';

/** The modules whose signatures are known: augmented by `npx piton types` (see the top of this file). */
export interface PythonModules {}

declare const kwargsOf: unique symbol;

/** A Python function with keyword-only parameters or `**kwargs`: `F` for the positional ones, `K` for `options.kwargs`. */
export type WithKwargs<F extends (...args: never[]) => unknown, K extends object> = F & { readonly [kwargsOf]: K };

/** The names of the modules that have an entry. */
export type TypedModuleName = keyof PythonModules & string;

/**
 * What a typed module's name meets in an untyped overload, so that it is never chosen: a call of
 * a typed module that matches no signature is an error, which names this.
 */
export interface TypedByPythonModules {
  readonly 'this module has an entry in PythonModules: call it as its signature there says': never;
}

/** A module name, unless it has an entry in PythonModules (see {@link TypedByPythonModules}). */
export type UntypedModuleName<M extends string> = M & (M extends TypedModuleName ? TypedByPythonModules : unknown);

type EntryOf<M extends TypedModuleName, F> = F extends keyof PythonModules[M] ? PythonModules[M][F] : never;

/** The positional parameters of an entry. */
export type PythonArgs<E> = E extends (...args: infer A) => unknown ? A : never;

/** The keyword arguments of an entry (`never` when it takes none). */
export type PythonKwargs<E> = E extends { readonly [kwargsOf]: infer K } ? K : never;

/** What a call of an entry resolves to. */
export type PythonResult<E> = E extends (...args: never[]) => infer R ? Awaited<R> : never;

/** What `stream()` of an entry yields: a generator's items, a list's elements, or `unknown` for an untyped result. */
export type PythonStreamItem<E> =
  PythonResult<E> extends infer R
    ? unknown extends R
      ? unknown
      : R extends Iterator<infer T> | AsyncIterator<infer T>
        ? T
        : R extends readonly (infer T)[]
          ? T
          : never
    : never;

/** Whether a result marks a generator; `never` (a function that never returns) does not. */
type IsGenerator<R> = [R] extends [never] ? false : [R] extends [Iterator<unknown> | AsyncIterator<unknown>] ? true : false;
type KwargsRequired<E> = [PythonKwargs<E>] extends [never] ? false : {} extends PythonKwargs<E> ? false : true;

/** The functions of module `M` that `call()` takes: all but generators. */
export type CallableName<M extends TypedModuleName> = {
  [F in keyof PythonModules[M]]: IsGenerator<PythonResult<PythonModules[M][F]>> extends true ? never : F;
}[keyof PythonModules[M]] &
  string;

/** The functions of module `M` that `stream()` takes: generators, and those returning a list or an untyped value. */
export type StreamableName<M extends TypedModuleName> = {
  [F in keyof PythonModules[M]]: [PythonStreamItem<PythonModules[M][F]>] extends [never] ? never : F;
}[keyof PythonModules[M]] &
  string;

/** `options` of a typed call: `kwargs` typed by the entry, required when a keyword argument is. */
type OptionsFor<O extends { kwargs?: unknown }, E> = [PythonKwargs<E>] extends [never]
  ? Omit<O, 'kwargs'>
  : KwargsRequired<E> extends true
    ? Omit<O, 'kwargs'> & { kwargs: PythonKwargs<E> }
    : Omit<O, 'kwargs'> & { kwargs?: PythonKwargs<E> };

/** After the module and function names: `args` (optional when every positional parameter is), then `options`. */
type RestFor<O extends { kwargs?: unknown }, E> =
  KwargsRequired<E> extends true
    ? [args: PythonArgs<E>, options: OptionsFor<O, E>]
    : [] extends PythonArgs<E>
      ? [args?: PythonArgs<E>, options?: OptionsFor<O, E>]
      : [args: PythonArgs<E>, options?: OptionsFor<O, E>];

/** The arguments of `call(module, fn, …)` after the names, for a typed module. */
export type CallRest<M extends TypedModuleName, F> = RestFor<CallOptions, EntryOf<M, F>>;
/** The arguments of `stream(module, fn, …)` after the names, for a typed module. */
export type StreamRest<M extends TypedModuleName, F> = RestFor<StreamOptions, EntryOf<M, F>>;
/** What `call(module, fn, …)` resolves to, for a typed module. */
export type CallResult<M extends TypedModuleName, F> = PythonResult<EntryOf<M, F>>;
/** What `stream(module, fn, …)` yields, for a typed module. */
export type StreamItem<M extends TypedModuleName, F> = PythonStreamItem<EntryOf<M, F>>;

/** Whether the proxy offers a function: not a generator, no required keyword argument, not `then`. */
type OnProxy<F, E> = F extends 'then' ? false : IsGenerator<PythonResult<E>> extends true ? false : KwargsRequired<E> extends true ? false : true;

/**
 * The proxy of a typed module: each function that can be called with positional arguments alone,
 * as an async function. (`then` is left out: the proxy is not thenable, so that awaiting it does
 * not call Python; `pool.call(module, 'then', …)` reaches such a function.)
 */
export type TypedModule<T> = {
  [F in keyof T as OnProxy<F, T[F]> extends true ? F : never]: (
    ...args: PythonArgs<T[F]>
  ) => Promise<PythonResult<T[F]>>;
};
