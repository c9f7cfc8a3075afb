/** Digests on real images made with qemu-img (a qcow2 and its raw conversion must agree). */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { combineChunkDigests } from '../../storage/digest.js';
import { chunkDigests, digestOfChunks, hashRawFile, qemuImgDigester } from './digest.js';

const dir = mkdtempSync(join(tmpdir(), 'udg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('disk digests', () => {
  it('hash chunk by chunk; the list digest is sha256 over the chunk digests\' hex text', async () => {
    const buf = Buffer.alloc(10_000);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 7) & 0xff;
    const f = join(dir, 'x.raw');
    writeFileSync(f, buf);
    const r = await hashRawFile(f, 4096);
    expect(r.sizeBytes).toBe(10_000);
    expect(r.chunks).toHaveLength(3);
    expect(r.chunks).toEqual(chunkDigests(buf, 4096));
    expect(r.chunks[2]).toBe(createHash('sha256').update(buf.subarray(8192)).digest('hex'));
    expect(digestOfChunks(r.chunks)).toBe(createHash('sha256').update(r.chunks.join('')).digest('hex'));
    // The shadow side computes the same list digest: primary and target digests compare directly.
    expect(digestOfChunks(r.chunks)).toBe(combineChunkDigests(r.chunks));
  });

  it('a qcow2 image digests as its guest-visible bytes (equal to a raw copy), and leaves no temp file', async () => {
    const q = join(dir, 'd.qcow2');
    const raw = join(dir, 'd.raw');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', q, '4M']);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 1M 512k', q], { stdio: 'ignore' });
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', q, raw]);
    const tmp = join(dir, 'tmp');
    const digester = qemuImgDigester({ tmpDir: tmp });
    const a = await digester(q, 'qcow2', 1024 * 1024);
    const b = await digester(raw, 'raw', 1024 * 1024);
    expect(a.sizeBytes).toBe(4 * 1024 * 1024);
    expect(a.chunks).toHaveLength(4);
    expect(a.chunks).toEqual(b.chunks);
    expect(a.digest).toBe(b.digest);
    expect(a.chunks[0]).not.toBe(a.chunks[1]); // chunk 1 holds the written data
    expect(a.chunks[0]).toBe(a.chunks[2]); // both zero
    expect(a.ms).toBeGreaterThan(0);
    expect(readdirSync(tmp)).toEqual([]);
    await expect(digester(join(dir, 'missing.qcow2'), 'qcow2', 4096)).rejects.toThrow(/cannot digest/);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
