/**
 * The agent protocol (PROTOCOL.md, "The agent protocol") against the shared vectors: what Node
 * writes is byte for byte what the vectors hold, what the agent writes parses to what it means, and
 * a malformed message is a ProtocolError naming what is wrong.
 */
import { expect } from 'chai';
import { readVectors } from '../../../../test/helpers.js';
import { ProtocolError } from '../../src/errors.js';
import { agentCodec, encodeAgentMessage, parseAgentMessage, type NodeMessage } from '../../src/remote/agent-protocol.js';

const cases = new Map(readVectors().cases.map((c) => [c.name, c.frames]));

function framesOf(name: string): Buffer[] {
  const frames = cases.get(name);
  if (frames === undefined) throw new Error(`no vector named ${JSON.stringify(name)}`);
  return frames.map((h) => Buffer.from(h, 'hex'));
}

const hex = (frames: Buffer[]) => frames.map((f) => f.toString('hex'));

describe('agent protocol', () => {
  it('Node writes the vectors bytes', () => {
    const written: [string, NodeMessage][] = [
      ['agent hello', ['hello', 1, { pid: 4242, timeout: 3000 }]],
      ['agent signal', ['signal', 1, 'SIGKILL']],
      ['agent ping', ['ping', 7]],
      ['agent bye', ['bye']],
      [
        'agent start',
        ['start', 1, {
          id: 'host-1/python-1', path: ['/srv/app'], preload: ['model'], maxMessageSize: 67108864,
          allowModules: [], allowPrivate: false, allowReexports: [], env: { OMP_NUM_THREADS: '1', DEBUG: null }, cwd: null,
        }],
      ],
    ];
    for (const [name, message] of written) expect(hex(encodeAgentMessage(message)), name).to.deep.equal(hex(framesOf(name)));
  });

  it("parses the agent's messages as the vectors mean them", () => {
    expect(parseAgentMessage(framesOf('agent welcome'))).to.deep.equal({
      kind: 'welcome', protocol: 1, info: { agent: '0.1.0', instance: '9f1c2d', host: 'gpu-1', pid: 77, python: '3.11.7' },
    });
    expect(parseAgentMessage(framesOf('agent started'))).to.deep.equal({
      kind: 'started', ref: 1, pid: 4343, endpoint: 'tcp://10.0.0.7:41235', serverKey: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
    });
    expect(parseAgentMessage(framesOf('agent failed'))).to.include({ kind: 'failed', ref: 2 });
    expect(parseAgentMessage(framesOf('agent output'))).to.deep.equal({ kind: 'output', ref: 1, stream: 'stdout', line: 'epoch 3' });
    expect(parseAgentMessage(framesOf('agent exited by a signal'))).to.deep.equal({ kind: 'exited', ref: 1, code: null, signal: 'SIGKILL', stderr: '' });
    expect(parseAgentMessage(framesOf('agent exited with a code'))).to.deep.equal({ kind: 'exited', ref: 1, code: 0, signal: null, stderr: '' });
    expect(parseAgentMessage(framesOf('agent pong'))).to.deep.equal({ kind: 'pong', n: 7, instance: '9f1c2d' });
    expect(parseAgentMessage(framesOf('agent refused'))).to.deep.equal({ kind: 'refused', message: 'say hello first' });
  });

  it('a malformed message is a ProtocolError naming what is wrong', () => {
    const bad: [unknown, RegExp][] = [
      [['nonsense', 1], /unknown message kind "nonsense"/],
      [['pong', 1], /pong: expected 3 items/],
      [['started', -1, { pid: 1, endpoint: 'tcp://x:1', serverKey: 'k' }], /ref must be an unsigned integer/],
      [['output', 1, 'stdin', 'x'], /output stream must be stdout or stderr/],
      [['exited', 1, { code: null, signal: 9, stderr: '' }], /signal must be a string/],
      [{ kind: 'welcome' }, /an array whose first item is its kind/],
    ];
    for (const [message, says] of bad) {
      expect(() => parseAgentMessage(agentCodec.encode(message)), String(says)).to.throw(ProtocolError, says);
    }
    expect(() => parseAgentMessage([...framesOf('agent ping'), Buffer.alloc(1)])).to.throw(ProtocolError, /one frame/);
  });
});
