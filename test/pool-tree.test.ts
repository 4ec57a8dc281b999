import { expect } from 'chai';
import { ActorSystem, supervisor, worker, type TreeNode } from '@piton/core';
import { pythonPool, PythonPool, type PoolEvent, type PoolRef } from '@piton/python-bridge';
import { fixtures } from './helpers.js';

/** Every node of a tree, depth first. */
function flatten(nodes: readonly TreeNode[]): TreeNode[] {
  return nodes.flatMap((node) => [node, ...flatten(node.children)]);
}

describe('system.tree() with Python pools', () => {
  it('shows a standalone pool (fork server, then its interpreter workers), each worker with its interpreter pid', async () => {
    const pool = await PythonPool.start({ size: 2, path: fixtures, supervision: { intensity: 7, period: 3_000 } });
    try {
      const { children } = await pool.system.tree();
      expect(children).to.have.length(1);
      const node = children[0]!;
      expect(node).to.include({ path: pool.path, type: 'supervisor', status: 'running' });
      // The default start method on Linux: the fork server first, rest_for_one, then the workers.
      expect(node.supervisor).to.deep.equal({ strategy: 'rest_for_one', intensity: 7, period: 3_000 });
      expect(node.info).to.deep.include({ kind: 'python-pool', state: 'running', ready: 2, busy: 0, startMethod: 'forkserver' });
      expect(node.children.map((c) => [c.id, c.type, c.status])).to.deep.equal([
        ['forkserver', 'worker', 'running'],
        ['interpreters', 'supervisor', 'running'],
      ]);
      const workers = node.children[1]!;
      expect(workers.supervisor).to.deep.equal({ strategy: 'one_for_one', intensity: 7, period: 3_000 });
      expect(workers.children.map((c) => [c.id, c.type, c.status])).to.deep.equal([
        ['python-1', 'worker', 'running'],
        ['python-2', 'worker', 'running'],
      ]);
      const pids = pool.interpreters().map((i) => i.pid);
      expect(workers.children.map((c) => c.info?.pid)).to.deep.equal(pids);
    } finally {
      await pool.stop();
    }
  });

  it('shows a spawn pool as one supervisor of its interpreter workers', async () => {
    const pool = await PythonPool.start({ size: 1, path: fixtures, startMethod: 'spawn' });
    try {
      const node = (await pool.system.tree()).children[0]!;
      expect(node.supervisor).to.include({ strategy: 'one_for_one' });
      expect(node.children.map((c) => [c.id, c.info?.pid])).to.deep.equal([['python-1', pool.interpreters()[0]!.pid]]);
    } finally {
      await pool.stop();
    }
  });

  it('shows a pool mounted in a tree, its restarts after a kill, and its supervisor through the PoolRef', async () => {
    const system = new ActorSystem({ name: 'app' });
    try {
      await system.start(
        supervisor({
          children: [
            { id: 'cache', start: worker({ init: () => 0 }) },
            { id: 'py', start: pythonPool({ size: 1, path: fixtures }), type: 'supervisor', name: 'py' },
          ],
        }),
      );
      const py = system.whereis<PoolRef>('py');
      expect(py.path).to.equal('app/root/py');
      const rows = await py.supervisor.whichChildren();
      expect(rows.map((r) => [r.id, r.status])).to.deep.equal([
        ['forkserver', 'running'],
        ['interpreters', 'running'],
      ]);

      // Killed before it served anything: a failed start, which its supervisor restarts.
      const first = py.interpreters()[0]!.pid;
      const replaced = new Promise<void>((resolve) => system.events.on('interpreter', (e) => e.type === 'replaced' && resolve()));
      process.kill(first, 'SIGKILL');
      await replaced;

      const nodes = flatten((await system.tree()).children);
      expect(nodes.map((n) => n.path)).to.deep.equal([
        'app/root',
        'app/root/cache',
        'app/root/py',
        'app/root/py/forkserver',
        'app/root/py/interpreters',
        'app/root/py/interpreters/python-1',
      ]);
      const interpreter = nodes.find((n) => n.path === 'app/root/py/interpreters/python-1')!;
      expect(interpreter.restarts).to.equal(1);
      expect(interpreter.info?.pid).to.equal(py.interpreters()[0]!.pid).and.not.equal(first);
    } finally {
      await system.stop();
    }
  });

  it('options.events of a mounted pool sees only its own events, from its start to its exit', async () => {
    const system = new ActorSystem({ name: 'app2' });
    const seen: PoolEvent[] = [];
    await system.start(
      supervisor({
        children: [
          { id: 'other', start: worker({ init: () => 0 }) },
          { id: 'py', start: pythonPool({ size: 1, path: fixtures, events: (e) => seen.push(e) }), type: 'supervisor' },
        ],
      }),
    );
    await system.stop();
    // Supervisor events carry a path; the 'interpreter' events name their pool.
    const paths = new Set(seen.map((e) => ('path' in e ? e.path : e.pool)));
    expect([...paths].sort()).to.deep.equal([
      'app2/root/py',
      'app2/root/py/forkserver',
      'app2/root/py/interpreters',
      'app2/root/py/interpreters/python-1',
    ]);
    expect(seen.map((e) => `${e.type}:${'path' in e ? e.path : ''}`)).to.include.members([
      'started:app2/root/py/interpreters/python-1',
      'exited:app2/root/py/interpreters/python-1',
      'exited:app2/root/py',
    ]);
  });
});
