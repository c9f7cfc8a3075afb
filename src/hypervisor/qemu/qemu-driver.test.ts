import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuHypervisorDriver } from './qemu-driver.js';
import { baseSpec } from '../contract.js';

// What the QEMU driver does without running QEMU (records, validation, spawn failure);
// everything with a live QEMU is in test/hypervisor-qemu.test.ts.
let dir = '';
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

function driver(binary?: string): QemuHypervisorDriver {
  return new QemuHypervisorDriver({ baseDir: dir, accel: 'tcg', binary });
}

describe('QemuHypervisorDriver records', () => {
  it('keeps specs in run dirs, so a new driver lists and finds them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'umbra-qd-'));
    const d1 = driver();
    await d1.create(baseSpec('a'));
    await d1.create(baseSpec('b', { memory: { baseMiB: 256 } }));
    expect(JSON.parse(readFileSync(join(dir, 'vms', 'b', 'spec.json'), 'utf8')).memory.baseMiB).toBe(256);
    await d1.close();
    const d2 = driver();
    expect(await d2.list()).toEqual([
      { id: 'a', state: 'defined', pid: null },
      { id: 'b', state: 'defined', pid: null },
    ]);
    expect((await d2.status('b')).state).toBe('defined');
    await expect(d2.create(baseSpec('b'))).rejects.toMatchObject({ code: 'VM_EXISTS' });
    await d2.remove('a');
    expect(existsSync(join(dir, 'vms', 'a'))).toBe(false);
    await expect(d2.status('a')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    await expect(d2.status('../etc')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('reports a binary that cannot run as VM_START_FAILED', async () => {
    dir = mkdtempSync(join(tmpdir(), 'umbra-qd-'));
    const d = driver('/nonexistent/qemu-system-x86_64');
    await d.create(baseSpec('a'));
    await expect(d.start('a')).rejects.toMatchObject({ code: 'VM_START_FAILED', message: expect.stringContaining('ENOENT') });
  });

  it('refuses operations that need a process on a defined VM', async () => {
    dir = mkdtempSync(join(tmpdir(), 'umbra-qd-'));
    const d = driver();
    await d.create(baseSpec('a'));
    for (const op of [() => d.stop('a'), () => d.stats('a'), () => d.hotAddVcpu('a'), () => d.powerdown('a')]) {
      await expect(op()).rejects.toMatchObject({ code: 'VM_INVALID_STATE', state: 'defined' });
    }
    expect((await d.kill('a')).state).toBe('defined'); // nothing to kill: no-op
  });
});
