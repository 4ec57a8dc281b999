import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, workersOf } from './helpers.js';

/** Runs an example as a user would, and resolves with its exit code and output. */
function runExample(name: string): Promise<{ code: number | null; stdout: string; stderr: string; pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'examples', name, 'index.ts')], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, pid: child.pid! })));
}

describe('examples run as documented', function () {
  this.timeout(60_000);

  it('fibonacci (npm run demo): 6765, an exception, a replacement, and nothing left running', async () => {
    const { code, stdout, stderr, pid } = await runExample('fibonacci');
    expect(code, stderr).to.equal(0);
    expect(workersOf(pid)).to.deep.equal([]);
    expect(stdout).to.match(/pool\.call\('functions', 'fib', \[20\]\)\s+6765/);
    expect(stdout).to.match(/fib\(-1\) raised\s+Exception: No negative values !!!/);
    expect(stdout).to.match(/ready interpreters after the exception\s+2/);
    expect(stdout).to.match(/SIGKILLed\s+WorkerExitedError \(SIGKILL\)/);
    expect(stdout).to.match(/ready interpreters after the replacement\s+2 \(restarts: 1\)/);
    expect(stdout).to.contain('fib(25) = 75025');
  });

  it('numpy: arrays to numpy and back, checked in JavaScript', async () => {
    const { code, stdout, stderr } = await runExample('numpy');
    expect(code, `${stdout}\n${stderr}`).to.equal(0);
    expect(stdout).to.not.match(/mismatch|WRONG/i);
  });

  it('callbacks (npm run example:callbacks): Python asks Node for prices, the bar reaches 100 %', async () => {
    const { code, stdout, stderr, pid } = await runExample('callbacks');
    expect(code, `${stdout}\n${stderr}`).to.equal(0);
    expect(workersOf(pid)).to.deep.equal([]);
    const bars = stdout.split('\n').filter((line) => line.startsWith('['));
    expect(bars).to.have.length(8);
    expect(bars.at(-1)).to.contain('100% (8/8)');
    expect(stdout).to.contain('missing: caviar (UnknownSkuError: no price for caviar)');
    expect(stdout).to.contain('prices looked up in Node: 24');
    expect(stdout).to.contain('totals checked in JavaScript');
  });

  it('custom-tree: a crash, a restart and an escalation, then a clean stop', async () => {
    const { code, stdout, stderr } = await runExample('custom-tree');
    expect(code, stderr).to.equal(0);
    expect(stdout).to.contain('the ledger kept its state');
    expect(stdout).to.contain('a fresh ledger');
  });
});

