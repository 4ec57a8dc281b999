// DataFrames between Node and Python, served from Node: Node sends a table of discounts (an
// apache-arrow Table, a pandas DataFrame in the Python function), pandas groups a generated year of
// sales, the pool sends the result back as an Arrow table (one IPC stream in one ZeroMQ frame, no
// copy of its columns in Node), and a node:http server offers it as JSON and as Arrow IPC.
//
//   npx tsx examples/dataframes/index.ts            fetches both forms itself, prints, stops
//   npx tsx examples/dataframes/index.ts --serve    keeps serving (PORT=8080 by default) until Ctrl-C
//   curl -s localhost:8080/summary.json | head -c 300
//   curl -s localhost:8080/summary.arrow -o summary.arrow   # application/vnd.apache.arrow.stream
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Table, tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { PythonPool } from '@piton/python-bridge';

const here = dirname(fileURLToPath(import.meta.url));
const serve = process.argv.includes('--serve');
const ROWS = 200_000;
const SEED = 7;

function check(what: string, ok: boolean): void {
  if (!ok) throw new Error(`unexpected result: ${what}`);
}

/** A table's rows as plain objects for JSON: int64 (bigint) as numbers where exact, times as ISO strings. */
function rowsForJson(table: Table): Record<string, unknown>[] {
  return table.toArray().map((row) =>
    Object.fromEntries(
      Object.entries(row.toJSON() as Record<string, unknown>).map(([key, value]) => {
        if (typeof value === 'bigint') return [key, Number.isSafeInteger(Number(value)) ? Number(value) : String(value)];
        if (key === 'last_sale' && typeof value === 'number') return [key, new Date(value).toISOString()];
        return [key, value];
      }),
    ),
  );
}

const pool = await PythonPool.start({ size: 1, path: here, preload: ['sales'], startTimeout: 60_000 });
let server: ReturnType<typeof createServer> | undefined;
try {
  const discounts = tableFromArrays({ region: ['north', 'zürich'], discount: new Float64Array([0.1, 0.25]) });
  const started = performance.now();
  // Typed from sales.py's hints (piton-types.d.ts): a pd.DataFrame is an apache-arrow Table here.
  const summary = await pool.call('sales', 'summary', [discounts, ROWS, SEED]);
  const ms = performance.now() - started;
  console.log(`discounts sent as an Arrow table: ${discounts.numRows} regions`);
  console.log(`pandas group-by over ${ROWS.toLocaleString('en-US')} sales → ${summary.numRows} rows × ${summary.numCols} columns in ${ms.toFixed(0)} ms`);
  console.log(`columns: ${summary.schema.fields.map((f) => `${f.name} (${String(f.type)})`).join(', ')}`);

  // The figures of one group, computed again in Python from the raw rows, must match the table's.
  const top = summary.get(0)!.toJSON() as { region: string; product: string; revenue: number; units: bigint; sales: bigint };
  const again = await pool.call('sales', 'check', [discounts, ROWS, SEED, top.region, top.product]);
  check('revenue of the top group', Math.abs(top.revenue - again.revenue) < 1e-6 * again.revenue);
  check('units and sales of the top group', Number(top.units) === again.units && Number(top.sales) === again.sales);

  const json = JSON.stringify(rowsForJson(summary));
  const arrow = tableToIPC(summary, 'stream');
  server = createServer((req, res) => {
    if (req.url === '/summary.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(json);
    } else if (req.url === '/summary.arrow') {
      res.writeHead(200, { 'content-type': 'application/vnd.apache.arrow.stream' }).end(arrow);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('try /summary.json or /summary.arrow\n');
    }
  });
  const port = serve ? Number(process.env.PORT ?? 8080) : 0;
  await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`serving ${base}/summary.json and ${base}/summary.arrow`);

  // What a client gets: the same rows either way.
  const asJson = (await (await fetch(`${base}/summary.json`)).json()) as Record<string, unknown>[];
  const response = await fetch(`${base}/summary.arrow`);
  const fromArrow = tableFromIPC(new Uint8Array(await response.arrayBuffer()));
  check('content type', response.headers.get('content-type') === 'application/vnd.apache.arrow.stream');
  check('same rows as JSON and as Arrow', JSON.stringify(rowsForJson(fromArrow)) === JSON.stringify(asJson));
  console.log(`GET /summary.json: ${asJson.length} rows, ${json.length.toLocaleString('en-US')} bytes`);
  console.log(`GET /summary.arrow: ${fromArrow.numRows} rows, ${arrow.byteLength.toLocaleString('en-US')} bytes, the same rows`);
  console.log('top 3 by revenue:');
  for (const row of asJson.slice(0, 3)) {
    console.log(`  ${String(row['region']).padEnd(7)} ${String(row['product']).padEnd(14)} ${Number(row['revenue']).toFixed(2).padStart(13)}  ${row['units']} units, ${row['sales']} sales, last ${row['last_sale']}`);
  }
  if (serve) {
    console.log('serving until Ctrl-C');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
} finally {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await pool.stop();
}
console.log('stopped: no interpreter left running');
