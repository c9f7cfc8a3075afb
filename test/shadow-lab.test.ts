/**
 * Shadows end to end on the lab (issue 4), real everything: three hosts as network namespaces,
 * the real server and agents, real QEMU guests under TCG, qemu-storage-daemon targets, the
 * primary mirroring over NBD across namespaces.
 *
 * `umbra lab up --hosts 3 --vms 1 --protect --json` (the acceptance contract) gives vm1 a warm
 * shadow on another host and returns once it is synchronized. Then: records appended through the
 * guest API are on the shadow's disk (verification checksums both sides; the target file holds
 * the bytes); a warm-up runs in the live shadow; one block of the target altered behind Umbra's
 * back is found by verification (corruption alert, resync by itself, equal again); killing the
 * target process raises an alert and a resync follows by itself. Two QEMUs run here (plus the
 * storage daemon). afterAll runs `lab down` whatever happened. Needs root and a build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../src/api/protocol.js';
import type { RehearsalResult } from '../src/api/shadow-protocol.js';
import { cliEntry, type LabUpResult } from '../src/lab/index.js';
import { findProcessesMentioning, isAlive } from '../src/lab/procs.js';
import type { ShadowView } from '../src/server/shadow-routes.js';
import type { VerifyResult } from '../src/shadow/reconciler.js';
import type { AlertRow } from '../src/store/store.js';
import { labRunner, serverApi } from './support/lab.js';
import { untilWithin } from './support/poll.js';

const isRoot = process.getuid?.() === 0;
const stateDir = mkdtempSync('/tmp/ushl-');
const env = { ...process.env, UMBRA_STATE_DIR: stateDir };

const lab = labRunner(env);

let up: LabUpResult;

const api = serverApi(() => up, 120_000);

const shadowOf = async (vmId: string): Promise<ShadowView | undefined> =>
  (await api<{ shadows: ShadowView[] }>('GET', `/v1/vms/${vmId}/shadows`)).shadows.find((s) => s.phase === 'active');

const until = untilWithin(120_000);

/** The shadow's target image on its host (the file the storage daemon exports). */
function targetFile(shadowId: string): string {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 8) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isFile() && p.includes(shadowId) && /\.(raw|img)$/.test(e.name) && statSync(p).size === 64 * 1024 * 1024) found.push(p);
    }
  };
  walk(stateDir, 0);
  if (found.length !== 1) throw new Error(`expected one 64 MiB target image of ${shadowId} under ${stateDir}, found ${JSON.stringify(found)}`);
  return found[0];
}

describe.skipIf(!isRoot)('shadows on the lab: 3 hosts, 1 protected VM', () => {
  let shadow: ShadowView;
  let vmEndpoint: string;

  beforeAll(() => {
    cliEntry();
  });

  afterAll(async () => {
    await lab('down').catch((e: unknown) => console.error('lab down in afterAll failed:', e));
    expect(findProcessesMentioning(stateDir)).toEqual([]);
    rmSync(stateDir, { recursive: true, force: true });
  }, 90_000);

  it('lab up --hosts 3 --vms 1 --protect --json returns once the shadow is synchronized', async () => {
    const t0 = performance.now();
    const r = await lab('up', { hosts: '3', vms: '1', protect: true, interval: '2s', json: true });
    const seconds = (performance.now() - t0) / 1000;
    expect(r.code, r.err).toBe(0);
    up = JSON.parse(r.out) as LabUpResult;
    console.log(`[measured] lab up --hosts 3 --vms 1 --protect: ${seconds.toFixed(1)} s`);
    expect(up.vms).toHaveLength(1);
    expect(up.vms[0].sync).toBe('synchronized');
    // HAProxy serves the guest API (issue 5's contract): the same service through the frontend.
    expect(up.traffic).toBe('http://10.213.0.1:8001');
    expect(up.vms[0].traffic).toBe(up.traffic);
    const viaTraffic = await fetch(`${up.traffic}/health`, { signal: AbortSignal.timeout(10_000) });
    expect(viaTraffic.status).toBe(200);
    expect(up.shadows).toHaveLength(1);
    const sh = up.shadows![0];
    expect(sh.shadowOf).toBe('vm1');
    expect(sh.sync).toBe('synchronized');
    expect(sh.host).not.toBe(up.vms[0].host);
    expect(sh.pid).toBeGreaterThan(0);
    expect(isAlive(sh.pid!)).toBe(true);
    vmEndpoint = up.vms[0].endpoint!;
    shadow = (await shadowOf('vm1'))!;
    expect(shadow.id).toBe(sh.id);
    expect(shadow.flavor).toBe('warm');
    expect(shadow.status.adminToken).toBeUndefined(); // the guest's admin token never leaves the server
  }, 400_000);

  it('umbra status --json lists the primary and its shadow with id, role, host, pid and sync', () => {
    const res = spawnSync(process.execPath, [cliEntry(), 'status', '--json'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(res.status, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as StatusReport;
    const primary = report.vms.find((v) => v.id === 'vm1')!;
    const sh = report.vms.find((v) => v.id === shadow.id)!;
    expect(primary).toMatchObject({ role: 'primary', host: up.vms[0].host, pid: up.vms[0].pid, sync: 'synchronized' });
    expect(sh).toMatchObject({ role: 'shadow', host: shadow.host, sync: 'synchronized', shadowOf: 'vm1' });
    expect(sh.pid).toBeGreaterThan(0);
    // pid is the QEMU process of the shadow on this machine.
    expect(readFileSync(`/proc/${sh.pid}/cmdline`, 'utf8')).toContain(`umbra-${shadow.id}`);
  });

  it('records appended through the guest API are on the shadow disk (checksums of both sides equal)', async () => {
    const marker = `umbra-shadow-test-${process.pid}-${Date.now()}`;
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${vmEndpoint}/append`, { method: 'POST', body: `${marker} line ${i}\n`, signal: AbortSignal.timeout(10_000) });
      expect(r.status).toBe(200);
    }
    const v = await api<VerifyResult>('POST', `/v1/shadows/${shadow.id}/verify`, {});
    console.log(`[measured] verification of a 64 MiB disk: primary paused ${v.pauseMs} ms (catch-up ${v.catchUpMs} ms), ${v.chunks} chunks`);
    expect(v.ok).toBe(true);
    expect(v.mismatched).toEqual([]);
    expect(v.primaryDigest).toBe(v.shadowDigest);
    expect(v.chunks).toBe(64);
    // And the target image itself holds the appended bytes.
    expect(readFileSync(targetFile(shadow.id)).includes(Buffer.from(`${marker} line 19`))).toBe(true);
  }, 120_000);

  it('a warm-up runs inside the live warm shadow', async () => {
    const r = await api<RehearsalResult>('POST', `/v1/shadows/${shadow.id}/rehearse`, {});
    expect(r).toMatchObject({ shadowId: shadow.id, flavor: 'warm', where: 'in-shadow', ok: true });
    const s = (await shadowOf('vm1'))!;
    expect(s.status.rehearsal?.ok).toBe(true);
  }, 120_000);

  it('one block altered behind Umbra\'s back is found by verification; a resync follows and the copies are equal again', async () => {
    const file = targetFile(shadow.id);
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 40 * 1024 * 1024 + 8192);
    } finally {
      closeSync(fd);
    }
    const v = await api<VerifyResult>('POST', `/v1/shadows/${shadow.id}/verify`, {});
    expect(v.ok).toBe(false);
    expect(v.mismatched).toEqual([40]);
    const alerts = (await api<{ alerts: AlertRow[] }>('GET', '/v1/alerts')).alerts;
    expect(alerts.find((a) => a.key === 'corruption/vm1')?.state).toBe('firing');
    await until('the shadow synchronized again after the resync', async () => (await shadowOf('vm1'))?.status.sync === 'synchronized');
    const again = await api<VerifyResult>('POST', `/v1/shadows/${shadow.id}/verify`, {});
    expect(again.ok).toBe(true);
    expect((await api<{ alerts: AlertRow[] }>('GET', '/v1/alerts?all=true')).alerts.find((a) => a.key === 'corruption/vm1')?.state).toBe('resolved');
  }, 240_000);

  it('killing the shadow target raises an alert and a resync follows by itself', async () => {
    const before = (await shadowOf('vm1'))!;
    const targetPid = before.status.targetPid!;
    expect(targetPid).toBeGreaterThan(0);
    const generation = before.status.generation ?? 0;
    process.kill(targetPid, 'SIGKILL');
    const t0 = performance.now();
    const alert = await until('an alert about the lost target', async () =>
      (await api<{ alerts: AlertRow[] }>('GET', '/v1/alerts')).alerts.find((a) => a.vmId === 'vm1' && ['target_lost', 'sync_failed'].includes(a.kind)),
    );
    const alertS = (performance.now() - t0) / 1000;
    const after = await until(
      'synchronized again with a new generation',
      async () => {
        const s = await shadowOf('vm1');
        return s && s.status.sync === 'synchronized' && (s.status.generation ?? 0) > generation && s.status.targetPid !== targetPid ? s : undefined;
      },
      180_000,
    );
    console.log(`[measured] target killed: alert ${alert.kind} after ${alertS.toFixed(1)} s; synchronized again after ${((performance.now() - t0) / 1000).toFixed(1)} s (generation ${generation} -> ${after.status.generation})`);
    expect(after.id).toBe(before.id);
    await until('the alert resolved', async () => (await api<{ alerts: AlertRow[] }>('GET', '/v1/alerts?all=true')).alerts.find((a) => a.key === alert.key)?.state === 'resolved', 60_000);
    const v = await api<VerifyResult>('POST', `/v1/shadows/${shadow.id}/verify`, {});
    expect(v.ok).toBe(true);
  }, 300_000);

  it("a cut link to the shadow's host: writes go on, the loss is recorded, and the VM is synchronized again by itself", async () => {
    const before = (await shadowOf('vm1'))!;
    const veth = `umbra-${before.host}-br`; // the host's link to the bridge (root side)
    const seqBefore = (await api<{ events: { seq: number }[] }>('GET', '/v1/events?limit=100000')).events.at(-1)?.seq ?? 0;
    execFileSync('ip', ['link', 'set', veth, 'down']);
    const t0 = performance.now();
    const acked: string[] = [];
    const latencies: number[] = [];
    try {
      // Longer than the hosts' TCP give-up (~13 s, see LAB_SYSCTLS) and than a lease (15 s).
      while (performance.now() - t0 < 20_000) {
        const line = `cut-${process.pid}-${acked.length}`;
        const ta = performance.now();
        const r = await fetch(`${vmEndpoint}/append`, { method: 'POST', body: line, signal: AbortSignal.timeout(60_000) });
        latencies.push(performance.now() - ta);
        expect(r.status).toBe(200);
        acked.push(line);
        await new Promise((res) => setTimeout(res, 200));
      }
    } finally {
      execFileSync('ip', ['link', 'set', veth, 'up']);
    }
    console.log(`[measured] link cut 20 s: ${acked.length} appends acknowledged, slowest ${Math.round(Math.max(...latencies))} ms (a write-blocking mirror holds writes until TCP gives up)`);
    const after = await until(
      'a synchronized shadow after the cut',
      async () => {
        const s = await shadowOf('vm1');
        return s && s.status.sync === 'synchronized' ? s : undefined;
      },
      180_000,
    );
    const events = (await api<{ events: { seq: number; kind: string; data: Record<string, unknown> }[] }>('GET', `/v1/events?after=${seqBefore}&limit=1000`)).events;
    const recorded = events.filter((e) => ['shadow.resync', 'alert.firing', 'shadow.retired', 'agent.lost'].includes(e.kind)).map((e) => `${e.kind}${e.data.alertKind ? `:${String(e.data.alertKind)}` : ''}`);
    console.log(`[measured] after the cut: shadow ${after.id} on ${after.host} (was ${before.id} on ${before.host}), generation ${after.status.generation}; recorded: ${recorded.join(', ')}`);
    expect(recorded.length).toBeGreaterThan(0);
    const v = await api<VerifyResult>('POST', `/v1/shadows/${after.id}/verify`, {});
    expect(v.ok).toBe(true);
    const image = readFileSync(targetFile(after.id));
    for (const line of acked) expect(image.includes(Buffer.from(line))).toBe(true);
  }, 400_000);

  it('lab down leaves no process of the lab', async () => {
    const r = await lab('down');
    expect(r.code).toBe(0);
    expect(findProcessesMentioning(stateDir)).toEqual([]);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(/umbra-h\d/);
  }, 90_000);
});
