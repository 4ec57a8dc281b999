/** What the run was measured on: the figures mean little without it. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { ROOT } from './context.js';

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  python: string;
  zeromqJs: string;
  libzmqNode: string;
  pyzmq: string;
  libzmqPython: string;
  msgpackPython: string;
  numpy: string;
  msgpackr: string;
  loadAverage: string;
}

function packageVersion(name: string): string {
  try {
    const json = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return json.version;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(python: string): Machine {
  const script = 'import sys, zmq, msgpack\n'
    + 'try:\n import numpy; nv = numpy.__version__\nexcept ImportError:\n nv = "absent"\n'
    + 'print("\\t".join([sys.version.split()[0], zmq.__version__, zmq.zmq_version(), ".".join(map(str, msgpack.version)), nv]))';
  const [pyVersion, pyzmq, libzmqPython, msgpackPython, numpy] = execFileSync(python, ['-c', script], { encoding: 'utf8' })
    .trim().split('\t') as [string, string, string, string, string];
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    python: pyVersion,
    zeromqJs: packageVersion('zeromq'),
    libzmqNode: zmq.version,
    pyzmq,
    libzmqPython,
    msgpackPython,
    numpy,
    msgpackr: packageVersion('msgpackr'),
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

export function renderMachine(m: Machine): string {
  return `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB; Node ${m.node}; Python ${m.python}; `
    + `zeromq.js ${m.zeromqJs} (libzmq ${m.libzmqNode}); pyzmq ${m.pyzmq} (libzmq ${m.libzmqPython}); `
    + `msgpackr ${m.msgpackr}; msgpack-python ${m.msgpackPython}; numpy ${m.numpy}; load average at start ${m.loadAverage}`;
}
