// The types of @piton/core as a consumer meets them: tsc compiles test/types/well-typed.ts cleanly,
// and fails on test/types/misuse.ts exactly on the lines marked `// error TSxxxx`, with those codes
// (a missing or wrong worker argument, a template used as a plain child or added by a static
// supervisor's startChild, a wrong startChild, a bad stop timeout, an exit without reason, a
// whereis handle's path read as a string).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const project = join(here, 'types');
const tsc = join(here, '..', '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');

/** `file:line TSxxxx` for every diagnostic tsc reports on the project. */
function diagnostics(output: string): string[] {
  return [...output.matchAll(/^(?:.*[\\/])?([\w.-]+\.ts)\((\d+),\d+\): error (TS\d+):/gm)].map(([, file, line, code]) => `${file}:${line} ${code}`);
}

/** `misuse.ts:line TSxxxx` for every line marked `// error TSxxxx`. */
function marked(file: string): string[] {
  return readFileSync(join(project, file), 'utf8')
    .split('\n')
    .flatMap((text, i) => [...text.matchAll(/\/\/ error (TS\d+)/g)].map(([, code]) => `${file}:${i + 1} ${code}`));
}

describe('types: what a consumer of @piton/core may and may not write (tsc)', function () {
  this.timeout(60_000);
  let reported: string[];

  before(async () => {
    const output = await new Promise<string>((resolve) => {
      execFile(process.execPath, [tsc, '-p', project, '--pretty', 'false'], { encoding: 'utf8' }, (_error, stdout, stderr) => resolve(stdout + stderr));
    });
    reported = diagnostics(output);
    expect(reported, output).to.not.be.empty;
  });

  it('well-typed.ts compiles: inferred and explicit worker arguments, templates, typed startChild, whereis', () => {
    expect(reported.filter((d) => d.startsWith('well-typed.ts'))).to.deep.equal([]);
  });

  it('misuse.ts fails on each marked line with the marked code, and nowhere else', () => {
    const expected = marked('misuse.ts');
    expect(expected).to.have.length.greaterThan(8);
    expect(reported.filter((d) => d.startsWith('misuse.ts')).sort()).to.deep.equal(expected.sort());
  });
});
