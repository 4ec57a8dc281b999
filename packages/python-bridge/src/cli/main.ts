#!/usr/bin/env node
/** `piton`: the command line of @piton/python-bridge (`npx piton setup`, `doctor`, `keys`, `types`). */
import { parseCommand, USAGE } from './args.js';
import { doctor } from './doctor.js';
import { keys } from './keys.js';
import { setup, SetupError } from './setup.js';
import { types } from './types.js';

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
      return setup(command);
    case 'doctor':
      return doctor(command);
    case 'keys':
      return keys(command);
    case 'types':
      return types(command);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`piton: ${error instanceof SetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
