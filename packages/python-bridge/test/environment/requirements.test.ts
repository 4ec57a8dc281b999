import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ARROW_REQUIREMENT, MINIMUM_PYTHON, NUMPY_REQUIREMENT, pipInstallCommand, RUNTIME_REQUIREMENTS, shellWord, versionAtLeast } from '../../src/environment/requirements.js';

const pyproject = readFileSync(fileURLToPath(new URL('../../../../python/pyproject.toml', import.meta.url)), 'utf8');

describe('requirements of the worker runtime', () => {
  it("are python/pyproject.toml's dependencies, numpy and arrow extras and requires-python", () => {
    const dependencies = /^dependencies = \[(.*)\]$/m.exec(pyproject)?.[1];
    expect(dependencies?.split(',').map((d) => d.trim().replace(/"/g, ''))).to.deep.equal(RUNTIME_REQUIREMENTS.map((r) => r.spec));
    expect(/^numpy = \["(.*)"\]$/m.exec(pyproject)?.[1]).to.equal(NUMPY_REQUIREMENT.spec);
    expect(/^arrow = \["(.*)"\]$/m.exec(pyproject)?.[1]).to.equal(ARROW_REQUIREMENT.spec);
    expect(/^requires-python = ">=(.*)"$/m.exec(pyproject)?.[1]).to.equal(MINIMUM_PYTHON.join('.'));
  });

  it('compares dotted versions, ignoring suffixes', () => {
    expect(versionAtLeast('26.2.0', [25])).to.equal(true);
    expect(versionAtLeast('25', [25])).to.equal(true);
    expect(versionAtLeast('24.0.1', [25])).to.equal(false);
    expect(versionAtLeast('1.0.8', [1, 0])).to.equal(true);
    expect(versionAtLeast('0.6.2', [1, 0])).to.equal(false);
    expect(versionAtLeast('3.10.1', [3, 9])).to.equal(true);
    expect(versionAtLeast('3.8.18', [3, 9])).to.equal(false);
    expect(versionAtLeast('2.1.0rc1', [1, 22])).to.equal(true);
  });

  it('writes commands that paste into a shell as they are', () => {
    expect(shellWord('/srv/app/.venv/bin/python')).to.equal('/srv/app/.venv/bin/python');
    expect(shellWord('pyzmq>=25')).to.equal("'pyzmq>=25'");
    expect(shellWord("/my dir/it's/python")).to.equal("'/my dir/it'\\''s/python'");
    expect(pipInstallCommand('/p/python', RUNTIME_REQUIREMENTS)).to.equal("/p/python -m pip install 'pyzmq>=25' 'msgpack>=1.0'");
  });
});
