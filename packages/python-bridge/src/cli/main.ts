#!/usr/bin/env node
/** `piton`: the command line of @piton/python-bridge (`npx piton setup`, `doctor`, `keys`, `types`). */
// Each command is loaded when it runs: `types` needs neither the pool nor zeromq.
import { parseCommand, USAGE } from './args.js';

async function main(argv: readonly string[]): Promise<number> {
  let command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    console.error(`piton: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  switch (command.command) {
    case 'help':
      console.log(USAGE);
      return 0;
    case 'setup':
      return (await import('./setup.js')).setup(command);
    case 'doctor':
      return (await import('./doctor.js')).doctor(command);
    case 'keys':
      return (await import('./keys.js')).keys(command);
    case 'types':
      return (await import('./types.js')).types(command);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    const { SetupError } = await import('./setup.js');
    console.error(`piton: ${error instanceof SetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
