/**
 * Which shadows should exist (issue 4 §4): `planShadows(input)` turns every VM's risk and policy,
 * the shadows that exist, the hosts and the budgets into actions. Pure and deterministic: the
 * reconciler applies the actions and stores what they return (`lowRiskSinceMs`).
 *
 * Rules:
 * - A VM wants a shadow when its (weighted) risk ≥ shadow_creation_threshold, or it is protected
 *   (`protect`: forced; always keeps a shadow).
 * - Hysteresis: a shadow is retired for low risk only when risk < threshold × (1 − hysteresis)
 *   (default 0.5) continuously for `retireDelayMs` (default 30 min). `lowRiskSinceMs` carries
 *   that "continuously": the plan returns it on every kept shadow; the reconciler stores it and
 *   passes it back next time. Between the two levels a shadow is kept but none created.
 * - Refresh (max_shadow_age): the new shadow is created FIRST (`refresh` action: create one with
 *   `replaces` = the old id); the old one is retired (`replaced`) only in a later pass, once its
 *   replacement's sync state is `synchronized`. Until then both are kept. A shadow on its
 *   primary's host (the VM moved) is replaced the same way.
 * - A shadow on a host that is not alive is retired (`host_lost`) and, when the VM still wants
 *   one, a new one is placed right away (it protects nothing any more).
 * - A shadow whose VM is gone is retired (`vm_deleted`).
 * - Placements compete in this order: protected VMs, then VMs without a usable shadow before
 *   refreshes, then by weighted risk (priority × risk) descending, then failover_priority, then
 *   id. Each is checked against the total budget, then placed by placement.ts (never the
 *   primary's host; other failure domain; fewest shadows in the domain; most room).
 * - Budgets and host room count every existing shadow on a live host, including those retired
 *   in this pass (their resources are freed only once they are gone: next pass).
 */
import type { BudgetsConfig } from '../config/schema.js';
import { BudgetLedger, type Reservation } from './budget.js';
import { domainKey, rankHosts, recordPlacement, type HostCandidate, type Overcommit, type PlacementState, type PlanHost } from './placement.js';
import type { SyncState } from './sync-state.js';

export type { PlanHost } from './placement.js';

/** A protected VM as the plan sees it. */
export interface PlanVm {
  id: string;
  /** Its primary's host. */
  host: string;
  /** Weighted risk in [0, 1] (RiskAssessment.risk). */
  risk: number;
  /** The policy's shadow_creation_threshold. */
  threshold: number;
  /** The policy's failover_priority. */
  priority: number;
  /** The policy's max_shadow_age, seconds. */
  maxShadowAgeSeconds: number;
  /** Forced: always keeps a shadow (never retired for low risk). */
  protect?: boolean;
  /** The size a new shadow gets (sizing.ts; the primary's shape for migrate shadows). */
  size: Reservation;
}

/** An existing shadow. */
export interface PlanShadow {
  id: string;
  vmId: string;
  host: string;
  size: Reservation;
  /** Epoch ms. */
  createdAtMs: number;
  state: SyncState;
  /** Since when (epoch ms) its VM's risk has been below the retire level; null: not below. */
  lowRiskSinceMs: number | null;
  /** The shadow this one replaces (refresh), null otherwise. */
  replaces: string | null;
}

export interface PlanOptions extends Overcommit {
  /** Host label naming the failure domain (default `zone`). */
  domainLabel: string;
  /** Retire below threshold × (1 − hysteresis) (default 0.5). */
  hysteresis: number;
  /** For this long, continuously (default 30 min). */
  retireDelayMs: number;
}

export const DEFAULT_PLAN_OPTIONS: Readonly<PlanOptions> = Object.freeze({
  domainLabel: 'zone',
  hysteresis: 0.5,
  retireDelayMs: 30 * 60_000,
  cpuOvercommit: 4,
  memoryOvercommit: 1,
});

export interface PlanInput {
  /** Epoch ms. */
  nowMs: number;
  vms: readonly PlanVm[];
  shadows: readonly PlanShadow[];
  hosts: readonly PlanHost[];
  /** The policy's budgets (absent limits: unlimited). */
  budgets: BudgetsConfig;
  options?: Partial<PlanOptions>;
}

export type CreateReason = 'risk' | 'protected' | 'host_lost';
export type RefreshReason = 'max_age' | 'on_primary_host';
export type RetireReason = 'low_risk' | 'vm_deleted' | 'replaced' | 'host_lost' | 'duplicate';
export type UnplacedReason = 'budget' | 'no_host_with_room' | 'only_primary_host';

/** What the reconciler should do. */
export type ShadowAction =
  /** Create a shadow of `vmId` on `host`. */
  | { kind: 'create'; vmId: string; host: string; size: Reservation; reason: CreateReason; detail: string }
  /** Create a shadow of `vmId` on `host` that replaces `shadowId` (which stays until the new one is synchronized). */
  | { kind: 'refresh'; vmId: string; shadowId: string; host: string; size: Reservation; reason: RefreshReason; detail: string }
  /** Keep it; store `lowRiskSinceMs`. */
  | { kind: 'keep'; vmId: string; shadowId: string; lowRiskSinceMs: number | null; detail: string }
  /** Stop replicating to it and delete it. */
  | { kind: 'retire'; vmId: string; shadowId: string; reason: RetireReason; detail: string }
  /** Wanted but not placed. */
  | { kind: 'unplaced'; vmId: string; for: 'create' | 'refresh'; reason: UnplacedReason; detail: string };

/** Everything behind one VM's decision, for explain. */
export interface VmDecision {
  vmId: string;
  risk: number;
  threshold: number;
  /** threshold × (1 − hysteresis). */
  retireBelow: number;
  protect: boolean;
  /** Risk ≥ threshold or protected. */
  wants: boolean;
  lowRiskSinceMs: number | null;
  /** One line: what and why. */
  summary: string;
  actions: ShadowAction[];
  /** The hosts considered for a new shadow (absent: none was placed). */
  placement?: { for: 'create' | 'refresh'; candidates: HostCandidate[]; chosen: string | null };
}

export interface ShadowPlan {
  /** In order: retire, keep, then create/refresh/unplaced in competition order. */
  actions: ShadowAction[];
  /** By VM id (also VMs that get nothing). */
  decisions: Map<string, VmDecision>;
  /** Shadows retired because their VM is gone. */
  orphans: ShadowAction[];
}

interface Wanted {
  vm: PlanVm;
  for: 'create' | 'refresh';
  reason: CreateReason | RefreshReason;
  replaces: string | null;
  /** The VM has no usable shadow meanwhile (none, or only one on its own host). */
  unprotected: boolean;
  detail: string;
}

/** Plans every VM's shadows. */
export function planShadows(input: PlanInput): ShadowPlan {
  const o: PlanOptions = { ...DEFAULT_PLAN_OPTIONS, ...input.options };
  const now = input.nowMs;
  const hostByName = new Map(input.hosts.map((h) => [h.name, h]));
  const isLive = (s: PlanShadow) => hostByName.get(s.host)?.alive === true;
  const vmIds = new Set(input.vms.map((v) => v.id));
  const retire: ShadowAction[] = [];
  const keep: ShadowAction[] = [];
  const wanted: Wanted[] = [];
  const decisions = new Map<string, VmDecision>();
  const orphans: ShadowAction[] = [];

  for (const s of sortBy(input.shadows, (s) => s.id)) {
    if (vmIds.has(s.vmId)) continue;
    const a: ShadowAction = { kind: 'retire', vmId: s.vmId, shadowId: s.id, reason: 'vm_deleted', detail: `VM ${s.vmId} no longer exists` };
    retire.push(a);
    orphans.push(a);
  }

  for (const vm of sortBy(input.vms, (v) => v.id)) {
    const protect = vm.protect === true;
    const retireBelow = vm.threshold * (1 - o.hysteresis);
    const wants = protect || vm.risk >= vm.threshold;
    const low = !protect && vm.risk < retireBelow;
    const d: VmDecision = { vmId: vm.id, risk: vm.risk, threshold: vm.threshold, retireBelow, protect, wants, lowRiskSinceMs: null, summary: '', actions: [] };
    decisions.set(vm.id, d);
    const mine = sortBy(
      input.shadows.filter((s) => s.vmId === vm.id),
      (s) => s.createdAtMs,
      (s) => s.id,
    );
    const riskWords = `risk ${fmt(vm.risk)} ${vm.risk >= vm.threshold ? '≥' : '<'} threshold ${fmt(vm.threshold)}`;

    if (!mine.length) {
      if (wants) {
        wanted.push({ vm, for: 'create', reason: protect ? 'protected' : 'risk', replaces: null, unprotected: true, detail: protect ? 'protected VM' : riskWords });
      } else {
        d.summary = `no shadow: ${riskWords}`;
      }
      continue;
    }

    // Hysteresis: how long has the risk been below the retire level?
    const since = low ? Math.min(now, ...mine.map((s) => s.lowRiskSinceMs ?? now)) : null;
    d.lowRiskSinceMs = since;
    if (since !== null && now - since >= o.retireDelayMs) {
      for (const s of mine) push(d, retire, { kind: 'retire', vmId: vm.id, shadowId: s.id, reason: 'low_risk', detail: `risk ${fmt(vm.risk)} < ${fmt(retireBelow)} since ${mins(now - since)} (≥ ${mins(o.retireDelayMs)})` });
      d.summary = `retire: risk below ${fmt(retireBelow)} for ${mins(now - since)}`;
      continue;
    }

    // Shadows on dead hosts protect nothing.
    const live: PlanShadow[] = [];
    for (const s of mine) {
      if (isLive(s)) live.push(s);
      else push(d, retire, { kind: 'retire', vmId: vm.id, shadowId: s.id, reason: 'host_lost', detail: `host ${s.host} is not alive` });
    }
    if (!live.length) {
      if (!low) wanted.push({ vm, for: 'create', reason: 'host_lost', replaces: null, unprotected: true, detail: `its shadow's host is lost; ${riskWords}` });
      else d.summary = `shadow lost with its host; not replaced: risk ${fmt(vm.risk)} < ${fmt(retireBelow)}`;
      continue;
    }

    // Refresh pairs: a replacement that is synchronized retires what it replaces.
    const retired = new Set<string>();
    const liveIds = new Set(live.map((s) => s.id));
    for (const s of live) {
      if (s.replaces && liveIds.has(s.replaces) && s.state === 'synchronized') {
        retired.add(s.replaces);
        push(d, retire, { kind: 'retire', vmId: vm.id, shadowId: s.replaces, reason: 'replaced', detail: `replaced by ${s.id} (synchronized)` });
      }
    }
    let active = live.filter((s) => !retired.has(s.id));
    const replacing = new Set(active.filter((s) => s.replaces && liveIds.has(s.replaces)).map((s) => s.replaces!));
    // Independent shadows (not part of a refresh pair): one is enough; keep the best.
    const roots = active.filter((s) => !(s.replaces && liveIds.has(s.replaces) && !retired.has(s.replaces)));
    if (roots.length > 1) {
      const best = sortBy(roots, (s) => (s.state === 'synchronized' ? 0 : 1), (s) => s.createdAtMs, (s) => s.id)[0];
      for (const s of roots) {
        if (s.id === best.id) continue;
        push(d, retire, { kind: 'retire', vmId: vm.id, shadowId: s.id, reason: 'duplicate', detail: `${best.id} already protects ${vm.id}` });
        retired.add(s.id);
      }
      active = active.filter((s) => !retired.has(s.id));
    }

    for (const s of active) {
      push(d, keep, { kind: 'keep', vmId: vm.id, shadowId: s.id, lowRiskSinceMs: since, detail: keepWords(vm, s, since, now, retireBelow) });
      if (replacing.has(s.id)) continue; // its replacement is on the way
      if (s.replaces && liveIds.has(s.replaces) && !retired.has(s.replaces)) continue; // a replacement itself
      if (s.host === vm.host) {
        wanted.push({ vm, for: 'refresh', reason: 'on_primary_host', replaces: s.id, unprotected: true, detail: `${s.id} is on the primary's host ${s.host}` });
      } else if (now - s.createdAtMs >= vm.maxShadowAgeSeconds * 1000) {
        wanted.push({ vm, for: 'refresh', reason: 'max_age', replaces: s.id, unprotected: false, detail: `${s.id} is ${mins(now - s.createdAtMs)} old (max_shadow_age ${mins(vm.maxShadowAgeSeconds * 1000)})` });
      }
    }
    if (!d.summary) d.summary = `keep: ${riskWords}${since !== null ? `; below ${fmt(retireBelow)} for ${mins(now - since)} of ${mins(o.retireDelayMs)}` : ''}`;
  }

  // Placement, in competition order.
  const existing = input.shadows.filter(isLive);
  const st: PlacementState = {
    hosts: input.hosts,
    placed: new Map(),
    domainShadows: new Map(),
    ledger: new BudgetLedger(input.budgets, existing),
    domainLabel: o.domainLabel,
    overcommit: { cpuOvercommit: o.cpuOvercommit, memoryOvercommit: o.memoryOvercommit },
  };
  for (const s of existing) {
    const h = hostByName.get(s.host)!;
    const k = domainKey(h, o.domainLabel);
    st.domainShadows.set(k, (st.domainShadows.get(k) ?? 0) + 1);
  }
  const queue = sortBy(
    wanted,
    (w) => (w.vm.protect ? 0 : 1),
    (w) => (w.unprotected ? 0 : 1),
    (w) => -w.vm.risk,
    (w) => -w.vm.priority,
    (w) => w.vm.id,
  );
  const placeActions: ShadowAction[] = [];
  for (const w of queue) {
    const d = decisions.get(w.vm.id)!;
    const size = w.vm.size;
    const total = st.ledger.fitsTotal(size);
    if (!total.ok) {
      push(d, placeActions, { kind: 'unplaced', vmId: w.vm.id, for: w.for, reason: 'budget', detail: total.detail });
      d.summary = `${w.for === 'create' ? 'wants a shadow' : 'wants a fresh shadow'} (${w.detail}), unplaced: ${total.detail}`;
      continue;
    }
    const { candidates, chosen } = rankHosts(st, w.vm.host, size);
    d.placement = { for: w.for, candidates, chosen };
    if (chosen === null) {
      const { reason, detail } = whyUnplaced(candidates);
      push(d, placeActions, { kind: 'unplaced', vmId: w.vm.id, for: w.for, reason, detail });
      d.summary = `${w.for === 'create' ? 'wants a shadow' : 'wants a fresh shadow'} (${w.detail}), unplaced: ${detail}`;
      continue;
    }
    recordPlacement(st, chosen, size);
    const where = candidates.find((c) => c.host === chosen)!;
    if (w.for === 'create') {
      push(d, placeActions, { kind: 'create', vmId: w.vm.id, host: chosen, size, reason: w.reason as CreateReason, detail: w.detail });
      d.summary = `create on ${chosen} (${where.detail}): ${w.detail}`;
    } else {
      push(d, placeActions, { kind: 'refresh', vmId: w.vm.id, shadowId: w.replaces!, host: chosen, size, reason: w.reason as RefreshReason, detail: w.detail });
      d.summary = `refresh on ${chosen}: ${w.detail}; the old one stays until the new one is synchronized`;
    }
  }
  return { actions: [...retire, ...keep, ...placeActions], decisions, orphans };
}

function whyUnplaced(c: readonly HostCandidate[]): { reason: UnplacedReason; detail: string } {
  const others = c.filter((x) => x.rejected !== 'primary_host');
  const usable = others.filter((x) => x.rejected !== 'host_down');
  if (!usable.length) {
    return { reason: 'only_primary_host', detail: others.length ? "no live host other than the primary's" : "the primary's host is the only host" };
  }
  const list = usable.map((x) => `${x.host}: ${x.detail}`).join('; ');
  if (usable.every((x) => x.rejected === 'host_budget')) return { reason: 'budget', detail: list };
  return { reason: 'no_host_with_room', detail: list };
}

function keepWords(vm: PlanVm, s: PlanShadow, since: number | null, now: number, retireBelow: number): string {
  if (vm.protect) return 'protected VM';
  if (since !== null) return `risk ${fmt(vm.risk)} < ${fmt(retireBelow)} for ${mins(now - since)}: retire after the delay`;
  if (vm.risk < vm.threshold) return `risk ${fmt(vm.risk)} between ${fmt(retireBelow)} and ${fmt(vm.threshold)} (hysteresis)`;
  return `risk ${fmt(vm.risk)} ≥ ${fmt(vm.threshold)}${s.state !== 'synchronized' ? `; ${s.state}` : ''}`;
}

function push(d: VmDecision, list: ShadowAction[], a: ShadowAction): void {
  list.push(a);
  d.actions.push(a);
}

/** A stable sort by several keys. */
function sortBy<T>(xs: readonly T[], ...keys: ((x: T) => number | string)[]): T[] {
  return [...xs].sort((a, b) => {
    for (const k of keys) {
      const ka = k(a);
      const kb = k(b);
      if (ka < kb) return -1;
      if (ka > kb) return 1;
    }
    return 0;
  });
}

function fmt(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}
function mins(ms: number): string {
  const m = ms / 60_000;
  if (m >= 120 && m % 60 === 0) return `${m / 60}h`;
  if (m >= 1) return `${Math.round(m * 10) / 10}m`;
  return `${Math.round(ms / 1000)}s`;
}
