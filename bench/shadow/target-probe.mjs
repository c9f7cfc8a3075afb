// @ts-check
/**
 * An independent check of replication lag: how long after the guest acknowledged an append
 * (its fsync returned) the line's bytes can be read in the target's raw file. The lab guest's
 * log is an ext4 file of whole lines; with data=ordered and an fsync per line, an acknowledged
 * line sits at its final block on the guest's disk, so the mirror has to put those same bytes
 * on the target. The probe searches the raw file for the line's unique head (TAG-SEQ:, at the start of a 4 KiB block when lines are 4095 bytes + newline),
 * first near where the previous line was found (the log's blocks are allocated close
 * together), now and then in the whole file.
 *
 * It reads through the page cache the storage daemon writes into (the daemon runs without
 * O_DIRECT), so what it sees is what the daemon wrote, not what reached the platter.
 */
import { open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const MiB = 1024 * 1024;

/**
 * The byte range to search around `hint` (clamped to the file). Pure.
 * @param {number} hint    offset of the last hit, or -1 when none
 * @param {number} size    file size
 * @param {number} radius  bytes either side
 * @returns {{ start: number, end: number }}
 */
export function searchWindow(hint, size, radius) {
  if (hint < 0) return { start: 0, end: size };
  return { start: Math.max(0, hint - radius), end: Math.min(size, hint + radius) };
}

/** Finds line heads in a raw file; see the module comment. */
export class TargetProbe {
  /** @type {import('node:fs/promises').FileHandle | null} */
  fh = null;
  hint = -1;
  buf = Buffer.allocUnsafe(16 * MiB);

  /**
   * @param {string} file
   * @param {number} size  bytes
   * @param {number} [radius]
   */
  constructor(file, size, radius = 8 * MiB) {
    this.file = file;
    this.size = size;
    this.radius = radius;
  }

  async open() {
    this.fh = await open(this.file, 'r');
  }

  async close() {
    await this.fh?.close();
    this.fh = null;
  }

  /**
   * Offset of `needle` within [start, end), or -1.
   * @param {Buffer} needle
   * @param {number} start
   * @param {number} end
   */
  async find(needle, start, end) {
    const fh = /** @type {import('node:fs/promises').FileHandle} */ (this.fh);
    const step = this.buf.length - needle.length;
    for (let off = start; off < end; off += step) {
      const len = Math.min(this.buf.length, end - off);
      const { bytesRead } = await fh.read(this.buf, 0, len, off);
      const at = this.buf.subarray(0, bytesRead).indexOf(needle);
      if (at >= 0) return off + at;
      if (bytesRead < len) break;
    }
    return -1;
  }

  /**
   * Waits until `needle` is in the file; returns ms from `ackAt` (performance.now() time of the
   * acknowledgement) to the look that found it, how many looks that took, or null after `timeoutMs`.
   * @param {Buffer} needle
   * @param {number} ackAt
   * @param {number} timeoutMs
   * @returns {Promise<{ delayMs: number, looks: number } | null>}
   */
  async waitFor(needle, ackAt, timeoutMs) {
    let looks = 0;
    let lastFull = performance.now();
    for (;;) {
      looks++;
      const w = searchWindow(this.hint, this.size, this.radius);
      let at = await this.find(needle, w.start, w.end);
      if (at < 0 && this.hint >= 0 && performance.now() - lastFull > 500) {
        lastFull = performance.now();
        at = await this.find(needle, 0, this.size);
      }
      if (at >= 0) {
        this.hint = at;
        return { delayMs: performance.now() - ackAt, looks };
      }
      if (performance.now() - ackAt > timeoutMs) return null;
      await sleep(2);
    }
  }
}
