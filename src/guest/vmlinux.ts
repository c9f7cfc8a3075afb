/**
 * The uncompressed kernel: QEMU boots an ELF `vmlinux` directly through its PVH entry point,
 * which under TCG reaches the guest service about twice as fast as booting the compressed
 * bzImage (no self-decompression in emulated code). Debian ships only the bzImage (`vmlinuz`),
 * whose payload is one xz stream; we find it by its magic and decompress it with `xz`.
 */
import { run } from './exec.js';
import { ImageBuildError } from './errors.js';

/** The xz stream header magic: FD 37 7A 58 5A 00. */
export const XZ_MAGIC = Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00);
const ELF_MAGIC = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46);

/** Every offset at which `needle` occurs in `hay`, in increasing order. */
export function findAll(hay: Uint8Array, needle: Uint8Array): number[] {
  const b = Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength);
  const out: number[] = [];
  for (let i = b.indexOf(needle); i >= 0; i = b.indexOf(needle, i + 1)) out.push(i);
  return out;
}

/** Whether `bytes` starts with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((v, i) => bytes[i] === v);
}

/**
 * Extracts the ELF kernel from a bzImage whose payload is xz-compressed: tries each xz magic in
 * turn (`xz -dc --single-stream` ignores whatever trails the stream) until one yields an ELF.
 */
export async function extractVmlinux(vmlinuz: Uint8Array): Promise<Buffer> {
  const offsets = findAll(vmlinuz, XZ_MAGIC);
  for (const off of offsets) {
    try {
      const { stdout } = await run('kernel', 'xz', ['-dc', '--single-stream'], { input: vmlinuz.subarray(off) });
      if (isElf(stdout)) return stdout;
    } catch {
      /* a false match of the magic: try the next one */
    }
  }
  throw new ImageBuildError('kernel', `no xz-compressed ELF kernel found in the bzImage (${offsets.length} candidate offsets)`);
}
