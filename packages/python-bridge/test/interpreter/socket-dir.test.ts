import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSocketDir, OWNER_NAME, SOCKET_NAME, sweepStaleSocketDirs } from '../../src/interpreter/socket-dir.js';
import { processStartTime } from '../../src/launch/proc.js';

/** A pid that no process has now: that of a process that has exited. */
function deadPid(): number {
  const { pid } = spawnSync('true');
  return pid!;
}

describe('socket directories: stale ones are removed, nothing else', function () {
  this.timeout(30_000);
  let parent: string;
  const servers: Server[] = [];

  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), 'piton-socket-dir-test-'));
  });

  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
    rmSync(parent, { recursive: true, force: true });
  });

  /** A directory as a Node process `pid` would have left it: owner file and a dead socket file. */
  function leftBy(pid: number, suffix = 'AbC123', startTime = processStartTime(pid) ?? ''): string {
    const dir = join(parent, `piton-${pid}-${suffix}`);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, OWNER_NAME), `${pid} ${startTime}\n`);
    writeFileSync(join(dir, SOCKET_NAME), ''); // a socket file nobody listens on refuses connections alike
    return dir;
  }

  it('makes a 0700 directory named after this process, with its owner file', async () => {
    const dir = await makeSocketDir(parent);
    expect(dir).to.match(new RegExp(`/piton-${process.pid}-[A-Za-z0-9]{6}$`));
    expect((lstatSync(dir).mode & 0o777).toString(8)).to.equal('700');
    expect(readdirSync(dir)).to.deep.equal([OWNER_NAME]);
  });

  it('removes the directory of a Node process that is gone', async () => {
    const stale = leftBy(deadPid());
    expect(await sweepStaleSocketDirs(parent)).to.deep.equal([stale]);
    expect(existsSync(stale)).to.equal(false);
  });

  it("keeps this process's directories and those of live processes", async () => {
    const mine = await makeSocketDir(parent);
    const child = spawn('sleep', ['60']);
    try {
      const live = leftBy(child.pid!);
      expect(await sweepStaleSocketDirs(parent)).to.deep.equal([]);
      expect(existsSync(mine) && existsSync(live)).to.equal(true);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  it('removes the directory of a recycled pid: the process with that pid started at another time', async () => {
    const child = spawn('sleep', ['60']);
    try {
      const recycled = leftBy(child.pid!, 'AbC123', '1');
      expect(await sweepStaleSocketDirs(parent)).to.deep.equal([recycled]);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  it('keeps a directory whose socket still accepts connections (a worker in another pid namespace)', async () => {
    const dir = join(parent, `piton-${deadPid()}-Listen`);
    mkdirSync(dir, { mode: 0o700 });
    const server = createServer().listen(join(dir, SOCKET_NAME));
    servers.push(server);
    await once(server, 'listening');
    expect(await sweepStaleSocketDirs(parent)).to.deep.equal([]);
    expect(existsSync(join(dir, SOCKET_NAME))).to.equal(true);
  });

  it('keeps what does not look exactly like its own: other files, other modes, symlinks, other names', async () => {
    const dead = deadPid();
    const extra = leftBy(dead, 'Extra1');
    writeFileSync(join(extra, 'notes.txt'), 'not ours');
    const open = leftBy(dead, 'Mode55');
    chmodSync(open, 0o755);
    // A symlink with a stale-looking name, to a directory that looks stale: neither is touched.
    const target = leftBy(dead, 'Target');
    const link = join(parent, `piton-${dead}-Link12`);
    symlinkSync(target, link);
    const other = join(parent, `piton-other-${dead}`);
    mkdirSync(other, { mode: 0o700 });
    const removed = await sweepStaleSocketDirs(parent);
    expect(removed).to.deep.equal([target]);
    expect(existsSync(join(extra, 'notes.txt')) && existsSync(open) && existsSync(other)).to.equal(true);
    expect(lstatSync(link).isSymbolicLink()).to.equal(true);
  });
});
