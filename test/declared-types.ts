/**
 * Reads a declaration file written by `npx piton types` and checks runtime values against the
 * types it declares: the round-trip check of test/typegen.test.ts (does what a real call returns
 * satisfy the generated type?).
 *
 * It parses the subset of TypeScript the generator writes (typegen/declarations.ts and
 * wire-types.ts): named interfaces and type aliases, the PythonModules augmentation with its
 * members (`f(params): R;` and `f: WithKwargs<(params) => R, {...}>;`), and types made of
 * primitives, literals, unions, arrays, tuples, object types, `Record`, `Map`, typed arrays,
 * `NdArray`, `Date`, `Iterator`/`AsyncIterator`/`Promise`, and references to the named types.
 * Anything else throws, so a construct the generator starts writing cannot pass unchecked.
 */
import { NdArray } from '@piton/python-bridge';

export type TypeNode =
  | { kind: 'name'; name: string; args: TypeNode[] }
  | { kind: 'literal'; value: string | number | bigint | boolean }
  | { kind: 'union'; options: TypeNode[] }
  | { kind: 'array'; items: TypeNode }
  | { kind: 'tuple'; items: Array<{ type: TypeNode; optional: boolean; rest: boolean }> }
  | { kind: 'object'; fields: Array<{ name: string; type: TypeNode; optional: boolean }>; index: TypeNode | undefined }
  | { kind: 'function'; params: Array<{ type: TypeNode; optional: boolean; rest: boolean }>; result: TypeNode }
  | { kind: 'import'; module: string; name: string };

export interface Declarations {
  /** Named types: interfaces and aliases. */
  types: Map<string, TypeNode>;
  /** PythonModules: module → function → its signature. */
  modules: Map<string, Map<string, { params: TypeNode; result: TypeNode; kwargs: TypeNode | undefined }>>;
}

const TOKEN = /\s+|\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:[^'\\]|\\.)*'|-?\d+n?(?:\.\d+)?|=>|\.\.\.|[\p{ID_Start}$_][\p{ID_Continue}$]*|[{}()[\]<>|,;:?=.&]/uy;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (match === null) throw new Error(`cannot read the declarations at ${JSON.stringify(text.slice(at, at + 40))}`);
    const token = match[0];
    if (!/^\s/.test(token) && !token.startsWith('/*') && !token.startsWith('//')) tokens.push(token);
  }
  return tokens;
}

class Parser {
  #at = 0;
  constructor(private readonly tokens: string[]) {}

  get done(): boolean {
    return this.#at >= this.tokens.length;
  }

  peek(offset = 0): string | undefined {
    return this.tokens[this.#at + offset];
  }

  next(): string {
    const token = this.tokens[this.#at++];
    if (token === undefined) throw new Error('unexpected end of the declarations');
    return token;
  }

  expect(token: string): void {
    const got = this.next();
    if (got !== token) throw new Error(`expected ${token}, got ${got} (token ${this.#at})`);
  }

  accept(token: string): boolean {
    if (this.peek() !== token) return false;
    this.#at++;
    return true;
  }

  type(): TypeNode {
    const options = [this.postfix()];
    while (this.accept('|')) options.push(this.postfix());
    return options.length === 1 ? options[0]! : { kind: 'union', options };
  }

  postfix(): TypeNode {
    let type = this.primary();
    while (this.peek() === '[' && this.peek(1) === ']') {
      this.next();
      this.next();
      type = { kind: 'array', items: type };
    }
    return type;
  }

  primary(): TypeNode {
    const token = this.next();
    if (token === '(') {
      if (this.isFunction()) return this.functionType();
      const inner = this.type();
      this.expect(')');
      return inner;
    }
    if (token === '[') return this.tuple();
    if (token === '{') return this.object();
    if (token.startsWith("'")) return { kind: 'literal', value: JSON.parse(`"${token.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"`) as string };
    if (/^-?\d/.test(token)) return { kind: 'literal', value: token.endsWith('n') ? BigInt(token.slice(0, -1)) : Number(token) };
    if (token === 'true' || token === 'false') return { kind: 'literal', value: token === 'true' };
    if (token === 'import') {
      this.expect('(');
      const module = this.next().slice(1, -1);
      this.expect(')');
      this.expect('.');
      return { kind: 'import', module, name: this.next() };
    }
    const args: TypeNode[] = [];
    if (this.accept('<')) {
      do args.push(this.type());
      while (this.accept(','));
      this.expect('>');
    }
    return { kind: 'name', name: token, args };
  }

  /** After `(`: whether this is a parameter list (`(a: T) =>`, `()`, `(...a: T[])`). */
  isFunction(): boolean {
    let depth = 1;
    for (let i = 0; ; i++) {
      const token = this.peek(i);
      if (token === undefined) return false;
      if (token === '(') depth++;
      if (token === ')' && --depth === 0) return this.peek(i + 1) === '=>';
    }
  }

  params(): Array<{ type: TypeNode; optional: boolean; rest: boolean }> {
    const params: Array<{ type: TypeNode; optional: boolean; rest: boolean }> = [];
    while (!this.accept(')')) {
      const rest = this.accept('...');
      this.next(); // the name
      const optional = this.accept('?');
      this.expect(':');
      params.push({ type: this.type(), optional, rest });
      this.accept(',');
    }
    return params;
  }

  functionType(): TypeNode {
    const params = this.params();
    this.expect('=>');
    return { kind: 'function', params, result: this.type() };
  }

  tuple(): TypeNode {
    const items: Array<{ type: TypeNode; optional: boolean; rest: boolean }> = [];
    while (!this.accept(']')) {
      const rest = this.accept('...');
      let optional = false;
      // A labelled element: `x: T` or `x?: T`.
      if (this.peek(1) === ':' || (this.peek(1) === '?' && this.peek(2) === ':')) {
        this.next();
        optional = this.accept('?');
        this.expect(':');
      }
      items.push({ type: this.type(), optional, rest });
      this.accept(',');
    }
    return { kind: 'tuple', items };
  }

  object(): TypeNode {
    const fields: Array<{ name: string; type: TypeNode; optional: boolean }> = [];
    let index: TypeNode | undefined;
    while (!this.accept('}')) {
      if (this.accept('[')) {
        this.next();
        this.expect(':');
        this.expect('string');
        this.expect(']');
        this.expect(':');
        index = this.type();
      } else {
        const raw = this.next();
        const name = raw.startsWith("'") ? (JSON.parse(`"${raw.slice(1, -1).replace(/\\'/g, "'")}"`) as string) : raw;
        const optional = this.accept('?');
        this.expect(':');
        fields.push({ name, type: this.type(), optional });
      }
      if (!this.accept(';')) this.accept(',');
    }
    return { kind: 'object', fields, index };
  }
}

/** Parses a file written by `npx piton types`. */
export function parseDeclarations(text: string): Declarations {
  const p = new Parser(tokenize(text));
  const types = new Map<string, TypeNode>();
  const modules: Declarations['modules'] = new Map();
  while (!p.done) {
    const token = p.next();
    if (token === 'import') {
      while (p.next() !== ';');
    } else if (token === 'export' && p.peek() === '{') {
      p.expect('{');
      p.expect('}');
      p.expect(';');
    } else if (token === 'export' && p.accept('interface')) {
      const name = p.next();
      p.expect('{');
      types.set(name, p.object());
    } else if (token === 'export' && p.accept('type')) {
      const name = p.next();
      p.expect('=');
      types.set(name, p.type());
      p.expect(';');
    } else if (token === 'declare') {
      p.expect('module');
      p.next();
      p.expect('{');
      p.expect('interface');
      p.expect('PythonModules');
      p.expect('{');
      while (!p.accept('}')) {
        const raw = p.next();
        const module = raw.startsWith("'") ? raw.slice(1, -1) : raw;
        p.expect(':');
        p.expect('{');
        const functions = new Map<string, { params: TypeNode; result: TypeNode; kwargs: TypeNode | undefined }>();
        while (!p.accept('}')) {
          const name = p.next();
          if (p.accept('(')) {
            const params = p.params();
            p.expect(':');
            const result = p.type();
            functions.set(name, { params: { kind: 'function', params, result }, result, kwargs: undefined });
          } else {
            p.expect(':');
            const wrapped = p.type();
            if (wrapped.kind !== 'name' || wrapped.name !== 'WithKwargs' || wrapped.args[0]?.kind !== 'function') {
              throw new Error(`${module}.${name}: expected WithKwargs<(…) => R, K>`);
            }
            functions.set(name, { params: wrapped.args[0], result: wrapped.args[0].result, kwargs: wrapped.args[1] });
          }
          p.expect(';');
        }
        p.expect(';');
        modules.set(module, functions);
      }
      p.expect('}');
    } else {
      throw new Error(`unexpected ${token} at the top of the declarations`);
    }
  }
  return { types, modules };
}

const TYPED_ARRAYS: Record<string, new (...args: never[]) => object> = {
  Float64Array,
  Float32Array,
  Int8Array,
  Int16Array,
  Int32Array,
  BigInt64Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
  BigUint64Array,
};

function isTypedArray(value: unknown): boolean {
  return Object.values(TYPED_ARRAYS).some((ctor) => value instanceof ctor);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Why `value` does not satisfy `type` (as a value received from Python), or undefined when it does.
 * `path` names the place in messages.
 */
export function mismatch(value: unknown, type: TypeNode, declared: Declarations, path = 'value'): string | undefined {
  const fail = (what: string) => `${path}: expected ${what}, got ${describe(value)}`;
  switch (type.kind) {
    case 'literal':
      return value === type.value ? undefined : fail(String(type.value));
    case 'union': {
      const reasons = type.options.map((option) => mismatch(value, option, declared, path));
      return reasons.some((r) => r === undefined) ? undefined : `${path}: matches no member of the union (${reasons.join('; ')})`;
    }
    case 'array':
      if (!Array.isArray(value)) return fail('an array');
      return value.map((item, i) => mismatch(item, type.items, declared, `${path}[${i}]`)).find((r) => r !== undefined);
    case 'tuple': {
      if (!Array.isArray(value)) return fail('a tuple');
      const fixed = type.items.filter((item) => !item.rest);
      const required = fixed.filter((item) => !item.optional).length;
      const rest = type.items.find((item) => item.rest);
      if (value.length < required || (rest === undefined && value.length > fixed.length)) return fail(`a tuple of ${required}–${fixed.length} items`);
      return value
        .map((item, i) => mismatch(item, fixed[i]?.type ?? (rest!.type.kind === 'array' ? rest!.type.items : rest!.type), declared, `${path}[${i}]`))
        .find((r) => r !== undefined);
    }
    case 'object': {
      if (!isPlainObject(value)) return fail('a plain object');
      for (const field of type.fields) {
        if (!(field.name in value)) {
          if (field.optional) continue;
          return `${path}: the required field ${field.name} is missing`;
        }
        const reason = mismatch(value[field.name], field.type, declared, `${path}.${field.name}`);
        if (reason) return reason;
      }
      for (const [key, item] of Object.entries(value)) {
        if (type.fields.some((f) => f.name === key)) continue;
        if (type.index === undefined) return `${path}: field ${key} is not declared`;
        const reason = mismatch(item, type.index, declared, `${path}.${key}`);
        if (reason) return reason;
      }
      return undefined;
    }
    case 'name':
      return named(value, type, declared, path, fail);
    case 'function':
    case 'import':
      return `${path}: a ${type.kind} type is not a value's type`;
  }
}

function named(
  value: unknown,
  type: Extract<TypeNode, { kind: 'name' }>,
  declared: Declarations,
  path: string,
  fail: (what: string) => string,
): string | undefined {
  const [first, second] = type.args;
  switch (type.name) {
    case 'unknown':
      return undefined;
    case 'never':
      return fail('nothing (never)');
    case 'null':
      return value === null ? undefined : fail('null');
    case 'boolean':
    case 'number':
    case 'string':
    case 'bigint':
      return typeof value === type.name ? undefined : fail(type.name);
    case 'Date':
      return value instanceof Date && !Number.isNaN(value.getTime()) ? undefined : fail('a Date');
    case 'TypedArray':
      return isTypedArray(value) ? undefined : fail('a typed array');
    case 'NdArray':
      if (!(value instanceof NdArray)) return fail('an NdArray');
      return first === undefined ? undefined : mismatch(value.data, first, declared, `${path}.data`);
    case 'Record':
      if (!isPlainObject(value)) return fail('a plain object');
      return Object.entries(value)
        .map(([key, item]) => mismatch(item, second!, declared, `${path}.${key}`))
        .find((r) => r !== undefined);
    case 'Map':
      if (!(value instanceof Map)) return fail('a Map');
      for (const [key, item] of value) {
        const reason = mismatch(key, first!, declared, `${path} key`) ?? mismatch(item, second!, declared, `${path}.get(${String(key)})`);
        if (reason) return reason;
      }
      return undefined;
  }
  const ctor = TYPED_ARRAYS[type.name];
  if (ctor !== undefined) return value instanceof ctor ? undefined : fail(type.name);
  const alias = declared.types.get(type.name);
  if (alias !== undefined) return mismatch(value, alias, declared, path);
  throw new Error(`${path}: the validator does not know the type ${type.name}`);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object without a prototype';
  return `${typeof value} ${String(value)}`;
}
