/**
 * Content hashes for the image cache. The quick key ({@link sourcesKey}) covers what can be
 * read locally in milliseconds (the builder version, guest/ and the compiler); the image key
 * ({@link imageKey}) adds the resolved Debian package versions.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { PackageVersion } from './apt.js';

/** Every regular file under `dir` as [path relative to dir with `/`, content], sorted by path. */
export function readTree(dir: string): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push([relative(dir, p).split(sep).join('/'), readFileSync(p)]);
    }
  };
  walk(dir);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** SHA-256 over length-prefixed parts (so that no two different part lists hash alike). */
export function hashParts(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    h.update(`${b.length}:`);
    h.update(b);
  }
  return h.digest('hex');
}

/** The quick key: builder version, every file of the guest sources, the compiler's version. */
export function sourcesKey(builderVersion: number, tree: readonly [string, Buffer][], compilerVersion: string): string {
  const parts: (string | Uint8Array)[] = [`builder ${builderVersion}`, `cc ${compilerVersion}`];
  for (const [path, data] of tree) parts.push(path, data);
  return hashParts(parts);
}

/** The image key: the quick key plus every package pinned to its version (order-independent). */
export function imageKey(quickKey: string, packages: readonly PackageVersion[]): string {
  const pinned = [...packages].map((p) => `${p.name}=${p.version}`).sort();
  return hashParts([quickKey, ...pinned]);
}
