/**
 * `umbra lab status`: what of the recorded lab is up, observed now (processes from /proc,
 * namespaces from `ip`, guest services over HTTP, the server's own view when it answers).
 */
import type { StatusReport } from '../api/protocol.js';
import { ServerApiClient } from '../server/client.js';
import { observeLabDns } from './dns.js';
import { answers200 } from './http.js';
import { listNetns } from './net.js';
import { isAlive } from './procs.js';
import { readLabState } from './state.js';

/** The observed state of a lab. */
export interface LabStatusReport {
  stateDir: string;
  /** False when no lab is recorded in the state dir. */
  exists: boolean;
  /** The phase `up` recorded (`starting`, `up`, `failed`), or null. */
  phase: string | null;
  /** True when the server, every agent and every VM is alive and every guest answers /health. */
  healthy: boolean;
  server: { url: string; pid: number; alive: boolean } | null;
  hosts: { name: string; netns: string; address: string; netnsExists: boolean; agentPid: number | null; agentAlive: boolean }[];
  vms: { id: string; host: string; pid: number | null; alive: boolean; endpoint: string | null; health: boolean; state: string | null }[];
  /** The lab's named (absent for a lab recorded without one): its address, and each VM name's A records now (null: no answer). */
  dns?: { server: string; zone: string; pid: number; alive: boolean; names: Record<string, string>; records: Record<string, string[]> | null } | null;
}

/** Observes the lab recorded in `stateDir`. */
export async function labStatus(stateDir: string): Promise<LabStatusReport> {
  const state = readLabState(stateDir);
  if (!state) return { stateDir, exists: false, phase: null, healthy: false, server: null, hosts: [], vms: [] };
  const namespaces = await listNetns();
  const server = state.server ? { url: state.server.url, pid: state.server.pid, alive: isAlive(state.server.pid) } : null;
  let view: StatusReport | null = null;
  if (server?.alive && server.url) {
    view = await new ServerApiClient({ baseUrl: server.url, token: state.token, timeoutMs: 3000 }).status().catch(() => null);
  }
  const hosts = state.hosts.map((h) => ({
    name: h.name,
    netns: h.netns,
    address: h.address,
    netnsExists: namespaces.includes(h.netns),
    agentPid: h.agent?.pid ?? null,
    agentAlive: isAlive(h.agent?.pid),
  }));
  // The server's view is fresher (an agent may have restarted a VM); the recorded one otherwise.
  const vms = await Promise.all(
    state.vms.map(async (v) => {
      const seen = view?.vms.find((x) => x.id === v.id);
      const pid = seen?.pid ?? v.pid;
      const endpoint = seen?.endpoint ?? v.endpoint;
      return { id: v.id, host: seen?.host ?? v.host, pid, alive: isAlive(pid), endpoint, health: endpoint ? await answers200(`${endpoint}/health`) : false, state: seen?.state ?? null };
    }),
  );
  const d = state.dns;
  const dns = d ? { server: `${d.server.host}:${d.server.port}`, zone: d.zone, pid: d.pid, alive: isAlive(d.pid), names: d.names, records: isAlive(d.pid) ? await observeLabDns(d) : null } : null;
  const healthy = Boolean(server?.alive) && hosts.every((h) => h.netnsExists && h.agentAlive) && vms.every((v) => v.alive && v.health) && (!dns || dns.alive);
  return { stateDir, exists: true, phase: state.phase, healthy, server, hosts, vms, ...(d !== undefined ? { dns } : {}) };
}

/** The status as text (pure). */
export function renderLabStatus(r: LabStatusReport): string {
  if (!r.exists) return `no lab recorded in ${r.stateDir}\n`;
  const yes = (b: boolean) => (b ? 'up' : 'DOWN');
  const lines = [`lab in ${r.stateDir}: ${r.phase}${r.healthy ? ', healthy' : ', NOT healthy'}`];
  lines.push(r.server ? `server  ${r.server.url || '-'}  pid ${r.server.pid}  ${yes(r.server.alive)}` : 'server  not started');
  for (const h of r.hosts) lines.push(`host ${h.name}  ${h.netns} ${h.address} ${h.netnsExists ? '' : '(no namespace) '} agent pid ${h.agentPid ?? '-'}  ${yes(h.agentAlive)}`);
  for (const v of r.vms) lines.push(`vm ${v.id}  on ${v.host}  pid ${v.pid ?? '-'}  ${yes(v.alive)}  ${v.endpoint ?? '-'}  health ${v.health ? 'ok' : 'no answer'}`);
  if (r.dns) {
    const d = r.dns;
    lines.push(`dns ${d.server}  zone ${d.zone}  named pid ${d.pid}  ${yes(d.alive)}`);
    for (const [id, name] of Object.entries(d.names)) lines.push(`dns ${name}  A ${d.records ? d.records[id]?.join(', ') || '(none)' : '(no answer)'}  (${id})`);
  }
  return lines.join('\n') + '\n';
}
