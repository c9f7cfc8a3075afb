/**
 * One simulated host and the VMs on it. It models QEMU's observable behaviour closely enough
 * for the contract suite: the same states, events, errors (with QEMU-like messages) and
 * counters, with time from the world's clock. VMs outlive drivers (as QEMU processes outlive
 * an agent), so a new driver re-adopts them.
 */
import {
  HotplugError,
  HvCommandError,
  VmExistsError,
  VmInvalidStateError,
  VmNotFoundError,
  VmStartFailedError,
} from '../errors.js';
import { Fanout } from '../events.js';
import { maxVcpus, nicIds, sameSpec, type DiskSpec, type VmSpec } from '../spec.js';
import type { BackupOptions, BlockJobEnd, BlockJobInfo, DirtyBitmapInfo, DiskStats, HotAddResult, MigrationInfo, MirrorOptions, NbdExportOptions, VmEvent, VmState, VmStats, VmStatus } from '../types.js';
import type { SimWorld } from './world.js';

const MiB = 1024 * 1024;

interface SimJob {
  /** `mirror` (default) or `backup` (ends by itself after copying). */
  kind?: 'mirror' | 'backup';
  jobId: string;
  device: string;
  targetKey: string;
  exportName: string;
  copyMode: MirrorOptions['copyMode'];
  len: number;
  startedAt: number;
  ready: boolean;
  /** backup: the source content version at the job's start (what the target gets). */
  srcVersion?: number;
  /** backup (incremental): the bitmap it copies and the dirty bytes it took from it. */
  bitmap?: string;
  frozen?: number;
  /** backup: the NBD client node it writes to. */
  node?: string;
  /** Speed limit as set (reported only; the model copies at its own rate). */
  speed?: number;
}

/** Dirty cluster size of simulated bitmaps (QEMU's default for a 64 MiB disk). */
const BITMAP_GRANULARITY = 65536;

interface SimMigration {
  status: string;
  uri: string;
  startedAt: number;
  totalBytes: number;
  endedAt?: number;
  downtimeMs?: number;
  error?: string;
}

/** A simulated VM: its spec and what its (simulated) QEMU process is doing. */
export interface SimVm {
  spec: VmSpec;
  /** Process-level state; `defined`/`exited` when there is no process. */
  state: VmState;
  pid: number | null;
  /** Bumped per start: continuations of an older process check it and stop. */
  generation: number;
  vcpus: number;
  memoryMiB: number;
  dimms: number;
  cpuMs: number;
  lastAccrue: number;
  /** Guest CPU load while running, cores (set with {@link SimHost.setGuestLoad}). */
  guestCores: number;
  disks: Map<string, DiskStats>;
  /** Hot-plugged disks by bus. */
  attached: Map<string, DiskSpec>;
  jobs: Map<string, SimJob>;
  /** Dirty bitmaps per disk id: name → dirty bytes (gone with the process, as QEMU's non-persistent ones). */
  bitmaps: Map<string, Map<string, number>>;
  /** NBD client nodes added by backups: node name → server key and export. */
  nbdNodes: Map<string, { targetKey: string; exportName: string; dead?: boolean }>;
  nbdKey: string | null;
  caps: Map<string, boolean>;
  migration: SimMigration | null;
  /** `cont` during `inmigrate`: run as soon as the state arrived. */
  autostart: boolean;
  lastShutdownReason: string | null;
  /** The NICs' link (set_link); up at every start. */
  linksUp: boolean;
  /** The power button was pressed while the vCPUs were paused: the guest takes it when they run again. */
  powerButtonPending: boolean;
}

/** One simulated host. */
export class SimHost {
  readonly vms = new Map<string, SimVm>();
  readonly events = new Fanout<VmEvent>();

  constructor(
    readonly world: SimWorld,
    readonly name: string,
    readonly address: string,
    readonly capacity: { cores: number; memoryMiB: number },
  ) {}

  // --- lifecycle ---

  /** Records a VM (idempotent for an equal spec). */
  define(spec: VmSpec): SimVm {
    const old = this.vms.get(spec.id);
    if (old) {
      if (!sameSpec(old.spec, spec)) throw new VmExistsError(spec.id);
      return old;
    }
    const vm: SimVm = {
      spec,
      state: 'defined',
      pid: null,
      generation: 0,
      vcpus: 0,
      memoryMiB: 0,
      dimms: 0,
      cpuMs: 0,
      lastAccrue: this.now(),
      guestCores: 0.05,
      disks: new Map(),
      attached: new Map(),
      jobs: new Map(),
      bitmaps: new Map(),
      nbdNodes: new Map(),
      nbdKey: null,
      caps: new Map(),
      migration: null,
      autostart: false,
      lastShutdownReason: null,
      linksUp: true,
      powerButtonPending: false,
    };
    this.vms.set(spec.id, vm);
    return vm;
  }

  /** The VM `id` (VM_NOT_FOUND otherwise). */
  get(id: string, op: string): SimVm {
    const vm = this.vms.get(id);
    if (!vm) throw new VmNotFoundError(id, op);
    return vm;
  }

  /** The VM with a live process (VM_INVALID_STATE otherwise). */
  live(id: string, op: string): SimVm {
    const vm = this.get(id, op);
    if (vm.pid === null) throw new VmInvalidStateError(id, op, vm.state, 'a running process');
    return vm;
  }

  remove(id: string): void {
    const vm = this.get(id, 'remove');
    if (vm.pid !== null) throw new VmInvalidStateError(id, 'remove', vm.state, 'no process (kill or power it down first)');
    this.vms.delete(id);
  }

  /** Starts the process: checks every file and address QEMU would open, then waits for "QMP". */
  async start(id: string, paused: boolean): Promise<void> {
    const vm = this.get(id, 'start');
    if (vm.pid !== null) return;
    const problem = this.startProblem(vm.spec);
    if (problem) {
      await this.world.clock.sleep(this.world.timings.qmpReadyMs / 4);
      throw new VmStartFailedError(id, problem, 1, 'QEMU exited at start');
    }
    for (const f of vm.spec.network?.forwards ?? []) this.world.forwards.set(`${f.hostAddr}:${f.hostPort}`, { host: this.name, vmId: id });
    vm.generation++;
    vm.pid = this.world.allocPid();
    vm.vcpus = vm.spec.vcpus.base;
    vm.memoryMiB = vm.spec.memory.baseMiB;
    vm.dimms = 0;
    vm.cpuMs = 0;
    vm.lastAccrue = this.now();
    vm.disks = new Map(vm.spec.disks.map((d) => [d.id, { id: d.id, rdBytes: 0, wrBytes: 0, rdOps: 0, wrOps: 0, flushOps: 0 }]));
    vm.attached = new Map();
    vm.caps = new Map();
    vm.migration = null;
    vm.autostart = false;
    vm.lastShutdownReason = null;
    vm.linksUp = true;
    vm.powerButtonPending = false;
    vm.state = vm.spec.incoming ? 'inmigrate' : paused ? 'prelaunch' : 'running';
    await this.world.clock.sleep(this.world.timings.qmpReadyMs);
  }

  stop(id: string): void {
    const vm = this.live(id, 'stop');
    if (vm.state !== 'running') return;
    this.setState(vm, 'paused');
    this.emit(vm, 'STOP', {});
  }

  cont(id: string): void {
    const vm = this.live(id, 'cont');
    if (vm.state === 'running') return;
    if (vm.state === 'inmigrate') {
      vm.autostart = true;
      return;
    }
    this.setState(vm, 'running');
    this.emit(vm, 'RESUME', {});
    if (vm.powerButtonPending) {
      vm.powerButtonPending = false;
      this.guestShutsDown(vm);
    }
  }

  /** SIGKILL: the process is gone at once. */
  kill(id: string): void {
    const vm = this.get(id, 'kill');
    if (vm.pid === null) return;
    this.exit(vm, 'killed');
  }

  /**
   * ACPI power button (POWERDOWN event). A guest that boots something and whose vCPUs run shuts
   * down `shutdownMs` later (SHUTDOWN, then the process exits); firmware alone ignores it. A
   * guest paused by `stop` takes the button when `cont` runs it again (the ACPI hardware keeps
   * it pending, as QEMU's does). The caller waits for EXITED, as with QEMU.
   */
  powerdown(id: string): void {
    const vm = this.live(id, 'powerdown');
    this.emit(vm, 'POWERDOWN', {});
    if (vm.spec.boot.kind === 'none') return;
    if (vm.state === 'paused') vm.powerButtonPending = true;
    if (vm.state === 'running') this.guestShutsDown(vm);
  }

  /** Sets every NIC's link; returns the NIC ids. */
  setLink(id: string, up: boolean): string[] {
    const vm = this.live(id, 'setLink');
    vm.linksUp = up;
    return nicIds(vm.spec);
  }

  /**
   * Whether the guest service behind host forward `address:port` answers: its VM runs a guest
   * (something boots), its vCPUs run and its NIC link is up. SIMULATED: a model, not a request.
   */
  serviceAnswers(address: string, port: number): boolean {
    const f = this.world.forwards.get(`${address}:${port}`);
    const vm = f?.host === this.name ? this.vms.get(f.vmId) : undefined;
    return vm !== undefined && vm.pid !== null && vm.state === 'running' && vm.linksUp && vm.spec.boot.kind !== 'none';
  }

  /** The guest handles the power button: it shuts down `shutdownMs` later, then the process exits. */
  private guestShutsDown(vm: SimVm): void {
    const gen = vm.generation;
    void this.world.clock.sleep(this.world.timings.shutdownMs).then(() => {
      if (vm.generation !== gen || vm.pid === null) return;
      vm.lastShutdownReason = 'guest-shutdown';
      this.emit(vm, 'SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
      this.exit(vm, 'guest-shutdown');
    });
  }

  status(id: string): VmStatus {
    const vm = this.get(id, 'status');
    if (vm.pid === null) return { id, state: vm.state, pid: null, vcpus: null, memoryMiB: null, ...(vm.lastShutdownReason ? { detail: vm.lastShutdownReason } : {}) };
    return { id, state: vm.state, pid: vm.pid, vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, detail: vm.state };
  }

  /** Every VM on this host crashes at once. */
  crashAll(): void {
    for (const vm of this.vms.values()) if (vm.pid !== null) this.exit(vm, 'killed');
  }

  // --- model hooks for tests and `umbra sim` ---

  /** Sets the guest's CPU load while it runs, in cores. */
  setGuestLoad(id: string, cores: number): void {
    const vm = this.get(id, 'setGuestLoad');
    this.accrue(vm);
    vm.guestCores = cores;
  }

  /**
   * The guest writes `bytes` to disk `diskId`: counters grow, the image's content changes,
   * and every ready mirror of that disk copies the write to its target.
   */
  guestWrite(id: string, diskId: string, bytes: number): void {
    const vm = this.live(id, 'guestWrite');
    if (vm.state !== 'running') throw new VmInvalidStateError(id, 'guestWrite', vm.state, 'running vCPUs');
    const c = vm.disks.get(diskId);
    if (!c) throw new Error(`no disk ${diskId} on ${id}`);
    c.wrBytes += bytes;
    c.wrOps += Math.max(1, Math.ceil(bytes / 65536));
    c.flushOps += 1;
    const path = this.diskFile(vm, diskId);
    const file = path ? this.world.files.get(path) : undefined;
    if (file) file.version = this.world.bumpVersion();
    for (const j of vm.jobs.values()) if (j.device === diskId && j.ready) this.syncTarget(vm, j);
    const size = path ? (this.world.files.get(path)?.sizeBytes ?? 0) : 0;
    const dirty = Math.ceil(bytes / BITMAP_GRANULARITY) * BITMAP_GRANULARITY;
    for (const [name, count] of vm.bitmaps.get(diskId) ?? []) vm.bitmaps.get(diskId)!.set(name, Math.min(size, count + dirty));
  }

  // --- stats ---

  stats(id: string): VmStats {
    const vm = this.live(id, 'stats');
    this.accrue(vm);
    const disks = [...vm.disks.values()].map((d) => ({ ...d }));
    const rd = disks.reduce((s, d) => s + d.rdBytes, 0);
    const wr = disks.reduce((s, d) => s + d.wrBytes, 0);
    const t = this.world.timings;
    return {
      vmId: id,
      atMs: this.now(),
      pid: vm.pid!,
      cpuTimeMs: vm.cpuMs,
      rssBytes: Math.round((t.overheadMiB + vm.memoryMiB * t.residentFraction) * MiB),
      processIo: { readBytes: rd, writeBytes: wr },
      disks,
      net: vm.spec.network ? null : [],
      ...(vm.spec.network ? { netNote: 'simulated: user-mode networking has no per-NIC counters (as in QEMU 7.2)' } : {}),
    };
  }

  // --- block jobs ---

  mirror(id: string, opts: MirrorOptions): BlockJobInfo {
    const vm = this.live(id, 'mirror');
    const existing = vm.jobs.get(opts.jobId);
    if (existing) return this.jobInfo(existing);
    if (!vm.disks.has(opts.device)) throw new HvCommandError('blockdev-mirror', 'GenericError', `Cannot find device='${opts.device}' nor node-name='${opts.device}'`, { vmId: id });
    const key = `${opts.target.host}:${opts.target.port}`;
    const srv = this.world.nbdServers.get(key);
    if (!srv) throw new HvCommandError('blockdev-add', 'GenericError', `Failed to connect to '${key}': Connection refused`, { vmId: id });
    if (!srv.exports.has(opts.target.export)) throw new HvCommandError('blockdev-add', 'GenericError', `Requested export not available`, { vmId: id });
    const path = this.diskFile(vm, opts.device);
    const size = path ? (this.world.files.get(path)?.sizeBytes ?? 0) : 0;
    const job: SimJob = {
      jobId: opts.jobId,
      device: opts.device,
      targetKey: key,
      exportName: opts.target.export,
      copyMode: opts.copyMode,
      len: opts.sync === 'none' ? 0 : size,
      startedAt: this.now(),
      ready: false,
    };
    vm.jobs.set(job.jobId, job);
    const gen = vm.generation;
    const copyMs = job.len / this.world.timings.mirrorBytesPerMs;
    void this.world.clock.sleep(copyMs).then(() => {
      if (vm.generation !== gen || vm.jobs.get(job.jobId) !== job) return;
      job.ready = true;
      this.syncTarget(vm, job);
      this.emit(vm, 'BLOCK_JOB_READY', { device: job.jobId, len: job.len, offset: job.len, speed: 0, type: 'mirror' });
    });
    return this.jobInfo(job);
  }

  queryBlockJobs(id: string): BlockJobInfo[] {
    const vm = this.live(id, 'queryBlockJobs');
    return [...vm.jobs.values()].map((j) => this.jobInfo(j));
  }

  endJob(id: string, jobId: string, how: 'cancel' | 'complete'): BlockJobEnd {
    const vm = this.live(id, how === 'cancel' ? 'cancelBlockJob' : 'completeBlockJob');
    const job = vm.jobs.get(jobId);
    if (!job) throw new HvCommandError(how === 'cancel' ? 'block-job-cancel' : 'block-job-complete', 'DeviceNotFound', `Block job '${jobId}' not found`, { vmId: id });
    if (how === 'complete' && !job.ready) throw new HvCommandError('block-job-complete', 'GenericError', `The active block job '${jobId}' cannot be completed`, { vmId: id });
    const info = this.jobInfo(job);
    vm.jobs.delete(jobId);
    this.mergeBack(vm, job);
    // As in QEMU: a ready mirror ends "completed" (the target is a consistent copy) even when cancelled.
    const type = job.ready ? 'BLOCK_JOB_COMPLETED' : 'BLOCK_JOB_CANCELLED';
    this.emit(vm, type, { device: jobId, len: info.len, offset: info.offset, speed: 0, type: job.kind ?? 'mirror' });
    return { jobId, outcome: job.ready ? 'completed' : 'cancelled', offset: info.offset, len: info.len };
  }

  /** A `blockdev-backup` (see HypervisorDriver.backup): copies at the mirror speed, then ends by itself. */
  backup(id: string, opts: BackupOptions): BlockJobInfo {
    const vm = this.live(id, 'backup');
    const existing = vm.jobs.get(opts.jobId);
    if (existing) return this.jobInfo(existing);
    if (!vm.disks.has(opts.device)) throw new HvCommandError('blockdev-backup', 'GenericError', `Cannot find device='${opts.device}' nor node-name='${opts.device}'`, { vmId: id });
    const bms = vm.bitmaps.get(opts.device) ?? new Map<string, number>();
    if (opts.sync === 'full' && opts.bitmap && bms.has(opts.bitmap)) throw new HvCommandError('transaction', 'GenericError', `Bitmap already exists: ${opts.bitmap}`, { vmId: id });
    if (opts.sync === 'incremental') {
      if (!opts.bitmap || !bms.has(opts.bitmap)) throw new HvCommandError('blockdev-backup', 'GenericError', `Bitmap '${opts.bitmap ?? ''}' could not be found`, { vmId: id });
      if ([...vm.jobs.values()].some((j) => j.bitmap === opts.bitmap)) throw new HvCommandError('blockdev-backup', 'GenericError', `Bitmap '${opts.bitmap}' is currently in use by another operation and cannot be used`, { vmId: id });
    }
    let node = vm.nbdNodes.get(opts.targetNode);
    if (!node) {
      const key = `${opts.target.host}:${opts.target.port}`;
      const srv = this.world.nbdServers.get(key);
      if (!srv) throw new HvCommandError('blockdev-add', 'GenericError', `Failed to connect to '${key}': Connection refused`, { vmId: id });
      if (!srv.exports.has(opts.target.export)) throw new HvCommandError('blockdev-add', 'GenericError', `Requested export not available`, { vmId: id });
      node = { targetKey: key, exportName: opts.target.export };
      vm.nbdNodes.set(opts.targetNode, node);
    }
    const size = this.diskSize(vm, opts.device);
    const path = this.diskFile(vm, opts.device);
    let len = size;
    let frozen: number | undefined;
    if (opts.sync === 'full' && opts.bitmap) bms.set(opts.bitmap, 0);
    if (opts.sync === 'incremental') {
      frozen = bms.get(opts.bitmap!)!;
      len = frozen;
      bms.set(opts.bitmap!, 0); // new writes go to the bitmap again (QEMU: its successor)
    }
    vm.bitmaps.set(opts.device, bms);
    const job: SimJob = {
      kind: 'backup',
      jobId: opts.jobId,
      device: opts.device,
      targetKey: node.targetKey,
      exportName: node.exportName,
      copyMode: 'background',
      len,
      startedAt: this.now(),
      ready: false,
      srcVersion: path ? this.world.files.get(path)?.version : undefined,
      node: opts.targetNode,
      ...(opts.sync === 'incremental' ? { bitmap: opts.bitmap, frozen } : {}),
    };
    vm.jobs.set(job.jobId, job);
    const gen = vm.generation;
    const finish = () => {
      if (vm.generation !== gen || vm.jobs.get(job.jobId) !== job) return;
      vm.jobs.delete(job.jobId);
      const dst = vm.nbdNodes.get(opts.targetNode)?.dead ? undefined : this.exportFile(job.targetKey, job.exportName);
      if (!dst && job.len > 0) {
        // The target went away since the node connected: the copy fails with an I/O error.
        this.mergeBack(vm, job);
        this.emit(vm, 'BLOCK_JOB_ERROR', { device: job.jobId, operation: 'write', action: 'report' });
        this.emit(vm, 'BLOCK_JOB_COMPLETED', { device: job.jobId, len: job.len, offset: 0, speed: 0, type: 'backup', error: 'Input/output error' });
        return;
      }
      if (dst && job.srcVersion !== undefined) dst.version = job.srcVersion;
      this.emit(vm, 'BLOCK_JOB_COMPLETED', { device: job.jobId, len: job.len, offset: job.len, speed: 0, type: 'backup' });
    };
    if (len === 0) finish();
    else void this.world.clock.sleep(len / this.world.timings.mirrorBytesPerMs).then(finish);
    return len === 0 ? { jobId: job.jobId, type: 'backup', status: 'concluded', ready: false, offset: 0, len: 0, speed: 0 } : this.jobInfo(job);
  }

  setJobSpeed(id: string, jobId: string, bytesPerSec: number): void {
    const vm = this.live(id, 'setBlockJobSpeed');
    const job = vm.jobs.get(jobId);
    if (!job) throw new HvCommandError('block-job-set-speed', 'DeviceNotActive', `No active block job on device '${jobId}'`, { vmId: id });
    if (!Number.isInteger(bytesPerSec) || bytesPerSec < 0) throw new HvCommandError('block-job-set-speed', 'GenericError', "Parameter 'speed' expects a non-negative value", { vmId: id });
    job.speed = bytesPerSec;
  }

  queryDirtyBitmaps(id: string, device: string, includeAnonymous = false): DirtyBitmapInfo[] {
    const vm = this.live(id, 'queryDirtyBitmaps');
    // As QEMU: while an incremental backup runs, its bitmap is frozen and shows what the job
    // copies; new writes go to a hidden successor, merged in when the job ends.
    const frozen = new Map([...vm.jobs.values()].filter((j) => j.bitmap).map((j) => [j.bitmap!, j.frozen ?? 0]));
    const bms = vm.bitmaps.get(device) ?? new Map<string, number>();
    const out: DirtyBitmapInfo[] = [...bms].map(([name, count]) => ({ name, count: frozen.get(name) ?? count, granularity: BITMAP_GRANULARITY, busy: frozen.has(name), recording: true }));
    if (!includeAnonymous) return out;
    for (const j of vm.jobs.values()) {
      if (j.device !== device) continue;
      // A mirror's dirty tracking (the model copies at once once ready: nothing waits), a backup's successor.
      if ((j.kind ?? 'mirror') === 'mirror') out.push({ name: '', count: j.ready ? 0 : Math.max(0, j.len - this.jobInfo(j).offset), granularity: BITMAP_GRANULARITY, busy: false, recording: true });
      else if (j.bitmap) out.push({ name: '', count: bms.get(j.bitmap) ?? 0, granularity: BITMAP_GRANULARITY, busy: false, recording: true });
    }
    return out;
  }

  removeDirtyBitmap(id: string, device: string, name: string): void {
    const vm = this.live(id, 'removeDirtyBitmap');
    const bms = vm.bitmaps.get(device);
    if (!bms?.has(name)) return;
    if ([...vm.jobs.values()].some((j) => j.bitmap === name)) throw new HvCommandError('block-dirty-bitmap-remove', 'GenericError', `Bitmap '${name}' is currently in use by another operation and cannot be used`, { vmId: id });
    bms.delete(name);
  }

  removeNbdNode(id: string, node: string): void {
    const vm = this.live(id, 'removeNbdTarget');
    if (!vm.nbdNodes.has(node)) return;
    if ([...vm.jobs.values()].some((j) => j.node === node))
      throw new HvCommandError('blockdev-del', 'GenericError', `Node '${node}' is busy: node is used as backing hd of 'backup-top'`, { vmId: id });
    vm.nbdNodes.delete(node);
  }

  /** The image file an NBD export serves, or undefined when the server or export is gone. */
  private exportFile(key: string, exportName: string) {
    const srv = this.world.nbdServers.get(key);
    const ex = srv?.exports.get(exportName);
    if (!srv || !ex) return undefined;
    const h = this.world.host(srv.host);
    const owner = h.vms.get(srv.vmId);
    const path = owner ? h.diskFile(owner, ex.device) : null;
    return path ? this.world.files.get(path) : undefined;
  }

  // --- NBD ---

  startNbd(id: string, opts: NbdExportOptions): void {
    const vm = this.live(id, 'startNbdExport');
    const key = `${opts.host}:${opts.port}`;
    if (vm.nbdKey && vm.nbdKey !== key) throw new HvCommandError('nbd-server-start', 'GenericError', 'NBD server already running', { vmId: id });
    const other = this.world.nbdServers.get(key);
    if (other && !(other.host === this.name && other.vmId === id))
      throw new HvCommandError('nbd-server-start', 'GenericError', `Failed to bind socket: Address already in use`, { vmId: id });
    const srv = other ?? { host: this.name, vmId: id, exports: new Map() };
    for (const ex of opts.exports) {
      if (!vm.disks.has(ex.device)) throw new HvCommandError('block-export-add', 'GenericError', `Cannot find device='${ex.device}' nor node-name='${ex.device}'`, { vmId: id });
      const disk = vm.spec.disks.find((d) => d.id === ex.device) ?? [...vm.attached.values()].find((d) => d.id === ex.device);
      // As in QEMU: the guest device does not share write access unless share-rw is on; an
      // incoming migration target's devices are inactive, so they hold nothing yet.
      if (ex.writable && vm.state !== 'inmigrate' && !(disk?.kind === 'file' && disk.shareRw))
        throw new HvCommandError(
          'block-export-add',
          'GenericError',
          `Permission conflict on node '${ex.device}': permissions 'write' are both required by an unnamed block device (uses node '${ex.device}' as 'root' child) and unshared by block device '/machine/peripheral/${ex.device}-dev/virtio-backend' (uses node '${ex.device}' as 'root' child).`,
          { vmId: id },
        );
    }
    for (const ex of opts.exports) srv.exports.set(ex.name, { device: ex.device, writable: ex.writable });
    this.world.nbdServers.set(key, srv);
    vm.nbdKey = key;
  }

  stopNbd(id: string): void {
    const vm = this.live(id, 'stopNbdExport');
    this.dropNbd(vm);
  }

  // --- migration ---

  setCaps(id: string, caps: Record<string, boolean>): void {
    const vm = this.live(id, 'setMigrationCapabilities');
    for (const [k, v] of Object.entries(caps)) vm.caps.set(k, v);
  }

  migrateIncoming(id: string, uri: string): void {
    const vm = this.live(id, 'migrateIncoming');
    if (vm.state !== 'inmigrate') throw new HvCommandError('migrate-incoming', 'GenericError', "'-incoming' was not specified on the command line", { vmId: id });
    if (this.world.incoming.has(uri)) throw new HvCommandError('migrate-incoming', 'GenericError', 'Failed to bind socket: Address already in use', { vmId: id });
    this.world.incoming.set(uri, { host: this.name, vmId: id });
    vm.migration = { status: 'setup', uri, startedAt: this.now(), totalBytes: 0 };
    if (vm.caps.get('events')) this.emit(vm, 'MIGRATION', { status: 'setup' });
  }

  migrate(id: string, uri: string): void {
    const vm = this.live(id, 'migrate');
    if (vm.migration && ['setup', 'active', 'pre-switchover', 'device'].includes(vm.migration.status))
      throw new HvCommandError('migrate', 'GenericError', 'There\'s a migration process in progress', { vmId: id });
    const dst = this.world.incoming.get(uri);
    if (!dst) {
      // As in QEMU: `migrate` returns at once; the connection fails in the background.
      vm.migration = { status: 'failed', uri, startedAt: this.now(), endedAt: this.now(), totalBytes: 0, error: `Failed to connect to '${uri.replace(/^tcp:/, '')}': Connection refused` };
      if (vm.caps.get('events')) {
        this.emit(vm, 'MIGRATION', { status: 'setup' });
        this.emit(vm, 'MIGRATION', { status: 'failed' });
      }
      return;
    }
    const target = this.world.host(dst.host).vms.get(dst.vmId)!;
    const totalBytes = vm.memoryMiB * MiB;
    const m: SimMigration = { status: 'active', uri, startedAt: this.now(), totalBytes };
    vm.migration = m;
    if (vm.caps.get('events')) {
      this.emit(vm, 'MIGRATION', { status: 'setup' });
      this.emit(vm, 'MIGRATION', { status: 'active' });
    }
    const tHost = this.world.host(dst.host);
    if (target.caps.get('events')) tHost.emit(target, 'MIGRATION', { status: 'active' });
    const gen = vm.generation;
    void this.world.clock.sleep(totalBytes / this.world.timings.migrationBytesPerMs).then(() => {
      if (vm.generation !== gen || vm.migration !== m || m.status !== 'active') return;
      if (vm.caps.get('pause-before-switchover')) {
        if (vm.state === 'running') {
          this.setState(vm, 'paused');
          this.emit(vm, 'STOP', {});
        }
        m.status = 'pre-switchover';
        if (vm.caps.get('events')) this.emit(vm, 'MIGRATION', { status: 'pre-switchover' });
        return;
      }
      void this.switchover(vm, m, gen);
    });
  }

  migrateContinue(id: string): void {
    const vm = this.live(id, 'migrateContinue');
    const m = vm.migration;
    if (!m || m.status !== 'pre-switchover') throw new HvCommandError('migrate-continue', 'GenericError', `Migration not in expected state: ${m?.status ?? 'none'}`, { vmId: id });
    m.status = 'device';
    void this.switchover(vm, m, vm.generation);
  }

  migrateCancel(id: string): void {
    const vm = this.live(id, 'migrateCancel');
    const m = vm.migration;
    if (!m || !['setup', 'active', 'pre-switchover', 'device'].includes(m.status)) return;
    m.status = 'cancelled';
    m.endedAt = this.now();
    if (vm.caps.get('events')) this.emit(vm, 'MIGRATION', { status: 'cancelled' });
    if (vm.state === 'paused') {
      this.setState(vm, 'running');
      this.emit(vm, 'RESUME', {});
    }
  }

  queryMigration(id: string): MigrationInfo {
    const vm = this.live(id, 'queryMigration');
    const m = vm.migration;
    if (!m) return { status: 'none' };
    const elapsed = (m.endedAt ?? this.now()) - m.startedAt;
    const sent = Math.min(m.totalBytes, elapsed * this.world.timings.migrationBytesPerMs);
    return {
      status: m.status,
      totalTimeMs: elapsed,
      ...(m.downtimeMs !== undefined ? { downtimeMs: m.downtimeMs } : {}),
      transferredBytes: Math.round(sent),
      remainingBytes: Math.round(m.totalBytes - sent),
      ...(m.error ? { error: m.error } : {}),
    };
  }

  // --- hot-plug ---

  hotAddVcpu(id: string): HotAddResult {
    const vm = this.live(id, 'hotAddVcpu');
    const max = maxVcpus(vm.spec);
    if (vm.vcpus >= max) throw new HotplugError(id, 'hotAddVcpu', `no free vCPU slot: all ${max} are plugged (vcpus.max)`);
    const deviceId = `cpu-s0-c${vm.vcpus}-t0`;
    vm.vcpus++;
    return { deviceId, vcpus: vm.vcpus, memoryMiB: vm.memoryMiB };
  }

  hotAddMemory(id: string, sizeMiB: number): HotAddResult {
    const vm = this.live(id, 'hotAddMemory');
    if (!Number.isInteger(sizeMiB) || sizeMiB <= 0) throw new HotplugError(id, 'hotAddMemory', `size must be a positive whole number of MiB, got ${sizeMiB}`);
    if (vm.spec.memory.slots === 0) throw new HotplugError(id, 'hotAddMemory', 'the VM has no memory slots (memory.slots = 0)');
    if (vm.dimms >= vm.spec.memory.slots) throw new HotplugError(id, 'hotAddMemory', `no free memory slot (all ${vm.spec.memory.slots} used)`);
    const max = vm.spec.memory.maxMiB ?? vm.spec.memory.baseMiB;
    if (vm.memoryMiB + sizeMiB > max) throw new HotplugError(id, 'hotAddMemory', `not enough space, currently 0x${((max - vm.memoryMiB) * MiB).toString(16)} in use of total space for memory devices 0x${((max - vm.spec.memory.baseMiB) * MiB).toString(16)}`);
    const deviceId = `dimm${vm.dimms}`;
    vm.dimms++;
    this.accrue(vm);
    vm.memoryMiB += sizeMiB;
    return { deviceId, vcpus: vm.vcpus, memoryMiB: vm.memoryMiB };
  }

  attachDisk(id: string, disk: DiskSpec, bus: string): void {
    const vm = this.live(id, 'attachDisk');
    if (!vm.spec.devices.some((d) => d.id === bus)) throw new HvCommandError('device_add', 'GenericError', `Bus '${bus}' not found`, { vmId: id });
    if (vm.attached.has(bus)) throw new HvCommandError('device_add', 'GenericError', `PCI: slot 0 function 0 not available for virtio-blk-pci, in use by virtio-blk-pci`, { vmId: id });
    if (vm.disks.has(disk.id)) throw new HvCommandError('blockdev-add', 'GenericError', `Duplicate nodes with node-name='${disk.id}'`, { vmId: id });
    const problem = this.diskProblem(disk);
    if (problem) throw new HvCommandError('blockdev-add', 'GenericError', problem, { vmId: id });
    vm.attached.set(bus, disk);
    vm.disks.set(disk.id, { id: disk.id, rdBytes: 0, wrBytes: 0, rdOps: 0, wrOps: 0, flushOps: 0 });
  }

  // --- internals ---

  now(): number {
    return this.world.clock.now();
  }

  emit(vm: SimVm, type: string, data: Record<string, unknown>): void {
    this.events.publish({ vmId: vm.spec.id, type, atMs: this.now(), data });
  }

  private setState(vm: SimVm, state: VmState): void {
    this.accrue(vm);
    vm.state = state;
  }

  /** Adds the CPU time used since the last accrual (guest load only while running). */
  private accrue(vm: SimVm): void {
    const t = this.now();
    if (vm.pid !== null) {
      const cores = this.world.timings.idleCores + (vm.state === 'running' ? vm.guestCores : 0);
      vm.cpuMs += (t - vm.lastAccrue) * cores;
    }
    vm.lastAccrue = t;
  }

  /** The process ends: jobs, exports, listeners and forwards go with it; mirrors into it fail. */
  private exit(vm: SimVm, reason: string): void {
    this.accrue(vm);
    const pid = vm.pid;
    vm.pid = null;
    vm.state = 'exited';
    vm.generation++;
    vm.jobs.clear();
    vm.bitmaps.clear();
    vm.nbdNodes.clear();
    this.dropNbd(vm);
    for (const [uri, l] of this.world.incoming) if (l.host === this.name && l.vmId === vm.spec.id) this.world.incoming.delete(uri);
    for (const [k, f] of this.world.forwards) if (f.host === this.name && f.vmId === vm.spec.id) this.world.forwards.delete(k);
    this.emit(vm, 'EXITED', { pid, reason });
  }

  private dropNbd(vm: SimVm): void {
    if (!vm.nbdKey) return;
    const key = vm.nbdKey;
    vm.nbdKey = null;
    this.world.nbdServers.delete(key);
    // Every mirror writing into this server loses its target: I/O error, job over.
    for (const h of this.world.hosts.values()) {
      for (const other of h.vms.values()) {
        // As QEMU's NBD client (reconnect-delay 0): a node whose server went away stays broken.
        for (const n of other.nbdNodes.values()) if (n.targetKey === key) n.dead = true;
        for (const j of [...other.jobs.values()]) {
          if (j.targetKey !== key) continue;
          other.jobs.delete(j.jobId);
          const info = h.jobInfo(j);
          h.mergeBack(other, j);
          h.emit(other, 'BLOCK_JOB_ERROR', { device: j.jobId, operation: 'write', action: 'report' });
          h.emit(other, 'BLOCK_JOB_COMPLETED', { device: j.jobId, len: info.len, offset: info.offset, speed: 0, type: j.kind ?? 'mirror', error: 'Input/output error' });
        }
      }
    }
  }

  private async switchover(vm: SimVm, m: SimMigration, gen: number): Promise<void> {
    if (vm.state === 'running') {
      this.setState(vm, 'paused');
      this.emit(vm, 'STOP', {});
    }
    await this.world.clock.sleep(this.world.timings.migrationDowntimeMs);
    if (vm.generation !== gen || vm.migration !== m) return;
    const dst = this.world.incoming.get(m.uri);
    this.world.incoming.delete(m.uri);
    m.status = 'completed';
    m.endedAt = this.now();
    m.downtimeMs = this.world.timings.migrationDowntimeMs;
    this.setState(vm, 'postmigrate');
    if (vm.caps.get('events')) this.emit(vm, 'MIGRATION', { status: 'completed' });
    if (!dst) return;
    const h = this.world.host(dst.host);
    const target = h.vms.get(dst.vmId);
    if (!target || target.pid === null) return;
    target.vcpus = vm.vcpus;
    target.memoryMiB = vm.memoryMiB;
    target.migration = { status: 'completed', uri: m.uri, startedAt: target.migration?.startedAt ?? m.startedAt, endedAt: this.now(), totalBytes: m.totalBytes };
    if (target.caps.get('events')) h.emit(target, 'MIGRATION', { status: 'completed' });
    if (target.autostart) {
      h.setState(target, 'running');
      h.emit(target, 'RESUME', {});
    } else h.setState(target, 'paused');
  }

  jobInfo(j: SimJob): BlockJobInfo {
    const offset = j.ready ? j.len : Math.min(j.len, Math.floor((this.now() - j.startedAt) * this.world.timings.mirrorBytesPerMs));
    return { jobId: j.jobId, type: j.kind ?? 'mirror', status: j.ready ? 'ready' : 'running', ready: j.ready, offset, len: j.len, speed: j.speed ?? 0 };
  }

  /** A failed or cancelled incremental backup gives its dirty bits back to the bitmap (as QEMU does). */
  mergeBack(vm: SimVm, j: SimJob): void {
    if (j.kind !== 'backup' || !j.bitmap || !j.frozen) return;
    const bms = vm.bitmaps.get(j.device);
    const cur = bms?.get(j.bitmap);
    if (bms && cur !== undefined) bms.set(j.bitmap, Math.min(this.diskSize(vm, j.device), cur + j.frozen));
  }

  private diskSize(vm: SimVm, diskId: string): number {
    const path = this.diskFile(vm, diskId);
    return path ? (this.world.files.get(path)?.sizeBytes ?? 0) : 0;
  }

  /** Makes a mirror's target image equal to its source. */
  private syncTarget(vm: SimVm, j: SimJob): void {
    const src = this.diskFile(vm, j.device);
    const srv = this.world.nbdServers.get(j.targetKey);
    const ex = srv?.exports.get(j.exportName);
    if (!src || !srv || !ex) return;
    const tvm = this.world.host(srv.host).vms.get(srv.vmId);
    const dst = tvm ? this.world.host(srv.host).diskFile(tvm, ex.device) : null;
    const s = this.world.files.get(src);
    const d = dst ? this.world.files.get(dst) : undefined;
    if (s && d) d.version = s.version;
  }

  /** The image file behind a disk of `vm` (following an NBD disk to the export's file). */
  diskFile(vm: SimVm, diskId: string): string | null {
    const d = vm.spec.disks.find((x) => x.id === diskId) ?? [...vm.attached.values()].find((x) => x.id === diskId);
    if (!d) return null;
    if (d.kind === 'file') return d.path;
    const srv = this.world.nbdServers.get(`${d.host}:${d.port}`);
    const ex = srv?.exports.get(d.export);
    if (!srv || !ex) return null;
    const h = this.world.host(srv.host);
    const owner = h.vms.get(srv.vmId);
    return owner ? h.diskFile(owner, ex.device) : null;
  }

  /** What QEMU would print when a disk cannot be opened, or null. */
  private diskProblem(d: DiskSpec): string | null {
    if (d.kind === 'file') return this.world.files.has(d.path) ? null : `Could not open '${d.path}': No such file or directory`;
    const key = `${d.host}:${d.port}`;
    const srv = this.world.nbdServers.get(key);
    if (!srv) return `Failed to connect to '${key}': Connection refused`;
    if (!srv.exports.has(d.export)) return 'Requested export not available';
    return null;
  }

  /** The stderr QEMU would leave when this spec cannot start, or null. */
  private startProblem(spec: VmSpec): string | null {
    const q = 'qemu-system-x86_64';
    if (spec.boot.kind === 'kernel') {
      if (!this.world.files.has(spec.boot.kernel)) return `${q}: could not load kernel '${spec.boot.kernel}': No such file or directory`;
      if (spec.boot.initrd && !this.world.files.has(spec.boot.initrd)) return `${q}: could not load initial ram disk '${spec.boot.initrd}'`;
    }
    if (spec.boot.kind === 'disk' && !this.world.files.has(spec.boot.path))
      return `${q}: -blockdev driver=file,node-name=boot-file,filename=${spec.boot.path}: Could not open '${spec.boot.path}': No such file or directory`;
    for (const d of spec.disks) {
      const p = this.diskProblem(d);
      if (p) return d.kind === 'file' ? `${q}: -blockdev driver=file,node-name=${d.id}-file,filename=${d.path}: ${p}` : `${q}: -blockdev driver=nbd,node-name=${d.id}: ${p}`;
    }
    for (const f of spec.network?.forwards ?? []) {
      const k = `${f.hostAddr}:${f.hostPort}`;
      if (this.world.forwards.has(k)) return `${q}: -netdev user,id=net0,hostfwd=tcp:${k}-:${f.guestPort}: Could not set up host forwarding rule 'tcp:${k}-:${f.guestPort}'`;
    }
    return null;
  }
}
