/**
 * The simulated {@link HypervisorDriver}: a thin driver over one {@link SimHost} of a
 * {@link SimWorld}. SIMULATED: nothing it reports was measured (`simulated: true`,
 * `info().accel === 'sim'`). Deterministic for a given world and call sequence.
 */
import type { EventFilter, HypervisorDriver, PowerdownOptions, StartOptions } from '../driver.js';
import { HotplugError, isHypervisorError, PowerdownTimeoutError } from '../errors.js';
import { EventHub, waitForEvent } from '../events.js';
import { parseDiskSpec, parseVmSpec, type DiskSpecInput, type VmSpecInput } from '../spec.js';
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
} from '../types.js';
import type { SimHost } from './sim-host.js';

/** The simulated driver of one simulated host. Get one with `world.driver('h1')`. */
export class SimHypervisorDriver implements HypervisorDriver {
  readonly kind = 'sim' as const;
  readonly simulated = true;
  private readonly hub = new EventHub();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(readonly host: SimHost) {
    this.unsubscribe = host.events.subscribe((ev) => this.hub.publish(ev));
  }

  private get clock() {
    return this.host.world.clock;
  }

  /** Every simulated operation takes a turn of the event loop, as a QMP round trip would. */
  private tick(): Promise<void> {
    return this.clock.sleep(0);
  }

  async info(): Promise<DriverInfo> {
    return { kind: 'sim', simulated: true, host: this.host.name, accel: 'sim', version: 'sim' };
  }

  async create(input: VmSpecInput): Promise<VmStatus> {
    const spec = parseVmSpec(input);
    await this.tick();
    this.host.define(spec);
    return this.host.status(spec.id);
  }

  async list(): Promise<VmSummary[]> {
    await this.tick();
    return [...this.host.vms.values()]
      .map((vm) => ({ id: vm.spec.id, state: vm.state, pid: vm.pid }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async adopt(id: string): Promise<VmStatus> {
    await this.tick();
    return this.host.status(id);
  }

  async remove(id: string): Promise<void> {
    await this.tick();
    this.host.remove(id);
  }

  async start(id: string, opts: StartOptions = {}): Promise<VmStatus> {
    await this.host.start(id, opts.paused ?? false);
    return this.host.status(id);
  }

  async stop(id: string): Promise<VmStatus> {
    await this.tick();
    this.host.stop(id);
    return this.host.status(id);
  }

  async cont(id: string): Promise<VmStatus> {
    await this.tick();
    this.host.cont(id);
    return this.host.status(id);
  }

  async kill(id: string): Promise<VmStatus> {
    await this.tick();
    this.host.kill(id);
    return this.host.status(id);
  }

  async powerdown(id: string, opts: PowerdownOptions = {}): Promise<PowerdownResult> {
    const timeoutMs = opts.timeoutMs ?? 30000;
    await this.tick();
    const exited = waitForEvent(this.hub, (e) => e.type === 'EXITED', { clock: this.clock, timeoutMs, filter: { vmId: id }, what: 'EXITED' });
    exited.catch(() => undefined);
    this.host.powerdown(id);
    if (opts.resume && this.host.get(id, 'powerdown').state === 'paused') {
      await this.tick();
      this.host.cont(id);
    }
    try {
      const ev = await exited;
      return { clean: true, reason: String(ev.data.reason) };
    } catch (e) {
      if (isHypervisorError(e, 'QMP_TIMEOUT')) throw new PowerdownTimeoutError(id, timeoutMs);
      throw e;
    }
  }

  async setLink(id: string, up: boolean): Promise<string[]> {
    await this.tick();
    return this.host.setLink(id, up);
  }

  async status(id: string): Promise<VmStatus> {
    await this.tick();
    return this.host.status(id);
  }

  subscribe(listener: VmEventListener, filter?: EventFilter): () => void {
    return this.hub.subscribe(listener, filter);
  }

  events(filter?: EventFilter & { signal?: AbortSignal }): AsyncIterableIterator<VmEvent> {
    return this.hub.iterate(filter);
  }

  async mirror(id: string, opts: MirrorOptions): Promise<BlockJobInfo> {
    await this.tick();
    return this.host.mirror(id, opts);
  }

  async queryBlockJobs(id: string): Promise<BlockJobInfo[]> {
    await this.tick();
    return this.host.queryBlockJobs(id);
  }

  async cancelBlockJob(id: string, jobId: string): Promise<BlockJobEnd> {
    await this.tick();
    return this.host.endJob(id, jobId, 'cancel');
  }

  async completeBlockJob(id: string, jobId: string): Promise<BlockJobEnd> {
    await this.tick();
    return this.host.endJob(id, jobId, 'complete');
  }

  async backup(id: string, opts: BackupOptions): Promise<BlockJobInfo> {
    await this.tick();
    return this.host.backup(id, opts);
  }

  async setBlockJobSpeed(id: string, jobId: string, bytesPerSec: number): Promise<void> {
    await this.tick();
    this.host.setJobSpeed(id, jobId, bytesPerSec);
  }

  async queryDirtyBitmaps(id: string, device: string, opts: { includeAnonymous?: boolean } = {}): Promise<DirtyBitmapInfo[]> {
    await this.tick();
    return this.host.queryDirtyBitmaps(id, device, opts.includeAnonymous ?? false);
  }

  async removeDirtyBitmap(id: string, device: string, name: string): Promise<void> {
    await this.tick();
    this.host.removeDirtyBitmap(id, device, name);
  }

  async removeNbdTarget(id: string, node: string): Promise<void> {
    await this.tick();
    this.host.removeNbdNode(id, node);
  }

  async startNbdExport(id: string, opts: NbdExportOptions): Promise<void> {
    await this.tick();
    this.host.startNbd(id, opts);
  }

  async stopNbdExport(id: string): Promise<void> {
    await this.tick();
    this.host.stopNbd(id);
  }

  async setMigrationCapabilities(id: string, caps: Record<string, boolean>): Promise<void> {
    await this.tick();
    this.host.setCaps(id, caps);
  }

  async migrateIncoming(id: string, uri: string): Promise<void> {
    await this.tick();
    this.host.migrateIncoming(id, uri);
  }

  async migrate(id: string, uri: string): Promise<void> {
    await this.tick();
    this.host.migrate(id, uri);
  }

  async queryMigration(id: string): Promise<MigrationInfo> {
    await this.tick();
    return this.host.queryMigration(id);
  }

  async migrateContinue(id: string): Promise<void> {
    await this.tick();
    this.host.migrateContinue(id);
  }

  async migrateCancel(id: string): Promise<void> {
    await this.tick();
    this.host.migrateCancel(id);
  }

  async hotAddVcpu(id: string): Promise<HotAddResult> {
    await this.tick();
    return this.host.hotAddVcpu(id);
  }

  async hotAddMemory(id: string, sizeMiB: number): Promise<HotAddResult> {
    await this.tick();
    return this.host.hotAddMemory(id, sizeMiB);
  }

  async attachDisk(id: string, input: DiskSpecInput, opts: { bus?: string } = {}): Promise<void> {
    const disk = parseDiskSpec(input, id);
    await this.tick();
    const vm = this.host.get(id, 'attachDisk');
    const bus = opts.bus ?? vm.spec.devices.find((d) => d.kind === 'pcie-root-port')?.id;
    if (!bus) throw new HotplugError(id, 'attachDisk', 'the spec has no pcie-root-port to plug a disk into');
    if (disk.kind === 'file' && disk.snapshot) throw new HotplugError(id, 'attachDisk', 'snapshot disks cannot be hot-plugged');
    this.host.attachDisk(id, disk, bus);
  }

  async stats(id: string): Promise<VmStats> {
    await this.tick();
    return this.host.stats(id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.hub.close();
  }
}
