/**
 * `umbra lab up`: the guest image, N hosts as network namespaces on a bridge, HAProxy and
 * named (DNS, see dns.ts) on the bridge address, a server there, one agent inside each
 * namespace, then M VMs created through the server API and waited for until their guest
 * service answers from the root namespace, through HAProxy, and their DNS names point at them.
 *
 * Every step is recorded in the state file BEFORE it is taken (the namespace names, then each
 * pid as soon as it exists), so `umbra lab down` cleans up whatever a crash left.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AgentRecord, StatusReport, VmRecord } from '../api/protocol.js';
import { systemClock, type Clock } from '../core/clock.js';
import { ServerApiClient } from '../server/client.js';
import { labDnsResult, observeLabDns, startLabDns, type LabDnsResult } from './dns.js';
import { cliEntry } from './entry.js';
import { LabError, requireRoot } from './errors.js';
import { waitFor200 } from './http.js';
import { labLayout } from './layout.js';
import { ensureBridge, ensureHostNet, linkExists, listNetns } from './net.js';
import { spawnDetached, tailFile, waitForJsonLine } from './procs.js';
import { labPaths, readLabState, writeLabState, type LabHostState, type LabProcess, type LabState } from './state.js';

/** Options of {@link labUp}. */
export interface LabUpOptions {
  hosts: number;
  vms: number;
  /** The state dir (`$UMBRA_STATE_DIR` or ~/.local/state/umbra). */
  stateDir: string;
  /** Agents' sampling interval, e.g. `2s` (default: the agent's own, 10s). */
  interval?: string;
  /** Give every lab VM a shadow whatever its risk, and return once each is `synchronized`. */
  protect?: boolean;
  /** A policy file for the server (shadow flavor, sync mode, intervals, alerts). */
  policy?: string;
  /** Server port on the bridge address (default 7000). */
  serverPort?: number;
  /** Environment for the spawned processes (default process.env; the token is added). */
  env?: NodeJS.ProcessEnv;
  /** Progress lines (stderr). */
  progress?: (message: string) => void;
  clock?: Clock;
}

/** What `umbra lab up --json` prints. */
export interface LabUpResult {
  server: string;
  token: string;
  /** The HAProxy frontend serving the first VM's guest API (each VM's is in `vms[].traffic`). */
  traffic: string | null;
  hosts: { name: string; address: string }[];
  vms: { id: string; host: string; pid: number | null; endpoint: string | null; traffic: string | null; sync?: string | null }[];
  /** named serving each VM's name (an A record: the address of the host running its primary). */
  dns: LabDnsResult;
  /** With `protect`: every shadow, as `umbra status --json` lists it. */
  shadows?: { id: string; shadowOf: string; host: string; pid: number | null; sync: string | null; flavor?: string; mode?: string; endpoint: string | null }[];
}

/** How long each wait of `up` may take. */
const TIMEOUTS = { ready: 30_000, register: 30_000, health: 120_000, create: 180_000, synchronized: 300_000, traffic: 60_000 };

/** HAProxy frontends listen on the bridge address from this port on (vm1 → 8001, ...). */
export const LAB_TRAFFIC_BASE_PORT = 8000;

/** Waits until a spawned process prints its JSON line; a LabError with its log tail otherwise. */
async function ready<T>(proc: LabProcess, what: string, step: 'server' | 'agent', clock: Clock): Promise<T> {
  try {
    return await waitForJsonLine<T>(proc.out, proc.pid, TIMEOUTS.ready, clock);
  } catch (e) {
    const logTail = tailFile(proc.log);
    throw new LabError('INTERNAL', `${what} did not start: ${(e as Error).message}\n${logTail}`, { step, logTail, file: proc.log }, { cause: e });
  }
}

/**
 * Brings a lab up (see the module comment) and resolves with what `--json` prints. Throws a
 * LabError naming the failed step; what was created stays recorded for `umbra lab down`.
 */
export async function labUp(o: LabUpOptions): Promise<LabUpResult> {
  requireRoot();
  const clock = o.clock ?? systemClock;
  const say = o.progress ?? (() => undefined);
  const layout = labLayout(o.hosts, o.vms);
  const paths = labPaths(o.stateDir);
  if (readLabState(o.stateDir)) {
    throw new LabError('USAGE', `a lab is already recorded in ${paths.stateFile}: run umbra lab down first`, { step: 'state', file: paths.stateFile });
  }
  // One lab per machine: the network names are fixed. Refuse to adopt another lab's leftovers.
  const existing = await listNetns();
  const taken = [...layout.hosts.map((h) => h.netns).filter((n) => existing.includes(n)), ...((await linkExists(layout.network.bridge)) ? [layout.network.bridge] : [])];
  if (taken.length) {
    throw new LabError('USAGE', `${taken.join(', ')} already exist (another lab, with another state dir?): run umbra lab down with that UMBRA_STATE_DIR`, { step: 'network' });
  }
  const entry = cliEntry();
  const t0 = performance.now();
  const secs = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

  say('building or finding the guest image');
  const { buildImage } = await import('../guest/index.js');
  const image = await buildImage({ onProgress: (e) => say(`image: ${e.message}`) }).catch((e: unknown) => {
    throw new LabError('INTERNAL', `the guest image could not be built: ${(e as Error).message}`, { step: 'image' }, { cause: e });
  });

  const token = randomBytes(24).toString('hex');
  const hosts: LabHostState[] = layout.hosts.map((h) => ({ ...h, runDir: join(paths.hostsDir, h.name), apiUrl: null, agent: null }));
  const state: LabState = {
    version: 1,
    phase: 'starting',
    createdAt: clock.now(),
    stateDir: o.stateDir,
    labDir: paths.labDir,
    network: layout.network,
    hosts,
    token,
    server: null,
    vms: [],
    image: { kernel: image.kernel, initrd: image.initrd },
  };
  for (const d of [paths.labDir, paths.logsDir, paths.serverDir, ...hosts.map((h) => h.runDir)]) mkdirSync(d, { recursive: true, mode: 0o700 });
  writeLabState(state);

  try {
    say(`network: bridge ${layout.network.bridge} ${layout.network.bridgeAddress}/${layout.network.prefix}, ${hosts.length} namespaces`);
    await ensureBridge(layout.network);
    for (const h of hosts) await ensureHostNet(layout.network, h);

    // The token travels in the environment, not on command lines.
    const env = { ...(o.env ?? process.env), UMBRA_TOKEN: token };
    const node = process.execPath;

    // HAProxy in front of every VM's service: the server's failover controller points each
    // frontend at the VM's primary (and re-applies it every pass).
    say('traffic: HAProxy in front of the VMs');
    state.traffic = await startLabHaproxy(state, layout.vms.map((v) => v.id), paths, env, clock);
    writeLabState(state);
    // DNS too: named on the bridge, one name per VM; the server gets it as its policy's
    // traffic.dns (the user's policy file, if any, with that block), HAProxy by its flag.
    const dns = await startLabDns(state, layout, paths, { env, clock, policy: o.policy, write: writeLabState, readyTimeoutMs: TIMEOUTS.ready });
    say(`traffic: named on ${dns.server.host}:${dns.server.port}, zone ${dns.zone} (${Object.values(dns.names).join(', ') || 'no names'})`);
    const serverArgv = [
      node, entry, 'server',
      '--listen', `${layout.network.bridgeAddress}:${o.serverPort ?? 7000}`,
      '--data-dir', paths.serverDir,
      '--kernel', image.kernel,
      '--initrd', image.initrd,
      '--policy', dns.policyFile,
      '--haproxy-socket', state.traffic.socket,
    ];
    const serverProc: LabProcess = { pid: 0, argv: serverArgv, out: join(paths.logsDir, 'server.out'), log: join(paths.logsDir, 'server.log') };
    serverProc.pid = spawnDetached(serverArgv, serverProc.out, serverProc.log, env);
    state.server = { ...serverProc, url: '', dataDir: paths.serverDir };
    writeLabState(state); // pid recorded; lab.json waits for the URL
    const s = await ready<{ url: string }>(serverProc, 'the server', 'server', clock);
    state.server.url = s.url;
    writeLabState(state);
    say(`server ${s.url} (pid ${serverProc.pid}) after ${secs()}`);

    for (const h of hosts) {
      const argv = agentArgv(state, h, node, entry, o.interval);
      const p: LabProcess = { pid: 0, argv, out: join(paths.logsDir, `agent-${h.name}.out`), log: join(paths.logsDir, `agent-${h.name}.log`) };
      p.pid = spawnDetached(argv, p.out, p.log, env);
      h.agent = p;
      writeLabState(state);
    }
    await Promise.all(
      hosts.map(async (h) => {
        const info = await ready<{ apiUrl: string }>(h.agent!, `the agent of ${h.name}`, 'agent', clock);
        h.apiUrl = info.apiUrl;
      }),
    );
    writeLabState(state);

    const api = new ServerApiClient({ baseUrl: s.url, token, timeoutMs: TIMEOUTS.create });
    await waitRegistered(api, hosts.map((h) => h.name), clock);
    say(`${hosts.length} agents registered after ${secs()}`);

    await Promise.all(
      layout.vms.map(async (v) => {
        const tc = performance.now();
        const rec = await api.request<VmRecord>('POST', '/v1/vms', { id: v.id, host: v.host, ...(o.protect ? { protect: true } : {}) });
        const vm = { id: v.id, host: rec.status.host || v.host, pid: rec.status.pid, endpoint: rec.status.endpoint };
        state.vms.push(vm);
        writeLabState(state);
        if (rec.status.lastError || !vm.endpoint) {
          const err = rec.status.lastError;
          throw new LabError('VM_START_FAILED', `VM ${v.id} on ${v.host} did not start: ${err ? `${err.message}${err.stderrTail ? `\n${err.stderrTail}` : ''}` : `state ${rec.status.state}, no endpoint`}`, {
            step: 'vm',
            vmId: v.id,
            host: v.host,
          });
        }
        if (!(await waitFor200(`${vm.endpoint}/health`, TIMEOUTS.health, clock))) {
          throw new LabError('INTERNAL', `VM ${v.id}: ${vm.endpoint}/health did not answer within ${TIMEOUTS.health / 1000} s`, { step: 'health', vmId: v.id });
        }
        say(`${v.id} on ${vm.host}: pid ${vm.pid}, ${vm.endpoint}/health answered ${((performance.now() - tc) / 1000).toFixed(2)} s after create`);
      }),
    );
    state.vms.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
    const frontends = state.traffic.frontends;
    await Promise.all(
      state.vms.map(async (v) => {
        if (!(await waitFor200(`${frontends[v.id]}/health`, TIMEOUTS.traffic, clock))) {
          throw new LabError('INTERNAL', `VM ${v.id}: ${frontends[v.id]}/health (HAProxy) did not answer within ${TIMEOUTS.traffic / 1000} s`, { step: 'traffic', vmId: v.id });
        }
      }),
    );
    say(`traffic: ${state.vms.map((v) => `${v.id} via ${frontends[v.id]}`).join(', ')}`);
    // Each VM's name points at the host running it (the server re-applies it every pass).
    await waitDnsPointsAtHosts(dns, state.vms, clock);
    let shadows: LabUpResult['shadows'];
    let syncOf = new Map<string, string | null>();
    if (o.protect) {
      say('waiting for every VM to have a synchronized shadow');
      const report = await waitSynchronized(api, state.vms.map((v) => v.id), clock, say);
      syncOf = new Map(report.vms.filter((v) => v.role === 'primary').map((v) => [v.id, v.sync]));
      shadows = report.vms
        .filter((v) => v.role === 'shadow')
        .map((v) => ({ id: v.id, shadowOf: v.shadowOf ?? '', host: v.host, pid: v.pid, sync: v.sync, flavor: v.flavor, mode: v.mode, endpoint: v.endpoint }));
      say(`every shadow synchronized after ${secs()}`);
    }
    state.phase = 'up';
    writeLabState(state);
    say(`lab up after ${secs()}`);
    return {
      server: s.url,
      token,
      traffic: state.vms[0] ? frontends[state.vms[0].id] : null,
      hosts: hosts.map((h) => ({ name: h.name, address: h.address })),
      vms: state.vms.map((v) => ({ id: v.id, host: v.host, pid: v.pid, endpoint: v.endpoint, traffic: frontends[v.id] ?? null, ...(o.protect ? { sync: syncOf.get(v.id) ?? null } : {}) })),
      dns: labDnsResult(dns),
      ...(shadows ? { shadows } : {}),
    };
  } catch (e) {
    state.phase = 'failed';
    writeLabState(state);
    if (e instanceof LabError) e.message += ' (what was created is recorded: umbra lab down removes it)';
    throw e;
  }
}

/**
 * The argument vector of host `h`'s agent: `ip netns exec <ns> node <entry> agent ...` (the
 * token comes from $UMBRA_TOKEN). `ip netns exec` execs in place, so the pid is the agent's.
 */
export function agentArgv(state: Pick<LabState, 'server'>, h: LabHostState, node: string, entry: string, interval?: string): string[] {
  if (!state.server?.url) throw new LabError('INTERNAL', 'the server must be up before its agents', { step: 'agent' });
  return [
    'ip', 'netns', 'exec', h.netns,
    node, entry, 'agent',
    '--name', h.name,
    '--server', state.server.url,
    '--address', h.address,
    '--run-dir', h.runDir,
    // Each lab host is its own failure domain.
    '--label', `zone=${h.name}`,
    ...(interval ? ['--interval', interval] : []),
  ];
}

/**
 * Starts HAProxy (detached, recorded like the server) with one frontend per VM on the bridge
 * address, each backend slot in maintenance until the server's failover controller points it
 * at the VM. Returns its record once the admin socket answers.
 */
async function startLabHaproxy(state: LabState, vmIds: readonly string[], paths: ReturnType<typeof labPaths>, env: NodeJS.ProcessEnv, clock: Clock): Promise<NonNullable<LabState['traffic']>> {
  const { ensureTrafficTools, renderHaproxyConfig, runtimeCommand } = await import('../traffic/index.js');
  await ensureTrafficTools().catch((e: unknown) => {
    throw new LabError('INTERNAL', `HAProxy could not be installed: ${(e as Error).message}`, { step: 'traffic' }, { cause: e });
  });
  const dir = join(paths.labDir, 'haproxy');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = join(dir, 'admin.sock');
  const host = state.network.bridgeAddress;
  const frontends: Record<string, string> = {};
  const services = vmIds.map((id, i) => {
    const port = LAB_TRAFFIC_BASE_PORT + i + 1;
    frontends[id] = `http://${host}:${port}`;
    return { service: id, listen: { host, port }, backend: null, healthPath: '/health' };
  });
  const cfg = join(dir, 'haproxy.cfg');
  // Checks that tolerate a TCG guest stalling for a second or two (a just-promoted guest
  // replaying its journal while its new shadow's first copy runs): with one server per backend,
  // HAProxy taking it down only turns every request into a 503.
  writeFileSync(cfg, renderHaproxyConfig({ socketPath: socket, services, timeouts: { checkMs: 2000 }, check: { fall: 3 } }), { mode: 0o600 });
  const argv = ['haproxy', '-f', cfg, '-db'];
  const proc: LabProcess = { pid: 0, argv, out: join(paths.logsDir, 'haproxy.out'), log: join(paths.logsDir, 'haproxy.log') };
  proc.pid = spawnDetached(argv, proc.out, proc.log, env);
  const rec = { ...proc, socket, frontends };
  state.traffic = rec;
  writeLabState(state); // pid recorded before waiting
  const end = clock.now() + TIMEOUTS.ready;
  while (clock.now() < end) {
    const up = await runtimeCommand(socket, 'show info', { timeoutMs: 500 }).then((t) => t.includes('Name: HAProxy'), () => false);
    if (up) return rec;
    await clock.sleep(50);
  }
  throw new LabError('INTERNAL', `HAProxy did not start: ${tailFile(proc.log)}`, { step: 'traffic', file: proc.log });
}

/** Waits until each VM's name has one A record: the host of its endpoint (the server's DNS switch keeps it so). */
async function waitDnsPointsAtHosts(dns: NonNullable<LabState['dns']>, vms: LabState['vms'], clock: Clock): Promise<void> {
  const want = Object.fromEntries(vms.map((v) => [v.id, v.endpoint ? new URL(v.endpoint).hostname : null]));
  const end = clock.now() + TIMEOUTS.traffic;
  let seen: Record<string, string[]> | null = null;
  while (clock.now() < end) {
    seen = await observeLabDns(dns);
    if (seen && vms.every((v) => want[v.id] === null || (seen![v.id]?.length === 1 && seen![v.id][0] === want[v.id]))) return;
    await clock.sleep(200);
  }
  throw new LabError('INTERNAL', `DNS names did not point at their hosts within ${TIMEOUTS.traffic / 1000} s: want ${JSON.stringify(want)}, named answers ${JSON.stringify(seen)}`, { step: 'dns' });
}

/** Waits until each VM has a shadow that is `synchronized` and ready to take over (its guest booted); says how it goes. */
async function waitSynchronized(api: ServerApiClient, vmIds: string[], clock: Clock, say: (m: string) => void): Promise<StatusReport> {
  const end = clock.now() + TIMEOUTS.synchronized;
  let last = '';
  let report: StatusReport | null = null;
  while (clock.now() < end) {
    report = await api.status().catch(() => null);
    if (report) {
      const shadows = report.vms.filter((v) => v.role === 'shadow');
      const line = vmIds.map((id) => `${id}: ${shadows.filter((s) => s.shadowOf === id).map((s) => `${s.id} on ${s.host} ${s.sync}${s.ready ? ', ready' : ''}`).join(', ') || 'no shadow yet'}`).join('; ');
      if (line !== last) say(line);
      last = line;
      if (vmIds.every((id) => shadows.some((s) => s.shadowOf === id && s.sync === 'synchronized' && s.ready !== false))) return report;
    }
    await clock.sleep(500);
  }
  throw new LabError('INTERNAL', `shadows did not all reach synchronized within ${TIMEOUTS.synchronized / 1000} s: ${last}`, { step: 'protect' });
}

/** Waits until every named agent is registered and alive in the server's view. */
async function waitRegistered(api: ServerApiClient, names: string[], clock: Clock): Promise<void> {
  const end = clock.now() + TIMEOUTS.register;
  let seen: AgentRecord[] = [];
  while (clock.now() < end) {
    seen = (await api.request<{ agents: AgentRecord[] }>('GET', '/v1/agents').catch(() => ({ agents: [] as AgentRecord[] }))).agents;
    if (names.every((n) => seen.some((a) => a.name === n && a.alive))) return;
    await clock.sleep(200);
  }
  const missing = names.filter((n) => !seen.some((a) => a.name === n && a.alive));
  throw new LabError('AGENT_UNAVAILABLE', `agents ${missing.join(', ')} did not register within ${TIMEOUTS.register / 1000} s`, { step: 'register', hosts: missing });
}
