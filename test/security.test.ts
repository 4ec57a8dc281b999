// Security: interpreters are reachable only through their pool's private ipc:// socket, nothing
// listens on TCP, nothing on the wire is unpickled, and only functions under the configured paths
// (or explicitly allowed modules) can be called. SECURITY.md states the threat model.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PythonError, PythonPool } from '@piton/python-bridge';
import { endpointOf, fixtures, isAlive, repoRoot } from './helpers.js';
import { until } from './support.js';

const venvPython = join(repoRoot, '.venv', 'bin', 'python');

function socketPathOf(pid: number): string {
  const endpoint = endpointOf(pid);
  expect(endpoint, `endpoint of interpreter ${pid}`).to.match(/^ipc:\/\//);
  return endpoint.slice('ipc://'.length);
}

/** Inodes of the sockets a process holds open. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

/** Rows of /proc/net/{tcp,tcp6,unix}: the inode column and the row. */
function netTable(file: string): { inode: string; fields: string[] }[] {
  if (!existsSync(file)) return [];
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const column = header!.trim().toLowerCase().split(/\s+/).indexOf('inode');
  // tcp's header has two more words than its rows have fields before inode ("tx_queue rx_queue", "tr tm->when").
  const offset = file.includes('tcp') ? column - 2 : column;
  return rows.map((row) => {
    const fields = row.trim().split(/\s+/);
    return { inode: fields[offset]!, fields };
  });
}

async function run(command: string, args: string[], options: { uid?: number; gid?: number } = {}): Promise<string> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  expect(code, `${command} ${args.join(' ')} failed:\n${err}`).to.equal(0);
  return out;
}

describe('security: who can reach an interpreter', function () {
  this.timeout(30_000);
  let pool: PythonPool;

  beforeEach(async () => {
    pool = await PythonPool.start({ size: 2, path: fixtures, supervision: { intensity: 20 } });
  });

  afterEach(() => pool.stop());

  it("each interpreter's ipc socket lives in its own directory of mode 0700, owned by the user", () => {
    const dirs = new Set<string>();
    for (const { pid } of pool.interpreters()) {
      const socket = socketPathOf(pid);
      const dir = dirname(socket);
      dirs.add(dir);
      expect(dir.startsWith(tmpdir())).to.equal(true);
      const stat = statSync(dir);
      expect(stat.isDirectory()).to.equal(true);
      expect((stat.mode & 0o777).toString(8), `mode of ${dir}`).to.equal('700');
      expect(stat.uid).to.equal(process.getuid!());
      expect(lstatSync(socket).isSocket(), `${socket} is a socket`).to.equal(true);
    }
    expect(dirs.size, 'one directory per interpreter').to.equal(2);
  });

  it('removes the directories at stop, and that of a killed interpreter once it is gone', async () => {
    const [first, second] = pool.interpreters().map((i) => ({ pid: i.pid, dir: dirname(socketPathOf(i.pid)) }));
    process.kill(first!.pid, 'SIGKILL');
    await until(() => !isAlive(first!.pid) && !existsSync(first!.dir), `${first!.dir} removed after the kill`);
    await pool.whenReady();
    // The pool may list the killed interpreter a moment after its directory went: wait for the new one.
    let replacement: number | undefined;
    await until(() => (replacement = pool.interpreters().find((i) => i.pid !== first!.pid && i.pid !== second!.pid)?.pid) !== undefined, 'the replacement to be listed');
    const dirs = [second!.dir, dirname(socketPathOf(replacement!))];
    for (const dir of dirs) expect(existsSync(dir)).to.equal(true);
    await pool.stop();
    for (const dir of dirs) expect(existsSync(dir), `${dir} after stop`).to.equal(false);
  });

  it('another local user cannot even connect to the socket', async function () {
    if (process.getuid!() !== 0) this.skip(); // switching to another user needs root
    const path = socketPathOf(pool.interpreters()[0]!.pid);
    const probe = `require('net').connect(${JSON.stringify(path)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`;
    expect((await run(process.execPath, ['-e', probe], { uid: 65534, gid: 65534 })).trim()).to.equal('EACCES');
  });

  it('a process of the same user can connect and call: the boundary is the user account (SECURITY.md)', async () => {
    const { pid } = pool.interpreters()[0]!;
    const out = await run(venvPython, [join(fixtures, 'intruder.py'), 'call', `ipc://${socketPathOf(pid)}`]);
    expect(JSON.parse(out)).to.deep.equal({ kind: 'ok', id: 1, value: pid });
  });

  it('nothing listens on TCP: no interpreter holds a TCP socket, and each holds its ipc socket', () => {
    const tcp = new Set([...netTable('/proc/net/tcp'), ...netTable('/proc/net/tcp6')].map((row) => row.inode));
    const unix = netTable('/proc/net/unix');
    for (const { pid } of pool.interpreters()) {
      const inodes = socketInodes(pid);
      expect([...inodes].filter((inode) => tcp.has(inode)), `TCP sockets of interpreter ${pid}`).to.deep.equal([]);
      const path = socketPathOf(pid);
      // The method sees sockets at all: the bound ipc socket is among this process's inodes.
      const bound = unix.filter((row) => row.fields.at(-1) === path).map((row) => row.inode);
      expect(bound.some((inode) => inodes.has(inode)), `${path} (inodes ${bound.join(", ")}) held by ${pid} (inodes ${[...inodes].join(", ")})`).to.equal(true);
    }
  });
});

describe('security: no pickle on the wire', function () {
  this.timeout(30_000);

  it('neither runtime mentions pickle, marshal, shelve or pyzmq\'s pickling send_pyobj/recv_pyobj', () => {
    // Every folder, at any depth: the runtimes' subfolders (codec, agent, remote, cli…) are on the wire too.
    const under = (dir: string, ext: string): string[] =>
      (readdirSync(join(repoRoot, dir), { recursive: true }) as string[]).filter((f) => f.endsWith(ext)).map((f) => join(repoRoot, dir, f));
    const sources = [...under('python/src/piton', '.py'), ...under('packages/python-bridge/src', '.ts')];
    for (const deep of ['python/src/piton/agent/service.py', 'packages/python-bridge/src/wire/codec/decoder.ts', 'packages/python-bridge/src/remote/agent-link.ts']) {
      expect(sources, 'the scan reaches subfolders').to.include(join(repoRoot, deep));
    }
    for (const file of sources) expect(readFileSync(file, 'utf8'), file).to.not.match(/\b(pickle|cPickle|marshal|shelve|dill|send_pyobj|recv_pyobj)\b/);
  });

  it('no module of the worker imports pickle (libraries it uses may)', async () => {
    const lines: string[] = [];
    const pool = await PythonPool.start({
      size: 1,
      path: fixtures,
      env: { PYTHONPROFILEIMPORTTIME: '1' },
      onOutput: ({ line }) => lines.push(line),
    });
    try {
      expect(await pool.call('calls', 'echo', [{ a: [1, 2.5, 'x', Buffer.from('b')] }])).to.have.property('a');
      // Whoever imported it first, no runtime module (the worker's __main__ included) holds it.
      expect(await pool.call('security_probe', 'modules_holding', [['pickle', '_pickle', 'marshal', 'shelve']])).to.deep.equal([]);
      // The probe does see such references: some runtime module holds zmq.
      expect(await pool.call('security_probe', 'modules_holding', [['zmq']])).to.not.deep.equal([]);
    } finally {
      await pool.stop();
    }
    // -X importtime lists each module after the ones it imported, indented one step deeper: the
    // importer of a module is the next line indented less.
    const imports = lines
      .map((line) => /^import time:\s+\d+ \|\s+\d+ \|( *)(\S+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ depth: m[1]!.length, name: m[2]! }));
    expect(imports.some((i) => i.name === 'piton.handler'), 'import times were recorded').to.equal(true);
    imports.forEach((entry, at) => {
      if (!/^_?pickle$/.test(entry.name)) return;
      const importer = imports.slice(at + 1).find((later) => later.depth < entry.depth);
      // numpy and pyzmq (for its send_pyobj) import pickle; the runtime's own modules never do.
      expect(importer?.name ?? '(top level)', `the importer of ${entry.name}`).to.not.match(/^(piton|__main__)/);
    });
  });

  it('a pickle arrives as plain bytes or text, never loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piton-pickle-'));
    const marker = join(dir, 'unpickled');
    const payload = `cos\nsystem\n(S'touch ${marker}'\ntR.`;
    const pool = await PythonPool.start({ size: 1, path: fixtures });
    try {
      expect(await pool.call('bad_input', 'size_of', [Buffer.from(payload)])).to.equal(payload.length);
      expect(await pool.call('bad_input', 'size_of', [payload])).to.equal(payload.length);
      expect(await pool.call('calls', 'echo', [Buffer.from(payload)])).to.deep.equal(Buffer.from(payload));
      // Sent by another process as MessagePack extensions: refused as protocol errors.
      const out = await run(venvPython, [join(fixtures, 'intruder.py'), 'pickle', `ipc://${socketPathOf(pool.interpreters()[0]!.pid)}`, marker]);
      const replies = out.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(replies).to.have.length(2);
      expect(replies[0]).to.include({ kind: 'error', type: 'ProtocolError' });
      expect(replies[0]!.message).to.contain('extension type 99');
      expect(replies[1]).to.include({ kind: 'error', type: 'ProtocolError' });
      expect(replies[1]!.message).to.contain("'object'");
      expect(existsSync(marker), 'the pickle ran').to.equal(false);
    } finally {
      await pool.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('security: what can be called', function () {
  this.timeout(30_000);
  let root: string;
  let marker: string;

  before(() => {
    // inside/ is the pool's path; outside/ is on PYTHONPATH, importable but not callable.
    root = mkdtempSync(join(tmpdir(), 'piton-sandbox-'));
    marker = join(root, 'outside-imported');
    mkdirSync(join(root, 'inside'));
    mkdirSync(join(root, 'outside'));
    writeFileSync(join(root, 'inside', 'allowed.py'), 'def ok():\n    return "ok"\n');
    writeFileSync(join(root, 'inside', 'reexports.py'), 'from os import system\nfrom pickle import loads\n\ndef own():\n    return "own"\n');
    writeFileSync(
      join(root, 'outside', 'side_effect.py'),
      `open(${JSON.stringify(marker)}, "w").close()  # proof that this module's top level ran\n\ndef run():\n    return "ran"\n`,
    );
    // A symlink inside the path to a module outside it: judged by where the file really is.
    symlinkSync(join(root, 'outside', 'side_effect.py'), join(root, 'inside', 'linked.py'));
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  async function refused(pool: PythonPool, module: string, fn: string, args: unknown[] = []): Promise<PythonError> {
    const error = await pool.call(module, fn, args).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, `${module}.${fn}`).to.be.instanceOf(PythonError);
    expect((error as PythonError).pythonType, `${module}.${fn}`).to.equal('PermissionError');
    return error as PythonError;
  }

  it('only modules under the configured paths: outside ones are refused before their code runs', async () => {
    const pool = await PythonPool.start({ size: 1, path: join(root, 'inside'), env: { PYTHONPATH: join(root, 'outside') } });
    try {
      expect(await pool.call('allowed', 'ok')).to.equal('ok');
      await refused(pool, 'side_effect', 'run');
      const linked = await refused(pool, 'linked', 'run');
      expect(linked.message).to.contain("module 'linked' is not under the worker's paths");
      for (const [module, fn, args] of [
        ['builtins', 'eval', ['1 + 1']],
        ['builtins', 'exec', ['x = 1']],
        ['os', 'system', ['true']],
        ['subprocess', 'run', [['true']]],
        ['importlib', 'import_module', ['side_effect']],
        ['piton.worker', 'main', []],
      ] as const) {
        await refused(pool, module, fn, [...args]);
      }
      expect(existsSync(marker), 'the outside module was imported').to.equal(false);
    } finally {
      await pool.stop();
    }
  });

  it('names a path module imports from elsewhere (from os import system, from pickle import loads) are refused', async () => {
    const pool = await PythonPool.start({ size: 1, path: join(root, 'inside') });
    try {
      expect(await pool.call('reexports', 'own')).to.equal('own');
      const system = await refused(pool, 'reexports', 'system', [`touch ${marker}`]);
      expect(system.message).to.contain("reexports.system is defined in module 'posix'");
      const payload = Buffer.from(`cos\nsystem\n(S'touch ${marker}'\ntR.`);
      expect((await refused(pool, 'reexports', 'loads', [payload])).message).to.contain("defined in module '_pickle'");
      expect(existsSync(marker), 'the payload ran').to.equal(false);
    } finally {
      await pool.stop();
    }
  });

  it('allow.reexports opens them for the modules it names', async () => {
    const pool = await PythonPool.start({ size: 1, path: join(root, 'inside'), allow: { reexports: ['reexports'] } });
    try {
      expect(await pool.call('reexports', 'system', ['true'])).to.equal(0);
      await refused(pool, 'os', 'system', ['true']);
    } finally {
      await pool.stop();
    }
  });

  it('allow.modules is the explicit way to open a module outside the paths', async () => {
    const pool = await PythonPool.start({
      size: 1,
      path: join(root, 'inside'),
      env: { PYTHONPATH: join(root, 'outside') },
      allow: { modules: ['side_effect'] },
    });
    try {
      expect(await pool.call('side_effect', 'run')).to.equal('ran');
      expect(existsSync(marker)).to.equal(true);
      await refused(pool, 'os', 'system', ['true']);
    } finally {
      await pool.stop();
      rmSync(marker, { force: true });
    }
  });
});

describe("security: the pool's working directory is not importable", function () {
  this.timeout(30_000);
  let cwd: string;
  let marker: string;

  before(() => {
    // Modules the worker or the standard library import at start-up, planted where `python -m`
    // would find them first; and a package named like the runtime itself.
    cwd = mkdtempSync(join(tmpdir(), 'piton-planted-'));
    marker = join(cwd, 'planted-code-ran');
    const planted = `open(${JSON.stringify(marker)}, "a").write(__name__ + "\\n")\nraise ImportError("planted")\n`;
    for (const name of ['enum', 'random', 'typing', 'zmq']) writeFileSync(join(cwd, `${name}.py`), planted);
    mkdirSync(join(cwd, 'piton'));
    writeFileSync(join(cwd, 'piton', '__init__.py'), planted);
  });

  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('modules planted in cwd never run; path and PYTHONPATH still work', async () => {
    const outside = join(cwd, 'on-pythonpath');
    mkdirSync(outside);
    writeFileSync(join(outside, 'helper_mod.py'), 'def answer():\n    return 42\n');
    const pool = await PythonPool.start({ size: 1, cwd, python: venvPython, path: fixtures, env: { PYTHONPATH: outside }, allow: { modules: ['helper_mod'] } });
    try {
      expect(await pool.call('calls', 'add', [1, 2])).to.equal(3);
      expect(await pool.call('helper_mod', 'answer')).to.equal(42);
      expect(await pool.call('security_probe', 'cwd')).to.equal(cwd);
    } finally {
      await pool.stop();
    }
    expect(existsSync(marker), `planted code ran: ${existsSync(marker) ? readFileSync(marker, 'utf8') : ''}`).to.equal(false);
  });
});

describe('security: socket directories a SIGKILLed Node process left behind', function () {
  this.timeout(30_000);

  it('are removed by the next pool started, once their owner is gone', async () => {
    const owner = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'hold-pool.ts'), 'wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: owner.stdout }), 'line')) as [string];
    const interpreters = JSON.parse(line) as number[];
    const leftBehind = () => readdirSync(tmpdir()).filter((name) => name.startsWith(`piton-${owner.pid}-`));
    expect(leftBehind()).to.have.length(2);
    owner.kill('SIGKILL'); // no code of the owner runs: its interpreters die, their directories stay
    await once(owner, 'exit');
    await until(() => interpreters.every((pid) => !isAlive(pid)), 'the interpreters to be gone');
    const stale = leftBehind();
    expect(stale, 'directories left by the SIGKILL').to.have.length(2);
    for (const name of stale) expect(readdirSync(join(tmpdir(), name))).to.include('worker.sock');
    const pool = await PythonPool.start({ size: 1, path: fixtures });
    try {
      expect(leftBehind()).to.deep.equal([]);
      // The running pool's own directory is kept.
      expect(existsSync(dirname(socketPathOf(pool.interpreters()[0]!.pid)))).to.equal(true);
    } finally {
      await pool.stop();
    }
  });
});
