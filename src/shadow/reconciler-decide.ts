/**
 * The reconciler's decisions, from a snapshot of the store: the glue between the records the
 * server keeps and the pure decision modules (risk, sizing, sync-policy, plan, sync-state). Pure:
 * snapshot and config in, decisions and next states out.
 */
import type { ReplicationStatus, RehearsalTask, ShadowFlavor, ShadowStatus } from '../api/shadow-protocol.js';
import { resolvePolicy } from '../config/resolve.js';
import type { Policy, UmbraConfig } from '../config/schema.js';
import { parseCriteria, type CriteriaNode } from '../failover/criteria/index.js';
import type { SeriesForecast } from '../forecast/types.js';
import type { AlertInput } from './alerts.js';
import type { AgentRow, ShadowRow, ShadowStatusDoc, VmRow } from '../store/store.js';
import { renderExplain } from './explain.js';
import { planShadows, type PlanHost, type PlanShadow, type PlanVm, type ShadowAction, type VmDecision } from './plan.js';
import { assessRisk, countForecastMisses, probeCounts, type RiskAssessment } from './risk.js';
import { sizeShadow, type ShadowSize, type VmShape } from './sizing.js';
import { chooseSync, type SyncChoice } from './sync-policy.js';
import { nextSyncState, type SyncAlertKind, type SyncRecord, type SyncState } from './sync-state.js';

/** What a pass decides from. Times: `now` epoch ms; samples epoch s. */
export interface Snapshot {
  now: number;
  agents: readonly AgentRow[];
  /** Primaries only. */
  vms: readonly VmRow[];
  shadows: readonly ShadowRow[];
  forecasts: ReadonlyMap<string, readonly SeriesForecast[]>;
  /** Recent `probe_ok` samples per VM (oldest first). */
  health: ReadonlyMap<string, readonly { t: number; value: number }[]>;
  /** Recent `cpu_pct` samples per VM, for the forecast-miss (anomaly) count. */
  recentCpu?: ReadonlyMap<string, readonly { t: number; value: number }[]>;
  /** The policy horizon (longest forecast horizon), seconds. */
  horizonSeconds: number;
  /**
   * VMs failing over now (a running failover record, or held by the controller): the shadow
   * manager leaves them alone until the failover ended (issue 5 §6).
   */
  failingOver?: ReadonlySet<string>;
  /** Per VM, the failover gate's ticket when this was read (src/failover/gate.ts). */
  tickets?: ReadonlyMap<string, number>;
}

/** What the reconciler does for one VM or shadow. */
export type Decision =
  | {
      kind: 'create';
      vmId: string;
      host: string;
      size: { vcpus: number; memoryMiB: number };
      flavor: ShadowFlavor;
      mode: 'sync' | 'async' | 'periodic';
      intervalSeconds: number;
      reason: string;
      /** Refresh: the shadow this one replaces once synchronized. */
      replaces?: string;
    }
  | { kind: 'keep'; vmId: string; shadowId: string; lowRiskSinceMs: number | null }
  | { kind: 'retire'; vmId: string; shadowId: string; reason: string }
  | { kind: 'unplaced'; vmId: string; reason: string };

/** Everything behind one VM's decision (explain). */
export interface VmAnalysis {
  vmId: string;
  policy: Policy;
  groups: string[];
  assessment: RiskAssessment;
  size: ShadowSize;
  sync: SyncChoice;
  decision?: VmDecision;
}

/** The shape of a primary as the agents run it (reconciler.ts agentSpecFor's rule). */
export function primaryShape(vm: Pick<VmRow, 'spec'>): VmShape {
  return { vcpus: vm.spec.vcpus, memoryMiB: vm.spec.memoryMiB, maxVcpus: Math.max(vm.spec.vcpus, 4), maxMemoryMiB: Math.max(vm.spec.memoryMiB, 1024) };
}

/** The effective policy of a VM, or null when it is unknown. */
export function policyOf(config: UmbraConfig, vm: { name: string; labels: Record<string, string> } | null): Policy | null {
  return vm ? resolvePolicy(config.policies, vm).policy : null;
}

/** The policy's warm-up task in the protocol's shape (undefined: only check readiness). */
export function rehearsalTaskOf(policy: Policy): RehearsalTask | undefined {
  const t = policy.warmup_task;
  if (!t) return undefined;
  if ('http' in t) {
    return { http: { path: t.http.path, ...(t.http.port !== undefined ? { port: t.http.port } : {}), expectStatus: t.http.expect_status, timeoutMs: Math.round(t.http.timeout * 1000) } };
  }
  return { command: { argv: [...t.command.argv], timeoutMs: Math.round(t.command.timeout * 1000) } };
}

const criteriaCache = new Map<string, CriteriaNode>();
function criteriaOf(text: string): CriteriaNode {
  let c = criteriaCache.get(text);
  if (!c) {
    c = parseCriteria(text); // validated when the policy was loaded
    if (criteriaCache.size > 256) criteriaCache.clear();
    criteriaCache.set(text, c);
  }
  return c;
}

/** The measured cold boot of a VM: its shadows' last point-in-time rehearsal, seconds. */
function measuredColdBoot(shadows: readonly ShadowRow[]): number | null {
  let best: { at: number; s: number } | null = null;
  for (const s of shadows) {
    const r = s.status.rehearsal;
    if (r?.ok && r.where === 'pit-copy' && r.timeToReadyMs !== null && (!best || r.at > best.at)) best = { at: r.at, s: r.timeToReadyMs / 1000 };
  }
  return best?.s ?? null;
}

/**
 * Probes from the first successful one on: a guest that is still booting fails its probes, and
 * that says nothing about its health (a VM that never answers is not running, nothing to shadow).
 */
export function sinceFirstSuccess<T extends { value: number }>(probes: readonly T[]): readonly T[] {
  const i = probes.findIndex((p) => p.value > 0);
  return i < 0 ? [] : probes.slice(i);
}

/** Risk, size and sync choice of every primary. */
export function analyzeVms(snap: Snapshot, config: UmbraConfig): Map<string, VmAnalysis> {
  const out = new Map<string, VmAnalysis>();
  const nowS = snap.now / 1000;
  for (const vm of snap.vms) {
    const { policy, groups } = resolvePolicy(config.policies, { name: vm.id, labels: { ...vm.spec.labels } });
    const forecasts = snap.forecasts.get(vm.id) ?? [];
    const cpuForecast = forecasts.find((f) => f.metric === 'cpu_pct');
    const cpu = snap.recentCpu?.get(vm.id) ?? [];
    const assessment = assessRisk({
      vmId: vm.id,
      nowSeconds: nowS,
      horizonSeconds: snap.horizonSeconds,
      allocation: { vcpus: vm.spec.vcpus, memoryMiB: vm.spec.memoryMiB },
      criteria: criteriaOf(policy.failover_criteria),
      forecasts,
      failoverPriority: policy.failover_priority,
      health: {
        probes: probeCounts(sinceFirstSuccess(snap.health.get(vm.id) ?? [])),
        ...(cpuForecast && cpu.length ? { anomaly: countForecastMisses(cpuForecast, cpu) } : {}),
      },
    });
    const sync = chooseSync({ policy, measuredColdBootSeconds: measuredColdBoot(snap.shadows.filter((s) => s.vmId === vm.id)) });
    const size = sizeShadow({ flavor: sync.flavor, primary: primaryShape(vm), forecasts, nowSeconds: nowS, horizonSeconds: snap.horizonSeconds });
    out.set(vm.id, { vmId: vm.id, policy, groups, assessment, size, sync });
  }
  return out;
}

/** The plan's hosts: capacity, liveness, and what primaries and shadows reserve on each. */
function planHosts(snap: Snapshot): PlanHost[] {
  return snap.agents.map((a) => {
    const reserved = { vcpus: 0, memoryMiB: 0 };
    for (const v of snap.vms) {
      if (v.spec.host !== a.name) continue;
      reserved.vcpus += v.spec.vcpus;
      reserved.memoryMiB += v.spec.memoryMiB;
    }
    for (const s of snap.shadows) {
      if (s.host !== a.name) continue;
      reserved.vcpus += s.size.vcpus;
      reserved.memoryMiB += s.size.memoryMiB;
    }
    return { name: a.name, labels: { ...a.labels }, alive: snap.now < a.leaseExpiresAt, capacity: { ...a.capacity }, reserved };
  });
}

const ACTION_WORDS: Record<string, string> = {
  risk: 'risk reached the creation threshold',
  protected: 'protected (a shadow whatever the risk)',
  host_lost: "the shadow's host was lost",
  max_age: 'older than max_shadow_age: a fresh one first',
  on_primary_host: "the shadow sits on its primary's host",
};

/** Decides every VM's shadows (the plan), with the analyses behind it. */
export function decideShadows(snap: Snapshot, config: UmbraConfig, now: number): Decision[] {
  return planFor(snap, config, now).decisions;
}

/** The plan and its inputs (explain shows both). */
export function planFor(snap: Snapshot, config: UmbraConfig, now: number): { decisions: Decision[]; analyses: Map<string, VmAnalysis> } {
  const analyses = analyzeVms(snap, config);
  const active = snap.shadows.filter((s) => s.phase === 'active');
  const vms: PlanVm[] = snap.vms.map((vm) => {
    const a = analyses.get(vm.id)!;
    return {
      id: vm.id,
      host: vm.spec.host,
      risk: a.assessment.risk,
      threshold: a.policy.shadow_creation_threshold,
      priority: a.policy.failover_priority,
      maxShadowAgeSeconds: a.policy.max_shadow_age,
      protect: Boolean(vm.spec.protect),
      size: { vcpus: a.size.vcpus, memoryMiB: a.size.memoryMiB },
    };
  });
  const shadows: PlanShadow[] = active.map((s) => ({
    id: s.id,
    vmId: s.vmId,
    host: s.host,
    size: { ...s.size },
    createdAtMs: s.createdAt,
    state: s.status.sync as SyncState,
    lowRiskSinceMs: typeof s.status.lowRiskSinceMs === 'number' ? s.status.lowRiskSinceMs : null,
    replaces: s.replaces,
  }));
  const plan = planShadows({ nowMs: now, vms, shadows, hosts: planHosts(snap), budgets: config.budgets });
  for (const [vmId, d] of plan.decisions) {
    const a = analyses.get(vmId);
    if (a) a.decision = d;
  }
  const decisions: Decision[] = [];
  const toDecision = (act: ShadowAction): Decision | null => {
    switch (act.kind) {
      case 'create':
      case 'refresh': {
        const a = analyses.get(act.vmId);
        if (!a) return null;
        return {
          kind: 'create',
          vmId: act.vmId,
          host: act.host,
          size: { ...act.size },
          flavor: a.sync.flavor,
          mode: a.sync.mode,
          intervalSeconds: a.sync.intervalSeconds,
          reason: `${ACTION_WORDS[act.reason] ?? act.reason}: ${act.detail}`,
          ...(act.kind === 'refresh' ? { replaces: act.shadowId } : {}),
        };
      }
      case 'keep':
        return { kind: 'keep', vmId: act.vmId, shadowId: act.shadowId, lowRiskSinceMs: act.lowRiskSinceMs };
      case 'retire':
        return { kind: 'retire', vmId: act.vmId, shadowId: act.shadowId, reason: `${act.reason}: ${act.detail}` };
      case 'unplaced':
        return { kind: 'unplaced', vmId: act.vmId, reason: `${act.reason}: ${act.detail}` };
    }
  };
  for (const act of [...plan.actions, ...plan.orphans]) {
    const d = toDecision(act);
    if (d) decisions.push(d);
  }
  return { decisions, analyses };
}

/** `umbra shadow explain VM` as text, from a fresh snapshot. */
export function explainVm(snap: Snapshot, config: UmbraConfig, vmId: string): { vmId: string; text: string; analysis: VmAnalysis | null } {
  const { analyses } = planFor(snap, config, snap.now);
  const a = analyses.get(vmId) ?? null;
  if (!a) return { vmId, text: `VM ${vmId}: not a primary the shadow manager knows`, analysis: null };
  const shadows = snap.shadows.filter((s) => s.vmId === vmId).map((s) => ({ id: s.id, host: s.host, state: s.phase === 'retiring' ? `${s.status.sync} (retiring)` : s.status.sync }));
  const head = a.groups.length ? `policy groups: ${a.groups.join(', ')}\n` : '';
  return { vmId, text: head + renderExplain({ assessment: a.assessment, decision: a.decision, size: a.size, sync: a.sync, shadows }), analysis: a };
}

/** What one pass observed of a shadow. `undefined`: not observed (agent unreachable). */
export interface ShadowObservation {
  row: ShadowRow;
  /** The shadow host's view of it: null when its (live) host does not run it. */
  shadow: ShadowStatus | null | undefined;
  /** The primary's replication feeding this shadow: null when none does. */
  replication: ReplicationStatus | null | undefined;
  /** This shadow is the one the primary should replicate to. */
  isCurrent: boolean;
  primaryAlive: boolean;
  hostAlive: boolean;
}

/** The next status of a shadow: the sync state machine plus the observed fields, and its alerts. */
export function nextShadowStatus(
  row: ShadowRow,
  ob: ShadowObservation,
  policy: Policy | null,
  now: number,
): { status: ShadowStatusDoc; why: string; raise: AlertInput[]; resolve: string[]; resyncs: { generation: number; error: string | null }[] } {
  const st = row.status;
  const observed: Partial<ShadowStatusDoc> = {};
  if (ob.shadow) Object.assign(observed, { target: ob.shadow.target, vm: ob.shadow.vm, targetPid: ob.shadow.targetPid, targetRestarts: ob.shadow.targetRestarts });
  if (ob.replication) {
    Object.assign(observed, {
      initialCopyBytesPerSec: ob.replication.initialCopyBytesPerSec ?? st.initialCopyBytesPerSec,
      readyAt: ob.replication.readyAt ?? st.readyAt,
    });
  }
  // A shadow the primary no longer feeds (a fresher one replaces it) keeps its last copy.
  if (!ob.isCurrent) {
    return { status: { ...st, ...observed, error: null }, why: 'replaced: replication feeds the newer shadow', raise: [], resolve: [], resyncs: [] };
  }
  const prev: SyncRecord = {
    state: row.status.sync as SyncState,
    sinceMs: st.syncSince,
    progress: st.progress,
    generation: st.generation,
    lagSeconds: st.lagSeconds,
    lagBytes: st.lagBytes,
    alerts: Array.isArray(st.syncAlerts) ? (st.syncAlerts as SyncAlertKind[]) : [],
    corruptAtMs: null,
    seenTarget: st.seenTarget === true,
  };
  const step = nextSyncState(prev, {
    nowMs: now,
    shadow: ob.shadow === undefined ? undefined : ob.shadow === null ? { present: false, targetRunning: false } : { present: true, targetRunning: ob.shadow.targetState !== 'stopped' },
    replication: ob.replication,
    slo: { lagSeconds: policy?.lag_slo ?? 30 },
    verification: null,
  });
  const r = step.record;
  const last = step.events.filter((e) => e.kind === 'transition').at(-1);
  const errorNow = ob.replication?.state === 'error' ? ob.replication.error : ob.shadow?.lastError?.message ?? null;
  const status: ShadowStatusDoc = {
    ...st,
    ...observed,
    sync: r.state,
    syncSince: r.sinceMs,
    progress: r.progress,
    generation: r.generation,
    lagSeconds: r.lagSeconds,
    lagBytes: r.lagBytes,
    syncAlerts: r.alerts,
    seenTarget: r.seenTarget,
    error: errorNow ?? (r.state === 'synchronized' ? null : st.error),
  };
  const key = (k: SyncAlertKind) => `${k}/${row.vmId}`;
  return {
    status,
    why: last && last.kind === 'transition' ? last.reason : '',
    raise: step.active
      .filter((a) => a.kind !== 'corruption') // verification raises and resolves corruption itself
      .map((a) => ({ key: key(a.kind), kind: a.kind, severity: a.severity, vmId: row.vmId, shadowId: row.id, summary: a.summary, data: a.data })),
    resolve: step.resolved.filter((k) => k !== 'corruption').map(key),
    // A new full copy (after a lost target, a cut link, a primary restart): the log keeps why,
    // also when it healed between two passes.
    resyncs: step.events.flatMap((e) => (e.kind === 'resync' ? [{ generation: e.generation, error: ob.replication?.error ?? null }] : [])),
  };
}

/** The lowRiskSince the plan wants remembered, per shadow. */
export function keepUpdates(decisions: readonly Decision[]): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const d of decisions) if (d.kind === 'keep') out.set(d.shadowId, d.lowRiskSinceMs);
  return out;
}
