/**
 * The agent protocol (PROTOCOL.md, "The agent protocol"), Node's side: what crosses the control
 * link to `python -m piton.agent`. One home for its kinds, shapes and checks; the Python side is
 * `piton/agent_protocol.py`, and the shared vectors hold both to the same bytes.
 */
import { createCodec, type Codec } from '../wire/codec.js';
import { ProtocolError } from '../errors.js';

export const AGENT_PROTOCOL_VERSION = 1;

/** Control messages are small: a start request, an output line (≤ 64 KiB), an exit report. */
const MAX_CONTROL_MESSAGE = 1024 * 1024;

export const agentCodec: Codec = createCodec({ maxMessageSize: MAX_CONTROL_MESSAGE });

/** The body of `start`: how the agent runs one interpreter. */
export interface StartBody {
  id: string;
  path: string[];
  preload: string[];
  maxMessageSize: number;
  allowModules: string[];
  allowPrivate: boolean;
  allowReexports: string[];
  env: Record<string, string | null>;
  cwd: string | null;
}

export type NodeMessage =
  | ['hello', number, { pid: number; timeout: number }]
  | ['start', number, StartBody]
  | ['signal', number, 'SIGTERM' | 'SIGKILL']
  | ['ping', number]
  | ['bye'];

export interface Welcome {
  agent: string;
  /** Changes when the agent restarts: a pong from another instance means our interpreters are gone. */
  instance: string;
  host: string;
  pid: number;
  python: string;
}

export type AgentMessage =
  | { kind: 'welcome'; protocol: number; info: Welcome }
  | { kind: 'started'; ref: number; pid: number; endpoint: string; serverKey: string }
  | { kind: 'failed'; ref: number; message: string; stderr: string }
  | { kind: 'exited'; ref: number; code: number | null; signal: NodeJS.Signals | null; stderr: string }
  | { kind: 'output'; ref: number; stream: 'stdout' | 'stderr'; line: string }
  | { kind: 'pong'; n: number; instance: string }
  | { kind: 'refused'; message: string };

export function encodeAgentMessage(message: NodeMessage): Buffer[] {
  return agentCodec.encode(message);
}

function fail(what: string): never {
  throw new ProtocolError(`agent protocol: ${what}`);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Map) fail(`${what} must be a map`);
  return value as Record<string, unknown>;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(`${what} must be a string`);
  return value;
}

function uint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`${what} must be an unsigned integer`);
  return value;
}

/** Decodes and checks one message from the agent. Throws {@link ProtocolError}. */
export function parseAgentMessage(frames: Buffer[]): AgentMessage {
  if (frames.length !== 1) fail(`a message has one frame, got ${frames.length}`);
  const envelope = agentCodec.decode(frames);
  if (!Array.isArray(envelope) || typeof envelope[0] !== 'string') fail('a message is an array whose first item is its kind');
  const [kind, a, b, c] = envelope as unknown[];
  const expect = (n: number) => envelope.length === n || fail(`${String(kind)}: expected ${n} items, got ${envelope.length}`);
  switch (kind) {
    case 'welcome': {
      expect(3);
      const info = record(b, 'welcome info');
      return {
        kind,
        protocol: uint(a, 'welcome protocol'),
        info: { agent: str(info.agent, 'agent'), instance: str(info.instance, 'instance'), host: str(info.host, 'host'), pid: uint(info.pid, 'pid'), python: str(info.python, 'python') },
      };
    }
    case 'started': {
      expect(3);
      const body = record(b, 'started body');
      return { kind, ref: uint(a, 'ref'), pid: uint(body.pid, 'pid'), endpoint: str(body.endpoint, 'endpoint'), serverKey: str(body.serverKey, 'serverKey') };
    }
    case 'failed': {
      expect(3);
      const body = record(b, 'failed body');
      return { kind, ref: uint(a, 'ref'), message: str(body.message, 'message'), stderr: str(body.stderr, 'stderr') };
    }
    case 'exited': {
      expect(3);
      const body = record(b, 'exited body');
      const code = body.code === null ? null : uint(body.code, 'code');
      const signal = body.signal === null ? null : (str(body.signal, 'signal') as NodeJS.Signals);
      return { kind, ref: uint(a, 'ref'), code, signal, stderr: str(body.stderr, 'stderr') };
    }
    case 'output': {
      expect(4);
      if (b !== 'stdout' && b !== 'stderr') fail('output stream must be stdout or stderr');
      return { kind, ref: uint(a, 'ref'), stream: b, line: str(c, 'line') };
    }
    case 'pong':
      expect(3);
      return { kind, n: uint(a, 'n'), instance: str(b, 'instance') };
    case 'refused':
      expect(2);
      return { kind, message: str(a, 'message') };
    default:
      return fail(`unknown message kind ${JSON.stringify(kind)}`);
  }
}
