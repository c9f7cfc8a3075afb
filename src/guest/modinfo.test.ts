import { describe, it, expect } from 'vitest';
import { elfSection, loadOrder, moduleDepends, moduleName, readModinfo } from './modinfo.js';

/** A minimal ELF64 LE file with sections: null, .modinfo (given bytes), .shstrtab. */
function fakeKo(modinfo: string): Buffer {
  const info = Buffer.from(modinfo, 'latin1');
  const shstr = Buffer.from('\0.modinfo\0.shstrtab\0', 'latin1');
  const infoOff = 64;
  const strOff = infoOff + info.length;
  const shoff = strOff + shstr.length;
  const b = Buffer.alloc(shoff + 3 * 64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // little-endian
  b.writeBigUInt64LE(BigInt(shoff), 0x28);
  b.writeUInt16LE(64, 0x3a);
  b.writeUInt16LE(3, 0x3c);
  b.writeUInt16LE(2, 0x3e);
  info.copy(b, infoOff);
  shstr.copy(b, strOff);
  const sh = (i: number, name: number, off: number, size: number) => {
    const o = shoff + i * 64;
    b.writeUInt32LE(name, o);
    b.writeBigUInt64LE(BigInt(off), o + 0x18);
    b.writeBigUInt64LE(BigInt(size), o + 0x20);
  };
  sh(1, 1, infoOff, info.length);
  sh(2, 10, strOff, shstr.length);
  return b;
}

describe('modinfo', () => {
  const text = 'license=GPL\0depends=virtio,virtio_ring,crc32c-intel\0alias=a1\0alias=a2\0vermagic=6.1.0 SMP\0';
  const ko = fakeKo(text);

  it('reads the .modinfo section of an ELF64 module', () => {
    expect(Buffer.from(elfSection(ko, '.modinfo')!).toString('latin1')).toBe(text);
    expect(elfSection(ko, '.missing')).toBeUndefined();
    const info = readModinfo(ko);
    expect(info.get('license')).toEqual(['GPL']);
    expect(info.get('alias')).toEqual(['a1', 'a2']);
    expect(info.get('vermagic')).toEqual(['6.1.0 SMP']);
  });

  it('lists dependencies with normalized names', () => {
    expect(moduleDepends(ko)).toEqual(['virtio', 'virtio_ring', 'crc32c_intel']);
    expect(moduleDepends(fakeKo('depends=\0'))).toEqual([]);
    expect(moduleName('crc32c-intel.ko')).toBe('crc32c_intel');
  });

  it('rejects what is not ELF64', () => {
    expect(() => readModinfo(Buffer.alloc(100))).toThrow(/not an ELF/);
  });

  it('orders modules after their dependencies, keeping the wanted order otherwise', () => {
    const graph: Record<string, string[]> = {
      virtio_pci: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio'],
      virtio_net: ['virtio_ring', 'virtio', 'net_failover'],
      net_failover: ['failover'],
      failover: [],
      virtio_ring: [],
      virtio: [],
      virtio_pci_modern_dev: [],
      virtio_pci_legacy_dev: [],
      button: [],
    };
    expect(loadOrder(['virtio_pci', 'button', 'virtio_net'], (n) => graph[n])).toEqual([
      'virtio_ring',
      'virtio_pci_modern_dev',
      'virtio_pci_legacy_dev',
      'virtio',
      'virtio_pci',
      'button',
      'failover',
      'net_failover',
      'virtio_net',
    ]);
  });

  it('reports cycles and unknown modules', () => {
    expect(() => loadOrder(['a'], (n) => ({ a: ['b'], b: ['a'] })[n])).toThrow(/cycle: a -> b -> a/);
    expect(() => loadOrder(['a'], (n) => ({ a: ['zz'] })[n])).toThrow(/zz not found \(needed by a\)/);
  });
});
