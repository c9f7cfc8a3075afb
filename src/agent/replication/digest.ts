/**
 * Digests of a disk's guest-visible bytes (the protocol's DiskDigest): sha256 of each chunk
 * and, over them, `digest` = sha256 of the chunk digests' hex text concatenated in order. Two
 * disks with equal guest-visible bytes give equal digests whatever their format, so the
 * primary's qcow2 and the shadow's raw target compare directly.
 *
 * A qcow2 image is first converted to a raw temp file with `qemu-img convert -U` (the
 * primary's QEMU holds the image's lock; `-U` reads it anyway). That reads the image file, so
 * it is exact only while the guest is paused (QMP `stop` drains and flushes every disk):
 * call it while quiesced. The temp file is removed in every case.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { DiskDigest } from '../../api/shadow-protocol.js';
import { UmbraError } from '../../core/errors.js';

const execFileP = promisify(execFile);

/** The default chunk: 1 MiB. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** Chunk bounds accepted by the API: 4 KiB to 256 MiB (as the shadow side's, src/storage/digest.ts). */
export const MIN_CHUNK_BYTES = 4096;
export const MAX_CHUNK_BYTES = 256 * 1024 * 1024;

/** The list digest over chunk digests (see the module comment; the shadow side's combineChunkDigests is the same function). Pure. */
export function digestOfChunks(chunks: readonly string[]): string {
  return createHash('sha256').update(chunks.join('')).digest('hex');
}

/** Chunk digests of `buf` (the last chunk may be shorter). Pure; for tests and small buffers. */
export function chunkDigests(buf: Uint8Array, chunkBytes: number): string[] {
  const out: string[] = [];
  for (let off = 0; off < buf.length; off += chunkBytes) out.push(createHash('sha256').update(buf.subarray(off, Math.min(buf.length, off + chunkBytes))).digest('hex'));
  return out;
}

/** Reads a raw file chunk by chunk and hashes each chunk (the digest's `ms` is filled by the caller). */
export async function hashRawFile(path: string, chunkBytes: number): Promise<{ sizeBytes: number; chunks: string[] }> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const chunks: string[] = [];
    let sizeBytes = 0;
    for (;;) {
      // Fill a whole chunk (a read may return less than asked).
      let got = 0;
      while (got < chunkBytes) {
        const { bytesRead } = await fh.read(buf, got, chunkBytes - got, sizeBytes + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got === 0) break;
      chunks.push(createHash('sha256').update(buf.subarray(0, got)).digest('hex'));
      sizeBytes += got;
      if (got < chunkBytes) break;
    }
    return { sizeBytes, chunks };
  } finally {
    await fh.close();
  }
}

/** Digests an image's guest-visible bytes. */
export type DiskDigester = (image: string, format: 'qcow2' | 'raw', chunkBytes: number) => Promise<DiskDigest>;

/** Reading or converting the image failed (qemu-img's stderr in the message). */
export class DigestFailedError extends UmbraError {
  constructor(image: string, detail: string, cause?: unknown) {
    super('INTERNAL', `cannot digest ${image}: ${detail}`, { file: image }, { cause });
    this.name = 'DigestFailedError';
  }
}

/**
 * The real digester: raw images are hashed in place; qcow2 images are converted to a raw temp
 * file under `tmpDir` first (see the module comment).
 */
export function qemuImgDigester(opts: { tmpDir: string; qemuImg?: string }): DiskDigester {
  return async (image, format, chunkBytes) => {
    const t0 = performance.now();
    let raw = image;
    let tmp: string | null = null;
    try {
      if (format !== 'raw') {
        mkdirSync(opts.tmpDir, { recursive: true });
        tmp = join(opts.tmpDir, `digest-${randomUUID()}.raw`);
        raw = tmp;
        try {
          await execFileP(opts.qemuImg ?? 'qemu-img', ['convert', '-U', '-f', format, '-O', 'raw', image, tmp], { maxBuffer: 1024 * 1024 });
        } catch (e) {
          const stderr = (e as { stderr?: string }).stderr?.trim();
          throw new DigestFailedError(image, stderr || (e instanceof Error ? e.message : String(e)), e);
        }
      }
      const { sizeBytes, chunks } = await hashRawFile(raw, chunkBytes);
      return { sizeBytes, chunkBytes, chunks, digest: digestOfChunks(chunks), ms: Math.round((performance.now() - t0) * 10) / 10 };
    } finally {
      if (tmp) rmSync(tmp, { force: true });
    }
  };
}
