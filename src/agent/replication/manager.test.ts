/**
 * The replication supervisor on the SIMULATED hypervisor (virtual time): host h1 runs the
 * primary, host h2 a target (a paused VM exporting a disk over NBD, as a shadow host would).
 * The real-QEMU counterpart is test/replication.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReplicationStatus } from '../../api/shadow-protocol.js';
import { isUmbraError } from '../../core/errors.js';
import { baseSpec } from '../../hypervisor/contract.js';
import { SimWorld } from '../../hypervisor/sim/world.js';
import { silentLogger } from '../log.js';
import { RecordStore } from '../records.js';
import { INITRD, KERNEL, simManager, tempRunDir, vmSpec } from '../test-helpers.js';
import { ReplicationManager, type ReplicationManagerOptions } from './manager.js';

const MiB = 1024 * 1024;
const TARGET = { host: '10.0.0.2', port: 10809, export: 's0' };
const TARGET_DISK = '/h2/shadow.raw';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function setup(extra: Partial<ReplicationManagerOptions> = {}) {
  const world = SimWorld.twoHosts();
  world.addFile(KERNEL, 10);
  world.addFile(INITRD, 2);
  world.addFile(TARGET_DISK, 64);
  const d1 = world.driver('h1');
  const d2 = world.driver('h2');
  const { dir, cleanup } = tempRunDir();
  cleanups.push(cleanup);
  const records = new RecordStore(dir);
  const vms = simManager(world, d1, dir, { records });
  await vms.ensure(vmSpec('vm1'));
  await d2.create(baseSpec('tgt', { disks: [{ kind: 'file', id: 'data', path: TARGET_DISK }], incoming: true }));
  const target = {
    start: async () => {
      await d2.start('tgt');
      await d2.startNbdExport('tgt', { host: TARGET.host, port: TARGET.port, exports: [{ name: TARGET.export, device: 'data', writable: true }] });
    },
    kill: () => d2.kill('tgt'),
  };
  await target.start();
  let fenced = false;
  const make = (driver = d1) => {
    const m = new ReplicationManager({ driver, clock: world.clock, log: silentLogger, records, runDir: dir, fenced: () => fenced, ...extra });
    m.start();
    cleanups.push(() => m.close());
    return m;
  };
  const repl = make();
  const primaryDisk = join(dir, 'disks', 'vm1.qcow2');
  return {
    world,
    d1,
    dir,
    vms,
    repl,
    make,
    target,
    setFenced: (v: boolean) => (fenced = v),
    /** Equal versions: equal content (the sim's model). */
    inSync: () => world.files.get(primaryDisk)!.version === world.files.get(TARGET_DISK)!.version,
    write: (bytes: number) => world.host('h1').guestWrite('vm1', 'data', bytes),
  };
}

/** Polls `get` on the virtual clock until `pred` holds (fails after `ms` of virtual time). */
async function until(world: SimWorld, get: () => Promise<ReplicationStatus>, pred: (s: ReplicationStatus) => boolean, ms = 60_000): Promise<ReplicationStatus> {
  const end = world.clock.now() + ms;
  for (;;) {
    const s = await get();
    if (pred(s)) return s;
    if (world.clock.now() > end) throw new Error(`condition not met within ${ms} ms; last status ${JSON.stringify(s)}`);
    await world.clock.sleep(50);
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: unknown) => (isUmbraError(e) ? e.code : String(e)),
  );
}

const syncSpec = { shadowId: 'vm1-s1', target: TARGET, mode: 'sync' };

describe('ReplicationManager (simulated hypervisor)', () => {
  it('sync: copies, becomes ready with the initial throughput, keeps the target equal; the same spec again is the same job', async () => {
    const t = await setup();
    const first = await t.repl.ensure('vm1', syncSpec);
    expect(first).toMatchObject({ vmId: 'vm1', shadowId: 'vm1-s1', mode: 'sync', state: 'copying', generation: 1, jobId: 'repl-g1', failures: 0, error: null });
    const ready = await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    expect(ready).toMatchObject({ generation: 1, lagBytes: 0, lagSeconds: 0 });
    // SIMULATED: the model copies at 270 MiB/s.
    expect(ready.initialCopyBytesPerSec! / MiB).toBeCloseTo(270, 0);
    expect(t.inSync()).toBe(true);
    t.write(MiB);
    expect(t.inSync()).toBe(true); // write-blocking: on the target when acknowledged
    const again = await t.repl.ensure('vm1', { ...syncSpec, intervalSeconds: 60 });
    expect(again).toMatchObject({ generation: 1, jobId: 'repl-g1', state: 'ready' });
    const rec = JSON.parse(readFileSync(join(t.dir, 'agent', 'replication', 'vm1.json'), 'utf8'));
    expect(rec).toMatchObject({ vmId: 'vm1', spec: { mode: 'sync', intervalSeconds: 60 }, facts: { generation: 1, jobId: 'repl-g1' } });
    // Another mode: the old job goes, a new full copy starts.
    const next = await t.repl.ensure('vm1', { ...syncSpec, mode: 'async' });
    expect(next).toMatchObject({ generation: 2, jobId: 'repl-g2', mode: 'async' });
    expect((await t.d1.queryBlockJobs('vm1')).map((j) => j.jobId)).toEqual(['repl-g2']);
  });

  it('a lost target gives error, retries with backoff while it is down, and comes back ready by itself (new generation)', async () => {
    const t = await setup();
    await t.repl.ensure('vm1', syncSpec);
    await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    await t.target.kill();
    const err = await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'error');
    expect(err).toMatchObject({ failures: 1, error: 'Input/output error', jobId: null });
    expect(err.retryAt! - t.world.clock.now()).toBeLessThanOrEqual(1000);
    // Down for a while: each retry fails to connect, the delays grow.
    const later = await until(t.world, () => t.repl.get('vm1'), (s) => s.failures >= 4);
    expect(later.state).toBe('error');
    expect(later.error).toMatch(/Connection refused/);
    await t.target.start();
    const back = await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    expect(back.generation).toBeGreaterThan(1);
    expect(back.failures).toBeGreaterThanOrEqual(4);
    expect(t.inSync()).toBe(true);
  });

  it('a primary that exits is stopped; a new process gets a new full copy by itself', async () => {
    const t = await setup();
    await t.repl.ensure('vm1', syncSpec);
    await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    await t.vms.op('vm1', 'kill');
    await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'stopped');
    await t.vms.op('vm1', 'start');
    const back = await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready' && s.generation === 2);
    expect(back.failures).toBe(0);
  });

  it('periodic: full copy, then rounds every interval copy the dirty bytes; lag is measured between rounds', async () => {
    const t = await setup();
    await t.repl.ensure('vm1', { ...syncSpec, mode: 'periodic', intervalSeconds: 5 });
    const ready = await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    expect(ready).toMatchObject({ rounds: 0, jobId: null });
    expect(t.inSync()).toBe(true);
    t.write(4 * MiB);
    await t.world.clock.sleep(1000);
    const lagging = await t.repl.get('vm1');
    expect(lagging.lagBytes).toBe(4 * MiB);
    expect(lagging.lagSeconds).toBeGreaterThan(0);
    expect(t.inSync()).toBe(false);
    const after = await until(t.world, () => t.repl.get('vm1'), (s) => s.rounds >= 1 && s.jobId === null);
    expect(after.lagBytes).toBe(0);
    expect(after.lastRoundMs).toBeGreaterThanOrEqual(0);
    expect(t.inSync()).toBe(true);
    const rounds = await until(t.world, () => t.repl.get('vm1'), (s) => s.rounds >= 3);
    expect(rounds.lastRoundAt! - ready.readyAt!).toBeGreaterThanOrEqual(10_000);
  });

  it('quiesce pauses until caught up (periodic: one more round), unquiesce resumes and says how long', async () => {
    const t = await setup();
    await t.repl.ensure('vm1', { ...syncSpec, mode: 'periodic', intervalSeconds: 300 });
    await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    t.write(8 * MiB);
    expect(t.inSync()).toBe(false);
    const q = await t.repl.quiesce('vm1', { maxPauseMs: 5000 });
    expect(q.caughtUp).toBe(true);
    expect(t.inSync()).toBe(true);
    expect((await t.d1.status('vm1')).state).toBe('paused');
    expect((await t.repl.get('vm1')).rounds).toBe(1);
    await t.world.clock.sleep(200);
    const u = await t.repl.unquiesce('vm1');
    expect(u.pauseMs).toBeGreaterThanOrEqual(200);
    expect((await t.d1.status('vm1')).state).toBe('running');
    expect(await t.repl.unquiesce('vm1')).toEqual({ pauseMs: 0 }); // not quiesced: no-op
  });

  it('a quiesce nobody ends is resumed after maxPauseMs; never while fenced', async () => {
    const t = await setup();
    await t.repl.ensure('vm1', syncSpec);
    await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    const q = await t.repl.quiesce('vm1', {});
    expect(q).toMatchObject({ caughtUp: true });
    await t.world.clock.sleep(4900);
    expect((await t.d1.status('vm1')).state).toBe('paused');
    await t.world.clock.sleep(200);
    expect((await t.d1.status('vm1')).state).toBe('running');
    // Fenced: quiesce is refused; a quiesce open when the host got fenced never resumes.
    await t.repl.quiesce('vm1', { maxPauseMs: 1000 });
    t.setFenced(true);
    expect(await codeOf(t.repl.unquiesce('vm1'))).toBe('VM_INVALID_STATE');
    expect(await codeOf(t.repl.quiesce('vm1', {}))).toBe('VM_INVALID_STATE');
    await t.world.clock.sleep(2000);
    expect((await t.d1.status('vm1')).state).toBe('paused');
  });

  it('a restarted agent adopts the running job (same generation and job) and keeps supervising it', async () => {
    const t = await setup();
    await t.repl.ensure('vm1', syncSpec);
    await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    await t.repl.close();
    await t.d1.close();
    const d1b = t.world.driver('h1');
    const repl2 = t.make(d1b);
    expect(repl2.ids()).toEqual(['vm1']);
    const adopted = await until(t.world, () => repl2.get('vm1'), (s) => s.state === 'ready');
    expect(adopted).toMatchObject({ generation: 1, jobId: 'repl-g1' });
    expect((await d1b.queryBlockJobs('vm1')).map((j) => j.jobId)).toEqual(['repl-g1']);
    await t.target.kill();
    await until(t.world, () => repl2.get('vm1'), (s) => s.state === 'error');
  });

  it('resync starts a new full copy; delete cancels and forgets; typed errors for unknown VMs, missing replication and bad bodies', async () => {
    const t = await setup();
    expect(await codeOf(t.repl.get('vm1'))).toBe('NOT_FOUND');
    expect(await codeOf(t.repl.get('nope'))).toBe('VM_NOT_FOUND');
    expect(await codeOf(t.repl.ensure('nope', syncSpec))).toBe('VM_NOT_FOUND');
    const bad = await t.repl.ensure('vm1', { shadowId: 'vm1-s1', target: { host: '', port: 0 }, mode: 'fast' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'REQUEST_INVALID' });
    expect((bad as { issues: { path: string }[] }).issues.map((i) => i.path).sort()).toEqual(['mode', 'target.export', 'target.host', 'target.port']);
    expect(await codeOf(t.repl.quiesce('vm1', { maxPauseMs: 0 }))).toBe('REQUEST_INVALID');
    await t.repl.ensure('vm1', { ...syncSpec, mode: 'periodic', intervalSeconds: 1 });
    await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    const r = await t.repl.resync('vm1');
    expect(r).toMatchObject({ generation: 2, state: 'copying' });
    expect((await t.d1.queryDirtyBitmaps('vm1', 'data')).map((b) => b.name)).toEqual(['repl-g2']);
    await until(t.world, () => t.repl.get('vm1'), (s) => s.state === 'ready');
    await t.repl.remove('vm1');
    expect(await codeOf(t.repl.get('vm1'))).toBe('NOT_FOUND');
    expect(await t.d1.queryBlockJobs('vm1')).toEqual([]);
    expect(await t.d1.queryDirtyBitmaps('vm1', 'data')).toEqual([]);
    expect(existsSync(join(t.dir, 'agent', 'replication', 'vm1.json'))).toBe(false);
  });
});
