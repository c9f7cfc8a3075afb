// @ts-check
/**
 * A data disk whose blocks mostly hold data, for measuring the initial copy on bytes that
 * really move: an ext4 filesystem (the lab guest's format, labelled as the guest labels it)
 * made on the host with `mke2fs -d` from a folder holding one file of random bytes, converted
 * to qcow2. The guest mounts it as it is (it formats only blank disks). A disk the guest
 * formatted itself is mostly unallocated, and a mirror copies unallocated ranges as zero writes.
 *
 * Every program runs from an argv array. The random data comes from node:crypto (fast), not
 * from a guest.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const MiB = 1024 * 1024;

/**
 * Makes the qcow2 image `path` of `sizeMiB` MiB whose filesystem holds one file of
 * `fillMiB` MiB of random bytes.
 * @param {string} path     the image to write (must not exist)
 * @param {number} sizeMiB
 * @param {number} fillMiB  less than the size (the filesystem needs room for metadata and the log)
 * @param {string} workDir  scratch space (removed afterwards)
 */
export function makeFilledDisk(path, sizeMiB, fillMiB, workDir) {
  if (!(fillMiB > 0 && fillMiB < sizeMiB)) throw new RangeError(`fill ${fillMiB} MiB must be within a ${sizeMiB} MiB disk`);
  const tree = join(workDir, 'tree');
  const raw = join(workDir, 'fill.raw');
  mkdirSync(tree, { recursive: true });
  try {
    const fd = openSync(join(tree, 'filler.bin'), 'w');
    try {
      const buf = Buffer.allocUnsafe(MiB);
      for (let i = 0; i < fillMiB; i++) {
        randomFillSync(buf);
        writeSync(fd, buf);
      }
    } finally {
      closeSync(fd);
    }
    closeSync(openSync(raw, 'w'));
    truncateSync(raw, sizeMiB * MiB);
    execFileSync('/sbin/mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'umbra-data', '-d', tree, raw], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, path], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(tree, { recursive: true, force: true });
    rmSync(raw, { force: true });
  }
}

/**
 * Bytes a qcow2 image really holds (its allocated clusters), from `qemu-img map`.
 * @param {string} path
 * @returns {number}
 */
export function allocatedBytes(path) {
  const map = JSON.parse(execFileSync('qemu-img', ['map', '-U', '--output=json', path], { encoding: 'utf8', maxBuffer: 64 * MiB }));
  return map.filter((/** @type {{ data: boolean, zero: boolean }} */ e) => e.data && !e.zero).reduce((/** @type {number} */ s, /** @type {{ length: number }} */ e) => s + e.length, 0);
}
