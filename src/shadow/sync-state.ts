/**
 * The sync state machine of a shadow (issue 4 §6). Pure and deterministic: the previous record
 * and this pass's observations in, the next record, transition events and alert changes out.
 *
 * ```
 * provisioning ──(replication copying)──> syncing ──(ready, lag ≤ SLO)──> synchronized
 *      │                                     │                               │  ↑
 *      │                                     │                    (lag > SLO) ↓  │ (lag ≤ SLO)
 *      │                                     │                              lagging
 *      └──── (timeout, job error, target lost, verification mismatch) ──> broken ──> syncing (new copy)
 * ```
 * - `provisioning`: the shadow's target/VM is being created, no replication yet.
 * - `syncing`: the first full copy (of this generation) runs; `progress` = offset / len (0..1).
 * - `synchronized`: the target caught up and the lag is within its SLO.
 * - `lagging`: caught up once, lag above its SLO now (alert `lag_slo`).
 * - `broken`: the job failed (`sync_failed`), the target is gone (`target_lost`), a
 *   verification found different bytes (`corruption`, sticky until a later verification
 *   matches), or provisioning timed out. The agent restarts a failed job by itself (a new
 *   generation, full copy), which moves the state back to `syncing`.
 * - The primary not running (replication `stopped`): no new writes can be lost, so a caught-up
 *   state (synchronized/lagging) is kept as it was; an unfinished first copy is `broken`.
 * - Observations that could not be made (an agent unreachable: `undefined`) change nothing.
 *
 * Times are epoch ms (as the protocol's).
 */
import type { ReplicationMode, ReplicationStatus } from '../api/shadow-protocol.js';

export type SyncState = 'provisioning' | 'syncing' | 'synchronized' | 'lagging' | 'broken';
export type SyncAlertKind = 'lag_slo' | 'sync_failed' | 'target_lost' | 'corruption';

export const SYNC_ALERT_SEVERITY: Readonly<Record<SyncAlertKind, 'warning' | 'critical'>> = Object.freeze({
  lag_slo: 'warning',
  sync_failed: 'critical',
  target_lost: 'critical',
  corruption: 'critical',
});

/** What the state machine remembers between passes. */
export interface SyncRecord {
  state: SyncState;
  /** Epoch ms when `state` last changed. */
  sinceMs: number;
  /** 0..1 during `syncing`, else null. */
  progress: number | null;
  generation: number | null;
  lagSeconds: number | null;
  lagBytes: number | null;
  /** Alerts active after this pass. */
  alerts: SyncAlertKind[];
  /** Epoch ms of the verification that found a mismatch; null when none (or a later one matched). */
  corruptAtMs: number | null;
  /** The target was observed present at least once (its absence is then `target_lost`). */
  seenTarget: boolean;
}

/** The shadow side as its agent reports it (ShadowStatus, reduced). */
export interface ShadowSideObservation {
  /** The agent knows the shadow (GET /v1/shadows/:id answered). */
  present: boolean;
  /** Its target process serves the export (`targetState` running/restarted). */
  targetRunning: boolean;
}

/** The latest disk verification (digests of both sides at one point in time). */
export interface VerificationObservation {
  atMs: number;
  match: boolean;
  detail?: string;
}

/** The lag SLO: above either limit the shadow is `lagging`. */
export interface LagSlo {
  lagSeconds: number;
  /** Absent: not checked. */
  lagBytes?: number;
}

export interface SyncObservation {
  nowMs: number;
  /** undefined: not observed this pass (agent unreachable). */
  shadow: ShadowSideObservation | undefined;
  /** null: the primary's agent has no replication for the VM (404); undefined: not observed. */
  replication: ReplicationStatus | null | undefined;
  slo: LagSlo;
  verification?: VerificationObservation | null;
  /** A shadow still provisioning after this long is `broken` (default 10 min). */
  provisioningTimeoutMs?: number;
}

export type SyncEvent =
  | { kind: 'transition'; from: SyncState; to: SyncState; reason: string; atMs: number }
  | { kind: 'resync'; generation: number; atMs: number };

/** An alert to raise (or keep raised): stable summary text, numbers in `data`. */
export interface SyncAlert {
  kind: SyncAlertKind;
  severity: 'warning' | 'critical';
  summary: string;
  data: Record<string, unknown>;
}

export interface SyncStep {
  record: SyncRecord;
  events: SyncEvent[];
  /** Every alert active now (raise is idempotent downstream). */
  active: SyncAlert[];
  /** Kinds active now that were not before. */
  raised: SyncAlertKind[];
  /** Kinds active before and not now. */
  resolved: SyncAlertKind[];
}

export const DEFAULT_PROVISIONING_TIMEOUT_MS = 10 * 60_000;

/** The record of a new shadow. */
export function initialSyncRecord(nowMs: number): SyncRecord {
  return { state: 'provisioning', sinceMs: nowMs, progress: null, generation: null, lagSeconds: null, lagBytes: null, alerts: [], corruptAtMs: null, seenTarget: false };
}

/**
 * The lag SLO of a replication mode: sync 1 s (a write-blocking mirror has none); async the
 * policy's max_data_loss (30 s when it is 0); periodic max(2 × interval, max_data_loss), since
 * its lag grows up to an interval between rounds.
 */
export function lagSloFor(mode: ReplicationMode, intervalSeconds: number, maxDataLossSeconds: number): LagSlo {
  if (mode === 'sync') return { lagSeconds: 1 };
  if (mode === 'periodic') return { lagSeconds: Math.max(2 * intervalSeconds, maxDataLossSeconds) };
  return { lagSeconds: maxDataLossSeconds > 0 ? maxDataLossSeconds : 30 };
}

/** One step of the state machine. */
export function nextSyncState(prev: SyncRecord, obs: SyncObservation): SyncStep {
  const now = obs.nowMs;
  const rep = obs.replication;
  const active = new Map<SyncAlertKind, SyncAlert>();
  const alert = (kind: SyncAlertKind, summary: string, data: Record<string, unknown> = {}) => active.set(kind, { kind, severity: SYNC_ALERT_SEVERITY[kind], summary, data });

  // Corruption: sticky until a later verification matches.
  let corruptAtMs = prev.corruptAtMs;
  const v = obs.verification;
  if (v) {
    if (!v.match && (corruptAtMs === null || v.atMs > corruptAtMs)) corruptAtMs = v.atMs;
    else if (v.match && corruptAtMs !== null && v.atMs > corruptAtMs) corruptAtMs = null;
  }
  if (corruptAtMs !== null) alert('corruption', 'shadow disk differs from the primary (verification mismatch)', { atMs: corruptAtMs, ...(v && !v.match && v.detail ? { detail: v.detail } : {}) });

  const seenTarget = prev.seenTarget || (obs.shadow?.present === true && obs.shadow.targetRunning);
  // Not observed this pass: a target lost before is still lost.
  const targetLost = obs.shadow === undefined ? prev.alerts.includes('target_lost') : prev.seenTarget && (!obs.shadow.present || !obs.shadow.targetRunning);
  if (targetLost) alert('target_lost', obs.shadow?.present ? "the shadow's target export is not running" : 'the shadow is gone from its host', obs.shadow ? {} : { stale: true });

  let state: SyncState = prev.state;
  let reason = '';
  let progress = prev.progress;
  let generation = prev.generation;
  let lagSeconds = prev.lagSeconds;
  let lagBytes = prev.lagBytes;
  const events: SyncEvent[] = [];

  if (rep) {
    if (generation !== null && rep.generation > generation) events.push({ kind: 'resync', generation: rep.generation, atMs: now });
    generation = rep.generation;
    lagSeconds = rep.lagSeconds;
    lagBytes = rep.lagBytes;
  }

  if (rep === undefined) {
    // Not observed: hold (a lost target or corruption still breaks it below).
  } else if (rep === null) {
    if (prev.state === 'provisioning') {
      state = 'provisioning';
    } else {
      state = 'broken';
      reason = 'the primary has no replication job';
      alert('sync_failed', 'replication to the shadow is missing on the primary', {});
    }
  } else {
    switch (rep.state) {
      case 'starting':
      case 'copying':
        state = 'syncing';
        progress = rep.len > 0 ? Math.min(1, rep.offset / rep.len) : 0;
        reason = rep.state === 'starting' ? 'replication starting' : 'first full copy';
        break;
      case 'ready': {
        const overS = rep.lagSeconds > obs.slo.lagSeconds;
        const overB = obs.slo.lagBytes !== undefined && rep.lagBytes > obs.slo.lagBytes;
        if (overS || overB) {
          state = 'lagging';
          reason = overS ? `lag ${rep.lagSeconds}s > SLO ${obs.slo.lagSeconds}s` : `lag ${rep.lagBytes} B > SLO ${obs.slo.lagBytes} B`;
          alert('lag_slo', 'replication lag above its SLO', { lagSeconds: rep.lagSeconds, lagBytes: rep.lagBytes, sloSeconds: obs.slo.lagSeconds, ...(obs.slo.lagBytes !== undefined ? { sloBytes: obs.slo.lagBytes } : {}) });
        } else {
          state = 'synchronized';
          reason = 'caught up, lag within SLO';
        }
        progress = null;
        break;
      }
      case 'error':
        state = 'broken';
        reason = `replication failed: ${rep.error ?? 'unknown error'}`;
        alert('sync_failed', 'replication to the shadow failed', { error: rep.error, failures: rep.failures, retryAt: rep.retryAt });
        break;
      case 'stopped':
        if (prev.state === 'syncing') {
          state = 'broken';
          reason = 'the primary stopped before the first copy completed';
          alert('sync_failed', 'the primary stopped before the first copy completed', {});
        } else {
          reason = 'the primary is not running: no new writes';
        }
        break;
    }
  }

  if (state === 'provisioning' && now - prev.sinceMs > (obs.provisioningTimeoutMs ?? DEFAULT_PROVISIONING_TIMEOUT_MS) && prev.state === 'provisioning') {
    state = 'broken';
    reason = `not provisioned within ${Math.round((obs.provisioningTimeoutMs ?? DEFAULT_PROVISIONING_TIMEOUT_MS) / 1000)}s`;
    alert('sync_failed', 'the shadow was not provisioned in time', { sinceMs: prev.sinceMs });
  }
  // What was not observed this pass keeps the alerts it raised before.
  if (rep === undefined) {
    if (prev.alerts.includes('sync_failed') && !active.has('sync_failed')) alert('sync_failed', 'replication to the shadow failed', { stale: true });
    if (prev.alerts.includes('lag_slo') && !active.has('lag_slo')) alert('lag_slo', 'replication lag above its SLO', { stale: true });
  }
  // A lost target or corruption outranks whatever replication says.
  if (corruptAtMs !== null) {
    state = 'broken';
    reason = 'verification mismatch';
  } else if (targetLost) {
    state = 'broken';
    reason = 'target lost';
  }
  if (state !== 'syncing') progress = null;

  if (state !== prev.state) events.unshift({ kind: 'transition', from: prev.state, to: state, reason, atMs: now });
  const kinds = [...active.keys()].sort();
  const record: SyncRecord = {
    state,
    sinceMs: state !== prev.state ? now : prev.sinceMs,
    progress,
    generation,
    lagSeconds,
    lagBytes,
    alerts: kinds,
    corruptAtMs,
    seenTarget,
  };
  return {
    record,
    events,
    active: kinds.map((k) => active.get(k)!),
    raised: kinds.filter((k) => !prev.alerts.includes(k)),
    resolved: prev.alerts.filter((k) => !active.has(k)).sort(),
  };
}
