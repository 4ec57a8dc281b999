/**
 * What an interpreter has that the pool needs: its version, the runtime's dependencies (imported
 * for real, so a pyzmq whose libzmq cannot load counts as missing), numpy, pyarrow, and the worker runtime
 * this package carries. One short `python -c` run, with the runtime on PYTHONPATH as the pool puts it.
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, resolve } from 'node:path';
import { RUNTIME_SRC } from '../environment/runtime-location.js';

/** A module's state: its version when it imports, else the error that stopped it. */
export type ModuleState = { version: string } | { error: string };

export interface PythonReport {
  /** `sys.executable`. */
  executable: string;
  /** `3.11.2`. */
  version: string;
  /** Keyed by distribution name: pyzmq, msgpack, numpy, pyarrow. */
  modules: Record<string, ModuleState>;
  /** The worker runtime as this interpreter imports it (from RUNTIME_SRC when there is one). */
  runtime: { version: string; file: string } | { error: string };
}

const SCRIPT = `
import json, platform, sys
def state(name, version_of):
    try:
        module = __import__(name)
        return {"version": str(version_of(module))}
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}
modules = {
    "pyzmq": state("zmq", lambda m: m.pyzmq_version()),
    "msgpack": state("msgpack", lambda m: ".".join(map(str, m.version))),
    "numpy": state("numpy", lambda m: m.__version__),
    "pyarrow": state("pyarrow", lambda m: m.__version__),
}
try:
    import piton, piton.worker
    runtime = {"version": piton.__version__, "file": piton.__file__}
except Exception as e:
    runtime = {"error": "%s: %s" % (type(e).__name__, e)}
print(json.dumps({"executable": sys.executable, "version": platform.python_version(), "modules": modules, "runtime": runtime}))
`;

/** Runs `python` once and reports; rejects with a one-line reason when it cannot run at all. */
export function inspectPython(given: string): Promise<PythonReport> {
  // A relative path is the user's, from where they stand; a bare name is looked up on PATH.
  const python = given.includes('/') && !isAbsolute(given) ? resolve(given) : given;
  const env = { ...process.env };
  if (RUNTIME_SRC !== undefined) env.PYTHONPATH = [env.PYTHONPATH, RUNTIME_SRC].filter((p) => p !== undefined && p !== '').join(delimiter);
  return new Promise((settle, fail) => {
    // Run from the runtime's directory (or the temp directory): `python -c` puts its cwd first on
    // sys.path, and a stray zmq.py in the user's cwd must not pass for pyzmq.
    const cwd = RUNTIME_SRC ?? tmpdir();
    execFile(python, ['-c', SCRIPT], { cwd, env, timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : (stderr.trim().split('\n').pop() ?? error.message);
        fail(new Error(`cannot run ${python}: ${why}`));
        return;
      }
      try {
        settle(JSON.parse(stdout.trim().split('\n').pop() ?? '') as PythonReport);
      } catch {
        fail(new Error(`cannot inspect ${python}: unexpected output ${JSON.stringify(stdout.slice(-200))}`));
      }
    });
  });
}
