/**
 * Where interpreter output goes. A line a Python function prints is often the only trace of what
 * went wrong, so it is never dropped unless asked: with no `onOutput` it goes to the system's
 * `'output'` event when something listens there, else to the Node process's stderr, prefixed with
 * the worker that printed it (`[python-1] …`, as Celery and pm2 prefix their workers' lines).
 * `onOutput: false` drops it. Listeners are looked up at each line, so one added later takes over.
 */
import type { SystemEvents } from '@piton/core';

/** A line an interpreter printed. */
export interface InterpreterOutput {
  worker: string;
  stream: 'stdout' | 'stderr';
  line: string;
  /**
   * The call whose Python code wrote the line (`context().call_id` in Python), when one did.
   * Lines written by C code straight to the file descriptor, and a line begun by one call and
   * finished by another, carry the last call that wrote through `sys.stdout`/`sys.stderr`.
   */
  callId?: string;
  /** The call's W3C trace id, when it was made inside an OpenTelemetry span. */
  traceId?: string;
}

declare module '@piton/core' {
  // Interpreter output joins the system's events, next to the supervisors' 'event's.
  interface SystemEventMap {
    output: [InterpreterOutput];
  }
}

export type OutputSink = (output: InterpreterOutput) => void;

/** Where each line goes under the `onOutput` option (see above). */
export function outputSink(
  onOutput: OutputSink | false | undefined,
  events: SystemEvents,
  stderr: { write(text: string): unknown } = process.stderr,
): OutputSink {
  if (onOutput === false) return () => {};
  if (onOutput !== undefined) return onOutput;
  return (output) => {
    if (events.listenerCount('output') > 0) events.emit('output', output);
    else stderr.write(formatOutputLine(output));
  };
}

/** `[python-1] line\n`: the line as the Node process's stderr shows it. */
export function formatOutputLine({ worker, line }: InterpreterOutput): string {
  return `[${worker}] ${line}\n`;
}
