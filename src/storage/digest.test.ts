import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkDigest, combineChunkDigests, digestFile, validChunkBytes } from './digest.js';

const dir = mkdtempSync(join(tmpdir(), 'udg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

describe('digestFile', () => {
  it('hashes each chunk (a short last one at its length) and the chunk list', async () => {
    const f = join(dir, 'a.raw');
    const bytes = Buffer.concat([Buffer.alloc(8192, 1), Buffer.alloc(8192, 2), Buffer.alloc(100, 3)]);
    writeFileSync(f, bytes);
    const d = await digestFile(f, bytes.length, 8192);
    expect(d.sizeBytes).toBe(16484);
    expect(d.chunkBytes).toBe(8192);
    expect(d.chunks).toEqual([sha(Buffer.alloc(8192, 1)), sha(Buffer.alloc(8192, 2)), sha(Buffer.alloc(100, 3))]);
    expect(d.digest).toBe(sha(d.chunks.join('')));
    expect(d.digest).toBe(combineChunkDigests(d.chunks));
  });

  it('reads past the end of a shorter file as zeros (a sparse tail)', async () => {
    const f = join(dir, 'b.raw');
    writeFileSync(f, Buffer.alloc(4096, 9));
    const d = await digestFile(f, 12288, 8192);
    expect(d.chunks).toEqual([sha(Buffer.concat([Buffer.alloc(4096, 9), Buffer.alloc(4096)])), chunkDigest(Buffer.alloc(4096))]);
  });

  it('refuses chunk sizes outside [4 KiB, 256 MiB]', async () => {
    expect(validChunkBytes(4096)).toBe(true);
    expect(validChunkBytes(1000)).toBe(false);
    expect(validChunkBytes(1.5 * 4096)).toBe(true);
    expect(validChunkBytes(512 * 1024 * 1024)).toBe(false);
    await expect(digestFile(join(dir, 'a.raw'), 10, 100)).rejects.toThrow(RangeError);
  });
});
