/** The last check of `setup` and `doctor`: a real pool of one interpreter answers a real call. */
import { PythonPool } from '../pool/python-pool.js';

/** Resolves with what happened, never rejects: `ok` when `math.fsum` came back right. */
export async function roundTrip(python: string): Promise<{ ok: boolean; detail: string }> {
  const started = Date.now();
  let pool: PythonPool | undefined;
  try {
    pool = await PythonPool.start({ size: 1, python, allow: { modules: ['math'] }, onOutput: false, startTimeout: 30_000 });
    const sum = await pool.call<number>('math', 'fsum', [[0.5, 0.25, 0.25]], { timeout: 30_000 });
    if (sum !== 1) return { ok: false, detail: `math.fsum answered ${String(sum)} instead of 1` };
    return { ok: true, detail: `a pool of one interpreter started and answered a call in ${Date.now() - started} ms` };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  } finally {
    await pool?.stop();
  }
}
