/**
 * A VM's status, rebuilt from observation only: its host agent's lease and the VMs that agent
 * reported (registration, heartbeats, ensure replies), plus the outcome of the server's last
 * ensure. Never from the previous status. Pure.
 */
import type { AgentRow, VmRow, VmStatus } from '../store/store.js';

/** What happened at the server's last attempt to ensure a VM on its host. */
export interface EnsureOutcome {
  /** Epoch ms of the attempt. */
  at: number;
  /** Null when the agent accepted it. */
  error: { code: string; message: string; stderrTail?: string } | null;
}

/**
 * The status of `vm` at `now` (epoch ms):
 * - no agent under the VM's host name: `host_unknown`;
 * - the host's lease expired: `host_lost`, with the pid and endpoint last reported (the process
 *   may still run: the agent fences itself, the server cannot know);
 * - the agent reports the VM (under its `instance` id when it has one): the agent's state, pid,
 *   endpoint and error;
 * - the agent does not report it: `pending` before any ensure, `failed` when the last ensure
 *   failed, else `absent`.
 */
export function observeVmStatus(vm: Pick<VmRow, 'id' | 'spec'>, agent: AgentRow | undefined, now: number, ensure?: EnsureOutcome): VmStatus {
  const host = vm.spec.host;
  if (!agent) {
    return { state: 'host_unknown', host, pid: null, endpoint: null, observedAt: null, lastError: ensure?.error ?? null };
  }
  const instance = vm.spec.instance ?? vm.id;
  const seen = agent.observed.find((v) => v.id === instance);
  const lastError = seen?.lastError ? { ...seen.lastError } : null;
  if (now >= agent.leaseExpiresAt) {
    return { state: 'host_lost', host, pid: seen?.pid ?? null, endpoint: seen?.endpoint ?? null, observedAt: agent.lastSeenAt, lastError };
  }
  if (seen) {
    return { state: seen.state, host, pid: seen.pid, endpoint: seen.endpoint, observedAt: agent.lastSeenAt, lastError };
  }
  if (!ensure) return { state: 'pending', host, pid: null, endpoint: null, observedAt: agent.lastSeenAt, lastError: null };
  if (ensure.error) return { state: 'failed', host, pid: null, endpoint: null, observedAt: agent.lastSeenAt, lastError: { ...ensure.error } };
  return { state: 'absent', host, pid: null, endpoint: null, observedAt: agent.lastSeenAt, lastError: null };
}

/** States in which the reconciler asks the (live) host to ensure the VM. */
export const ENSURE_STATES: ReadonlySet<string> = new Set(['pending', 'absent', 'failed']);

/** Same content (for deciding whether to write). */
export function sameStatus(a: VmStatus, b: VmStatus): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
