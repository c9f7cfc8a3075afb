/**
 * Block targets: the disks replications write into (one driver interface, a real
 * qemu-storage-daemon implementation and a simulated one), and chunked disk digests.
 */
export { DEFAULT_DIGEST_CHUNK, type BlockTargetDriver, type PointInTimeExport, type TargetSpec, type TargetState, type TargetStatus } from './driver.js';
export { StorageError, TargetConflictError, TargetNotFoundError, TargetSpecInvalidError, TargetStartFailedError, TargetStoppedError } from './errors.js';
export { chunkDigest, combineChunkDigests, digestFile, validChunkBytes, MAX_DIGEST_CHUNK, MIN_DIGEST_CHUNK } from './digest.js';
export { QsdBlockTargetDriver, type QsdDriverOptions } from './qsd/qsd-driver.js';
export { SimBlockTargetDriver, SimTargetWorld } from './sim/sim-targets.js';
