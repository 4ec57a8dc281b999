// Drives many calls through a pool at a fixed concurrency and accounts for every one of them.
import type { CallOptions, PoolRef } from '@piton/python-bridge';

export interface LoadOptions {
  /** Calls to send at least. */
  calls: number;
  /** Sending goes on past `calls` until this holds (e.g. enough interpreters were killed). */
  until?: () => boolean;
  concurrency: number;
  /** The whole run must settle within this many ms, or `runLoad` rejects naming the unsettled calls. */
  deadline: number;
  callOptions?: CallOptions;
}

export interface LoadReport {
  /** Calls sent. */
  calls: number;
  /** Calls that settled (resolved or rejected), each counted once. */
  settled: number;
  ok: number;
  /** Rejections by error class name. */
  failedByType: Record<string, number>;
  /** Calls whose result was not their own value: a reply delivered to the wrong caller. */
  wrongAnswers: number;
  /** Call ids that settled more than once (a promise cannot, so this guards the accounting). */
  settledTwice: number[];
  /** Longest time from submission to settlement, ms. */
  maxSettleMs: number;
  durationMs: number;
  /** First few rejections that were not InterpreterExitedError, for the failure message. */
  samples: string[];
}

/**
 * Sends calls, each with its own unique value, `concurrency` at a time: three in four are
 * `echo(value)` (quick, so the pool may batch them), one in four `sleep(0.002, value)` (a round
 * trip of its own). Every call records its settlement in a per-id counter, so a lost call
 * (counter 0) or a doubled one (counter 2) shows up, and checks that the answer is its own value,
 * so cross-wiring shows up.
 */
export async function runLoad(pool: PoolRef, options: LoadOptions): Promise<LoadReport> {
  const settlements: number[] = [];
  const until = options.until ?? (() => true);
  const report: LoadReport = {
    calls: 0,
    settled: 0,
    ok: 0,
    failedByType: {},
    wrongAnswers: 0,
    settledTwice: [],
    maxSettleMs: 0,
    durationMs: 0,
    samples: [],
  };
  const started = performance.now();
  const nonce = `${process.pid}-${Date.now()}`;
  let next = 0;

  const settle = (id: number, since: number) => {
    settlements[id]!++;
    if (settlements[id] === 2) report.settledTwice.push(id);
    report.settled++;
    report.maxSettleMs = Math.max(report.maxSettleMs, performance.now() - since);
  };

  const lane = async () => {
    while (next < options.calls || !until()) {
      const id = next++;
      settlements.push(0);
      report.calls++;
      const value = { id, nonce, payload: `call-${id}` };
      const since = performance.now();
      try {
        const echoed =
          id % 4 === 3
            ? await pool.call<typeof value>('calls', 'sleep', [0.002, value], options.callOptions)
            : await pool.call<typeof value>('calls', 'echo', [value], options.callOptions);
        settle(id, since);
        if (echoed?.id === id && echoed.nonce === nonce && echoed.payload === value.payload) report.ok++;
        else report.wrongAnswers++;
      } catch (error) {
        settle(id, since);
        const type = error instanceof Error ? error.constructor.name : typeof error;
        report.failedByType[type] = (report.failedByType[type] ?? 0) + 1;
        if (type !== 'InterpreterExitedError' && report.samples.length < 5) report.samples.push(String(error));
      }
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const unsettled: number[] = [];
      for (let id = 0; id < settlements.length && unsettled.length < 10; id++) if (settlements[id] === 0) unsettled.push(id);
      reject(new Error(`${report.calls - report.settled} calls unsettled after ${options.deadline} ms, e.g. ids ${unsettled.join(', ')}`));
    }, options.deadline);
  });
  try {
    await Promise.race([Promise.all(Array.from({ length: options.concurrency }, lane)), overdue]);
  } finally {
    clearTimeout(timer);
  }
  report.durationMs = performance.now() - started;
  return report;
}

export function formatReport(title: string, report: LoadReport, extra: Record<string, number>): string {
  const failed = Object.entries(report.failedByType).map(([type, n]) => `${type} ${n}`).join(', ') || 'none';
  const lines = [
    `${title}:`,
    `  calls ${report.calls}, settled ${report.settled}, ok ${report.ok}, failed ${report.calls - report.ok - report.wrongAnswers} (${failed}), wrong answers ${report.wrongAnswers}`,
    `  ${Object.entries(extra).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  max time to settle ${report.maxSettleMs.toFixed(0)} ms, run ${(report.durationMs / 1000).toFixed(1)} s`,
  ];
  return lines.join('\n');
}
