import { describe, expect, it } from 'vitest';
import { beginStep, endStep, nextStep, startRecord, stepDurations, stepsOf } from './pipeline.js';

const d = { kind: 'failover' as const, vmId: 'vm1', path: 'warm' as const, shadowId: 'vm1-s1', toHost: 'h2', dataLossBoundSeconds: 0, reason: 'state in [crashed]', priority: 0 };

describe('failover pipeline records', () => {
  it('a warm failover fences first; a live migration has nothing to fence', () => {
    expect(stepsOf('warm').slice(0, 2)).toEqual(['hook_before_fence', 'fence']);
    expect(stepsOf('cold')).toEqual(stepsOf('warm'));
    expect(stepsOf('migrate')).not.toContain('fence');
    expect(stepsOf('migrate').slice(0, 2)).toEqual(['hook_before_fence', 'promote']);
  });

  it('runs the steps in order, resumes an unfinished step, ends done', () => {
    let r = startRecord(d, { fromHost: 'h1', fromInstance: 'vm1' }, 'f1', 1000);
    expect(r).toMatchObject({ state: 'running', steps: [], path: 'warm', shadowId: 'vm1-s1' });
    expect(nextStep(r)).toBe('hook_before_fence');
    r = endStep(beginStep(r, 'hook_before_fence', 1000), 'hook_before_fence', true, 'no hooks', 1000);
    expect(nextStep(r)).toBe('fence');
    r = endStep(beginStep(r, 'fence', 1000), 'fence', true, 'paused', 1010);
    expect(nextStep(r)).toBe('stop_replication');
    // Begun, then the controller died: the step is next again, and a rerun replaces the attempt.
    r = beginStep(r, 'stop_replication', 1020);
    expect(nextStep(r)).toBe('stop_replication');
    r = beginStep(r, 'stop_replication', 5000);
    expect(r.steps.filter((s) => s.name === 'stop_replication')).toHaveLength(1);
    r = endStep(r, 'stop_replication', true, 'cancelled', 5005);
    for (const s of ['promote', 'resize', 'health', 'traffic', 'hook_after_traffic', 'adopt', 'retire_old', 'hook_after_failover'] as const) r = endStep(beginStep(r, s, 6000), s, true, 'ok', 6100, { [s]: 1 });
    expect(r.state).toBe('done');
    expect(r.endedAt).toBe(6100);
    expect(nextStep(r)).toBeNull();
    expect(stepDurations(r)).toMatchObject({ fence: 10, stop_replication: 5, promote: 100 });
    expect(r.data).toMatchObject({ promote: 1, retire_old: 1 });
  });

  it('a failed step fails the failover; a vetoed one aborts it', () => {
    let r = startRecord(d, { fromHost: 'h1', fromInstance: 'vm1' }, 'f1', 0);
    r = endStep(beginStep(r, 'fence', 0), 'fence', false, 'agent refused', 5);
    expect(r).toMatchObject({ state: 'failed', endedAt: 5 });
    expect(nextStep(r)).toBeNull();
    let v = startRecord(d, { fromHost: 'h1', fromInstance: 'vm1' }, 'f2', 0);
    v = endStep(beginStep(v, 'hook_before_fence', 0), 'hook_before_fence', false, 'veto: exit 1', 7, {}, true);
    expect(v).toMatchObject({ state: 'aborted', endedAt: 7 });
  });
});
