/**
 * Keeps the shadow manager's hands off a VM while it fails over (issue 5 §6, one writer).
 *
 * Between a failover's `stop_replication` and its `adopt` step the VM's record still names the
 * old primary and the shadow being promoted. A replication the shadow manager (re)started in that
 * window would copy the old primary's disk into the disk the promoted shadow has mounted (seen
 * on the lab: a paused, fenced primary mirrored again into the new primary's filesystem). So:
 * - the controller {@link FailoverGate.hold}s the VM before the failover's first step: from then on
 *   the shadow manager's guarded calls for it are skipped, and the hold waits for the ones
 *   already running;
 * - every hold starts a new epoch of the VM: a decision the shadow manager took from what it read
 *   before (a stale snapshot) is skipped even after the failover ended, when the VM lives
 *   elsewhere.
 * The shadow manager also skips VMs with a running failover record (a restarted server, before
 * the controller's first pass), which the store says; this gate covers the in-process races.
 */
export class FailoverGate {
  private readonly holds = new Map<string, number>();
  private readonly epochs = new Map<string, number>();
  private readonly busy = new Map<string, Set<Promise<unknown>>>();

  /** The VM's current epoch: pass it to {@link guard} for decisions taken from what was read now. */
  ticket(vmId: string): number {
    return this.epochs.get(vmId) ?? 0;
  }

  /** True while a failover of the VM holds it. */
  isHeld(vmId: string): boolean {
    return (this.holds.get(vmId) ?? 0) > 0;
  }

  /**
   * Runs `fn` (a shadow-manager call that touches the VM's replication, shadows or primary)
   * unless the VM is held or a failover began since `ticket` was taken; then resolves to
   * `undefined` without calling it.
   */
  async guard<T>(vmId: string, ticket: number, fn: () => Promise<T>): Promise<T | undefined> {
    if (this.isHeld(vmId) || this.ticket(vmId) !== ticket) return undefined;
    const p = fn();
    let set = this.busy.get(vmId);
    if (!set) this.busy.set(vmId, (set = new Set()));
    set.add(p);
    try {
      return await p;
    } finally {
      set.delete(p);
      if (!set.size) this.busy.delete(vmId);
    }
  }

  /**
   * Holds the VM for a failover: guarded calls are skipped from now on (and decisions taken
   * before now for ever); resolves once the guarded calls already running ended, with the release.
   */
  async hold(vmId: string): Promise<() => void> {
    this.holds.set(vmId, (this.holds.get(vmId) ?? 0) + 1);
    this.epochs.set(vmId, this.ticket(vmId) + 1);
    await Promise.allSettled([...(this.busy.get(vmId) ?? [])]);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.holds.get(vmId) ?? 1) - 1;
      if (n > 0) this.holds.set(vmId, n);
      else this.holds.delete(vmId);
    };
  }
}
