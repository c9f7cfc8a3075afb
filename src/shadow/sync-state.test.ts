import { describe, expect, it } from 'vitest';
import type { ReplicationStatus } from '../api/shadow-protocol.js';
import { initialSyncRecord, lagSloFor, nextSyncState, type SyncObservation, type SyncRecord } from './sync-state.js';

const T0 = 1_700_000_000_000;
const rep = (over: Partial<ReplicationStatus> = {}): ReplicationStatus => ({
  vmId: 'vm1',
  shadowId: 'vm1-s1',
  mode: 'async',
  target: { host: '10.0.0.2', port: 10809, export: 's0' },
  state: 'copying',
  generation: 1,
  jobId: 'j1',
  offset: 0,
  len: 1000,
  lagBytes: 0,
  lagSeconds: 0,
  lastCaughtUpAt: null,
  startedAt: T0,
  readyAt: null,
  initialCopyBytesPerSec: null,
  rounds: 0,
  lastRoundAt: null,
  lastRoundMs: null,
  error: null,
  retryAt: null,
  failures: 0,
  ...over,
});
const up = { present: true, targetRunning: true };
const obs = (nowMs: number, over: Partial<SyncObservation> = {}): SyncObservation => ({ nowMs, shadow: up, replication: null, slo: { lagSeconds: 5, lagBytes: 1 << 20 }, ...over });

/** Runs observations in order from a new record; returns every step. */
function run(...list: SyncObservation[]) {
  let rec: SyncRecord = initialSyncRecord(T0);
  return list.map((o) => {
    const s = nextSyncState(rec, o);
    rec = s.record;
    return s;
  });
}

describe('nextSyncState', () => {
  it('walks provisioning → syncing (progress) → synchronized → lagging → synchronized', () => {
    const steps = run(
      obs(T0 + 1000),
      obs(T0 + 2000, { replication: rep({ offset: 250 }) }),
      obs(T0 + 3000, { replication: rep({ state: 'ready', offset: 1000 }) }),
      obs(T0 + 4000, { replication: rep({ state: 'ready', lagSeconds: 9, lagBytes: 4096 }) }),
      obs(T0 + 5000, { replication: rep({ state: 'ready', lagSeconds: 1, lagBytes: 8 << 20 }) }),
      obs(T0 + 6000, { replication: rep({ state: 'ready', lagSeconds: 1, lagBytes: 100 }) }),
    );
    expect(steps.map((s) => s.record.state)).toEqual(['provisioning', 'syncing', 'synchronized', 'lagging', 'lagging', 'synchronized']);
    expect(steps[0].events).toEqual([]);
    expect(steps[1].record.progress).toBe(0.25);
    expect(steps[1].events).toEqual([{ kind: 'transition', from: 'provisioning', to: 'syncing', reason: 'first full copy', atMs: T0 + 2000 }]);
    expect(steps[2].record).toMatchObject({ progress: null, sinceMs: T0 + 3000, generation: 1 });
    expect(steps[3].raised).toEqual(['lag_slo']);
    expect(steps[3].active).toEqual([{ kind: 'lag_slo', severity: 'warning', summary: 'replication lag above its SLO', data: { lagSeconds: 9, lagBytes: 4096, sloSeconds: 5, sloBytes: 1 << 20 } }]);
    expect(steps[3].events[0]).toMatchObject({ from: 'synchronized', to: 'lagging', reason: 'lag 9s > SLO 5s' });
    expect(steps[4]).toMatchObject({ raised: [], resolved: [] });
    expect(steps[4].record.sinceMs).toBe(T0 + 4000); // still lagging (bytes over)
    expect(steps[5].resolved).toEqual(['lag_slo']);
  });

  it('breaks on a job error and recovers through a new full copy', () => {
    const steps = run(
      obs(T0 + 1000, { replication: rep({ state: 'ready' }) }),
      obs(T0 + 2000, { replication: rep({ state: 'error', error: 'NBD connection lost', failures: 1 }) }),
      obs(T0 + 3000, { replication: undefined }), // primary's agent unreachable: hold
      obs(T0 + 4000, { replication: rep({ state: 'copying', generation: 2, offset: 10 }) }),
      obs(T0 + 5000, { replication: rep({ state: 'ready', generation: 2 }) }),
    );
    expect(steps.map((s) => s.record.state)).toEqual(['synchronized', 'broken', 'broken', 'syncing', 'synchronized']);
    expect(steps[1].raised).toEqual(['sync_failed']);
    expect(steps[1].events[0]).toMatchObject({ to: 'broken', reason: 'replication failed: NBD connection lost' });
    expect(steps[2]).toMatchObject({ raised: [], resolved: [], events: [] });
    expect(steps[3].resolved).toEqual(['sync_failed']);
    expect(steps[3].events).toEqual([
      { kind: 'transition', from: 'broken', to: 'syncing', reason: 'first full copy', atMs: T0 + 4000 },
      { kind: 'resync', generation: 2, atMs: T0 + 4000 },
    ]);
  });

  it('raises target_lost when a seen target disappears, and resolves it when back', () => {
    const steps = run(
      obs(T0 + 1000, { replication: rep({ state: 'ready' }) }),
      obs(T0 + 2000, { replication: rep({ state: 'ready' }), shadow: { present: true, targetRunning: false } }),
      obs(T0 + 3000, { replication: rep({ state: 'ready' }), shadow: undefined }),
      obs(T0 + 4000, { replication: rep({ state: 'ready' }), shadow: { present: false, targetRunning: false } }),
      obs(T0 + 5000, { replication: rep({ state: 'ready' }) }),
    );
    expect(steps.map((s) => s.record.state)).toEqual(['synchronized', 'broken', 'broken', 'broken', 'synchronized']);
    expect(steps[1].raised).toEqual(['target_lost']);
    expect(steps[1].active[0].summary).toBe("the shadow's target export is not running");
    expect(steps[2]).toMatchObject({ raised: [], resolved: [], events: [] }); // not observed: still lost
    expect(steps[3].active[0].summary).toBe('the shadow is gone from its host');
    expect(steps[4].resolved).toEqual(['target_lost']);
    // Never seen: not "lost", just provisioning.
    expect(run(obs(T0 + 1000, { shadow: { present: false, targetRunning: false } }))[0].record).toMatchObject({ state: 'provisioning', alerts: [] });
  });

  it('keeps corruption until a later verification matches', () => {
    const ready = rep({ state: 'ready' });
    const bad = { atMs: T0 + 1500, match: false, detail: 'chunks 3, 7 differ' };
    const steps = run(
      obs(T0 + 1000, { replication: ready }),
      obs(T0 + 2000, { replication: ready, verification: bad }),
      obs(T0 + 3000, { replication: ready, verification: bad }),
      obs(T0 + 4000, { replication: ready, verification: { atMs: T0 + 1000, match: true } }), // older: ignored
      obs(T0 + 5000, { replication: ready, verification: { atMs: T0 + 4500, match: true } }),
    );
    expect(steps.map((s) => s.record.state)).toEqual(['synchronized', 'broken', 'broken', 'broken', 'synchronized']);
    expect(steps[1].active).toEqual([{ kind: 'corruption', severity: 'critical', summary: 'shadow disk differs from the primary (verification mismatch)', data: { atMs: T0 + 1500, detail: 'chunks 3, 7 differ' } }]);
    expect(steps[1].record.corruptAtMs).toBe(T0 + 1500);
    expect(steps[2].raised).toEqual([]);
    expect(steps[4].resolved).toEqual(['corruption']);
  });

  it('holds a caught-up state when the primary stops; breaks an unfinished copy', () => {
    const a = run(obs(T0 + 1000, { replication: rep({ state: 'ready' }) }), obs(T0 + 2000, { replication: rep({ state: 'stopped' }) }));
    expect(a[1].record.state).toBe('synchronized');
    expect(a[1].events).toEqual([]);
    const b = run(obs(T0 + 1000, { replication: rep({ offset: 10 }) }), obs(T0 + 2000, { replication: rep({ state: 'stopped' }) }));
    expect(b[1].record.state).toBe('broken');
    expect(b[1].raised).toEqual(['sync_failed']);
  });

  it('breaks a shadow that stays provisioning too long, or whose replication vanished', () => {
    const a = run(obs(T0 + 60_000), obs(T0 + 11 * 60_000));
    expect(a.map((s) => s.record.state)).toEqual(['provisioning', 'broken']);
    expect(a[1].events[0].kind === 'transition' && a[1].events[0].reason).toBe('not provisioned within 600s');
    const b = run(obs(T0 + 1000, { replication: rep({ state: 'ready' }) }), obs(T0 + 2000, { replication: null }));
    expect(b[1].record.state).toBe('broken');
    expect(b[1].raised).toEqual(['sync_failed']);
  });

  it('is deterministic', () => {
    const prev = initialSyncRecord(T0);
    const o = obs(T0 + 1, { replication: rep({ state: 'error', error: 'x' }), verification: { atMs: T0, match: false } });
    expect(nextSyncState(prev, o)).toEqual(nextSyncState(prev, o));
  });
});

describe('lagSloFor', () => {
  it('derives the SLO from the mode and the policy', () => {
    expect(lagSloFor('sync', 300, 0)).toEqual({ lagSeconds: 1 });
    expect(lagSloFor('async', 300, 0)).toEqual({ lagSeconds: 30 });
    expect(lagSloFor('async', 300, 10)).toEqual({ lagSeconds: 10 });
    expect(lagSloFor('periodic', 300, 60)).toEqual({ lagSeconds: 600 });
  });
});
