/**
 * The one interface Umbra uses for block targets on a host: the disks a replication writes
 * into, each a raw file served writable over NBD by its own process. Implementations: the
 * `qemu-storage-daemon` driver (qsd/qsd-driver.ts, real) and the simulated driver
 * (sim/sim-targets.ts, SIMULATED). Both pass the same contract suite (contract.ts).
 *
 * Conventions every implementation keeps:
 * - Targets are named by the `id` of their spec; every method taking `id` throws
 *   `NOT_FOUND` ({@link TargetNotFoundError}) for an unknown id.
 * - Side effects are "ensure": calling a method twice leaves the same world as calling it once.
 * - The target file is created once with exactly `sizeBytes` bytes and is NEVER truncated,
 *   resized or recreated while it exists: a replication may have filled it.
 * - The serving process outlives the driver instance (an agent restart): a new driver finds a
 *   running process again from the run dir and never restarts it.
 * - Status is observed on every call, never cached.
 */
import type { DiskDigest } from '../api/shadow-protocol.js';

/** What a block target should be. */
export interface TargetSpec {
  /** Target id (lowercase letters, digits, dashes; 1-63 characters). */
  id: string;
  /** Exact size of the target file, bytes (a multiple of 512). */
  sizeBytes: number;
  /** Address the NBD server listens on. */
  host: string;
  /** Port the NBD server listens on (a concrete port: the caller picks a free one). */
  port: number;
  /** NBD export name of the writable target. */
  exportName: string;
}

/** Whether a target's serving process runs. */
export type TargetState = 'running' | 'stopped';

/** A target as observed now. */
export interface TargetStatus {
  id: string;
  state: TargetState;
  /** The serving process while it runs, else null. */
  pid: number | null;
  /** The target file (the replicated bytes). */
  file: string;
  sizeBytes: number;
  /** Where the writable export is served (reachable only while `running`). */
  export: { host: string; port: number; export: string };
}

/** A read-only point-in-time view of a target, served over NBD beside the live export. */
export interface PointInTimeExport {
  /** The name given to {@link BlockTargetDriver.exportPointInTime}. */
  name: string;
  /** Where to read it (same server as the target's export, another export name). */
  host: string;
  port: number;
  export: string;
  /** When the point in time was taken, epoch ms. */
  createdAt: number;
  /** How long setting it up took, ms (0 when it already existed). */
  setupMs: number;
}

/** The block-target driver of one host. */
export interface BlockTargetDriver {
  /** Which implementation this is. */
  readonly kind: 'qsd' | 'sim';
  /** True for the simulated driver: nothing it reports was measured. */
  readonly simulated: boolean;

  /**
   * Ensures the target: its file (created with exactly `sizeBytes` bytes when missing, kept as
   * it is otherwise) and a running process exporting it writable over NBD at
   * `host:port/exportName`. A running process (also one an earlier driver started) is kept.
   * Throws `CONFLICT` when the existing file has another size, or when the target runs with
   * another address or export name; `REQUEST_INVALID` for a bad spec; `VM_START_FAILED`
   * ({@link TargetStartFailedError}, with the process's stderr tail) when the process did not
   * come up (e.g. the port is taken).
   */
  ensure(spec: TargetSpec): Promise<TargetStatus>;

  /** The target as observed now (cheap: no round trip to the process). */
  status(id: string): Promise<TargetStatus>;

  /** Every target of this host, also the ones an earlier driver made. */
  list(): Promise<TargetStatus[]>;

  /** Ends the serving process at once (SIGKILL, like a crash) and waits until it is gone. The file stays. No-op when stopped. */
  kill(id: string): Promise<TargetStatus>;

  /** Ends the serving process cleanly (flushes) and waits until it is gone. The file stays. No-op when stopped. */
  stop(id: string): Promise<TargetStatus>;

  /** Stops the process and deletes the target: its file and run dir. No-op for an unknown id. */
  remove(id: string): Promise<void>;

  /**
   * Ensures a read-only point-in-time export `name` of a running target, served on the same
   * NBD server. Writes to the live export go on and never show in it (fleecing: the old data
   * is copied aside before it is overwritten). The live export is never paused. Idempotent:
   * an existing export of that name is returned as it is. `name`: a lowercase letter, then
   * letters, digits or dashes, at most 20 characters. `VM_INVALID_STATE` when the target is stopped.
   */
  exportPointInTime(id: string, name: string): Promise<PointInTimeExport>;

  /** The point-in-time exports a target has now (also ones left by an earlier driver). */
  listPointInTime(id: string): Promise<string[]>;

  /** Ends a point-in-time export and frees what it held. No-op when it does not exist or the target is stopped. */
  releasePointInTime(id: string, name: string): Promise<void>;

  /** sha256 digests of the target file's bytes in `chunkBytes` chunks (default 1 MiB). */
  digest(id: string, chunkBytes?: number): Promise<DiskDigest>;

  /** Drops connections to the serving processes; they keep running. */
  close(): Promise<void>;
}

/** Default chunk of {@link BlockTargetDriver.digest}: 1 MiB. */
export const DEFAULT_DIGEST_CHUNK = 1024 * 1024;

/** Target ids: the same alphabet as VM ids. */
export const TARGET_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Point-in-time export names: short enough for QEMU node names (`pit-<name>`, < 32 characters). */
export const PIT_NAME = /^[a-z][a-z0-9-]{0,19}$/;
