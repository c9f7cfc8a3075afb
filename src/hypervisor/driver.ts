/**
 * The one interface Umbra uses to run VMs on a host. Implementations: the QEMU driver
 * (qemu/qemu-driver.ts, QMP over a unix socket) and the simulated driver (sim/sim-driver.ts).
 * Both pass the same contract suite (contract.ts).
 *
 * Conventions every implementation keeps:
 * - VMs are named by the `id` of their spec; every method taking `id` throws
 *   `VM_NOT_FOUND` for an unknown id.
 * - Side effects are "ensure": calling a method twice leaves the same world as calling it once
 *   (`create` with the same spec, `stop` on a paused VM, `kill` on an exited VM are no-ops).
 * - Methods that need a live process throw `VM_INVALID_STATE` when there is none.
 * - Errors are {@link HypervisorError}s (errors.ts); `retryable` says whether to retry.
 * - Status is observed from the hypervisor on every call, never cached.
 */
import type { DiskSpecInput, VmSpecInput } from './spec.js';
import type {
  BackupOptions,
  BlockJobEnd,
  BlockJobInfo,
  DriverInfo,
  HotAddResult,
  MigrationInfo,
  MirrorOptions,
  NbdExportOptions,
  PowerdownResult,
  VmEvent,
  VmEventListener,
  VmStats,
  VmStatus,
  VmSummary,
  DirtyBitmapInfo,
} from './types.js';

export type { HypervisorError } from './errors.js';

/** Options of {@link HypervisorDriver.start}. */
export interface StartOptions {
  /** Start with vCPUs stopped (state `prelaunch`); `cont` runs them. */
  paused?: boolean;
  /** How long to wait for the hypervisor to come up (ms). */
  timeoutMs?: number;
}

/** Options of {@link HypervisorDriver.powerdown}. */
export interface PowerdownOptions {
  /** How long to wait for the process to exit (ms, default 30000). */
  timeoutMs?: number;
  /** Resume a VM paused by `stop` right after pressing the button (it cannot react while paused). */
  resume?: boolean;
}

/** Filter for {@link HypervisorDriver.events} and {@link HypervisorDriver.subscribe}. */
export interface EventFilter {
  /** Only this VM's events. */
  vmId?: string;
  /** Only these event types. */
  types?: readonly string[];
}

/** The hypervisor driver of one host. */
export interface HypervisorDriver {
  /** Which implementation this is. */
  readonly kind: 'qemu' | 'sim';
  /** True for the simulated driver. */
  readonly simulated: boolean;

  /** What the driver runs on: host, accelerator (after probing), hypervisor version. */
  info(): Promise<DriverInfo>;

  /**
   * Defines a VM from its spec: validates it (`VM_SPEC_INVALID` lists every bad field) and
   * records it (run dir, spec file); starts nothing. Idempotent for an equal spec; a different
   * spec for an existing id throws `VM_EXISTS`. Returns the status (`defined`, or the live
   * state when the VM already runs).
   */
  create(spec: VmSpecInput): Promise<VmStatus>;

  /** Every VM the driver knows on this host (including ones left by an earlier driver process). */
  list(): Promise<VmSummary[]>;

  /**
   * Attaches to a VM created by an earlier driver (instance or process) from its recorded
   * state (run dir: spec, pidfile, QMP socket), so its events flow and its operations work.
   * The process is never restarted. Returns its status (`exited` when the process is gone).
   */
  adopt(id: string): Promise<VmStatus>;

  /** Forgets a VM that has no process (deletes its run dir). `VM_INVALID_STATE` while it runs. */
  remove(id: string): Promise<void>;

  /**
   * Starts the VM's process and waits until the hypervisor answers (QMP ready). The guest runs
   * unless `paused` or the spec is `incoming` (then `inmigrate`). No-op while a process lives.
   * A process that fails to come up throws `VM_START_FAILED` carrying the tail of its stderr.
   */
  start(id: string, opts?: StartOptions): Promise<VmStatus>;

  /** Pauses the vCPUs (QMP `stop`, event `STOP`); the process stays. No-op when paused. */
  stop(id: string): Promise<VmStatus>;

  /** Resumes the vCPUs (QMP `cont`, event `RESUME`), also after a paused start. No-op when running. */
  cont(id: string): Promise<VmStatus>;

  /** Ends the process at once (SIGKILL: no flush, like a host crash) and waits until it is gone. No-op when exited. */
  kill(id: string): Promise<VmStatus>;

  /**
   * Presses the ACPI power button and waits for the process to exit after the guest shut down.
   * A paused guest cannot react to the button: with `resume`, a VM paused by `stop` gets its
   * vCPUs resumed right after the press (the button is pending, so the guest handles it first
   * thing); without it, a paused VM stays paused. Throws `POWERDOWN_TIMEOUT` when the process
   * has not exited within `timeoutMs` (default 30 s); the VM is then left as it is (running when
   * it was resumed; call `kill` to force).
   */
  powerdown(id: string, opts?: PowerdownOptions): Promise<PowerdownResult>;

  /**
   * Sets the link of every NIC of the VM up or down (QMP `set_link` on each NIC device): a NIC
   * whose link is down passes no packet either way and the guest sees no carrier, so a guest
   * that runs cannot reach or answer anyone (host forwards of user-mode networking still accept
   * connections, but nothing answers them). Idempotent; lasts until set again or the process
   * ends (a new process starts with links up). Returns the NIC device ids (empty for a VM
   * without a NIC). `VM_INVALID_STATE` without a process.
   */
  setLink(id: string, up: boolean): Promise<string[]>;

  /** The VM's observed status. */
  status(id: string): Promise<VmStatus>;

  /** Calls `listener` for every event (matching `filter`) until the returned function is called. */
  subscribe(listener: VmEventListener, filter?: EventFilter): () => void;

  /** The events (matching `filter`) from now on, as an async iterator; ends when `signal` aborts or the driver closes. */
  events(filter?: EventFilter & { signal?: AbortSignal }): AsyncIterableIterator<VmEvent>;

  /**
   * Starts mirroring a disk to an NBD export (`blockdev-add` nbd + `blockdev-mirror`). The job
   * emits `BLOCK_JOB_READY` once the target caught up; then it stays in sync until cancelled
   * or completed. Re-running with a live job of the same id returns that job.
   */
  mirror(id: string, opts: MirrorOptions): Promise<BlockJobInfo>;

  /** The VM's block jobs. */
  queryBlockJobs(id: string): Promise<BlockJobInfo[]>;

  /**
   * Cancels a block job and waits for it to end; a ready mirror cancelled leaves a consistent
   * copy on the target (outcome `completed`). Removes the job's NBD target node.
   */
  cancelBlockJob(id: string, jobId: string, opts?: { force?: boolean; timeoutMs?: number }): Promise<BlockJobEnd>;

  /** Completes a ready job (a mirror pivots to its target) and waits for it to end. */
  completeBlockJob(id: string, jobId: string, opts?: { timeoutMs?: number }): Promise<BlockJobEnd>;

  /**
   * Starts a backup job copying a disk to an NBD export (`blockdev-add` nbd as `targetNode`
   * when absent, then `blockdev-backup`; a full copy with `bitmap` runs in one `transaction`
   * with `block-dirty-bitmap-add`). The job ends by itself: `BLOCK_JOB_COMPLETED` (with `error`
   * when it failed), auto-dismissed; the target node stays. Re-running with a live job of the
   * same id returns that job. An existing bitmap name for a full copy, a missing one for an
   * incremental copy, or an unreachable export throw `HV_COMMAND_FAILED` and change nothing.
   */
  backup(id: string, opts: BackupOptions): Promise<BlockJobInfo>;

  /** Changes a running block job's speed limit (bytes per second, 0 = unlimited). */
  setBlockJobSpeed(id: string, jobId: string, bytesPerSec: number): Promise<void>;

  /**
   * The named dirty bitmaps of a disk, with their dirty byte counts; with `includeAnonymous`
   * also the hypervisor's own (name `''`): a mirror's holds what it has not copied yet, which
   * its job's `len - offset` shows only once the job's loop runs again.
   */
  queryDirtyBitmaps(id: string, device: string, opts?: { includeAnonymous?: boolean }): Promise<DirtyBitmapInfo[]>;

  /** Removes a dirty bitmap of a disk; no-op when there is none of that name. */
  removeDirtyBitmap(id: string, device: string, name: string): Promise<void>;

  /** Removes an NBD client node made by {@link backup} (no job may use it); no-op when absent. */
  removeNbdTarget(id: string, node: string): Promise<void>;

  /** Serves disks over NBD (`nbd-server-start` + `block-export-add`); adds exports when the server already runs on the same address. */
  startNbdExport(id: string, opts: NbdExportOptions): Promise<void>;

  /** Stops the NBD server and its exports. No-op when none runs. */
  stopNbdExport(id: string): Promise<void>;

  /** Sets migration capabilities (`events`, `pause-before-switchover`, ...) on either side. */
  setMigrationCapabilities(id: string, caps: Record<string, boolean>): Promise<void>;

  /** On an `incoming` VM: listens for the migration stream at `uri` (`tcp:HOST:PORT`). */
  migrateIncoming(id: string, uri: string): Promise<void>;

  /** Starts migrating the VM's state to `uri`; progress comes as `MIGRATION` events and from `queryMigration`. */
  migrate(id: string, uri: string): Promise<void>;

  /** The migration's status and counters. */
  queryMigration(id: string): Promise<MigrationInfo>;

  /** Continues a migration paused at `pre-switchover`. */
  migrateContinue(id: string): Promise<void>;

  /** Cancels a running migration; the source keeps running. */
  migrateCancel(id: string): Promise<void>;

  /** Plugs one more vCPU (up to `vcpus.max`; `HOTPLUG_FAILED` beyond). The guest must online it. */
  hotAddVcpu(id: string): Promise<HotAddResult>;

  /** Plugs a DIMM of `sizeMiB` (within `memory.slots`/`maxMiB`; `HOTPLUG_FAILED` beyond). The guest must online it. */
  hotAddMemory(id: string, sizeMiB: number): Promise<HotAddResult>;

  /** Hot-plugs a disk into a PCIe root port of the spec (`bus`, default the first one). */
  attachDisk(id: string, disk: DiskSpecInput, opts?: { bus?: string }): Promise<void>;

  /** One resource sample (CPU time, RSS, process I/O, per-disk and, where measurable, per-NIC counters). */
  stats(id: string): Promise<VmStats>;

  /** Detaches from every VM (closes connections, ends event iterators) and leaves the VMs running. */
  close(): Promise<void>;
}
