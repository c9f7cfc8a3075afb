/**
 * The pure core of replication supervision: what the supervisor remembers of one replication
 * (its facts), how one observation of the hypervisor moves them on and what to do next
 * ({@link step}), and the status the API reports ({@link statusOf}). No I/O and no clock: the
 * time comes in with the observation.
 *
 * A generation is one full copy and what follows it: a mirror that stays in sync (sync, async)
 * or incremental backup rounds from a dirty bitmap (periodic). A failed job, a vanished job or
 * bitmap, or a new primary process ends the generation; the next one starts from scratch.
 */
import type { ReplicationSpec, ReplicationStatus } from '../../api/shadow-protocol.js';
import type { BlockJobInfo } from '../../hypervisor/types.js';
import { backoffDelayMs, type BackoffPolicy } from '../backoff.js';

/** Retry delays after failed jobs: 1 s, doubling, at most 30 s, no jitter (one agent, its own VMs). */
export const REPLICATION_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30_000, factor: 2, jitter: 0 };

/**
 * Where a generation is.
 * - `idle`: no job (none yet, or the process it ran in is gone): start one when a process runs;
 * - `starting`: the job is being set up;
 * - `running`: the job (mirror, full backup or a round) or the bitmap between rounds exists;
 * - `failed`: the last job failed; a new generation starts at `retryAt`.
 */
export type ReplPhase = 'idle' | 'starting' | 'running' | 'failed';

/** What the supervisor remembers of one replication (what observing cannot give back). */
export interface ReplFacts {
  generation: number;
  phase: ReplPhase;
  /** Whether the VM had a live process at the last observation. */
  alive: boolean;
  /** The process the generation runs in. */
  pid: number | null;
  /** The live job: the mirror, the full backup, or the round in flight (null between rounds). */
  jobId: string | null;
  startedAt: number | null;
  readyAt: number | null;
  initialCopyBytesPerSec: number | null;
  lastCaughtUpAt: number | null;
  /** Progress counters of the current (or last) job. */
  offset: number;
  len: number;
  /** Dirty bytes at the last observation: periodic, the generation's bitmap; mirror, the mirror's own dirty tracking. */
  dirtyBytes: number;
  rounds: number;
  /** periodic: rounds started in this generation (names round jobs uniquely). */
  roundSeq: number;
  lastRoundAt: number | null;
  lastRoundMs: number | null;
  /** Start of the round in flight. */
  roundStartedAt: number | null;
  error: string | null;
  retryAt: number | null;
  failures: number;
  /** Failures since the last generation that reached ready (the backoff exponent). */
  consecutiveFailures: number;
  /**
   * Why no new generation may start (the VM was killed on purpose, or the replication was
   * handed over to a live migration), null when one may. A running job is still observed.
   */
  held: string | null;
}

/** How a job ended, from its BLOCK_JOB_COMPLETED / BLOCK_JOB_CANCELLED event. */
export interface JobEnd {
  atMs: number;
  /** QEMU's error text; null when the job succeeded (or was cancelled). */
  error: string | null;
  offset: number;
  len: number;
}

/** One observation of the VM and its current job. */
export interface ReplObservation {
  now: number;
  /** The VM's live process, null when none runs. */
  pid: number | null;
  /** `facts.jobId` as query-block-jobs lists it, null when not listed. */
  job: BlockJobInfo | null;
  /** The end event of `facts.jobId`, when one was seen. */
  ended: JobEnd | null;
  /** When `facts.jobId` reported BLOCK_JOB_READY (hypervisor time), when it did. */
  readyEventAt: number | null;
  /**
   * periodic: the generation's bitmap's dirty bytes; mirror: the mirror's own (anonymous)
   * dirty bitmap, which shows a write at once, before the job's len/offset do. Null when the
   * bitmap is absent or was not asked.
   */
  dirtyBytes: number | null;
}

/** What the supervisor does after an observation. */
export type ReplAction = { kind: 'none' } | { kind: 'start'; reason: string } | { kind: 'round' };

const NONE: ReplAction = { kind: 'none' };

/** The facts of a replication that has not started yet. */
export function initialFacts(): ReplFacts {
  return {
    generation: 0,
    phase: 'idle',
    alive: false,
    pid: null,
    jobId: null,
    startedAt: null,
    readyAt: null,
    initialCopyBytesPerSec: null,
    lastCaughtUpAt: null,
    offset: 0,
    len: 0,
    dirtyBytes: 0,
    rounds: 0,
    roundSeq: 0,
    lastRoundAt: null,
    lastRoundMs: null,
    roundStartedAt: null,
    error: null,
    retryAt: null,
    failures: 0,
    consecutiveFailures: 0,
    held: null,
  };
}

/** Job and node names of a generation (short: QEMU node names have at most 31 characters). */
export function jobNames(generation: number) {
  const g = `repl-g${generation}`;
  return {
    /** The mirror job (its NBD node is `<mirror>-tgt`, made and removed by the driver). */
    mirror: g,
    /** periodic: the dirty bitmap, the NBD target node, the full copy, round `n`. */
    bitmap: g,
    targetNode: `${g}-bk`,
    full: `${g}-full`,
    round: (n: number) => `${g}-r${n}`,
  };
}

/** True for names this module gives bitmaps (so stale ones of old generations can be swept). */
export function isReplicationBitmap(name: string): boolean {
  return /^repl-g\d+$/.test(name);
}

/** A new generation begins (its job is being set up): progress and round counters reset. */
export function beginGeneration(f: ReplFacts, pid: number, now: number): ReplFacts {
  // What a generation measures starts over as in a replication that never ran; what spans
  // generations (failures, the last catch-up, an error until a later success, a hold) stays.
  const { lastCaughtUpAt, error, failures, consecutiveFailures, held } = f;
  return {
    ...initialFacts(),
    lastCaughtUpAt,
    error,
    failures,
    consecutiveFailures,
    held,
    generation: f.generation + 1,
    phase: 'starting',
    alive: true,
    pid,
    startedAt: now,
  };
}

/** The generation's job (mirror or full backup) runs. */
export function jobStarted(f: ReplFacts, job: BlockJobInfo): ReplFacts {
  return { ...f, phase: 'running', jobId: job.jobId, offset: job.offset, len: job.len };
}

/** A periodic round's job was started. */
export function roundStarted(f: ReplFacts, jobId: string, now: number): ReplFacts {
  return { ...f, jobId, roundStartedAt: now, roundSeq: f.roundSeq + 1 };
}

/** A job failed (or could not start): error state, a new generation after the backoff delay. */
export function recordFailure(f: ReplFacts, reason: string, now: number, policy: BackoffPolicy = REPLICATION_BACKOFF): ReplFacts {
  const consecutiveFailures = f.consecutiveFailures + 1;
  return {
    ...f,
    phase: 'failed',
    jobId: null,
    roundStartedAt: null,
    error: reason,
    failures: f.failures + 1,
    consecutiveFailures,
    retryAt: now + backoffDelayMs(consecutiveFailures, policy, () => 0),
  };
}

/** The generation reached ready at `at` having covered `bytes`: the initial copy's throughput. */
function reachReady(f: ReplFacts, at: number, bytes: number): ReplFacts {
  const secs = f.startedAt !== null ? Math.max(0.001, (at - f.startedAt) / 1000) : null;
  return { ...f, readyAt: at, initialCopyBytesPerSec: secs !== null ? Math.round(bytes / secs) : null, consecutiveFailures: 0 };
}

/**
 * Moves the facts on by one observation and says what to do: start a new generation (first
 * copy, new process, retry due), run a periodic round (interval due), or nothing. A held
 * replication ({@link ReplFacts.held}) never starts a generation.
 */
export function step(spec: ReplicationSpec, facts: ReplFacts, obs: ReplObservation, policy: BackoffPolicy = REPLICATION_BACKOFF): { facts: ReplFacts; action: ReplAction } {
  const r = stepFree(spec, facts, obs, policy);
  return r.facts.held !== null && r.action.kind === 'start' ? { facts: r.facts, action: NONE } : r;
}

function stepFree(spec: ReplicationSpec, facts: ReplFacts, obs: ReplObservation, policy: BackoffPolicy): { facts: ReplFacts; action: ReplAction } {
  const now = obs.now;
  let f: ReplFacts = { ...facts, alive: obs.pid !== null };
  const done = (action: ReplAction = NONE) => ({ facts: f, action });
  const fail = (reason: string) => {
    f = recordFailure(f, reason, now, policy);
    return done();
  };

  if (obs.pid === null) {
    // No process, nothing to copy from: the job (if any) went with the process.
    if (f.phase !== 'idle') f = { ...f, phase: 'idle', jobId: null, roundStartedAt: null, retryAt: null };
    return done();
  }
  if (f.phase !== 'idle' && f.pid !== null && obs.pid !== f.pid) {
    // A new process: the old one's job and bitmap are gone with it.
    f = { ...f, phase: 'idle', jobId: null, roundStartedAt: null, retryAt: null };
    return done({ kind: 'start', reason: 'a new primary process' });
  }
  if (f.phase === 'idle') return done({ kind: 'start', reason: f.generation === 0 ? 'first copy' : 'the primary process runs again' });
  if (f.phase === 'failed') return done(now >= (f.retryAt ?? 0) ? { kind: 'start', reason: 'retry after a failure' } : NONE);
  if (f.phase === 'starting') return done(); // the apply step is setting the job up

  if (obs.job) f = { ...f, offset: obs.job.offset, len: obs.job.len };
  if (spec.mode !== 'periodic') {
    if (f.jobId === null) return done({ kind: 'start', reason: 'no mirror job' });
    if (obs.ended) {
      f = { ...f, offset: obs.ended.offset, len: obs.ended.len };
      return fail(obs.ended.error ?? `mirror job ${f.jobId} ended without being asked to`);
    }
    if (!obs.job) return fail(`mirror job ${f.jobId} is gone (it ended unobserved)`);
    f = { ...f, dirtyBytes: obs.dirtyBytes ?? 0 };
    if (f.readyAt === null && (obs.job.ready || obs.readyEventAt !== null)) f = reachReady(f, obs.readyEventAt ?? now, obs.job.len);
    if (f.readyAt !== null && obs.job.ready && obs.job.offset >= obs.job.len && f.dirtyBytes === 0) f = { ...f, lastCaughtUpAt: now };
    return done();
  }

  // periodic
  if (f.jobId !== null) {
    const full = f.readyAt === null;
    if (obs.ended) {
      if (obs.ended.error) {
        f = { ...f, offset: obs.ended.offset, len: obs.ended.len };
        return fail(`${full ? 'full copy' : `round ${f.roundSeq}`} failed: ${obs.ended.error}`);
      }
      f = { ...f, offset: obs.ended.offset, len: obs.ended.len, jobId: null };
      if (full) {
        // The target holds the disk as of the copy's start; the bitmap has every write since.
        f = reachReady(f, obs.ended.atMs, obs.ended.len);
        f = { ...f, lastCaughtUpAt: f.startedAt };
      } else {
        const start = f.roundStartedAt ?? obs.ended.atMs;
        f = {
          ...f,
          rounds: f.rounds + 1,
          lastRoundAt: start,
          lastRoundMs: Math.max(0, obs.ended.atMs - start),
          roundStartedAt: null,
          lastCaughtUpAt: Math.max(f.lastCaughtUpAt ?? 0, start),
        };
      }
      return done();
    }
    if (!obs.job) {
      if (full) return fail(`full copy job ${f.jobId} is gone (it ended unobserved)`);
      // A round that ended unobserved (agent restart): whether it succeeded or not, the bitmap
      // holds what the target still lacks, so the next round copies it.
      f = { ...f, jobId: null, roundStartedAt: null };
    }
    if (f.jobId !== null) {
      if (obs.dirtyBytes !== null) f = { ...f, dirtyBytes: obs.dirtyBytes };
      return done();
    }
  }
  if (f.readyAt === null) return fail('full copy job is gone');
  if (obs.dirtyBytes === null) return fail(`dirty bitmap ${jobNames(f.generation).bitmap} is gone`);
  f = { ...f, dirtyBytes: obs.dirtyBytes };
  if (obs.dirtyBytes === 0) f = { ...f, lastCaughtUpAt: now };
  const due = (f.lastRoundAt ?? f.startedAt ?? now) + spec.intervalSeconds * 1000;
  return done(now >= due ? { kind: 'round' } : NONE);
}

/** When the supervisor should look again at the latest, ms from `now` (a retry or round coming due sooner than the tick). */
export function nextLookMs(spec: ReplicationSpec, f: ReplFacts, now: number, tickMs: number): number {
  let ms = tickMs;
  if (f.phase === 'failed' && f.retryAt !== null) ms = Math.min(ms, f.retryAt - now);
  if (spec.mode === 'periodic' && f.phase === 'running' && f.jobId === null && f.readyAt !== null) {
    ms = Math.min(ms, (f.lastRoundAt ?? f.startedAt ?? now) + spec.intervalSeconds * 1000 - now);
  }
  return Math.max(0, ms);
}

/**
 * Bytes written on the primary that the target lacks, as far as observed: periodic, the
 * bitmap's dirty bytes once the full copy is done; mirror, the job's `len - offset` or its dirty
 * tracking, whichever is larger (QEMU updates len/offset only when the job's loop runs).
 */
export function lagBytesOf(spec: ReplicationSpec, f: ReplFacts): number {
  if (spec.mode === 'periodic') return f.readyAt !== null ? f.dirtyBytes : Math.max(0, f.len - f.offset);
  return Math.max(0, f.len - f.offset, f.dirtyBytes);
}

/** One observation of a mirror's progress, for the lag estimate. */
export interface LagSample {
  t: number;
  generation: number;
  /** Bytes the job has copied (its `offset`: monotonic within a generation). */
  copied: number;
  /** Bytes the target lacked then ({@link lagBytesOf}). */
  pending: number;
}

/** Appends a sample and drops those older than `windowMs` or of another generation. Pure. */
export function recordLagSample(history: readonly LagSample[], s: LagSample, windowMs = 120_000): LagSample[] {
  return [...history.filter((h) => h.generation === s.generation && h.t >= s.t - windowMs), s];
}

/**
 * Age (s) of the oldest write the target may still lack, for a mirror. A write pending now
 * came after the newest earlier observation whose whole backlog has been copied since
 * (copied(now) − copied(then) ≥ pending(then)): the age is at most now − then. Without such an
 * observation, the age is bounded by the last time nothing was pending (`since`).
 * "Time since nothing was pending" alone grows without bound under steady writes, while the
 * real delay of a healthy background mirror is tens of milliseconds. Pure.
 */
export function oldestPendingAgeSeconds(history: readonly LagSample[], now: number, since: number | null): number {
  const cur = history.at(-1);
  if (!cur || cur.pending === 0) return 0;
  for (let i = history.length - 2; i >= 0; i--) {
    const h = history[i];
    if (h.generation === cur.generation && cur.copied - h.copied >= h.pending) return Math.max(0, (now - h.t) / 1000);
  }
  return since === null ? 0 : Math.max(0, (now - since) / 1000);
}

/**
 * The replication as the API reports it. With `history` (mirror modes), lagSeconds is the
 * bound of {@link oldestPendingAgeSeconds}; otherwise the time since nothing was pending
 * (periodic: the last round's start).
 */
export function statusOf(vmId: string, spec: ReplicationSpec, f: ReplFacts, now: number, history?: readonly LagSample[]): ReplicationStatus {
  const state: ReplicationStatus['state'] = !f.alive || (f.held !== null && (f.phase === 'idle' || f.phase === 'failed'))
    ? 'stopped'
    : f.phase === 'failed'
      ? 'error'
      : f.phase === 'idle' || f.phase === 'starting'
        ? 'starting'
        : f.readyAt !== null
          ? 'ready'
          : 'copying';
  const lagBytes = lagBytesOf(spec, f);
  const since = f.lastCaughtUpAt ?? f.startedAt;
  // A failed job means the target misses at least the write that failed, whatever the counters say.
  const behind = lagBytes > 0 || state === 'error';
  const sinceSeconds = behind && since !== null ? Math.max(0, (now - since) / 1000) : 0;
  const lagSeconds =
    spec.mode !== 'periodic' && state === 'ready' && history?.length ? Math.min(sinceSeconds, oldestPendingAgeSeconds(history, now, since)) : sinceSeconds;
  return {
    vmId,
    shadowId: spec.shadowId,
    mode: spec.mode,
    target: spec.target,
    state,
    generation: f.generation,
    jobId: f.jobId,
    offset: f.offset,
    len: f.len,
    lagBytes,
    lagSeconds,
    lastCaughtUpAt: f.lastCaughtUpAt,
    startedAt: f.startedAt,
    readyAt: f.readyAt,
    initialCopyBytesPerSec: f.initialCopyBytesPerSec,
    rounds: f.rounds,
    lastRoundAt: f.lastRoundAt,
    lastRoundMs: f.lastRoundMs,
    error: f.error,
    retryAt: f.phase === 'failed' && f.held === null ? f.retryAt : null,
    failures: f.failures,
    held: f.held,
  };
}

/** True when the spec change needs a new full copy (another target or mode); other fields apply in place. */
export function needsNewCopy(old: ReplicationSpec, next: ReplicationSpec): boolean {
  const t = (s: ReplicationSpec) => `${s.target.host}\u0000${s.target.port}\u0000${s.target.export}`;
  return old.mode !== next.mode || t(old) !== t(next);
}
