/**
 * The QEMU implementation of {@link HypervisorDriver}: one detached QEMU process per VM,
 * driven over its QMP socket. Every VM lives in a run dir (`<baseDir>/vms/<id>/`: spec, process
 * record, pidfile, QMP socket, logs), so a new driver (after an agent restart) re-adopts running
 * VMs from disk; nothing is kept only in memory except open connections.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { systemClock, type Clock } from '../../core/clock.js';
import type { EventFilter, HypervisorDriver, PowerdownOptions, StartOptions } from '../driver.js';
import {
  HotplugError,
  HvCommandError,
  isHypervisorError,
  PowerdownTimeoutError,
  VmExistsError,
  VmInvalidStateError,
  VmNotFoundError,
  VmStartFailedError,
} from '../errors.js';
import { EventHub, waitForEvent } from '../events.js';
import { nicIds, parseDiskSpec, parseVmSpec, sameSpec, type DiskSpecInput, type VmSpec, type VmSpecInput } from '../spec.js';
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
import { probeAccel } from './accel-probe.js';
import { buildQemuArgs, type Accel } from './args.js';
import { vmPaths, vmsDir, type VmPaths } from './paths.js';
import { readProcessStats } from './proc-stats.js';
import { fileSize, isAlive, pollUntil, signalPid, spawnDetached, tailFile } from './process.js';
import { QmpClient, type QmpEvent } from './qmp-client.js';
import * as ops from './qmp-ops.js';
import { mapRunState, toDiskStats, toMigrationInfo } from './qmp-mapping.js';

const execFileP = promisify(execFile);

/** Options of {@link QemuHypervisorDriver}. */
export interface QemuDriverOptions {
  /** Run dirs go under `<baseDir>/vms/`; the accelerator probe caches under `baseDir` too. */
  baseDir: string;
  /** QEMU binary (default `qemu-system-x86_64` from PATH). */
  binary?: string;
  /** `auto` (default) probes KVM with a test boot and falls back to TCG. */
  accel?: 'auto' | Accel;
  clock?: Clock;
  /** Host name reported by `info()` (default the OS host name). */
  host?: string;
  /** How long `start` waits for QMP (ms, default 30000). */
  startTimeoutMs?: number;
  /** Default QMP command timeout (ms, default 10000). */
  commandTimeoutMs?: number;
}

/** What the run dir records about the current process. */
interface ProcessRecord {
  pid: number;
  startedAtMs: number;
  accel: Accel;
  /** Byte offset in qemu.log where this process's output begins. */
  logOffset: number;
}

/** In-memory state of one VM: connections and per-process bookkeeping only. */
interface Runtime {
  spec: VmSpec;
  paths: VmPaths;
  qmp: QmpClient | null;
  attaching: Promise<QmpClient> | null;
  /** The pid EXITED was already published for (once per process). */
  exitPublishedFor: number | null;
  /** The last pid this driver saw alive: EXITED is published only for a process seen alive. */
  seenPid: number | null;
  lastShutdownReason: string | null;
  /** Set by kill() so the exit is reported as `killed`. */
  killedPid: number | null;
  child: ChildProcess | null;
  /** Mirror jobs whose NBD target node this driver removes when they end. */
  mirrorCleanups: Map<string, Promise<void>>;
  pivoting: Set<string>;
}

/** The QEMU driver. See the module comment. */
export class QemuHypervisorDriver implements HypervisorDriver {
  readonly kind = 'qemu' as const;
  readonly simulated = false;
  private readonly baseDir: string;
  private readonly binary: string;
  private readonly clock: Clock;
  private readonly hub = new EventHub();
  private readonly vms = new Map<string, Runtime>();
  private accelP: Promise<Accel> | null = null;
  private versionP: Promise<string> | null = null;

  constructor(private readonly opts: QemuDriverOptions) {
    this.baseDir = opts.baseDir;
    this.binary = opts.binary ?? 'qemu-system-x86_64';
    this.clock = opts.clock ?? systemClock;
    mkdirSync(vmsDir(this.baseDir), { recursive: true });
  }

  /** The accelerator VMs get: the configured one, or the cached probe result. */
  accel(): Promise<Accel> {
    if (!this.accelP) {
      const a = this.opts.accel ?? 'auto';
      this.accelP =
        a === 'auto'
          ? probeAccel({ binary: this.binary, workDir: join(this.baseDir, 'probe'), clock: this.clock, cacheFile: join(this.baseDir, 'accel-probe.json') }).then((r) => r.accel)
          : Promise.resolve(a);
      this.accelP.catch(() => (this.accelP = null));
    }
    return this.accelP;
  }

  async info(): Promise<DriverInfo> {
    if (!this.versionP) {
      this.versionP = execFileP(this.binary, ['-version']).then(({ stdout }) => /version (\S+)/.exec(stdout)?.[1] ?? 'unknown');
    }
    return { kind: 'qemu', simulated: false, host: this.opts.host ?? hostname(), accel: await this.accel(), version: await this.versionP };
  }

  async create(input: VmSpecInput): Promise<VmStatus> {
    const spec = parseVmSpec(input);
    const paths = vmPaths(this.baseDir, spec.id);
    if (existsSync(paths.specFile)) {
      const old = parseVmSpec(JSON.parse(readFileSync(paths.specFile, 'utf8')));
      if (!sameSpec(old, spec)) throw new VmExistsError(spec.id);
      return this.status(spec.id);
    }
    mkdirSync(paths.dir, { recursive: true });
    writeAtomic(paths.specFile, JSON.stringify(spec, null, 2));
    this.vms.set(spec.id, this.newRuntime(spec, paths));
    return { id: spec.id, state: 'defined', pid: null, vcpus: null, memoryMiB: null };
  }

  /** Run dirs on disk, oldest driver's included. Asking a live VM its state attaches to it (as `adopt`). */
  async list(): Promise<VmSummary[]> {
    const dir = vmsDir(this.baseDir);
    const ids = existsSync(dir) ? readdirSync(dir).filter((d) => existsSync(join(dir, d, 'spec.json'))) : [];
    const out: VmSummary[] = [];
    for (const id of ids.sort()) {
      const rt = this.runtime(id, 'list');
      const rec = readProcessRecord(rt.paths);
      const pid = this.livePid(rt);
      if (!rec) out.push({ id, state: 'defined', pid: null });
      else if (pid === null) out.push({ id, state: 'exited', pid: null });
      else {
        // Alive: ask QEMU; report a live VM whose monitor does not answer rather than hide it.
        const st = await this.status(id).catch(() => null);
        out.push({ id, state: st?.state ?? 'running', pid });
      }
    }
    return out;
  }

  async adopt(id: string): Promise<VmStatus> {
    const rt = this.runtime(id, 'adopt');
    const pid = this.livePid(rt);
    if (pid !== null) await this.qmp(rt, 'adopt');
    return this.status(id);
  }

  async remove(id: string): Promise<void> {
    const rt = this.runtime(id, 'remove');
    if (this.livePid(rt) !== null) throw new VmInvalidStateError(id, 'remove', 'running', 'no process (kill or power it down first)');
    await rt.qmp?.close();
    this.vms.delete(id);
    rmSync(rt.paths.dir, { recursive: true, force: true });
  }

  async start(id: string, opts: StartOptions = {}): Promise<VmStatus> {
    const rt = this.runtime(id, 'start');
    if (this.livePid(rt) !== null) return this.status(id);
    const accel = await this.accel();
    const args = buildQemuArgs(rt.spec, rt.paths, { accel, paused: opts.paused });
    for (const s of [rt.paths.qmpSocket, rt.paths.serialSocket]) rmSync(s, { force: true });
    const logOffset = fileSize(rt.paths.qemuLog);
    await rt.qmp?.close();
    rt.qmp = null;
    rt.lastShutdownReason = null;
    rt.killedPid = null;

    const child = spawnDetached(this.binary, args, rt.paths.qemuLog);
    let exit: { code: number | null; signal: string | null } | null = null;
    let spawnError: Error | null = null;
    child.once('exit', (code, signal) => (exit = { code, signal }));
    child.once('error', (e) => (spawnError = e));
    rt.child = child;
    if (child.pid === undefined) {
      await this.clock.sleep(0);
      throw new VmStartFailedError(id, spawnError ? String((spawnError as Error).message) : `cannot run ${this.binary}`, null, 'spawn failed');
    }
    const rec: ProcessRecord = { pid: child.pid, startedAtMs: this.clock.now(), accel, logOffset };
    writeAtomic(join(rt.paths.dir, 'process.json'), JSON.stringify(rec));

    const timeoutMs = opts.timeoutMs ?? this.opts.startTimeoutMs ?? 30000;
    const deadline = this.clock.now() + timeoutMs;
    const failed = (detail: string): VmStartFailedError => {
      const e = exit as { code: number | null; signal: string | null } | null;
      return new VmStartFailedError(id, tailFile(rt.paths.qemuLog, 4096, 20, logOffset), e?.code ?? null, detail);
    };
    for (;;) {
      if (spawnError) throw new VmStartFailedError(id, String((spawnError as Error).message), null, 'spawn failed');
      if (exit) throw failed('QEMU exited at start');
      if (this.clock.now() >= deadline) {
        signalPid(child.pid, 'SIGKILL');
        throw failed(`no QMP answer within ${timeoutMs} ms`);
      }
      if (existsSync(rt.paths.qmpSocket)) {
        try {
          // qmp_capabilities is answered from QEMU's main loop, i.e. only after machine init
          // finished: a connected client means QEMU came up.
          const q = await this.connectQmp(rt, Math.max(500, deadline - this.clock.now()));
          if (exit) {
            await q.close();
            throw failed('QEMU exited at start');
          }
          break;
        } catch (e) {
          if (isHypervisorError(e, 'VM_START_FAILED')) throw e;
          // Not listening yet, or exiting: look again.
        }
      }
      await this.clock.sleep(10);
    }
    rt.exitPublishedFor = null;
    return this.status(id);
  }

  async stop(id: string): Promise<VmStatus> {
    const rt = this.runtime(id, 'stop');
    const st = await this.status(id);
    if (st.state === 'exited' || st.state === 'defined') throw new VmInvalidStateError(id, 'stop', st.state, 'a running process');
    if (st.state === 'running') await (await this.qmp(rt, 'stop')).execute('stop');
    return this.status(id);
  }

  async cont(id: string): Promise<VmStatus> {
    const rt = this.runtime(id, 'cont');
    const st = await this.status(id);
    if (st.state === 'exited' || st.state === 'defined') throw new VmInvalidStateError(id, 'cont', st.state, 'a running process');
    if (st.state !== 'running') await (await this.qmp(rt, 'cont')).execute('cont');
    return this.status(id);
  }

  async kill(id: string): Promise<VmStatus> {
    const rt = this.runtime(id, 'kill');
    const pid = this.livePid(rt);
    if (pid !== null) {
      rt.killedPid = pid;
      signalPid(pid, 'SIGKILL');
      const gone = await pollUntil(() => !isAlive(pid), { clock: this.clock, timeoutMs: 10000 });
      if (!gone) throw new HvCommandError('kill', 'Timeout', `process ${pid} still alive 10 s after SIGKILL`, { vmId: id, op: 'kill' });
      this.publishExit(rt, pid, 'killed');
      await rt.qmp?.close();
      rt.qmp = null;
    }
    return this.status(id);
  }

  async powerdown(id: string, opts: PowerdownOptions = {}): Promise<PowerdownResult> {
    const rt = this.runtime(id, 'powerdown');
    const pid = this.livePid(rt);
    if (pid === null) throw new VmInvalidStateError(id, 'powerdown', readProcessRecord(rt.paths) ? 'exited' : 'defined', 'a running process');
    const timeoutMs = opts.timeoutMs ?? 30000;
    const q = await this.qmp(rt, 'powerdown');
    const exited = waitForEvent(this.hub, (e) => e.type === 'EXITED', { clock: this.clock, timeoutMs, filter: { vmId: id }, what: 'EXITED' });
    exited.catch(() => undefined);
    await q.execute('system_powerdown');
    if (opts.resume) {
      // The button stays pending in the (paused) ACPI hardware: the guest takes it once it runs.
      // Only a VM paused by `stop`: an incoming or migrated-away one must never run.
      const s = await q.execute<{ status: string }>('query-status');
      if (s.status === 'paused') await q.execute('cont');
    }
    try {
      const ev = await exited;
      return { clean: true, reason: String(ev.data.reason ?? 'guest-shutdown') };
    } catch (e) {
      if (isHypervisorError(e, 'QMP_TIMEOUT')) throw new PowerdownTimeoutError(id, timeoutMs);
      throw e;
    }
  }

  async setLink(id: string, up: boolean): Promise<string[]> {
    const rt = this.runtime(id, 'setLink');
    const nics = nicIds(rt.spec);
    const q = await this.qmp(rt, 'setLink');
    for (const name of nics) await q.execute('set_link', { name, up });
    return nics;
  }

  async status(id: string): Promise<VmStatus> {
    const rt = this.runtime(id, 'status');
    const rec = readProcessRecord(rt.paths);
    if (!rec) return { id, state: 'defined', pid: null, vcpus: null, memoryMiB: null };
    if (this.livePid(rt) === null) {
      this.publishExit(rt, rec.pid, 'unknown');
      return { id, state: 'exited', pid: null, vcpus: null, memoryMiB: null, ...(rt.lastShutdownReason ? { detail: rt.lastShutdownReason } : {}) };
    }
    const q = await this.qmp(rt, 'status');
    const s = await q.execute<{ status: string }>('query-status');
    const size = await ops.readSize(q);
    return { id, state: mapRunState(s.status), pid: rec.pid, ...size, detail: s.status };
  }

  subscribe(listener: VmEventListener, filter?: EventFilter): () => void {
    return this.hub.subscribe(listener, filter);
  }

  events(filter?: EventFilter & { signal?: AbortSignal }): AsyncIterableIterator<VmEvent> {
    return this.hub.iterate(filter);
  }

  async mirror(id: string, opts: MirrorOptions): Promise<BlockJobInfo> {
    const rt = this.runtime(id, 'mirror');
    const job = await ops.ensureMirror(await this.qmp(rt, 'mirror'), opts);
    rt.pivoting.delete(opts.jobId);
    return job;
  }

  async queryBlockJobs(id: string): Promise<BlockJobInfo[]> {
    return ops.queryBlockJobs(await this.qmp(this.runtime(id, 'queryBlockJobs'), 'queryBlockJobs'));
  }

  async cancelBlockJob(id: string, jobId: string, opts: { force?: boolean; timeoutMs?: number } = {}): Promise<BlockJobEnd> {
    const rt = this.runtime(id, 'cancelBlockJob');
    const q = await this.qmp(rt, 'cancelBlockJob');
    return this.endJob(rt, jobId, opts.timeoutMs ?? 30000, () => q.execute('block-job-cancel', { device: jobId, force: opts.force ?? false }));
  }

  async completeBlockJob(id: string, jobId: string, opts: { timeoutMs?: number } = {}): Promise<BlockJobEnd> {
    const rt = this.runtime(id, 'completeBlockJob');
    const q = await this.qmp(rt, 'completeBlockJob');
    rt.pivoting.add(jobId); // after a pivot the target node IS the disk: never remove it
    return this.endJob(rt, jobId, opts.timeoutMs ?? 30000, () => q.execute('block-job-complete', { device: jobId }));
  }

  async backup(id: string, opts: BackupOptions): Promise<BlockJobInfo> {
    return ops.ensureBackup(await this.qmp(this.runtime(id, 'backup'), 'backup'), opts);
  }

  async setBlockJobSpeed(id: string, jobId: string, bytesPerSec: number): Promise<void> {
    const q = await this.qmp(this.runtime(id, 'setBlockJobSpeed'), 'setBlockJobSpeed');
    await q.execute('block-job-set-speed', { device: jobId, speed: bytesPerSec });
  }

  async queryDirtyBitmaps(id: string, device: string, opts: { includeAnonymous?: boolean } = {}): Promise<DirtyBitmapInfo[]> {
    return ops.queryDirtyBitmaps(await this.qmp(this.runtime(id, 'queryDirtyBitmaps'), 'queryDirtyBitmaps'), device, opts.includeAnonymous ?? false);
  }

  async removeDirtyBitmap(id: string, device: string, name: string): Promise<void> {
    await ops.removeDirtyBitmap(await this.qmp(this.runtime(id, 'removeDirtyBitmap'), 'removeDirtyBitmap'), device, name);
  }

  async removeNbdTarget(id: string, node: string): Promise<void> {
    await ops.removeNode(await this.qmp(this.runtime(id, 'removeNbdTarget'), 'removeNbdTarget'), node);
  }

  async startNbdExport(id: string, opts: NbdExportOptions): Promise<void> {
    await ops.ensureNbdExports(await this.qmp(this.runtime(id, 'startNbdExport'), 'startNbdExport'), opts);
  }

  async stopNbdExport(id: string): Promise<void> {
    await ops.stopNbd(await this.qmp(this.runtime(id, 'stopNbdExport'), 'stopNbdExport'));
  }

  async setMigrationCapabilities(id: string, caps: Record<string, boolean>): Promise<void> {
    const q = await this.qmp(this.runtime(id, 'setMigrationCapabilities'), 'setMigrationCapabilities');
    await q.execute('migrate-set-capabilities', { capabilities: Object.entries(caps).map(([capability, state]) => ({ capability, state })) });
  }

  async migrateIncoming(id: string, uri: string): Promise<void> {
    await (await this.qmp(this.runtime(id, 'migrateIncoming'), 'migrateIncoming')).execute('migrate-incoming', { uri });
  }

  async migrate(id: string, uri: string): Promise<void> {
    await (await this.qmp(this.runtime(id, 'migrate'), 'migrate')).execute('migrate', { uri });
  }

  async queryMigration(id: string): Promise<MigrationInfo> {
    const q = await this.qmp(this.runtime(id, 'queryMigration'), 'queryMigration');
    return toMigrationInfo(await q.execute<Record<string, unknown>>('query-migrate'));
  }

  async migrateContinue(id: string): Promise<void> {
    await (await this.qmp(this.runtime(id, 'migrateContinue'), 'migrateContinue')).execute('migrate-continue', { state: 'pre-switchover' });
  }

  async migrateCancel(id: string): Promise<void> {
    await (await this.qmp(this.runtime(id, 'migrateCancel'), 'migrateCancel')).execute('migrate_cancel');
  }

  async hotAddVcpu(id: string): Promise<HotAddResult> {
    const rt = this.runtime(id, 'hotAddVcpu');
    return ops.plugVcpu(await this.qmp(rt, 'hotAddVcpu'), id);
  }

  async hotAddMemory(id: string, sizeMiB: number): Promise<HotAddResult> {
    const rt = this.runtime(id, 'hotAddMemory');
    return ops.plugMemory(await this.qmp(rt, 'hotAddMemory'), rt.spec, sizeMiB);
  }

  async attachDisk(id: string, input: DiskSpecInput, opts: { bus?: string } = {}): Promise<void> {
    const rt = this.runtime(id, 'attachDisk');
    const disk = parseDiskSpec(input, id);
    const bus = opts.bus ?? rt.spec.devices.find((d) => d.kind === 'pcie-root-port')?.id;
    if (!bus) throw new HotplugError(id, 'attachDisk', 'the spec has no pcie-root-port to plug a disk into');
    await ops.plugDisk(await this.qmp(rt, 'attachDisk'), id, disk, bus);
  }

  async stats(id: string): Promise<VmStats> {
    const rt = this.runtime(id, 'stats');
    const pid = this.livePid(rt);
    if (pid === null) throw new VmInvalidStateError(id, 'stats', readProcessRecord(rt.paths) ? 'exited' : 'defined', 'a running process');
    const q = await this.qmp(rt, 'stats');
    const atMs = this.clock.now();
    const proc = readProcessStats(pid);
    const disks = toDiskStats(await q.execute<Record<string, unknown>[]>('query-blockstats'));
    return {
      vmId: id,
      atMs,
      pid,
      ...proc,
      disks,
      net: rt.spec.network ? null : [],
      ...(rt.spec.network
        ? { netNote: 'user-mode networking: QEMU 7.2 exposes no per-NIC byte counters over QMP (query-stats covers KVM only); the guest or the forwarded sockets must be measured instead' }
        : {}),
    };
  }

  async close(): Promise<void> {
    for (const rt of this.vms.values()) {
      const q = rt.qmp;
      rt.qmp = null;
      await q?.close();
    }
    this.hub.close();
  }

  // --- internals ---

  private newRuntime(spec: VmSpec, paths: VmPaths): Runtime {
    return { spec, paths, qmp: null, attaching: null, exitPublishedFor: null, seenPid: null, lastShutdownReason: null, killedPid: null, child: null, mirrorCleanups: new Map(), pivoting: new Set() };
  }

  /** The VM's runtime, loading its spec from the run dir when this driver has not seen it yet. */
  private runtime(id: string, op: string): Runtime {
    const known = this.vms.get(id);
    if (known) return known;
    let paths: VmPaths;
    try {
      paths = vmPaths(this.baseDir, id);
    } catch {
      throw new VmNotFoundError(id, op);
    }
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id) || !existsSync(paths.specFile)) throw new VmNotFoundError(id, op);
    const rt = this.newRuntime(parseVmSpec(JSON.parse(readFileSync(paths.specFile, 'utf8'))), paths);
    this.vms.set(id, rt);
    return rt;
  }

  /** The pid of the VM's live QEMU (checked against /proc and its command line), or null. */
  private livePid(rt: Runtime): number | null {
    const rec = readProcessRecord(rt.paths);
    const pid = rec && isAlive(rec.pid, rt.paths.pidFile) ? rec.pid : null;
    if (pid !== null) rt.seenPid = pid;
    return pid;
  }

  /** A connected QMP client for a live VM (connecting, i.e. adopting, on first use). */
  private async qmp(rt: Runtime, op: string): Promise<QmpClient> {
    if (rt.qmp?.connected) return rt.qmp;
    if (this.livePid(rt) === null) {
      throw new VmInvalidStateError(rt.spec.id, op, readProcessRecord(rt.paths) ? 'exited' : 'defined', 'a running process');
    }
    return this.connectQmp(rt, 5000);
  }

  private connectQmp(rt: Runtime, timeoutMs: number): Promise<QmpClient> {
    if (rt.attaching) return rt.attaching;
    const p = (async () => {
      const old = rt.qmp;
      rt.qmp = null;
      await old?.close();
      const q = await QmpClient.connect({
        path: rt.paths.qmpSocket,
        clock: this.clock,
        connectTimeoutMs: Math.min(timeoutMs, 5000),
        commandTimeoutMs: this.opts.commandTimeoutMs ?? 10000,
        context: { vmId: rt.spec.id },
      });
      q.onEvent((ev) => this.onQmpEvent(rt, ev));
      q.onDisconnect(() => void this.onQmpDrop(rt, q));
      rt.qmp = q;
      return q;
    })();
    rt.attaching = p;
    p.then(
      () => (rt.attaching = null),
      () => (rt.attaching = null),
    );
    return p;
  }

  private onQmpEvent(rt: Runtime, ev: QmpEvent): void {
    if (ev.event === 'SHUTDOWN' && typeof ev.data.reason === 'string') rt.lastShutdownReason = ev.data.reason;
    if ((ev.event === 'BLOCK_JOB_COMPLETED' || ev.event === 'BLOCK_JOB_CANCELLED') && typeof ev.data.device === 'string') {
      const jobId = ev.data.device;
      if (rt.pivoting.has(jobId)) rt.pivoting.delete(jobId);
      else if (rt.qmp) {
        // The mirror's NBD node outlives the job: remove it so a later mirror can reuse the name.
        const q = rt.qmp;
        rt.mirrorCleanups.set(jobId, ops.dropMirrorTarget(q, jobId).catch(() => undefined));
      }
    }
    this.hub.publish({ vmId: rt.spec.id, type: ev.event, atMs: ev.atMs, data: ev.data });
  }

  /** The monitor connection dropped: QEMU exited (publish EXITED) or the connection broke (reconnect). */
  private async onQmpDrop(rt: Runtime, q: QmpClient): Promise<void> {
    if (rt.qmp === q) rt.qmp = null;
    void q.close(); // ends its iterators; a new client is made on reconnection
    const rec = readProcessRecord(rt.paths);
    if (!rec) return;
    const gone = await pollUntil(() => !isAlive(rec.pid), { clock: this.clock, timeoutMs: 5000, intervalMs: 10 });
    if (gone) {
      this.publishExit(rt, rec.pid, rt.killedPid === rec.pid ? 'killed' : 'unknown');
      return;
    }
    if (!rt.qmp) await this.connectQmp(rt, 5000).catch(() => undefined); // next operation retries
  }

  /** Publishes EXITED once per process. */
  private publishExit(rt: Runtime, pid: number, fallbackReason: string): void {
    if (rt.exitPublishedFor === pid || rt.seenPid !== pid) return;
    rt.exitPublishedFor = pid;
    const reason = rt.killedPid === pid ? 'killed' : (rt.lastShutdownReason ?? fallbackReason);
    this.hub.publish({ vmId: rt.spec.id, type: 'EXITED', atMs: this.clock.now(), data: { pid, reason } });
  }

  private async endJob(rt: Runtime, jobId: string, timeoutMs: number, action: () => Promise<unknown>): Promise<BlockJobEnd> {
    const ended = waitForEvent(this.hub, (e) => (e.type === 'BLOCK_JOB_COMPLETED' || e.type === 'BLOCK_JOB_CANCELLED') && e.data.device === jobId, {
      clock: this.clock,
      timeoutMs,
      filter: { vmId: rt.spec.id },
      what: `end of block job ${jobId}`,
    });
    ended.catch(() => undefined);
    try {
      await action();
    } catch (e) {
      rt.pivoting.delete(jobId);
      throw e;
    }
    const ev = await ended;
    await rt.mirrorCleanups.get(jobId);
    rt.mirrorCleanups.delete(jobId);
    const error = typeof ev.data.error === 'string' ? ev.data.error : undefined;
    return {
      jobId,
      outcome: error ? 'error' : ev.type === 'BLOCK_JOB_CANCELLED' ? 'cancelled' : 'completed',
      offset: Number(ev.data.offset ?? 0),
      len: Number(ev.data.len ?? 0),
      ...(error ? { error } : {}),
    };
  }
}

function readProcessRecord(paths: VmPaths): ProcessRecord | null {
  const f = join(paths.dir, 'process.json');
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as ProcessRecord;
  } catch {
    return null;
  }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
