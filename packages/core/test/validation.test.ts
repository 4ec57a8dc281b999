import { expect } from 'chai';
import {
  ActorSystem,
  CHILD_DEFAULTS,
  checkChildSpecs,
  InvalidSpecError,
  PitonError,
  StartChildError,
  supervisor,
  worker,
  type ChildRef,
  type ChildSpec,
  type StartFn,
  type SupervisorFlags,
} from '../src/index.js';
import { probe, rejection } from './helpers.js';

describe('validation of flags and child specs', () => {
  let system: ActorSystem;
  let log: string[];
  beforeEach(() => {
    system = new ActorSystem({ name: 'val' });
    log = [];
  });
  afterEach(() => system.stop());

  async function invalid(flags: unknown): Promise<InvalidSpecError> {
    const err = await rejection(system.start(supervisor(flags as SupervisorFlags)));
    expect(err).to.be.instanceOf(InvalidSpecError);
    return err as InvalidSpecError;
  }
  const ok = (extra: Record<string, unknown> = {}): ChildSpec => ({ id: 'w', start: probe(log, 'w'), ...extra }) as ChildSpec;

  const cases: [string, unknown, string, unknown][] = [
    ['strategy', { strategy: 'one_for_some' }, 'strategy', 'one_for_some'],
    ['intensity', { intensity: -1 }, 'intensity', -1],
    ['intensity (not an integer)', { intensity: 1.5 }, 'intensity', 1.5],
    ['period', { period: 0 }, 'period', 0],
    ['autoShutdown', { autoShutdown: 'sometimes' }, 'autoShutdown', 'sometimes'],
    ['children', { children: 'w' }, 'children', 'w'],
    ['id', { children: [ok({ id: '' })] }, 'children[0].id', ''],
    ['start', { children: [ok({ start: 'main.js' })] }, 'children[0].start', 'main.js'],
    ['restart', { children: [ok({ restart: 'always' })] }, 'children[0].restart', 'always'],
    ['shutdown', { children: [ok({ shutdown: -5 })] }, 'children[0].shutdown', -5],
    ['shutdown (word)', { children: [ok({ shutdown: 'later' })] }, 'children[0].shutdown', 'later'],
    ['type', { children: [ok({ type: 'manager' })] }, 'children[0].type', 'manager'],
    ['significant (type)', { children: [ok({ significant: 'yes' })] }, 'children[0].significant', 'yes'],
    ['significant with permanent', { autoShutdown: 'any_significant', children: [ok({ significant: true })] }, 'children[0].significant', true],
    ['significant with autoShutdown never', { children: [ok({ restart: 'transient', significant: true })] }, 'children[0].significant', true],
    ['name', { children: [ok({ name: 42 })] }, 'children[0].name', 42],
    ['backoff.max below min', { children: [ok({ backoff: { min: 100, max: 10 } })] }, 'children[0].backoff.max', 10],
    ['backoff.jitter', { children: [ok({ backoff: { min: 1, max: 10, jitter: 2 } })] }, 'children[0].backoff.jitter', 2],
    ['duplicate id', { children: [ok(), ok()] }, 'children[1].id', 'w'],
    ['simple_one_for_one without one template', { strategy: 'simple_one_for_one', children: [] }, 'children', []],
  ];

  /** Cases whose value has the right type and the wrong size: RangeError; every other one is a TypeError. */
  const wrongNumbers = new Set(['intensity', 'intensity (not an integer)', 'period', 'shutdown', 'backoff.max below min', 'backoff.jitter']);

  for (const [label, flags, field, value] of cases) {
    it(`rejects a bad ${label}, naming ${field} and the value`, async () => {
      const err = await invalid(flags);
      expect(err.field).to.equal(field);
      expect(err.value).to.deep.equal(value);
      expect(err.message).to.contain(field).and.contain(JSON.stringify(value));
      expect(err).to.be.instanceOf(wrongNumbers.has(label) ? RangeError : TypeError).and.instanceOf(PitonError);
    });
  }

  // A deliberate departure from OTP, which ignores unknown keys (see supervisor.ts).
  describe('unknown keys are refused with "did you mean", before anything starts', () => {
    const unknown: [string, unknown, string][] = [
      ['a flag', { strategi: 'one_for_all' }, 'flags.strategi is not an option; did you mean strategy? (known: strategy, intensity, period, autoShutdown, children)'],
      [
        'a child spec key (restrat would otherwise start a permanent child)',
        { children: [ok({ restrat: 'temporary' })] },
        'children[0].restrat is not an option; did you mean restart? (known: id, start, restart, shutdown, startTimeout, type, significant, name, backoff)',
      ],
      ['a backoff key', { children: [ok({ backoff: { min: 1, max: 10, jiter: 0.5 } })] }, 'children[0].backoff.jiter is not an option; did you mean jitter?'],
      ['a key far from all', { children: [ok({ priority: 1 })] }, 'children[0].priority is not an option (known: '],
    ];
    for (const [label, flags, message] of unknown) {
      it(label, async () => {
        const err = await invalid(flags);
        expect(err).to.be.instanceOf(TypeError);
        expect(err.message.startsWith(message), err.message).to.equal(true);
        expect(log).to.deep.equal([]);
      });
    }

    it('in startChild(spec) and checkChildSpecs too', async () => {
      const root = await system.start(supervisor({}));
      const err = await rejection(root.startChild({ id: 'x', start: probe(log, 'x'), shutdwn: 10 } as ChildSpec));
      expect(err).to.be.instanceOf(InvalidSpecError).with.property('message').that.contains('spec.shutdwn is not an option; did you mean shutdown?');
      expect(() => checkChildSpecs([ok({ signifcant: false })])).to.throw(TypeError, /children\[0\]\.signifcant is not an option; did you mean significant\?/);
      expect(log).to.deep.equal([]);
    });

    it('in ActorSystem and system.start options', async () => {
      expect(() => new ActorSystem({ nmae: 'x' } as never)).to.throw(TypeError, /^options\.nmae is not an option; did you mean name\?/);
      const err = await rejection(system.start(probe(log, 't'), { shutdwon: 10 } as never));
      expect(err).to.be.instanceOf(TypeError).with.property('message').that.matches(/^options\.shutdwon is not an option; did you mean shutdown\?/);
      expect(log).to.deep.equal([]);
    });

    it('in call options', async () => {
      const ref = (await system.start(probe(log, 'c'))) as ChildRef<'ping'>;
      const err = await rejection(ref.call('ping', { timout: 10 } as never));
      expect(err).to.be.instanceOf(TypeError).with.property('message').that.matches(/^options\.timout is not an option; did you mean timeout\?/);
      expect(await ref.call('ping')).to.equal('pong');
    });

    it('nested inside the dynamic API: a backoff key in startChild(spec)', async () => {
      const root = await system.start(supervisor({}));
      const err = await rejection(root.startChild({ id: 'x', start: probe(log, 'x'), backoff: { min: 1, max: 10, jiter: 0.5 } } as ChildSpec));
      expect(err).to.be.instanceOf(InvalidSpecError).with.property('field', 'spec.backoff.jiter');
      expect((err as Error).message).to.match(/^spec\.backoff\.jiter is not an option; did you mean jitter\?/);
      expect(log).to.deep.equal([]);
      expect(await root.countChildren()).to.include({ specs: 0 });
    });

    it("in what a custom start resolves with (a misspelt inspect), at top level and in a tree; what was refused is killed", async () => {
      const killed: string[] = [];
      const custom = (name: string): StartFn<string, []> => async () =>
        ({ ref: name, exited: new Promise(() => undefined), shutdown: () => undefined, kill: () => killed.push(name), inspct: () => ({}) }) as never;
      const top = await rejection(system.start(custom('top')));
      expect(top).to.be.instanceOf(InvalidSpecError);
      expect((top as Error).message).to.match(/^the StartedChild of val\/root\.inspct is not an option; did you mean inspect\? \(known: ref, exited, shutdown, kill, inspect\)/);
      const inTree = await rejection(system.start(supervisor({ children: [{ id: 'c', start: custom('child') }] })));
      expect(inTree).to.be.instanceOf(StartChildError);
      expect((inTree as StartChildError).cause).to.be.instanceOf(InvalidSpecError).with.property('field', 'the StartedChild of val/root-2/c.inspct');
      expect(killed).to.deep.equal(['top', 'child']);
    });

    it('in a supervisor\'s internals (its clock and random source)', async () => {
      const err = await rejection(system.start(supervisor({}, { nwo: Date.now } as never)));
      expect(err).to.be.instanceOf(InvalidSpecError);
      expect((err as Error).message).to.match(/^internals\.nwo is not an option; did you mean now\?/);
    });

    it('worker(): a misspelt callback is refused at once (handelCast), not when the first cast crashes', () => {
      const behaviour = { init: () => 0, handelCast: (_m: unknown, s: number) => s };
      expect(() => worker(behaviour as never)).to.throw(
        TypeError,
        /^behaviour\.handelCast is not an option; did you mean handleCast\? \(known: init, handleCall, handleCast, handleInfo, handleContinue, terminate\)/,
      );
      expect(() => worker({ init: () => 0, terminate: 'bye' } as never)).to.throw(InvalidSpecError, /^behaviour\.terminate must be a function/);
    });
  });

  it('getChildSpec shows the startTimeout a spec got: 5000 for a worker, infinity for a supervisor', async () => {
    const root = await system.start(supervisor({ children: [ok(), { id: 's', type: 'supervisor', start: supervisor({}) }] }));
    expect((await root.getChildSpec('w')).startTimeout).to.equal(CHILD_DEFAULTS.workerStartTimeout).and.equal(5_000);
    expect((await root.getChildSpec('s')).startTimeout).to.equal('infinity');
  });

  it('checks every spec before starting any child', async () => {
    await invalid({ children: [ok(), { id: 'x', start: probe(log, 'x'), restart: 'bad' }] });
    expect(log).to.deep.equal([]);
  });

  it('checkChildSpecs (OTP check_childspecs) validates specs, naming the field, without starting anything', () => {
    const thrown = (run: () => void): InvalidSpecError => {
      try {
        run();
      } catch (error) {
        expect(error).to.be.instanceOf(InvalidSpecError);
        return error as InvalidSpecError;
      }
      throw new Error('expected InvalidSpecError');
    };
    checkChildSpecs([ok(), { id: 'b', start: probe(log, 'b'), restart: 'temporary', shutdown: 'brutal_kill' }]);
    expect(thrown(() => checkChildSpecs([ok(), ok({ restart: 'sometimes' })])).field).to.equal('children[1].restart');
    expect(thrown(() => checkChildSpecs([ok(), ok()])).field).to.equal('children[1].id');
    const significant = ok({ restart: 'transient', significant: true });
    expect(thrown(() => checkChildSpecs([significant])).field).to.equal('children[0].significant');
    checkChildSpecs([significant], 'any_significant');
    expect(thrown(() => checkChildSpecs([significant], 'any_signifcant' as never)).field).to.equal('autoShutdown');
    expect(log).to.deep.equal([]);
  });

  it('worker(): a behaviour without init is refused by worker() itself, before any start', () => {
    let err: unknown;
    try {
      worker({} as never);
    } catch (error) {
      err = error;
    }
    expect(err).to.be.instanceOf(InvalidSpecError);
    expect((err as InvalidSpecError).field).to.equal('behaviour.init');
  });
});
