/**
 * The primary side of shadow replication in the host agent: the per-VM supervisor
 * (manager.ts), its pure state and lag computation (lag.ts), disk digests (digest.ts), the
 * persisted records (store.ts), the API routes (routes.ts) and live migration out of this host
 * (migrate.ts).
 */
export { ReplicationManager, HANDED_OVER, type ReplicationManagerOptions } from './manager.js';
export { LiveMigrator, migrationRoutes, parseMigrateRequest, sourceDowntimeMs, MigrationInProgressError, type LiveMigratorOptions, type ReplicationHandOver } from './migrate.js';
export { replicationRoutes, parseChunk } from './routes.js';
export { step, statusOf, initialFacts, jobNames, needsNewCopy, REPLICATION_BACKOFF, type ReplFacts, type ReplObservation, type ReplAction, type JobEnd } from './lag.js';
export { qemuImgDigester, digestOfChunks, chunkDigests, hashRawFile, DEFAULT_CHUNK_BYTES, type DiskDigester } from './digest.js';
export { ReplicationNotFoundError, ReplicationRequestInvalidError } from './errors.js';
export { ReplicationStore, type ReplicationRecord, type QuiesceRecord } from './store.js';
