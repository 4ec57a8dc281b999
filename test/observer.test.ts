// The observer page in a real browser (Debian's chromium, driven by puppeteer-core): every node
// of the tree is drawn, a killed interpreter shows its restart, a supervisor past its intensity
// shows its give-up, a system whose root exited says it is down, and nothing listens beyond loopback.
import { expect } from 'chai';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { exit, type TreeNode } from '@piton/core';
import { startObserver, type Observer } from '@piton/observer';
import { startDemo, type Demo } from '../examples/observer/demo.js';
import { repoRoot } from './helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
const OUTPUT = join(repoRoot, 'test', 'output');

function paths(nodes: TreeNode[]): string[] {
  return nodes.flatMap((n) => [n.path, ...paths(n.children ?? [])]);
}

const restartsOf = (page: Page, selector: string): Promise<number> =>
  page.$eval(selector, (e) => Number(e.getAttribute('data-restarts')));

describe('observer: the live page in a real browser', function () {
  this.timeout(60_000);
  let demo: Demo;
  let observer: Observer;
  let browser: Browser;
  let page: Page;
  let load: Promise<void> | undefined;
  let loading = false;

  before(async function () {
    if (CHROMIUM === undefined) {
      // CI installs chromium (.ci/run); elsewhere: apt-get install chromium
      if (process.env.CI) throw new Error('chromium is not installed: .ci/run installs it with apt-get');
      console.log('      (skipped: no chromium; apt-get install chromium)');
      this.skip();
    }
    demo = await startDemo();
    observer = await startObserver(demo.system, { sampleInterval: 200 });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(observer.url);
    // Steady Python work for the page's charts while the tests run (a call may fail when its
    // interpreter is killed: that is part of the test).
    loading = true;
    const worker = async () => {
      // A failed call goes back to the event loop before the next: a pool that is gone rejects at
      // once, and a loop of rejected promises alone would starve every timer.
      while (loading) await demo.pool.call('demo_jobs', 'work', [5]).catch(() => new Promise((resolve) => setImmediate(resolve)));
    };
    load = Promise.all([worker(), worker(), worker()]).then(() => undefined);
  });

  after(async () => {
    loading = false;
    await load;
    await browser?.close();
    await observer?.close();
    await demo?.stop();
  });

  it('serves on loopback by default, and refuses another host without a token', async () => {
    expect(new URL(observer.url).hostname).to.equal('127.0.0.1');
    await startObserver(demo.system, { host: '0.0.0.0' }).then(
      () => expect.fail('listened beyond loopback without a token'),
      (error: unknown) => expect(error).to.be.instanceOf(TypeError).with.property('message').that.matches(/token/),
    );
  });

  it('draws every node of the tree, found by data-path, with status and pids', async () => {
    const tree = await demo.system.tree();
    const expected = paths(tree.children);
    expect(expected).to.include.members(['demo/root', 'demo/root/clock', 'demo/root/jobs/fragile', 'demo/root/python']);
    await page.waitForFunction(
      (wanted: string[]) => wanted.every((p) => document.querySelector(`[data-path="${p}"]`) !== null),
      { timeout: 10_000 },
      expected,
    );
    const statuses = await page.$$eval('#tree li[data-path]', (items) => items.map((i) => i.getAttribute('data-status')));
    expect(statuses.every((s) => s === 'running')).to.equal(true);
    const pids = demo.pool.interpreters().map((i) => i.pid);
    const shown = await page.$eval('#tree', (t) => t.textContent ?? '');
    for (const pid of pids) expect(shown).to.contain(`pid ${pid}`);
    await page.waitForSelector('[data-pool="python"]');
  });

  it("shows a killed interpreter's restart on its node and on the pool within a second", async () => {
    const victim = demo.pool.interpreters()[0]!;
    const nodePath = (await demo.system.tree()).children
      .flatMap(function all(n: TreeNode): TreeNode[] { return [n, ...(n.children ?? []).flatMap(all)]; })
      .find((n) => n.info?.pid === victim.pid)!.path;
    const nodeBefore = await restartsOf(page, `#tree [data-path="${nodePath}"]`);
    const poolBefore = await restartsOf(page, '[data-pool="python"]');
    process.kill(victim.pid, 'SIGKILL');
    await page.waitForFunction(
      (path: string, node: number, pool: number) =>
        Number(document.querySelector(`#tree [data-path="${path}"]`)?.getAttribute('data-restarts')) > node &&
        Number(document.querySelector('[data-pool="python"]')?.getAttribute('data-restarts')) > pool,
      { timeout: 1_000 },
      nodePath,
      nodeBefore,
      poolBefore,
    );
    await demo.pool.whenReady();
  });

  it('shows a supervisor that gives up past its intensity, and the events list it', async () => {
    const jobs = '#tree [data-path="demo/root/jobs"]';
    await page.waitForSelector(jobs);
    demo.crashFragile();
    await page.waitForFunction(() => document.querySelector('#events li[data-type="restarting"][data-path="demo/root/jobs/fragile"]') !== null);
    demo.crashFragile();
    await page.waitForFunction(
      (s: string) => Number(document.querySelector(s)?.getAttribute('data-gave-up')) >= 1,
      { timeout: 1_000 },
      jobs,
    );
    await page.waitForSelector('#events li[data-type="gave_up"]');
    // The filter narrows the list to the give-up.
    await page.select('#event-type', 'gave_up');
    const shown = await page.$$eval('#events li:not([hidden])', (items) => items.map((i) => i.getAttribute('data-type')));
    expect(shown).to.have.length.greaterThan(0);
    expect(shown.every((t) => t === 'gave_up')).to.equal(true);
    await page.select('#event-type', '');
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'observer.png'), fullPage: true });
  });

  it('says so when the system is down: its root exited and nothing restarts it (system.down)', async () => {
    await page.waitForSelector('#down', { hidden: true });
    // The load stops first: its calls would all fail once the tree is gone.
    loading = false;
    await load;
    exit(demo.root, 'kill');
    await demo.system.down;
    await page.waitForSelector('#down:not([hidden])', { timeout: 5_000 });
    expect(await page.$eval('#down', (d) => d.textContent)).to.equal('system down: demo/root exited (killed)');
  });
});
