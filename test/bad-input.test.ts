// Bad input of every kind: each is refused with a clear, typed error, and the same pool then
// serves a normal call, on the same interpreter unless the input was meant to end it.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EncodeError, MessageTooLargeError, ProtocolError, PythonError, PythonPool } from '@piton/python-bridge';
import { endpointOf, fixtures, repoRoot, reportedByPython } from './helpers.js';
import { rejection, until } from './support.js';

const MAX_MESSAGE = 64 * 1024;
const venvPython = join(repoRoot, '.venv', 'bin', 'python');


type Seen = Record<string, unknown>;

/** Runs test/fixtures/intruder.py against `endpoint` in a process of its own; resolves with what it printed. */
async function intrude(mode: string, endpoint: string): Promise<Seen[]> {
  const child = spawn(venvPython, [join(fixtures, 'intruder.py'), mode, endpoint], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  expect(code, `intruder ${mode} exit code; stderr:\n${err}`).to.equal(0);
  return out.trim().split('\n').map((line) => JSON.parse(line) as Seen);
}

async function pythonError(promise: Promise<unknown>, pythonType: string): Promise<PythonError> {
  const error = await rejection(promise);
  expect(error).to.be.instanceOf(PythonError);
  expect((error as PythonError).pythonType).to.equal(pythonType);
  return error as PythonError;
}

describe('bad input: refused with a typed error, and the pool serves on', function () {
  this.timeout(30_000);
  let pool: PythonPool;
  let pid: number;
  /** Set by a test whose bad input is meant to end the interpreter. */
  let replacedOnPurpose = false;

  before(async () => {
    pool = await PythonPool.start({ size: 1, path: fixtures, maxMessageSize: MAX_MESSAGE, supervision: { intensity: 20 } });
  });

  after(() => pool.stop());

  beforeEach(async () => {
    await pool.whenReady();
    pid = pool.interpreters()[0]!.pid;
    replacedOnPurpose = false;
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'passed') return;
    // The same pool answers a normal call, on the same interpreter unless replacing it was the point.
    expect(await pool.call('bad_input', 'takes_two', ['still', 'serving'])).to.deep.equal(['still', 'serving']);
    if (!replacedOnPurpose) expect(pool.interpreters().map((i) => i.pid)).to.deep.equal([pid]);
  });

  describe('names', () => {
    it('an unknown module: ModuleNotFoundError naming it', async () => {
      const error = await pythonError(pool.call('no_such_module', 'f'), 'ModuleNotFoundError');
      expect(error.message).to.contain("'no_such_module'");
    });

    it('an unknown function: AttributeError naming module and function', async () => {
      const error = await pythonError(pool.call('bad_input', 'no_such_function'), 'AttributeError');
      expect(error.message).to.equal("module 'bad_input' has no function 'no_such_function'");
    });

    it('a non-callable attribute: TypeError saying what it is', async () => {
      const error = await pythonError(pool.call('bad_input', 'answer'), 'TypeError');
      expect(error.message).to.equal('bad_input.answer is not callable: it is a int');
    });

    it('a dotted or otherwise malformed function name: refused, not looked up', async () => {
      const error = await pythonError(pool.call('bad_input', 'os.system', ['true']), 'AttributeError');
      expect(error.message).to.contain("'os.system' is not a function name");
    });

    it('a private name (_helper): PermissionError unless allow.private', async () => {
      const error = await pythonError(pool.call('bad_input', '_helper'), 'PermissionError');
      expect(error.message).to.contain("'_helper' is private").and.to.contain('--allow-private');
    });

    it('a dunder (__import__), on a module of ours or on builtins: PermissionError', async () => {
      const dunder = await pythonError(pool.call('bad_input', '__import__', ['os']), 'PermissionError');
      expect(dunder.message).to.contain("'__import__' is private");
      const builtin = await pythonError(pool.call('builtins', '__import__', ['os']), 'PermissionError');
      expect(builtin.message).to.contain("module 'builtins' is not under the worker's paths");
    });

    it('a private module (_thread): PermissionError before any import', async () => {
      const error = await pythonError(pool.call('_thread', 'start_new_thread'), 'PermissionError');
      expect(error.message).to.contain("module name '_thread' is private");
    });

    it('a module outside the paths (os.system, os.path.join): PermissionError unless in allow.modules', async () => {
      const system = await pythonError(pool.call('os', 'system', ['true']), 'PermissionError');
      expect(system.message).to.contain("module 'os' is not under the worker's paths").and.to.contain('--allow-module');
      const joined = await pythonError(pool.call('os.path', 'join', ['a', 'b']), 'PermissionError');
      expect(joined.message).to.contain("module 'os.path' is not under the worker's paths");
    });

    it('allow.private and allow.modules open exactly what they name', async () => {
      const open = await PythonPool.start({ size: 1, path: fixtures, allow: { private: true, modules: ['os'] } });
      try {
        expect(await open.call('bad_input', '_helper')).to.equal('private');
        expect(await open.call('os', 'getpid')).to.equal(open.interpreters()[0]!.pid);
        expect(await open.call('os', 'system', ['true'])).to.equal(0);
        // allow.private does not open modules outside the paths: builtins is still refused.
        const builtin = await pythonError(open.call('builtins', '__import__', ['os']), 'PermissionError');
        expect(builtin.message).to.contain("module 'builtins' is not under the worker's paths");
        await pythonError(open.call('subprocess', 'run', [['true']]), 'PermissionError');
      } finally {
        await open.stop();
      }
    });
  });

  describe('arguments', () => {
    it('too few, too many, or an unknown keyword: TypeError from Python', async () => {
      const few = await pythonError(pool.call('bad_input', 'takes_two', [1]), 'TypeError');
      expect(few.message).to.contain("missing 1 required positional argument: 'b'");
      const many = await pythonError(pool.call('bad_input', 'takes_two', [1, 2, 3]), 'TypeError');
      expect(many.message).to.contain('takes 2 positional arguments but 3 were given');
      const keyword = await pythonError(pool.call('bad_input', 'takes_two', [1, 2], { kwargs: { c: 3 } }), 'TypeError');
      expect(keyword.message).to.contain("unexpected keyword argument 'c'");
    });

    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    class Session {
      token = 'abc';
    }
    for (const [what, args, path, says] of [
      ['a function', [1, { user: { callback: () => 1 } }], 'args[1].user.callback', 'function'],
      ['a symbol', [Symbol('s')], 'args[0]', 'symbol'],
      ['a circular reference', [0, circular], 'args[1].self', 'circular reference'],
      ['a class instance', [[new Session()]], 'args[0][0]', 'instance of class Session'],
    ] as const) {
      it(`unencodable: ${what} is an EncodeError naming ${path}, and nothing reaches Python`, async () => {
        const before = await pool.call<number>('bad_input', 'received');
        const error = await rejection(pool.call('bad_input', 'record', [...args]));
        expect(error).to.be.instanceOf(EncodeError);
        expect((error as EncodeError).path).to.equal(path);
        expect((error as Error).message).to.contain(says).and.to.contain(path);
        expect(await pool.call('bad_input', 'received')).to.equal(before);
      });
    }

    it('an unencodable keyword argument: EncodeError naming kwargs.hook', async () => {
      const error = await rejection(pool.call('bad_input', 'record', [], { kwargs: { hook: () => 0 } }));
      expect(error).to.be.instanceOf(EncodeError);
      expect((error as EncodeError).path).to.equal('kwargs.hook');
    });
  });

  describe('results', () => {
    it('an unencodable result (object()): EncodeError from Python naming the type; the interpreter stays', async () => {
      const error = await reportedByPython(pool.call('bad_input', 'opaque'), EncodeError, 'EncodeError');
      expect(error.message).to.contain("'object'");
      const nested = await reportedByPython(pool.call('bad_input', 'nested_opaque'), EncodeError, 'EncodeError');
      expect(nested.message).to.contain("'object'");
    });
    it('a result that breaks the protocol (a raw MessagePack ext): ProtocolError; the interpreter is replaced, no other call pays', async () => {
      replacedOnPurpose = true;
      // The call queued behind the bad one must not be handed to the interpreter being killed.
      const [bad, next] = await Promise.all([
        rejection(pool.call('bad_input', 'raw_ext', [42])),
        pool.call('bad_input', 'takes_two', [1, 2]),
      ]);
      expect(bad).to.be.instanceOf(ProtocolError);
      expect((bad as Error).message).to.contain('extension type 42');
      expect(next).to.deep.equal([1, 2]);
      await until(() => pool.interpreters().length === 1 && pool.interpreters()[0]!.pid !== pid, 'a fresh interpreter');
    });

    it('a stream item that breaks the protocol: ProtocolError; the interpreter is replaced, no other call pays', async () => {
      replacedOnPurpose = true;
      const seen: unknown[] = [];
      const streamed = (async () => {
        for await (const item of pool.stream('bad_input', 'raw_ext_items', [43])) seen.push(item);
      })();
      const next = pool.call('bad_input', 'takes_two', [3, 4]);
      expect(await rejection(streamed)).to.be.instanceOf(ProtocolError);
      expect(seen).to.deep.equal([1]);
      expect(await next).to.deep.equal([3, 4]);
      await until(() => pool.interpreters().length === 1 && pool.interpreters()[0]!.pid !== pid, 'a fresh interpreter');
    });
  });

  describe('sizes (maxMessageSize of 64 KiB)', () => {
    it('a request over the limit: MessageTooLargeError with size and limit, nothing sent', async () => {
      const before = await pool.call<number>('bad_input', 'received');
      const error = await rejection(pool.call('bad_input', 'record', [Buffer.alloc(MAX_MESSAGE)]));
      expect(error).to.be.instanceOf(MessageTooLargeError);
      expect((error as MessageTooLargeError).limit).to.equal(MAX_MESSAGE);
      expect((error as MessageTooLargeError).size).to.be.greaterThan(MAX_MESSAGE);
      expect(await pool.call('bad_input', 'received')).to.equal(before);
    });

    it('a result over the limit: refused by the worker with MessageTooLargeError, as Node refuses a request', async () => {
      const error = await reportedByPython(pool.call('bad_input', 'blob', [MAX_MESSAGE]), MessageTooLargeError, 'MessageTooLarge');
      expect(error.message).to.contain(`maximum message size of ${MAX_MESSAGE} bytes`);
      expect(error.limit).to.equal(MAX_MESSAGE);
      expect(error.size).to.be.greaterThan(MAX_MESSAGE);
      expect(await pool.call('bad_input', 'blob', [1000])).to.have.length(1000);
    });

    it('an error reply over the limit: MessageTooLargeError on the Node side, the socket stays in step', async () => {
      const error = await rejection(pool.call('bad_input', 'loud_failure', [2 * MAX_MESSAGE]));
      expect(error).to.be.instanceOf(MessageTooLargeError);
      expect((error as MessageTooLargeError).size).to.be.greaterThan(2 * MAX_MESSAGE);
    });
  });

  describe("another process on a worker's socket", () => {
    for (const mode of ['garbage', 'frames', 'headless'] as const) {
      it(`${mode}: the intruder gets a ProtocolError reply, nobody else does`, async () => {
        const [seen] = await intrude(mode, endpointOf(pid));
        expect(seen).to.include({ kind: 'error', type: 'ProtocolError' });
        expect(seen!.message).to.be.a('string').and.not.equal('');
        // The refusal carries id 0 or the intruder's own id, never one of the pool's.
        expect([0, 77]).to.include(seen!.id);
      });
    }

    it('a broken ZMTP greeting: the worker drops the connection', async () => {
      expect(await intrude('raw', endpointOf(pid))).to.deep.equal([{ closed: true }]);
    });

    it("a second connection receives none of the pool's replies", async () => {
      const child = spawn(venvPython, [join(fixtures, 'intruder.py'), 'listen', endpointOf(pid)], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      try {
        expect(JSON.parse(String((await lines.next()).value))).to.deep.equal({ ready: true });
        const values = Array.from({ length: 200 }, (_, i) => `value-${i}`);
        const answers = await Promise.all(values.map((v) => pool.call('bad_input', 'takes_two', [v, v])));
        expect(answers).to.deep.equal(values.map((v) => [v, v]));
        child.stdin.end();
        expect(JSON.parse(String((await lines.next()).value))).to.deep.equal({ received: 0 });
      } finally {
        if (child.exitCode === null) child.stdin.destroy();
        if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      }
    });

    it('a well-formed stop from another process: the interpreter exits and is replaced', async () => {
      replacedOnPurpose = true;
      const restarts = pool.stats().restarts;
      const [seen] = await intrude('stop', endpointOf(pid));
      expect(seen).to.deep.equal({ kind: 'bye', id: 1 });
      // The pool learns of the exit from the process, then starts a fresh interpreter.
      await until(() => pool.interpreters().length === 1 && pool.interpreters()[0]!.pid !== pid, 'a fresh interpreter');
      expect(pool.stats().restarts).to.equal(restarts + 1);
    });
  });
});
