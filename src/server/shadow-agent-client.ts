/**
 * The server's side of the shadow data path on the agents (src/api/shadow-protocol.ts):
 * replication on the primary's host, shadow targets and rehearsals on the shadow's host. Every
 * reply is validated against the protocol's schemas.
 */
import type { z } from 'zod';
import {
  diskDigestSchema,
  quiesceReplySchema,
  rehearsalResultSchema,
  replicationStatusSchema,
  shadowStatusSchema,
  type DiskDigest,
  type QuiesceReply,
  type RehearsalResult,
  type RehearsalTask,
  type ReplicationSpec,
  type ReplicationStatus,
  type ShadowSpec,
  type ShadowStatus,
} from '../api/shadow-protocol.js';
import { AgentError, AgentUnavailableError } from './errors.js';
import type { AgentTarget, HttpAgentApi } from './agent-client.js';

/** What the shadow manager asks of agents. */
export interface ShadowAgentApi {
  /** Primary side: ensure the VM's replication to a target. */
  ensureReplication(agent: AgentTarget, vmId: string, spec: ReplicationSpec): Promise<ReplicationStatus>;
  /** The VM's replication, or null when it has none. */
  getReplication(agent: AgentTarget, vmId: string): Promise<ReplicationStatus | null>;
  /** Stops the VM's replication (no-op when none). */
  stopReplication(agent: AgentTarget, vmId: string): Promise<void>;
  /** Starts a new full copy. */
  resync(agent: AgentTarget, vmId: string): Promise<ReplicationStatus>;
  /** Pauses the guest until the target holds every write (resumed by the agent after maxPauseMs anyway). */
  quiesce(agent: AgentTarget, vmId: string, maxPauseMs: number): Promise<QuiesceReply>;
  /** Resumes a quiesced guest; the pause length. */
  unquiesce(agent: AgentTarget, vmId: string): Promise<{ pauseMs: number }>;
  /** Chunk digests of the VM's data disk. */
  vmDiskDigest(agent: AgentTarget, vmId: string, chunkBytes?: number): Promise<DiskDigest>;

  /** Shadow side: ensure a shadow (target + VM). */
  ensureShadow(agent: AgentTarget, spec: ShadowSpec): Promise<ShadowStatus>;
  /** The shadows an agent runs. */
  listShadows(agent: AgentTarget): Promise<ShadowStatus[]>;
  /** Removes a shadow (no-op when unknown). */
  deleteShadow(agent: AgentTarget, shadowId: string): Promise<void>;
  /** Chunk digests of a shadow's target disk. */
  shadowDiskDigest(agent: AgentTarget, shadowId: string, chunkBytes?: number): Promise<DiskDigest>;
  /** Runs a warm-up (rehearsal) of a shadow. */
  rehearse(agent: AgentTarget, shadowId: string, task: RehearsalTask | undefined, bootTimeoutMs?: number): Promise<RehearsalResult>;
}

const enc = encodeURIComponent;
/**
 * Observations (list, replication status) answer from the agent's memory: a host that takes
 * longer is as good as unreachable this pass, and a pass must not stall on it (the
 * reconciler would be blind exactly while a link is cut).
 */
const OBSERVE_TIMEOUT_MS = 4000;

/** {@link ShadowAgentApi} over HTTP, through the same request path as the VM calls. */
export class HttpShadowAgentApi implements ShadowAgentApi {
  constructor(private readonly http: HttpAgentApi) {}

  ensureReplication(agent: AgentTarget, vmId: string, spec: ReplicationSpec) {
    return this.json(agent, 'PUT', `/v1/vms/${enc(vmId)}/replication`, spec, 'replicate', vmId, replicationStatusSchema);
  }

  async getReplication(agent: AgentTarget, vmId: string): Promise<ReplicationStatus | null> {
    try {
      return await this.json(agent, 'GET', `/v1/vms/${enc(vmId)}/replication`, undefined, 'replication', vmId, replicationStatusSchema, OBSERVE_TIMEOUT_MS);
    } catch (e) {
      if (e instanceof AgentError && e.context.status === 404) return null;
      throw e;
    }
  }

  async stopReplication(agent: AgentTarget, vmId: string): Promise<void> {
    await this.http.callIgnoring404(agent, 'DELETE', `/v1/vms/${enc(vmId)}/replication`, undefined, { host: agent.name, op: 'stop replication', vmId });
  }

  resync(agent: AgentTarget, vmId: string) {
    return this.json(agent, 'POST', `/v1/vms/${enc(vmId)}/replication/resync`, {}, 'resync', vmId, replicationStatusSchema);
  }

  quiesce(agent: AgentTarget, vmId: string, maxPauseMs: number) {
    return this.json(agent, 'POST', `/v1/vms/${enc(vmId)}/quiesce`, { maxPauseMs }, 'quiesce', vmId, quiesceReplySchema);
  }

  async unquiesce(agent: AgentTarget, vmId: string): Promise<{ pauseMs: number }> {
    const { json } = await this.http.call(agent, 'POST', `/v1/vms/${enc(vmId)}/unquiesce`, {}, { host: agent.name, op: 'unquiesce', vmId });
    const ms = (json as { pauseMs?: unknown } | undefined)?.pauseMs;
    return { pauseMs: typeof ms === 'number' ? ms : 0 };
  }

  vmDiskDigest(agent: AgentTarget, vmId: string, chunkBytes?: number) {
    const q = chunkBytes ? `?chunk=${chunkBytes}` : '';
    return this.json(agent, 'GET', `/v1/vms/${enc(vmId)}/disk-digest${q}`, undefined, 'digest', vmId, diskDigestSchema);
  }

  ensureShadow(agent: AgentTarget, spec: ShadowSpec) {
    return this.json(agent, 'PUT', `/v1/shadows/${enc(spec.id)}`, spec, 'ensure shadow', spec.id, shadowStatusSchema);
  }

  async listShadows(agent: AgentTarget): Promise<ShadowStatus[]> {
    const { json } = await this.http.call(agent, 'GET', '/v1/shadows', undefined, { host: agent.name, op: 'list shadows' }, OBSERVE_TIMEOUT_MS);
    const r = shadowStatusSchema.array().safeParse((json as { shadows?: unknown } | undefined)?.shadows);
    if (!r.success) throw new AgentUnavailableError(`agent ${agent.name}: shadow list does not match the protocol`, { host: agent.name, op: 'list shadows' });
    return r.data;
  }

  async deleteShadow(agent: AgentTarget, shadowId: string): Promise<void> {
    await this.http.callIgnoring404(agent, 'DELETE', `/v1/shadows/${enc(shadowId)}`, undefined, { host: agent.name, op: 'delete shadow', vmId: shadowId });
  }

  shadowDiskDigest(agent: AgentTarget, shadowId: string, chunkBytes?: number) {
    const q = chunkBytes ? `?chunk=${chunkBytes}` : '';
    return this.json(agent, 'GET', `/v1/shadows/${enc(shadowId)}/disk-digest${q}`, undefined, 'digest', shadowId, diskDigestSchema);
  }

  rehearse(agent: AgentTarget, shadowId: string, task: RehearsalTask | undefined, bootTimeoutMs = 120_000) {
    return this.json(agent, 'POST', `/v1/shadows/${enc(shadowId)}/rehearse`, { ...(task ? { task } : {}), bootTimeoutMs }, 'rehearse', shadowId, rehearsalResultSchema, bootTimeoutMs + 30_000);
  }

  private async json<S extends z.ZodType>(agent: AgentTarget, method: string, path: string, body: unknown, op: string, vmId: string, schema: S, timeoutMs = 60_000): Promise<z.output<S>> {
    const { status, json } = await this.http.call(agent, method, path, body, { host: agent.name, op, vmId }, timeoutMs);
    const r = schema.safeParse(json);
    if (!r.success) throw new AgentUnavailableError(`agent ${agent.name}: ${op} reply (HTTP ${status}) does not match the protocol: ${r.error.issues[0]?.message ?? ''}`, { host: agent.name, op, vmId });
    return r.data;
  }
}
