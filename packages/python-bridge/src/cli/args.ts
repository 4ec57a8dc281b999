/** The command line of `piton`: a command, then its options; unknown options are errors. */
import { parseArgs } from 'node:util';
import { closest } from '../validation.js';
import { parseTypesOptions, TYPES_OPTIONS, type TypesOptions } from './types.js';

export const USAGE = `Usage:
  npx piton setup  [--python PYTHON] [--numpy] [--arrow] [--requirements FILE]...
      Makes the project's Python environment (<project>/.venv) that the pool uses by default,
      installs pyzmq and msgpack (and numpy, pyarrow for DataFrames and Arrow tables, and FILE's
      requirements), checks it and says how the pool finds it. Re-running only installs what is missing.
  npx piton doctor [--python PYTHON]
      Checks an interpreter (by default the one the pool would choose from here) and prints the
      command that fixes each problem. Exits 1 when a required check fails.
  npx piton keys   [--out PREFIX]
      Makes a CURVE key pair for an agent or a pool (interpreters on other hosts). Prints it; with
      --out, writes the secret key to PREFIX.key (mode 0600) and the public key to PREFIX.pub.
  npx piton types  [--path DIR]... [--module NAME]... [--out FILE] [--check | --watch]
                   [--python PYTHON] [--allow-module NAME]... [--allow-private]
                   [--allow-reexports MODULE]... [--timeout MS]
      Writes TypeScript declarations (FILE, default DIR/piton-types.d.ts) from the type hints of
      the Python modules under DIR (default: .) that a pool with that path and those allow options
      could call, so that pool.call(), pool.module() and pool.stream() are checked against them.
      --check exits 1 when FILE differs from what would be written; --watch rewrites it whenever
      a module changes. A module whose import fails, or takes more than MS (default 10000), is
      left out with a warning.`;

export type Command =
  | { command: 'setup'; python: string | undefined; numpy: boolean; arrow: boolean; requirements: string[] }
  | { command: 'doctor'; python: string | undefined }
  | { command: 'keys'; out: string | undefined }
  | ({ command: 'types' } & TypesOptions)
  | { command: 'help' };

const OPTIONS: Record<string, string[]> = {
  setup: ['--python', '--numpy', '--arrow', '--requirements'],
  doctor: ['--python'],
  keys: ['--out'],
  types: Object.keys(TYPES_OPTIONS).map((name) => `--${name}`),
};

/** Parses `argv` (without node and the script); throws an Error whose message is for the user. */
export function parseCommand(argv: readonly string[]): Command {
  try {
    return parse(argv);
  } catch (error) {
    const unknown = /^Unknown option '(--?[^']+)'/.exec((error as Error).message)?.[1];
    const guess = unknown === undefined ? undefined : closest(unknown, OPTIONS[argv[0] ?? ''] ?? []);
    throw new Error(`${(error as Error).message.split('. ')[0]}${guess === undefined ? '' : `; did you mean ${guess}?`}`);
  }
}

function parse(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') return { command: 'help' };
  if (command === 'setup') {
    const { values } = parseArgs({
      args: [...rest],
      options: {
        python: { type: 'string' },
        numpy: { type: 'boolean' },
        arrow: { type: 'boolean' },
        requirements: { type: 'string', short: 'r', multiple: true },
      },
      strict: true,
      allowPositionals: false,
    });
    return { command, python: values.python, numpy: values.numpy ?? false, arrow: values.arrow ?? false, requirements: values.requirements ?? [] };
  }
  if (command === 'doctor') {
    const { values } = parseArgs({ args: [...rest], options: { python: { type: 'string' } }, strict: true, allowPositionals: false });
    return { command, python: values.python };
  }
  if (command === 'keys') {
    const { values } = parseArgs({ args: [...rest], options: { out: { type: 'string' } }, strict: true, allowPositionals: false });
    return { command, out: values.out };
  }
  if (command === 'types') {
    const { values } = parseArgs({ args: [...rest], options: TYPES_OPTIONS, strict: true, allowPositionals: false });
    return { command, ...parseTypesOptions(values) };
  }
  throw new Error(`unknown command "${command}"`);
}
