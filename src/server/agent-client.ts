/**
 * The server's side of the agent API (src/api/protocol.ts): ensure a VM (`PUT /v1/vms/:id`) and
 * delete it. One interface; the HTTP implementation uses Node's fetch with the cluster token.
 */
import { agentVmSchema, type AgentVm, type AgentVmSpec } from '../api/protocol.js';
import { AgentError, AgentUnavailableError } from './errors.js';

/** An agent as the server addresses it. */
export interface AgentTarget {
  name: string;
  apiUrl: string;
}

/** What the server asks of agents. */
export interface AgentApi {
  /**
   * Makes the agent run `spec` (create + start; idempotent) and returns the VM as observed.
   * @throws AgentUnavailableError (retryable) when the agent cannot be reached; AgentError when it refuses
   */
  ensureVm(agent: AgentTarget, spec: AgentVmSpec): Promise<AgentVm>;
  /** Kills the VM and removes its files; an unknown VM is not an error. */
  deleteVm(agent: AgentTarget, vmId: string): Promise<void>;
}

/** Options of {@link HttpAgentApi}. */
export interface HttpAgentApiOptions {
  /** Bearer token of the cluster (sent in the header only; never logged). */
  token: string;
  /** Per-request timeout, ms (default 120 000: an ensure boots a VM). */
  timeoutMs?: number;
}

/** {@link AgentApi} over HTTP. */
export class HttpAgentApi implements AgentApi {
  constructor(private readonly o: HttpAgentApiOptions) {}

  async ensureVm(agent: AgentTarget, spec: AgentVmSpec): Promise<AgentVm> {
    const { status, json } = await this.call(agent, 'PUT', `/v1/vms/${encodeURIComponent(spec.id)}`, spec, { host: agent.name, op: 'ensure', vmId: spec.id });
    const parsed = agentVmSchema.safeParse(json);
    if (!parsed.success) {
      throw new AgentUnavailableError(`agent ${agent.name}: ensure reply (HTTP ${status}) does not match the protocol`, { host: agent.name, op: 'ensure', vmId: spec.id });
    }
    return parsed.data;
  }

  async deleteVm(agent: AgentTarget, vmId: string): Promise<void> {
    await this.callIgnoring404(agent, 'DELETE', `/v1/vms/${encodeURIComponent(vmId)}`, undefined, { host: agent.name, op: 'delete', vmId });
  }

  /** {@link call}, where 404 (the VM or shadow is already gone) is success: for ensure-gone operations. */
  async callIgnoring404(agent: AgentTarget, method: string, path: string, body: unknown, ctx: { host: string; op: string; vmId?: string }, timeoutMs?: number): Promise<void> {
    try {
      await this.call(agent, method, path, body, ctx, timeoutMs);
    } catch (e) {
      if (e instanceof AgentError && e.context.status === 404) return;
      throw e;
    }
  }

  /** One request to an agent's API; non-2xx replies become AgentErrors carrying the agent's code. */
  async call(agent: AgentTarget, method: string, path: string, body: unknown, ctx: { host: string; op: string; vmId?: string }, timeoutMs?: number): Promise<{ status: number; json: unknown }> {
    const url = agent.apiUrl.replace(/\/+$/, '') + path;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.o.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        // An I/O deadline, not domain time: the injected clock does not drive sockets.
        signal: AbortSignal.timeout(timeoutMs ?? this.o.timeoutMs ?? 120_000),
      });
      text = await res.text();
    } catch (e) {
      const why = e instanceof Error ? (e.name === 'TimeoutError' ? 'timed out' : ((e.cause as Error | undefined)?.message ?? e.message)) : String(e);
      throw new AgentUnavailableError(`agent ${agent.name} unreachable at ${agent.apiUrl}: ${why}`, { ...ctx, url: agent.apiUrl }, { cause: e });
    }
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: unknown; message?: unknown; retryable?: unknown; context?: Record<string, unknown> } } | undefined)?.error;
      const code = typeof err?.code === 'string' ? err.code : `HTTP_${res.status}`;
      const message = typeof err?.message === 'string' ? err.message : text.slice(0, 200);
      const stderrTail = typeof err?.context?.stderrTail === 'string' ? err.context.stderrTail : undefined;
      throw new AgentError(
        `agent ${agent.name}: ${ctx.op} failed: ${code}: ${message}`,
        { ...ctx, agentCode: code, status: res.status, ...(stderrTail !== undefined ? { stderrTail } : {}) },
        { retryable: err?.retryable === true || (err === undefined && res.status >= 500) },
      );
    }
    return { status: res.status, json };
  }
}
