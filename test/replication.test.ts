/**
 * Primary-side shadow replication (src/agent/replication/) against REAL QEMU (TCG), the real lab
 * guest and a real target: `qemu-storage-daemon` exporting a raw file over NBD on loopback, as
 * a shadow host would. The agent talks to a protocol stand-in server (register / heartbeat /
 * samples only); everything on the data path is real.
 *
 * At most one VM QEMU and one storage daemon run at once. Every QEMU is killed by the pid in
 * its run dir and the daemon by its pid in afterAll, also after a failure; the temp dir goes.
 */
import { killRecordedQemus } from './support/qemu-cleanup.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/clock.js';
import { diskDigestSchema, quiesceReplySchema, replicationStatusSchema, type ReplicationStatus } from '../src/api/shadow-protocol.js';
import type { Agent, AgentConfig } from '../src/agent/index.js';
import { buildImage, ensureHostTools, type GuestImage } from '../src/guest/index.js';
import { agentApi, startQemuAgent } from './support/agent.js';
import { freePort } from './support/net.js';
import { healthy } from './support/poll.js';
import { startStandIn, type StandIn } from './support/stand-in.js';

const TOKEN = `repl-test-${process.pid}`;
const runDir = mkdtempSync(join(tmpdir(), 'urp-')); // short: QMP socket paths must stay < 108 bytes
const targetFile = join(runDir, 'shadow.raw');
const MiB = 1024 * 1024;
const agents: Agent[] = [];
let daemon: ChildProcess | null = null;
let standIn: StandIn | null = null;

afterAll(async () => {
  for (const a of agents) await a.crash().catch(() => undefined);
  killRecordedQemus(runDir);
  if (daemon?.pid) killPid(daemon.pid);
  await standIn?.close();
  rmSync(runDir, { recursive: true, force: true });
});

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** The shadow side: qemu-storage-daemon exporting `targetFile` writable over NBD (argv array, never a shell). */
async function startDaemon(port: number): Promise<ChildProcess> {
  const child = spawn(
    'qemu-storage-daemon',
    [
      '--blockdev', `driver=file,node-name=f0,filename=${targetFile}`,
      '--blockdev', 'driver=raw,node-name=s0,file=f0',
      '--nbd-server', `addr.type=inet,addr.host=127.0.0.1,addr.port=${port}`,
      '--export', 'type=nbd,id=e0,node-name=s0,name=s0,writable=on',
    ],
    { stdio: 'ignore' },
  );
  daemon = child;
  const end = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`qemu-storage-daemon did not listen on ${port}`);
    await systemClock.sleep(20);
  }
  return child;
}

async function stopDaemon(): Promise<void> {
  const d = daemon;
  if (!d?.pid) return;
  const exited = new Promise<void>((r) => (d.exitCode !== null || d.signalCode !== null ? r() : d.once('exit', () => r())));
  killPid(d.pid);
  await exited;
  daemon = null;
}

async function startAgent(serverUrl: string): Promise<Agent> {
  const cfg: AgentConfig = { name: 'h1', serverUrl, token: TOKEN, address: '127.0.0.1', listenPort: 0, runDir, intervalMs: 5000, leaseMs: 60_000 };
  return startQemuAgent(cfg, agents);
}

const api = agentApi(TOKEN);

async function status(agent: Agent): Promise<ReplicationStatus> {
  const r = await api(agent, 'GET', '/v1/vms/vm1/replication');
  expect(r.status).toBe(200);
  return replicationStatusSchema.parse(r.body);
}

async function until(agent: Agent, pred: (s: ReplicationStatus) => boolean, timeoutMs: number, what: string, tick?: () => Promise<void>): Promise<ReplicationStatus> {
  const end = Date.now() + timeoutMs;
  let last: ReplicationStatus | null = null;
  while (Date.now() < end) {
    last = await status(agent);
    if (pred(last)) return last;
    await tick?.();
    await systemClock.sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; last ${JSON.stringify(last)}`);
}

let appended = 0;
/** Appends a unique line through the guest service (acknowledged once fsynced in the guest). */
async function append(endpoint: string): Promise<string> {
  const line = `umbra-repl-line-${process.pid}-${++appended}-${'x'.repeat(40)}`;
  const r = await fetch(`${endpoint}/append`, { method: 'POST', body: line, signal: AbortSignal.timeout(10_000) });
  expect(r.status).toBe(200);
  return line;
}

/** sha256 per 1 MiB chunk of the target's raw file, read directly. */
function targetChunks(): { sizeBytes: number; chunks: string[]; buf: Buffer } {
  const buf = readFileSync(targetFile);
  const chunks: string[] = [];
  for (let off = 0; off < buf.length; off += MiB) chunks.push(createHash('sha256').update(buf.subarray(off, Math.min(buf.length, off + MiB))).digest('hex'));
  return { sizeBytes: buf.length, chunks, buf };
}

/** Quiesce, compare the primary's digest (agent route) with the target file, unquiesce. Returns the figures. */
async function quiescedCompare(agent: Agent, endpoint: string, mustContain: string[]) {
  const q = await api(agent, 'POST', '/v1/vms/vm1/quiesce', { maxPauseMs: 30_000 });
  expect(q.status).toBe(200);
  const reply = quiesceReplySchema.parse(q.body);
  expect(reply.caughtUp).toBe(true);
  const t0 = performance.now();
  const d = await api(agent, 'GET', '/v1/vms/vm1/disk-digest');
  const routeMs = performance.now() - t0;
  expect(d.status).toBe(200);
  const primary = diskDigestSchema.parse(d.body);
  const target = targetChunks();
  expect(primary.sizeBytes).toBe(target.sizeBytes);
  expect(primary.chunkBytes).toBe(MiB);
  const differing = primary.chunks.map((c, i) => (c === target.chunks[i] ? -1 : i)).filter((i) => i >= 0);
  expect(differing).toEqual([]);
  for (const line of mustContain) expect(target.buf.includes(line)).toBe(true);
  const u = await api(agent, 'POST', '/v1/vms/vm1/unquiesce');
  expect(u.status).toBe(200);
  expect(u.body.pauseMs).toBeGreaterThan(0);
  expect(await healthy(`${endpoint}/health`, 10_000)).toBe(true);
  return { catchUpMs: reply.catchUpMs, digestMs: primary.ms, routeMs, pauseMs: u.body.pauseMs as number };
}

let guest: GuestImage;
let agent: Agent;
let serverUrl: string;
let endpoint: string;
let daemonPort: number;

describe('primary-side replication with real QEMU (TCG) and a qemu-storage-daemon target', () => {
  beforeAll(async () => {
    await ensureHostTools();
    guest = await buildImage();
    standIn = await startStandIn(TOKEN, { leaseSeconds: 60, heartbeatSeconds: 5 });
    serverUrl = standIn.url;
    agent = await startAgent(serverUrl);
  }, 600_000);

  it('ensures the VM; its guest answers', async () => {
    const r = await api(agent, 'PUT', '/v1/vms/vm1', { kernel: guest.kernel, initrd: guest.initrd });
    expect(r.status).toBe(200);
    endpoint = r.body.endpoint;
    expect(await healthy(`${endpoint}/health`, 90_000)).toBe(true);
    // The target: a raw file of the data disk's virtual size.
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-U', join(runDir, 'disks', 'vm1.qcow2')], { encoding: 'utf8' }));
    expect(info['virtual-size']).toBe(64 * MiB);
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', targetFile, String(info['virtual-size'])]);
    daemonPort = await freePort();
    await startDaemon(daemonPort);
  }, 120_000);

  it('rejects bad requests with typed errors', async () => {
    expect((await api(agent, 'GET', '/v1/vms/vm1/replication')).body.error.code).toBe('NOT_FOUND');
    expect((await api(agent, 'GET', '/v1/vms/nope/replication')).body.error.code).toBe('VM_NOT_FOUND');
    const bad = await api(agent, 'PUT', '/v1/vms/vm1/replication', { shadowId: 'vm1-s1', target: { host: '127.0.0.1', port: 0, export: 's0' }, mode: 'mirror' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.context.issues.map((i: { path: string }) => i.path).sort()).toEqual(['mode', 'target.port']);
  });

  it('sync: full copy to ready; acknowledged appends are on the target at quiesce (equal digests)', async () => {
    const t0 = performance.now();
    const put = await api(agent, 'PUT', '/v1/vms/vm1/replication', { shadowId: 'vm1-s1', target: { host: '127.0.0.1', port: daemonPort, export: 's0' }, mode: 'sync' });
    expect(put.status).toBe(200);
    expect(replicationStatusSchema.parse(put.body)).toMatchObject({ generation: 1, jobId: 'repl-g1', mode: 'sync' });
    const ready = await until(agent, (s) => s.state === 'ready', 60_000, 'sync ready');
    console.log(
      `[measured] sync mirror, 64 MiB qcow2 data disk: PUT -> ready ${(performance.now() - t0).toFixed(0)} ms; initial copy ${(ready.initialCopyBytesPerSec! / MiB).toFixed(1)} MiB/s (job len ${(ready.len / MiB).toFixed(1)} MiB, start->ready ${ready.readyAt! - ready.startedAt!} ms)`,
    );
    expect(ready.initialCopyBytesPerSec).toBeGreaterThan(0);
    expect(ready.lagBytes).toBe(0);
    const lines: string[] = [];
    for (let i = 0; i < 20; i++) lines.push(await append(endpoint));
    const after = await status(agent);
    expect(after).toMatchObject({ state: 'ready', generation: 1 });
    const f = await quiescedCompare(agent, endpoint, lines);
    console.log(`[measured] sync quiesce: catch-up ${f.catchUpMs} ms; disk digest of the 64 MiB disk ${f.digestMs} ms (route ${f.routeMs.toFixed(0)} ms); pause ${f.pauseMs} ms`);
  }, 120_000);

  it('async: background mirror; lag measured while the guest writes; caught up at quiesce', async () => {
    const spec = { shadowId: 'vm1-s1', target: { host: '127.0.0.1', port: daemonPort, export: 's0' }, mode: 'async' };
    const put = await api(agent, 'PUT', '/v1/vms/vm1/replication', spec);
    expect(put.body).toMatchObject({ generation: 2, mode: 'async' });
    await until(agent, (s) => s.state === 'ready' && s.generation === 2, 60_000, 'async ready');
    // A speed limit (applied to the live job, same generation) makes the background lag visible.
    const slow = await api(agent, 'PUT', '/v1/vms/vm1/replication', { ...spec, speedBytesPerSec: 64 * 1024 });
    expect(slow.body).toMatchObject({ generation: 2, state: 'ready' });
    expect((await agent.driver.queryBlockJobs('vm1'))[0]).toMatchObject({ jobId: 'repl-g2', speed: 64 * 1024 });
    const seen: ReplicationStatus[] = [];
    let writing = true;
    const lines: string[] = [];
    const writer = (async () => {
      for (let i = 0; i < 30; i++) lines.push(await append(endpoint));
      writing = false;
    })();
    while (writing) {
      seen.push(await status(agent));
      await systemClock.sleep(20);
    }
    await writer;
    const maxBytes = Math.max(...seen.map((s) => s.lagBytes));
    const maxSecs = Math.max(...seen.map((s) => s.lagSeconds));
    console.log(`[measured] async mirror limited to 64 KiB/s while appending 30 lines: ${seen.length} status reads, lagBytes > 0 in ${seen.filter((s) => s.lagBytes > 0).length}, max lagBytes ${maxBytes}, max lagSeconds ${maxSecs.toFixed(3)}`);
    expect(seen.every((s) => s.state === 'ready' && s.generation === 2)).toBe(true);
    expect(seen.every((s) => s.lagBytes >= 0 && s.lagSeconds >= 0)).toBe(true);
    expect(seen.every((s) => s.lagBytes > 0 || s.lagSeconds === 0)).toBe(true); // caught up: no lag seconds
    expect(maxSecs).toBeLessThan(10);
    expect(seen.some((s) => s.lagBytes > 0)).toBe(true); // at 64 KiB/s the mirror copies one 64 KiB chunk a second
    // Unlimited again (live): it catches up.
    await api(agent, 'PUT', '/v1/vms/vm1/replication', spec);
    expect((await agent.driver.queryBlockJobs('vm1'))[0].speed).toBe(0);
    const f = await quiescedCompare(agent, endpoint, lines);
    console.log(`[measured] async quiesce: catch-up ${f.catchUpMs} ms; digest ${f.digestMs} ms`);
  }, 120_000);

  it('periodic: a full copy, then rounds every interval carry the appended data', async () => {
    const put = await api(agent, 'PUT', '/v1/vms/vm1/replication', { shadowId: 'vm1-s1', target: { host: '127.0.0.1', port: daemonPort, export: 's0' }, mode: 'periodic', intervalSeconds: 1 });
    expect(put.body).toMatchObject({ generation: 3, mode: 'periodic' });
    const ready = await until(agent, (s) => s.state === 'ready' && s.generation === 3, 60_000, 'periodic ready');
    console.log(`[measured] periodic full backup: ${(ready.initialCopyBytesPerSec! / MiB).toFixed(1)} MiB/s`);
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) lines.push(await append(endpoint));
    const base = (await status(agent)).rounds;
    // Two more rounds: the second one started after every append was acknowledged.
    const later = await until(agent, (s) => s.rounds >= base + 2 && s.jobId === null, 30_000, 'two rounds');
    expect(later.lastRoundMs).not.toBeNull();
    expect(later.lastRoundAt).toBeGreaterThan(ready.readyAt!);
    const buf = readFileSync(targetFile);
    for (const l of lines) expect(buf.includes(l)).toBe(true);
    console.log(`[measured] periodic rounds (interval 1 s): ${later.rounds} rounds, last ${later.lastRoundMs} ms, lagBytes ${later.lagBytes}`);
    const more = [await append(endpoint)];
    const f = await quiescedCompare(agent, endpoint, more);
    console.log(`[measured] periodic quiesce (one incremental round while paused): catch-up ${f.catchUpMs} ms; digest ${f.digestMs} ms`);
  }, 120_000);

  it('a killed target: error with the reason, retries while it is down, back to ready by itself after it restarts', async () => {
    await api(agent, 'PUT', '/v1/vms/vm1/replication', { shadowId: 'vm1-s1', target: { host: '127.0.0.1', port: daemonPort, export: 's0' }, mode: 'sync' });
    const before = await until(agent, (s) => s.state === 'ready' && s.mode === 'sync', 60_000, 'sync ready again');
    await stopDaemon();
    const tKill = performance.now();
    // A mirror notices a lost target on its next write: keep the guest writing.
    const err = await until(agent, (s) => s.state === 'error', 30_000, 'error after the target died', async () => {
      await append(endpoint);
    });
    console.log(`[measured] target killed -> state error in ${(performance.now() - tKill).toFixed(0)} ms (guest appending): ${JSON.stringify(err.error)}`);
    expect(err.error).toBeTruthy();
    expect(err.failures).toBeGreaterThanOrEqual(1);
    expect(err.retryAt).not.toBeNull();
    // Down for a while: the agent keeps retrying (each attempt refused), backing off.
    const retried = await until(agent, (s) => s.failures >= err.failures + 2, 20_000, 'retries while down');
    expect(retried.state).toBe('error');
    expect(retried.error).toMatch(/Connection refused|Failed to connect/i);
    const lines = [await append(endpoint)];
    await startDaemon(daemonPort);
    const tBack = performance.now();
    const back = await until(agent, (s) => s.state === 'ready', 60_000, 'ready after the target came back');
    console.log(`[measured] target restarted -> ready again in ${(performance.now() - tBack).toFixed(0)} ms (generation ${before.generation} -> ${back.generation}, failures ${back.failures})`);
    expect(back.generation).toBeGreaterThan(before.generation);
    lines.push(await append(endpoint));
    await quiescedCompare(agent, endpoint, lines);
  }, 120_000);

  it('a primary restart after a crash: stopped, then a new full copy by itself', async () => {
    const before = await status(agent);
    // A crash (killed outside the agent). A kill through the agent's API holds the replication
    // instead (no new copy: the shadow may have been promoted; see test/promotion.test.ts).
    killPid((await api(agent, 'GET', '/v1/vms/vm1')).body.pid as number);
    await until(agent, (s) => s.state === 'stopped', 10_000, 'stopped');
    expect((await api(agent, 'POST', '/v1/vms/vm1/start')).status).toBe(200);
    const back = await until(agent, (s) => s.state === 'ready' && s.generation > before.generation, 60_000, 'ready after the primary restarted');
    expect(back.failures).toBe(before.failures);
    expect(await healthy(`${endpoint}/health`, 90_000)).toBe(true);
    const lines = [await append(endpoint)];
    await quiescedCompare(agent, endpoint, lines);
  }, 180_000);

  it('a restarted agent adopts the running mirror (same generation and job), then DELETE stops it', async () => {
    const before = await status(agent);
    await agent.crash();
    agent = await startAgent(serverUrl);
    const adopted = await status(agent);
    expect(adopted).toMatchObject({ state: 'ready', generation: before.generation, jobId: before.jobId });
    expect((await agent.driver.queryBlockJobs('vm1')).map((j) => j.jobId)).toEqual([before.jobId]);
    const lines = [await append(endpoint)];
    await quiescedCompare(agent, endpoint, lines);
    expect((await api(agent, 'DELETE', '/v1/vms/vm1/replication')).status).toBe(204);
    expect((await api(agent, 'GET', '/v1/vms/vm1/replication')).status).toBe(404);
    expect(await agent.driver.queryBlockJobs('vm1')).toEqual([]);
  }, 120_000);
});
