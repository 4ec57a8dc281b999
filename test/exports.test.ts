// The package's public surface, pinned: an export is added or taken away on purpose, with this list.
import { expect } from 'chai';

describe('exports of @piton/python-bridge', () => {
  it('are exactly the named exports of index.ts', async () => {
    expect(Object.keys(await import('@piton/python-bridge')).sort()).to.deep.equal([
      'AgentConnectError',
      'BatchError',
      'CALL_CHANNEL',
      'CallTimeoutError',
      'EncodeError',
      'HostLostError',
      'InterpreterExitedError',
      'InterpreterStartError',
      'MessageTooLargeError',
      'MissingDependencyError',
      'NdArray',
      'PitonError',
      'PoolStartError',
      'PoolStoppedError',
      'ProtocolError',
      'PythonError',
      'PythonPool',
      'QueueFullError',
      'ReentrantCallError',
      'STREAM_CHANNEL',
      'WorkerExitedError',
      'curveKeyPair',
      'ndarray',
      'pythonPool',
      'resolvePython',
    ]);
  });

  it('keeps WorkerExitedError, the name before 0.2, as the same class as InterpreterExitedError', async () => {
    const bridge = await import('@piton/python-bridge');
    expect(bridge.WorkerExitedError).to.equal(bridge.InterpreterExitedError);
    expect(new bridge.InterpreterExitedError(1, null)).to.be.instanceOf(bridge.WorkerExitedError);
  });

  it('exports the same from require() (CommonJS) as from import', async () => {
    const { createRequire } = await import('node:module');
    const required = createRequire(import.meta.url)('@piton/python-bridge') as object;
    expect(Object.keys(required).sort()).to.deep.equal(Object.keys(await import('@piton/python-bridge')).sort());
  });
});
