/**
 * The image cache on disk:
 *
 *   <cacheDir>/<hash>/vmlinux, initrd.gz, manifest.json   one finished image (published by an
 *                                                          atomic rename: complete or absent)
 *   <cacheDir>/by-sources/<quick key>.json                 quick key → image hash
 *   <cacheDir>/debs/                                       downloaded .deb files
 *   <cacheDir>/.lock                                       held by the one process building
 *
 * Default location: `$UMBRA_CACHE/images` when UMBRA_CACHE is set, else
 * `~/.cache/umbra/images`.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageBuildError } from './errors.js';

/** What `manifest.json` records about a finished image. */
export interface ImageManifest {
  hash: string;
  quickKey: string;
  builderVersion: number;
  kernelPackage: string;
  /** The kernel release (`uname -r`), e.g. `6.1.0-50-amd64`. */
  kernelVersion: string;
  packages: Record<string, string>;
  compiler: string;
  modules: string[];
  files: { vmlinux: { bytes: number; sha256: string }; initrd: { bytes: number; sha256: string } };
  builtAt: string;
  buildSeconds: number;
}

/** The cache directory: explicit, else `$UMBRA_CACHE/images`, else `~/.cache/umbra/images`. */
export function resolveCacheDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.UMBRA_CACHE) return resolve(env.UMBRA_CACHE, 'images');
  return join(homedir(), '.cache', 'umbra', 'images');
}

/** The cache uses 16 hex digits of a key as a name. */
export const shortKey = (key: string) => key.slice(0, 16);

/** The finished image with this hash, if complete (manifest present, file sizes as recorded). */
export function readImage(cacheDir: string, hash: string): { dir: string; manifest: ImageManifest } | undefined {
  const dir = join(cacheDir, hash);
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
    if (manifest.hash !== hash) return undefined;
    if (statSync(join(dir, 'vmlinux')).size !== manifest.files.vmlinux.bytes) return undefined;
    if (statSync(join(dir, 'initrd.gz')).size !== manifest.files.initrd.bytes) return undefined;
    return { dir, manifest };
  } catch {
    return undefined;
  }
}

/** The image hash recorded for a quick key, if any. */
export function lookupQuickKey(cacheDir: string, quickKey: string): string | undefined {
  try {
    const v = JSON.parse(readFileSync(join(cacheDir, 'by-sources', `${shortKey(quickKey)}.json`), 'utf8')) as { quickKey?: string; hash?: string };
    return v.quickKey === quickKey && typeof v.hash === 'string' ? v.hash : undefined;
  } catch {
    return undefined;
  }
}

/** Records quick key → image hash (written to a temporary file and renamed: never half-written). */
export function recordQuickKey(cacheDir: string, quickKey: string, hash: string): void {
  const dir = join(cacheDir, 'by-sources');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${shortKey(quickKey)}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ quickKey, hash }) + '\n');
  renameSync(tmp, file);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // An exited process may linger as a zombie: it does not hold the lock any more.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * Runs `fn` while holding `<cacheDir>/.lock` (one builder at a time, across processes). A lock
 * left by a dead process is taken over. Waits at most `timeoutMs` for a live holder.
 */
export async function withCacheLock<T>(cacheDir: string, fn: () => Promise<T>, opts: { timeoutMs?: number; onWait?: (pid: number) => void } = {}): Promise<T> {
  mkdirSync(cacheDir, { recursive: true });
  const lock = join(cacheDir, '.lock');
  const deadline = performance.now() + (opts.timeoutMs ?? 20 * 60_000);
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let content: string;
    try {
      content = readFileSync(lock, 'utf8');
    } catch {
      continue; // released between our open and read
    }
    const holder = Number.parseInt(content, 10);
    if (!Number.isFinite(holder) || !processAlive(holder)) {
      // Stale (its holder died), or being written right now: take it over only if it is
      // unchanged a moment later.
      await sleep(100);
      try {
        if (readFileSync(lock, 'utf8') === content) unlinkSync(lock);
      } catch {
        /* gone already */
      }
      continue;
    }
    if (!told) opts.onWait?.(holder);
    told = true;
    if (performance.now() > deadline) throw new ImageBuildError('cache', `another image build (pid ${holder}) holds ${lock}`, { file: lock }, { retryable: true });
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    try {
      if (existsSync(lock) && readFileSync(lock, 'utf8') === `${process.pid}\n`) unlinkSync(lock);
    } catch {
      /* already gone */
    }
  }
}
