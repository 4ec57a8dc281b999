/** Every benchmark family, in the order of the table. */
import { runAlternatives } from './alternatives.js';
import { runAsync } from './async.js';
import { runBatching } from './batching.js';
import { runCallbacks } from './callbacks.js';
import { runCodec } from './codec.js';
import { runCpu } from './cpu.js';
import { runData } from './data.js';
import { runElastic } from './elastic.js';
import { runFairness } from './fairness.js';
import { runLatency } from './latency.js';
import { runMetrics } from './metrics.js';
import { runNodeProfile } from './node-profile.js';
import { runObserver } from './observer.js';
import type { BenchContext } from './lib/context.js';
import type { Row } from './lib/report.js';
import { runProfile } from './profile.js';
import { runRecovery } from './recovery.js';
import { runService } from './service.js';
import { runSnapshot } from './snapshot.js';
import { runRemote } from './remote.js';
import { runSoak } from './soak.js';
import { runStartup } from './startup.js';
import { runTables } from './tables.js';
import { runThroughput } from './throughput.js';
import { runTracing } from './tracing.js';
import { runTypegen } from './typegen.js';

export interface Family {
  name: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

export const families: Family[] = [
  { name: 'latency', run: runLatency },
  { name: 'throughput', run: runThroughput },
  { name: 'cpu', run: runCpu },
  { name: 'data', run: runData },
  { name: 'snapshot', run: runSnapshot },
  { name: 'tables', run: runTables },
  { name: 'alternatives', run: runAlternatives },
  { name: 'recovery', run: runRecovery },
  { name: 'remote', run: runRemote },
  { name: 'elastic', run: runElastic },
  { name: 'startup', run: runStartup },
  { name: 'soak', run: runSoak },
  { name: 'fairness', run: runFairness },
  { name: 'observer', run: runObserver },
  { name: 'callbacks', run: runCallbacks },
  { name: 'async', run: runAsync },
  { name: 'batching', run: runBatching },
  { name: 'metrics', run: runMetrics },
  { name: 'tracing', run: runTracing },
  { name: 'profile', run: runProfile },
  { name: 'node-profile', run: runNodeProfile },
  { name: 'typegen', run: runTypegen },
  { name: 'service', run: runService },
  { name: 'codec', run: runCodec },
];
