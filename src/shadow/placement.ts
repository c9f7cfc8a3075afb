/**
 * Where a shadow goes (issue 4 §4): never on its primary's host; on a live host with room and
 * per-host budget; preferring (1) a failure domain other than the primary's, (2) the domain
 * holding the fewest shadows, (3) the host with the most room left, (4) the name. Pure.
 *
 * A host's failure domain is the value of its `domainLabel` label (default `zone`); a host
 * without the label is a domain of its own. "Other than the primary's" needs both labels: when
 * the primary's host has none, no host is preferred for being elsewhere.
 */
import type { BudgetLedger, Reservation } from './budget.js';

/** A host as placement sees it. */
export interface PlanHost {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** Holds a lease with the server. */
  alive: boolean;
  /** Physical capacity. */
  capacity: { cores: number; memoryMiB: number };
  /** What primaries and existing shadows reserve on it (vCPUs and MiB). */
  reserved: Reservation;
}

/** Overcommit ratios: allocations ≤ capacity × ratio (as the server's VM placement). */
export interface Overcommit {
  cpuOvercommit: number;
  memoryOvercommit: number;
}

/** Why a host was not chosen. */
export type HostRejection = 'primary_host' | 'host_down' | 'host_budget' | 'no_room';

/** One host considered for a shadow, for explain. */
export interface HostCandidate {
  host: string;
  ok: boolean;
  rejected?: HostRejection;
  /** Why, in words (free room, budget). */
  detail: string;
  domain: string | null;
  /** In a failure domain other than the primary's. */
  otherDomain: boolean;
  /** Shadows in this host's domain (before this one). */
  domainShadows: number;
  /** Smaller of the free CPU and memory shares after placing (0..1). */
  freeAfter: number;
  /** 1 = chosen; ranks of the other fits follow; absent for rejected hosts. */
  rank?: number;
}

/** The running state a planning pass places into. */
export interface PlacementState {
  hosts: readonly PlanHost[];
  /** Extra reservations placed this pass, per host. */
  placed: Map<string, Reservation>;
  /** Shadows per domain key (existing + placed). */
  domainShadows: Map<string, number>;
  ledger: BudgetLedger;
  domainLabel: string;
  overcommit: Overcommit;
}

/** The key of a host's failure domain (`zone=a`, or `host:h3` for an unlabelled host). */
export function domainKey(h: Pick<PlanHost, 'name' | 'labels'>, label: string): string {
  const v = h.labels[label];
  return v === undefined ? `host:${h.name}` : `${label}=${v}`;
}

/**
 * Ranks every host for a shadow of `size` protecting a VM on `primaryHost`. Returns the
 * candidates (sorted: fits by rank, then rejected by name) and the chosen host (null: none fits).
 */
export function rankHosts(st: PlacementState, primaryHost: string, size: Reservation): { candidates: HostCandidate[]; chosen: string | null } {
  const primary = st.hosts.find((h) => h.name === primaryHost);
  const primaryDomain = primary?.labels[st.domainLabel];
  const all: HostCandidate[] = [...st.hosts]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((h) => {
      const domain = h.labels[st.domainLabel] ?? null;
      const otherDomain = primaryDomain !== undefined && domain !== null && domain !== primaryDomain;
      const domainShadows = st.domainShadows.get(domainKey(h, st.domainLabel)) ?? 0;
      const placed = st.placed.get(h.name) ?? { vcpus: 0, memoryMiB: 0 };
      const cpuCap = h.capacity.cores * st.overcommit.cpuOvercommit;
      const memCap = h.capacity.memoryMiB * st.overcommit.memoryOvercommit;
      const cpuFree = cpuCap - h.reserved.vcpus - placed.vcpus;
      const memFree = memCap - h.reserved.memoryMiB - placed.memoryMiB;
      const freeAfter = Math.min(cpuCap > 0 ? (cpuFree - size.vcpus) / cpuCap : 0, memCap > 0 ? (memFree - size.memoryMiB) / memCap : 0);
      const base = { host: h.name, domain, otherDomain, domainShadows, freeAfter };
      const room = `${fmt(cpuFree)} vCPU, ${fmt(memFree)} MiB free`;
      if (h.name === primaryHost) return { ...base, ok: false, rejected: 'primary_host' as const, detail: "the primary's host" };
      if (!h.alive) return { ...base, ok: false, rejected: 'host_down' as const, detail: 'not alive (no lease)' };
      const b = st.ledger.fitsHost(h.name, size);
      if (!b.ok) return { ...base, ok: false, rejected: 'host_budget' as const, detail: b.detail };
      if (cpuFree < size.vcpus || memFree < size.memoryMiB) {
        return { ...base, ok: false, rejected: 'no_room' as const, detail: `no room for ${size.vcpus} vCPU, ${size.memoryMiB} MiB (${room})` };
      }
      return { ...base, ok: true, detail: `${room}${otherDomain ? `, other domain (${domain})` : ''}` };
    });
  const fits = all
    .filter((c) => c.ok)
    .sort((a, b) => Number(b.otherDomain) - Number(a.otherDomain) || a.domainShadows - b.domainShadows || b.freeAfter - a.freeAfter || (a.host < b.host ? -1 : 1));
  fits.forEach((c, i) => (c.rank = i + 1));
  const rejected = all.filter((c) => !c.ok);
  return { candidates: [...fits, ...rejected], chosen: fits[0]?.host ?? null };
}

/** Records a shadow placed on `host` into the running state. */
export function recordPlacement(st: PlacementState, host: string, size: Reservation): void {
  const p = st.placed.get(host) ?? { vcpus: 0, memoryMiB: 0 };
  st.placed.set(host, { vcpus: p.vcpus + size.vcpus, memoryMiB: p.memoryMiB + size.memoryMiB });
  const h = st.hosts.find((x) => x.name === host);
  if (h) {
    const k = domainKey(h, st.domainLabel);
    st.domainShadows.set(k, (st.domainShadows.get(k) ?? 0) + 1);
  }
  st.ledger.add(host, size);
}

function fmt(v: number): string {
  return String(Math.round(v * 100) / 100);
}
