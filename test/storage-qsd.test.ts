/**
 * The qemu-storage-daemon block-target driver against the REAL daemon (qemu-storage-daemon 7.2)
 * and real NBD clients (qemu-io): the shared contract suite, plus what only the real one can
 * show (a daemon that outlives its driver, point-in-time reads while the target is written).
 * Every daemon started here is killed by the pid in its pidfile in afterAll, also on failure.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { osPortPicker } from '../src/agent/ports.js';
import { readPidFile } from '../src/hypervisor/qemu/process.js';
import { runBlockTargetContract, type ExportRef } from '../src/storage/contract.js';
import { QsdBlockTargetDriver } from '../src/storage/qsd/qsd-driver.js';
import { killTargetDaemons } from './support/target-cleanup.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const dirs: string[] = [];


afterAll(() => {
  for (const d of dirs) {
    killTargetDaemons(d);
    rmSync(d, { recursive: true, force: true });
  }
});

const url = (r: ExportRef) => `nbd://${r.host}:${r.port}/${r.export}`;

async function qemuIoWrite(r: ExportRef, offset: number, len: number, byte: number): Promise<void> {
  const { stdout } = await run('qemu-io', ['-f', 'raw', '-c', `write -P 0x${byte.toString(16)} ${offset} ${len}`, url(r)]);
  if (!/wrote \d+\/\d+ bytes/.test(stdout)) throw new Error(`qemu-io write failed: ${stdout}`);
}

async function qemuIoHolds(r: ExportRef, offset: number, len: number, byte: number): Promise<boolean> {
  const { stdout } = await run('qemu-io', ['-r', '-f', 'raw', '-c', `read -P 0x${byte.toString(16)} ${offset} ${len}`, url(r)]);
  if (!/read \d+\/\d+ bytes/.test(stdout)) throw new Error(`qemu-io read failed: ${stdout}`);
  return !/Pattern verification failed/.test(stdout);
}

function harnessDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'uqs-'));
  dirs.push(d);
  return d;
}

runBlockTargetContract({
  name: 'qemu-storage-daemon',
  make: async () => {
    const baseDir = harnessDir();
    const h = {
      driver: new QsdBlockTargetDriver({ baseDir }),
      host: HOST,
      freePort: () => osPortPicker.pick(HOST, new Set()),
      write: qemuIoWrite,
      holds: qemuIoHolds,
      fileSize: (p: string) => (existsSync(p) ? statSync(p).size : -1),
      async reopen() {
        await h.driver.close();
        h.driver = new QsdBlockTargetDriver({ baseDir });
        return h.driver;
      },
      async cleanup() {
        await h.driver.close();
        killTargetDaemons(baseDir);
      },
    };
    return h;
  },
});

describe('qemu-storage-daemon driver, real-only checks', () => {
  it('the daemon outlives its driver, keeps its file, and a point-in-time export is set up without pausing writes', async () => {
    const baseDir = harnessDir();
    let d = new QsdBlockTargetDriver({ baseDir });
    const port = await osPortPicker.pick(HOST, new Set());
    const spec = { id: 'real1', sizeBytes: 64 * 1024 * 1024, host: HOST, port, exportName: 'real1' };
    const t0 = performance.now();
    const st = await d.ensure(spec);
    const ensureMs = performance.now() - t0;
    expect(st.state).toBe('running');
    expect(readPidFile(join(baseDir, 'targets', 'real1', 'qsd.pid'))).toBe(st.pid);
    await d.close();
    d = new QsdBlockTargetDriver({ baseDir });
    expect((await d.status('real1')).pid).toBe(st.pid);
    await qemuIoWrite({ host: HOST, port, export: 'real1' }, 0, 4 * 1024 * 1024, 0x42);
    const setups: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const pit = await d.exportPointInTime('real1', `m${i}`);
      setups.push(pit.setupMs);
      await qemuIoWrite({ host: HOST, port, export: 'real1' }, 0, 4 * 1024 * 1024, 0x50 + i);
      expect(await qemuIoHolds(pit, 0, 4 * 1024 * 1024, i === 1 ? 0x42 : 0x50 + i - 1)).toBe(true);
      await d.releasePointInTime('real1', `m${i}`);
    }
    expect(readdirSync(join(baseDir, 'targets', 'real1')).filter((f) => f.startsWith('pit-'))).toEqual([]);
    const t1 = performance.now();
    const dg = await d.digest('real1');
    const digestMs = performance.now() - t1;
    const t2 = performance.now();
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(baseDir, 'probe.qcow2'), String(spec.sizeBytes)]);
    const imgMs = performance.now() - t2;
    console.log(`[measured] qsd ensure (start) ${ensureMs.toFixed(0)} ms; point-in-time set-up ${setups.join(', ')} ms (of which qemu-img create of the overlay alone: ${imgMs.toFixed(0)} ms); digest of 64 MiB ${digestMs.toFixed(0)} ms`);
    expect(dg.chunks).toHaveLength(64);
    await d.remove('real1');
    expect(existsSync(join(baseDir, 'targets', 'real1'))).toBe(false);
    await d.close();
  }, 60_000);
});
