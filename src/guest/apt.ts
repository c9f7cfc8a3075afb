/**
 * The Debian side of the image builder: which package versions are current (`apt-cache`),
 * downloading `.deb` files without installing them (`apt-get download`), and installing host
 * tools (`apt-get install`, as root). The parsers are pure; the rest spawns apt with argument
 * arrays.
 */
import { readdirSync } from 'node:fs';
import { run } from './exec.js';
import { ImageBuildError } from './errors.js';

/** A package pinned to a version. */
export interface PackageVersion {
  name: string;
  version: string;
}

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };

/** Splits Debian control text (`apt-cache show`) into stanzas of field → value. */
export function parseStanzas(text: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let cur = new Map<string, string>();
  let last = '';
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (cur.size) out.push(cur);
      cur = new Map();
      last = '';
      continue;
    }
    if (/^\s/.test(line) && last) {
      cur.set(last, `${cur.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    cur.set(last, line.slice(colon + 1).trim());
  }
  if (cur.size) out.push(cur);
  return out;
}

/**
 * The candidate version of each package from `apt-cache show --no-all-versions` output (the
 * first stanza per package wins). Missing packages are absent from the map.
 */
export function candidateVersions(showText: string): Map<string, { version: string; depends: string }> {
  const out = new Map<string, { version: string; depends: string }>();
  for (const s of parseStanzas(showText)) {
    const name = s.get('Package');
    const version = s.get('Version');
    if (name && version && !out.has(name)) out.set(name, { version, depends: s.get('Depends') ?? '' });
  }
  return out;
}

/**
 * The versioned kernel image package a `linux-image-amd64` Depends field points at
 * (`linux-image-6.1.0-50-amd64`): the newest kernel of the release.
 */
export function kernelPackageFromDepends(depends: string): string | undefined {
  for (const alt of depends.split(/[,|]/)) {
    const name = alt.trim().split(/\s|\(/)[0];
    if (/^linux-image-\d+\.\d+\.\d+-\d+-amd64$/.test(name)) return name;
  }
  return undefined;
}

/** `linux-image-6.1.0-50-amd64` → `6.1.0-50-amd64` (the kernel's `uname -r`). */
export function kernelReleaseOf(pkg: string): string {
  return pkg.replace(/^linux-image-/, '');
}

/** The file name prefix `apt-get download` gives a package version (`:` is written `%3a`). */
export function debFilePrefix(p: PackageVersion): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_`;
}

/** The downloaded `.deb` of `p` in `dir`, if there. */
export function findDeb(dir: string, p: PackageVersion): string | undefined {
  const prefix = debFilePrefix(p);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  return names.find((n) => n.startsWith(prefix) && n.endsWith('.deb'));
}

/** Candidate versions (and Depends) of `names` from the local package lists; missing ones are absent. */
export async function aptShow(names: readonly string[]): Promise<Map<string, { version: string; depends: string }>> {
  // Exit status 100 when some package is unknown: the others are still printed.
  const { stdout } = await run('resolve', 'apt-cache', ['show', '--no-all-versions', ...names], { env: APT_ENV, okStatus: [0, 100] });
  return candidateVersions(stdout.toString('utf8'));
}

/** `apt-get update` (needs root). */
export async function aptUpdate(): Promise<void> {
  requireRoot('resolve', 'apt-get update');
  await run('resolve', 'apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update'], { env: APT_ENV, retryable: true });
}

/** Downloads the exact versions into `dir` (already present files are kept). */
export async function aptDownload(pkgs: readonly PackageVersion[], dir: string): Promise<void> {
  const missing = pkgs.filter((p) => !findDeb(dir, p));
  if (!missing.length) return;
  await run('download', 'apt-get', ['download', ...missing.map((p) => `${p.name}=${p.version}`)], { cwd: dir, env: APT_ENV, retryable: true });
  for (const p of missing) if (!findDeb(dir, p)) throw new ImageBuildError('download', `apt-get download did not produce ${debFilePrefix(p)}*.deb`, { dir });
}

/** Installs packages on the host (`--no-install-recommends`; waits for other apt runs). */
export async function aptInstall(names: readonly string[]): Promise<void> {
  requireRoot('host-tools', `apt-get install ${names.join(' ')}`);
  await run('host-tools', 'apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', ...names], { env: APT_ENV, retryable: true });
}

function requireRoot(step: 'resolve' | 'host-tools', what: string): void {
  if (process.getuid?.() !== 0) throw new ImageBuildError(step, `${what} needs root: run it as root (or install the packages yourself)`);
}
