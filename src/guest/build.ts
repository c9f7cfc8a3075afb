/**
 * `buildImage()`: the lab guest image (an uncompressed kernel plus a busybox initramfs holding
 * the guest service), built from Debian packages and cached by content hash.
 *
 * Cache hits take milliseconds: the quick key (builder version, guest/, compiler version) is
 * computed locally and maps to the image built from it. Only a miss (or `force`) asks apt for
 * the current package versions, so a cached image stays in use until `force` rebuilds it with
 * the newest kernel and packages of the release.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, lstatSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { aptDownload, aptShow, aptUpdate, findDeb, kernelPackageFromDepends, kernelReleaseOf, type PackageVersion } from './apt.js';
import { lookupQuickKey, readImage, recordQuickKey, resolveCacheDir, shortKey, withCacheLock, type ImageManifest } from './cache.js';
import { ImageBuildError, type ImageBuildStep } from './errors.js';
import { run } from './exec.js';
import { ensureHostTools } from './host-tools.js';
import { assembleInitramfs } from './initramfs.js';
import { loadOrder, moduleDepends, moduleName } from './modinfo.js';
import {
  BUILDER_VERSION,
  GUEST_E2FS_FILES,
  GUEST_LIBS,
  GUEST_MODULES,
  GUEST_PACKAGES,
  GUEST_SCRIPTS,
  GUEST_SERVICE_SOURCE,
  GUEST_SOURCE_DIR,
  KERNEL_META_PACKAGE,
} from './recipe.js';
import { imageKey, readTree, sourcesKey } from './sources.js';
import { extractVmlinux } from './vmlinux.js';

/** A progress event of {@link buildImage} (for a CLI's stderr). */
export interface ImageBuildProgress {
  step: ImageBuildStep;
  message: string;
}

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /** Where images and downloads are kept (default: see {@link resolveCacheDir}). */
  cacheDir?: string;
  /** Re-resolve package versions and rebuild even when a cached image exists. */
  force?: boolean;
  onProgress?: (event: ImageBuildProgress) => void;
  /** The guest sources (default: guest/ of this repository). */
  sourceDir?: string;
}

/** A built (or cached) guest image. */
export interface GuestImage {
  /** The uncompressed ELF kernel, for QEMU's `-kernel` (booted through PVH). */
  kernel: string;
  /** The gzip-compressed newc initramfs, for `-initrd`. */
  initrd: string;
  /** The image's content hash (16 hex digits; also its directory name). */
  hash: string;
  /** True when the image came from the cache. */
  cached: boolean;
  /** The kernel release, e.g. `6.1.0-50-amd64`. */
  kernelVersion: string;
  /** The image directory. */
  dir: string;
  manifest: ImageManifest;
}

/**
 * Builds the lab guest image, or returns the cached one. Installs missing host tools (QEMU,
 * qemu-img, gcc, xz; needs root), downloads the Debian packages into the cache, and holds a
 * lock so that concurrent builders (several test files) build once.
 */
export async function buildImage(opts: BuildImageOptions = {}): Promise<GuestImage> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new ImageBuildError('host-tools', `the lab guest image is built on x86-64 Linux (this is ${process.platform}/${process.arch})`);
  }
  const t0 = performance.now();
  const cacheDir = resolveCacheDir(opts.cacheDir);
  const sourceDir = resolve(opts.sourceDir ?? GUEST_SOURCE_DIR);
  const progress = (step: ImageBuildStep, message: string) => opts.onProgress?.({ step, message });

  await ensureHostTools((m) => progress('host-tools', m));
  const compiler = (await run('service', 'gcc', ['-dumpfullversion'])).stdout.toString('utf8').trim();
  const tree = readTree(sourceDir);
  if (!tree.some(([p]) => p === GUEST_SERVICE_SOURCE)) throw new ImageBuildError('service', `no ${GUEST_SERVICE_SOURCE} in ${sourceDir}`);
  const quick = sourcesKey(BUILDER_VERSION, tree, compiler);

  const quickHit = (): GuestImage | undefined => {
    const hash = lookupQuickKey(cacheDir, quick);
    const img = hash ? readImage(cacheDir, hash) : undefined;
    return img && toResult(img, true);
  };
  if (!opts.force) {
    const hit = quickHit();
    if (hit) return hit;
  }

  return withCacheLock(
    cacheDir,
    async () => {
      if (!opts.force) {
        const hit = quickHit(); // another process may have built it while we waited
        if (hit) return hit;
      }
      const pkgs = await resolvePackages(progress);
      const hash = shortKey(imageKey(quick, [pkgs.kernel, ...pkgs.guest]));
      if (!opts.force) {
        const img = readImage(cacheDir, hash);
        if (img) {
          recordQuickKey(cacheDir, quick, hash);
          return toResult(img, true);
        }
      }
      progress('resolve', `building image ${hash}: ${pkgs.kernel.name} ${pkgs.kernel.version}, busybox ${pkgs.guest.find((p) => p.name === 'busybox-static')?.version}`);
      const img = await assemble({ cacheDir, sourceDir, hash, quick, compiler, pkgs, progress, t0 });
      recordQuickKey(cacheDir, quick, hash);
      return toResult(img, false);
    },
    { onWait: (pid) => progress('cache', `waiting for another image build (pid ${pid})`) },
  );
}

function toResult(img: { dir: string; manifest: ImageManifest }, cached: boolean): GuestImage {
  return {
    kernel: join(img.dir, 'vmlinux'),
    initrd: join(img.dir, 'initrd.gz'),
    hash: img.manifest.hash,
    cached,
    kernelVersion: img.manifest.kernelVersion,
    dir: img.dir,
    manifest: img.manifest,
  };
}

interface ResolvedPackages {
  kernel: PackageVersion;
  guest: PackageVersion[];
}

/** The newest kernel image package and the candidate versions of the guest packages. */
async function resolvePackages(progress: (step: ImageBuildStep, m: string) => void): Promise<ResolvedPackages> {
  const names = [KERNEL_META_PACKAGE, ...GUEST_PACKAGES];
  progress('resolve', 'resolving package versions (apt-cache)');
  let show = await aptShow(names);
  if (names.some((n) => !show.has(n))) {
    progress('resolve', 'package lists are missing: apt-get update');
    await aptUpdate();
    show = await aptShow(names);
  }
  const missing = names.filter((n) => !show.has(n));
  if (missing.length) throw new ImageBuildError('resolve', `apt knows no package ${missing.join(', ')}`);
  const kernelName = kernelPackageFromDepends(show.get(KERNEL_META_PACKAGE)!.depends);
  if (!kernelName) throw new ImageBuildError('resolve', `cannot tell the kernel package from ${KERNEL_META_PACKAGE}'s Depends: ${show.get(KERNEL_META_PACKAGE)!.depends}`);
  const k = (await aptShow([kernelName])).get(kernelName);
  if (!k) throw new ImageBuildError('resolve', `apt knows no package ${kernelName}`);
  return {
    kernel: { name: kernelName, version: k.version },
    guest: GUEST_PACKAGES.map((name) => ({ name, version: show.get(name)!.version })),
  };
}

interface AssembleArgs {
  cacheDir: string;
  sourceDir: string;
  hash: string;
  quick: string;
  compiler: string;
  pkgs: ResolvedPackages;
  progress: (step: ImageBuildStep, m: string) => void;
  t0: number;
}

/** Downloads, unpacks, compiles and packs; publishes `<cacheDir>/<hash>` atomically. */
async function assemble(a: AssembleArgs): Promise<{ dir: string; manifest: ImageManifest }> {
  const { cacheDir, sourceDir, hash, progress, pkgs } = a;
  const all = [pkgs.kernel, ...pkgs.guest];
  const debs = join(cacheDir, 'debs');
  mkdirSync(debs, { recursive: true });
  progress('download', `downloading ${all.filter((p) => !findDeb(debs, p)).length} of ${all.length} packages into ${debs}`);
  await aptDownload(all, debs);

  const work = mkdtempSync(join(cacheDir, '.work-'));
  const stage = join(cacheDir, `.new-${hash}-${process.pid}`);
  try {
    const root = join(work, 'root');
    mkdirSync(root);
    progress('extract', `unpacking ${all.length} packages`);
    for (const p of all) await run('extract', 'dpkg-deb', ['-x', join(debs, findDeb(debs, p)!), root]);

    const kernelVersion = kernelReleaseOf(pkgs.kernel.name);
    progress('kernel', `extracting the uncompressed kernel ${kernelVersion}`);
    const vmlinux = await extractVmlinux(readInRoot(root, `boot/vmlinuz-${kernelVersion}`));

    const modDir = join(root, 'lib/modules', kernelVersion, 'kernel');
    const index = indexModules(modDir);
    const order = loadOrder(GUEST_MODULES, (name) => {
      const file = index.get(name);
      return file ? moduleDepends(readFileSync(file)) : undefined;
    });
    progress('modules', `${order.length} modules: ${order.join(' ')}`);

    progress('service', `compiling ${GUEST_SERVICE_SOURCE} (gcc ${a.compiler}, static)`);
    const serviceBin = join(work, 'umbra-lab');
    await run('service', 'gcc', ['-O2', '-static', '-pthread', '-Wall', '-s', '-o', serviceBin, join(sourceDir, GUEST_SERVICE_SOURCE)]);

    progress('initramfs', 'packing the initramfs');
    const busyboxPath = join(root, 'bin/busybox');
    const applets = (await run('initramfs', busyboxPath, ['--list-full'])).stdout.toString('utf8').split('\n');
    const version =
      [`image ${hash}`, `builder ${BUILDER_VERSION}`, `kernel ${pkgs.kernel.name} ${pkgs.kernel.version}`, ...pkgs.guest.map((p) => `${p.name} ${p.version}`), `gcc ${a.compiler}`].join('\n') + '\n';
    const archive = assembleInitramfs({
      busybox: readFileSync(busyboxPath),
      applets,
      service: readFileSync(serviceBin),
      scripts: GUEST_SCRIPTS.map((s) => ({ dest: s.dest, mode: s.mode, data: readFileSync(join(sourceDir, s.src)) })),
      modules: order.map((name) => ({ name, data: readFileSync(index.get(name)!) })),
      e2fs: GUEST_E2FS_FILES.map((path) => ({ path, mode: path.startsWith('etc/') ? 0o644 : 0o755, data: readInRoot(root, path) })),
      libs: GUEST_LIBS.map((soname) => ({ soname, data: readLib(root, soname) })),
      version,
    });
    const cpio = archive.toBuffer();
    const initrd = gzipSync(cpio, { level: 9 });

    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage);
    writeFileSync(join(stage, 'vmlinux'), vmlinux);
    writeFileSync(join(stage, 'initrd.gz'), initrd);
    const manifest: ImageManifest = {
      hash,
      quickKey: a.quick,
      builderVersion: BUILDER_VERSION,
      kernelPackage: `${pkgs.kernel.name}=${pkgs.kernel.version}`,
      kernelVersion,
      packages: Object.fromEntries(all.map((p) => [p.name, p.version])),
      compiler: `gcc ${a.compiler}`,
      modules: order,
      files: {
        vmlinux: { bytes: vmlinux.length, sha256: sha256(vmlinux) },
        initrd: { bytes: initrd.length, sha256: sha256(initrd) },
      },
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((performance.now() - a.t0) / 10) / 100,
    };
    writeFileSync(join(stage, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

    const dir = join(cacheDir, hash);
    if (existsSync(dir)) {
      const old = join(cacheDir, `.old-${hash}-${process.pid}`);
      renameSync(dir, old);
      rmSync(old, { recursive: true, force: true });
    }
    renameSync(stage, dir);
    pruneDebs(debs, all);
    pruneImages(cacheDir, hash, KEEP_IMAGES);
    progress('cache', `image ${hash}: initramfs ${(initrd.length / 2 ** 20).toFixed(1)} MiB (${(cpio.length / 2 ** 20).toFixed(1)} MiB unpacked), kernel ${(vmlinux.length / 2 ** 20).toFixed(1)} MiB`);
    return { dir, manifest };
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(stage, { recursive: true, force: true });
  }
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Every `.ko` under `dir` by module name (`crc32c-intel.ko` → `crc32c_intel`). */
function indexModules(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) out.set(moduleName(e.name), p);
    }
  };
  if (!existsSync(dir)) throw new ImageBuildError('modules', `no kernel modules at ${dir}`);
  walk(dir);
  return out;
}

/**
 * Reads `rel` inside the unpacked tree `root`, following symlinks inside the tree (an absolute
 * link such as lib64/ld-linux-x86-64.so.2 → /lib/... must not escape to the host's files).
 */
export function readInRoot(root: string, rel: string): Buffer {
  let path = join(root, rel);
  for (let hops = 0; hops < 16; hops++) {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      throw new ImageBuildError('extract', `${rel} is missing from the unpacked packages`, { file: path });
    }
    if (!st.isSymbolicLink()) return readFileSync(path);
    const target = readlinkSync(path);
    path = target.startsWith('/') ? join(root, target) : resolve(dirname(path), target);
    if (path !== root && !path.startsWith(root + sep)) throw new ImageBuildError('extract', `${rel} links outside the unpacked tree`, { file: path });
  }
  throw new ImageBuildError('extract', `too many symlinks at ${rel}`);
}

/** A shared library by soname from the multiarch directories of the unpacked packages. */
function readLib(root: string, soname: string): Buffer {
  for (const dir of ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu']) {
    if (existsSync(join(root, dir, soname))) return readInRoot(root, `${dir}/${soname}`);
  }
  throw new ImageBuildError('extract', `library ${soname} not found in the unpacked packages`);
}

/** How many images the cache keeps (each is ~66 MB; every change to guest/ makes a new one). */
const KEEP_IMAGES = 3;

/**
 * Deletes all but the `keep` most recently built images (never `current`). A VM already
 * running from a deleted image is unaffected: QEMU reads the kernel and initramfs at start.
 */
function pruneImages(cacheDir: string, current: string, keep: number): void {
  const images = readdirSync(cacheDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[0-9a-f]{16}$/.test(e.name) && e.name !== current)
    .map((e) => {
      try {
        return { name: e.name, mtime: statSync(join(cacheDir, e.name, 'manifest.json')).mtimeMs };
      } catch {
        return { name: e.name, mtime: 0 };
      }
    })
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of images.slice(Math.max(0, keep - 1))) rmSync(join(cacheDir, old.name), { recursive: true, force: true });
}

/** Deletes downloaded packages this build does not use (older kernels are 70 MB each). */
function pruneDebs(dir: string, keep: readonly PackageVersion[]): void {
  const used = new Set(keep.map((p) => findDeb(dir, p)).filter(Boolean));
  for (const name of readdirSync(dir)) if (name.endsWith('.deb') && !used.has(name)) rmSync(join(dir, basename(name)), { force: true });
}
