import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OUTPUT_MARKER } from '../../src/launch/child-process.js';
import {
  EncodeError,
  InterpreterStartError,
  MessageTooLargeError,
  PitonError,
  ProtocolError,
  PythonError,
  InterpreterExitedError,
} from '../../src/errors.js';
import { ExposedFunctions } from '../../src/interpreter/callbacks.js';
import { Interpreter, type InterpreterOptions } from '../../src/interpreter/interpreter.js';
import { PROTOCOL_VERSION } from '../../src/wire/protocol.js';
import { NdArray, ndarray } from '../../src/wire/ndarray.js';
import { createCodec, type Codec } from '../../src/wire/codec.js';
import { encodeCallBody, type EncodedCall } from '../../src/wire/encoded-call.js';
import { resolvePython } from '../../src/environment/python-executable.js';
import { reportedByPython } from '../../../../test/helpers.js';
import { rejection, until } from '../../../../test/support.js';

const codec = createCodec();
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/interp', import.meta.url));
const FAKE_WORKER = fileURLToPath(new URL('../fixtures/fake-worker', import.meta.url));


/** The codec of each interpreter's size limit, as its pool would encode calls with. */
const codecs = new WeakMap<Interpreter, Codec>();

/**
 * One call, as a pool makes it: encoded at `call()` (a value that cannot be sent rejects here,
 * before anything is sent), then run.
 */
function call(interpreter: Interpreter, module: string, fn: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<unknown> {
  let encoded: EncodedCall;
  try {
    encoded = encodeCallBody(codecs.get(interpreter) ?? codec, module, fn, args, kwargs);
  } catch (error) {
    return Promise.reject(error);
  }
  return interpreter.run(encoded);
}


function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Workers started by this Node process, found in /proc by their --parent-pid argument (not their
 * process-group guards, named piton-guard, which die with them).
 */
function ourWorkers(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--parent-pid');
      const guard = readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'piton-guard';
      if (args.some((arg) => arg.includes('piton.worker')) && !guard && at !== -1 && args[at + 1] === String(process.pid) && isRunning(Number(entry))) {
        found.push(Number(entry));
      }
    } catch {
      // exited while we looked
    }
  }
  return found;
}

describe('Interpreter', function () {
  this.timeout(60_000);
  let python: string;
  let scratch: string;
  const started: Interpreter[] = [];

  before(async () => {
    python = await resolvePython(undefined, REPO);
    scratch = mkdtempSync(join(tmpdir(), 'piton-interp-test-'));
  });

  afterEach(async () => {
    // Whatever a test left running (a failed assertion, say) is killed here.
    for (const interpreter of started.splice(0)) {
      interpreter.kill();
      await interpreter.exited;
    }
  });

  after(() => {
    rmSync(scratch, { recursive: true, force: true });
    expect(ourWorkers()).to.deep.equal([]);
  });

  function options(extra: Partial<InterpreterOptions> = {}): InterpreterOptions {
    return { id: 'w1', python, path: [FIXTURES], startTimeout: 20_000, maxMessageSize: 64 * 1024 * 1024, ...extra };
  }

  async function start(extra: Partial<InterpreterOptions> = {}): Promise<Interpreter> {
    const opts = options(extra);
    const interpreter = await Interpreter.start(opts);
    started.push(interpreter);
    codecs.set(interpreter, createCodec({ maxMessageSize: opts.maxMessageSize }));
    return interpreter;
  }

  let markers = 0;
  function marker(): string {
    return join(scratch, `marker-${++markers}`);
  }

  describe('start', () => {
    it('handshakes: pid, Python version, protocol and runtime version', async () => {
      const interpreter = await start();
      expect(interpreter.info.pid).to.equal(interpreter.pid);
      expect(interpreter.info.protocol).to.equal(PROTOCOL_VERSION);
      expect(interpreter.info.python).to.match(/^3\.\d+/);
      expect(interpreter.info.piton).to.be.a('string').and.not.equal('');
      expect(interpreter.alive).to.equal(true);
      expect(interpreter.busy).to.equal(false);
      expect(isRunning(interpreter.pid)).to.equal(true);
    });

    it('makes a private directory (0700) for the endpoint and removes it after the exit', async () => {
      const interpreter = await start();
      const dir = interpreter.endpoint.replace(/^ipc:\/\//, '').replace(/\/worker\.sock$/, '');
      expect(statSync(dir).mode & 0o777).to.equal(0o700);
      expect(existsSync(join(dir, 'worker.sock'))).to.equal(true);
      await interpreter.stop();
      expect(existsSync(dir)).to.equal(false);
    });

    describe('failures (no process and no directory left behind)', () => {
      let ownTmp: string;
      let savedTmp: string | undefined;

      // os.tmpdir() follows $TMPDIR: a directory of our own shows what a failed start leaves.
      beforeEach(() => {
        savedTmp = process.env.TMPDIR;
        ownTmp = mkdtempSync(join(scratch, 'tmp-'));
        process.env.TMPDIR = ownTmp;
      });
      afterEach(() => {
        if (savedTmp === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = savedTmp;
      });

      function leftovers(): string[] {
        return readdirSync(ownTmp);
      }

      it('rejects with the traceback when a preload raises', async () => {
        const error = await rejection(Interpreter.start(options({ preload: ['raises_on_preload'] })));
        expect(error).to.be.instanceOf(InterpreterStartError);
        const startError = error as InterpreterStartError;
        expect(startError.message).to.contain('exited with code 3 before reporting ready');
        expect(startError.message).to.contain('Traceback').and.contain('preload exploded on purpose');
        expect(startError.exitCode).to.equal(3);
        expect(startError.stderrTail).to.contain('RuntimeError: preload exploded on purpose');
        expect(leftovers()).to.deep.equal([]);
        expect(ourWorkers()).to.deep.equal([]);
      });

      it('rejects when the Python executable does not exist', async () => {
        const error = await rejection(Interpreter.start(options({ python: join(scratch, 'no-such-python') })));
        expect(error).to.be.instanceOf(InterpreterStartError);
        expect((error as Error).message).to.contain('could not be spawned').and.contain('ENOENT');
        expect(leftovers()).to.deep.equal([]);
      });

      it('names a working directory that does not exist, not the executable', async () => {
        const missing = join(scratch, 'no-such-dir');
        const error = await rejection(Interpreter.start(options({ cwd: missing })));
        expect(error).to.be.instanceOf(InterpreterStartError);
        expect((error as Error).message).to.contain(`could not be spawned from "${python}": the working directory "${missing}" does not exist`);
        expect(leftovers()).to.deep.equal([]);
      });

      it('kills an interpreter that does not report ready in time', async () => {
        const error = await rejection(Interpreter.start(options({ preload: ['slow_preload'], startTimeout: 1_000 })));
        expect(error).to.be.instanceOf(InterpreterStartError);
        expect((error as Error).message).to.contain('did not report ready within 1000 ms');
        expect(leftovers()).to.deep.equal([]);
        expect(ourWorkers()).to.deep.equal([]);
      });

      it('names both protocol versions on a mismatch', async () => {
        const error = await rejection(
          Interpreter.start(options({ env: { PYTHONPATH: FAKE_WORKER, FAKE_MODE: 'old-protocol' } })),
        );
        expect(error).to.be.instanceOf(InterpreterStartError);
        expect((error as Error).message).to.contain('speaks protocol 1, this Node side speaks 3');
        expect(leftovers()).to.deep.equal([]);
      });

      it('is refused by a runtime of protocol 1, naming the versions, and the worker is gone', async () => {
        const error = await rejection(Interpreter.start(options({ env: { PYTHONPATH: FAKE_WORKER, FAKE_MODE: 'v1-runtime' } })));
        expect(error).to.be.instanceOf(InterpreterStartError);
        // Its reply and its exit race to Node; either way the message says what is wrong.
        expect((error as Error).message).to.match(/Node speaks 3, this worker \(piton 0\.1\.0\) speaks 1|exit code 2: it does not speak this Node side's protocol 3/);
        expect(leftovers()).to.deep.equal([]);
        expect(ourWorkers()).to.deep.equal([]);
      });

      it('is refused by a runtime of protocol 1 when it names exposed functions too (the hello it cannot read)', async () => {
        const callbacks = new ExposedFunctions({ lookup: () => 1 }, {});
        const error = await rejection(
          Interpreter.start(options({ env: { PYTHONPATH: FAKE_WORKER, FAKE_MODE: 'v1-runtime' }, callbacks })),
        );
        expect(error).to.be.instanceOf(InterpreterStartError);
        expect((error as Error).message).to.contain("'hello' must be").and.contain('this Node side speaks protocol 3');
        expect(leftovers()).to.deep.equal([]);
        expect(ourWorkers()).to.deep.equal([]);
      });
    });
  });

  describe('call', () => {
    it('calls with args and kwargs', async () => {
      const interpreter = await start();
      expect(await call(interpreter, 'bridge_funcs', 'add', [1, 2], { scale: 10 })).to.equal(30);
      expect(await call(interpreter, 'bridge_funcs', 'echo', ['a', null], { k: [1] })).to.deep.equal([['a', null], { k: [1] }]);
      expect(interpreter.busy).to.equal(false);
    });

    it('round-trips the protocol types through Python', async () => {
      const interpreter = await start();
      const value = {
        ints: [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 40],
        big: [2n ** 64n, -(2n ** 100n), 2n ** 63n],
        floats: [1.5, -0, NaN, Infinity, -Infinity, 2 ** 53],
        text: ['', 'héllo wörld', '😀 astral', 'x'.repeat(70_000)],
        bytes: Buffer.from([0, 1, 255]),
        when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 123)),
        map: new Map<unknown, unknown>([[1, 'one'], ['two', 2]]),
        nested: { a: [{ b: null }, true, false] },
        f64: new Float64Array([1, 2.5, -3]),
        i64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
        u16: new Uint16Array([0, 65535]),
        matrix: ndarray(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
      };
      const back = (await call(interpreter, 'bridge_funcs', 'identity', [value])) as typeof value;
      expect(back).to.deep.equal(value);
      expect(back.matrix).to.be.instanceOf(NdArray);
    });

    it('round-trips an 8 MiB Float64Array', async () => {
      const interpreter = await start();
      const data = new Float64Array(1 << 20).map((_, i) => i * 0.5);
      const back = (await call(interpreter, 'bridge_funcs', 'identity', [data])) as Float64Array;
      expect(back).to.be.instanceOf(Float64Array);
      expect(back.length).to.equal(data.length);
      expect(back[12345]).to.equal(6172.5);
      expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(data.buffer))).to.equal(true);
    });

    it('rejects with PythonError carrying type, message and traceback; the interpreter stays', async () => {
      const interpreter = await start();
      const error = await rejection(call(interpreter, 'bridge_funcs', 'fail', ['bad input']));
      expect(error).to.be.instanceOf(PythonError).and.instanceOf(PitonError);
      const pythonError = error as PythonError;
      expect(pythonError.pythonType).to.equal('bridge_funcs.Oops');
      expect(pythonError.message).to.equal('bad input');
      expect(pythonError.pythonTraceback).to.contain('Traceback').and.contain('raise Oops(message)');
      expect(await call(interpreter, 'bridge_funcs', 'add', [2, 3])).to.equal(5);
      expect(interpreter.alive).to.equal(true);
    });

    it('refuses a value it cannot send before sending anything', async () => {
      const interpreter = await start();
      const pending = call(interpreter, 'bridge_funcs', 'echo', [1, { user: { callback: () => 1 } }]);
      // Nothing went out: the interpreter is not even busy.
      expect(interpreter.busy).to.equal(false);
      const error = await rejection(pending);
      expect(error).to.be.instanceOf(EncodeError);
      expect((error as EncodeError).path).to.equal('args[1].user.callback');
      expect(await call(interpreter, 'bridge_funcs', 'add', [1, 1])).to.equal(2);
    });

    it('refuses messages over maxMessageSize in both directions; the interpreter stays', async () => {
      const interpreter = await start({ maxMessageSize: 4096 });
      const outgoing = await rejection(call(interpreter, 'bridge_funcs', 'identity', [Buffer.alloc(8192)]));
      expect(outgoing).to.be.instanceOf(MessageTooLargeError);
      expect((outgoing as MessageTooLargeError).limit).to.equal(4096);
      // Python refuses to send a reply over its limit (the same one, passed on the command line):
      // the same class as Node's own refusal, with its numbers.
      const incoming = await reportedByPython(call(interpreter, 'bridge_funcs', 'big', [8192]), MessageTooLargeError, 'MessageTooLarge');
      expect(incoming.limit).to.equal(4096);
      expect(incoming.size).to.be.greaterThan(8192);
      expect(incoming).to.not.be.instanceOf(PythonError);
      expect(await call(interpreter, 'bridge_funcs', 'add', [1, 1])).to.equal(2);
    });

    it('refuses a request beyond its lanes while they are all taken (a caller bug)', async () => {
      const interpreter = await start();
      const first = call(interpreter, 'bridge_funcs', 'add', [1, 2]);
      expect(interpreter.busy).to.equal(true);
      const second = await rejection(call(interpreter, 'bridge_funcs', 'add', [3, 4]));
      expect(second).to.be.instanceOf(Error).and.not.instanceOf(PitonError);
      expect((second as Error).message).to.contain('all its 1 lanes taken');
      expect(await first).to.equal(3);
    });

    it('runs a batch, each call with its own outcome', async () => {
      const interpreter = await start();
      const results = await interpreter.runBatch([
        encodeCallBody(codec, 'bridge_funcs', 'add', [1, 2], undefined),
        encodeCallBody(codec, 'bridge_funcs', 'fail', ['second'], undefined),
        encodeCallBody(codec, 'bridge_funcs', 'add', [1], { scale: 5 }),
      ]);
      expect(results[0]).to.deep.equal({ ok: true, value: 3 });
      expect(results[1]!.ok).to.equal(false);
      const failed = results[1] as { ok: false; error: PythonError };
      expect(failed.error).to.be.instanceOf(PythonError);
      expect(failed.error.message).to.equal('second');
      expect(results[2]).to.deep.equal({ ok: true, value: 5 });
    });

    it('hands every printed line to onOutput, tagged by stream', async () => {
      const lines: string[] = [];
      const interpreter = await start({ onOutput: (line, stream) => lines.push(`${stream}: ${line}`) });
      await call(interpreter, 'bridge_funcs', 'say', ['hello']);
      await interpreter.stop();
      expect(lines).to.include('stdout: hello').and.include('stderr: err:hello');
    });
  });

  describe('output', () => {
    it('cuts a line longer than 64 KiB', async () => {
      const lines: string[] = [];
      // Marker lines (which call printed what) are the pool's to take out: this level passes them on.
      const interpreter = await start({ onOutput: (line, stream) => stream === 'stdout' && !line.startsWith(OUTPUT_MARKER) && lines.push(line) });
      await call(interpreter, 'bridge_funcs', 'say', ['y'.repeat(100_000)]);
      await call(interpreter, 'bridge_funcs', 'say', ['after']);
      await interpreter.stop();
      expect(lines).to.have.length(2);
      expect(lines[0]).to.equal('y'.repeat(64 * 1024) + ' [line cut at 64 KiB]');
      expect(lines[1]).to.equal('after');
    });

    it('keeps a bounded stderr tail for the exit error', async () => {
      const interpreter = await start();
      const error = await rejection(call(interpreter, 'bridge_funcs', 'spam_stderr_then_exit', [500, 1]));
      expect(error).to.be.instanceOf(InterpreterExitedError);
      await interpreter.exited;
      const tail = interpreter.stderrTail.split('\n');
      expect(tail).to.have.length(50);
      expect(tail.at(-1)).to.equal('line 499');
    });
  });

  describe('exits during a call', () => {
    it('kill() rejects the outstanding call with InterpreterExitedError promptly (SIGKILL)', async () => {
      const interpreter = await start();
      const file = marker();
      const pending = call(interpreter, 'bridge_funcs', 'started_then_sleep', [file, 60]);
      await until(() => existsSync(file), 'the call to start');
      const killedAt = Date.now();
      interpreter.kill();
      const error = await rejection(pending);
      expect(Date.now() - killedAt).to.be.lessThan(5_000);
      expect(error).to.be.instanceOf(InterpreterExitedError);
      expect((error as InterpreterExitedError).signal).to.equal('SIGKILL');
      expect((error as InterpreterExitedError).exitCode).to.equal(null);
      expect((error as Error).message).to.contain('during a call to bridge_funcs.started_then_sleep');
      const exit = await interpreter.exited;
      expect(exit).to.deep.equal({ code: null, signal: 'SIGKILL', stopRequested: false, killed: true });
      expect(interpreter.alive).to.equal(false);
      expect(await rejection(call(interpreter, 'bridge_funcs', 'add', [1]))).to.be.instanceOf(InterpreterExitedError);
    });

    it('a SIGKILL from outside is an exit we did not ask for', async () => {
      const interpreter = await start();
      const file = marker();
      const pending = call(interpreter, 'bridge_funcs', 'started_then_sleep', [file, 60]);
      await until(() => existsSync(file), 'the call to start');
      process.kill(interpreter.pid, 'SIGKILL');
      const error = await rejection(pending);
      expect(error).to.be.instanceOf(InterpreterExitedError);
      expect((error as InterpreterExitedError).signal).to.equal('SIGKILL');
      expect(await interpreter.exited).to.include({ killed: false, stopRequested: false });
    });

    it('os._exit(3) rejects the call with exitCode 3', async () => {
      const interpreter = await start();
      const error = await rejection(call(interpreter, 'bridge_funcs', 'exit_now', [3]));
      expect(error).to.be.instanceOf(InterpreterExitedError);
      expect((error as InterpreterExitedError).exitCode).to.equal(3);
      expect((error as InterpreterExitedError).signal).to.equal(null);
      expect((await interpreter.exited).code).to.equal(3);
    });
  });

  describe('stop', () => {
    it('stops an idle interpreter gracefully with a stop request (exit code 0)', async () => {
      const interpreter = await start();
      const pid = interpreter.pid;
      const stopping = interpreter.stop();
      expect(interpreter.stop()).to.equal(stopping);
      const exit = await stopping;
      expect(exit).to.deep.equal({ code: 0, signal: null, stopRequested: true, killed: false });
      expect(isRunning(pid)).to.equal(false);
      expect(await interpreter.exited).to.deep.equal(exit);
    });

    it('escalates to SIGKILL when the interpreter ignores the stop request and SIGTERM', async () => {
      const interpreter = await start();
      const file = marker();
      const pending = rejection(call(interpreter, 'bridge_funcs', 'stubborn', [file]));
      await until(() => existsSync(file), 'the stubborn call to start');
      const exit = await interpreter.stop(300);
      expect(exit).to.deep.equal({ code: null, signal: 'SIGKILL', stopRequested: true, killed: false });
      expect(await pending).to.be.instanceOf(InterpreterExitedError);
    });

    it('SIGTERM ends a busy interpreter stuck in time.sleep', async () => {
      const interpreter = await start();
      const file = marker();
      const pending = rejection(call(interpreter, 'bridge_funcs', 'started_then_sleep', [file, 60]));
      await until(() => existsSync(file), 'the call to start');
      const exit = await interpreter.stop(10_000);
      expect(exit).to.deep.equal({ code: 0, signal: null, stopRequested: true, killed: false });
      expect(await pending).to.be.instanceOf(InterpreterExitedError);
    });
  });

  describe('stream', () => {
    it('iterates a generator to the end and frees the interpreter', async () => {
      const interpreter = await start();
      const items: unknown[] = [];
      const stream = interpreter.stream('bridge_funcs', 'count', [5], undefined, { batch: 2 });
      expect(interpreter.busy).to.equal(true);
      for await (const item of stream) items.push(item);
      expect(items).to.deep.equal([0, 1, 2, 3, 4]);
      expect(interpreter.busy).to.equal(false);
      expect(await call(interpreter, 'bridge_funcs', 'add', [1, 1])).to.equal(2);
    });

    it("breaking out closes the generator (its finally runs) and frees the interpreter", async () => {
      const interpreter = await start();
      const file = marker();
      const items: unknown[] = [];
      for await (const item of interpreter.stream('bridge_funcs', 'count', [1_000_000, file])) {
        items.push(item);
        if (item === 2) break;
      }
      expect(items).to.deep.equal([0, 1, 2]);
      // return() resolved after `closed` arrived, so the finally has run already.
      expect(readFileSync(file, 'utf8')).to.equal('finally ran');
      expect(interpreter.busy).to.equal(false);
      expect(await call(interpreter, 'bridge_funcs', 'add', [2, 2])).to.equal(4);
    });

    it('rejects with the PythonError raised mid-stream; the interpreter stays', async () => {
      const interpreter = await start();
      const items: unknown[] = [];
      const error = await rejection(
        (async () => {
          for await (const item of interpreter.stream('bridge_funcs', 'fail_after', [2])) items.push(item);
        })(),
      );
      expect(items).to.deep.equal([0, 1]);
      expect(error).to.be.instanceOf(PythonError);
      expect((error as PythonError).message).to.equal('stream broke after 2');
      expect(interpreter.busy).to.equal(false);
      expect(await call(interpreter, 'bridge_funcs', 'add', [1, 2])).to.equal(3);
    });

    it('fails the stream with InterpreterExitedError when the interpreter dies', async () => {
      const interpreter = await start();
      const stream = interpreter.stream('bridge_funcs', 'count', [10]);
      expect(await stream.next()).to.deep.equal({ done: false, value: 0 });
      interpreter.kill();
      await interpreter.exited;
      expect(await rejection(stream.next())).to.be.instanceOf(InterpreterExitedError);
      expect(await stream.return!()).to.deep.equal({ done: true, value: undefined });
    });
  });

  describe('protocol violations (a stand-in worker)', () => {
    it('a reply with a foreign id rejects the call with ProtocolError and kills the interpreter', async () => {
      const reported: ProtocolError[] = [];
      const interpreter = await start({
        env: { PYTHONPATH: FAKE_WORKER, FAKE_MODE: 'foreign-id' },
        onProtocolError: (error) => reported.push(error),
      });
      const error = await rejection(call(interpreter, 'm', 'f', []));
      expect(error).to.be.instanceOf(ProtocolError);
      expect((error as Error).message).to.match(/answered request \d+ while request \d+ was outstanding/);
      expect(reported).to.deep.equal([error]);
      expect(await interpreter.exited).to.include({ killed: true });
    });

    it('a callback for a name Node does not expose is answered with a throw (ReferenceError)', async () => {
      const callbacks = new ExposedFunctions({ lookup: () => 1 }, {});
      const interpreter = await start({ env: { PYTHONPATH: FAKE_WORKER, FAKE_MODE: 'rogue-callback' }, callbacks });
      const answer = (await call(interpreter, 'm', 'f', [])) as unknown[];
      expect(answer[0]).to.equal('throw');
      expect(answer[2]).to.include({ name: 'ReferenceError', message: 'no Node function named "not_exposed" is exposed to Python' });
      expect(interpreter.alive).to.equal(true);
    });

    it('a callback where none may come (the answer to stop) breaks the protocol', async () => {
      const reported: ProtocolError[] = [];
      const interpreter = await start({
        env: { PYTHONPATH: FAKE_WORKER, FAKE_MODE: 'callback-answers-bye' },
        onProtocolError: (error) => reported.push(error),
      });
      await interpreter.stop();
      expect(reported).to.have.length(1);
      expect(reported[0]!.message).to.contain("unexpected 'callback'");
    });

    for (const mode of ['no-results', 'extra-results']) {
      it(`a batch answered with ${mode === 'no-results' ? 'no results' : 'more results than calls'} rejects with ProtocolError and kills the interpreter`, async () => {
        const reported: ProtocolError[] = [];
        const interpreter = await start({ env: { PYTHONPATH: FAKE_WORKER, FAKE_MODE: mode }, onProtocolError: (error) => reported.push(error) });
        const calls = [encodeCallBody(codec, 'm', 'f', [1], undefined), encodeCallBody(codec, 'm', 'g', [2], undefined)];
        const error = await rejection(interpreter.runBatch(calls));
        expect(error).to.be.instanceOf(ProtocolError);
        expect((error as Error).message).to.match(/answered a batch of 2 calls with (0|3) results/);
        expect(reported).to.deep.equal([error]);
        expect(await interpreter.exited).to.include({ killed: true });
      });
    }

    it('an undecodable reply rejects the call with ProtocolError', async () => {
      const interpreter = await start({ env: { PYTHONPATH: FAKE_WORKER, FAKE_MODE: 'garbage' } });
      expect(await rejection(call(interpreter, 'm', 'f', []))).to.be.instanceOf(ProtocolError);
      expect(await interpreter.exited).to.include({ killed: true });
    });
  });
});
