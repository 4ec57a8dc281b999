/**
 * Which call printed a line. The worker writes a marker line (`\x1epiton-call <callId> <traceId|->`,
 * python/src/piton/call_context.py) on stdout or stderr before the first line of a call other than
 * the last one to write there; this takes the markers out of the stream and gives each following
 * line the call's `callId` (and `traceId` when the call was traced). Lines written outside any
 * call carry neither. The state is per interpreter and per stream, as the markers are.
 */
import type { InterpreterOutput } from './output.js';
import { OUTPUT_MARKER } from '../launch/child-process.js';

type Stream = InterpreterOutput['stream'];

/** One interpreter's output: `(line, stream)` in, attributed {@link InterpreterOutput}s out. */
export function attributedOutput(worker: string, emit: (output: InterpreterOutput) => void): (line: string, stream: Stream) => void {
  let stdout: Attribution = NONE;
  let stderr: Attribution = NONE;
  return (line, stream) => {
    if (line.startsWith(OUTPUT_MARKER)) {
      const attribution = parseMarker(line);
      if (stream === 'stdout') stdout = attribution;
      else stderr = attribution;
      return;
    }
    const { callId, traceId } = stream === 'stdout' ? stdout : stderr;
    if (callId === undefined) emit({ worker, stream, line });
    else if (traceId === undefined) emit({ worker, stream, line, callId });
    else emit({ worker, stream, line, callId, traceId });
  };
}

interface Attribution {
  readonly callId?: string;
  readonly traceId?: string;
}

const NONE: Attribution = {};

function parseMarker(line: string): Attribution {
  const [, callId, traceId] = line.slice(1).split(' ');
  if (callId === undefined || callId === '-' || callId === '') return NONE;
  return traceId === undefined || traceId === '-' || traceId === '' ? { callId } : { callId, traceId };
}
