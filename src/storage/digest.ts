/**
 * Chunked sha256 digests of a disk's bytes (the protocol's DiskDigest): the sha256 of each
 * `chunkBytes` chunk in order (the last one may be shorter), and one digest over the chunk
 * list. Both sides of a replication compute it the same way (combineChunkDigests), so equal
 * `digest`s mean equal bytes, and the first differing chunk says where they differ.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { DiskDigest } from '../api/shadow-protocol.js';
import { DEFAULT_DIGEST_CHUNK } from './driver.js';

/** Smallest and largest chunk accepted (the API refuses others). */
export const MIN_DIGEST_CHUNK = 4096;
export const MAX_DIGEST_CHUNK = 256 * 1024 * 1024;

/** True for a chunk size the digest accepts. */
export function validChunkBytes(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_DIGEST_CHUNK && n <= MAX_DIGEST_CHUNK;
}

/** The digest over a chunk list: sha256 of the hex chunk digests concatenated, hex. Pure. */
export function combineChunkDigests(chunks: readonly string[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c, 'latin1');
  return h.digest('hex');
}

/** The hex sha256 of one chunk. */
export function chunkDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Digests of the first `sizeBytes` bytes of the file at `path` (bytes past the end of a
 * shorter file count as zeros: a sparse tail). Reads with one reused buffer.
 */
export async function digestFile(path: string, sizeBytes: number, chunkBytes = DEFAULT_DIGEST_CHUNK): Promise<DiskDigest> {
  if (!validChunkBytes(chunkBytes)) throw new RangeError(`chunk must be a whole number of bytes in [${MIN_DIGEST_CHUNK}, ${MAX_DIGEST_CHUNK}], got ${chunkBytes}`);
  const t0 = performance.now();
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(sizeBytes, 1)));
  const chunks: string[] = [];
  try {
    for (let off = 0; off < sizeBytes; off += chunkBytes) {
      const len = Math.min(chunkBytes, sizeBytes - off);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, off + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < len) buf.fill(0, got, len);
      chunks.push(chunkDigest(buf.subarray(0, len)));
    }
  } finally {
    await fh.close();
  }
  return { sizeBytes, chunkBytes, chunks, digest: combineChunkDigests(chunks), ms: Math.round((performance.now() - t0) * 10) / 10 };
}
