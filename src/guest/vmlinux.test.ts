import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { extractVmlinux, findAll, isElf, XZ_MAGIC } from './vmlinux.js';

describe('vmlinux extraction', () => {
  it('finds every occurrence of a byte pattern', () => {
    const hay = Buffer.from([0, 1, 2, 1, 2, 1, 2, 9]);
    expect(findAll(hay, Buffer.from([1, 2]))).toEqual([1, 3, 5]);
    expect(findAll(hay, Buffer.from([7]))).toEqual([]);
  });

  it('decompresses the xz payload that is an ELF, skipping false magics and trailing bytes', async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(5000, 0x5a)]);
    const xz = execFileSync('xz', ['-c', '--check=crc32'], { input: elf });
    expect(Buffer.from(xz.subarray(0, 6)).equals(Buffer.from(XZ_MAGIC))).toBe(true);
    // A bzImage-like layout: setup code, a stray copy of the magic, the stream, a size trailer.
    const image = Buffer.concat([Buffer.alloc(1000, 0x90), Buffer.from(XZ_MAGIC), Buffer.alloc(64, 1), xz, Buffer.from([1, 2, 3, 4])]);
    const out = await extractVmlinux(image);
    expect(isElf(out)).toBe(true);
    expect(out.equals(elf)).toBe(true);
  });

  it('fails clearly when no stream decompresses to an ELF', async () => {
    const notElf = execFileSync('xz', ['-c'], { input: Buffer.from('just text') });
    await expect(extractVmlinux(Buffer.concat([Buffer.alloc(10), notElf]))).rejects.toThrow(/no xz-compressed ELF kernel found in the bzImage \(1 candidate/);
  });
});
