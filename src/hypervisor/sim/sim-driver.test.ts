import { describe, expect, it } from 'vitest';
import { runHypervisorContract, baseSpec, type ContractTarget } from '../contract.js';
import { waitForEvent } from '../events.js';
import type { VmEvent } from '../types.js';
import { SimWorld } from './world.js';
import { SkippingClock } from './skipping-clock.js';

function simTarget(): ContractTarget {
  const world = SimWorld.twoHosts();
  let port = 20000;
  const t: ContractTarget = {
    driver: world.driver('h1'),
    clock: world.clock,
    address: world.host('h1').address,
    freePort: async () => port++,
    makeDisk: async (name, sizeMiB) => {
      const p = `/sim/disks/${name}.raw`;
      world.addFile(p, sizeMiB);
      return p;
    },
    fillDisk: async (path) => {
      world.files.get(path)!.version = world.bumpVersion();
    },
    diskDigest: async (path) => `v${world.files.get(path)!.version}`,
    bootable: (id, hostPort) => {
      world.addFile('/sim/guest/vmlinux', 20);
      world.addFile('/sim/guest/initrd.gz', 2);
      return {
        spec: baseSpec(id, {
          boot: { kind: 'kernel', kernel: '/sim/guest/vmlinux', initrd: '/sim/guest/initrd.gz', append: 'console=ttyS0' },
          network: { kind: 'user', forwards: [{ hostPort, guestPort: 80 }] },
        }),
        answers: async () => world.host('h1').serviceAnswers('127.0.0.1', hostPort),
      };
    },
    reopen: async () => {
      await t.driver.close();
      t.driver = world.driver('h1');
      return t.driver;
    },
    timeoutMs: 60_000,
    cleanup: async () => {
      world.failHost('h1');
      await t.driver.close();
    },
  };
  return t;
}

runHypervisorContract({ name: 'sim', make: async () => simTarget() });

describe('SimHypervisorDriver model', () => {
  it('says it is simulated', async () => {
    const w = SimWorld.oneHost();
    const d = w.driver('h1');
    expect(d.simulated).toBe(true);
    expect(await d.info()).toEqual({ kind: 'sim', simulated: true, host: 'h1', accel: 'sim', version: 'sim' });
  });

  it('runs in virtual time: a powerdown takes shutdownMs of clock time and no real time', async () => {
    const w = SimWorld.oneHost({ timings: { shutdownMs: 5000 } });
    w.addFile('/k', 10);
    const d = w.driver('h1');
    await d.create(baseSpec('a', { boot: { kind: 'kernel', kernel: '/k' } }));
    await d.start('a');
    const t0 = w.clock.now();
    const real0 = performance.now();
    expect(await d.powerdown('a', { timeoutMs: 10_000 })).toEqual({ clean: true, reason: 'guest-shutdown' });
    expect(w.clock.now() - t0).toBe(5000);
    expect(performance.now() - real0).toBeLessThan(1000);
  });

  it('charges CPU time by guest load while running, idle cost only while paused', async () => {
    const w = SimWorld.oneHost({ timings: { idleCores: 0.02 } });
    const d = w.driver('h1');
    await d.create(baseSpec('a'));
    await d.start('a');
    w.host('h1').setGuestLoad('a', 0.5);
    const s0 = await d.stats('a');
    await w.clock.sleep(10_000);
    const s1 = await d.stats('a');
    expect(s1.cpuTimeMs - s0.cpuTimeMs).toBeCloseTo(10_000 * 0.52, 6);
    await d.stop('a');
    const s2 = await d.stats('a');
    await w.clock.sleep(10_000);
    const s3 = await d.stats('a');
    expect(s3.cpuTimeMs - s2.cpuTimeMs).toBeCloseTo(10_000 * 0.02, 6);
    // RSS model: overhead + half the guest memory.
    expect(s3.rssBytes).toBe((90 + 64) * 1024 * 1024);
  });

  it('mirrors across hosts, copies writes once ready, and fails the job when the target host dies', async () => {
    const w = SimWorld.twoHosts({ timings: { mirrorBytesPerMs: 1024 * 1024 } }); // 1 MiB/ms
    w.addFile('/h1/a.raw', 64);
    w.addFile('/h2/a-shadow.raw', 64);
    const d1 = w.driver('h1');
    const d2 = w.driver('h2');
    await d2.create(baseSpec('a-shadow', { disks: [{ kind: 'file', id: 'data', path: '/h2/a-shadow.raw', shareRw: true }] }));
    await d2.start('a-shadow', { paused: true });
    await d2.startNbdExport('a-shadow', { host: '10.0.0.2', port: 10809, exports: [{ name: 'data', device: 'data', writable: true }] });
    await d1.create(baseSpec('a', { disks: [{ kind: 'file', id: 'data', path: '/h1/a.raw' }] }));
    await d1.start('a');
    const t0 = w.clock.now();
    const ready = waitForEvent(d1, (e) => e.type === 'BLOCK_JOB_READY', { clock: w.clock, timeoutMs: 10_000 });
    await d1.mirror('a', { jobId: 'm0', device: 'data', target: { host: '10.0.0.2', port: 10809, export: 'data' }, sync: 'full', copyMode: 'write-blocking' });
    await ready;
    expect(w.clock.now() - t0).toBe(64); // 64 MiB at 1 MiB/ms
    expect(w.files.get('/h2/a-shadow.raw')!.version).toBe(w.files.get('/h1/a.raw')!.version);
    w.host('h1').guestWrite('a', 'data', 4096);
    expect(w.files.get('/h2/a-shadow.raw')!.version).toBe(w.files.get('/h1/a.raw')!.version);
    expect((await d1.stats('a')).disks[0]).toMatchObject({ id: 'data', wrBytes: 4096, wrOps: 1 });

    const seen: VmEvent[] = [];
    d1.subscribe((e) => seen.push(e), { vmId: 'a' });
    w.failHost('h2');
    expect(seen.map((e) => e.type)).toEqual(['BLOCK_JOB_ERROR', 'BLOCK_JOB_COMPLETED']);
    expect(seen[1].data.error).toBe('Input/output error');
    expect(await d1.queryBlockJobs('a')).toEqual([]);
    expect((await d1.status('a')).state).toBe('running'); // the primary keeps running
  });

  it('pauses before switchover when asked and completes on migrateContinue', async () => {
    const w = SimWorld.twoHosts({ timings: { migrationBytesPerMs: 1024 * 1024, migrationDowntimeMs: 30 } });
    const d1 = w.driver('h1');
    const d2 = w.driver('h2');
    await d1.create(baseSpec('a'));
    await d2.create(baseSpec('a', { incoming: true }));
    await d1.start('a');
    await d2.start('a');
    await d1.setMigrationCapabilities('a', { events: true, 'pause-before-switchover': true });
    await d2.migrateIncoming('a', 'tcp:10.0.0.2:4444');
    const pre = waitForEvent(d1, (e) => e.type === 'MIGRATION' && e.data.status === 'pre-switchover', { clock: w.clock, timeoutMs: 10_000 });
    await d1.migrate('a', 'tcp:10.0.0.2:4444');
    await pre;
    expect((await d1.status('a')).state).toBe('paused');
    expect((await d1.queryMigration('a')).status).toBe('pre-switchover');
    await d2.cont('a'); // while inmigrate: run as soon as the state arrives
    const resumed = waitForEvent(d2, (e) => e.type === 'RESUME', { clock: w.clock, timeoutMs: 10_000 });
    await d1.migrateContinue('a');
    await resumed;
    expect((await d2.status('a')).state).toBe('running');
    const info = await d1.queryMigration('a');
    expect(info).toMatchObject({ status: 'completed', downtimeMs: 30, remainingBytes: 0, transferredBytes: 128 * 1024 * 1024 });
  });

  it('refuses a second VM on the same host forward, like QEMU', async () => {
    const w = SimWorld.oneHost();
    const d = w.driver('h1');
    const net = { kind: 'user' as const, forwards: [{ hostPort: 8080, guestPort: 80 }] };
    await d.create(baseSpec('a', { network: net }));
    await d.create(baseSpec('b', { network: net }));
    await d.start('a');
    await expect(d.start('b')).rejects.toMatchObject({ code: 'VM_START_FAILED', stderrTail: expect.stringContaining("Could not set up host forwarding rule 'tcp:127.0.0.1:8080-:80'") });
    await d.kill('a');
    expect((await d.start('b')).state).toBe('running'); // the port is free again
  });

  it('is deterministic: the same calls give the same events and times', async () => {
    const run = async () => {
      const w = SimWorld.twoHosts({ clock: new SkippingClock(0) });
      const d = w.driver('h1');
      const log: string[] = [];
      d.subscribe((e) => log.push(`${e.atMs}:${e.vmId}:${e.type}`));
      await d.create(baseSpec('a'));
      await d.start('a');
      await d.stop('a');
      await d.cont('a');
      await d.hotAddVcpu('a').catch(() => undefined);
      await d.kill('a');
      return log;
    };
    const a = await run();
    expect(a).toEqual(await run());
    expect(a.map((l) => l.split(':')[2])).toEqual(['STOP', 'RESUME', 'EXITED']);
  });
  it('models dirty bitmaps: guest writes count (whole clusters), an incremental backup copies them, a failed one merges them back', async () => {
    const w = SimWorld.twoHosts();
    w.addFile('/src.raw', 64);
    w.addFile('/dst.raw', 64);
    const d1 = w.driver('h1');
    const d2 = w.driver('h2');
    await d2.create(baseSpec('dst', { disks: [{ kind: 'file', id: 'data', path: '/dst.raw' }], incoming: true }));
    await d2.start('dst');
    await d2.startNbdExport('dst', { host: '10.0.0.2', port: 10809, exports: [{ name: 'd', device: 'data', writable: true }] });
    await d1.create(baseSpec('src', { disks: [{ kind: 'file', id: 'data', path: '/src.raw' }] }));
    await d1.start('src');
    const ended = (job: string) => waitForEvent(d1, (e) => e.type === 'BLOCK_JOB_COMPLETED' && e.data.device === job, { clock: w.clock, timeoutMs: 60_000 });
    const base = { device: 'data', target: { host: '10.0.0.2', port: 10809, export: 'd' }, targetNode: 'bk' };
    const full = ended('f');
    await d1.backup('src', { ...base, jobId: 'f', sync: 'full', bitmap: 'bm' });
    expect((await full).data.error).toBeUndefined();
    const same = () => w.files.get('/src.raw')!.version === w.files.get('/dst.raw')!.version;
    expect(same()).toBe(true);
    w.host('h1').guestWrite('src', 'data', 100_000);
    expect((await d1.queryDirtyBitmaps('src', 'data'))[0]).toMatchObject({ name: 'bm', count: 131072, busy: false });
    expect(same()).toBe(false);
    const r1 = ended('r1');
    const job = await d1.backup('src', { ...base, jobId: 'r1', sync: 'incremental', bitmap: 'bm' });
    expect(job).toMatchObject({ type: 'backup', len: 131072, ready: false });
    expect((await d1.queryDirtyBitmaps('src', 'data'))[0]).toMatchObject({ count: 131072, busy: true }); // frozen while it runs
    expect((await r1).data).toMatchObject({ offset: 131072, len: 131072 });
    expect(same()).toBe(true);
    expect((await d1.queryDirtyBitmaps('src', 'data'))[0].count).toBe(0);
    // The target goes away: the next round fails and gives its bits back.
    w.host('h1').guestWrite('src', 'data', 65536);
    await d2.kill('dst');
    const r2 = ended('r2');
    await d1.backup('src', { ...base, jobId: 'r2', sync: 'incremental', bitmap: 'bm' });
    expect((await r2).data.error).toBe('Input/output error');
    expect((await d1.queryDirtyBitmaps('src', 'data'))[0].count).toBe(65536);
  });
});
