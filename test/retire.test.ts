/**
 * Retire (the graceful end of an old primary after a failover) with REAL QEMU (TCG), the real
 * lab guest and a real agent on loopback, no lab (the server is a PROTOCOL STAND-IN for
 * register / heartbeat / samples only):
 *
 *   1. a VM of the agent serves, is paused (the fence), retired: its NIC goes down, the power
 *      button, `cont`: the guest powers itself off (console UMBRA-POWEROFF, UMBRA-HALT); its
 *      service never answered between the pause and the exit; process, run dir, disk and record
 *      are gone; the exit was a planned one;
 *   2. a guest that ignores the button (booted with `acpi=off`): killed after the timeout;
 *   3. a promoted shadow (a VM that failed over before runs as one): retired the same way, its
 *      target daemon and record removed too.
 *
 * At most two QEMUs run at once. afterAll kills every QEMU and storage daemon by the pid
 * recorded in the run dir and removes the run dir, also after a failure.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promoteResultSchema, retireResultSchema, type RetireResult } from '../src/api/shadow-protocol.js';
import type { Agent } from '../src/agent/index.js';
import { buildImage, ensureHostTools, guestKernelArgs, type GuestImage } from '../src/guest/index.js';
import { isAlive } from '../src/hypervisor/qemu/process.js';
import { agentApi, startQemuAgent } from './support/agent.js';
import { whenHttpOk } from './support/poll.js';
import { killRecordedQemus } from './support/qemu-cleanup.js';
import { startStandIn, type StandIn } from './support/stand-in.js';
import { capturingLog } from './support/capture-log.js';
import { killTargetDaemons } from './support/target-cleanup.js';

const TOKEN = `retire-test-${process.pid}`;
const ADMIN = 'admin-token-of-the-retire-test';
const MiB = 1024 * 1024;
const runDir = mkdtempSync(join(tmpdir(), 'urt-')); // short: socket paths must stay < 108 bytes
const agents: Agent[] = [];
const { logged, log } = capturingLog();
let standIn: StandIn | null = null;
const openFds: number[] = [];


afterAll(async () => {
  for (const fd of openFds) closeSync(fd);
  for (const a of agents) await a.crash().catch(() => undefined);
  killRecordedQemus(runDir);
  killTargetDaemons(runDir);
  await standIn?.close();
  rmSync(runDir, { recursive: true, force: true });
});

const api = agentApi(TOKEN);
const healthy = (url: string, timeoutMs: number) => whenHttpOk(url, timeoutMs, async (r) => (await r.json()) as Record<string, unknown>);

let guest: GuestImage;
let agent: Agent;
const figures: string[] = [];

/**
 * Keeps the VM's console log open: retire removes the run dir, and an open descriptor still
 * reads the (unlinked) file after. Returns a reader of everything the console printed.
 */
function holdConsole(vmId: string): () => string {
  const fd = openSync(join(runDir, 'vms', vmId, 'serial.log'), 'r');
  openFds.push(fd);
  return () => {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      pos += n;
    }
    return Buffer.concat(chunks).toString('utf8');
  };
}

/**
 * Polls the service until `stop()` with four staggered pollers, each sending a new request
 * 100 ms after its last one ended. A request waits up to 10 s for an answer: one sent while the
 * guest is paused stays open until the process ends (QEMU then resets it), so an answer at any
 * moment of the shutdown would reach it, however late timers fire on a loaded machine. Every
 * HTTP answer of any status is recorded (there must be none). `spans`: when each request was in
 * flight (performance.now()).
 */
function watchService(endpoint: string): { stop: () => Promise<{ tries: number; spans: [number, number][]; answers: number[] }> } {
  let on = true;
  const spans: [number, number][] = [];
  const answers: number[] = [];
  const poller = async (delayMs: number) => {
    await new Promise((r) => setTimeout(r, delayMs));
    while (on) {
      const start = performance.now();
      try {
        const r = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(10_000) });
        answers.push(r.status);
        await r.arrayBuffer();
      } catch {
        // refused, reset or silent: no answer
      }
      spans.push([start, performance.now()]);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const loops = Promise.all([0, 100, 200, 300].map(poller));
  return {
    stop: async () => {
      on = false;
      await loops; // requests in flight end (answered or not) before the verdict
      return { tries: spans.length, spans, answers };
    },
  };
}

async function pausedPrimary(id: string, append?: string): Promise<{ endpoint: string; pid: number }> {
  const put = await api(agent, 'PUT', `/v1/vms/${id}`, { kernel: guest.kernel, initrd: guest.initrd, dataDiskMiB: 64, ...(append ? { append } : {}) });
  expect(put.status).toBe(200);
  const endpoint = put.body.endpoint as string;
  expect(await healthy(`${endpoint}/health`, 90_000)).toMatchObject({ role: 'primary' });
  // It serves: one acknowledged append.
  const a = await fetch(`${endpoint}/append`, { method: 'POST', body: `retire-test-${id}`, signal: AbortSignal.timeout(10_000) });
  expect(a.status).toBe(200);
  // The fence.
  const stop = await api(agent, 'POST', `/v1/vms/${id}/stop`);
  expect(stop.body).toMatchObject({ state: 'paused' });
  return { endpoint, pid: stop.body.pid as number };
}

async function retire(id: string, timeoutMs: number): Promise<RetireResult> {
  const r = await api(agent, 'POST', `/v1/vms/${id}/retire`, { timeoutMs });
  expect(r.status).toBe(200);
  return retireResultSchema.parse(r.body);
}

/** True when a request was in flight at every 10 ms step from `from` to `to`. */
function covered(spans: readonly [number, number][], from: number, to: number): boolean {
  // No stretch of 100 ms or more without a request in flight (on a loaded 2-core box a poller may
  // take a few ms between one request's end and the next one's start).
  let uncovered = 0;
  for (let t = from; t <= to; t += 5) {
    if (spans.some(([a, b]) => a <= t && t <= b)) uncovered = 0;
    else if ((uncovered += 5) >= 100) return false;
  }
  return true;
}

/** What the agent logged about a VM's process end. */
const exits = (vmId: string) => logged.filter((l) => l.msg.startsWith('VM process ended') && l.fields.vmId === vmId).map((l) => [l.msg, l.fields.state]);

describe('retire with real QEMU and the lab guest', () => {
  beforeAll(async () => {
    await ensureHostTools();
    guest = await buildImage();
    standIn = await startStandIn(TOKEN, { leaseSeconds: 60, heartbeatSeconds: 5 });
    agent = await startQemuAgent({ name: 'h1', serverUrl: standIn.url, token: TOKEN, address: '127.0.0.1', listenPort: 0, runDir, intervalMs: 5000, leaseMs: 60_000 }, agents, log);
  }, 600_000);

  afterAll(() => {
    console.log(`[measured] retire (TCG, 2 shared cores):\n  ${figures.join('\n  ')}`);
  });

  it('a paused primary: isolated, powered off by ACPI (UMBRA-HALT), never answering meanwhile; process and files gone; a planned exit', async () => {
    const { endpoint, pid } = await pausedPrimary('r1');
    const console_ = holdConsole('r1');
    expect(console_()).not.toContain('UMBRA-POWEROFF');
    const watch = watchService(endpoint);
    await new Promise((r) => setTimeout(r, 500)); // paused: nothing answers either
    const t0 = performance.now();
    const out = await retire('r1', 30_000);
    const tEnd = performance.now();
    const callMs = tEnd - t0;
    const seen = await watch.stop();
    expect(out).toMatchObject({ vmId: 'r1', how: 'acpi', timedOut: false, reason: null });
    // Requests were in flight from the retire's start until the process ended: an answer at
    // any point of the guest's shutdown would have been seen.
    expect(seen.answers).toEqual([]);
    expect(covered(seen.spans, t0, t0 + out.ms)).toBe(true);
    const text = console_();
    expect(text).toContain('UMBRA-POWEROFF');
    expect(text).toContain('UMBRA-HALT');
    expect(text.indexOf('UMBRA-HALT')).toBeGreaterThan(text.indexOf('UMBRA-POWEROFF'));
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(join(runDir, 'vms', 'r1'))).toBe(false);
    expect(existsSync(join(runDir, 'disks', 'r1.qcow2'))).toBe(false);
    expect(existsSync(join(runDir, 'agent', 'vms', 'r1.json'))).toBe(false);
    expect((await api(agent, 'GET', '/v1/vms/r1')).status).toBe(404);
    expect(exits('r1')).toEqual([['VM process ended', 'exited']]); // planned, never `crashed`
    // Again: nothing left on this host.
    expect((await api(agent, 'POST', '/v1/vms/r1/retire', { timeoutMs: 1000 })).status).toBe(404);
    figures.push(`ACPI power-down of a paused lab guest (links down, button, cont -> process exit): ${out.ms} ms (agent), call ${callMs.toFixed(0)} ms incl. removal; ${seen.tries} service requests in flight over the pause and the power-down, 0 answers`);
  }, 240_000);

  it('a guest that ignores the power button (acpi=off) is killed after the timeout; never answering meanwhile', async () => {
    const { endpoint, pid } = await pausedPrimary('r2', `${guestKernelArgs()} acpi=off`);
    const console_ = holdConsole('r2');
    const watch = watchService(endpoint);
    await new Promise((r) => setTimeout(r, 400));
    const t0 = performance.now();
    const out = await retire('r2', 3000);
    const seen = await watch.stop();
    expect(out).toMatchObject({ vmId: 'r2', how: 'killed', timedOut: true, reason: 'no power-off within 3000 ms' });
    expect(out.ms).toBeGreaterThanOrEqual(3000);
    expect(seen.answers).toEqual([]);
    expect(covered(seen.spans, t0, t0 + out.ms)).toBe(true);
    expect(console_()).not.toContain('UMBRA-POWEROFF');
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(join(runDir, 'vms', 'r2'))).toBe(false);
    expect(existsSync(join(runDir, 'disks', 'r2.qcow2'))).toBe(false);
    expect(exits('r2')).toEqual([['VM process ended', 'exited']]);
    figures.push(`guest ignoring the button (acpi=off), timeout 3000 ms: killed after ${out.ms} ms; ${seen.tries} service requests in flight meanwhile, 0 answers`);
  }, 240_000);

  it('a promoted shadow (the VM after an earlier failover) is retired the same way; its target daemon and record go too', async () => {
    const put = await api(agent, 'PUT', '/v1/shadows/r3-s', { primaryId: 'r3', flavor: 'migrate', diskBytes: 64 * MiB, vcpus: 1, maxVcpus: 1, memoryMiB: 128, maxMemoryMiB: 128, kernel: guest.kernel, initrd: guest.initrd, adminToken: ADMIN });
    expect(put.status).toBe(200);
    const targetPid = put.body.targetPid as number;
    const pr = await api(agent, 'POST', '/v1/shadows/r3-s/promote', { mode: 'cold', bootTimeoutMs: 90_000 });
    expect(pr.status).toBe(200);
    const p = promoteResultSchema.parse(pr.body);
    expect(p).toMatchObject({ ok: true, vm: { state: 'running' } });
    const endpoint = p.vm.endpoint!;
    expect(await healthy(`${endpoint}/health`, 30_000)).toMatchObject({ role: 'primary' });
    // The fence of the next failover pauses it (its agent's stop route serves promoted shadows too).
    expect((await api(agent, 'POST', '/v1/vms/r3-s/stop')).body).toMatchObject({ state: 'paused' });
    const console_ = holdConsole('r3-s');
    const heartbeatsBefore = standIn!.heartbeats.length;
    const watch = watchService(endpoint);
    await new Promise((r) => setTimeout(r, 400));
    const t0 = performance.now();
    const out = await retire('r3-s', 30_000);
    const seen = await watch.stop();
    expect(out).toMatchObject({ vmId: 'r3-s', how: 'acpi', timedOut: false });
    expect(seen.answers).toEqual([]);
    expect(covered(seen.spans, t0, t0 + out.ms)).toBe(true);
    expect(console_()).toContain('UMBRA-HALT');
    expect(isAlive(p.vm.pid!)).toBe(false);
    expect(isAlive(targetPid)).toBe(false);
    expect((await api(agent, 'GET', '/v1/shadows/r3-s')).status).toBe(404);
    expect(existsSync(join(runDir, 'vms', 'r3-s'))).toBe(false);
    expect(existsSync(join(runDir, 'agent', 'shadows', 'r3-s.json'))).toBe(false);
    // No heartbeat since the retire began reported it crashed.
    const states = standIn!.heartbeats.slice(heartbeatsBefore).flatMap((h) => h.hb.vms.filter((v) => v.id === 'r3-s').map((v) => v.state));
    expect(states).not.toContain('crashed');
    figures.push(`ACPI power-down of a paused promoted shadow: ${out.ms} ms (agent)`);
  }, 300_000);
});
