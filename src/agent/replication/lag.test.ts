import { describe, expect, it } from 'vitest';
import { replicationSpecSchema, type ReplicationSpec } from '../../api/shadow-protocol.js';
import type { BlockJobInfo } from '../../hypervisor/types.js';
import {
  beginGeneration,
  initialFacts,
  jobNames,
  jobStarted,
  needsNewCopy,
  nextLookMs,
  recordFailure,
  roundStarted,
  statusOf,
  step,
  type ReplFacts,
  type ReplObservation,
} from './lag.js';

const MiB = 1024 * 1024;
const T0 = 1_000_000;

function spec(extra: Partial<ReplicationSpec> = {}): ReplicationSpec {
  return replicationSpecSchema.parse({ shadowId: 'vm1-s1', target: { host: '10.0.0.2', port: 10809, export: 's0' }, mode: 'sync', ...extra });
}

function job(extra: Partial<BlockJobInfo> = {}): BlockJobInfo {
  return { jobId: 'repl-g1', type: 'mirror', status: 'running', ready: false, offset: 0, len: 64 * MiB, speed: 0, ...extra };
}

function obs(now: number, extra: Partial<ReplObservation> = {}): ReplObservation {
  return { now, pid: 100, job: null, ended: null, readyEventAt: null, dirtyBytes: null, ...extra };
}

/** Facts of a generation-1 job started at T0 in process 100. */
function running(s: ReplicationSpec = spec()): ReplFacts {
  const f = beginGeneration(initialFacts(), 100, T0);
  const id = s.mode === 'periodic' ? jobNames(1).full : jobNames(1).mirror;
  return jobStarted(f, job({ jobId: id, offset: 0 }));
}

describe('replication step (pure)', () => {
  it('asks for the first copy when a process runs, and reports stopped without one', () => {
    const r = step(spec(), initialFacts(), obs(T0));
    expect(r.action).toEqual({ kind: 'start', reason: 'first copy' });
    const none = step(spec(), initialFacts(), obs(T0, { pid: null }));
    expect(none.action.kind).toBe('none');
    expect(statusOf('vm1', spec(), none.facts, T0).state).toBe('stopped');
  });

  it('a held replication never starts a generation (new process, retry, first copy) and reports stopped', () => {
    const held = (f: ReplFacts): ReplFacts => ({ ...f, held: 'killed on purpose' });
    // A new process of a held replication: no copy.
    const r1 = step(spec(), held(running()), obs(T0 + 100, { pid: 200 }));
    expect(r1.action.kind).toBe('none');
    expect(statusOf('vm1', spec(), r1.facts, T0 + 100)).toMatchObject({ state: 'stopped', held: 'killed on purpose' });
    // A failure whose retry is due, and an idle one with a process: no copy either.
    const failed = held(recordFailure(running(), 'I/O error', T0));
    expect(step(spec(), failed, obs(T0 + 60_000)).action.kind).toBe('none');
    expect(statusOf('vm1', spec(), failed, T0 + 10)).toMatchObject({ state: 'stopped', retryAt: null });
    expect(step(spec(), held(initialFacts()), obs(T0)).action.kind).toBe('none');
    // A job still running in the same process is observed as before.
    const live = step(spec(), held(running()), obs(T0 + 100, { job: job({ offset: 8 * MiB }) }));
    expect(live.facts).toMatchObject({ phase: 'running', offset: 8 * MiB });
    // Released: the first copy is asked for again.
    expect(step(spec(), { ...held(initialFacts()), held: null }, obs(T0)).action.kind).toBe('start');
  });

  it('a mirror copies (lag = len - offset), then is ready at its event time with the initial throughput', () => {
    let f = running();
    expect(statusOf('vm1', spec(), f, T0).state).toBe('copying');
    f = step(spec(), f, obs(T0 + 100, { job: job({ offset: 16 * MiB }) })).facts;
    let st = statusOf('vm1', spec(), f, T0 + 100);
    expect(st).toMatchObject({ state: 'copying', generation: 1, jobId: 'repl-g1', offset: 16 * MiB, len: 64 * MiB, lagBytes: 48 * MiB, readyAt: null });
    expect(st.lagSeconds).toBeCloseTo(0.1, 6); // behind since the job started
    f = step(spec(), f, obs(T0 + 600, { job: job({ ready: true, status: 'ready', offset: 64 * MiB }), readyEventAt: T0 + 500 })).facts;
    st = statusOf('vm1', spec(), f, T0 + 600);
    expect(st).toMatchObject({ state: 'ready', readyAt: T0 + 500, lagBytes: 0, lagSeconds: 0, lastCaughtUpAt: T0 + 600 });
    expect(st.initialCopyBytesPerSec).toBe(128 * MiB); // 64 MiB in 0.5 s
  });

  it('measures lag seconds from the last time the target was seen caught up', () => {
    let f = step(spec(), running(), obs(T0 + 500, { job: job({ ready: true, offset: 64 * MiB }) })).facts;
    expect(f.lastCaughtUpAt).toBe(T0 + 500);
    f = step(spec(), f, obs(T0 + 1000, { job: job({ ready: true, offset: 64 * MiB, len: 65 * MiB }) })).facts;
    const st = statusOf('vm1', spec(), f, T0 + 1300);
    expect(st).toMatchObject({ state: 'ready', lagBytes: MiB, lastCaughtUpAt: T0 + 500 });
    expect(st.lagSeconds).toBeCloseTo(0.8, 6);
  });

  it('a mirror\'s own dirty tracking counts as lag before its len/offset show it', () => {
    let f = step(spec(), running(), obs(T0 + 500, { job: job({ ready: true, offset: 64 * MiB }), dirtyBytes: 0 })).facts;
    f = step(spec(), f, obs(T0 + 700, { job: job({ ready: true, offset: 64 * MiB }), dirtyBytes: 256 * 1024 })).facts;
    const st = statusOf('vm1', spec(), f, T0 + 800);
    expect(st).toMatchObject({ lagBytes: 256 * 1024, lastCaughtUpAt: T0 + 500 });
    expect(st.lagSeconds).toBeCloseTo(0.3, 6);
  });

  it('a failed job gives error with the reason, then retries with backoff 1 s, 2 s, 4 s ... at most 30 s', () => {
    let f = step(spec(), running(), obs(T0 + 100, { ended: { atMs: T0 + 90, error: 'Input/output error', offset: 10, len: 20 } })).facts;
    let st = statusOf('vm1', spec(), f, T0 + 100);
    expect(st).toMatchObject({ state: 'error', error: 'Input/output error', failures: 1, retryAt: T0 + 1100, jobId: null, lagBytes: 10 });
    expect(step(spec(), f, obs(T0 + 1099)).action.kind).toBe('none');
    expect(step(spec(), f, obs(T0 + 1100)).action).toEqual({ kind: 'start', reason: 'retry after a failure' });
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      f = recordFailure(beginGeneration(f, 100, T0), 'Connection refused', T0);
      delays.push(f.retryAt! - T0);
    }
    expect(delays).toEqual([2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    st = statusOf('vm1', spec(), f, T0 + 5000);
    expect(st.failures).toBe(8);
    // Reaching ready again resets the backoff but keeps the count and the last error.
    f = jobStarted(beginGeneration(f, 100, T0 + 40_000), job({ jobId: jobNames(f.generation + 1).mirror }));
    f = step(spec(), f, obs(T0 + 41_000, { job: job({ jobId: f.jobId!, ready: true, offset: 64 * MiB }) })).facts;
    expect(f.consecutiveFailures).toBe(0);
    expect(statusOf('vm1', spec(), f, T0 + 41_000)).toMatchObject({ state: 'ready', failures: 8, error: 'Connection refused', retryAt: null });
  });

  it('a mirror job that vanished unobserved is a failure', () => {
    const f = step(spec(), running(), obs(T0 + 100)).facts;
    expect(f.phase).toBe('failed');
    expect(f.error).toMatch(/repl-g1 is gone/);
  });

  it('a primary process that ended gives stopped; a new one gives a new full copy at once', () => {
    let f = step(spec(), running(), obs(T0 + 100, { pid: null })).facts;
    expect(statusOf('vm1', spec(), f, T0 + 100)).toMatchObject({ state: 'stopped', jobId: null });
    const r = step(spec(), f, obs(T0 + 200, { pid: 101 }));
    expect(r.action.kind).toBe('start');
    // A restart seen in one observation (new pid, job gone) also starts a new copy, not a failure.
    f = step(spec(), running(), obs(T0 + 100, { pid: 101 })).facts;
    expect(f.failures).toBe(0);
    expect(step(spec(), running(), obs(T0 + 100, { pid: 101 })).action.kind).toBe('start');
  });

  it('periodic: the full copy ends ready (caught up as of its start), dirty bytes are lag, rounds come every interval', () => {
    const s = spec({ mode: 'periodic', intervalSeconds: 10 });
    let f = running(s);
    expect(statusOf('vm1', s, f, T0 + 100).state).toBe('copying');
    f = step(s, f, obs(T0 + 400, { ended: { atMs: T0 + 400, error: null, offset: 64 * MiB, len: 64 * MiB } })).facts;
    let st = statusOf('vm1', s, f, T0 + 400);
    expect(st).toMatchObject({ state: 'ready', readyAt: T0 + 400, lastCaughtUpAt: T0, jobId: null, rounds: 0, initialCopyBytesPerSec: 160 * MiB });
    // Writes since: lag is the bitmap's dirty bytes, lag seconds count from the last copy's start.
    let r = step(s, f, obs(T0 + 3000, { dirtyBytes: 4 * MiB }));
    expect(r.action.kind).toBe('none');
    st = statusOf('vm1', s, r.facts, T0 + 3000);
    expect(st).toMatchObject({ lagBytes: 4 * MiB, lagSeconds: 3 });
    r = step(s, r.facts, obs(T0 + 10_000, { dirtyBytes: 4 * MiB }));
    expect(r.action).toEqual({ kind: 'round' });
    f = roundStarted(r.facts, jobNames(1).round(1), T0 + 10_000);
    f = step(s, f, obs(T0 + 10_050, { job: job({ jobId: 'repl-g1-r1', type: 'backup', len: 4 * MiB, offset: MiB }), dirtyBytes: 4 * MiB })).facts;
    expect(statusOf('vm1', s, f, T0 + 10_050)).toMatchObject({ jobId: 'repl-g1-r1', offset: MiB });
    f = step(s, f, obs(T0 + 10_080, { ended: { atMs: T0 + 10_080, error: null, offset: 4 * MiB, len: 4 * MiB }, dirtyBytes: 0 })).facts;
    st = statusOf('vm1', s, f, T0 + 10_080);
    expect(st).toMatchObject({ rounds: 1, lastRoundAt: T0 + 10_000, lastRoundMs: 80, lastCaughtUpAt: T0 + 10_000, jobId: null });
    // Nothing dirty: caught up now.
    f = step(s, f, obs(T0 + 11_000, { dirtyBytes: 0 })).facts;
    expect(statusOf('vm1', s, f, T0 + 11_000)).toMatchObject({ lagBytes: 0, lagSeconds: 0, lastCaughtUpAt: T0 + 11_000 });
    expect(nextLookMs(s, f, T0 + 19_900, 500)).toBe(100);
  });

  it('periodic: a failed round is an error; a round that vanished unobserved is not; a lost bitmap is', () => {
    const s = spec({ mode: 'periodic', intervalSeconds: 10 });
    let f = step(s, running(s), obs(T0 + 400, { ended: { atMs: T0 + 400, error: null, offset: 1, len: 1 } })).facts;
    f = roundStarted(f, 'repl-g1-r1', T0 + 10_000);
    const failed = step(s, f, obs(T0 + 10_100, { ended: { atMs: T0 + 10_100, error: 'Input/output error', offset: 0, len: MiB } })).facts;
    expect(statusOf('vm1', s, failed, T0 + 10_100)).toMatchObject({ state: 'error', error: 'round 1 failed: Input/output error', failures: 1 });
    const vanished = step(s, f, obs(T0 + 10_100, { dirtyBytes: MiB }));
    expect(vanished.facts).toMatchObject({ phase: 'running', jobId: null, rounds: 0, failures: 0 });
    const lost = step(s, vanished.facts, obs(T0 + 10_200, { dirtyBytes: null })).facts;
    expect(lost.phase).toBe('failed');
    expect(lost.error).toMatch(/bitmap repl-g1 is gone/);
  });

  it('only another target or mode needs a new full copy', () => {
    expect(needsNewCopy(spec(), spec({ speedBytesPerSec: 1000, shadowId: 'vm1-s2' }))).toBe(false);
    expect(needsNewCopy(spec(), spec({ mode: 'async' }))).toBe(true);
    expect(needsNewCopy(spec(), spec({ target: { host: '10.0.0.2', port: 10810, export: 's0' } }))).toBe(true);
  });

  it('looks again sooner when a retry comes due', () => {
    const f = recordFailure(running(), 'x', T0);
    expect(nextLookMs(spec(), f, T0 + 800, 500)).toBe(200);
    expect(nextLookMs(spec(), f, T0 + 2000, 500)).toBe(0);
  });
});

describe('oldestPendingAgeSeconds', () => {
  const s = (t: number, copied: number, pending: number, generation = 1) => ({ t, generation, copied, pending });

  it('a healthy mirror under steady writes: the lag is bounded by the last observation whose backlog was copied since', async () => {
    const { oldestPendingAgeSeconds } = await import('./lag.js');
    // Every 500 ms 64 KiB more is copied; 64 KiB is pending at every look (never zero when looked at).
    const h = Array.from({ length: 21 }, (_, i) => s(1000 + i * 500, i * 65536, 65536));
    expect(oldestPendingAgeSeconds(h, 11_000, 1000)).toBe(0.5);
  });

  it('a stuck mirror: nothing copied, the lag grows from the last time nothing was pending', async () => {
    const { oldestPendingAgeSeconds } = await import('./lag.js');
    const h = [s(1000, 100, 0), s(2000, 100, 4096), s(3000, 100, 8192), s(4000, 100, 8192)];
    expect(oldestPendingAgeSeconds(h, 4000, 1000)).toBe(3);
  });

  it('nothing pending: 0; another generation does not count', async () => {
    const { oldestPendingAgeSeconds, recordLagSample } = await import('./lag.js');
    expect(oldestPendingAgeSeconds([s(1000, 5, 0)], 1000, 0)).toBe(0);
    let h = recordLagSample([], s(1000, 0, 10, 1));
    h = recordLagSample(h, s(2000, 0, 10, 2));
    expect(h).toEqual([s(2000, 0, 10, 2)]);
    expect(oldestPendingAgeSeconds(h, 2000, 1500)).toBe(0.5);
  });
});
