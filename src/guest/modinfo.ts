/**
 * Kernel module metadata without `modinfo`/`depmod`: reads the `.modinfo` section of an ELF64
 * `.ko` file and orders a set of modules so that every module comes after its dependencies
 * (the order `insmod` needs). Pure: bytes in, names out.
 */
import { ImageBuildError } from './errors.js';

/** The `key=value` pairs of a module's `.modinfo` section (a key may repeat, e.g. `alias`). */
export function readModinfo(ko: Uint8Array): Map<string, string[]> {
  const section = elfSection(ko, '.modinfo');
  const out = new Map<string, string[]>();
  if (!section) return out;
  const text = Buffer.from(section.buffer, section.byteOffset, section.byteLength).toString('latin1');
  for (const item of text.split('\0')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq);
    const list = out.get(key) ?? [];
    list.push(item.slice(eq + 1));
    out.set(key, list);
  }
  return out;
}

/** The module names a `.ko` depends on (its `depends=` field), normalized with `_`. */
export function moduleDepends(ko: Uint8Array): string[] {
  const deps = readModinfo(ko).get('depends')?.[0] ?? '';
  return deps
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map(moduleName);
}

/** Module names use `_` and `-` interchangeably (file `crc32c-intel.ko`, module `crc32c_intel`). */
export function moduleName(fileOrName: string): string {
  return fileOrName.replace(/\.ko$/, '').replace(/-/g, '_');
}

/**
 * The closure of `wanted` under `dependsOf`, dependencies first; among independent modules
 * the order of `wanted` is kept. Throws on a dependency cycle or an unknown module.
 */
export function loadOrder(wanted: readonly string[], dependsOf: (name: string) => string[] | undefined): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new ImageBuildError('modules', `module dependency cycle: ${[...path, name].join(' -> ')}`);
    const deps = dependsOf(name);
    if (!deps) throw new ImageBuildError('modules', `kernel module ${name} not found${path.length ? ` (needed by ${path[path.length - 1]})` : ''}`);
    state.set(name, 'visiting');
    for (const d of deps) visit(d, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const w of wanted) visit(moduleName(w), []);
  return order;
}

/** The bytes of the named section of a little-endian ELF64 file, or undefined. */
export function elfSection(elf: Uint8Array, name: string): Uint8Array | undefined {
  const b = Buffer.from(elf.buffer, elf.byteOffset, elf.byteLength);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw new ImageBuildError('modules', 'not an ELF file');
  if (b[4] !== 2 || b[5] !== 1) throw new ImageBuildError('modules', 'not a little-endian ELF64 file');
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const shstrndx = b.readUInt16LE(0x3e);
  if (shoff + shnum * shentsize > b.length || shstrndx >= shnum) throw new ImageBuildError('modules', 'truncated ELF section table');
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: b.readUInt32LE(o), offset: Number(b.readBigUInt64LE(o + 0x18)), size: Number(b.readBigUInt64LE(o + 0x20)) };
  };
  const strtab = sh(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    const start = strtab.offset + s.name;
    const end = b.indexOf(0, start);
    if (end < 0 || end > strtab.offset + strtab.size) continue;
    if (b.toString('latin1', start, end) === name) {
      if (s.offset + s.size > b.length) throw new ImageBuildError('modules', `truncated ELF section ${name}`);
      return elf.subarray(s.offset, s.offset + s.size);
    }
  }
  return undefined;
}
