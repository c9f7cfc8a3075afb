/**
 * Promotion on the agent (issue 5 §3) with REAL QEMU (TCG), the real lab guest, real
 * qemu-storage-daemon targets and the agent's real sync replication: one agent on loopback runs
 * both the primaries and their shadows (the server is a PROTOCOL STAND-IN for register /
 * heartbeat / samples only; every data-path step is the agent's own).
 *
 *   1. warm: primary + warm shadow, sync mirror, appends, SIGKILL of the primary through the
 *      agent's kill, warm promotion: every acknowledged line is served by the promoted VM; a
 *      restarted old primary gets no new copy (its replication is held); resize by hot-add.
 *   2. live migration into a migrate shadow while appends run: downtime from the events, every
 *      acknowledged line on the other side, the source postmigrate and never resumed.
 *   3. cold: the primary killed, a migrate shadow booted from its target.
 *
 * At most three QEMUs run at once. afterAll kills every QEMU and storage daemon by the pid
 * recorded in the run dir and removes the run dir, also after a failure.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  migrateResultSchema,
  promoteResultSchema,
  replicationStatusSchema,
  resizeResultSchema,
  resumeResultSchema,
  shadowStatusSchema,
  type ReplicationStatus,
  type ShadowStatus,
} from '../src/api/shadow-protocol.js';
import type { Agent } from '../src/agent/index.js';
import { buildImage, ensureHostTools, type GuestImage } from '../src/guest/index.js';
import { isAlive } from '../src/hypervisor/qemu/process.js';
import type { VmEvent } from '../src/hypervisor/types.js';
import { agentApi, startQemuAgent } from './support/agent.js';
import { untilWithin, whenHttpOk } from './support/poll.js';
import { killRecordedQemus } from './support/qemu-cleanup.js';
import { startStandIn, type StandIn } from './support/stand-in.js';
import { capturingLog } from './support/capture-log.js';
import { killTargetDaemons } from './support/target-cleanup.js';

const TOKEN = `promo-test-${process.pid}`;
const ADMIN = 'admin-token-of-the-promotion-test';
const MiB = 1024 * 1024;
const runDir = mkdtempSync(join(tmpdir(), 'upr-')); // short: socket paths must stay < 108 bytes
const agents: Agent[] = [];
const { logged, log } = capturingLog();
let standIn: StandIn | null = null;


afterAll(async () => {
  for (const a of agents) await a.crash().catch(() => undefined);
  killRecordedQemus(runDir);
  killTargetDaemons(runDir);
  await standIn?.close();
  rmSync(runDir, { recursive: true, force: true });
});

const api = agentApi(TOKEN);
const until = untilWithin(90_000, 100);
const health = (url: string, timeoutMs: number) => whenHttpOk(url, timeoutMs, async (r) => (await r.json()) as Record<string, unknown>);

let guest: GuestImage;
let agent: Agent;

/** QEMU processes of VMs alive now (the test keeps at most three). */
function liveQemus(): number {
  const vms = join(runDir, 'vms');
  if (!existsSync(vms)) return 0;
  return readdirSync(vms).filter((id) => {
    const f = join(vms, id, 'process.json');
    return existsSync(f) && isAlive((JSON.parse(readFileSync(f, 'utf8')) as { pid: number }).pid);
  }).length;
}

const SHAPE = { vcpus: 1, maxVcpus: 2, memoryMiB: 128, maxMemoryMiB: 256 };

async function primary(id: string): Promise<string> {
  const r = await api(agent, 'PUT', `/v1/vms/${id}`, { kernel: guest.kernel, initrd: guest.initrd, ...SHAPE, dataDiskMiB: 64 });
  expect(r.status).toBe(200);
  return r.body.endpoint as string;
}

async function shadow(id: string, primaryId: string, flavor: 'warm' | 'migrate'): Promise<ShadowStatus> {
  const r = await api(agent, 'PUT', `/v1/shadows/${id}`, { primaryId, flavor, diskBytes: 64 * MiB, ...SHAPE, kernel: guest.kernel, initrd: guest.initrd, adminToken: ADMIN });
  expect(r.status).toBe(200);
  return shadowStatusSchema.parse(r.body);
}

async function replication(vmId: string): Promise<ReplicationStatus> {
  const r = await api(agent, 'GET', `/v1/vms/${vmId}/replication`);
  expect(r.status).toBe(200);
  return replicationStatusSchema.parse(r.body);
}

async function replicateSync(vmId: string, sh: ShadowStatus): Promise<void> {
  const put = await api(agent, 'PUT', `/v1/vms/${vmId}/replication`, { shadowId: sh.id, target: sh.target, mode: 'sync' });
  expect(put.status).toBe(200);
  await until(`${vmId} replication ready`, async () => (await replication(vmId)).state === 'ready');
}

let seq = 0;
/** Appends one unique line; returns it when acknowledged (200), null otherwise. */
async function append(endpoint: string, timeoutMs = 10_000): Promise<string | null> {
  const line = `promo-${process.pid}-${++seq}-${'y'.repeat(30)}`;
  try {
    const r = await fetch(`${endpoint}/append`, { method: 'POST', body: line, signal: AbortSignal.timeout(timeoutMs) });
    return r.status === 200 ? line : null;
  } catch {
    return null;
  }
}

/** Appends in a loop until `stop()`; resolves to the acknowledged lines. */
function appender(endpoint: string): { stop: () => Promise<string[]> } {
  const acked: string[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const l = await append(endpoint, 3000);
      if (l) acked.push(l);
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return acked;
    },
  };
}

async function logOf(endpoint: string): Promise<string[]> {
  const r = await fetch(`${endpoint}/log`, { signal: AbortSignal.timeout(10_000) });
  expect(r.status).toBe(200);
  return (await r.text()).split('\n').filter(Boolean);
}

/** Every line of `acked` is in `lines`, in the same order. */
function holdsInOrder(lines: string[], acked: string[]): boolean {
  let i = 0;
  for (const l of lines) if (l === acked[i]) i++;
  return i === acked.length;
}

const figures: string[] = [];

describe('promotion on the agent with real QEMU, storage daemons and sync replication', () => {
  beforeAll(async () => {
    await ensureHostTools();
    guest = await buildImage();
    standIn = await startStandIn(TOKEN, { leaseSeconds: 60, heartbeatSeconds: 5 });
    agent = await startQemuAgent({ name: 'h1', serverUrl: standIn.url, token: TOKEN, address: '127.0.0.1', listenPort: 0, runDir, intervalMs: 5000, leaseMs: 60_000 }, agents, log);
  }, 600_000);

  afterAll(() => {
    console.log(`[measured] promotion figures (TCG, 2 shared cores):\n  ${figures.join('\n  ')}`);
  });

  let w: ShadowStatus;
  let wEndpoint: string;

  it('warm: SIGKILL of the primary, warm promotion serves every acknowledged line', async () => {
    const [ep, sh] = await Promise.all([primary('vm1'), shadow('vm1-w', 'vm1', 'warm')]);
    w = sh;
    wEndpoint = sh.vm.endpoint!;
    expect(await health(`${ep}/health`, 90_000)).toMatchObject({ role: 'primary' });
    expect(await health(`${wEndpoint}/health`, 90_000)).toMatchObject({ role: 'standby' });
    // CPU hot-add needs single-threaded TCG: VMs with room for more vCPUs get it.
    for (const pid of [sh.vm.pid!, (await api(agent, 'GET', '/v1/vms/vm1')).body.pid as number]) {
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toMatch(/tcg,tb-size=32,thread=single/);
    }
    await replicateSync('vm1', sh);
    const acked: string[] = [];
    for (let i = 0; i < 10; i++) acked.push((await append(ep))!);
    // Appends keep running up to the kill: whatever was acknowledged must survive.
    const load = appender(ep);
    await new Promise((r) => setTimeout(r, 1500));
    const tKill = performance.now();
    const k = await api(agent, 'POST', '/v1/vms/vm1/kill');
    expect(k.status).toBe(200);
    acked.push(...(await load.stop()));
    expect(acked.every(Boolean)).toBe(true);
    const tCall = performance.now();
    const r = await api(agent, 'POST', '/v1/shadows/vm1-w/promote', { mode: 'warm' });
    expect(r.status).toBe(200);
    const p = promoteResultSchema.parse(r.body);
    expect(p).toMatchObject({ shadowId: 'vm1-w', mode: 'warm', ok: true, error: null, vm: { state: 'running', pid: sh.vm.pid } });
    const killToHealthy = tCall - tKill + p.ms;
    expect(await health(`${wEndpoint}/health`, 5000)).toMatchObject({ role: 'primary' });
    const lines = await logOf(wEndpoint);
    expect(holdsInOrder(lines, acked)).toBe(true);
    figures.push(`warm promotion: promote call ${p.ms} ms; kill -> first good /health (role primary) ${killToHealthy.toFixed(0)} ms; ${acked.length} acknowledged lines all present (log ${lines.length} lines, guest seq ${p.seq})`);
    // The target keeps serving the promoted VM's disk; the shadow reports promoted.
    const st = shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/vm1-w')).body);
    expect(st).toMatchObject({ promoted: true, promotion: { mode: 'warm' }, targetState: 'running', targetPid: sh.targetPid });
    expect(JSON.stringify(logged)).not.toContain(ADMIN);
  }, 240_000);

  it('a promoted shadow refuses a second promotion, a plain delete and a re-ensure; unknown shadows are 404', async () => {
    expect((await api(agent, 'POST', '/v1/shadows/vm1-w/promote', { mode: 'warm' })).body.error.code).toBe('CONFLICT');
    expect((await api(agent, 'POST', '/v1/shadows/nope/promote', { mode: 'cold' })).status).toBe(404);
    expect((await api(agent, 'POST', '/v1/shadows/vm1-w/promote', { mode: 'hot' })).status).toBe(400);
    expect((await api(agent, 'DELETE', '/v1/shadows/vm1-w')).status).toBe(409);
    const again = await api(agent, 'PUT', `/v1/shadows/vm1-w`, { primaryId: 'vm1', flavor: 'warm', diskBytes: 64 * MiB, ...SHAPE, kernel: guest.kernel, initrd: guest.initrd, adminToken: ADMIN });
    expect(again.status).toBe(409);
    expect(shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/vm1-w')).body).vm.pid).toBe(w.vm.pid);
  }, 30_000);

  it('the killed primary\'s replication is held: a new process of it gets no new copy over the promoted disk', async () => {
    const before = await replication('vm1');
    expect(before).toMatchObject({ state: 'stopped' });
    expect(before.held).toMatch(/on purpose/);
    const linesBefore = await logOf(wEndpoint);
    expect((await api(agent, 'POST', '/v1/vms/vm1/start')).status).toBe(200);
    // The supervisor ticks every 500 ms: give it a few passes with the process running.
    await new Promise((r) => setTimeout(r, 3000));
    const after = await replication('vm1');
    expect(after).toMatchObject({ state: 'stopped', generation: before.generation, jobId: null });
    expect(await agent.driver.queryBlockJobs('vm1')).toEqual([]);
    expect((await api(agent, 'POST', '/v1/vms/vm1/kill')).status).toBe(200);
    expect(await logOf(wEndpoint)).toEqual(linesBefore);
  }, 60_000);

  it('resize hot-adds a vCPU and a 128 MiB DIMM to the promoted VM; the guest onlines them', async () => {
    const r = await api(agent, 'POST', '/v1/vms/vm1-w/resize', { vcpus: 2, memoryMiB: 256 });
    expect(r.status).toBe(200);
    const res = resizeResultSchema.parse(r.body);
    expect(res).toMatchObject({ vcpus: 2, memoryMiB: 256, added: { vcpus: 1, memoryMiB: 128 } });
    const t0 = performance.now();
    const h0 = (await health(`${wEndpoint}/health`, 5000))!;
    const online = await until('the guest onlines the vCPU and the DIMM', async () => {
      const h = await health(`${wEndpoint}/health`, 5000);
      return h && h.cpus === 2 && Number(h.mem_kib) > Number(h0.mem_kib) + 100 * 1024 ? h : null;
    }, 30_000);
    figures.push(`resize to 2 vCPUs / 256 MiB: hot-add ${res.ms} ms; guest sees cpus=${online.cpus}, mem ${(Number(online.mem_kib) / 1024).toFixed(0)} MiB (was ${(Number(h0.mem_kib) / 1024).toFixed(0)}) ${(performance.now() - t0).toFixed(0)} ms later`);
    expect((await api(agent, 'POST', '/v1/vms/vm1-w/resize', { vcpus: 3, memoryMiB: 256 })).status).toBe(400);
    expect((await api(agent, 'POST', '/v1/vms/nope/resize', { vcpus: 1, memoryMiB: 128 })).status).toBe(404);
    // The service still answers appends on the promoted disk.
    expect(await append(wEndpoint)).not.toBeNull();
  }, 60_000);

  it('the promoted VM gets a shadow of its own: its NBD-backed disk is mirrored (sync) to a new target, equal at quiesce', async () => {
    const next = await shadow('vm1-w2', 'vm1-w', 'migrate');
    await replicateSync('vm1-w', next);
    const lines = [(await append(wEndpoint))!, (await append(wEndpoint))!];
    const q = await api(agent, 'POST', '/v1/vms/vm1-w/quiesce', { maxPauseMs: 30_000 });
    expect(q.body).toMatchObject({ caughtUp: true });
    const [a, b] = await Promise.all([api(agent, 'GET', '/v1/vms/vm1-w/disk-digest'), api(agent, 'GET', '/v1/shadows/vm1-w2/disk-digest')]);
    expect((await api(agent, 'POST', '/v1/vms/vm1-w/unquiesce')).status).toBe(200);
    expect(a.status).toBe(200);
    expect(a.body.digest).toBe(b.body.digest);
    expect(holdsInOrder(await logOf(wEndpoint), lines)).toBe(true);
    expect((await api(agent, 'DELETE', '/v1/vms/vm1-w/replication')).status).toBe(204);
    expect((await api(agent, 'DELETE', '/v1/shadows/vm1-w2')).status).toBe(204);
  }, 120_000);

  it('DELETE ?promoted=kill releases the promoted VM', async () => {
    expect((await api(agent, 'DELETE', '/v1/shadows/vm1-w?promoted=kill')).status).toBe(204);
    expect(isAlive(w.vm.pid!)).toBe(false);
    expect(isAlive(w.targetPid!)).toBe(false);
    expect((await api(agent, 'DELETE', '/v1/vms/vm1')).status).toBe(204);
    expect(liveQemus()).toBe(0);
  }, 30_000);

  it('live migration into a migrate shadow while appends run: every acknowledged line arrives, the source is postmigrate', async () => {
    const [ep, sh] = await Promise.all([primary('vm2'), shadow('vm2-m', 'vm2', 'migrate')]);
    expect(sh.vm.state).toBe('inmigrate');
    expect(await health(`${ep}/health`, 90_000)).toMatchObject({ role: 'primary' });
    await replicateSync('vm2', sh);
    const acked: string[] = [];
    for (let i = 0; i < 10; i++) acked.push((await append(ep))!);
    const inc = await api(agent, 'POST', '/v1/shadows/vm2-m/incoming', {});
    expect(inc.status).toBe(200);
    expect(inc.body.uri).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    expect((await api(agent, 'POST', '/v1/shadows/vm2-m/incoming', {})).body.uri).toBe(inc.body.uri);
    const events: VmEvent[] = [];
    const off = agent.driver.subscribe((ev) => events.push(ev), { types: ['STOP', 'RESUME', 'MIGRATION'] });
    const load = appender(ep);
    await new Promise((r) => setTimeout(r, 1000));
    const m = await api(agent, 'POST', '/v1/vms/vm2/migrate', { uri: inc.body.uri });
    expect(m.status).toBe(200);
    const res = migrateResultSchema.parse(m.body);
    expect(res).toMatchObject({ vmId: 'vm2', ok: true, status: 'completed', error: null, handOver: { caughtUp: true } });
    const rs = await api(agent, 'POST', '/v1/shadows/vm2-m/resume', { timeoutMs: 10_000 });
    const resumed = resumeResultSchema.parse(rs.body);
    expect(resumed).toMatchObject({ ok: true, vm: { state: 'running', pid: sh.vm.pid } });
    acked.push(...(await load.stop()));
    off();
    const stop = events.find((e) => e.vmId === 'vm2' && e.type === 'STOP');
    const resume = events.find((e) => e.vmId === 'vm2-m' && e.type === 'RESUME');
    expect(stop && resume).toBeTruthy();
    const gap = resume!.atMs - stop!.atMs;
    expect(resumed.resumedAt).toBe(resume!.atMs);
    expect(res.stoppedAt).toBe(stop!.atMs);
    figures.push(
      `live migration (128 MiB guest): total ${res.totalMs} ms; source STOP -> completed ${res.downtimeMs} ms (hand-over of the mirror ${res.handOver!.ms} ms); source STOP -> shadow RESUME ${gap.toFixed(1)} ms; ${acked.length} acknowledged lines`,
    );
    expect(await health(`${sh.vm.endpoint}/health`, 10_000)).toMatchObject({ role: 'primary' });
    const lines = await logOf(sh.vm.endpoint!);
    expect(holdsInOrder(lines, acked)).toBe(true);
    expect(await append(sh.vm.endpoint!)).not.toBeNull();
    // The source: postmigrate, never resumed; its replication is gone.
    expect((await api(agent, 'GET', '/v1/vms/vm2')).body.state).toBe('postmigrate');
    expect((await api(agent, 'POST', '/v1/vms/vm2/cont')).status).toBe(409);
    expect((await api(agent, 'GET', '/v1/vms/vm2/replication')).status).toBe(404);
    expect(shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/vm2-m')).body)).toMatchObject({ promoted: true, promotion: { mode: 'migrate', at: resume!.atMs } });
    expect((await api(agent, 'POST', '/v1/vms/vm2/kill')).status).toBe(200);
    expect((await api(agent, 'DELETE', '/v1/shadows/vm2-m?promoted=kill')).status).toBe(204);
    expect((await api(agent, 'DELETE', '/v1/vms/vm2')).status).toBe(204);
    expect(liveQemus()).toBe(0);
  }, 240_000);

  it('cold: the primary killed, its migrate shadow boots from the target with every line', async () => {
    const [ep, sh] = await Promise.all([primary('vm3'), shadow('vm3-m', 'vm3', 'migrate')]);
    expect(await health(`${ep}/health`, 90_000)).toMatchObject({ role: 'primary' });
    await replicateSync('vm3', sh);
    const acked: string[] = [];
    for (let i = 0; i < 10; i++) acked.push((await append(ep))!);
    const load = appender(ep);
    await new Promise((r) => setTimeout(r, 1000));
    const tKill = performance.now();
    expect((await api(agent, 'POST', '/v1/vms/vm3/kill')).status).toBe(200);
    acked.push(...(await load.stop()));
    const tCall = performance.now();
    const r = await api(agent, 'POST', '/v1/shadows/vm3-m/promote', { mode: 'cold', bootTimeoutMs: 90_000 });
    expect(r.status).toBe(200);
    const p = promoteResultSchema.parse(r.body);
    expect(p).toMatchObject({ shadowId: 'vm3-m', mode: 'cold', ok: true, error: null, vm: { state: 'running' } });
    expect(p.vm.pid).not.toBe(sh.vm.pid);
    expect(isAlive(sh.vm.pid!)).toBe(false);
    const lines = await logOf(p.vm.endpoint!);
    expect(holdsInOrder(lines, acked)).toBe(true);
    figures.push(`cold promotion: boot to /health primary ${p.ms} ms; kill -> first good /health ${(tCall - tKill + p.ms).toFixed(0)} ms; ${acked.length} acknowledged lines all present`);
    expect(liveQemus()).toBeLessThanOrEqual(3);
  }, 240_000);
});
