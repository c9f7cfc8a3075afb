import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataDisk } from './data-disk.js';
import { which } from './exec.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-disk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// qemu-img comes with qemu-utils, which buildImage() installs; the integration test covers that.
describe.skipIf(!which('qemu-img'))('createDataDisk (needs qemu-img)', () => {
  it('creates an empty qcow2 disk of the asked size', async () => {
    const path = await createDataDisk(join(dir, 'sub', 'd.qcow2'), 64);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path], { encoding: 'utf8' }));
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(64 * 2 ** 20);
  });

  it('creates raw disks too, and never overwrites a file', async () => {
    const path = await createDataDisk(join(dir, 'd.raw'), 16, { format: 'raw' });
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path], { encoding: 'utf8' }));
    expect([info.format, info['virtual-size']]).toEqual(['raw', 16 * 2 ** 20]);
    await expect(createDataDisk(path, 16)).rejects.toThrow(/refusing to overwrite/);
  });

  it('rejects sizes that are not whole MiB in range', async () => {
    await expect(createDataDisk(join(dir, 'x.qcow2'), 1.5)).rejects.toThrow(RangeError);
    await expect(createDataDisk(join(dir, 'y.qcow2'), 8)).rejects.toThrow(RangeError);
  });
});
