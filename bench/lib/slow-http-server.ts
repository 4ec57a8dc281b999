/**
 * A local HTTP server that answers every request after a delay, in a process of its own so that
 * its work does not share the measured Node process's event loop: the remote API of the `async`
 * family's I/O-bound calls. Listens on 127.0.0.1 on a free port, prints the port on its first
 * stdout line, answers `ok` after `--delay` ms (keep-alive), and exits when its stdin closes.
 *
 *   node --import tsx bench/lib/slow-http-server.ts --delay 20
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const at = process.argv.indexOf('--delay');
const delayMs = at >= 0 ? Number(process.argv[at + 1]) : NaN;
if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError('usage: slow-http-server.ts --delay <ms>');

const server = createServer((req, res) => {
  req.resume();
  setTimeout(() => res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 2 }).end('ok'), delayMs);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.stdin.on('end', () => {
  server.closeAllConnections();
  server.close();
});
process.stdin.resume();
