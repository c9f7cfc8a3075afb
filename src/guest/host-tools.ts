/**
 * The host programs the image builder and the lab need, and the Debian packages that provide
 * them. Missing ones are installed (as root; CI runs as root), so `umbra image build` on a
 * fresh machine prepares everything.
 */
import { existsSync } from 'node:fs';
import { aptInstall, aptShow, aptUpdate } from './apt.js';
import { which } from './exec.js';

/** An executable (or file) on the host and the package that provides it. */
export interface HostTool {
  /** A command looked up on PATH, or an absolute file path. */
  need: string;
  pkg: string;
  why: string;
}

/** What the builder and the QEMU driver use. */
export const HOST_TOOLS: readonly HostTool[] = [
  { need: 'qemu-system-x86_64', pkg: 'qemu-system-x86', why: 'runs the guests' },
  { need: 'qemu-img', pkg: 'qemu-utils', why: 'creates data disks' },
  { need: 'qemu-storage-daemon', pkg: 'qemu-system-common', why: 'serves shadow targets over NBD' },
  { need: 'ip', pkg: 'iproute2', why: 'builds the lab hosts (network namespaces)' },
  { need: 'sysctl', pkg: 'procps', why: 'tunes TCP in the lab hosts' },
  { need: 'gcc', pkg: 'gcc', why: 'compiles the guest service' },
  { need: '/usr/lib/x86_64-linux-gnu/libc.a', pkg: 'libc6-dev', why: 'links the guest service statically' },
  { need: 'xz', pkg: 'xz-utils', why: 'decompresses the kernel' },
  { need: 'dpkg-deb', pkg: 'dpkg', why: 'unpacks Debian packages' },
  { need: 'apt-get', pkg: 'apt', why: 'downloads Debian packages' },
];

/** The packages whose tools are missing (PATH lookups only: fast enough for every call). */
export function missingHostPackages(tools: readonly HostTool[] = HOST_TOOLS): string[] {
  const pkgs = new Set<string>();
  for (const t of tools) {
    const present = t.need.startsWith('/') ? existsSync(t.need) : which(t.need) !== undefined;
    if (!present) pkgs.add(t.pkg);
  }
  return [...pkgs];
}

/**
 * Installs the packages of whatever `tools` are missing (running `apt-get update` first when the
 * lists do not know them); returns the packages installed. apt-get waits for the dpkg lock
 * (DPkg::Lock::Timeout), so parallel installs queue up.
 */
export async function ensureHostTools(onProgress: (message: string) => void = () => {}, tools: readonly HostTool[] = HOST_TOOLS): Promise<string[]> {
  const missing = missingHostPackages(tools);
  if (!missing.length) return [];
  onProgress(`installing ${missing.join(', ')}`);
  const known = await aptShow(missing);
  if (missing.some((p) => !known.has(p))) await aptUpdate();
  await aptInstall(missing);
  return missing;
}
