import { describe, expect, it } from 'vitest';
import { chooseSync, type SyncPolicyInput } from './sync-policy.js';

const policy = (over: Partial<SyncPolicyInput['policy']> = {}): SyncPolicyInput['policy'] => ({
  synchronization_mode: 'async',
  synchronization_interval: 300,
  shadow_flavor: 'warm',
  max_data_loss: 60,
  max_downtime: 30,
  ...over,
});

describe('chooseSync', () => {
  it('follows the policy when its tolerances allow it', () => {
    const c = chooseSync({ policy: policy() });
    expect(c).toMatchObject({ mode: 'async', flavor: 'warm', intervalSeconds: 300, coldBootSeconds: 5, coldBootSource: 'default', overrides: [], crashRecovery: { path: 'warm-takeover', seconds: 1 } });
    expect(c.reasons).toEqual(['mode async: as configured (max_data_loss 60s)', 'flavor warm: as configured (takeover about 1s, max_downtime 30s)']);
    const m = chooseSync({ policy: policy({ shadow_flavor: 'migrate' }), measuredColdBootSeconds: 2.7 });
    expect(m).toMatchObject({ flavor: 'migrate', coldBootSeconds: 2.7, coldBootSource: 'measured', crashRecovery: { path: 'cold-boot', seconds: 2.7 }, overrides: [] });
  });

  it('forces sync when max_data_loss is 0 and reports the override', () => {
    const c = chooseSync({ policy: policy({ max_data_loss: 0, synchronization_mode: 'periodic' }) });
    expect(c.mode).toBe('sync');
    expect(c.overrides).toEqual([{ field: 'synchronization_mode', configured: 'periodic', chosen: 'sync', why: 'max_data_loss is 0: only a write-blocking mirror loses no acknowledged write' }]);
    expect(chooseSync({ policy: policy({ max_data_loss: 0, synchronization_mode: 'sync' }) }).overrides).toEqual([]);
  });

  it('turns periodic into async when an interval could lose more than max_data_loss', () => {
    const c = chooseSync({ policy: policy({ synchronization_mode: 'periodic', synchronization_interval: 300, max_data_loss: 60 }) });
    expect(c.mode).toBe('async');
    expect(c.overrides[0]).toMatchObject({ field: 'synchronization_mode', configured: 'periodic', chosen: 'async' });
    expect(chooseSync({ policy: policy({ synchronization_mode: 'periodic', synchronization_interval: 60, max_data_loss: 300 }) }).mode).toBe('periodic');
  });

  it('turns migrate into warm when max_downtime is below the cold-boot time', () => {
    const c = chooseSync({ policy: policy({ shadow_flavor: 'migrate', max_downtime: 3 }) });
    expect(c.flavor).toBe('warm');
    expect(c.overrides[0]).toMatchObject({ field: 'shadow_flavor', configured: 'migrate', chosen: 'warm' });
    expect(c.overrides[0].why).toMatch(/max_downtime 3s is below the cold-boot time 5s \(default\)/);
    // A measured faster boot keeps migrate.
    expect(chooseSync({ policy: policy({ shadow_flavor: 'migrate', max_downtime: 3 }), measuredColdBootSeconds: 2.5 }).flavor).toBe('migrate');
    // Below even a warm takeover: warned, not changed.
    expect(chooseSync({ policy: policy({ max_downtime: 0.5 }) }).reasons.at(-1)).toMatch(/^warning: max_downtime 0.5s is below even a warm takeover/);
  });
});
