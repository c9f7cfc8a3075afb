import { describe, expect, it } from 'vitest';
import { decideFailover, orderFailovers, type FailoverInput } from './decide.js';

const T = 1_800_000_000_000;
const policy = { cooldown: 600, probation: 1800, max_failovers: { count: 3, window: 86_400 }, max_data_loss: 0, failover_priority: 0 };
const shadow = { id: 'vm1-s1', host: 'h2', flavor: 'warm' as const, mode: 'sync' as const, sync: 'synchronized', lagSeconds: 0, hostAlive: true };
const base: FailoverInput = { vmId: 'vm1', now: T, criteriaHold: true, because: 'state in [crashed]', policy, shadow, history: [], primaryRuns: false };

describe('decideFailover', () => {
  it('criteria hold and a synchronized warm shadow: a warm takeover with no data loss', () => {
    expect(decideFailover(base)).toEqual({ kind: 'failover', vmId: 'vm1', path: 'warm', shadowId: 'vm1-s1', toHost: 'h2', dataLossBoundSeconds: 0, reason: 'state in [crashed]', priority: 0 });
    expect(decideFailover({ ...base, criteriaHold: false }).kind).toBe('none');
  });

  it('a migrate shadow: live migration while the primary runs, cold boot when it does not', () => {
    const m = { ...base, shadow: { ...shadow, flavor: 'migrate' as const } };
    expect(decideFailover({ ...m, primaryRuns: true })).toMatchObject({ kind: 'failover', path: 'migrate' });
    expect(decideFailover({ ...m, primaryRuns: false })).toMatchObject({ kind: 'failover', path: 'cold' });
  });

  it('calm: cooldown, probation and the window limit block (and say why); a manual failover is not held by them', () => {
    const started = (ago: number, took = 5000) => ({ startedAt: T - ago, endedAt: T - ago + took, state: 'done' as const });
    expect(decideFailover({ ...base, history: [started(60_000)] })).toMatchObject({ kind: 'blocked', alert: 'failover_blocked', why: expect.stringMatching(/^cooldown/) });
    expect(decideFailover({ ...base, history: [started(700_000)] })).toMatchObject({ kind: 'blocked', why: expect.stringMatching(/^probation/) });
    const three = [started(3_000_000), started(4_000_000), started(5_000_000)];
    expect(decideFailover({ ...base, history: three })).toMatchObject({ kind: 'blocked', alert: 'failover_limit' });
    expect(decideFailover({ ...base, history: [{ startedAt: T - 1000, endedAt: null, state: 'running' }] }).kind).toBe('none');
    expect(decideFailover({ ...base, manual: true, criteriaHold: false, history: [started(60_000)] })).toMatchObject({ kind: 'failover', reason: 'manual' });
  });

  it('a shadow that is not synchronized: blocked with a resync unless the policy accepts the loss, which is then bounded', () => {
    const lagging = { ...base, shadow: { ...shadow, mode: 'async' as const, sync: 'lagging', lagSeconds: 12 } };
    expect(decideFailover(lagging)).toMatchObject({ kind: 'blocked', alert: 'shadow_not_synchronized', resync: true });
    expect(decideFailover({ ...lagging, policy: { ...policy, max_data_loss: 30 } })).toMatchObject({ kind: 'failover', dataLossBoundSeconds: 12 });
    expect(decideFailover({ ...lagging, policy: { ...policy, max_data_loss: 10 } })).toMatchObject({ kind: 'blocked', resync: true });
    expect(decideFailover({ ...base, shadow: { ...shadow, sync: 'syncing', lagSeconds: null }, policy: { ...policy, max_data_loss: 60 } })).toMatchObject({ kind: 'blocked' });
    // Synchronized but asynchronous: its lag is the bound.
    expect(decideFailover({ ...base, shadow: { ...shadow, mode: 'async', lagSeconds: 0.2 } })).toMatchObject({ kind: 'failover', dataLossBoundSeconds: 0.2 });
  });

  it('no shadow, or its host lost: blocked', () => {
    expect(decideFailover({ ...base, shadow: null })).toMatchObject({ kind: 'blocked', alert: 'no_shadow' });
    expect(decideFailover({ ...base, shadow: { ...shadow, hostAlive: false } })).toMatchObject({ kind: 'blocked', alert: 'no_shadow' });
  });
});

describe('orderFailovers', () => {
  it('highest priority first, then by id; only failovers', () => {
    const d = (vmId: string, priority: number, kind = 'failover') => ({ kind, vmId, priority });
    expect(orderFailovers([d('b', 0), d('a', 0), d('z', 10), d('x', 99, 'blocked')]).map((x) => x.vmId)).toEqual(['z', 'a', 'b']);
  });
});
