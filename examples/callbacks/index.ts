// Python calls back into Node during a call, and reports progress that Node draws as a bar.
//
//   npm install && npm run example:callbacks
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PythonPool } from '@piton/python-bridge';
import type { Order } from './piton-types.js';

const here = dirname(fileURLToPath(import.meta.url));

// What only the Node service has: here a price table and exchange rates; in a real service a
// cache, a database connection, a feature flag.
const prices = new Map([
  ['apple', 0.5],
  ['bread', 2.25],
  ['cheese', 7.9],
  ['dates', 4.0],
]);
const rates: Record<string, number> = { EUR: 1, USD: 1.08 };
let lookups = 0;

class UnknownSkuError extends Error {
  override name = 'UnknownSkuError';
}

const pool = await PythonPool.start({
  size: 1,
  path: here,
  expose: {
    // node.call('price', sku) in Python
    price: async (sku: string) => {
      lookups++;
      const price = prices.get(sku);
      if (price === undefined) throw new UnknownSkuError(`no price for ${sku}`);
      return price;
    },
    // node.call('rate', currency='USD') in Python: keyword arguments come as one last object
    rate: ({ currency }: { currency: string }) => rates[currency] ?? 1,
  },
});

function bar({ done, of }: { done: number; of: number }): string {
  const width = 30;
  const filled = Math.round((done / of) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round((done / of) * 100)).padStart(3)}% (${done}/${of})`;
}

try {
  // Order is invoices.py's TypedDict, in piton-types.d.ts (`npx piton types`): totals() is typed by it.
  const orders: Order[] = Array.from({ length: 8 }, (_, i) => ({
    id: `order-${i + 1}`,
    lines: [
      ['apple', i + 1],
      ['bread', 1],
      [i % 4 === 3 ? 'caviar' : 'cheese', 2],
    ],
  }));

  const interactive = process.stdout.isTTY === true;
  const invoices = await pool.call('invoices', 'totals', [orders], {
    kwargs: { currency: 'USD' },
    // Each progress(value) in Python arrives here, in order, before the call settles.
    onProgress: (p) => {
      const line = bar(p as { done: number; of: number });
      if (interactive) process.stdout.write(`\r${line}`);
      else console.log(line);
    },
  });
  if (interactive) process.stdout.write('\n');

  for (const invoice of invoices) {
    const missing = invoice.missing.length > 0 ? `  missing: ${invoice.missing.join(', ')}` : '';
    console.log(`${invoice.id.padEnd(10)} ${invoice.total.toFixed(2).padStart(8)} USD${missing}`);
  }
  console.log(`prices looked up in Node: ${lookups}`);

  // Check the totals in JavaScript: the example fails loudly if a result is wrong.
  for (const [i, order] of orders.entries()) {
    let expected = 0;
    for (const [sku, quantity] of order.lines) expected += (prices.get(sku) ?? 0) * quantity;
    expected *= rates.USD!; // Python rounds to cents: compare within a cent
    if (Math.abs(invoices[i]!.total - expected) > 0.006) throw new Error(`${order.id}: total ${invoices[i]!.total}, expected ${expected}`);
  }
  console.log('totals checked in JavaScript');
} finally {
  await pool.stop();
}
