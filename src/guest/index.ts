/**
 * The lab guest: its image (kernel + initramfs built from Debian packages, cached by content
 * hash), its data disk, and its kernel command line. The guest's own files are in guest/.
 */
export { buildImage, type BuildImageOptions, type GuestImage, type ImageBuildProgress } from './build.js';
export { createDataDisk, type DataDiskOptions } from './data-disk.js';
export { guestKernelArgs, type GuestKernelArgsOptions } from './kernel-args.js';
export { resolveCacheDir, type ImageManifest } from './cache.js';
export { ensureHostTools, missingHostPackages, HOST_TOOLS } from './host-tools.js';
export { ImageBuildError, type ImageBuildStep } from './errors.js';
export { GUEST_READY_MARKER, GUEST_SERVICE_PORT } from './recipe.js';
