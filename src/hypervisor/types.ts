/**
 * Observed-state records the hypervisor drivers return: status, events, block jobs, migration
 * and stats. Each is rebuilt from what the hypervisor reports, never from a previous record.
 */

/**
 * Where a VM is in its life.
 * - `defined`: created (spec and run dir exist), no process;
 * - `prelaunch`: process up, guest never started (started paused);
 * - `running` / `paused`: vCPUs running / stopped by `stop`;
 * - `inmigrate`: a paused migration target waiting for (or receiving) the incoming state;
 * - `postmigrate`: the source after a completed migration (paused, must not run again);
 * - `shutdown`: the guest shut down but the process is still there;
 * - `crashed`: the guest panicked or the hypervisor hit an internal error;
 * - `exited`: the process is gone (killed, powered down, failed).
 */
export type VmState = 'defined' | 'prelaunch' | 'running' | 'paused' | 'inmigrate' | 'postmigrate' | 'shutdown' | 'crashed' | 'exited';

/** States in which the VM's QEMU process is alive (it holds its disks and can be talked to). */
export const LIVE_STATES: ReadonlySet<VmState> = new Set(['prelaunch', 'running', 'paused', 'inmigrate', 'postmigrate', 'shutdown', 'crashed']);

/** One VM's observed status. */
export interface VmStatus {
  id: string;
  state: VmState;
  /** The hypervisor process id while it exists, else null. */
  pid: number | null;
  /** vCPUs plugged now (boot + hot-added); null without a process. */
  vcpus: number | null;
  /** Guest memory now, MiB (boot + hot-added DIMMs); null without a process. */
  memoryMiB: number | null;
  /** The hypervisor's own word for the state (QMP `query-status`), when there is one. */
  detail?: string;
}

/** One line of {@link HypervisorDriver.list}. */
export interface VmSummary {
  id: string;
  state: VmState;
  pid: number | null;
}

/**
 * An asynchronous event. QEMU's QMP events keep their names (`STOP`, `RESUME`, `SHUTDOWN`,
 * `POWERDOWN`, `BLOCK_JOB_READY`, `BLOCK_JOB_COMPLETED`, `BLOCK_JOB_CANCELLED`, `BLOCK_JOB_ERROR`,
 * `MIGRATION`, `GUEST_PANICKED`, ...); the driver adds `EXITED` when the process is gone
 * (`data.reason`: the last SHUTDOWN reason, or `killed` / `unknown`).
 */
export interface VmEvent {
  vmId: string;
  type: string;
  /** When it happened, ms since the epoch (QEMU's own timestamp for QMP events). */
  atMs: number;
  data: Record<string, unknown>;
}

/** A listener for {@link VmEvent}s. */
export type VmEventListener = (ev: VmEvent) => void;

/** An NBD export to connect to. */
export interface NbdTarget {
  host: string;
  port: number;
  /** Export name. */
  export: string;
}

/** Options of {@link HypervisorDriver.mirror}. */
export interface MirrorOptions {
  /** Job id; also names the target node (`<jobId>-tgt`), so re-running with the same id is detected. */
  jobId: string;
  /** Disk id (node name) of the source disk. */
  device: string;
  target: NbdTarget;
  /** `full` copies the whole disk first; `top` only the top layer; `none` only new writes. */
  sync: 'full' | 'top' | 'none';
  /** `write-blocking`: a guest write is acknowledged only once it is on the target (lag 0) once ready. */
  copyMode: 'background' | 'write-blocking';
  /** Bytes per second limit; 0 or absent for unlimited. */
  speed?: number;
}

/**
 * Options of {@link HypervisorDriver.backup}: one `blockdev-backup` job from a disk to an NBD
 * export, the building block of periodic replication (a full copy that starts a dirty bitmap,
 * then incremental copies of what the bitmap marks).
 */
export interface BackupOptions {
  /** Job id (unique among the VM's live jobs). */
  jobId: string;
  /** Disk id (node name) of the source disk. */
  device: string;
  target: NbdTarget;
  /**
   * Node name of the NBD client node written to (at most 31 characters). Added when absent and
   * left in place when the job ends, so the rounds of a periodic replication reuse one
   * connection; {@link HypervisorDriver.removeNbdTarget} removes it.
   */
  targetNode: string;
  /**
   * `full`: the whole disk; with `bitmap`, a new dirty bitmap of that name is created in the same
   * transaction, so it records exactly the writes after the copy's point in time.
   * `incremental`: only the clusters `bitmap` marks dirty. The hypervisor rolls the bitmap
   * itself: cleared when the job succeeds, the copied bits merged back when it fails.
   */
  sync: 'full' | 'incremental';
  bitmap?: string;
  /** Bytes per second limit; 0 or absent for unlimited. */
  speed?: number;
}

/** A dirty bitmap of a disk (`query-named-block-nodes` dirty-bitmaps). */
export interface DirtyBitmapInfo {
  /**
   * The bitmap's name; `''` for the hypervisor's own anonymous bitmaps (a mirror's dirty
   * tracking: what it has yet to copy; the successor of a bitmap a backup uses).
   */
  name: string;
  /** Dirty bytes (whole clusters of `granularity`). */
  count: number;
  granularity: number;
  /** True while a job uses it (an incremental backup in flight). */
  busy: boolean;
  recording: boolean;
}

/** A block job as the hypervisor reports it. `offset`/`len` are progress counters (len grows with guest writes). */
export interface BlockJobInfo {
  jobId: string;
  type: string;
  /** `created`, `running`, `ready`, `standby`, `paused`, `waiting`, `pending`, `aborting`, `concluded`, ... */
  status: string;
  ready: boolean;
  offset: number;
  len: number;
  speed: number;
}

/** How a block job ended. */
export interface BlockJobEnd {
  jobId: string;
  /** `completed` (also a ready mirror cancelled: the target is a consistent copy), `cancelled` (before ready), `error`. */
  outcome: 'completed' | 'cancelled' | 'error';
  offset: number;
  len: number;
  error?: string;
}

/** Options of {@link HypervisorDriver.startNbdExport}. */
export interface NbdExportOptions {
  /** Address to listen on. */
  host: string;
  port: number;
  exports: { name: string; device: string; writable: boolean }[];
}

/** Migration progress as the hypervisor reports it. */
export interface MigrationInfo {
  /** `none`, `setup`, `active`, `pre-switchover`, `device`, `completed`, `failed`, `cancelled`, ... */
  status: string;
  totalTimeMs?: number;
  downtimeMs?: number;
  transferredBytes?: number;
  remainingBytes?: number;
  error?: string;
}

/** The result of a vCPU or memory hot-add. */
export interface HotAddResult {
  /** The device id QEMU gave the new vCPU or DIMM. */
  deviceId: string;
  /** vCPUs after the hot-add. */
  vcpus: number;
  /** Memory after the hot-add, MiB. */
  memoryMiB: number;
}

/** I/O counters of one disk (`query-blockstats`). */
export interface DiskStats {
  /** Disk id (node name). */
  id: string;
  rdBytes: number;
  wrBytes: number;
  rdOps: number;
  wrOps: number;
  flushOps: number;
}

/** Counters of one network interface, seen from the guest (rx = into the guest). */
export interface NetStats {
  id: string;
  rxBytes: number;
  txBytes: number;
}

/**
 * One resource sample of a VM. Cumulative counters: the caller takes differences.
 * - `cpuTimeMs`: user+system CPU time of the hypervisor process (all its threads: vCPUs, I/O,
 *   emulation), from /proc/<pid>/stat;
 * - `rssBytes`: resident memory of the process (VmRSS);
 * - `processIo`: bytes the process read/wrote through system calls (/proc/<pid>/io rchar/wchar:
 *   disk images, sockets, everything), null when unreadable;
 * - `disks`: per-disk counters from the hypervisor;
 * - `net`: per-NIC counters where measurable, else null and `netNote` says why.
 */
export interface VmStats {
  vmId: string;
  atMs: number;
  pid: number;
  cpuTimeMs: number;
  rssBytes: number;
  processIo: { readBytes: number; writeBytes: number } | null;
  disks: DiskStats[];
  net: NetStats[] | null;
  netNote?: string;
}

/** What a driver is and what it runs on. */
export interface DriverInfo {
  kind: 'qemu' | 'sim';
  /** True for the simulated driver: nothing it reports was measured. */
  simulated: boolean;
  /** Host name the driver runs VMs on. */
  host: string;
  /** The accelerator VMs get (`kvm`, `tcg`, or `sim`). */
  accel: string;
  /** Hypervisor version (`7.2.22`, `sim`). */
  version: string;
}

/** The result of a clean ACPI power-down. */
export interface PowerdownResult {
  clean: true;
  /** The SHUTDOWN reason QEMU reported (`guest-shutdown`, ...). */
  reason: string;
}
