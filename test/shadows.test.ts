/**
 * The shadow side of the data path (src/agent/shadows/) in a real agent, on REAL QEMU (TCG),
 * the real lab guest and a real qemu-storage-daemon per target. The server is a PROTOCOL
 * STAND-IN on loopback (register, heartbeat, samples; bodies validated against the protocol);
 * the NBD clients writing into targets are real (qemu-io, qemu-img). Nothing else is faked.
 *
 * At most three QEMUs run at once (warm shadow, migrate shadow, one throwaway rehearsal VM).
 * afterAll kills every QEMU and storage daemon by the pid recorded in the run dir and removes
 * the run dir, also after a failure.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskDigestSchema, rehearsalResultSchema, shadowStatusSchema, type ShadowStatus } from '../src/api/shadow-protocol.js';
import type { Agent } from '../src/agent/index.js';
import { buildImage, ensureHostTools, type GuestImage } from '../src/guest/index.js';
import { isAlive } from '../src/hypervisor/qemu/process.js';
import { digestFile } from '../src/storage/digest.js';
import { agentApi, startQemuAgent } from './support/agent.js';
import { whenHttpOk } from './support/poll.js';
import { killRecordedQemus } from './support/qemu-cleanup.js';
import { startStandIn, type StandIn } from './support/stand-in.js';
import { capturingLog } from './support/capture-log.js';
import { killTargetDaemons } from './support/target-cleanup.js';

const run = promisify(execFile);
const TOKEN = `shadow-test-${process.pid}`;
const ADMIN = 'admin-token-for-the-shadow-test';
const MiB = 1024 * 1024;
const DISK = 64 * MiB;
const LINE = 'written-before-replication';
const runDir = mkdtempSync(join(tmpdir(), 'ush-')); // short: socket paths must stay < 108 bytes
const agents: Agent[] = [];
/** What the agents logged at info level and above (fields only: no secrets are logged). */
const { logged, log } = capturingLog();
let standIn: StandIn | null = null;


afterAll(async () => {
  for (const a of agents) await a.crash().catch(() => undefined);
  killRecordedQemus(runDir);
  killTargetDaemons(runDir);
  await standIn?.close();
  rmSync(runDir, { recursive: true, force: true });
});

async function startAgent(): Promise<Agent> {
  return startQemuAgent({ name: 'h2', serverUrl: standIn!.url, token: TOKEN, address: '127.0.0.1', listenPort: 0, runDir, intervalMs: 5000, leaseMs: 60_000 }, agents, log);
}

const api = agentApi(TOKEN);

/** Polls `url` until it answers 200; returns the JSON body (or null on timeout). */
const health = (url: string, timeoutMs: number) => whenHttpOk(url, timeoutMs, async (r) => (await r.json()) as Record<string, unknown>);

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const nbdUrl = (t: ShadowStatus['target']) => `nbd://${t.host}:${t.port}/${t.export}`;

async function nbdWrite(t: ShadowStatus['target'], offset: number, len: number, byte: number): Promise<void> {
  const { stdout } = await run('qemu-io', ['-f', 'raw', '-c', `write -P 0x${byte.toString(16)} ${offset} ${len}`, nbdUrl(t)]);
  expect(stdout).toMatch(/wrote \d+\/\d+ bytes/);
}

async function nbdHolds(t: ShadowStatus['target'], offset: number, len: number, byte: number): Promise<boolean> {
  const { stdout } = await run('qemu-io', ['-r', '-f', 'raw', '-c', `read -P 0x${byte.toString(16)} ${offset} ${len}`, nbdUrl(t)]);
  expect(stdout).toMatch(/read \d+\/\d+ bytes/);
  return !/Pattern verification failed/.test(stdout);
}

/** Copies a raw image into a target through its NBD export (as a replication's full copy would). */
async function nbdCopy(src: string, t: ShadowStatus['target']): Promise<void> {
  await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', src, nbdUrl(t)]);
}

function shadowSpec(id: string, flavor: 'warm' | 'migrate') {
  return { primaryId: 'vm1', flavor, diskBytes: DISK, vcpus: 1, maxVcpus: 1, memoryMiB: 128, maxMemoryMiB: 128, kernel: guest.kernel, initrd: guest.initrd, adminToken: ADMIN };
}

let guest: GuestImage;
let agent: Agent;
let fsImage: string;
let warm: ShadowStatus;
let mig: ShadowStatus;

describe('shadow side of the data path with real QEMU and qemu-storage-daemon', () => {
  beforeAll(async () => {
    await ensureHostTools();
    guest = await buildImage();
    standIn = await startStandIn(TOKEN, { leaseSeconds: 60, heartbeatSeconds: 5 });
    agent = await startAgent();
    // A data disk as the lab guest leaves it: ext4 holding a log with one line. Made on the host
    // (mkfs.ext4 + debugfs, no mount) so the test does not spend a boot on it.
    fsImage = join(runDir, 'fs.raw');
    writeFileSync(join(runDir, 'log'), `${LINE}\n`);
    await run('truncate', ['-s', String(DISK), fsImage]);
    await run('mkfs.ext4', ['-q', '-F', '-L', 'umbra-data', fsImage]);
    await run('debugfs', ['-w', '-R', `write ${join(runDir, 'log')} log`, fsImage]);
  }, 600_000);

  it('ensures a warm shadow: target exported on the agent address, guest up in standby; ensure again is the same processes', async () => {
    const t0 = performance.now();
    const r = await api(agent, 'PUT', '/v1/shadows/s-warm', shadowSpec('s-warm', 'warm'));
    const ensureMs = performance.now() - t0;
    expect(r.status).toBe(200);
    warm = shadowStatusSchema.parse(r.body);
    expect(warm).toMatchObject({ id: 's-warm', flavor: 'warm', targetState: 'running', targetRestarts: 0, vm: { state: 'running' }, lastError: null });
    expect(warm.target).toMatchObject({ host: '127.0.0.1', export: 's-warm' });
    expect(isAlive(warm.targetPid!)).toBe(true);
    const h = await health(`${warm.vm.endpoint}/health`, 90_000);
    const readyMs = performance.now() - t0;
    expect(h).toMatchObject({ status: 'ok', role: 'standby' });
    console.log(`[measured] warm shadow: PUT (daemon + QEMU up) ${ensureMs.toFixed(0)} ms; guest /health in standby ${(readyMs / 1000).toFixed(2)} s after the PUT`);
    const again = await api(agent, 'PUT', '/v1/shadows/s-warm', shadowSpec('s-warm', 'warm'));
    expect([again.body.targetPid, again.body.vm.pid]).toEqual([warm.targetPid, warm.vm.pid]);
    const list = await api(agent, 'GET', '/v1/shadows');
    expect(list.body.shadows.map((s: ShadowStatus) => s.id)).toEqual(['s-warm']);
  }, 120_000);

  it('the export is writable over NBD and the digest route follows the target file', async () => {
    const file = join(runDir, 'targets', 's-warm', 'disk.raw');
    const zeros = diskDigestSchema.parse((await api(agent, 'GET', '/v1/shadows/s-warm/disk-digest')).body);
    expect(zeros).toMatchObject({ sizeBytes: DISK, chunkBytes: MiB });
    const mine = await digestFile(file, DISK, MiB);
    expect(zeros.digest).toBe(mine.digest);
    await nbdWrite(warm.target, 5 * MiB, MiB, 0x5a);
    const after = diskDigestSchema.parse((await api(agent, 'GET', '/v1/shadows/s-warm/disk-digest')).body);
    expect(after.chunks[5]).toBe(createHash('sha256').update(Buffer.alloc(MiB, 0x5a)).digest('hex'));
    expect(after.chunks.filter((c, i) => c !== zeros.chunks[i])).toHaveLength(1);
    const coarse = (await api(agent, 'GET', '/v1/shadows/s-warm/disk-digest?chunk=8388608')).body;
    expect(coarse.chunks).toHaveLength(8);
    expect((await api(agent, 'GET', '/v1/shadows/s-warm/disk-digest?chunk=7')).status).toBe(400);
    // A replication's full copy: the target then holds exactly the source's bytes.
    await nbdCopy(fsImage, warm.target);
    const copied = (await api(agent, 'GET', '/v1/shadows/s-warm/disk-digest')).body;
    expect(copied.digest).toBe((await digestFile(fsImage, DISK, MiB)).digest);
    console.log(`[measured] digest of a ${DISK / MiB} MiB target through the route: ${copied.ms} ms`);
  }, 60_000);

  it('a killed storage daemon is restarted by the agent on the same file and port; the warm shadow then promotes from it', async () => {
    process.kill(warm.targetPid!, 'SIGKILL');
    const t0 = performance.now();
    const st = await waitFor(
      async () => shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/s-warm')).body),
      (s) => s.targetRestarts >= 1,
      15_000,
    );
    console.log(`[measured] dead target restarted by the agent: seen ${(performance.now() - t0).toFixed(0)} ms after SIGKILL`);
    expect(st.targetRestarts).toBe(1);
    expect(st.target).toEqual(warm.target);
    expect(st.targetPid).not.toBe(warm.targetPid);
    expect(['restarted', 'running']).toContain(st.targetState);
    expect(shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/s-warm')).body).targetState).toBe('running');
    expect((await api(agent, 'GET', '/v1/shadows/s-warm/disk-digest')).body.digest).toBe((await digestFile(fsImage, DISK, MiB)).digest);
    expect(st.vm.pid).toBe(warm.vm.pid); // the shadow VM was not touched
    // The shadow's NBD client reconnects to the restarted daemon: promotion mounts the copy.
    const p = await fetch(`${warm.vm.endpoint}/admin/promote?dev=vda`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(p.status).toBe(200);
    expect(await health(`${warm.vm.endpoint}/health`, 10_000)).toMatchObject({ role: 'primary' });
    expect(await (await fetch(`${warm.vm.endpoint}/log`)).text()).toBe(`${LINE}\n`);
    warm = st;
  }, 60_000);

  it('rehearsing a warm shadow runs the task in the live shadow; command tasks are refused clearly', async () => {
    const probe = rehearsalResultSchema.parse((await api(agent, 'POST', '/v1/shadows/s-warm/rehearse', {})).body);
    expect(probe).toMatchObject({ where: 'in-shadow', ok: true, timeToReadyMs: null, error: null });
    const task = rehearsalResultSchema.parse((await api(agent, 'POST', '/v1/shadows/s-warm/rehearse', { task: { http: { path: '/log' } } })).body);
    expect(task).toMatchObject({ ok: true, task: { ok: true, status: 200, output: `${LINE}\n` } });
    const cmd = rehearsalResultSchema.parse((await api(agent, 'POST', '/v1/shadows/s-warm/rehearse', { task: { command: { argv: ['true'] } } })).body);
    expect(cmd.ok).toBe(false);
    expect(cmd.error).toMatch(/guest exec channel/);
  }, 60_000);

  it('ensures a migrate shadow as a paused incoming QEMU on its target', async () => {
    const t0 = performance.now();
    const r = await api(agent, 'PUT', '/v1/shadows/s-mig', shadowSpec('s-mig', 'migrate'));
    const ms = performance.now() - t0;
    expect(r.status).toBe(200);
    mig = shadowStatusSchema.parse(r.body);
    expect(mig).toMatchObject({ flavor: 'migrate', targetState: 'running', vm: { state: 'inmigrate' } });
    console.log(`[measured] migrate shadow: PUT (daemon + paused incoming QEMU) ${ms.toFixed(0)} ms`);
    await nbdCopy(fsImage, mig.target);
  }, 60_000);

  it('a restarted agent finds both shadows again without restarting anything', async () => {
    await agent.crash();
    agent = await startAgent();
    const w = shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/s-warm')).body);
    const m = shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/s-mig')).body);
    expect(w).toMatchObject({ targetPid: warm.targetPid, targetRestarts: 1, targetState: 'running', vm: { state: 'running', pid: warm.vm.pid } });
    expect(m).toMatchObject({ targetPid: mig.targetPid, targetRestarts: 0, vm: { state: 'inmigrate', pid: mig.vm.pid } });
  }, 60_000);

  it('rehearsing a migrate shadow boots a throwaway copy from a point-in-time export while the target keeps taking writes', async () => {
    const writes = (async () => {
      // Writes into the live target during the rehearsal (its last MiB): the export stays up.
      for (let i = 0; i < 5; i++) {
        await nbdWrite(mig.target, DISK - MiB, MiB, 0x70 + i);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    const t0 = performance.now();
    const r = await api(agent, 'POST', '/v1/shadows/s-mig/rehearse', { task: { http: { path: '/log' } }, bootTimeoutMs: 90_000 });
    const totalMs = performance.now() - t0;
    await writes;
    expect(r.status).toBe(200);
    const res = rehearsalResultSchema.parse(r.body);
    expect(res).toMatchObject({ shadowId: 's-mig', flavor: 'migrate', where: 'pit-copy', ok: true, error: null, task: { ok: true, status: 200, output: `${LINE}\n` } });
    expect(res.timeToReadyMs).toBeGreaterThan(0);
    const line = logged.find((l) => l.msg === 'point-in-time copy rehearsed');
    expect(line?.fields).toMatchObject({ shadowId: 's-mig', vmId: 's-mig-r1', timeToReadyMs: res.timeToReadyMs });
    console.log(`[measured] migrate rehearsal: point-in-time export set up in ${line?.fields.pitSetupMs} ms; copy ready (probe 200) ${res.timeToReadyMs} ms after its start; whole rehearsal ${totalMs.toFixed(0)} ms`);
    const after = shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/s-mig')).body);
    expect(after).toMatchObject({ targetPid: mig.targetPid, targetRestarts: 0, vm: { state: 'inmigrate', pid: mig.vm.pid } });
    await nbdWrite(mig.target, DISK - MiB, MiB, 0x7f);
    expect(await nbdHolds(mig.target, DISK - MiB, MiB, 0x7f)).toBe(true);
    // The throwaway VM, its run dir and the point-in-time export are gone.
    expect(existsSync(join(runDir, 'vms', 's-mig-r1'))).toBe(false);
    expect(readdirSync(join(runDir, 'targets', 's-mig')).filter((f) => f.startsWith('pit-'))).toEqual([]);
    const rec = JSON.parse(readFileSync(join(runDir, 'agent', 'shadows', 's-mig.json'), 'utf8'));
    expect(rec).toMatchObject({ rehearsals: 1, rehearsing: null });
  }, 150_000);

  it('delete kills the VMs, stops the daemons and removes every file', async () => {
    const w = shadowStatusSchema.parse((await api(agent, 'GET', '/v1/shadows/s-warm')).body);
    for (const [id, s] of [['s-warm', w], ['s-mig', mig]] as const) {
      expect((await api(agent, 'DELETE', `/v1/shadows/${id}`)).status).toBe(204);
      expect(isAlive(s.targetPid!)).toBe(false);
      expect(isAlive(s.vm.pid!)).toBe(false);
      expect(existsSync(join(runDir, 'targets', id))).toBe(false);
      expect(existsSync(join(runDir, 'vms', id))).toBe(false);
      expect(existsSync(join(runDir, 'agent', 'shadows', `${id}.json`))).toBe(false);
      expect((await api(agent, 'GET', `/v1/shadows/${id}`)).status).toBe(404);
    }
    expect((await api(agent, 'GET', '/v1/shadows')).body).toEqual({ shadows: [] });
    expect(JSON.stringify(logged)).not.toContain(ADMIN); // the admin token is never logged
  }, 60_000);
});
