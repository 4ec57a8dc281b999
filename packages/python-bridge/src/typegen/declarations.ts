/**
 * The declaration file `npx piton types` writes: the named classes (TypedDict → interface,
 * NamedTuple → labelled tuple, Enum → union of its values), then an augmentation of the bridge's
 * `PythonModules` with one entry per module and one member per callable name (typed-calls.ts says
 * how calls read them). The same reports always give the same text, byte for byte, so that
 * `--check` can compare it with the file on disk.
 *
 * A class whose TypeScript type differs by direction (a plain Enum can be sent but not received,
 * a uint8 array is sent as an NdArray) gets two names: `Name` as received, `NameInput` as sent.
 */
import type { PyDef, PyFunction, PyModule, PyParam, PyType } from './ir.js';
import { quoted, renderLiteral, renderType, unknownBecause, type BridgeType, type Direction, type TypeContext } from './wire-types.js';

export interface DeclarationOptions {
  /** Whether apache-arrow resolves from where the file is written (wire-types.ts: tables). */
  arrow: boolean;
}

/** What the file holds, for the command's summary line. */
export interface DeclarationSummary {
  modules: number;
  functions: number;
}

const BRIDGE = '@piton/python-bridge';

/** Names the file uses for itself or from the global scope: a Python class may not take them. */
const TAKEN = new Set([
  'PythonModules', 'WithKwargs', 'NdArray', 'TypedArray', 'Array', 'Uint8Array', 'Date', 'Map', 'Record', 'Promise', 'Iterator',
  'AsyncIterator', 'Exclude', 'Float64Array', 'Float32Array', 'Int8Array', 'Int16Array', 'Int32Array', 'BigInt64Array',
  'Uint16Array', 'Uint32Array', 'BigUint64Array', 'Object', 'String', 'Number', 'Boolean', 'Symbol', 'BigInt', 'Function',
  'Error', 'Set', 'JSON', 'Math', 'Partial', 'Required', 'Readonly', 'Pick', 'Omit', 'Awaited',
]);

/** Reserved in a parameter position (strict mode, modules): a Python parameter so named gets a `_`. */
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if ' +
    'import in instanceof new null return super switch this throw true try typeof var void while with yield let static ' +
    'implements interface package private protected public await arguments eval').split(' '),
);

const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;

/** A property name: bare when it is an identifier, quoted otherwise (`'pkg.sub'`). */
export function propertyName(name: string): string {
  return IDENTIFIER.test(name) ? name : quoted(name);
}

function docComment(text: string | null, indent: string, extra: string[] = []): string {
  const lines = [...(text ? [text] : []), ...extra].map((line) => line.replace(/\*\//g, '*\\/'));
  if (lines.length === 0) return '';
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((line) => `${indent} * ${line}\n`).join('')}${indent} */\n`;
}

/** Builds the file; one instance per generation. */
class DeclarationWriter implements TypeContext {
  readonly arrow: boolean;
  readonly #defs = new Map<string, PyDef>();
  /** The defs in the order they were first used, each with the directions it is used in. */
  readonly #used = new Map<string, Set<Direction>>();
  readonly #bridgeTypes = new Set<BridgeType>();
  /** Whether rendering records the defs it meets (in the first pass, which finds what is used). */
  #recording = true;
  /** The defs' names once assigned; until then, placeholders. */
  #names: Map<string, string> | undefined;
  #variant = new Set<string>();

  constructor(modules: readonly PyModule[], options: DeclarationOptions) {
    this.arrow = options.arrow;
    for (const module of modules) for (const def of module.defs) if (!this.#defs.has(def.id)) this.#defs.set(def.id, def);
  }

  defName(id: string, direction: Direction): string {
    if (this.#recording) {
      let directions = this.#used.get(id);
      if (directions === undefined) this.#used.set(id, (directions = new Set()));
      directions.add(direction);
    }
    if (this.#names === undefined) return `\u0000${id}\u0000`;
    const key = this.#variant.has(id) ? `${id}\u0000${direction}` : id;
    return this.#names.get(key) ?? unknownBecause(id, 'the generator has no description of this class');
  }

  useBridgeType(name: BridgeType): void {
    this.#bridgeTypes.add(name);
  }

  write(modules: readonly PyModule[]): { text: string; summary: DeclarationSummary } {
    // First pass: which defs are used, in which directions (the defs' own fields included).
    for (const module of modules) for (const fn of module.functions) this.#member(fn, '');
    this.#closeOverDefs();
    this.#recording = false;
    this.#variant = this.#directionDependent();
    this.#names = this.#assignNames();

    const body: string[] = [];
    for (const [id, directions] of this.#used) {
      const def = this.#defs.get(id);
      if (def === undefined) continue;
      const forms: Direction[] = this.#variant.has(id) ? (['out', 'in'] as const).filter((d) => directions.has(d)) : ['out'];
      for (const direction of forms) body.push(this.#def(def, direction));
    }
    let functions = 0;
    const entries = modules.map((module) => {
      functions += module.functions.length;
      const members = module.functions.map((fn) => this.#member(fn, '      ')).join('');
      return `${docComment(module.doc, '    ')}    ${propertyName(module.module)}: {\n${members}    };\n`;
    });
    const imports = [...this.#bridgeTypes].sort();
    const head = [
      '// Generated by `npx piton types` from the type hints of the Python modules below: do not edit it, run the command again.',
      '// Each callable name is typed with the values as they cross the wire (PROTOCOL.md, "Values").',
      imports.length > 0 ? `import type { ${imports.join(', ')} } from '${BRIDGE}';` : 'export {};',
    ].join('\n');
    const augmentation = `declare module '${BRIDGE}' {\n  interface PythonModules {\n${entries.join('')}  }\n}\n`;
    return { text: `${head}\n\n${body.map((b) => `${b}\n`).join('')}${augmentation}`, summary: { modules: modules.length, functions } };
  }

  /** Renders the defs reachable from those used until no new one appears. */
  #closeOverDefs(): void {
    const seen = new Set<string>();
    for (let changed = true; changed; ) {
      changed = false;
      for (const [id, directions] of [...this.#used]) {
        for (const direction of directions) {
          const key = `${id}\u0000${direction}`;
          if (seen.has(key)) continue;
          seen.add(key);
          changed = true;
          const def = this.#defs.get(id);
          if (def !== undefined) this.#defBody(def, direction);
        }
      }
    }
  }

  /** The defs whose text differs by direction, directly or through a def they use. */
  #directionDependent(): Set<string> {
    const variant = new Set<string>();
    const references = new Map<string, string[]>();
    for (const [id, def] of this.#defs) {
      const sent = this.#defBody(def, 'in');
      const received = this.#defBody(def, 'out');
      if (sent !== received) variant.add(id);
      references.set(id, [...`${sent}${received}`.matchAll(/\u0000([^\u0000]*)\u0000/g)].map((m) => m[1]!));
    }
    for (let changed = true; changed; ) {
      changed = false;
      for (const [id, refs] of references) {
        if (!variant.has(id) && refs.some((ref) => variant.has(ref))) {
          variant.add(id);
          changed = true;
        }
      }
    }
    return variant;
  }

  #assignNames(): Map<string, string> {
    const names = new Map<string, string>();
    const taken = new Set(TAKEN);
    const claim = (wanted: string, module: string): string => {
      let name = taken.has(wanted) ? `${module.replace(/[^\p{ID_Continue}$]/gu, '_')}_${wanted}` : wanted;
      for (let n = 2; taken.has(name); n++) name = `${wanted}${n}`;
      taken.add(name);
      return name;
    };
    for (const [id, directions] of this.#used) {
      const def = this.#defs.get(id);
      if (def === undefined) continue;
      if (!this.#variant.has(id)) {
        names.set(id, claim(def.name, def.module));
        continue;
      }
      if (directions.has('out')) names.set(`${id}\u0000out`, claim(def.name, def.module));
      if (directions.has('in')) names.set(`${id}\u0000in`, claim(directions.has('out') ? `${def.name}Input` : def.name, def.module));
    }
    return names;
  }

  #def(def: PyDef, direction: Direction): string {
    const name = this.defName(def.id, direction);
    const origin = `Python: \`${def.module}.${def.name}\`${this.#variant.has(def.id) ? (direction === 'in' ? ', as sent' : ', as received') : ''}`;
    const doc = docComment(def.doc, '', [origin]);
    const body = this.#defBody(def, direction);
    return def.kind === 'typeddict' ? `${doc}export interface ${name} ${body}\n` : `${doc}export type ${name} = ${body};\n`;
  }

  #defBody(def: PyDef, direction: Direction): string {
    switch (def.kind) {
      case 'typeddict': {
        const fields = def.fields.map((f) => `  ${propertyName(f.name)}${f.required ? '' : '?'}: ${renderType(f.type, direction, this)};\n`);
        return `{\n${fields.join('')}}`;
      }
      case 'namedtuple':
        return `[${def.fields.map((f) => `${parameterName(f.name, new Set())}: ${renderType(f.type, direction, this)}`).join(', ')}]`;
      case 'enum':
        return enumType(def, direction);
    }
  }

  /** One callable name as a member of its module's entry, with its doc comment. */
  #member(fn: PyFunction, indent: string): string {
    const notes: string[] = [];
    if (fn.kind === 'async') notes.push('`async def`');
    if (fn.kind === 'generator' || fn.kind === 'asyncgenerator') notes.push(`A${fn.kind === 'asyncgenerator' ? 'n async' : ''} generator: \`pool.stream()\` it.`);
    if (fn.batched) notes.push('Batched (`@piton.batched`): each call sends one input, which the pool merges with others into one Python call.');
    if (fn.note !== undefined) notes.push(`Untyped: ${fn.note}.`);
    const doc = docComment(fn.doc, indent, notes);
    const result = this.#result(fn.returns);
    const name = propertyName(fn.name);
    const { positional, kwargs } = fn.params === null ? { positional: '...args: unknown[]', kwargs: 'Record<string, unknown>' } : this.#params(fn.params);
    if (kwargs === undefined) return `${doc}${indent}${name}(${positional}): ${result};\n`;
    this.useBridgeType('WithKwargs');
    return `${doc}${indent}${name}: WithKwargs<(${positional}) => ${result}, ${kwargs}>;\n`;
  }

  /** A call's result: a generator's items as an iterator (a stream), `async def`'s as a Promise. */
  #result(returns: PyType): string {
    if (returns.kind === 'iterator') return `${returns.async ? 'AsyncIterator' : 'Iterator'}<${renderType(returns.items, 'out', this)}>`;
    if (returns.kind === 'awaitable') return `Promise<${renderType(returns.result, 'out', this)}>`;
    return renderType(returns, 'out', this);
  }

  /**
   * The positional parameters as a parameter list, and what may be passed by keyword as the type
   * of `kwargs` (if anything may): keyword-only parameters, `**kwargs`, and the optional positional
   * parameters that are not positional-only (`greet(name, punctuation='!')` takes
   * `{ kwargs: { punctuation: '?' } }`). A required positional parameter is given in `args`.
   */
  #params(params: readonly PyParam[]): { positional: string; kwargs: string | undefined } {
    const names = new Set<string>();
    const positional: string[] = [];
    const keywords: string[] = [];
    const keywordTypes: string[] = [];
    let extra: string | undefined;
    const keyword = (param: PyParam, type: string, optional: boolean) => {
      keywords.push(`${propertyName(param.name)}${optional ? '?' : ''}: ${type}`);
      keywordTypes.push(type);
    };
    for (const param of params) {
      const type = renderType(param.type, 'in', this);
      switch (param.kind) {
        case 'positional_only':
        case 'positional':
          positional.push(`${parameterName(param.name, names)}${param.default ? '?' : ''}: ${type}`);
          if (param.kind === 'positional' && param.default) keyword(param, type, true);
          break;
        case 'var_positional':
          positional.push(`...${parameterName(param.name, names)}: ${type.includes(' | ') ? `(${type})` : type}[]`);
          break;
        case 'keyword':
          keyword(param, type, param.default);
          break;
        case 'var_keyword':
          extra = type;
      }
    }
    let kwargs: string | undefined;
    if (extra !== undefined && keywords.length === 0) kwargs = `Record<string, ${extra}>`;
    else if (keywords.length > 0) {
      // An index signature must admit every named member's type, absent ones (undefined) too.
      const index = extra === undefined ? '' : `; [key: string]: ${extra === 'unknown' ? 'unknown' : [...new Set([extra, ...keywordTypes, 'undefined'])].join(' | ')}`;
      kwargs = `{ ${keywords.join('; ')}${index} }`;
    }
    return { positional: positional.join(', '), kwargs };
  }
}

/** A parameter name TypeScript accepts, unique within its list. */
function parameterName(name: string, taken: Set<string>): string {
  let out = IDENTIFIER.test(name) ? name : name.replace(/[^\p{ID_Continue}$]/gu, '_');
  if (RESERVED.has(out) || !IDENTIFIER.test(out)) out = `${out}_`;
  while (taken.has(out)) out = `${out}_`;
  taken.add(out);
  return out;
}

/**
 * An Enum is the union of its members' values. Received, only a str- or int-based Enum crosses
 * (the wire sends it as its base type); a plain Enum member is refused. A Flag's members combine,
 * so any number may come.
 */
function enumType(def: Extract<PyDef, { kind: 'enum' }>, direction: Direction): string {
  const python = `enum ${def.module}.${def.name}`;
  if (direction === 'out' && def.base === null) {
    return unknownBecause(python, 'a member of a plain Enum is refused by the wire: base it on str or int (StrEnum, IntEnum)');
  }
  if (def.flag) return 'number';
  if (def.members.length === 0) return 'never';
  const values = def.members.map((m) => m.value);
  if (values.some((v) => v === null)) return unknownBecause(python, 'a member whose value the wire does not carry');
  return [...new Set(values.map((v) => renderLiteral(v!)))].join(' | ');
}

/** The declaration file for the reports of piton.typegen, in their order. */
export function declarations(modules: readonly PyModule[], options: DeclarationOptions): { text: string; summary: DeclarationSummary } {
  return new DeclarationWriter(modules, options).write(modules);
}
