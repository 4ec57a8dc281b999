import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import { CallTimeoutError, PoolStoppedError, PythonError, QueueFullError, InterpreterExitedError } from '@piton/python-bridge';
import type { SystemTree, TreeNode } from '@piton/core';
import { BadRequest, errorResponse, parsePredictBody } from '../examples/http-service/responses.js';
import { parsePrometheusText, promValue, startHttpService, workersOf, type HttpService } from './helpers.js';
import { until } from './support.js';

interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

async function request(base: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, init);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function predict(base: string, body: string): Promise<Reply> {
  return request(base, '/predict', { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
}

describe('examples/http-service (npm run example:service)', function () {
  this.timeout(120_000);
  let service: HttpService | undefined;

  afterEach(() => {
    // A failed test must not leave the service (and its interpreters) running.
    if (service && service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
  });

  it('predicts, probes, exports metrics, sheds overload with 503, counts a killed interpreter as a crash, and finishes a request in progress on SIGTERM', async () => {
    // A queue of one, so that overload is reached with a few requests.
    service = await startHttpService({ MAX_QUEUE: '1' });
    const { child, base } = service;

    const ok = await predict(base, JSON.stringify({ features: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]] }));
    expect(ok.status, ok.body).to.equal(200);
    expect(JSON.parse(ok.body)).to.deep.equal({ predictions: ['setosa', 'virginica'] });

    const bad = await predict(base, JSON.stringify({ features: [[5.1, 3.5, 1.4]] }));
    expect(bad.status).to.equal(400);
    expect(JSON.parse(bad.body).error).to.equal('features[0] must be an array of 4 numbers');
    expect((await predict(base, '{not json')).status).to.equal(400);
    expect((await request(base, '/nowhere')).status).to.equal(404);

    expect((await request(base, '/healthz')).status).to.equal(200);
    const ready = await request(base, '/readyz');
    expect(ready.status).to.equal(200);
    expect(JSON.parse(ready.body)).to.include({ state: 'running', size: 2, ready: 2 });

    const metrics = await request(base, '/metrics');
    expect(metrics.headers.get('content-type')).to.contain('text/plain');
    let { samples } = parsePrometheusText(metrics.body);
    const pool = samples.find((s) => s.name === 'piton_pool_queue_length')!.labels.pool!;
    expect(promValue(samples, 'piton_pool_calls_total', { pool, outcome: 'ok' })).to.equal(1);
    expect(promValue(samples, 'piton_pool_restarts_total', { pool, cause: 'crash' })).to.equal(0);
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).to.equal(true);

    const tree = JSON.parse((await request(base, '/debug/tree')).body) as SystemTree;
    // The interpreter workers, wherever the start method puts them (under `interpreters` with a fork server).
    const all = (nodes: readonly TreeNode[]): TreeNode[] => nodes.flatMap((n) => [n, ...all(n.children)]);
    const workers = all(tree.children).filter((n) => n.id?.startsWith('python-'));
    expect(workers.map((w) => w.id)).to.deep.equal(['python-1', 'python-2']);
    const pids = workers.map((w) => w.info!.pid as number);

    // Overload: both interpreters held (SIGSTOP) by a prediction each, one more queued (in the
    // open batch of predict(), which counts as queued), the queue (MAX_QUEUE=1) full: the next
    // prediction is shed with 503 and Retry-After. Then all resume. The held two are sent one
    // after the other: sent together, they would be one batch on one interpreter.
    const body = JSON.stringify({ features: [[6.3, 3.3, 6.0, 2.5]] });
    const held: Promise<Reply>[] = [];
    const gauge = async (name: string, labels: Record<string, string>) =>
      promValue(parsePrometheusText((await request(base, '/metrics')).body).samples, name, { pool, ...labels });
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      held.push(predict(base, body));
      await until(async () => (await gauge('piton_pool_interpreters', { state: 'busy' })) === 1, 'one interpreter busy');
      held.push(predict(base, body));
      await until(async () => (await gauge('piton_pool_interpreters', { state: 'busy' })) === 2, 'both interpreters busy');
      held.push(predict(base, body));
      await until(async () => (await gauge('piton_pool_queue_length', {})) === 1, 'one prediction queued');
      const shed = await predict(base, body);
      expect(shed.status, shed.body).to.equal(503);
      expect(shed.headers.get('retry-after')).to.equal('1');
      expect(JSON.parse(shed.body).error).to.contain('overloaded');
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    for (const reply of await Promise.all(held)) {
      expect(reply.status, reply.body).to.equal(200);
      expect(JSON.parse(reply.body).predictions).to.deep.equal(['virginica']);
    }
    expect(await gauge('piton_pool_calls_total', { outcome: 'queue_full' })).to.equal(1);

    // Kill one interpreter, found through the supervision tree.
    const victim = pids[0]!;
    expect(workersOf(child.pid)).to.include(victim);
    process.kill(victim, 'SIGKILL');

    // The service's own state, in another process: polled through its endpoints.
    await until(async () => {
      ({ samples } = parsePrometheusText((await request(base, '/metrics')).body));
      return promValue(samples, 'piton_pool_restarts_total', { pool, cause: 'crash' }) === 1;
    }, 'the kill counted as a restart with cause crash', 60_000);
    await until(async () => (await request(base, '/readyz')).status === 200, 'ready again', 60_000);
    expect(service.stderr()).to.match(/"message":"interpreter replaced","worker":"python-1","cause":"crash"/);
    const again = await predict(base, JSON.stringify({ features: [[6.0, 2.7, 4.1, 1.0]] }));
    expect(again.status).to.equal(200);
    expect(JSON.parse(again.body).predictions).to.deep.equal(['versicolor']);

    // A request in progress when SIGTERM comes: its headers are in (the server answered
    // `100 Continue`), its body comes after the service began shutting down. It is answered.
    const lateBody = JSON.stringify({ features: [[5.1, 3.5, 1.4, 0.2]] });
    const late = httpRequest(`${base}/predict`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(lateBody), Expect: '100-continue' },
    });
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      late.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      late.on('error', reject);
    });
    await once(late, 'continue');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await until(() => service!.stderr().includes('"message":"shutting down"'), 'the service began shutting down');
    // A new connection (not one of fetch's pooled keep-alive sockets, which the server closed).
    const refused = await new Promise<string | undefined>((resolve) => {
      const probe = httpRequest(`${base}/healthz`, { agent: false });
      probe.on('response', (res) => resolve(`answered ${res.statusCode}`));
      probe.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
      probe.end();
    });
    expect(refused, 'a new connection during shutdown').to.equal('ECONNREFUSED');
    late.end(lateBody);
    const reply = await answered;
    expect(reply.status, reply.text).to.equal(200);
    expect(JSON.parse(reply.text)).to.deep.equal({ predictions: ['setosa'] });
    const [code, signal] = await exited;
    expect({ code, signal }, service.stderr()).to.deep.equal({ code: 0, signal: null });
    expect(service.stderr()).to.contain('"message":"stopped"');
    expect(workersOf(child.pid)).to.deep.equal([]);
  });
});

describe('examples/http-service: requests and responses', () => {
  it('names what is wrong with a body', () => {
    const parsed = parsePredictBody('{"features": [[1, 2, 3, 4], [5, 6, 7, 8.5]]}');
    expect(parsed.rows).to.equal(2);
    expect([...parsed.values]).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8.5]);
    for (const [body, message] of [
      ['[', 'the body must be JSON'],
      ['{}', 'an object with "features"'],
      ['{"features": []}', 'array of 1 to 1000 rows'],
      ['{"features": [[1, 2, 3, "4"]]}', 'features[0][3] must be a finite number, got "4"'],
      ['{"features": [[1, 2, 3, 4], [1]]}', 'features[1] must be an array of 4 numbers'],
    ] as const) {
      expect(() => parsePredictBody(body), body).to.throw(BadRequest, message);
    }
  });

  it('answers overload and shutdown with 503 and Retry-After, bad input with 400, a slow model with 504', () => {
    expect(errorResponse(new QueueFullError(256))).to.include({ status: 503, retryAfter: 1 });
    expect(errorResponse(new PoolStoppedError('stopping'))).to.include({ status: 503, retryAfter: 5 });
    expect(errorResponse(new InterpreterExitedError(null, 'SIGKILL'))).to.include({ status: 503, retryAfter: 1 });
    expect(errorResponse(new PythonError('ValueError', 'bad shape', ''))).to.deep.equal({ status: 400, message: 'bad shape' });
    expect(errorResponse(new PythonError('RuntimeError', 'oops', ''))).to.include({ status: 500 });
    expect(errorResponse(new CallTimeoutError(10_000))).to.include({ status: 504 });
  });
});
