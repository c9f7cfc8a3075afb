/**
 * What goes into the lab guest image: the Debian packages, the kernel modules, the files from
 * guest/. Bump {@link BUILDER_VERSION} whenever the recipe changes in a way that changes the
 * image (the cache key includes it).
 */
import { fileURLToPath } from 'node:url';

/** Part of the cache key: bump when this recipe or the assembly in build.ts changes. */
export const BUILDER_VERSION = 1;

/** The metapackage whose Depends names the newest kernel image package of the release. */
export const KERNEL_META_PACKAGE = 'linux-image-amd64';

/**
 * Userland packages unpacked into the initramfs: busybox (shell, mount, ip, acpid...) and
 * e2fsprogs' mke2fs/e2fsck with their shared libraries (busybox can only make ext2; the data
 * disk is ext4 so that a crash or a SIGKILLed QEMU leaves a journal to replay, not a
 * filesystem that needs a full check).
 */
export const GUEST_PACKAGES = ['busybox-static', 'e2fsprogs', 'libext2fs2', 'libcom-err2', 'libblkid1', 'libuuid1', 'libc6'] as const;

/**
 * Kernel modules loaded by /init, dependencies are added (and ordered) from each module's
 * `.modinfo`: virtio_pci pulls virtio, virtio_ring and the modern/legacy helpers, virtio_net
 * pulls failover and net_failover, ext4 pulls jbd2, mbcache and crc16. crc32c_generic comes
 * before ext4: ext4's metadata checksums need a crc32c implementation and there is no working
 * modprobe to load one on demand (crc32c-intel needs SSE4.2, absent from TCG's default CPU).
 */
export const GUEST_MODULES = ['virtio_pci', 'virtio_net', 'virtio_blk', 'button', 'evdev', 'crc32c_generic', 'ext4'] as const;

/** Shared libraries mke2fs and e2fsck need (by soname), copied into /lib/x86_64-linux-gnu. */
export const GUEST_LIBS = ['libext2fs.so.2', 'libe2p.so.2', 'libcom_err.so.2', 'libblkid.so.1', 'libuuid.so.1', 'libc.so.6', 'ld-linux-x86-64.so.2'] as const;

/** Programs from the e2fsprogs package (installed in the guest at the same path). */
export const GUEST_E2FS_FILES = ['sbin/mke2fs', 'sbin/e2fsck', 'etc/mke2fs.conf'] as const;

/** The guest sources folder (guest/ at the repository root, from src/guest or dist/guest). */
export const GUEST_SOURCE_DIR = fileURLToPath(new URL('../../guest/', import.meta.url));

/** Files of guest/ copied into the initramfs: source name → path in the guest, mode. */
export const GUEST_SCRIPTS: readonly { src: string; dest: string; mode: number }[] = [
  { src: 'init', dest: 'init', mode: 0o755 },
  { src: 'shutdown.sh', dest: 'sbin/umbra-shutdown', mode: 0o755 },
];

/** The C source of the guest service, compiled statically to /bin/umbra-lab. */
export const GUEST_SERVICE_SOURCE = 'umbra-lab.c';

/** The port the guest service listens on. */
export const GUEST_SERVICE_PORT = 80;

/** The line prefix the guest prints on its serial console when the service listens. */
export const GUEST_READY_MARKER = 'UMBRA-READY';
