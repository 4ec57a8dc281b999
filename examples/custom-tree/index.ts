/**
 * A small supervision tree: a crash, a restart, then escalation.
 *
 *   app/root            one_for_one, intensity 3 / 5 s
 *   ├── audit           worker: counts what happens
 *   ├── exporter        worker: only when EXPORT_TO is set; otherwise its init returns IGNORE
 *   └── payments        supervisor: rest_for_one, intensity 1 / 5 s
 *       ├── ledger      worker: keeps balances
 *       └── api         worker: validates, forwards to the ledger, answers when the ledger has
 *
 * Run: npm run example:tree   (or: npx tsx examples/custom-tree/index.ts after `npx tsc -b`)
 */
import {
  ActorSystem,
  formatReason,
  IGNORE,
  supervisor,
  worker,
  type ChildRef,
  type SupervisorEvent,
  type SupervisorRef,
} from '@piton/core';

type LedgerCall = { deposit: number } | 'balance';
type ApiCall = { pay: number };

const ledger = worker<number, LedgerCall, number>({
  init: () => 0,
  handleCall: (msg, balance) => {
    if (msg === 'balance') return { reply: balance, state: balance };
    return { reply: balance + msg.deposit, state: balance + msg.deposit };
  },
});

const api = worker<undefined, ApiCall, number>({
  init: () => undefined,
  handleCall: (msg, state, ctx, from) => {
    // A negative amount is a bug we did not plan for: the worker crashes and is restarted.
    if (msg.pay < 0) throw new Error(`negative amount ${msg.pay}`);
    // A deferred reply: the api serves the next payment while the ledger works on this one, and
    // answers this caller when the ledger has. If the ledger call fails, the api crashes with it.
    const ledgerRef = ctx.system.whereis<ChildRef<LedgerCall, number>>('ledger');
    ledgerRef.call({ deposit: msg.pay }).then(
      (balance) => ctx.reply(from, balance),
      (error: unknown) => ctx.exit(error as Error),
    );
    return { noreply: state };
  },
});

// An optional child: without a destination there is nothing to export, so init returns IGNORE.
// The supervisor keeps its spec (status 'undefined') and starts the rest as usual.
const exporter = worker<{ destination: string }, 'destination', string>({
  init: () => {
    const destination = process.env.EXPORT_TO;
    return destination ? { destination } : IGNORE;
  },
  handleCall: (_msg, state) => ({ reply: state.destination, state }),
});

const audit = worker<number, 'count', number>({
  init: () => 0,
  handleCall: (_msg, n) => ({ reply: n, state: n }),
});

const started = Date.now();
function print(e: SupervisorEvent): void {
  const t = `+${String(Date.now() - started).padStart(4)} ms`;
  const who = e.path.padEnd(22);
  switch (e.type) {
    case 'started':
      return console.log(`${t}  started     ${who}`);
    case 'ignored':
      return console.log(`${t}  ignored     ${who}`);
    case 'exited':
      return console.log(`${t}  exited      ${who} reason: ${formatReason(e.reason)}`);
    case 'restarting':
      return console.log(`${t}  restarting  ${who} attempt ${e.attempt}${e.delay ? ` in ${e.delay} ms` : ''}`);
    case 'start_failed':
      return console.log(`${t}  start_failed ${who} ${formatReason(e.reason as Error)}`);
    case 'gave_up':
      return console.log(`${t}  gave_up     ${e.supervisor.padEnd(22)} too many restarts (last: ${e.id})`);
    case 'shutdown':
      return console.log(`${t}  shutdown    ${who} (${e.cause})`);
  }
}

async function main(): Promise<void> {
  const system = new ActorSystem({ name: 'app' });
  system.events.on('event', print);
  const waitFor = (pred: (e: SupervisorEvent) => boolean) =>
    new Promise<void>((resolve) => {
      const on = (e: SupervisorEvent) => {
        if (pred(e)) {
          system.events.off('event', on);
          resolve();
        }
      };
      system.events.on('event', on);
    });

  console.log('--- starting the tree');
  const root = await system.start(
    supervisor({
      strategy: 'one_for_one',
      intensity: 3,
      period: 5_000,
      children: [
        { id: 'audit', start: audit },
        { id: 'exporter', start: exporter },
        {
          id: 'payments',
          type: 'supervisor',
          start: supervisor({
            strategy: 'rest_for_one',
            intensity: 1,
            period: 5_000,
            children: [
              { id: 'ledger', start: ledger, name: 'ledger' },
              { id: 'api', start: api, name: 'api' },
            ],
          }),
        },
      ],
    }),
  );
  const exporterRow = await root.whichChild('exporter');
  console.log(`exporter: ${exporterRow.status === 'running' ? 'running' : 'not started (EXPORT_TO is not set)'}`);
  const payApi = system.whereis<ChildRef<ApiCall, number>>('api');
  console.log(`pay 30 -> balance ${await payApi.call({ pay: 30 })}`);
  const [a, b] = await Promise.all([payApi.call({ pay: 1 }), payApi.call({ pay: 2 })]);
  console.log(`pay 1 and pay 2 at once -> balances ${a} and ${b} (the api answers each when the ledger has)`);

  console.log('--- a crash: api gets a negative amount; payments restarts it');
  const restarted = waitFor((e) => e.type === 'started' && e.id === 'api');
  await payApi.call({ pay: -1 }).catch((err: Error) => console.log(`call failed: ${err.message}`));
  await restarted;
  console.log(`pay 12 -> balance ${await payApi.call({ pay: 12 })} (the ledger kept its state)`);

  console.log('--- a second crash within 5 s: payments gives up, root restarts the whole subtree');
  const escalated = waitFor((e) => e.type === 'started' && e.id === 'payments');
  await payApi.call({ pay: -2 }).catch((err: Error) => console.log(`call failed: ${err.message}`));
  await escalated;
  console.log(`pay 5 -> balance ${await payApi.call({ pay: 5 })} (a fresh ledger)`);

  const payments = await root.child<SupervisorRef>('payments');
  console.log('payments children:', (await payments.whichChildren()).map((c) => `${c.id}=${c.status}`).join(', '));

  console.log('--- stopping: children in reverse start order');
  await system.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
