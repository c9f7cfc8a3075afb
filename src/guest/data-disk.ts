/**
 * The guest's data disk: a separate virtio disk (the image itself is only kernel + initramfs).
 * Created empty; the guest formats it (ext4) on its first boot.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ImageBuildError } from './errors.js';
import { run } from './exec.js';

/** Options of {@link createDataDisk}. */
export interface DataDiskOptions {
  /** `qcow2` (default: thin, snapshot-friendly) or `raw` (sparse file). */
  format?: 'qcow2' | 'raw';
}

/**
 * Creates an empty disk of `sizeMiB` MiB at `path` with `qemu-img create`. Refuses to replace
 * an existing file (it may hold a VM's data). Returns the absolute path.
 */
export async function createDataDisk(path: string, sizeMiB: number, opts: DataDiskOptions = {}): Promise<string> {
  if (!Number.isInteger(sizeMiB) || sizeMiB < 16 || sizeMiB > 16 * 1024 * 1024) {
    throw new RangeError(`data disk size must be a whole number of MiB in [16, 16777216], got ${sizeMiB}`);
  }
  const abs = resolve(path);
  if (existsSync(abs)) throw new ImageBuildError('disk', `refusing to overwrite ${abs}`, { file: abs });
  mkdirSync(dirname(abs), { recursive: true });
  const format = opts.format ?? 'qcow2';
  await run('disk', 'qemu-img', ['create', '-q', '-f', format, abs, `${sizeMiB}M`]);
  return abs;
}
