import { expect } from 'chai';
import { parseCommand } from '../../src/cli/args.js';
import { checkPython, failures, formatChecks } from '../../src/cli/checks.js';
import type { PythonReport } from '../../src/cli/inspect-python.js';
import { inspectPython } from '../../src/cli/inspect-python.js';
import { venvPython, projectVenv } from '../../src/environment/runtime-location.js';

const healthy: PythonReport = {
  executable: '/srv/app/.venv/bin/python',
  version: '3.11.7',
  modules: { pyzmq: { version: '26.2.0' }, msgpack: { version: '1.1.0' }, numpy: { error: "ModuleNotFoundError: No module named 'numpy'" } },
  runtime: { version: '0.1.0', file: '/srv/app/node_modules/@piton/python-bridge/python/piton/__init__.py' },
};

describe('the piton command line', () => {
  describe('arguments', () => {
    it('reads setup and doctor with their options', () => {
      expect(parseCommand(['setup', '--python', 'python3.12', '--numpy', '-r', 'a.txt', '--requirements', 'b.txt'])).to.deep.equal({
        command: 'setup',
        python: 'python3.12',
        numpy: true,
        arrow: false,
        requirements: ['a.txt', 'b.txt'],
      });
      expect(parseCommand(['setup', '--arrow'])).to.deep.equal({ command: 'setup', python: undefined, numpy: false, arrow: true, requirements: [] });
      expect(parseCommand(['doctor'])).to.deep.equal({ command: 'doctor', python: undefined });
      expect(parseCommand([])).to.deep.equal({ command: 'help' });
    });

    it('refuses unknown commands and options, suggesting the likely one', () => {
      expect(() => parseCommand(['stup'])).to.throw('unknown command "stup"');
      expect(() => parseCommand(['doctor', '--pyhton', 'x'])).to.throw("Unknown option '--pyhton'; did you mean --python?");
      expect(() => parseCommand(['doctor', '--numpy'])).to.throw("Unknown option '--numpy'");
      expect(() => parseCommand(['setup', '--arow'])).to.throw("Unknown option '--arow'; did you mean --arrow?");
    });
  });

  describe('checks', () => {
    it('pass a healthy interpreter, numpy and pyarrow being optional', () => {
      const checks = checkPython(healthy, { python: healthy.executable, setupApplies: true });
      expect(failures(checks)).to.deep.equal([]);
      expect(checks.map((c) => `${c.name} ${c.ok}`)).to.deep.equal(['Python true', 'pyzmq true', 'msgpack true', 'numpy false', 'pyarrow false', 'worker runtime true']);
      expect(formatChecks(checks)).to.contain('  - numpy: missing');
      expect(formatChecks(checks)).to.contain('      fix: npx piton setup --numpy');
      expect(formatChecks(checks)).to.contain('  - pyarrow: missing (not inspected) (optional: DataFrames and Arrow tables then cross the wire)');
      expect(formatChecks(checks)).to.contain('      fix: npx piton setup --arrow');
    });

    it('fix the project environment with setup, and an interpreter the user chose with pip', () => {
      const lacking: PythonReport = { ...healthy, modules: { ...healthy.modules, pyzmq: { error: "ModuleNotFoundError: No module named 'zmq'" } } };
      const project = failures(checkPython(lacking, { python: '/srv/app/.venv/bin/python', setupApplies: true }));
      expect(project.map((c) => [c.name, c.fixes])).to.deep.equal([['pyzmq', ['npx piton setup']]]);
      const chosen = failures(checkPython(lacking, { python: '/opt/py/bin/python', setupApplies: false }));
      expect(chosen.map((c) => [c.name, c.fixes])).to.deep.equal([['pyzmq', ["/opt/py/bin/python -m pip install 'pyzmq>=25'"]]]);
    });

    it('fail an old Python and old dependencies, saying what was found', () => {
      const old: PythonReport = { ...healthy, version: '3.8.18', modules: { ...healthy.modules, msgpack: { version: '0.6.2' } } };
      const failed = failures(checkPython(old, { python: 'python3', setupApplies: true }));
      expect(failed.map((c) => `${c.name}: ${c.detail}`)).to.deep.equal(['Python: 3.8.18 is older than 3.9', 'msgpack: 0.6.2 is older than msgpack>=1.0']);
    });

    it('fail a runtime that cannot be imported', () => {
      const broken: PythonReport = { ...healthy, runtime: { error: "ModuleNotFoundError: No module named 'piton'" } };
      const [runtime] = failures(checkPython(broken, { python: 'python3', setupApplies: true }));
      expect(runtime?.name).to.equal('worker runtime');
      expect(runtime?.fixes[0]).to.match(/^npm install @piton\/python-bridge/);
    });
  });

  it("inspects a real interpreter: the repository's environment has everything", async function () {
    this.timeout(30_000);
    const report = await inspectPython(venvPython(projectVenv()));
    expect(report.version).to.match(/^3\.\d+\.\d+/);
    for (const name of ['pyzmq', 'msgpack', 'numpy', 'pyarrow']) expect(report.modules[name], name).to.have.property('version');
    expect(report.runtime).to.have.property('version');
    expect(failures(checkPython(report, { python: report.executable, setupApplies: true }))).to.deep.equal([]);
  });

  it('reports an interpreter that cannot run', async () => {
    const error = await inspectPython('/nonexistent/python').catch((e: unknown) => e);
    expect((error as Error).message).to.equal('cannot run /nonexistent/python: not found');
  });
});
