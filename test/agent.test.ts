/**
 * The host agent against REAL QEMU (TCG) and the real lab guest image. The server is being
 * written concurrently, so the agent talks to a PROTOCOL STAND-IN on loopback: a minimal HTTP
 * server for `POST /v1/agents/register`, `/v1/agents/:name/heartbeat` and `/v1/samples` that
 * validates the bodies against src/api/protocol.ts and records them. Nothing else is faked.
 *
 * At most two QEMUs run at once (the VM, plus a bad one that exits at start); every QEMU
 * started here is killed by its pid (from the run dir) in afterAll, also after a failure.
 */
import { killRecordedQemus } from './support/qemu-cleanup.js';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/clock.js';
import type { Agent, AgentConfig } from '../src/agent/index.js';
import { buildImage, ensureHostTools, type GuestImage } from '../src/guest/index.js';
import { agentApi, startQemuAgent } from './support/agent.js';
import { healthy } from './support/poll.js';
import { startStandIn, type StandIn } from './support/stand-in.js';

const TOKEN = `agent-test-${process.pid}`;
const runDir = mkdtempSync(join(tmpdir(), 'uag-')); // short: QMP socket paths must stay < 108 bytes
const agents: Agent[] = [];
let standIn: StandIn | null = null;

afterAll(async () => {
  for (const a of agents) await a.crash().catch(() => undefined);
  killRecordedQemus(runDir);
  await standIn?.close();
  rmSync(runDir, { recursive: true, force: true });
});

/** Pids of live QEMUs whose command line mentions this test's run dir and VM id. */
function qemuPidsFor(id: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (/\) [ZX] /.test(stat)) continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(`process=umbra-${id}`) && cmd.includes(runDir)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function startAgent(): Promise<Agent> {
  const cfg: AgentConfig = {
    name: 'h1',
    serverUrl: standIn!.url,
    token: TOKEN,
    address: '127.0.0.1',
    listenPort: 0,
    runDir,
    intervalMs: 1000,
    leaseMs: 30_000,
  };
  return startQemuAgent(cfg, agents);
}

const api = agentApi(TOKEN);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

let guest: GuestImage;
let agentA: Agent;
let vm: { pid: number; endpoint: string; startedAt: number };

describe('umbra agent with real QEMU (TCG) and a protocol stand-in server', () => {
  beforeAll(async () => {
    await ensureHostTools();
    guest = await buildImage();
    standIn = await startStandIn(TOKEN, { leaseSeconds: 30, heartbeatSeconds: 2 });
    agentA = await startAgent();
  }, 600_000);

  it('registers with the stand-in', () => {
    expect(standIn!.registrations[0]).toMatchObject({ name: 'h1', apiUrl: agentA.apiUrl, address: '127.0.0.1', vms: [] });
  });

  it('ensures a VM whose guest service answers /health; ensure again is the same process', async () => {
    const t0 = performance.now();
    const r = await api(agentA, 'PUT', '/v1/vms/vm1', { kernel: guest.kernel, initrd: guest.initrd });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'vm1', state: 'running', lastError: null });
    expect(r.body.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    vm = r.body;
    expect(await healthy(`${vm.endpoint}/health`, 90_000)).toBe(true);
    console.log(`[measured] agent ensure -> guest /health: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    expect(existsSync(join(runDir, 'disks', 'vm1.qcow2'))).toBe(true);
    const again = await api(agentA, 'PUT', '/v1/vms/vm1', { kernel: guest.kernel, initrd: guest.initrd });
    expect(again.body.pid).toBe(vm.pid);
    expect(qemuPidsFor('vm1')).toEqual([vm.pid]);
  }, 120_000);

  it('GET /load?cpu=50&seconds=20 in the guest shows in the agent\'s samples as 0.5 ± 0.15 cores', async () => {
    const cpuOf = (from: number, to: number) =>
      standIn!.samples.filter((s) => s.vmId === 'vm1' && s.metric === 'cpu_cores' && s.t >= from && s.t <= to).map((s) => s.value);
    await systemClock.sleep(4000);
    const idleFrom = Date.now() / 1000 - 3.5;
    const idle = cpuOf(idleFrom, Date.now() / 1000);
    const start = Date.now() / 1000;
    const r = await fetch(`${vm.endpoint}/load?cpu=50&seconds=20`);
    expect(r.status).toBe(200);
    await systemClock.sleep(21_500);
    // Skip the first 2 s (the guest calibrates its spin rate) and the last second.
    const loaded = cpuOf(start + 2, start + 19);
    const pct = standIn!.samples.filter((s) => s.vmId === 'vm1' && s.metric === 'cpu_pct' && s.t >= start + 2 && s.t <= start + 19).map((s) => s.value);
    console.log(
      `[measured] guest load cpu=50: cpu_cores median ${median(loaded).toFixed(3)} (n=${loaded.length}, min ${Math.min(...loaded).toFixed(3)}, max ${Math.max(...loaded).toFixed(3)}); idle before ${median(idle).toFixed(3)}; cpu_pct median ${median(pct).toFixed(1)} %`,
    );
    expect(loaded.length).toBeGreaterThanOrEqual(12);
    expect(median(loaded)).toBeGreaterThan(0.35);
    expect(median(loaded)).toBeLessThan(0.65);
    expect(median(pct)).toBeCloseTo(median(loaded) * 100, 6); // 1 vCPU
    const metrics = new Set(standIn!.samples.filter((s) => s.vmId === 'vm1').map((s) => s.metric));
    expect([...metrics].sort()).toEqual(['cpu_cores', 'cpu_pct', 'disk_read_bps', 'disk_read_iops', 'disk_write_bps', 'disk_write_iops', 'mem_rss_mib', 'probe_latency_ms', 'probe_ok']);
    const probes = standIn!.samples.filter((s) => s.vmId === 'vm1' && s.metric === 'probe_ok' && s.t >= start);
    expect(probes.every((s) => s.value === 1)).toBe(true);
  }, 60_000);

  it('measures its own sampling cost and interval jitter', async () => {
    const info = (await api(agentA, 'GET', '/v1/info')).body;
    const s = info.sampling;
    console.log(
      `[measured] sampling loop (1 VM, interval 1 s, ${s.passes} passes): agent CPU per VM sampled mean ${s.cpuMsPerVm.mean.toFixed(2)} ms (max ${s.cpuMsPerVm.max.toFixed(2)}), ` +
        `tick jitter p50 ${s.jitterMs.p50} ms p95 ${s.jitterMs.p95} ms max ${s.jitterMs.max} ms, pass wall ${s.passMs} ms, skipped ticks ${s.skippedTicks}`,
    );
    // Back to back, nothing else running in the agent: the cost of one reading + probe.
    const n = 50;
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await agentA.sampler.samplePass();
    const c = process.cpuUsage(c0);
    const perVm = (c.user + c.system) / 1000 / n;
    console.log(`[measured] ${n} back-to-back sampling passes of 1 VM (/proc + QMP query-blockstats + HTTP probe; status cached): ${perVm.toFixed(2)} ms agent CPU per VM sampled`);
    expect(s.passes).toBeGreaterThan(20);
    expect(s.dropped).toBe(0);
    expect(perVm).toBeLessThan(20); // cheap: at a 10 s interval, < 0.2 % of a core per VM
  }, 60_000);

  it('a VM whose kernel path is wrong fails with the tail of QEMU\'s stderr', async () => {
    const r = await api(agentA, 'PUT', '/v1/vms/badk', { kernel: '/nonexistent/vmlinux', initrd: guest.initrd });
    expect(r.status).toBe(502);
    expect(r.body.error.code).toBe('VM_START_FAILED');
    expect(r.body.error.context.stderrTail).toMatch(/could not open kernel file '\/nonexistent\/vmlinux'/);
    const got = await api(agentA, 'GET', '/v1/vms/badk');
    expect(got.body).toMatchObject({ state: 'exited', pid: null, lastError: { code: 'VM_START_FAILED' } });
    expect(got.body.lastError.stderrTail).toMatch(/could not open kernel file '\/nonexistent\/vmlinux'/);
    console.log(`[measured] bad kernel path: ${JSON.stringify(r.body.error.context.stderrTail.trim())}`);
    expect((await api(agentA, 'DELETE', '/v1/vms/badk')).status).toBe(204);
    expect(qemuPidsFor('badk')).toEqual([]);
  }, 60_000);

  it('an agent killed and started again on the same run dir re-adopts the VM: same pid, still serving, no second QEMU', async () => {
    await agentA.crash();
    const regsBefore = standIn!.registrations.length;
    const agentB = await startAgent();
    expect(standIn!.registrations[regsBefore].vms).toEqual([{ id: 'vm1', state: 'running', pid: vm.pid }]);
    const listed = (await api(agentB, 'GET', '/v1/vms')).body.vms;
    expect(listed).toEqual([{ id: 'vm1', state: 'running', pid: vm.pid, endpoint: vm.endpoint, startedAt: vm.startedAt, lastError: null }]);
    expect(await healthy(`${vm.endpoint}/health`, 5000)).toBe(true);
    const again = await api(agentB, 'PUT', '/v1/vms/vm1', { kernel: guest.kernel, initrd: guest.initrd });
    expect(again.body.pid).toBe(vm.pid);
    expect(qemuPidsFor('vm1')).toEqual([vm.pid]);
    // It samples the adopted VM.
    await systemClock.sleep(2500);
    expect(standIn!.samples.some((s) => s.vmId === 'vm1' && s.metric === 'cpu_cores' && s.t > Date.now() / 1000 - 2)).toBe(true);
  }, 60_000);

  it('fences the VM (QMP stop) when the server stops answering for longer than the lease, and keeps it paused after', async () => {
    const agent = agents[agents.length - 1];
    // A short lease: the stand-in forgets the agent once (404), the agent registers again and gets it.
    standIn!.lease = { leaseSeconds: 4, heartbeatSeconds: 1 };
    standIn!.forgetOnce = true;
    const tr = Date.now();
    while (agent.lease.state.heartbeatMs !== 1000 && Date.now() - tr < 10_000) await systemClock.sleep(50);
    expect(agent.lease.state).toMatchObject({ registered: true, leaseMs: 4000, heartbeatMs: 1000 });
    const t0 = Date.now();
    standIn!.mode = 'down';
    let state = 'running';
    while (state === 'running' && Date.now() - t0 < 15_000) {
      await systemClock.sleep(100);
      state = (await api(agent, 'GET', '/v1/vms/vm1')).body.state;
    }
    const fencedAfter = Date.now() - t0;
    console.log(`[measured] fencing: VM paused ${fencedAfter} ms after the server stopped answering (lease 4 s, margin 0.4 s)`);
    expect(state).toBe('paused');
    expect(fencedAfter).toBeGreaterThan(2500);
    expect(fencedAfter).toBeLessThan(4500);
    expect(qemuPidsFor('vm1')).toEqual([vm.pid]); // stopped, not killed
    expect(await healthy(`${vm.endpoint}/health`, 1500)).toBe(false); // vCPUs stopped: no answer
    expect((await api(agent, 'POST', '/v1/vms/vm1/cont')).status).toBe(409);
    standIn!.mode = 'up';
    const t1 = Date.now();
    while (agent.lease.state.fenced && Date.now() - t1 < 10_000) await systemClock.sleep(100);
    expect(agent.lease.state.fenced).toBe(false);
    expect((await api(agent, 'GET', '/v1/vms/vm1')).body.state).toBe('paused');
    expect((await api(agent, 'POST', '/v1/vms/vm1/cont')).body.state).toBe('running');
    expect(await healthy(`${vm.endpoint}/health`, 10_000)).toBe(true);
    standIn!.lease = { leaseSeconds: 30, heartbeatSeconds: 2 };
  }, 60_000);

  it('supervision reports a QEMU killed behind its back as crashed, at once, and does not restart it', async () => {
    const agent = agents[agents.length - 1];
    const hbBefore = standIn!.heartbeats.length;
    process.kill(vm.pid, 'SIGKILL');
    const t0 = Date.now();
    let seen: { state: string } | undefined;
    while (Date.now() - t0 < 10_000) {
      seen = standIn!.heartbeats.slice(hbBefore).flatMap((h) => h.hb.vms).find((v) => v.id === 'vm1' && v.state === 'crashed');
      if (seen) break;
      await systemClock.sleep(50);
    }
    console.log(`[measured] QEMU SIGKILLed -> heartbeat with state crashed: ${Date.now() - t0} ms`);
    expect(seen).toBeDefined();
    expect((await api(agent, 'GET', '/v1/vms/vm1')).body).toMatchObject({ state: 'crashed', pid: null });
    await systemClock.sleep(1500);
    expect(qemuPidsFor('vm1')).toEqual([]);
  }, 30_000);

  it('stop (SIGTERM path) leaves a running VM running', async () => {
    const agent = agents[agents.length - 1];
    const r = await api(agent, 'POST', '/v1/vms/vm1/start');
    expect(r.body.state).toBe('running');
    await agent.stop();
    expect(qemuPidsFor('vm1')).toEqual([r.body.pid]);
  }, 60_000);
});
