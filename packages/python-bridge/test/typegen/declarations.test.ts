// The mapping from piton.typegen's descriptions to TypeScript (pure logic: descriptions in, text
// out). test/typegen.test.ts runs the whole command on real modules and compiles what it writes.
import { expect } from 'chai';
import { parseCommand } from '../../src/cli/args.js';
import { declarations, propertyName } from '../../src/typegen/declarations.js';
import type { PyDef, PyFunction, PyModule, PyType } from '../../src/typegen/ir.js';
import { quoted, renderType, type BridgeType, type Direction, type TypeContext } from '../../src/typegen/wire-types.js';

function context(arrow = false): TypeContext & { used: Set<BridgeType> } {
  const used = new Set<BridgeType>();
  return { arrow, used, defName: (id: string, dir: Direction) => `${id}@${dir}`, useBridgeType: (name: BridgeType) => used.add(name) };
}

const t = {
  int: { kind: 'int' } as PyType,
  str: { kind: 'str' } as PyType,
  none: { kind: 'none' } as PyType,
  unknown: { kind: 'unknown' } as PyType,
};

function fn(name: string, params: PyFunction['params'], returns: PyType, extra: Partial<PyFunction> = {}): PyFunction {
  return { name, kind: 'function', doc: null, params, returns, ...extra };
}

function module(name: string, functions: PyFunction[], defs: PyDef[] = []): PyModule {
  return { module: name, doc: null, functions, defs };
}

describe('typegen: Python hints as the types of values on the wire', () => {
  const both: Array<[string, PyType, string]> = [
    ['unknown', t.unknown, 'unknown'],
    ['never', { kind: 'never' }, 'never'],
    ['None', t.none, 'null'],
    ['bool', { kind: 'bool' }, 'boolean'],
    ['int', t.int, 'number'],
    ['float', { kind: 'float' }, 'number'],
    ['str', t.str, 'string'],
    ['bytes', { kind: 'bytes' }, 'Uint8Array'],
    ['datetime', { kind: 'datetime' }, 'Date'],
    ['list[int | None]', { kind: 'list', items: { kind: 'union', options: [t.int, t.none] } }, '(number | null)[]'],
    ['Iterable[str]', { kind: 'iterable', items: t.str }, 'string[]'],
    ['tuple[int, str]', { kind: 'tuple', items: [t.int, t.str] }, '[number, string]'],
    ['tuple[()]', { kind: 'tuple', items: [] }, '[]'],
    ['tuple[int, ...]', { kind: 'tuple', rest: t.int }, 'number[]'],
    ['dict[str, int]', { kind: 'dict', key: t.str, value: t.int }, 'Record<string, number>'],
    ["dict[Literal['a', 'b'], int]", { kind: 'dict', key: { kind: 'literal', values: [{ str: 'a' }, { str: 'b' }] }, value: t.int }, 'Record<string, number>'],
    ['dict[str | int, int]', { kind: 'dict', key: { kind: 'union', options: [t.str, t.int] }, value: t.int }, 'Record<string, number> | Map<string | number, number>'],
    ['dict (no hint of its keys)', { kind: 'dict', key: t.unknown, value: t.unknown }, 'Record<string, unknown> | Map<unknown, unknown>'],
    ['int | (str | None)', { kind: 'union', options: [t.int, { kind: 'union', options: [t.str, t.none] }] }, 'number | string | null'],
    ['int | int', { kind: 'union', options: [t.int, t.int] }, 'number'],
    [
      'Literal[...]',
      { kind: 'literal', values: [{ str: "it's" }, { int: '-3' }, { int: String(2n ** 64n) }, { bool: false }, { none: true }, { bytes: '00' }, { float: 1.5 }] },
      `'it\\'s' | -3 | 18446744073709551616n | false | null | Uint8Array | 1.5`,
    ],
    ['a named class', { kind: 'ref', id: 'm.Point' }, 'm.Point@DIR'],
    ['an Iterator where a value is', { kind: 'iterator', async: false, items: t.int }, 'unknown /* Iterator: a generator cannot be sent as a value: stream() the function that returns it */'],
    ['a set', { kind: 'unsupported', python: 'set[int]', reason: 'refused */ by the wire' }, 'unknown /* set[int]: refused * / by the wire */'],
  ];
  for (const direction of ['in', 'out'] as const) {
    for (const [what, type, expected] of both) {
      it(`${what} ${direction === 'in' ? 'sent' : 'received'}: ${expected.replace('DIR', direction)}`, () => {
        expect(renderType(type, direction, context())).to.equal(expected.replace('DIR', direction));
      });
    }
  }

  it('a dict with other keys is a Map sent, and a Map or {} received (an empty map decodes as an object)', () => {
    const byLength: PyType = { kind: 'dict', key: t.int, value: { kind: 'list', items: t.str } };
    expect(renderType(byLength, 'in', context())).to.equal('Map<number, string[]>');
    expect(renderType(byLength, 'out', context())).to.equal('Map<number, string[]> | Record<string, never>');
  });

  it('numpy arrays: typed array for 1-d, NdArray for n-d, both when the hint has no shape; uint8 is sent as an NdArray', () => {
    const cases: Array<[string | null, number | null, string, string]> = [
      ['float64', null, 'Float64Array | NdArray<Float64Array>', 'Float64Array | NdArray<Float64Array>'],
      ['float64', 1, 'Float64Array', 'Float64Array'],
      ['float32', 2, 'NdArray<Float32Array>', 'NdArray<Float32Array>'],
      ['int64', 1, 'BigInt64Array', 'BigInt64Array'],
      ['uint64', 3, 'NdArray<BigUint64Array>', 'NdArray<BigUint64Array>'],
      ['uint8', 1, 'NdArray<Uint8Array>', 'Uint8Array'],
      ['uint8', null, 'NdArray<Uint8Array>', 'Uint8Array | NdArray<Uint8Array>'],
      ['int16', 0, 'NdArray<Int16Array>', 'number'],
      ['uint64', 0, 'NdArray<BigUint64Array>', 'number | bigint'],
      [null, null, 'Exclude<TypedArray, Uint8Array> | NdArray', 'TypedArray | NdArray'],
      [null, 1, 'Exclude<TypedArray, Uint8Array>', 'TypedArray'],
      [null, 2, 'NdArray', 'NdArray'],
    ];
    for (const [dtype, ndim, sent, received] of cases) {
      const type: PyType = { kind: 'ndarray', dtype, ndim };
      const ctx = context();
      expect(renderType(type, 'in', ctx), `${dtype} ${ndim} sent`).to.equal(sent);
      expect(renderType(type, 'out', ctx), `${dtype} ${ndim} received`).to.equal(received);
      expect(ctx.used.has('NdArray')).to.equal(true);
    }
  });

  it("tables: apache-arrow's types when it resolves, else unknown saying how to get them", () => {
    const frame: PyType = { kind: 'table', python: 'pandas.DataFrame', vector: false };
    const series: PyType = { kind: 'table', python: 'polars.Series', vector: true };
    expect(renderType(frame, 'out', context(true))).to.equal("import('apache-arrow').Table");
    expect(renderType(series, 'in', context(true))).to.equal("import('apache-arrow').Vector");
    expect(renderType(frame, 'out', context(false))).to.equal('unknown /* pandas.DataFrame: an Arrow Table: install apache-arrow to have it typed */');
  });

  it('quotes as the project writes strings, and names properties bare when they can be', () => {
    expect(quoted(`a'b"c\\d\n`)).to.equal(`'a\\'b"c\\\\d\\n'`);
    expect(propertyName('fib')).to.equal('fib');
    expect(propertyName('été')).to.equal('été');
    expect(propertyName('pkg.sub')).to.equal("'pkg.sub'");
    expect(propertyName('odd key')).to.equal("'odd key'");
  });
});

describe('typegen: the declaration file', () => {
  const point: PyDef = { id: 'geo.Point', name: 'Point', module: 'geo', doc: 'A point.', kind: 'namedtuple', fields: [{ name: 'x', type: t.int }, { name: 'default', type: t.int }] };
  const shape: PyDef = { id: 'geo.Shape', name: 'Shape', module: 'geo', doc: null, kind: 'enum', members: [{ name: 'A', value: { str: 'a' } }], base: null, flag: false };

  it('augments PythonModules with a member per function: positional args, kwargs, generators, async', () => {
    const { text, summary } = declarations(
      [
        module('m', [
          fn('fib', [{ name: 'n', kind: 'positional', type: t.int, default: false }], t.int, { doc: 'Fibonacci: */ ends here?' }),
          fn(
            'opts',
            [
              { name: 'a', kind: 'positional_only', type: t.int, default: true },
              { name: 'b', kind: 'positional', type: t.str, default: true },
              { name: 'rest', kind: 'var_positional', type: { kind: 'union', options: [t.int, t.str] }, default: false },
              { name: 'key', kind: 'keyword', type: t.str, default: false },
              { name: 'extra', kind: 'var_keyword', type: t.int, default: false },
            ],
            t.none,
          ),
          fn('only_extra', [{ name: 'kw', kind: 'var_keyword', type: t.unknown, default: false }], t.none),
          fn('gen', [], { kind: 'iterator', async: false, items: t.str }, { kind: 'generator' }),
          fn('agen', [], { kind: 'iterator', async: true, items: t.int }, { kind: 'asyncgenerator' }),
          fn('coro', [], { kind: 'awaitable', result: t.str }, { kind: 'async' }),
          fn('opaque', null, t.unknown, { note: 'its signature cannot be read (builtin)' }),
          fn('class', [{ name: 'function', kind: 'positional', type: t.int, default: false }], t.int),
        ]),
        module('pkg.sub', []),
      ],
      { arrow: false },
    );
    expect(summary).to.deep.equal({ modules: 2, functions: 8 });
    expect(text).to.contain("import type { WithKwargs } from '@piton/python-bridge';");
    expect(text).to.contain("declare module '@piton/python-bridge' {\n  interface PythonModules {\n    m: {\n");
    expect(text).to.contain('      /** Fibonacci: *\\/ ends here? */\n      fib(n: number): number;\n');
    expect(text).to.contain('      opts: WithKwargs<(a?: number, b?: string, ...rest: (number | string)[]) => null, { b?: string; key: string; [key: string]: number | string | undefined }>;\n');
    expect(text).to.contain('      only_extra: WithKwargs<() => null, Record<string, unknown>>;\n');
    expect(text).to.contain('      /** A generator: `pool.stream()` it. */\n      gen(): Iterator<string>;\n');
    expect(text).to.contain('      agen(): AsyncIterator<number>;\n');
    expect(text).to.contain('      /** `async def` */\n      coro(): Promise<string>;\n');
    expect(text).to.contain('      /** Untyped: its signature cannot be read (builtin). */\n      opaque: WithKwargs<(...args: unknown[]) => unknown, Record<string, unknown>>;\n');
    expect(text).to.contain('      class(function_: number): number;\n');
    expect(text).to.contain("    'pkg.sub': {\n    };\n");
  });

  it('names a class by its Python name, and a second form `NameInput` only where sending differs and is used', () => {
    const uses = (type: PyType) => [fn('take', [{ name: 'v', kind: 'positional', type, default: false }], type)];
    const { text } = declarations([module('geo', uses({ kind: 'union', options: [{ kind: 'ref', id: 'geo.Point' }, { kind: 'ref', id: 'geo.Shape' }] }), [point, shape])], { arrow: false });
    expect(text).to.contain('/**\n * A point.\n * Python: `geo.Point`\n */\nexport type Point = [x: number, default_: number];\n');
    expect(text).to.contain('/** Python: `geo.Shape`, as received */\nexport type Shape = unknown /* enum geo.Shape: a member of a plain Enum is refused by the wire');
    expect(text).to.contain("/** Python: `geo.Shape`, as sent */\nexport type ShapeInput = 'a';\n");
    expect(text).to.contain('take(v: Point | ShapeInput): Point | Shape;');

    // Only sent: one name, with the sent form.
    const sentOnly = declarations([module('geo', [fn('take', [{ name: 'v', kind: 'positional', type: { kind: 'ref', id: 'geo.Shape' }, default: false }], t.none)], [shape])], { arrow: false });
    expect(sentOnly.text).to.contain("export type Shape = 'a';");
    expect(sentOnly.text).to.not.contain('ShapeInput');
    expect(sentOnly.text).to.contain('export {};');
  });

  it('a class that holds one whose forms differ has two forms too; unused classes are left out', () => {
    const holder: PyDef = { id: 'geo.Holder', name: 'Holder', module: 'geo', doc: null, kind: 'typeddict', fields: [{ name: 'shape', type: { kind: 'ref', id: 'geo.Shape' }, required: true }] };
    const { text } = declarations(
      [module('geo', [fn('hold', [{ name: 'h', kind: 'positional', type: { kind: 'ref', id: 'geo.Holder' }, default: false }], { kind: 'ref', id: 'geo.Holder' })], [holder, shape, point])],
      { arrow: false },
    );
    expect(text).to.contain('export interface Holder {\n  shape: Shape;\n}');
    expect(text).to.contain('export interface HolderInput {\n  shape: ShapeInput;\n}');
    expect(text).to.contain('hold(h: HolderInput): Holder;');
    expect(text).to.not.contain('Point');
  });

  it('gives a class whose name is taken (a global the file uses, or another module\'s class) a name with its module', () => {
    const mapDef: PyDef = { id: 'a.Map', name: 'Map', module: 'a', doc: null, kind: 'typeddict', fields: [] };
    const pointA: PyDef = { ...point, id: 'a.Point', module: 'a' };
    const pointB: PyDef = { ...point, id: 'b.Point', module: 'b' };
    const { text } = declarations(
      [
        module('a', [fn('f', [], { kind: 'union', options: [{ kind: 'ref', id: 'a.Map' }, { kind: 'ref', id: 'a.Point' }] })], [mapDef, pointA]),
        module('b', [fn('g', [], { kind: 'ref', id: 'b.Point' })], [pointB]),
      ],
      { arrow: false },
    );
    expect(text).to.contain('export interface a_Map {\n}');
    expect(text).to.contain('f(): a_Map | Point;');
    expect(text).to.contain('g(): b_Point;');
  });

  it('writes the same text for the same reports', () => {
    const reports = [module('geo', [fn('take', [{ name: 'p', kind: 'positional', type: { kind: 'ref', id: 'geo.Point' }, default: false }], { kind: 'ref', id: 'geo.Shape' })], [point, shape])];
    expect(declarations(reports, { arrow: false }).text).to.equal(declarations(structuredClone(reports), { arrow: false }).text);
  });
});

describe('typegen: the arguments of `piton types`', () => {
  it('reads its options, each list repeatable, with the defaults of a pool', () => {
    expect(parseCommand(['types'])).to.deep.equal({
      command: 'types',
      paths: [],
      modules: [],
      out: undefined,
      check: false,
      watch: false,
      python: undefined,
      allowModules: [],
      allowPrivate: false,
      allowReexports: [],
      timeout: undefined,
    });
    expect(
      parseCommand([
        'types', '--path', 'a', '--path', 'b', '--module', 'm', '--out', 'x.d.ts', '--check', '--python', 'python3.12',
        '--allow-module', 'json', '--allow-private', '--allow-reexports', '*', '--timeout', '2500',
      ]),
    ).to.deep.equal({
      command: 'types',
      paths: ['a', 'b'],
      modules: ['m'],
      out: 'x.d.ts',
      check: true,
      watch: false,
      python: 'python3.12',
      allowModules: ['json'],
      allowPrivate: true,
      allowReexports: ['*'],
      timeout: 2500,
    });
  });

  it('refuses what it cannot do, naming the option', () => {
    expect(() => parseCommand(['types', '--check', '--watch'])).to.throw('--check and --watch cannot be used together');
    expect(() => parseCommand(['types', '--timeout', '1.5'])).to.throw('--timeout must be a whole number of milliseconds >= 1, got "1.5"');
    expect(() => parseCommand(['types', '--allow-privat'])).to.throw("Unknown option '--allow-privat'; did you mean --allow-private?");
    expect(() => parseCommand(['types', 'py'])).to.throw("Unexpected argument 'py'");
  });
});
