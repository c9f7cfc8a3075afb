/**
 * The VM reconciler (skeleton; issue 4 adds shadows). Each pass:
 * 1. observes: reads every agent (lease, reported VMs) and every VM spec, and rebuilds each
 *    VM's status from that observation alone (vm-status.ts), in one transaction; status
 *    changes and agent lease transitions are appended to the event log;
 * 2. acts: asks each live host to ensure the VMs it should run but does not report (`pending`,
 *    `absent`, `failed`), one ensure at a time per VM, with exponential backoff after failures.
 * Ensure is idempotent on the agent (`PUT /v1/vms/:id`), so a pass that runs twice is harmless.
 */
import { agentVmSpecSchema, type AgentVm, type AgentVmSpec } from '../api/protocol.js';
import type { Clock } from '../core/clock.js';
import { isUmbraError } from '../core/errors.js';
import type { Store, VmRow } from '../store/store.js';
import type { AgentApi } from './agent-client.js';
import { ENSURE_STATES, observeVmStatus, sameStatus, type EnsureOutcome } from './vm-status.js';
import { findOrphans, OrphanTracker, type OrphanVm } from './orphans.js';

/** The guest image every VM boots (paths on the agents' hosts: the lab shares one file system). */
export interface GuestImageRef {
  kernel: string;
  initrd: string;
  /** Extra kernel command line (the agent has a default). */
  append?: string;
}

/** Logging the reconciler does (pino satisfies it). */
export interface ReconcilerLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  debug(fields: object, msg: string): void;
}

/** Options of {@link Reconciler}. */
export interface ReconcilerOptions {
  store: Store;
  clock: Clock;
  agents: AgentApi;
  /** Where the guest image is (resolved on the first ensure; may build it). */
  image: () => Promise<GuestImageRef>;
  log: ReconcilerLogger;
  /** Delay after the first failed ensure, doubled per further failure up to `backoffMaxMs`. Default 5 s. */
  backoffBaseMs?: number;
  /** Default 5 min. */
  backoffMaxMs?: number;
  /** How long a VM no record claims may run before it is removed (default 15 s). */
  orphanGraceMs?: number;
  /**
   * Called after a rebuild in which VMs changed state (running → crashed, host lost...), with
   * their ids: the failover controller looks at once instead of at its next tick.
   */
  onStateChange?: (vmIds: string[]) => void;
}

/** What one rebuild found. */
export interface RebuildReport {
  /** VMs whose status changed. */
  changed: number;
  /** VMs a live host should run but does not report. */
  toEnsure: VmRow[];
  /** VMs live hosts report that no record claims (see orphans.ts). */
  orphans: OrphanVm[];
}

/** The AgentVmSpec an agent gets for a VM record. */
export function agentSpecFor(vm: Pick<VmRow, 'id' | 'spec'>, image: GuestImageRef): AgentVmSpec {
  return agentVmSpecSchema.parse({
    id: vm.id,
    vcpus: vm.spec.vcpus,
    // Room to hot-add later (issue 4 sizes shadows up to the forecast).
    maxVcpus: Math.max(vm.spec.vcpus, 4),
    memoryMiB: vm.spec.memoryMiB,
    maxMemoryMiB: Math.max(vm.spec.memoryMiB, 1024),
    kernel: image.kernel,
    initrd: image.initrd,
    ...(image.append !== undefined ? { append: image.append } : {}),
    labels: { ...vm.spec.labels },
  });
}

/** See the module comment. */
export class Reconciler {
  private readonly outcomes = new Map<string, EnsureOutcome & { failures: number }>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly aliveBefore = new Map<string, boolean>();
  private readonly orphans: OrphanTracker;

  constructor(private readonly o: ReconcilerOptions) {
    this.orphans = new OrphanTracker(o.orphanGraceMs ?? 15_000);
  }

  /** Observe, then ensure what is missing. */
  async pass(signal?: AbortSignal): Promise<RebuildReport> {
    const report = await this.rebuild();
    const now = this.o.clock.now();
    for (const vm of report.toEnsure) {
      if (signal?.aborted) break;
      const last = this.outcomes.get(vm.id);
      // After a failure back off exponentially; after a success wait one base delay (a host
      // that accepted an ensure but does not report the VM must not be asked every pass).
      if (last && now < last.at + (last.error ? this.backoffMs(last.failures) : this.backoffMs(1))) continue;
      await this.ensure(vm.id);
    }
    await this.removeOrphans(report.orphans, signal);
    if (report.toEnsure.length) await this.rebuild();
    return report;
  }

  /**
   * Removes VMs no record claims once they were seen so for the grace period (a host back from
   * a lost lease still holds its fenced, paused old primary: never a second copy).
   */
  private async removeOrphans(orphans: readonly OrphanVm[], signal?: AbortSignal): Promise<void> {
    const now = this.o.clock.now();
    for (const o of this.orphans.due(orphans, now)) {
      if (signal?.aborted) return;
      const agent = await this.o.store.read((r) => r.getAgent(o.host));
      if (!agent) continue;
      try {
        await this.o.agents.deleteVm(agent, o.id);
      } catch (e) {
        this.o.log.warn({ host: o.host, vmId: o.id, err: e instanceof Error ? e.message : String(e) }, 'removing a VM no record claims failed (retried)');
        continue;
      }
      this.orphans.forget(o);
      this.o.log.warn({ host: o.host, vmId: o.id }, 'removed a VM no record claims');
      await this.o.store.transaction((tx) => tx.appendEvent({ t: this.o.clock.now(), kind: 'vm.orphan_removed', vmId: o.id, data: { host: o.host } }));
    }
  }

  /** Rebuilds every VM's status from observation, in one transaction. */
  async rebuild(): Promise<RebuildReport> {
    const transitions: [string, boolean][] = [];
    const stateChanged: string[] = [];
    const report = await this.o.store.transaction((tx) => {
      const now = this.o.clock.now();
      const agents = new Map(tx.listAgents().map((a) => [a.name, a]));
      for (const a of agents.values()) {
        const alive = now < a.leaseExpiresAt;
        const before = this.aliveBefore.get(a.name);
        if (before !== undefined && before !== alive) {
          tx.appendEvent({ t: now, kind: alive ? 'agent.alive' : 'agent.lost', data: { host: a.name, leaseExpiresAt: a.leaseExpiresAt } });
        }
        transitions.push([a.name, alive]);
      }
      let changed = 0;
      const toEnsure: VmRow[] = [];
      for (const vm of tx.listVms()) {
        const agent = agents.get(vm.spec.host);
        const status = observeVmStatus(vm, agent, now, this.outcomes.get(vm.id));
        if (!sameStatus(status, vm.status)) {
          tx.setVmStatus(vm.id, status);
          changed++;
          if (status.state !== vm.status.state) {
            stateChanged.push(vm.id);
            tx.appendEvent({ t: now, kind: 'vm.state', vmId: vm.id, data: { from: vm.status.state, to: status.state, host: status.host } });
          }
        }
        const reported = agent?.observed.some((v) => v.id === (vm.spec.instance ?? vm.id)) ?? false;
        // A promoted instance (after a failover) is observed, never re-created by an ensure.
        if (agent && now < agent.leaseExpiresAt && !reported && ENSURE_STATES.has(status.state) && !vm.spec.instance) toEnsure.push(vm);
      }
      return { changed, toEnsure, orphans: findOrphans([...agents.values()], tx.listVms(), tx.listShadows(), now) };
    });
    for (const [name, alive] of transitions) {
      if (this.aliveBefore.get(name) === true && !alive) this.o.log.warn({ host: name }, 'agent lease expired: host lost');
      this.aliveBefore.set(name, alive);
    }
    if (stateChanged.length) this.o.onStateChange?.(stateChanged);
    return report;
  }

  /**
   * Asks the VM's host to ensure it now and records the outcome (an accepted ensure's reply is
   * stored as an observation of that agent). Concurrent calls for one VM share one request.
   * Never throws for an agent failure: it is the VM's status (`failed`, with the error).
   */
  ensure(vmId: string): Promise<void> {
    const running = this.inflight.get(vmId);
    if (running) return running;
    const p = this.doEnsure(vmId).finally(() => this.inflight.delete(vmId));
    this.inflight.set(vmId, p);
    return p;
  }

  /** Drops what the reconciler remembers of a deleted VM. */
  forget(vmId: string): void {
    this.outcomes.delete(vmId);
  }

  private backoffMs(failures: number): number {
    const base = this.o.backoffBaseMs ?? 5000;
    return Math.min(this.o.backoffMaxMs ?? 300_000, base * 2 ** Math.max(0, failures - 1));
  }

  private async doEnsure(vmId: string): Promise<void> {
    const found = await this.o.store.read((r) => {
      const vm = r.getVm(vmId);
      return vm ? { vm, agent: r.getAgent(vm.spec.host) } : undefined;
    });
    if (!found?.agent) return; // deleted meanwhile, or its host is unknown (the status says so)
    const { vm, agent } = found;
    let reply: AgentVm;
    try {
      const spec = agentSpecFor(vm, await this.o.image());
      reply = await this.o.agents.ensureVm(agent, spec);
    } catch (e) {
      const prev = this.outcomes.get(vmId);
      const error = isUmbraError(e)
        ? {
            code: typeof e.context.agentCode === 'string' ? e.context.agentCode : e.code,
            message: e.message,
            ...(typeof e.context.stderrTail === 'string' ? { stderrTail: e.context.stderrTail } : {}),
          }
        : { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
      this.outcomes.set(vmId, { at: this.o.clock.now(), error, failures: (prev?.failures ?? 0) + 1 });
      this.o.log.warn({ vmId, host: agent.name, code: error.code, err: error.message }, 'ensure failed');
      return;
    }
    this.outcomes.set(vmId, { at: this.o.clock.now(), error: null, failures: 0 });
    this.o.log.info({ vmId, host: agent.name, state: reply.state, pid: reply.pid }, 'vm ensured');
    await this.o.store.transaction((tx) => {
      if (!tx.getAgent(agent.name)) return;
      tx.observeVm(agent.name, { id: reply.id, state: reply.state, pid: reply.pid, endpoint: reply.endpoint, lastError: reply.lastError ?? null });
    });
  }
}
