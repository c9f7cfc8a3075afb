/**
 * `umbra lab` end to end with real everything: two hosts as network namespaces on a bridge, the
 * real server and agents (the built CLI, spawned by the lab), one real QEMU guest under TCG.
 * Traffic goes only to the lab's own addresses (10.213.0.0/24) and loopback.
 *
 * The lab commands run in-process through `labCommand` (the CLI's handler); `umbra status` runs
 * as the built CLI. afterAll runs `lab down` whatever happened. Needs root (namespaces) and a
 * build (`npm run build`; scripts/test.sh builds first). At most one QEMU runs here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport, UsageSample, VmRecord } from '../src/api/protocol.js';
import { labCommand, type LabCommandArgs } from '../src/cli/lab-command.js';
import { systemClock } from '../src/core/clock.js';
import { cliEntry, ensureBridge, ensureHostNet, hostLayout, LAB_NETWORK, labPaths, readLabState, spawnDetached, waitForJsonLine, writeLabState, type LabState, type LabUpResult } from '../src/lab/index.js';
import { findProcessesMentioning, isAlive, procInfo, stopProcesses } from '../src/lab/procs.js';

const isRoot = process.getuid?.() === 0;
// Short and unique: QMP socket paths under it must stay < 108 bytes.
const stateDir = mkdtempSync('/tmp/ulab-');
const env = { ...process.env, UMBRA_STATE_DIR: stateDir };

async function lab(action: 'up' | 'down' | 'status', args: LabCommandArgs = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await labCommand(action, args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env });
  return { code, out, err };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}

/** Live QEMUs of VM `id` whose command line is under this lab's state dir. */
function qemusOf(id: string): number[] {
  return findProcessesMentioning(stateDir)
    .filter((p) => p.argv[0].includes('qemu-system') && p.argv.some((a) => a.includes(`process=umbra-${id}`)))
    .map((p) => p.pid);
}

let up: LabUpResult;
let vm: LabUpResult['vms'][number];

async function serverGet<T>(path: string): Promise<T> {
  const r = await fetch(up.server + path, { headers: { authorization: `Bearer ${up.token}` }, signal: AbortSignal.timeout(10_000) });
  expect(r.status).toBe(200);
  return (await r.json()) as T;
}

// Without root there are no namespaces: the whole suite is skipped (the lab itself says so clearly).
describe.skipIf(!isRoot)('umbra lab with 2 hosts and 1 real VM', () => {
  beforeAll(() => {
    cliEntry(); // throws "run npm run build" when dist/ is missing
    expect(netnsList().filter((n) => /^umbra-h\d+$/.test(n))).toEqual([]); // no other lab in the way
  });

  afterAll(async () => {
    await lab('down').catch((e: unknown) => console.error('lab down in afterAll failed:', e));
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('lab up --hosts 2 --vms 1 prints the lab; the guest answers /health through its endpoint', async () => {
    const t0 = performance.now();
    const r = await lab('up', { hosts: '2', vms: '1', interval: '2s', json: true });
    const seconds = (performance.now() - t0) / 1000;
    expect(r.code).toBe(0);
    up = JSON.parse(r.out) as LabUpResult;
    const createToHealth = /vm1 on h\d: pid \d+, \S+ answered ([\d.]+) s after create/.exec(r.err)?.[1];
    console.log(`[measured] lab up (2 hosts, 1 VM, image cached): ${seconds.toFixed(1)} s; VM create -> /health: ${createToHealth} s`);
    expect(up.server).toBe('http://10.213.0.1:7000');
    expect(up.token).toMatch(/^[0-9a-f]{48}$/);
    expect(up.hosts).toEqual([
      { name: 'h1', address: '10.213.0.11' },
      { name: 'h2', address: '10.213.0.12' },
    ]);
    expect(up.vms).toHaveLength(1);
    vm = up.vms[0];
    expect(vm).toMatchObject({ id: 'vm1', host: 'h1' });
    expect(vm.endpoint).toMatch(/^http:\/\/10\.213\.0\.11:\d+$/);
    expect(procInfo(vm.pid!)?.argv[0]).toMatch(/qemu-system/);
    expect(qemusOf('vm1')).toEqual([vm.pid]);
    const health = await fetch(`${vm.endpoint}/health`, { signal: AbortSignal.timeout(5000) });
    expect(health.status).toBe(200);
    expect(netnsList()).toEqual(expect.arrayContaining(['umbra-h1', 'umbra-h2']));
    // The agents run inside their namespaces.
    const st = readLabState(stateDir)!;
    const inNs = execFileSync('ip', ['netns', 'pids', 'umbra-h1'], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
    expect(inNs).toEqual(expect.arrayContaining([st.hosts[0].agent!.pid, vm.pid]));
  }, 300_000);

  let appended = '';
  it('appends through the guest API are durable and read back', async () => {
    const line = `lab-test ${process.pid} ${Date.now()}`;
    appended = line;
    const a = await fetch(`${vm.endpoint}/append`, { method: 'POST', body: line + '\n', signal: AbortSignal.timeout(10_000) });
    expect(a.status).toBe(200);
    expect((await a.json()) as { seq: number }).toMatchObject({ seq: expect.any(Number) });
    const log = await (await fetch(`${vm.endpoint}/log`, { signal: AbortSignal.timeout(10_000) })).text();
    expect(log.split('\n')).toContain(line);
  }, 30_000);

  it("GET /load?cpu=50&seconds=40 shows in the server's samples as 0.5 ± 0.15 cores", async () => {
    const start = Date.now() / 1000;
    const idle = (await serverGet<{ samples: UsageSample[] }>(`/v1/vms/vm1/samples?metric=cpu_cores&from=${Math.floor(start - 20)}&to=${Math.floor(start)}`)).samples.map((x) => x.value);
    const r = await fetch(`${vm.endpoint}/load?cpu=50&seconds=40`, { signal: AbortSignal.timeout(10_000) });
    expect(r.status).toBe(200);
    await systemClock.sleep(38_000);
    // Skip the first 3 s (the guest calibrates its spin rate); samples reach the server in batches.
    const { samples } = await serverGet<{ samples: UsageSample[] }>(`/v1/vms/vm1/samples?metric=cpu_cores&from=${Math.floor(start + 3)}&to=${Math.ceil(start + 38)}`);
    const values = samples.map((s) => s.value);
    console.log(`[measured] lab load cpu=50 via server samples: cpu_cores median ${median(values).toFixed(3)} (n=${values.length}, min ${Math.min(...values).toFixed(3)}, max ${Math.max(...values).toFixed(3)}); idle before: median ${idle.length ? median(idle).toFixed(3) : '-'} (n=${idle.length}); load average ${loadavg()[0].toFixed(2)}`);
    expect(values.length).toBeGreaterThanOrEqual(8);
    expect(median(values)).toBeGreaterThan(0.35);
    expect(median(values)).toBeLessThan(0.65);
  }, 90_000);

  it('an agent killed and started again (same args, same namespace) re-adopts its VM', async () => {
    const state = readLabState(stateDir)!;
    const h1 = state.hosts.find((h) => h.name === 'h1')!;
    const old = h1.agent!;
    process.kill(old.pid, 'SIGKILL');
    const until = Date.now() + 5000;
    while (isAlive(old.pid) && Date.now() < until) await systemClock.sleep(50);
    expect(isAlive(old.pid)).toBe(false);
    expect(isAlive(vm.pid)).toBe(true); // the VM outlives its agent

    const out = join(labPaths(stateDir).logsDir, 'agent-h1-restart.out');
    const pid = spawnDetached(old.argv, out, old.log, { ...process.env, UMBRA_TOKEN: state.token });
    writeLabState({ ...state, hosts: state.hosts.map((h) => (h.name === 'h1' ? { ...h, agent: { ...old, pid, out } } : h)) });
    const info = await waitForJsonLine<{ apiUrl: string }>(out, pid, 30_000);
    expect(info.apiUrl).toBe(h1.apiUrl);
    const agentVms = await fetch(`${info.apiUrl}/v1/vms`, { headers: { authorization: `Bearer ${up.token}` } });
    expect(((await agentVms.json()) as { vms: { id: string; pid: number }[] }).vms).toEqual([expect.objectContaining({ id: 'vm1', pid: vm.pid })]);
    // The server sees the same VM on h1 with the same pid after the new registration.
    const end = Date.now() + 20_000;
    let rec: VmRecord | undefined;
    while (Date.now() < end) {
      rec = await serverGet<VmRecord>('/v1/vms/vm1');
      if (rec.status.pid === vm.pid && rec.status.state === 'running') break;
      await systemClock.sleep(300);
    }
    expect(rec?.status).toMatchObject({ host: 'h1', pid: vm.pid, state: 'running' });
    expect(qemusOf('vm1')).toEqual([vm.pid]);
    expect((await fetch(`${vm.endpoint}/health`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
  }, 90_000);

  it('umbra status --json (the built CLI, reading lab.json) lists the VM with its host and pid; lab status says healthy', async () => {
    const r = spawnSync(process.execPath, [cliEntry(), 'status', '--json'], { env: { ...env, UMBRA_TOKEN: '', UMBRA_SERVER: '' }, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as StatusReport;
    expect(report.vms).toEqual([expect.objectContaining({ id: 'vm1', host: 'h1', pid: vm.pid, state: 'running' })]);
    expect(report.agents.map((a) => [a.name, a.alive])).toEqual([
      ['h1', true],
      ['h2', true],
    ]);
    const s = await lab('status', { json: true });
    expect(JSON.parse(s.out)).toMatchObject({ exists: true, phase: 'up', healthy: true, vms: [{ id: 'vm1', pid: vm.pid, alive: true, health: true }] });
  }, 60_000);

  it('appended lines survive a guest reboot (ACPI power-down through the agent, then start)', async () => {
    const state = readLabState(stateDir)!;
    const host = state.hosts.find((h) => h.name === vm.host)!;
    const agentOp = async (op: string) => {
      const r = await fetch(`${host.apiUrl}/v1/vms/${vm.id}/${op}`, { method: 'POST', headers: { authorization: `Bearer ${up.token}` }, signal: AbortSignal.timeout(60_000) });
      expect(r.status, `${op}: ${await r.clone().text()}`).toBe(200);
      return (await r.json()) as { state: string; pid: number | null; endpoint: string | null };
    };
    const down = await agentOp('powerdown');
    expect(down.pid).toBeNull();
    const started = await agentOp('start');
    expect(started.pid).toEqual(expect.any(Number));
    const endpoint = started.endpoint ?? vm.endpoint;
    let log = '';
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const r = await fetch(`${endpoint}/log`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
      if (r?.status === 200) {
        log = await r.text();
        break;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(log.split('\n')).toContain(appended);
    vm.pid = started.pid!;
  }, 120_000);

  it('lab down removes every namespace, process and file; a second down is fine', async () => {
    const before = findProcessesMentioning(stateDir).map((p) => p.pid);
    expect(before.length).toBeGreaterThanOrEqual(4); // server, 2 agents, QEMU
    const t0 = performance.now();
    const d = await lab('down', { json: true });
    console.log(`[measured] lab down: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.out)).toMatchObject({ found: true, netns: ['umbra-h1', 'umbra-h2'], bridge: 'umbra-br0' });
    expect(netnsList().filter((n) => n.startsWith('umbra-'))).toEqual([]);
    expect(spawnSync('ip', ['link', 'show', 'dev', 'umbra-br0']).status).not.toBe(0);
    expect(before.filter(isAlive)).toEqual([]);
    expect(findProcessesMentioning(stateDir)).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
    const again = await lab('down', { json: true });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ found: false });
  }, 60_000);

  it('lab down cleans up after a crashed up (only the network and a stray process in a namespace recorded)', async () => {
    // What a crash right after the network step leaves: the state file, the bridge, a namespace,
    // and a process inside it that no state records.
    const h = { ...hostLayout(1), runDir: join(labPaths(stateDir).hostsDir, 'h1'), apiUrl: null, agent: null };
    const crashed: LabState = { version: 1, phase: 'starting', createdAt: Date.now(), stateDir, labDir: labPaths(stateDir).labDir, network: LAB_NETWORK, hosts: [h], token: 't', server: null, vms: [], image: null };
    writeLabState(crashed);
    await ensureBridge(LAB_NETWORK);
    await ensureHostNet(LAB_NETWORK, h);
    const stray = spawnDetached(['ip', 'netns', 'exec', 'umbra-h1', 'sleep', '300'], join(labPaths(stateDir).labDir, 'stray.out'), join(labPaths(stateDir).labDir, 'stray.log'), process.env);
    try {
      await systemClock.sleep(200);
      expect(isAlive(stray)).toBe(true);
      const d = await lab('down', { json: true });
      expect(d.code).toBe(0);
      expect(JSON.parse(d.out).stopped).toContain(stray);
      expect(isAlive(stray)).toBe(false);
      expect(netnsList().filter((n) => n.startsWith('umbra-'))).toEqual([]);
      expect(spawnSync('ip', ['link', 'show', 'dev', 'umbra-br0']).status).not.toBe(0);
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      await stopProcesses([stray], { graceMs: 200 });
    }
  }, 60_000);
});
