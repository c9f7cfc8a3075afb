/**
 * The layout of the guest's initramfs (its whole root filesystem: there is no root disk).
 * Pure: file contents in, a cpio archive out.
 */
import { CpioArchive } from './cpio.js';

/** Everything the initramfs is made of, already read from the unpacked packages and guest/. */
export interface InitramfsInputs {
  /** The static busybox binary. */
  busybox: Uint8Array;
  /** Its applets as `busybox --list-full` prints them (`usr/bin/awk`, `sbin/acpid`, ...). */
  applets: readonly string[];
  /** The compiled guest service (/bin/umbra-lab). */
  service: Uint8Array;
  /** Scripts from guest/ with their destination (`init`, `sbin/umbra-shutdown`). */
  scripts: readonly { dest: string; data: Uint8Array; mode: number }[];
  /** Kernel modules in load order (stored as /lib/modules/NAME.ko). */
  modules: readonly { name: string; data: Uint8Array }[];
  /** Files from e2fsprogs at their guest path (`sbin/mke2fs`, `etc/mke2fs.conf`). */
  e2fs: readonly { path: string; data: Uint8Array; mode: number }[];
  /** Shared libraries by soname (stored in /lib/x86_64-linux-gnu). */
  libs: readonly { soname: string; data: Uint8Array }[];
  /** Text of /etc/umbra/version (what this image is). */
  version: string;
}

/** The guest path of the module load list /init reads. */
export const MODULES_LIST = 'etc/umbra/modules';
/** The script busybox acpid runs for the power button (event PWRF, code 00000080). */
export const POWER_BUTTON_HANDLER = 'etc/acpi/PWRF/00000080';

/**
 * Lays out the root filesystem. Our own files come first, so a busybox applet never shadows
 * them (busybox also has an `mke2fs`, which only makes ext2).
 */
export function assembleInitramfs(i: InitramfsInputs): CpioArchive {
  const a = new CpioArchive();
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'lib/modules', 'lib/x86_64-linux-gnu', 'lib64', 'proc', 'sys', 'dev', 'run', 'var/log', 'data', 'mnt', 'root']) a.dir(d);
  a.dir('tmp', 0o1777);
  // The kernel opens /dev/console for /init before anything mounts devtmpfs.
  a.chardev('dev/console', 5, 1, 0o600);
  a.chardev('dev/null', 1, 3, 0o666);

  for (const s of i.scripts) a.file(s.dest, s.data, s.mode);
  a.symlink(POWER_BUTTON_HANDLER, '/sbin/umbra-shutdown');
  a.file('bin/umbra-lab', i.service, 0o755);
  a.file(MODULES_LIST, Buffer.from(i.modules.map((m) => m.name).join('\n') + '\n'));
  for (const m of i.modules) a.file(`lib/modules/${m.name}.ko`, m.data);
  for (const f of i.e2fs) a.file(f.path, f.data, f.mode);
  for (const l of i.libs) a.file(`lib/x86_64-linux-gnu/${l.soname}`, l.data, 0o755);
  a.symlink('lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
  a.file('etc/umbra/version', Buffer.from(i.version));
  a.file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'));
  a.file('etc/group', Buffer.from('root:x:0:\n'));

  a.file('bin/busybox', i.busybox, 0o755);
  if (!a.has('bin/sh')) a.symlink('bin/sh', '/bin/busybox'); // the interpreter of /init
  for (const raw of i.applets) {
    const path = raw.trim().replace(/^\/+/, '');
    if (!path || path === 'bin/busybox' || path === 'linuxrc' || a.has(path)) continue;
    a.symlink(path, '/bin/busybox');
  }
  return a;
}
