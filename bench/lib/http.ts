/** Single HTTP requests on fresh loopback connections, for probes and checks (load goes through wrk and autocannon). */
import { request } from 'node:http';

export interface HttpReply {
  status: number;
  body: string;
}

/** One request on its own connection (no keep-alive agent); rejects on a connection error or after `timeoutMs`. */
export function httpRequest(url: string, method: 'GET' | 'POST', body?: string, timeoutMs = 5_000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    const req = request(url, { method, agent: false, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
