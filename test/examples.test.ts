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
    expect(stdout).to.match(/SIGKILLed\s+InterpreterExitedError \(SIGKILL\)/);
    expect(stdout).to.match(/ready interpreters after the replacement\s+2 \(restarts: 1\)/);
    expect(stdout).to.contain('fib(25) = 75025');
  });

  it('numpy: arrays to numpy and back, checked in JavaScript', async () => {
    const { code, stdout, stderr } = await runExample('numpy');
    expect(code, `${stdout}\n${stderr}`).to.equal(0);
    expect(stdout).to.not.match(/mismatch|WRONG/i);
  });

  it('dataframes: a table to pandas and a group-by back as an Arrow table, served as JSON and Arrow IPC', async () => {
    const { code, stdout, stderr, pid } = await runExample('dataframes');
    expect(code, `${stdout}\n${stderr}`).to.equal(0);
    expect(workersOf(pid)).to.deep.equal([]);
    expect(stdout).to.contain('discounts sent as an Arrow table: 2 regions');
    expect(stdout).to.match(/pandas group-by over 200,000 sales → 20 rows × 6 columns/);
    expect(stdout).to.contain('region (Dictionary<Int8, LargeUtf8>), product (Dictionary<Int8, LargeUtf8>)');
    expect(stdout).to.match(/GET \/summary\.json: 20 rows/);
    expect(stdout).to.match(/GET \/summary\.arrow: 20 rows, [\d,]+ bytes, the same rows/);
    expect(stdout).to.contain('south   rope             38328619.84  101493 units, 10177 sales, last 2024-12-31T23:59:06.000Z');
    expect(stdout).to.contain('stopped: no interpreter left running');
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

  it('custom-tree: an ignored child, deferred replies, a crash, a restart and an escalation, then a clean stop', async () => {
    const { code, stdout, stderr } = await runExample('custom-tree');
    expect(code, stderr).to.equal(0);
    expect(stdout).to.match(/ignored\s+app\/root\/exporter/);
    expect(stdout).to.contain('exporter: not started (EXPORT_TO is not set)');
    expect(stdout).to.contain('pay 1 and pay 2 at once -> balances 31 and 33');
    expect(stdout).to.contain('the ledger kept its state');
    expect(stdout).to.contain('a fresh ledger');
  });

  it('observer: serves the live page of its tree, then stops on SIGINT with nothing left', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'examples', 'observer', 'index.ts')], {
      cwd: repoRoot,
      env: { ...process.env, OBSERVER_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const found = /observer: (http:\/\/\S+)/.exec(stdout);
        if (found) resolve(found[1]!);
      });
      child.once('close', () => reject(new Error(`the example exited before printing its URL:\n${stdout}\n${stderr}`)));
    });
    const page = await fetch(url);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.contain('Piton observer');
    const snapshot = (await (await fetch(new URL('api/snapshot', url))).json()) as { tree: { path: string }[]; pools: { name: string }[] };
    expect(snapshot.tree.map((n) => n.path)).to.deep.equal(['demo/root']);
    expect(snapshot.pools.map((p) => p.name)).to.deep.equal(['python']);
    child.kill('SIGINT');
    expect(await closed, stderr).to.equal(0);
    expect(stdout).to.contain('stopped');
    expect(workersOf(child.pid!)).to.deep.equal([]);
  });
});
