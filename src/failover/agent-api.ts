/**
 * What the failover controller asks of agents (issue 5 §3): fencing and retiring the primary,
 * stopping its replication, promoting the shadow (warm takeover, cold boot, or live migration),
 * resizing. One interface; the HTTP implementation goes through the server's agent client.
 */
import type { AgentTarget, HttpAgentApi } from '../server/agent-client.js';
import { AgentError } from '../server/errors.js';

/** How an old primary ended (the agent's RetireResult): `acpi` powered off, `killed`, or `gone` already. */
export interface RetireReply {
  how: 'acpi' | 'killed' | 'gone';
  /** From the call to the process's end, ms. */
  ms: number;
  /** Killed because it did not power off within the timeout. */
  timedOut: boolean;
  /** Why it was killed at once, or why nothing was left (null after a power-off). */
  reason: string | null;
}

/** What a live migration reports (see {@link FailoverAgentApi.migrate}). */
export interface MigrateReply {
  ok: boolean;
  completed: boolean;
  downtimeMs: number | null;
  totalMs: number | null;
  error: string | null;
}

/** What a promotion reports. */
export interface PromoteReply {
  ok: boolean;
  ms: number;
  vm: { state: string; pid: number | null; endpoint: string | null };
  error: string | null;
}

export interface FailoverAgentApi {
  /** Pauses the VM's vCPUs (the fence: no more writes); no-op when it has no process. */
  stopVm(agent: AgentTarget, instance: string): Promise<void>;
  /** Ends the VM's process at once. */
  killVm(agent: AgentTarget, instance: string): Promise<void>;
  /** Resumes a paused VM (a failover rolled back before the shadow took over). */
  contVm(agent: AgentTarget, instance: string): Promise<void>;
  /** Kills the VM and removes its files on that host (unknown: no-op). A promoted shadow (the VM after an earlier failover) is released explicitly. */
  deleteVm(agent: AgentTarget, instance: string, opts?: { promotedShadow?: boolean }): Promise<void>;
  /**
   * The graceful end of the old primary (a VM of the agent or a promoted shadow): isolated from
   * the network, ACPI power button, resumed, killed after `timeoutMs`; then removed as delete
   * does. Unknown on that host: `gone`.
   */
  retireVm(agent: AgentTarget, instance: string, opts: { timeoutMs: number; promotedShadow?: boolean }): Promise<RetireReply>;
  /** Stops the VM's replication (none: no-op). */
  stopReplication(agent: AgentTarget, instance: string): Promise<void>;
  /** Promotes a shadow in place: `warm` takeover or `cold` boot from its synchronized disk. */
  promote(agent: AgentTarget, shadowId: string, mode: 'warm' | 'cold'): Promise<PromoteReply>;
  /**
   * Live migration of the primary into a `migrate` shadow; the shadow runs the guest after.
   * With `atSwitchover`, the source is held paused at switchover (its replication handed over,
   * the destination not running yet) while it runs: the clients move while nothing serves, so
   * they wait for the destination instead of going to the stopped source; when it throws the
   * migration is cancelled and the source runs on. `completed`: the guest left the source (true
   * even when the destination's confirmation failed).
   */
  migrate(primary: AgentTarget, instance: string, shadowHost: AgentTarget, shadowId: string, opts?: { atSwitchover?: () => Promise<void> }): Promise<MigrateReply>;
  /** Hot-adds vCPUs and memory up to the given size. */
  resize(agent: AgentTarget, instance: string, size: { vcpus: number; memoryMiB: number }): Promise<{ vcpus: number; memoryMiB: number }>;
}

const enc = encodeURIComponent;

/** {@link FailoverAgentApi} over the agents' HTTP API (src/api/shadow-protocol.ts). */
export class HttpFailoverAgentApi implements FailoverAgentApi {
  constructor(private readonly http: HttpAgentApi) {}

  async stopVm(agent: AgentTarget, instance: string): Promise<void> {
    try {
      await this.http.callIgnoring404(agent, 'POST', `/v1/vms/${enc(instance)}/stop`, {}, { host: agent.name, op: 'fence', vmId: instance }, 15_000);
    } catch (e) {
      // `stop` refuses only a VM without a process (crashed, killed): nothing left to fence.
      if (e instanceof AgentError && e.context.agentCode === 'VM_INVALID_STATE') return;
      throw e;
    }
  }

  async contVm(agent: AgentTarget, instance: string): Promise<void> {
    await this.http.call(agent, 'POST', `/v1/vms/${enc(instance)}/cont`, {}, { host: agent.name, op: 'cont', vmId: instance }, 15_000);
  }

  async killVm(agent: AgentTarget, instance: string): Promise<void> {
    await this.http.callIgnoring404(agent, 'POST', `/v1/vms/${enc(instance)}/kill`, {}, { host: agent.name, op: 'kill', vmId: instance }, 30_000);
  }

  async deleteVm(agent: AgentTarget, instance: string, opts: { promotedShadow?: boolean } = {}): Promise<void> {
    const path = opts.promotedShadow ? `/v1/shadows/${enc(instance)}?promoted=kill` : `/v1/vms/${enc(instance)}`;
    await this.http.callIgnoring404(agent, 'DELETE', path, undefined, { host: agent.name, op: 'delete', vmId: instance }, 30_000);
  }

  async retireVm(agent: AgentTarget, instance: string, opts: { timeoutMs: number; promotedShadow?: boolean }): Promise<RetireReply> {
    const ctx = { host: agent.name, op: 'retire', vmId: instance };
    try {
      // The agent waits up to timeoutMs for the guest, then kills it and removes its files.
      const { json } = await this.http.call(agent, 'POST', `/v1/vms/${enc(instance)}/retire`, { timeoutMs: opts.timeoutMs }, ctx, opts.timeoutMs + 60_000);
      const r = json as Partial<RetireReply> | undefined;
      const how = r?.how === 'acpi' || r?.how === 'killed' || r?.how === 'gone' ? r.how : 'killed';
      return { how, ms: typeof r?.ms === 'number' ? r.ms : 0, timedOut: r?.timedOut === true, reason: typeof r?.reason === 'string' ? r.reason : null };
    } catch (e) {
      if (!(e instanceof AgentError) || e.context.status !== 404) throw e;
      // VM_NOT_FOUND: nothing of it on that host. NOT_FOUND: an older agent without the route
      // (or a shadow removed meanwhile): the old way, kill and remove (a 404 there is fine).
      if (e.context.agentCode !== 'NOT_FOUND') return { how: 'gone', ms: 0, timedOut: false, reason: `unknown on ${agent.name}` };
      await this.deleteVm(agent, instance, { promotedShadow: opts.promotedShadow });
      return { how: 'killed', ms: 0, timedOut: false, reason: 'the agent has no retire: killed and removed' };
    }
  }

  async stopReplication(agent: AgentTarget, instance: string): Promise<void> {
    await this.http.callIgnoring404(agent, 'DELETE', `/v1/vms/${enc(instance)}/replication`, undefined, { host: agent.name, op: 'stop replication', vmId: instance }, 30_000);
  }

  async promote(agent: AgentTarget, shadowId: string, mode: 'warm' | 'cold'): Promise<PromoteReply> {
    const { json } = await this.http.call(agent, 'POST', `/v1/shadows/${enc(shadowId)}/promote`, { mode }, { host: agent.name, op: 'promote', vmId: shadowId }, 180_000);
    const r = json as Partial<PromoteReply> | undefined;
    return { ok: r?.ok === true, ms: typeof r?.ms === 'number' ? r.ms : 0, vm: r?.vm ?? { state: 'unknown', pid: null, endpoint: null }, error: typeof r?.error === 'string' ? r.error : null };
  }

  async migrate(primary: AgentTarget, instance: string, shadowHost: AgentTarget, shadowId: string, opts: { atSwitchover?: () => Promise<void> } = {}): Promise<MigrateReply> {
    const { json: inc } = await this.http.call(shadowHost, 'POST', `/v1/shadows/${enc(shadowId)}/incoming`, {}, { host: shadowHost.name, op: 'incoming', vmId: shadowId }, 30_000);
    const uri = (inc as { uri?: unknown } | undefined)?.uri;
    if (typeof uri !== 'string') return { ok: false, completed: false, downtimeMs: null, totalMs: null, error: `agent ${shadowHost.name} gave no migration URI` };
    const ctx = { host: primary.name, op: 'migrate', vmId: instance };
    const hold = Boolean(opts.atSwitchover);
    let { json } = await this.http.call(primary, 'POST', `/v1/vms/${enc(instance)}/migrate`, { uri, ...(hold ? { holdAtSwitchover: true, holdTimeoutMs: 10_000 } : {}) }, ctx, 180_000);
    if (hold && (json as { ok?: unknown; status?: unknown } | undefined)?.ok === true && (json as { status?: unknown }).status === 'pre-switchover') {
      let refused: string | null = null;
      try {
        await opts.atSwitchover!();
      } catch (e) {
        refused = e instanceof Error ? e.message : String(e);
      }
      ({ json } = await this.http.call(primary, 'POST', `/v1/vms/${enc(instance)}/migrate/continue`, { abort: refused !== null }, ctx, 180_000));
      if (refused !== null) return { ok: false, completed: false, downtimeMs: null, totalMs: null, error: `the clients could not be moved at switchover (${refused}): the migration was cancelled, the source runs on` };
    }
    const r = json as { ok?: unknown; status?: unknown; downtimeMs?: unknown; totalMs?: unknown; error?: unknown } | undefined;
    const out: MigrateReply = {
      ok: r?.ok === true,
      completed: r?.ok === true && r.status === 'completed',
      downtimeMs: typeof r?.downtimeMs === 'number' ? r.downtimeMs : null,
      totalMs: typeof r?.totalMs === 'number' ? r.totalMs : null,
      error: typeof r?.error === 'string' ? r.error : null,
    };
    if (!out.ok) return out;
    // The source is done; the promotion is the destination's to confirm: it answers once the
    // guest runs there and the shadow is recorded as promoted (the next steps act on it).
    const { json: res } = await this.http.call(shadowHost, 'POST', `/v1/shadows/${enc(shadowId)}/resume`, { timeoutMs: 30_000 }, { host: shadowHost.name, op: 'resume', vmId: shadowId }, 60_000);
    const rr = res as { ok?: unknown; error?: unknown; migrationStatus?: unknown } | undefined;
    if (rr?.ok !== true) return { ...out, ok: false, error: `the migration completed on the source but the shadow did not run: ${typeof rr?.error === 'string' ? rr.error : `migration ${String(rr?.migrationStatus ?? 'unknown')}`}` };
    return out;
  }

  async resize(agent: AgentTarget, instance: string, size: { vcpus: number; memoryMiB: number }) {
    const { json } = await this.http.call(agent, 'POST', `/v1/vms/${enc(instance)}/resize`, size, { host: agent.name, op: 'resize', vmId: instance }, 120_000);
    const r = json as { vcpus?: unknown; memoryMiB?: unknown } | undefined;
    return { vcpus: typeof r?.vcpus === 'number' ? r.vcpus : size.vcpus, memoryMiB: typeof r?.memoryMiB === 'number' ? r.memoryMiB : size.memoryMiB };
  }
}
