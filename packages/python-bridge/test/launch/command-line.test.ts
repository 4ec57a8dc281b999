/**
 * The launch contract is written on both sides: Node's command-line.ts starts local workers and
 * fork servers, Python's piton.lifetime (through the agent) starts remote ones. These tests read
 * both and hold them to the same launcher line and the same arguments.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { launcherCode, serveArgs, workerArgs, workerEnv } from '../../src/launch/command-line.js';

const PYTHON = fileURLToPath(new URL('../../../../.venv/bin/python', import.meta.url));

/** Runs `code` in the project's Python with the runtime importable; returns what it printed, parsed. */
function python(code: string): unknown {
  return JSON.parse(execFileSync(PYTHON, ['-c', code], { env: workerEnv({}), encoding: 'utf8' }));
}

const SPEC = {
  path: ['/a', '/b'],
  preload: ['m'],
  maxMessageSize: 1024,
  allow: { modules: ['math', 'os'], private: true, reexports: ['*'] },
};

describe('launch contract (command-line.ts and piton.lifetime)', () => {
  it('the launcher line of each served module is the same on both sides', () => {
    const fromPython = python(
      'import json; from piton.lifetime import launcher_code; ' +
        "print(json.dumps([launcher_code('piton.worker'), launcher_code('piton.forkserver')]))",
    );
    expect(fromPython).to.deep.equal([launcherCode('piton.worker'), launcherCode('piton.forkserver')]);
  });

  it('the serve arguments are the same on both sides, and Python reads back what Node wrote', () => {
    const fromPython = python(
      'import json; from piton.lifetime import serve_args; ' +
        "print(json.dumps(serve_args(42, 1024, ['/a', '/b'], ['m'], ['math', 'os'], True, ['*'])))",
    );
    expect(fromPython).to.deep.equal(serveArgs(SPEC, 42));
    const parsed = python(
      `import json; from piton.worker import parse_args; a = parse_args(${JSON.stringify(workerArgs(SPEC, 'ipc:///x', 42))}); ` +
        'print(json.dumps([a.endpoint, a.parent_pid, a.max_message_size, a.path, a.preload, a.allow_module, a.allow_private, a.allow_reexports]))',
    );
    expect(parsed).to.deep.equal(['ipc:///x', 42, 1024, ['/a', '/b'], ['m'], ['math', 'os'], true, ['*']]);
  });

  it("a fork server's arguments carry the pool-wide options, and no endpoint (each fork names its own)", () => {
    expect(serveArgs({ path: ['/a', '/b'], preload: ['m'], maxMessageSize: 1024, allow: { modules: ['math'], private: true, reexports: [] } }, 42)).to.deep.equal([
      '--parent-pid', '42', '--max-message-size', '1024', '--path', '/a', '--path', '/b', '--preload', 'm', '--allow-module', 'math', '--allow-private',
    ]);
  });

  it('without allow rules, nothing beyond the paths is opened', () => {
    expect(serveArgs({ path: [], maxMessageSize: 2048 }, 7)).to.deep.equal(['--parent-pid', '7', '--max-message-size', '2048']);
  });
});
