import { expect } from 'chai';
import { ActorSystem, supervisor, type ExitReason, type StartFn, type SupervisorRef, type TreeNode } from '../src/index.js';
import { Deferred } from '../src/deferred.js';
import { crashChild, EventLog, is, probe } from './helpers.js';

/** A leaf that reports an `info` of its own through `inspect()`, like a process-owning child. */
function leafWithInfo(info: Record<string, unknown>): StartFn<{ info: Record<string, unknown> }> {
  return async () => {
    const exited = new Deferred<ExitReason>();
    return {
      ref: { info },
      exited: exited.promise,
      shutdown: (reason) => exited.resolve(reason),
      kill: () => exited.resolve('killed'),
      inspect: () => ({ info }),
    };
  };
}

/** The node at `path` (ids joined by '/', from a top-level child), or a failure naming what exists. */
function nodeAt(nodes: readonly TreeNode[], ...ids: string[]): TreeNode {
  let node: TreeNode | undefined;
  let level = nodes;
  for (const id of ids) {
    node = level.find((n) => n.id === id);
    if (!node) throw new Error(`no child ${id} among ${level.map((n) => n.id).join(', ')}`);
    level = node.children;
  }
  return node!;
}

describe('system.tree()', () => {
  let system: ActorSystem;
  let events: EventLog;
  beforeEach(() => {
    system = new ActorSystem({ name: 'tree' });
    events = new EventLog(system);
  });
  afterEach(() => system.stop());

  it('shows every supervisor and worker, recursively, with flags, types and statuses', async () => {
    const log: string[] = [];
    await system.start(
      supervisor({
        strategy: 'rest_for_one',
        intensity: 3,
        period: 2_000,
        children: [
          { id: 'a', start: probe(log, 'a') },
          {
            id: 'inner',
            type: 'supervisor',
            start: supervisor({ strategy: 'one_for_all', children: [{ id: 'b', start: probe(log, 'b') }] }),
          },
          { id: 'leaf', start: leafWithInfo({ pid: 1234 }) },
        ],
      }),
    );
    const tree = await system.tree();
    expect(tree.name).to.equal('tree');
    expect(tree.children).to.have.length(1);
    const root = nodeAt(tree.children, 'root');
    expect(root).to.include({ path: 'tree/root', type: 'supervisor', status: 'running', restarts: 0 });
    expect(root.supervisor).to.deep.equal({ strategy: 'rest_for_one', intensity: 3, period: 2_000 });
    expect(root.children.map((c) => c.id)).to.deep.equal(['a', 'inner', 'leaf']);
    expect(nodeAt(tree.children, 'root', 'a')).to.deep.equal({
      id: 'a', path: 'tree/root/a', type: 'worker', status: 'running', restarts: 0, children: [],
    });
    const inner = nodeAt(tree.children, 'root', 'inner');
    expect(inner).to.include({ type: 'supervisor', path: 'tree/root/inner' });
    expect(inner.supervisor).to.deep.equal({ strategy: 'one_for_all', intensity: 1, period: 5_000 });
    expect(nodeAt(tree.children, 'root', 'inner', 'b')).to.include({ path: 'tree/root/inner/b', status: 'running' });
    expect(nodeAt(tree.children, 'root', 'leaf').info).to.deep.equal({ pid: 1234 });
  });

  it('counts restarts per child, and shows a stopped child as undefined', async () => {
    const log: string[] = [];
    const root = await system.start(
      supervisor({
        intensity: 5,
        children: [
          { id: 'w', start: probe(log, 'w') },
          { id: 'calm', start: probe(log, 'calm') },
        ],
      }),
    );
    await crashChild(root, 'w');
    await events.waitFor(is('started', 'w'), 2);
    await crashChild(root, 'w');
    await events.waitFor(is('started', 'w'), 3);
    await root.terminateChild('calm');
    const tree = await system.tree();
    expect(nodeAt(tree.children, 'root', 'w')).to.include({ status: 'running', restarts: 2 });
    expect(nodeAt(tree.children, 'root', 'calm')).to.include({ status: 'undefined', restarts: 0 });
  });

  it('lists simple_one_for_one children by path, without ids', async () => {
    const log: string[] = [];
    const root = await system.start(
      supervisor({ strategy: 'simple_one_for_one', children: [{ id: 'job', start: probe(log, 'job'), restart: 'temporary' }] }),
    );
    await root.startChild([]);
    await root.startChild([]);
    const { children } = await root.inspect();
    expect(children!.map((c) => [c.id, c.path])).to.deep.equal([
      [undefined, 'tree/root/job-1'],
      [undefined, 'tree/root/job-2'],
    ]);
  });

  it('shows a leaf whose inspect() fails without its details, and the rest of the tree intact', async () => {
    const failing: StartFn = async () => {
      const exited = new Deferred<ExitReason>();
      return {
        ref: {},
        exited: exited.promise,
        shutdown: (reason) => exited.resolve(reason),
        kill: () => exited.resolve('killed'),
        inspect: () => Promise.reject(new Error('cannot say')),
      };
    };
    await system.start(supervisor({ children: [{ id: 'bad', start: failing }, { id: 'good', start: leafWithInfo({ ok: true }) }] }));
    const tree = await system.tree();
    expect(nodeAt(tree.children, 'root', 'bad')).to.deep.equal({
      id: 'bad', path: 'tree/root/bad', type: 'worker', status: 'running', restarts: 0, children: [],
    });
    expect(nodeAt(tree.children, 'root', 'good').info).to.deep.equal({ ok: true });
  });

  it('is empty once the system has stopped, and a stopped supervisor refuses inspect()', async () => {
    const root: SupervisorRef = await system.start(supervisor({ children: [] }));
    await system.stop();
    expect((await system.tree()).children).to.deep.equal([]);
    const error = await root.inspect().catch((e: unknown) => e);
    expect(error).to.have.property('name', 'NoProcessError');
  });
});
