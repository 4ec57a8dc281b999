// Runaway functions: stuck in C, hogging memory, flooding the output. The pool contains each one
// and keeps serving.
import { expect } from 'chai';
import { CallTimeoutError, PythonPool, InterpreterExitedError, type InterpreterOutput } from '@piton/python-bridge';
import { fixtures, isAlive } from './helpers.js';
import { until } from './support.js';

const MiB = 1024 * 1024;
/** The documented bound of `InterpreterExitedError.stderrTail`: at most 50 lines and 8 KiB. */
const STDERR_TAIL_LINES = 50;
const STDERR_TAIL_CHARS = 8 * 1024;

/** Resolves once the pool serves `size` live interpreters none of which is `pid`. */
async function replaced(pool: PythonPool, pid: number, size = 1): Promise<void> {
  await until(
    () => pool.interpreters().length === size && pool.interpreters().every((i) => i.pid !== pid && isAlive(i.pid)),
    `a replacement for interpreter ${pid}`,
  );
}

describe('runaways: stuck in C', function () {
  this.timeout(30_000);
  let pool: PythonPool;

  beforeEach(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['runaways'], supervision: { intensity: 20 }, shutdownTimeout: 500 });
  });

  afterEach(() => pool.stop());

  for (const [what, fn] of [
    ['sleeping in C with SIGTERM blocked', 'blocked_in_c'],
    ['backtracking in the C regex engine, holding the GIL', 'regex_hog'],
  ] as const) {
    it(`kills a function ${what} at its timeout, and replaces the interpreter`, async () => {
      const pid = pool.interpreters()[0]!.pid;
      const started = performance.now();
      const error = await pool.call('runaways', fn, [], { timeout: 400 }).catch((e: unknown) => e);
      const took = performance.now() - started;
      expect(error).to.be.instanceOf(CallTimeoutError);
      expect((error as CallTimeoutError).timeout).to.equal(400);
      // Not held up by SIGTERM grace periods: the timeout itself ends the call.
      expect(took).to.be.below(2_000);
      await until(() => !isAlive(pid), `interpreter ${pid} to be gone`, 5_000);
      await replaced(pool, pid);
      expect(await pool.call('runaways', 'pid')).to.equal(pool.interpreters()[0]!.pid);
    });
  }

  it('stop() kills an interpreter stuck in C after shutdownTimeout and its grace, leaving nothing', async () => {
    const pid = pool.interpreters()[0]!.pid;
    const stuck = pool.call('runaways', 'regex_hog').catch((e: unknown) => e);
    await until(() => pool.interpreters()[0]?.busy === true, 'the interpreter to be busy', 5_000);
    await pool.stop();
    expect(isAlive(pid)).to.equal(false);
    expect(await stuck).to.be.instanceOf(InterpreterExitedError);
  });
});

describe('runaways: recycle.aboveMemory', function () {
  this.timeout(30_000);
  let pool: PythonPool;

  beforeEach(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, preload: ['runaways'], recycle: { aboveMemory: 150 * MiB } });
  });

  afterEach(() => pool.stop());

  it('returns the result of the call that went over, then recycles its interpreter', async () => {
    const pid = pool.interpreters()[0]!.pid;
    // 200 MiB written, so resident: over the limit once the call has returned.
    expect(await pool.call('runaways', 'hog', [200])).to.equal(pid);
    await replaced(pool, pid);
    const fresh = pool.interpreters()[0]!.pid;
    expect(await pool.call('runaways', 'pid')).to.equal(fresh);
    expect(await pool.call<number>('runaways', 'rss')).to.be.below(150 * MiB);
    expect(isAlive(pid)).to.equal(false);
  });

  it('keeps an interpreter that stays under the limit', async () => {
    const pid = pool.interpreters()[0]!.pid;
    for (let i = 0; i < 5; i++) expect(await pool.call('runaways', 'hog', [10])).to.equal(pid);
    expect(pool.interpreters().map((i) => i.pid)).to.deep.equal([pid]);
    expect(pool.stats().restarts).to.equal(0);
  });

  it('serves a call queued behind the one that went over on the fresh interpreter', async () => {
    const pid = pool.interpreters()[0]!.pid;
    const [hogged, next] = await Promise.all([pool.call('runaways', 'hog', [200]), pool.call('runaways', 'pid')]);
    expect(hogged).to.equal(pid);
    expect(next).to.not.equal(pid);
    expect(isAlive(next as number)).to.equal(true);
  });
});

describe('runaways: output floods', function () {
  this.timeout(60_000);
  let pool: PythonPool;
  const lines: InterpreterOutput[] = [];
  let count = { stdout: 0, stderr: 0 };
  let longest = 0;

  beforeEach(async () => {
    count = { stdout: 0, stderr: 0 };
    longest = 0;
    lines.length = 0;
    pool = await PythonPool.start({
      size: 1,
      path: fixtures,
      preload: ['runaways'],
      supervision: { intensity: 20 },
      onOutput: (output) => {
        count[output.stream]++;
        longest = Math.max(longest, output.line.length);
        if (lines.length < 4) lines.push(output);
      },
    });
  });

  afterEach(() => pool.stop());

  it('128 MiB of lines on stdout: the call completes, every line arrives, Node memory stays bounded', async () => {
    const before = process.memoryUsage().rss;
    const printed = await pool.call<number>('runaways', 'flood', [128, 'stdout'], { timeout: 30_000 });
    await until(() => count.stdout === printed, `${printed} lines (seen ${count.stdout})`);
    const growth = process.memoryUsage().rss - before;
    const { worker, stream, line, callId } = lines[0]!;
    expect({ worker, stream, line }).to.deep.equal({ worker: 'python-1', stream: 'stdout', line: 'y'.repeat(1023) });
    expect(callId, 'the line names the call that printed it').to.match(/^\d+-\d+$/);
    // Held whole, 128 MiB of output would be 256 MiB of JavaScript strings.
    expect(growth, `RSS growth of ${(growth / MiB).toFixed(1)} MiB`).to.be.below(64 * MiB);
    expect(await pool.call('runaways', 'pid')).to.equal(pool.interpreters()[0]!.pid);
  });

  it('one line of 128 MiB on stderr: cut at 64 KiB, the call completes, memory stays bounded', async () => {
    const before = process.memoryUsage().rss;
    expect(await pool.call('runaways', 'flood_one_line', [128, 'stderr'], { timeout: 30_000 })).to.equal(128);
    await until(() => count.stderr === 1, 'the cut line');
    const growth = process.memoryUsage().rss - before;
    expect(longest).to.be.at.most(64 * 1024 + 64);
    expect(lines[0]!.line).to.match(/^z+ \[line cut at 64 KiB\]$/);
    expect(growth, `RSS growth of ${(growth / MiB).toFixed(1)} MiB`).to.be.below(64 * MiB);
  });

  it("after a flood on stderr, a crash's stderrTail is bounded and ends with the last words", async () => {
    const error = await pool.call('runaways', 'flood_then_die', [16, 9]).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InterpreterExitedError);
    const { exitCode, stderrTail } = error as InterpreterExitedError;
    expect(exitCode).to.equal(9);
    expect(stderrTail.length).to.be.at.most(STDERR_TAIL_CHARS);
    expect(stderrTail.split('\n').length).to.be.at.most(STDERR_TAIL_LINES);
    expect(stderrTail.endsWith('last words')).to.equal(true);
    await pool.whenReady();
    expect(await pool.call('runaways', 'pid')).to.equal(pool.interpreters()[0]!.pid);
  });
});
