/**
 * Whether a VM fails over now, and how (issue 5 §3, §5). Pure: criteria outcome, shadow, policy
 * and failover history in; a decision with its reasons out.
 *
 * Rules, in order:
 * - the criteria must hold (their `for` durations are part of them: anti-flap);
 * - one failover of a VM at a time;
 * - calm: none within `cooldown` of the last one's start, none while the VM is on `probation`
 *   (within `probation` of the last one's end), at most `max_failovers.count` per window
 *   (beyond: left alone, alerted);
 * - a shadow must exist; a shadow that is not `synchronized` is promoted only when the policy
 *   accepts data loss (`max_data_loss` > 0) and its lag is within it; the decision records the
 *   bound of what may be lost (0 for a synchronized sync-mode shadow);
 * - the path: a `warm` shadow takes over; a `migrate` shadow takes the RAM by live migration
 *   while the primary still runs, else cold boots from the synchronized disk.
 * Concurrent failovers are ordered by failover_priority ({@link orderFailovers}).
 */
import type { Policy } from '../config/schema.js';

/** What the controller knows of one VM's shadow. */
export interface FailoverShadow {
  id: string;
  host: string;
  flavor: 'warm' | 'migrate';
  mode: 'sync' | 'async' | 'periodic';
  /** The sync state machine's state (`synchronized`, `lagging`, ...). */
  sync: string;
  lagSeconds: number | null;
  /** Its host holds a lease. */
  hostAlive: boolean;
}

/** A past or running failover of the VM (epoch ms). */
export interface FailoverHistoryItem {
  startedAt: number;
  endedAt: number | null;
  state: 'running' | 'done' | 'failed' | 'aborted';
  /** Its traffic step had finished (the clients went to the shadow). */
  switchedTraffic?: boolean;
}

export interface FailoverInput {
  vmId: string;
  /** Epoch ms. */
  now: number;
  /** The criteria hold (three-valued logic: only a definite true). */
  criteriaHold: boolean;
  /** The atoms that held, for the reason. */
  because: string;
  /** A manual failover (`umbra failover VM`): criteria and calm do not apply, the shadow rules do. */
  manual?: boolean;
  policy: Pick<Policy, 'cooldown' | 'probation' | 'max_failovers' | 'max_data_loss' | 'failover_priority'>;
  shadow: FailoverShadow | null;
  history: readonly FailoverHistoryItem[];
  /** The primary's process still runs (not crashed, its host alive): a live migration is possible. */
  primaryRuns: boolean;
}

export type FailoverDecision =
  | { kind: 'none'; vmId: string; why: string }
  /** Wanted but not done; `alert` names the alert kind to raise. */
  | { kind: 'blocked'; vmId: string; why: string; alert: 'failover_blocked' | 'failover_limit' | 'no_shadow' | 'shadow_not_synchronized'; resync: boolean }
  | { kind: 'failover'; vmId: string; path: 'warm' | 'migrate' | 'cold'; shadowId: string; toHost: string; dataLossBoundSeconds: number; reason: string; priority: number };

const mins = (s: number) => (s % 60 === 0 ? `${s / 60}m` : `${s}s`);

/** See the module comment. */
export function decideFailover(x: FailoverInput): FailoverDecision {
  const { vmId, now, policy: p } = x;
  if (!x.manual && !x.criteriaHold) return { kind: 'none', vmId, why: 'criteria do not hold' };
  if (x.history.some((h) => h.state === 'running')) return { kind: 'none', vmId, why: 'a failover of this VM is running' };
  if (!x.manual) {
    const last = [...x.history].sort((a, b) => b.startedAt - a.startedAt)[0];
    if (last && now - last.startedAt < p.cooldown * 1000) {
      return { kind: 'blocked', vmId, why: `cooldown: the last failover started ${Math.round((now - last.startedAt) / 1000)} s ago (cooldown ${mins(p.cooldown)})`, alert: 'failover_blocked', resync: false };
    }
    if (last?.endedAt != null && last.state === 'done' && now - last.endedAt < p.probation * 1000) {
      return { kind: 'blocked', vmId, why: `probation: promoted ${Math.round((now - last.endedAt) / 1000)} s ago (probation ${mins(p.probation)})`, alert: 'failover_blocked', resync: false };
    }
    const inWindow = x.history.filter((h) => h.state !== 'aborted' && now - h.startedAt < p.max_failovers.window * 1000).length;
    if (inWindow >= p.max_failovers.count) {
      return { kind: 'blocked', vmId, why: `${inWindow} failovers within ${mins(p.max_failovers.window)} (max_failovers ${p.max_failovers.count}): left alone`, alert: 'failover_limit', resync: false };
    }
  }
  const s = x.shadow;
  if (!s) return { kind: 'blocked', vmId, why: 'no shadow to promote', alert: 'no_shadow', resync: false };
  if (!s.hostAlive) return { kind: 'blocked', vmId, why: `the shadow's host ${s.host} is lost`, alert: 'no_shadow', resync: false };
  let bound = 0;
  if (s.sync !== 'synchronized') {
    const lag = s.lagSeconds;
    if (p.max_data_loss === 0) {
      return { kind: 'blocked', vmId, why: `shadow ${s.id} is ${s.sync}, and max_data_loss is 0: recovering the sync first`, alert: 'shadow_not_synchronized', resync: true };
    }
    if (lag === null || lag > p.max_data_loss || s.sync === 'provisioning' || s.sync === 'syncing') {
      return {
        kind: 'blocked',
        vmId,
        why: `shadow ${s.id} is ${s.sync}${lag !== null ? ` with ${lag.toFixed(1)} s of lag` : ''}, beyond max_data_loss ${mins(p.max_data_loss)}: recovering the sync first`,
        alert: 'shadow_not_synchronized',
        resync: true,
      };
    }
    bound = lag;
  } else if (s.mode !== 'sync') {
    // Synchronized within its SLO, but not write-blocking: what it lags by may be lost.
    bound = s.lagSeconds ?? 0;
  }
  const path = s.flavor === 'warm' ? 'warm' : x.primaryRuns ? 'migrate' : 'cold';
  return {
    kind: 'failover',
    vmId,
    path,
    shadowId: s.id,
    toHost: s.host,
    dataLossBoundSeconds: bound,
    reason: x.manual ? 'manual' : x.because,
    priority: p.failover_priority,
  };
}

/** Failovers to start, highest failover_priority first (then VM id: deterministic). */
export function orderFailovers<T extends { kind: string; vmId: string; priority?: number }>(ds: readonly T[]): T[] {
  return ds.filter((d) => d.kind === 'failover').sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || a.vmId.localeCompare(b.vmId));
}
