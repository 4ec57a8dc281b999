import { expect } from 'chai';
import { ActorSystem, checkChildSpecs, InvalidSpecError, supervisor, worker, type ChildSpec, type SupervisorFlags } from '../src/index.js';
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

  for (const [label, flags, field, value] of cases) {
    it(`rejects a bad ${label}, naming ${field} and the value`, async () => {
      const err = await invalid(flags);
      expect(err.field).to.equal(field);
      expect(err.value).to.deep.equal(value);
      expect(err.message).to.contain(field).and.contain(JSON.stringify(value));
    });
  }

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
