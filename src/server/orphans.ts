/**
 * VMs a host runs that no record wants there: a lost host that comes back after its VM failed
 * over elsewhere still has the old (fenced, paused) primary. The reconciler removes such a VM
 * once it has been seen unwanted for a grace period, so there is never a second copy. Pure.
 */
import type { AgentRow, ShadowRow, VmRow } from '../store/store.js';

/** A VM some live host reports that neither a VM record nor a shadow record claims. */
export interface OrphanVm {
  host: string;
  id: string;
}

/** The VMs live agents report that no record claims (VM instance on that host, or any shadow id). */
export function findOrphans(agents: readonly AgentRow[], vms: readonly VmRow[], shadows: readonly Pick<ShadowRow, 'id'>[], now: number): OrphanVm[] {
  const wanted = new Set(vms.map((v) => `${v.spec.host}\u0000${v.spec.instance ?? v.id}`));
  const shadowIds = new Set(shadows.map((s) => s.id));
  const out: OrphanVm[] = [];
  for (const a of agents) {
    if (now >= a.leaseExpiresAt) continue;
    for (const o of a.observed) {
      if (wanted.has(`${a.name}\u0000${o.id}`) || shadowIds.has(o.id)) continue;
      out.push({ host: a.name, id: o.id });
    }
  }
  return out;
}

/** Tracks since when each orphan has been seen; returns those unwanted for at least `graceMs`. */
export class OrphanTracker {
  private readonly since = new Map<string, number>();

  constructor(private readonly graceMs: number) {}

  /** Records this pass's orphans (others are forgotten) and returns the ones due for removal. */
  due(orphans: readonly OrphanVm[], now: number): OrphanVm[] {
    const keys = new Set(orphans.map((o) => `${o.host}\u0000${o.id}`));
    for (const k of [...this.since.keys()]) if (!keys.has(k)) this.since.delete(k);
    const out: OrphanVm[] = [];
    for (const o of orphans) {
      const k = `${o.host}\u0000${o.id}`;
      const first = this.since.get(k) ?? now;
      this.since.set(k, first);
      if (now - first >= this.graceMs) out.push(o);
    }
    return out;
  }

  /** Forgets an orphan (removed). */
  forget(o: OrphanVm): void {
    this.since.delete(`${o.host}\u0000${o.id}`);
  }
}
