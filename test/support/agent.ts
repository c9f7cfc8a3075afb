/** Starting a real agent on real QEMU for a test, and calling its API. */
import { Agent, type AgentConfig, type AgentLogger } from '../../src/agent/index.js';
import { QemuHypervisorDriver } from '../../src/hypervisor/qemu/qemu-driver.js';

/**
 * Starts an agent whose QEMU driver keeps its VMs under the agent's run dir (so afterAll's
 * `killRecordedQemus(runDir)` finds them) and adds it to `started` (for afterAll to crash it).
 */
export async function startQemuAgent(cfg: AgentConfig, started: Agent[], log?: AgentLogger): Promise<Agent> {
  const agent = await Agent.start(cfg, { driver: new QemuHypervisorDriver({ baseDir: cfg.runDir, accel: 'auto', host: cfg.name }), log });
  started.push(agent);
  return agent;
}

/** An answer of the agent's API: the status and the parsed JSON body (null when empty). */
export interface AgentReply {
  status: number;
  /** `any`, as `JSON.parse` gives: tests read the fields they check. */
  body: any;
}

/** `api(agent, method, path, body?)`: one request to an agent's API with `token`; never throws on a status. */
export function agentApi(token: string): (agent: Pick<Agent, 'apiUrl'>, method: string, path: string, body?: unknown) => Promise<AgentReply> {
  return async (agent, method, path, body) => {
    const res = await fetch(agent.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}
