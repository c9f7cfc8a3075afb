/**
 * The QEMU driver against real QEMU (TCG): the hypervisor contract suite, the QMP client on a
 * real monitor, the accelerator probe, and measured figures (QMP round trip, create → QMP ready).
 * At most two QEMUs run at once; every QEMU started here is killed by pid in afterAll.
 */
import { killRecordedQemus } from './support/qemu-cleanup.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { freePort } from './support/net.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { runHypervisorContract, baseSpec, type ContractTarget } from '../src/hypervisor/contract.js';
import { QemuHypervisorDriver } from '../src/hypervisor/qemu/qemu-driver.js';
import { QmpClient } from '../src/hypervisor/qemu/qmp-client.js';
import { clearAccelMemo, probeAccel } from '../src/hypervisor/qemu/accel-probe.js';
import { isHypervisorError } from '../src/hypervisor/errors.js';
import { parseProcStat } from '../src/hypervisor/qemu/proc-stats.js';
import { waitForEvent } from '../src/hypervisor/events.js';
import { buildImage, ensureHostTools, guestKernelArgs, type GuestImage } from '../src/guest/index.js';

const QEMU = 'qemu-system-x86_64';

/** Every temp dir made here, and every pid seen in them, is cleaned in afterAll. */
const tempDirs: string[] = [];
const extraPids = new Set<number>();

function tempDir(prefix: string): string {
  // Short paths: QMP socket paths must stay under 108 bytes.
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

afterAll(() => {
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of tempDirs) {
    killRecordedQemus(d);
    rmSync(d, { recursive: true, force: true });
  }
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

let guest: GuestImage | null = null;
let guestError = '';

function qemuTarget(): ContractTarget {
  const baseDir = tempDir('umq-');
  const disks = tempDir('umd-');
  const t: ContractTarget = {
    driver: new QemuHypervisorDriver({ baseDir, accel: 'auto' }),
    clock: systemClock,
    address: '127.0.0.1',
    freePort,
    makeDisk: async (name, sizeMiB) => {
      const p = join(disks, `${name}.raw`);
      rmSync(p, { force: true });
      execFileSync('qemu-img', ['create', '-q', '-f', 'raw', p, `${sizeMiB}M`]);
      return p;
    },
    fillDisk: async (path, seed) => {
      const fd = openSync(path, 'r+');
      try {
        const chunk = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + seed) & 0xff;
        for (let mb = 0; mb < 4; mb++) writeSync(fd, chunk, 0, chunk.length, mb * 3 * 1024 * 1024);
      } finally {
        closeSync(fd);
      }
    },
    diskDigest: async (path) => createHash('sha256').update(readFileSync(path)).digest('hex'),
    bootable: guest
      ? (id, hostPort) => ({
          spec: baseSpec(id, {
            boot: { kind: 'kernel', kernel: guest!.kernel, initrd: guest!.initrd, append: guestKernelArgs({ dataDevice: 'none' }) },
            network: { kind: 'user', forwards: [{ hostAddr: '127.0.0.1', hostPort, guestPort: 80 }] },
          }),
          waitReady: async () => {
            const url = `http://127.0.0.1:${hostPort}/health`;
            const end = Date.now() + 60_000;
            while (!(await httpOk(url))) {
              if (Date.now() > end) throw new Error(`guest not healthy at ${url} within 60 s`);
              await systemClock.sleep(100);
            }
          },
          answers: () => httpOk(`http://127.0.0.1:${hostPort}/health`),
        })
      : undefined,
    reopen: async () => {
      await t.driver.close();
      t.driver = new QemuHypervisorDriver({ baseDir, accel: 'auto' });
      return t.driver;
    },
    timeoutMs: 30_000,
    cleanup: async () => {
      killRecordedQemus(baseDir);
      await t.driver.close();
    },
  };
  return t;
}

describe('QEMU driver (real QEMU, TCG)', () => {
  beforeAll(async () => {
    // Installs QEMU and qemu-img when missing (CI runs as root), then builds or reuses the guest.
    await ensureHostTools();
    try {
      guest = await buildImage();
    } catch (e) {
      guestError = e instanceof Error ? e.message : String(e);
    }
  }, 600_000);

  it('has the lab guest image for boot tests', () => {
    expect(guestError).toBe('');
    expect(guest).not.toBeNull();
  });

  runHypervisorContract({ name: 'qemu', make: async () => qemuTarget() });

  describe('accelerator probe', () => {
    it('falls back to TCG here (KVM unusable) and caches the result', async () => {
      clearAccelMemo();
      const dir = tempDir('ump-');
      const cacheFile = join(dir, 'accel.json');
      const r = await probeAccel({ binary: QEMU, workDir: dir, clock: systemClock, cacheFile, timeoutMs: 5000 });
      expect(r.accel).toBe('tcg');
      expect(r.trials[0]).toMatchObject({ accel: 'kvm', ok: false });
      expect(r.trials[1]).toMatchObject({ accel: 'tcg', ok: true, detail: 'firmware reached boot' });
      expect(JSON.parse(readFileSync(cacheFile, 'utf8')).accel).toBe('tcg');
      clearAccelMemo();
      const t0 = performance.now();
      const again = await probeAccel({ binary: QEMU, workDir: dir, clock: systemClock, cacheFile });
      expect(again.accel).toBe('tcg');
      expect(performance.now() - t0).toBeLessThan(50); // from the cache file: no test boot
    });
  });

  describe('QMP client on a real monitor', () => {
    let dir: string;
    let child: ChildProcess;
    let sock: string;
    beforeAll(async () => {
      dir = tempDir('umc-');
      sock = join(dir, 'qmp.sock');
      child = spawn(QEMU, ['-accel', 'tcg,tb-size=32', '-machine', 'q35', '-m', '64', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`], {
        stdio: 'ignore',
      });
      extraPids.add(child.pid!);
      const end = Date.now() + 10_000;
      while (!existsSync(sock) && Date.now() < end) await systemClock.sleep(20);
    });
    afterAll(() => {
      child.kill('SIGKILL');
    });

    it('negotiates, runs commands, sees STOP/RESUME, and measures the round trip', async () => {
      const q = await QmpClient.connect({ path: sock });
      try {
        expect(q.greeting.version.qemu.major).toBe(7);
        expect(await q.execute('query-status')).toMatchObject({ status: 'prelaunch', running: false });
        const err = await q.execute('no-such-command').catch((e: unknown) => e);
        expect(isHypervisorError(err, 'HV_COMMAND_FAILED')).toBe(true);
        expect((err as { errorClass: string }).errorClass).toBe('CommandNotFound');
        const it2 = q.events();
        await q.execute('cont');
        await q.execute('stop');
        expect((await it2.next()).value?.event).toBe('RESUME');
        expect((await it2.next()).value?.event).toBe('STOP');
        const rtt: number[] = [];
        for (let i = 0; i < 200; i++) {
          const t0 = performance.now();
          await q.execute('query-status');
          rtt.push(performance.now() - t0);
        }
        const med = median(rtt);
        console.log(`[measured] QMP round trip (query-status, 200 calls): median ${med.toFixed(3)} ms, p95 ${[...rtt].sort((a, b) => a - b)[189].toFixed(3)} ms`);
        expect(med).toBeLessThan(20);
      } finally {
        await q.close();
      }
    });

    it('re-attaches after the client closed (a restarted agent), and sees QEMU go away', async () => {
      const q1 = await QmpClient.connect({ path: sock });
      await q1.close();
      const q2 = await QmpClient.connect({ path: sock });
      expect(await q2.execute('query-status')).toMatchObject({ status: 'paused' });
      const dropped = new Promise<Error>((r) => q2.onDisconnect(r));
      child.kill('SIGKILL');
      expect(isHypervisorError(await dropped, 'QMP_DISCONNECTED')).toBe(true);
      expect(q2.connected).toBe(false);
      await expect(q2.reconnect()).rejects.toMatchObject({ code: 'QMP_DISCONNECTED' });
    });
  });

  describe('QEMU-specific behaviour', () => {
    let driver: QemuHypervisorDriver;
    let baseDir: string;
    beforeAll(() => {
      baseDir = tempDir('umx-');
      driver = new QemuHypervisorDriver({ baseDir, accel: 'tcg' });
    });
    afterAll(async () => {
      killRecordedQemus(baseDir);
      await driver.close();
    });

    it('measures create → QMP ready (median of 5 starts)', async () => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const id = `ready-${i}`;
        const t0 = performance.now();
        await driver.create(baseSpec(id));
        const st = await driver.start(id);
        times.push(performance.now() - t0);
        expect(st.state).toBe('running');
        await driver.kill(id);
      }
      console.log(`[measured] create → QMP ready (TCG, no guest): median ${median(times).toFixed(1)} ms over 5 (${times.map((x) => x.toFixed(0)).join(', ')})`);
      expect(median(times)).toBeLessThan(5000);
    });

    it('reports a QEMU that exits at start with the tail of its stderr (bad option value)', async () => {
      await driver.create(baseSpec('badmem', { memory: { baseMiB: 128, slots: 1, maxMiB: 100000000 } }));
      const err = (await driver.start('badmem').catch((e: unknown) => e)) as { code: string; stderrTail: string; exitCode: number | null };
      expect(err.code).toBe('VM_START_FAILED');
      expect(err.stderrTail).toMatch(/qemu-system-x86_64: /);
      expect(err.exitCode).toBe(1);
      // A second attempt reports only its own output, not the previous run's.
      const again = (await driver.start('badmem').catch((e: unknown) => e)) as { stderrTail: string };
      expect(again.stderrTail.split('\n').length).toBe(err.stderrTail.split('\n').length);
    });

    it('hot-plugs a disk into a PCIe root port and counts its I/O', async () => {
      const disk = join(baseDir, 'hot.raw');
      execFileSync('qemu-img', ['create', '-q', '-f', 'raw', disk, '16M']);
      await driver.create(baseSpec('hotdisk', { devices: [{ kind: 'pcie-root-port', id: 'rp1', chassis: 1, slot: 1 }] }));
      try {
        await driver.start('hotdisk');
        expect((await driver.stats('hotdisk')).disks).toEqual([]);
        await driver.attachDisk('hotdisk', { kind: 'file', id: 'promo', path: disk });
        expect((await driver.stats('hotdisk')).disks.map((d) => d.id)).toEqual(['promo']);
        // The root port holds one device.
        await expect(driver.attachDisk('hotdisk', { kind: 'file', id: 'promo2', path: disk, readOnly: true })).rejects.toMatchObject({ code: 'HV_COMMAND_FAILED' });
      } finally {
        await driver.kill('hotdisk');
      }
    });

    it('runs QEMU in its own session (it outlives the agent) and exports a share-rw disk of a running guest', async () => {
      const disk = join(baseDir, 'share.raw');
      execFileSync('qemu-img', ['create', '-q', '-f', 'raw', disk, '16M']);
      await driver.create(baseSpec('share', { disks: [{ kind: 'file', id: 'data', path: disk, shareRw: true }] }));
      try {
        const st = await driver.start('share');
        const stat = parseProcStat(readFileSync(`/proc/${st.pid}/stat`, 'utf8'));
        expect(stat.session).toBe(st.pid);
        await driver.startNbdExport('share', { host: '127.0.0.1', port: await freePort(), exports: [{ name: 'data', device: 'data', writable: true }] });
        await driver.stopNbdExport('share');
      } finally {
        await driver.kill('share');
      }
    });

    it('starts snapshot disks without touching the image', async () => {
      const disk = join(baseDir, 'snap.raw');
      execFileSync('qemu-img', ['create', '-q', '-f', 'raw', disk, '16M']);
      await driver.create(baseSpec('snap', { disks: [{ kind: 'file', id: 'data', path: disk, snapshot: true }] }));
      try {
        expect((await driver.start('snap')).state).toBe('running');
        expect((await driver.stats('snap')).disks.map((d) => d.id)).toEqual(['data']);
      } finally {
        await driver.kill('snap');
      }
    });

    it('boots the lab guest, sees its CPU time grow, and powers it down cleanly', async () => {
      expect(guest, guestError).not.toBeNull();
      const port = await freePort();
      const id = 'guest';
      await driver.create(
        baseSpec(id, {
          vcpus: { base: 1, max: 2 },
          memory: { baseMiB: 128, slots: 1, maxMiB: 256 },
          boot: { kind: 'kernel', kernel: guest!.kernel, initrd: guest!.initrd, append: guestKernelArgs({ dataDevice: 'none' }) },
          network: { kind: 'user', forwards: [{ hostAddr: '127.0.0.1', hostPort: port, guestPort: 80 }] },
        }),
      );
      try {
        const t0 = performance.now();
        await driver.start(id);
        while (!(await httpOk(`http://127.0.0.1:${port}/health`))) {
          if (performance.now() - t0 > 60_000) throw new Error('guest not healthy within 60 s');
          await systemClock.sleep(50);
        }
        console.log(`[measured] create → guest /health (TCG, thread=single): ${(performance.now() - t0).toFixed(0)} ms`);
        const s1 = await driver.stats(id);
        expect(s1.cpuTimeMs).toBeGreaterThan(100); // booting a kernel under TCG costs CPU
        expect(s1.rssBytes).toBeGreaterThan(64 * 1024 * 1024);
        const mem = await driver.hotAddMemory(id, 128);
        expect(mem.memoryMiB).toBe(256);
        const exited = waitForEvent(driver, (e) => e.type === 'EXITED', { clock: systemClock, timeoutMs: 30_000, filter: { vmId: id } });
        expect(await driver.powerdown(id, { timeoutMs: 30_000 })).toEqual({ clean: true, reason: 'guest-shutdown' });
        expect((await exited).data).toMatchObject({ reason: 'guest-shutdown', pid: s1.pid });
      } finally {
        await driver.kill(id);
      }
    });
  });
});
