/**
 * The contract suite every {@link HypervisorDriver} passes: the simulated driver in a unit test
 * (sim/sim-driver.test.ts), the QEMU driver against real QEMU (test/hypervisor-qemu.test.ts).
 * A case may be skipped only with a written reason, shown in the test name.
 *
 * This module imports vitest: import it from tests only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../core/clock.js';
import type { HypervisorDriver } from './driver.js';
import { isHypervisorError, type HypervisorErrorCode } from './errors.js';
import { waitForEvent } from './events.js';
import type { VmSpecInput } from './spec.js';
import type { VmEvent } from './types.js';

/** A guest that boots and handles the ACPI power button. */
export interface BootableGuest {
  spec: VmSpecInput;
  /** Resolves when the guest is up far enough to handle ACPI (e.g. its service answers). */
  waitReady?: () => Promise<void>;
  /** One quick try: does the guest's service answer on its forwarded port now? Absent: not checked. */
  answers?: () => Promise<boolean>;
}

/** What a driver under test brings to the suite. */
export interface ContractTarget {
  /** The driver under test (replaced by `reopen`). */
  driver: HypervisorDriver;
  /** The clock event waits run on (the driver's). */
  clock: Clock;
  /** Address NBD servers and migration listeners bind to and are reached at. */
  address: string;
  /** A free TCP port on `address`. */
  freePort(): Promise<number>;
  /** Creates a blank raw disk image and returns its path. */
  makeDisk(name: string, sizeMiB: number): Promise<string>;
  /** Writes recognisable content derived from `seed` into an image (the VM using it is not running yet). */
  fillDisk(path: string, seed: number): Promise<void>;
  /** A digest of an image's content (equal digests: equal content). */
  diskDigest(path: string): Promise<string>;
  /** A guest that boots and answers ACPI, keyed by VM id; absent when none is available. */
  bootable?: (id: string, port: number) => BootableGuest;
  /** Closes the driver and returns a new one on the same host (an agent restart); sets `driver`. */
  reopen(): Promise<HypervisorDriver>;
  /** Waits for asynchronous effects (events, job progress), ms. */
  timeoutMs: number;
  /** Kills whatever the suite left running and removes its files. */
  cleanup(): Promise<void>;
}

/** The cases of the suite (keys of `skip`). */
export type ContractCase =
  | 'create and validation'
  | 'start, stop, cont with events'
  | 'paused start'
  | 'kill and restart'
  | 'start failure carries stderr'
  | 'powerdown ignored times out'
  | 'powerdown clean'
  | 'links down, then powerdown of a paused guest with resume'
  | 'stats shape'
  | 'hot-add vCPU and memory'
  | 'mirror to an NBD export'
  | 'backup with a dirty bitmap to an NBD export'
  | 'block job speed'
  | 'migration into a paused target'
  | 'adopt after driver restart'
  | 'event iterator';

/** Options of {@link runHypervisorContract}. */
export interface ContractOptions {
  name: string;
  make: () => Promise<ContractTarget>;
  /** Cases to skip, each with the reason (required, non-empty). */
  skip?: Partial<Record<ContractCase, string>>;
}

/** A minimal spec: firmware only (QMP works, the guest ignores ACPI). */
export function baseSpec(id: string, extra: Partial<VmSpecInput> = {}): VmSpecInput {
  return { id, vcpus: { base: 1 }, memory: { baseMiB: 128 }, boot: { kind: 'none' }, ...extra };
}

async function expectCode(p: Promise<unknown>, code: HypervisorErrorCode): Promise<unknown> {
  const err = await p.then(
    () => new Error(`expected ${code}, but it succeeded`),
    (e: unknown) => e,
  );
  if (!isHypervisorError(err, code)) throw new Error(`expected ${code}, got ${err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err)}`);
  return err;
}

/** Registers the contract suite for one driver with vitest. */
export function runHypervisorContract(opts: ContractOptions): void {
  for (const [c, reason] of Object.entries(opts.skip ?? {})) {
    if (!reason || !reason.trim()) throw new Error(`contract case "${c}" skipped without a reason`);
  }
  describe(`HypervisorDriver contract: ${opts.name}`, () => {
    let t: ContractTarget;
    beforeAll(async () => {
      t = await opts.make();
    });
    afterAll(async () => {
      await t?.cleanup();
    });

    const kase = (name: ContractCase, fn: () => Promise<void>) => {
      const reason = opts.skip?.[name];
      if (reason) it.skip(`${name} (skipped: ${reason})`, fn);
      else it(name, fn);
    };
    const d = () => t.driver;
    const wait = (pred: (e: VmEvent) => boolean, vmId: string, what: string) => {
      const p = waitForEvent(d(), pred, { clock: t.clock, timeoutMs: t.timeoutMs, filter: { vmId }, what });
      p.catch(() => undefined);
      return p;
    };
    /** Kills VMs at the end of a case whatever happened (at most two run at once). */
    const cleanupVms = async (...ids: string[]) => {
      for (const id of ids) await d().kill(id).catch(() => undefined);
    };

    kase('create and validation', async () => {
      const id = 'c-create';
      const st = await d().create(baseSpec(id));
      expect(st).toMatchObject({ id, state: 'defined', pid: null });
      expect((await d().create(baseSpec(id))).state).toBe('defined'); // same spec: no-op
      await expectCode(d().create(baseSpec(id, { memory: { baseMiB: 256 } })), 'VM_EXISTS');
      const bad = (await expectCode(
        d().create({ id: 'c-bad', vcpus: { base: 2, max: 1 }, memory: { baseMiB: 128, slots: 2 }, boot: { kind: 'none' } }),
        'VM_SPEC_INVALID',
      )) as { issues: { path: string }[] };
      expect(bad.issues.map((i) => i.path).sort()).toEqual(['memory.maxMiB', 'vcpus.max']);
      expect((await d().list()).find((v) => v.id === id)).toMatchObject({ state: 'defined', pid: null });
      await expectCode(d().status('c-nope'), 'VM_NOT_FOUND');
      await expectCode(d().start('c-nope'), 'VM_NOT_FOUND');
      const inv = (await expectCode(d().stop(id), 'VM_INVALID_STATE')) as { retryable: boolean };
      expect(inv.retryable).toBe(false);
      await d().remove(id);
      await expectCode(d().status(id), 'VM_NOT_FOUND');
    });

    kase('start, stop, cont with events', async () => {
      const id = 'c-life';
      try {
        await d().create(baseSpec(id));
        const st = await d().start(id);
        expect(st).toMatchObject({ id, state: 'running', vcpus: 1, memoryMiB: 128 });
        expect(st.pid).toBeGreaterThan(0);
        expect((await d().start(id)).pid).toBe(st.pid); // running: no-op
        const stopped = wait((e) => e.type === 'STOP', id, 'STOP');
        expect((await d().stop(id)).state).toBe('paused');
        expect((await stopped).vmId).toBe(id);
        expect((await d().stop(id)).state).toBe('paused'); // no-op
        const resumed = wait((e) => e.type === 'RESUME', id, 'RESUME');
        expect((await d().cont(id)).state).toBe('running');
        await resumed;
        expect((await d().status(id)).pid).toBe(st.pid);
      } finally {
        await cleanupVms(id);
      }
    });

    kase('paused start', async () => {
      const id = 'c-paused';
      try {
        await d().create(baseSpec(id));
        expect((await d().start(id, { paused: true })).state).toBe('prelaunch');
        const resumed = wait((e) => e.type === 'RESUME', id, 'RESUME');
        expect((await d().cont(id)).state).toBe('running');
        await resumed;
      } finally {
        await cleanupVms(id);
      }
    });

    kase('kill and restart', async () => {
      const id = 'c-kill';
      try {
        await d().create(baseSpec(id));
        const first = await d().start(id);
        const exited = wait((e) => e.type === 'EXITED', id, 'EXITED');
        const st = await d().kill(id);
        expect(st).toMatchObject({ state: 'exited', pid: null, vcpus: null });
        const ev = await exited;
        expect(ev.data).toMatchObject({ pid: first.pid, reason: 'killed' });
        expect((await d().kill(id)).state).toBe('exited'); // no-op
        await expectCode(d().stop(id), 'VM_INVALID_STATE');
        await expectCode(d().stats(id), 'VM_INVALID_STATE');
        const again = await d().start(id);
        expect(again.state).toBe('running');
        expect(again.pid).not.toBe(first.pid);
        await expectCode(d().remove(id), 'VM_INVALID_STATE');
        await d().kill(id);
        await d().remove(id);
        expect((await d().list()).some((v) => v.id === id)).toBe(false);
      } finally {
        await cleanupVms(id);
      }
    });

    kase('start failure carries stderr', async () => {
      const id = 'c-fail';
      const missing = '/nonexistent/umbra-contract/missing.raw';
      await d().create(baseSpec(id, { disks: [{ kind: 'file', id: 'data', path: missing }] }));
      const err = (await expectCode(d().start(id, { timeoutMs: t.timeoutMs }), 'VM_START_FAILED')) as { stderrTail: string; retryable: boolean; message: string };
      expect(err.retryable).toBe(false);
      expect(err.stderrTail).toContain(missing);
      expect(err.message).toContain('No such file or directory');
      expect(['exited', 'defined']).toContain((await d().status(id)).state);
      await d().remove(id);
    });

    kase('powerdown ignored times out', async () => {
      const id = 'c-pwr-ign';
      try {
        await d().create(baseSpec(id));
        await d().start(id);
        await expectCode(d().powerdown(id, { timeoutMs: 1500 }), 'POWERDOWN_TIMEOUT');
        expect((await d().status(id)).state).toBe('running');
        // Paused, with resume: the vCPUs run again, the button is still ignored.
        await d().stop(id);
        await expectCode(d().powerdown(id, { timeoutMs: 1500, resume: true }), 'POWERDOWN_TIMEOUT');
        expect((await d().status(id)).state).toBe('running');
      } finally {
        await cleanupVms(id);
      }
    });

    kase('powerdown clean', async () => {
      const id = 'c-pwr';
      if (!t.bootable) throw new Error('no bootable guest: give the target `bootable` or skip this case with a reason');
      const guest = t.bootable(id, await t.freePort());
      try {
        await d().create(guest.spec);
        await d().start(id);
        await guest.waitReady?.();
        const shutdown = wait((e) => e.type === 'SHUTDOWN', id, 'SHUTDOWN');
        const r = await d().powerdown(id, { timeoutMs: 30000 });
        expect(r).toEqual({ clean: true, reason: 'guest-shutdown' });
        expect((await shutdown).data).toMatchObject({ guest: true, reason: 'guest-shutdown' });
        expect((await d().status(id)).state).toBe('exited');
      } finally {
        await cleanupVms(id);
      }
    });

    kase('links down, then powerdown of a paused guest with resume', async () => {
      const id = 'c-iso';
      if (!t.bootable) throw new Error('no bootable guest: give the target `bootable` or skip this case with a reason');
      const guest = t.bootable(id, await t.freePort());
      /** True when `answers` stays false for `ms` (each try is quick). */
      const silentFor = async (ms: number) => {
        const end = t.clock.now() + ms;
        while (t.clock.now() < end) {
          if (await guest.answers!()) return false;
          await t.clock.sleep(100);
        }
        return true;
      };
      const answersWithin = async (ms: number) => {
        const end = t.clock.now() + ms;
        while (t.clock.now() < end) {
          if (await guest.answers!()) return true;
          await t.clock.sleep(100);
        }
        return false;
      };
      try {
        await expectCode(d().setLink('c-iso-nope', false), 'VM_NOT_FOUND');
        await d().create(guest.spec);
        await expectCode(d().setLink(id, false), 'VM_INVALID_STATE'); // no process
        await d().start(id);
        await guest.waitReady?.();
        if (guest.answers) expect(await answersWithin(t.timeoutMs)).toBe(true);
        const nics = await d().setLink(id, false);
        expect(nics).toHaveLength(1);
        expect(await d().setLink(id, false)).toEqual(nics); // idempotent
        if (guest.answers) expect(await silentFor(1500)).toBe(true); // running, but cut off
        await d().setLink(id, true);
        if (guest.answers) expect(await answersWithin(t.timeoutMs)).toBe(true);
        // The retirement of a fenced primary: paused, isolated, button, resumed: it powers off.
        await d().stop(id);
        await d().setLink(id, false);
        const resumed = wait((e) => e.type === 'RESUME', id, 'RESUME');
        const r = await d().powerdown(id, { timeoutMs: 30000, resume: true });
        expect(r).toEqual({ clean: true, reason: 'guest-shutdown' });
        await resumed;
        expect((await d().status(id)).state).toBe('exited');
        await expectCode(d().setLink(id, false), 'VM_INVALID_STATE');
        // A VM without a NIC has no link to set.
        await d().create(baseSpec('c-iso-nonic'));
        await d().start('c-iso-nonic');
        expect(await d().setLink('c-iso-nonic', false)).toEqual([]);
      } finally {
        await cleanupVms(id, 'c-iso-nonic');
      }
    });

    kase('stats shape', async () => {
      const id = 'c-stats';
      try {
        const disk = await t.makeDisk('c-stats', 16);
        await d().create(baseSpec(id, { disks: [{ kind: 'file', id: 'data', path: disk }], network: { kind: 'user', forwards: [] } }));
        const st = await d().start(id);
        const s1 = await d().stats(id);
        expect(s1.vmId).toBe(id);
        expect(s1.pid).toBe(st.pid);
        expect(Number.isFinite(s1.cpuTimeMs) && s1.cpuTimeMs >= 0).toBe(true);
        expect(s1.rssBytes).toBeGreaterThan(16 * 1024 * 1024);
        const data = s1.disks.find((x) => x.id === 'data');
        expect(data).toBeDefined();
        for (const k of ['rdBytes', 'wrBytes', 'rdOps', 'wrOps', 'flushOps'] as const) expect(data![k]).toBeGreaterThanOrEqual(0);
        expect(s1.net).toBeNull();
        expect(s1.netNote).toMatch(/user-mode/);
        await t.clock.sleep(300);
        const s2 = await d().stats(id);
        expect(s2.cpuTimeMs).toBeGreaterThanOrEqual(s1.cpuTimeMs);
        expect(s2.atMs).toBeGreaterThanOrEqual(s1.atMs + 300);
      } finally {
        await cleanupVms(id);
      }
    });

    kase('hot-add vCPU and memory', async () => {
      const id = 'c-hot';
      try {
        await d().create(baseSpec(id, { vcpus: { base: 1, max: 2 }, memory: { baseMiB: 128, slots: 1, maxMiB: 512 } }));
        await d().start(id);
        const cpu = await d().hotAddVcpu(id);
        expect(cpu.vcpus).toBe(2);
        expect((await d().status(id)).vcpus).toBe(2);
        const full = (await expectCode(d().hotAddVcpu(id), 'HOTPLUG_FAILED')) as { retryable: boolean };
        expect(full.retryable).toBe(false);
        const mem = await d().hotAddMemory(id, 128);
        expect(mem.memoryMiB).toBe(256);
        expect((await d().status(id)).memoryMiB).toBe(256);
        await expectCode(d().hotAddMemory(id, 128), 'HOTPLUG_FAILED'); // the only slot is used
        expect((await d().status(id)).state).toBe('running');
      } finally {
        await cleanupVms(id);
      }
    });

    kase('mirror to an NBD export', async () => {
      const src = 'c-mir-src';
      const dst = 'c-mir-dst';
      try {
        const srcDisk = await t.makeDisk('c-mir-src', 16);
        const dstDisk = await t.makeDisk('c-mir-dst', 16);
        await t.fillDisk(srcDisk, 7);
        expect(await t.diskDigest(srcDisk)).not.toBe(await t.diskDigest(dstDisk));
        // The shadow side: an incoming migration target (its devices are inactive, so the
        // export may write), as in the replication flow.
        await d().create(baseSpec(dst, { disks: [{ kind: 'file', id: 'data', path: dstDisk }], incoming: true }));
        await d().create(baseSpec(src, { disks: [{ kind: 'file', id: 'data', path: srcDisk }] }));
        await d().start(dst);
        const port = await t.freePort();
        const nbd = { host: t.address, port, exports: [{ name: 'data', device: 'data', writable: true }] };
        await d().startNbdExport(dst, nbd);
        await d().startNbdExport(dst, nbd); // ensure: no-op
        await d().start(src);
        // A running guest's disk cannot be exported writable (its device does not share writes),
        // and the refused call leaves no NBD server behind.
        const srcPort = await t.freePort();
        await expectCode(d().startNbdExport(src, { host: t.address, port: srcPort, exports: [{ name: 'x', device: 'data', writable: true }] }), 'HV_COMMAND_FAILED');
        await d().startNbdExport(src, { host: t.address, port: srcPort, exports: [{ name: 'x', device: 'data', writable: false }] });
        await d().stopNbdExport(src);
        const target = { host: t.address, port, export: 'data' };
        const ready = wait((e) => e.type === 'BLOCK_JOB_READY' && e.data.device === 'm0', src, 'BLOCK_JOB_READY');
        const job = await d().mirror(src, { jobId: 'm0', device: 'data', target, sync: 'full', copyMode: 'write-blocking' });
        expect(job.jobId).toBe('m0');
        await ready;
        expect((await d().mirror(src, { jobId: 'm0', device: 'data', target, sync: 'full', copyMode: 'write-blocking' })).jobId).toBe('m0');
        const jobs = await d().queryBlockJobs(src);
        expect(jobs).toHaveLength(1);
        expect(jobs[0]).toMatchObject({ jobId: 'm0', ready: true, status: 'ready' });
        expect(jobs[0].offset).toBe(jobs[0].len);
        const end = await d().cancelBlockJob(src, 'm0');
        expect(end.outcome).toBe('completed'); // a ready mirror cancelled leaves a consistent copy
        expect(await d().queryBlockJobs(src)).toEqual([]);
        // The same job id can run again (its target node was cleaned up); completing it pivots
        // the source onto the target.
        const ready2 = wait((e) => e.type === 'BLOCK_JOB_READY' && e.data.device === 'm0', src, 'BLOCK_JOB_READY');
        await d().mirror(src, { jobId: 'm0', device: 'data', target, sync: 'full', copyMode: 'background' });
        await ready2;
        expect((await d().completeBlockJob(src, 'm0')).outcome).toBe('completed');
        expect(await d().queryBlockJobs(src)).toEqual([]);
        const missing = { host: t.address, port: await t.freePort(), export: 'data' };
        await expectCode(d().mirror(src, { jobId: 'm1', device: 'data', target: missing, sync: 'full', copyMode: 'background' }), 'HV_COMMAND_FAILED');
        await expectCode(d().cancelBlockJob(src, 'nojob'), 'HV_COMMAND_FAILED');
        await cleanupVms(src);
        await d().stopNbdExport(dst);
        await d().stopNbdExport(dst); // no-op
        await cleanupVms(dst);
        expect(await t.diskDigest(dstDisk)).toBe(await t.diskDigest(srcDisk));
      } finally {
        await cleanupVms(src, dst);
      }
    });

    kase('backup with a dirty bitmap to an NBD export', async () => {
      const src = 'c-bak-src';
      const dst = 'c-bak-dst';
      try {
        const srcDisk = await t.makeDisk('c-bak-src', 16);
        const dstDisk = await t.makeDisk('c-bak-dst', 16);
        await t.fillDisk(srcDisk, 11);
        await d().create(baseSpec(dst, { disks: [{ kind: 'file', id: 'data', path: dstDisk }], incoming: true }));
        await d().create(baseSpec(src, { disks: [{ kind: 'file', id: 'data', path: srcDisk }] }));
        await d().start(dst);
        const port = await t.freePort();
        await d().startNbdExport(dst, { host: t.address, port, exports: [{ name: 'data', device: 'data', writable: true }] });
        await d().start(src);
        const target = { host: t.address, port, export: 'data' };
        const base = { device: 'data', target, targetNode: 'bk0' };
        // Refused backups change nothing: no bitmap, no job (the transaction is all or nothing).
        const missing = { host: t.address, port: await t.freePort(), export: 'data' };
        await expectCode(d().backup(src, { ...base, jobId: 'b-miss', target: missing, targetNode: 'bk-miss', sync: 'full', bitmap: 'bm0' }), 'HV_COMMAND_FAILED');
        await expectCode(d().backup(src, { ...base, jobId: 'b-nobm', sync: 'incremental', bitmap: 'bm0' }), 'HV_COMMAND_FAILED');
        expect(await d().queryDirtyBitmaps(src, 'data')).toEqual([]);
        expect(await d().queryBlockJobs(src)).toEqual([]);
        // The full copy starts the bitmap at its own point in time, then ends by itself.
        const full = wait((e) => e.type === 'BLOCK_JOB_COMPLETED' && e.data.device === 'b-full', src, 'BLOCK_JOB_COMPLETED b-full');
        expect((await d().backup(src, { ...base, jobId: 'b-full', sync: 'full', bitmap: 'bm0' })).jobId).toBe('b-full');
        const ev = await full;
        expect(ev.data.error).toBeUndefined();
        expect(ev.data).toMatchObject({ type: 'backup', offset: ev.data.len });
        expect(await d().queryBlockJobs(src)).toEqual([]); // auto-dismissed
        const bms = await d().queryDirtyBitmaps(src, 'data');
        expect(bms).toEqual([{ name: 'bm0', count: 0, granularity: bms[0]?.granularity, busy: false, recording: true }]);
        expect(bms[0].granularity).toBeGreaterThan(0);
        await expectCode(d().backup(src, { ...base, jobId: 'b-full2', sync: 'full', bitmap: 'bm0' }), 'HV_COMMAND_FAILED'); // the bitmap exists
        // An incremental round over the same target node: nothing dirty, done at once.
        const inc = wait((e) => e.type === 'BLOCK_JOB_COMPLETED' && e.data.device === 'b-inc1', src, 'BLOCK_JOB_COMPLETED b-inc1');
        await d().backup(src, { ...base, jobId: 'b-inc1', sync: 'incremental', bitmap: 'bm0' });
        expect((await inc).data.error).toBeUndefined();
        expect((await d().queryDirtyBitmaps(src, 'data')).map((b) => [b.name, b.count])).toEqual([['bm0', 0]]);
        await d().removeDirtyBitmap(src, 'data', 'bm0');
        await d().removeDirtyBitmap(src, 'data', 'bm0'); // no-op
        expect(await d().queryDirtyBitmaps(src, 'data')).toEqual([]);
        await d().removeNbdTarget(src, 'bk0');
        await d().removeNbdTarget(src, 'bk0'); // no-op
        await cleanupVms(src);
        await d().stopNbdExport(dst);
        await cleanupVms(dst);
        expect(await t.diskDigest(dstDisk)).toBe(await t.diskDigest(srcDisk));
      } finally {
        await cleanupVms(src, dst);
      }
    });

    kase('block job speed', async () => {
      const src = 'c-spd-src';
      const dst = 'c-spd-dst';
      try {
        await d().create(baseSpec(dst, { disks: [{ kind: 'file', id: 'data', path: await t.makeDisk('c-spd-dst', 16) }], incoming: true }));
        await d().create(baseSpec(src, { disks: [{ kind: 'file', id: 'data', path: await t.makeDisk('c-spd-src', 16) }] }));
        await d().start(dst);
        const port = await t.freePort();
        await d().startNbdExport(dst, { host: t.address, port, exports: [{ name: 'data', device: 'data', writable: true }] });
        await d().start(src);
        const ready = wait((e) => e.type === 'BLOCK_JOB_READY' && e.data.device === 'm-spd', src, 'BLOCK_JOB_READY');
        await d().mirror(src, { jobId: 'm-spd', device: 'data', target: { host: t.address, port, export: 'data' }, sync: 'full', copyMode: 'background' });
        await ready;
        // The mirror's own dirty tracking shows as an anonymous bitmap (nothing left to copy now).
        expect(await d().queryDirtyBitmaps(src, 'data')).toEqual([]);
        const anon = await d().queryDirtyBitmaps(src, 'data', { includeAnonymous: true });
        expect(anon.map((b) => [b.name, b.count])).toEqual([['', 0]]);
        await d().setBlockJobSpeed(src, 'm-spd', 1024 * 1024);
        expect((await d().queryBlockJobs(src))[0]).toMatchObject({ jobId: 'm-spd', speed: 1024 * 1024 });
        await d().setBlockJobSpeed(src, 'm-spd', 0);
        expect((await d().queryBlockJobs(src))[0].speed).toBe(0);
        await expectCode(d().setBlockJobSpeed(src, 'nojob', 1024), 'HV_COMMAND_FAILED');
        await d().cancelBlockJob(src, 'm-spd');
      } finally {
        await cleanupVms(src, dst);
      }
    });

    kase('migration into a paused target', async () => {
      const src = 'c-mig-src';
      const dst = 'c-mig-dst';
      try {
        await d().create(baseSpec(src));
        await d().create(baseSpec(dst, { incoming: true }));
        expect((await d().start(dst)).state).toBe('inmigrate');
        await d().start(src);
        await d().setMigrationCapabilities(dst, { events: true });
        await d().setMigrationCapabilities(src, { events: true, 'pause-before-switchover': true });
        const uri = `tcp:${t.address}:${await t.freePort()}`;
        await d().migrateIncoming(dst, uri);
        // Nobody listens there: `migrate` returns, the migration fails, the source keeps running.
        const failed = wait((e) => e.type === 'MIGRATION' && e.data.status === 'failed', src, 'MIGRATION failed');
        await d().migrate(src, `tcp:${t.address}:${await t.freePort()}`);
        await failed;
        expect(await d().queryMigration(src)).toMatchObject({ status: 'failed', error: expect.stringContaining('Connection refused') });
        expect((await d().status(src)).state).toBe('running');
        const pre = wait((e) => e.type === 'MIGRATION' && e.data.status === 'pre-switchover', src, 'MIGRATION pre-switchover');
        const srcDone = wait((e) => e.type === 'MIGRATION' && e.data.status === 'completed', src, 'MIGRATION completed');
        const dstDone = wait((e) => e.type === 'MIGRATION' && e.data.status === 'completed', dst, 'MIGRATION completed');
        await d().migrate(src, uri);
        await pre; // the source is paused here: the moment a block mirror would be cancelled
        expect((await d().queryMigration(src)).status).toBe('pre-switchover');
        expect((await d().status(src)).state).toBe('paused');
        await d().migrateContinue(src);
        await srcDone;
        await dstDone;
        expect((await d().queryMigration(src)).status).toBe('completed');
        expect((await d().status(src)).state).toBe('postmigrate');
        expect((await d().status(dst)).state).toBe('paused');
        expect((await d().cont(dst)).state).toBe('running');
      } finally {
        await cleanupVms(src, dst);
      }
    });

    kase('adopt after driver restart', async () => {
      const id = 'c-adopt';
      try {
        await d().create(baseSpec(id));
        const st = await d().start(id);
        const d2 = await t.reopen();
        expect(d2).toBe(t.driver);
        const listed = (await d2.list()).find((v) => v.id === id);
        expect(listed).toMatchObject({ id, state: 'running', pid: st.pid });
        const adopted = await d2.adopt(id);
        expect(adopted).toMatchObject({ state: 'running', pid: st.pid });
        const stopped = wait((e) => e.type === 'STOP', id, 'STOP');
        await d2.stop(id);
        await stopped;
        expect((await d2.cont(id)).state).toBe('running');
      } finally {
        await cleanupVms(id);
      }
    });

    kase('event iterator', async () => {
      const id = 'c-iter';
      const ac = new AbortController();
      try {
        await d().create(baseSpec(id));
        await d().start(id);
        const it = d().events({ vmId: id, types: ['STOP', 'RESUME'], signal: ac.signal });
        await d().stop(id);
        await d().cont(id);
        const a = await it.next();
        const b = await it.next();
        expect([a.value?.type, b.value?.type]).toEqual(['STOP', 'RESUME']);
        expect(b.value!.atMs).toBeGreaterThanOrEqual(a.value!.atMs);
        ac.abort();
        expect((await it.next()).done).toBe(true);
      } finally {
        ac.abort();
        await cleanupVms(id);
      }
    });
  });
}
