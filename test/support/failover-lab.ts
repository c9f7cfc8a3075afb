/**
 * What the failover lab tests share: a client appending numbered records through HAProxy, a
 * watch for two primaries, the server's view, HAProxy's route, restarting the lab's server (the
 * controller killed mid-failover), and one whole fault case with every check issue 5 asks for.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { expect } from 'vitest';
import type { StatusReport } from '../../src/api/protocol.js';
import { cliEntry, type LabUpResult } from '../../src/lab/index.js';
import { isAlive, spawnDetached } from '../../src/lab/procs.js';
import { observeLabDns } from '../../src/lab/dns.js';
import { readLabState, writeLabState } from '../../src/lab/state.js';
import type { ShadowView } from '../../src/server/shadow-routes.js';
import type { EventRow, FailoverRow } from '../../src/store/store.js';
import { HaproxyTrafficSwitch } from '../../src/traffic/index.js';
import { labRunner, serverApi, type ServerApi } from './lab.js';
import { untilWithin, type Until } from './poll.js';

/** A record the client got a 200 for, and when (performance.now()). */
export interface Acked {
  line: string;
  at: number;
}

/** Appends numbered records through `url` every 50 ms until stopped; remembers what was acknowledged and when. */
export function appender(url: string, tag: string) {
  const acked: Acked[] = [];
  let stop = false;
  const loop = (async () => {
    for (let i = 0; !stop; i++) {
      const line = `${tag}-${process.pid}-${i}`;
      try {
        const r = await fetch(`${url}/append`, { method: 'POST', body: line, signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        if (r.status === 200) acked.push({ line, at: performance.now() });
      } catch {
        // unavailable: the gap being measured
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  return {
    acked,
    stop: async () => {
      stop = true;
      await loop;
    },
  };
}

/** `umbra status --json` of the lab whose state `env` names. */
export function statusReport(env: NodeJS.ProcessEnv): StatusReport {
  const res = spawnSync(process.execPath, [cliEntry(), 'status', '--json'], { env, encoding: 'utf8', timeout: 30_000 });
  if (res.status !== 0) throw new Error(res.stderr);
  return JSON.parse(res.stdout) as StatusReport;
}

/** The role a lab guest's /health names (`primary`, `standby`), or null when it does not answer 200. */
async function roleAt(endpoint: string): Promise<string | null> {
  try {
    const r = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(300) });
    const body = await r.text();
    return r.status === 200 ? ((JSON.parse(body) as { role?: string }).role ?? null) : null;
  } catch {
    return null;
  }
}

/**
 * Asks every guest endpoint of the VM for its role every 100 ms while running: `both` lists the
 * instants when more than one guest answered as `primary` (two running copies serving).
 */
export function primaryWatch(endpoints: readonly string[]) {
  const both: { at: number; endpoints: string[] }[] = [];
  let rounds = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const roles = await Promise.all(endpoints.map(roleAt));
      const primaries = endpoints.filter((_, i) => roles[i] === 'primary');
      if (primaries.length > 1) both.push({ at: performance.now(), endpoints: primaries });
      rounds++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    both,
    rounds: () => rounds,
    stop: async () => {
      stop = true;
      await loop;
    },
  };
}

/** Where the lab's HAProxy sends `vm`'s traffic (`host:port` of its targets) and how it sees them. */
export async function haproxyRoute(stateDir: string, vm: string): Promise<{ targets: string[]; detail: string }> {
  const socket = readLabState(stateDir)?.traffic?.socket;
  if (!socket) throw new Error('the lab has no HAProxy');
  const sw = new HaproxyTrafficSwitch({ socketPath: socket });
  try {
    const route = await sw.observe(vm);
    return { targets: route.targets.map((t) => `${t.host}:${t.port}`), detail: JSON.stringify(route.targets) };
  } finally {
    await sw.close();
  }
}

/**
 * SIGKILLs the lab's server (the failover controller in it) and starts it again with the same
 * command line, recording its new pid in the lab state (`lab down` stops that one); resolves
 * once it answers. Returns the old and new pids.
 */
export async function restartLabServer(stateDir: string, env: NodeJS.ProcessEnv): Promise<{ killed: number; started: number }> {
  const state = readLabState(stateDir);
  if (!state?.server) throw new Error('no lab server recorded');
  const killed = state.server.pid;
  process.kill(killed, 'SIGKILL');
  for (let i = 0; i < 100 && isAlive(killed); i++) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(killed)) throw new Error(`server ${killed} still alive after SIGKILL`);
  const started = spawnDetached(state.server.argv, state.server.out, state.server.log, { ...env, UMBRA_TOKEN: state.token });
  state.server.pid = started;
  writeLabState(state);
  const end = performance.now() + 60_000;
  while (performance.now() < end) {
    const r = await fetch(`${state.server.url}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
    if (r?.status === 200) return { killed, started };
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`the restarted server ${started} did not answer`);
}

/**
 * With UMBRA_KEEP_LAB_LOGS=DIR set, copies the lab's logs and the server's database to DIR/NAME
 * before the lab goes down (for a failed run; nothing is kept otherwise).
 */
export function keepLabLogs(stateDir: string, name: string): void {
  const to = process.env.UMBRA_KEEP_LAB_LOGS;
  if (!to) return;
  for (const sub of ['logs', 'server']) {
    const from = join(stateDir, 'lab', sub);
    if (existsSync(from)) cpSync(from, join(to, name, sub), { recursive: true });
  }
}

/**
 * One failover lab for a test file: its state dir (made now, under /tmp: QMP socket paths stay
 * short), its runner, the server API once it is up, and `up(policy)` (lab up --hosts 3 --vms 1
 * --protect --json with that policy file) and `down()` for beforeAll/afterAll.
 */
export function failoverLab(prefix: string, keepName: string) {
  const stateDir = mkdtempSync(`/tmp/${prefix}-`);
  const env = { ...process.env, UMBRA_STATE_DIR: stateDir };
  const lab = labRunner(env);
  let result: LabUpResult | null = null;
  const api = serverApi(() => {
    if (!result) throw new Error('the lab is not up');
    return result;
  }, 120_000);
  const until = untilWithin(180_000, 200);
  return {
    stateDir,
    env,
    api,
    until,
    /** What `lab up --json` printed. */
    get result(): LabUpResult {
      if (!result) throw new Error('the lab is not up');
      return result;
    },
    ctx(): FaultCaseContext {
      return { env, stateDir, traffic: this.result.traffic!, api, until };
    },
    async up(policyText: string): Promise<LabUpResult> {
      const policy = join(stateDir, 'policy.yaml');
      writeFileSync(policy, policyText);
      const r = await lab('up', { hosts: '3', vms: '1', protect: true, policy, interval: '2s', json: true });
      expect(r.code, r.err).toBe(0);
      result = JSON.parse(r.out) as LabUpResult;
      expect(result.traffic).toMatch(/^http:\/\/10\.213\.0\.1:\d+$/);
      expect(result.shadows?.[0]?.sync).toBe('synchronized');
      return result;
    },
    async down(): Promise<void> {
      keepLabLogs(stateDir, keepName);
      await lab('down').catch((e: unknown) => console.error('lab down in afterAll failed:', e));
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Every step of a fenced (warm or cold) failover, in order. */
export const FENCED_STEPS = ['hook_before_fence', 'fence', 'stop_replication', 'promote', 'resize', 'health', 'traffic', 'hook_after_traffic', 'adopt', 'retire_old', 'hook_after_failover'];
/** Every step of a live migration. */
export const MIGRATE_STEPS = ['hook_before_fence', 'promote', 'traffic', 'health', 'resize', 'hook_after_traffic', 'adopt', 'retire_old', 'hook_after_failover'];

/**
 * The client's outage: the longest time between two acknowledgements from the last one before
 * the fault on (a guest may still answer for a moment after the fault, an overloaded one for long).
 */
export function longestGap(ackTimes: readonly number[], faultAt: number): { start: number; end: number } {
  const t = [...ackTimes].sort((a, b) => a - b);
  let i = t.findLastIndex((x) => x < faultAt);
  if (i < 0) i = 0;
  let best = { start: t[i], end: t[i] };
  for (; i + 1 < t.length; i++) if (t[i + 1] - t[i] > best.end - best.start) best = { start: t[i], end: t[i + 1] };
  return best;
}

/** What a fault case measured. */
export interface FaultOutcome {
  failover: FailoverRow;
  /** Fault → the first acknowledged append after the client's outage (ms). */
  faultToFirstGoodMs: number;
  /** The client's outage: the longest time without an acknowledgement from the fault on (ms). */
  gapMs: number;
  acked: number;
}

export interface FaultCaseContext {
  env: NodeJS.ProcessEnv;
  stateDir: string;
  traffic: string;
  api: ServerApi;
  until: Until;
}

type VmView = StatusReport['vms'][number];

/**
 * One fault on vm1 with every check of issue 5's "Done when": waits for a synchronized, ready
 * shadow, appends through HAProxy, watches for two primaries, injects the fault, waits for the
 * failover; then: it is done with the expected path, every acknowledged record is in the
 * promoted VM's log, never two guests answered as primary, HAProxy sends vm1 to the former
 * shadow, `umbra status --json` shows vm1 primary on the shadow's host with the shadow's pid,
 * the old QEMU is gone, and the event log has every step. `during` runs once the failover
 * started (the controller killed mid-failover); `after` once it ended (a link back up).
 */
export async function faultCase(
  c: FaultCaseContext,
  tag: string,
  o: {
    inject: (primary: VmView) => void | Promise<void>;
    during?: (failover: FailoverRow) => Promise<void>;
    after?: () => void | Promise<void>;
    path?: 'warm' | 'migrate' | 'cold';
    oldGoneWithinMs?: number;
  },
): Promise<FaultOutcome> {
  const { api, until, env } = c;
  const shadows = await until('a synchronized, ready shadow', async () => {
    const all = (await api<{ shadows: ShadowView[] }>('GET', '/v1/vms/vm1/shadows')).shadows.filter((s) => s.phase === 'active');
    return all.some((s) => s.status.sync === 'synchronized' && s.status.vm?.ready === true) ? all : undefined;
  });
  if (shadows.length > 1) console.log(`[note] ${tag}: ${shadows.length} active shadows: ${shadows.map((s) => `${s.id} on ${s.host} ${s.status.sync} created ${s.createdAt} reason ${s.reason}`).join('; ')}`);
  const before = await until('the primary running with its pid', async () => {
    const v = statusReport(env).vms.find((x) => x.id === 'vm1');
    return v && v.state === 'running' && v.pid && v.endpoint ? v : undefined;
  });
  const seen = new Set((await api<{ failovers: FailoverRow[] }>('GET', '/v1/failovers?vm=vm1')).failovers.map((f) => f.id));
  const watch = primaryWatch([before.endpoint!, ...shadows.flatMap((s) => (s.status.vm?.endpoint ? [s.status.vm.endpoint] : []))]);
  const client = appender(c.traffic, tag);
  let done: FailoverRow;
  let faultAt = 0;
  try {
    await until('records acknowledged before the fault', async () => client.acked.length >= 10);
    faultAt = performance.now();
    await o.inject(before);
    if (o.during) {
      const running = await until(`the ${tag} failover started`, async () => (await api<{ failovers: FailoverRow[] }>('GET', '/v1/failovers?vm=vm1')).failovers.find((f) => !seen.has(f.id)), 120_000);
      await o.during(running);
    }
    try {
      done = await until(`the ${tag} failover ended`, async () => (await api<{ failovers: FailoverRow[] }>('GET', '/v1/failovers?vm=vm1')).failovers.find((f) => !seen.has(f.id) && f.state !== 'running'), 150_000);
    } finally {
      await o.after?.();
    }
    expect(done.state, JSON.stringify(done.steps)).toBe('done');
    await until('records acknowledged after the failover', async () => client.acked.some((a) => a.at > faultAt + 100), 60_000);
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await client.stop();
    await watch.stop();
  }
  const shadow = shadows.find((s) => s.id === done.shadowId);
  expect(shadow, `the failover used ${done.shadowId}, not one of ${shadows.map((s) => s.id).join(', ')}`).toBeDefined();
  if (!shadow) throw new Error('unreachable');
  expect(shadow.status.sync).toBe('synchronized');
  if (o.path) expect(done.path).toBe(o.path);
  const outage = longestGap(client.acked.map((a) => a.at), faultAt);
  const outcome: FaultOutcome = { failover: done, faultToFirstGoodMs: Math.round(outage.end - faultAt), gapMs: Math.round(outage.end - outage.start), acked: client.acked.length };
  console.log(
    `[measured] ${tag}: fault -> first good append through HAProxy ${outcome.faultToFirstGoodMs} ms (client gap ${outcome.gapMs} ms, ${outcome.acked} acknowledged); path ${done.path}; ${done.reason}; steps ${done.steps.map((s) => `${s.name} ${(s.endedAt ?? 0) - s.startedAt} ms`).join(', ')}`,
  );

  // Never two guests answering as primary at once (watched every ~100 ms throughout).
  expect(watch.rounds()).toBeGreaterThan(5);
  expect(watch.both).toEqual([]);

  // Every acknowledged record is in the promoted VM's log (read through HAProxy).
  const log = await (await fetch(`${c.traffic}/log`, { signal: AbortSignal.timeout(10_000) })).text();
  expect(client.acked.filter((a) => !log.includes(a.line)).map((a) => a.line)).toEqual([]);

  // Traffic goes to the former shadow: HAProxy's route is its endpoint.
  const shadowEndpoint = new URL(shadow.status.vm!.endpoint!);
  const route = await haproxyRoute(c.stateDir, 'vm1');
  expect(route.targets, route.detail).toEqual([`${shadowEndpoint.hostname}:${shadowEndpoint.port}`]);

  // DNS (RFC 2136 updates to the lab's named) names the former shadow's host too.
  const dns = readLabState(c.stateDir)?.dns;
  if (dns) {
    const a = await until('vm1.lab.umbra pointing at the new host', async () => {
      const seen = await observeLabDns(dns);
      return seen && JSON.stringify(seen.vm1) === JSON.stringify([shadowEndpoint.hostname]) ? seen : undefined;
    }, 30_000);
    expect(a.vm1).toEqual([shadowEndpoint.hostname]);
  }

  // vm1 is primary on the former shadow's host: the shadow's QEMU (warm; a live migration's
  // target), or the QEMU that booted from the shadow's disk (cold).
  const moved = await until('status shows vm1 moved', async () => {
    const v = statusReport(env).vms.find((x) => x.id === 'vm1');
    const pidOk = done.path === 'cold' ? Boolean(v?.pid) && v?.pid !== before.pid : v?.pid === shadow.status.vm?.pid;
    return v && v.host === shadow.host && pidOk && v.state === 'running' ? v : undefined;
  });
  expect(moved.role).toBe('primary');
  await until('the old primary process gone', async () => !isAlive(before.pid), o.oldGoneWithinMs ?? 30_000);

  // The event log has every step of this failover, its start and its end.
  const events = (await api<{ events: EventRow[] }>('GET', '/v1/events?vm=vm1&limit=100000')).events;
  const mine = events.filter((e) => e.data.failoverId === done.id);
  expect(mine.filter((e) => e.kind === 'failover.step').map((e) => e.data.step)).toEqual(done.path === 'migrate' ? MIGRATE_STEPS : FENCED_STEPS);
  expect(mine.filter((e) => e.kind === 'failover.step').every((e) => e.data.ok === true)).toBe(true);
  expect(mine.find((e) => e.kind === 'failover.started')?.data).toMatchObject({ reason: done.reason, dataLossBoundSeconds: 0 });
  expect(mine.some((e) => e.kind === 'failover.done')).toBe(true);
  return outcome;
}

/** Waits for a new synchronized shadow of vm1 on another host than its primary. */
export async function newShadowSynchronized(c: FaultCaseContext): Promise<ShadowView> {
  const s = await c.until('a new synchronized shadow', async () => (await c.api<{ shadows: ShadowView[] }>('GET', '/v1/vms/vm1/shadows')).shadows.find((x) => x.phase === 'active' && x.status.sync === 'synchronized'), 240_000);
  expect(s.host).not.toBe(statusReport(c.env).vms.find((v) => v.id === 'vm1')!.host);
  return s;
}
