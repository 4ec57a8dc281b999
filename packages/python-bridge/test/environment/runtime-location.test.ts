import { expect } from 'chai';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateRuntime, PACKAGE_DIR, projectRoot, projectVenv, RUNTIME_SRC, runtimeCandidates } from '../../src/environment/runtime-location.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');

/** A fake file system holding exactly `paths`. */
const holding = (...paths: string[]) => (path: string) => paths.includes(path);

describe('runtime-location', () => {
  describe('projectRoot: the project that depends on the package', () => {
    it('is the directory holding node_modules for an installed package', () => {
      expect(projectRoot('/srv/app/node_modules/@piton/python-bridge', holding())).to.equal('/srv/app');
    });

    it('is the outermost node_modules holder when the package is nested or under pnpm', () => {
      expect(projectRoot('/srv/app/node_modules/some-lib/node_modules/@piton/python-bridge', holding())).to.equal('/srv/app');
      expect(projectRoot('/srv/app/node_modules/.pnpm/@piton+python-bridge@0.1.0/node_modules/@piton/python-bridge', holding())).to.equal(
        '/srv/app',
      );
    });

    it('is the nearest directory above with a package.json in a checkout', () => {
      expect(projectRoot('/src/piton/packages/python-bridge', holding('/src/piton/package.json', '/src/package.json'))).to.equal('/src/piton');
    });

    it('is the real repository in this checkout, whatever the cwd', () => {
      expect(PACKAGE_DIR).to.equal(join(REPO, 'packages', 'python-bridge'));
      expect(projectRoot()).to.equal(REPO);
      expect(projectVenv()).to.equal(join(REPO, '.venv'));
    });
  });

  describe('locateRuntime', () => {
    const pkg = '/srv/app/node_modules/@piton/python-bridge';

    it('takes the copy packed into the package first', () => {
      const packed = join(pkg, 'python');
      expect(locateRuntime(pkg, holding(join(packed, 'piton', 'worker.py'), '/srv/app/node_modules/python/src/piton/worker.py'))).to.equal(packed);
    });

    it("then the repository's python/src", () => {
      expect(locateRuntime('/src/piton/packages/python-bridge', holding('/src/piton/python/src/piton/worker.py'))).to.equal('/src/piton/python/src');
    });

    it('is undefined when neither holds it (an installed `piton` is then used)', () => {
      expect(locateRuntime(pkg, holding())).to.equal(undefined);
      expect(runtimeCandidates(pkg)).to.deep.equal([join(pkg, 'python'), '/srv/app/node_modules/python/src']);
    });

    it("finds this checkout's runtime", () => {
      expect(RUNTIME_SRC).to.equal(join(REPO, 'python', 'src'));
    });
  });
});
