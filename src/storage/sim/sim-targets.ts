/**
 * The simulated {@link BlockTargetDriver}. SIMULATED: nothing it reports was measured
 * (`simulated: true`); no file is written and no process runs. Target contents are modelled as
 * zeros plus the writes made through {@link SimBlockTargetDriver.write}, so digests behave as the
 * real ones do (equal bytes, equal digests). State lives in a {@link SimTargetWorld} shared by
 * driver instances, so a new driver models an agent restart. With a {@link SimWorld}, running
 * targets are registered as NBD servers there, so simulated VMs can attach their exports.
 */
import type { Clock } from '../../core/clock.js';
import type { DiskDigest } from '../../api/shadow-protocol.js';
import type { SimWorld } from '../../hypervisor/sim/world.js';
import { chunkDigest, combineChunkDigests, validChunkBytes } from '../digest.js';
import { DEFAULT_DIGEST_CHUNK, type BlockTargetDriver, type PointInTimeExport, type TargetSpec, type TargetStatus } from '../driver.js';
import { StorageError, TargetConflictError, TargetNotFoundError, TargetStartFailedError, TargetStoppedError } from '../errors.js';
import { checkPitName, checkTargetSpec, sameExport } from '../spec.js';

interface Write {
  offset: number;
  bytes: Buffer;
}

interface SimTarget {
  spec: TargetSpec;
  pid: number | null;
  writes: Write[];
  /** Point-in-time exports: the writes as they were when each was taken. */
  pits: Map<string, { createdAt: number; writes: Write[] }>;
}

/** The simulated targets of one host (shared by driver instances). */
export class SimTargetWorld {
  readonly targets = new Map<string, SimTarget>();
  private nextPid = 5000;
  constructor(
    readonly clock: Clock,
    /** Register running targets as NBD servers in this world (host `hostName`). */
    readonly world?: SimWorld,
    readonly hostName = 'h1',
    readonly baseDir = '/sim',
  ) {}

  allocPid(): number {
    return this.world ? this.world.allocPid() : this.nextPid++;
  }
}

/** See the module comment. */
export class SimBlockTargetDriver implements BlockTargetDriver {
  readonly kind = 'sim' as const;
  readonly simulated = true;

  constructor(readonly sim: SimTargetWorld) {}

  private tick(): Promise<void> {
    return this.sim.clock.sleep(0);
  }

  async ensure(spec: TargetSpec): Promise<TargetStatus> {
    checkTargetSpec(spec);
    await this.tick();
    let t = this.sim.targets.get(spec.id);
    if (t && t.spec.sizeBytes !== spec.sizeBytes) throw new TargetConflictError(spec.id, `exists with ${t.spec.sizeBytes} bytes, asked for ${spec.sizeBytes} (a target is never resized)`);
    if (t && t.pid !== null && !sameExport(t.spec, spec)) throw new TargetConflictError(spec.id, `runs exported at ${t.spec.host}:${t.spec.port}/${t.spec.exportName}`);
    if (!t) {
      t = { spec: { ...spec }, pid: null, writes: [], pits: new Map() };
      this.sim.targets.set(spec.id, t);
    } else t.spec = { ...spec };
    if (t.pid === null) {
      const key = `${spec.host}:${spec.port}`;
      const taken = this.sim.world && (this.sim.world.nbdServers.has(key) || this.sim.world.forwards.has(key));
      const takenHere = [...this.sim.targets.values()].some((o) => o !== t && o.pid !== null && o.spec.host === spec.host && o.spec.port === spec.port);
      if (taken || takenHere) {
        throw new TargetStartFailedError(spec.id, `qemu-storage-daemon: --nbd-server addr.type=inet,addr.host=${spec.host},addr.port=${spec.port}: Failed to find an available port: Address already in use`, 'the daemon exited at start');
      }
      t.pid = this.sim.allocPid();
      this.register(t);
    }
    return this.view(t);
  }

  async status(id: string): Promise<TargetStatus> {
    await this.tick();
    return this.view(this.get(id));
  }

  async list(): Promise<TargetStatus[]> {
    await this.tick();
    return [...this.sim.targets.keys()].sort().map((id) => this.view(this.get(id)));
  }

  async kill(id: string): Promise<TargetStatus> {
    await this.tick();
    const t = this.get(id);
    this.down(t);
    return this.view(t);
  }

  stop(id: string): Promise<TargetStatus> {
    return this.kill(id);
  }

  async remove(id: string): Promise<void> {
    await this.tick();
    const t = this.sim.targets.get(id);
    if (!t) return;
    this.down(t);
    this.sim.targets.delete(id);
  }

  async exportPointInTime(id: string, name: string): Promise<PointInTimeExport> {
    checkPitName(id, name);
    await this.tick();
    const t = this.get(id);
    if (t.pid === null) throw new TargetStoppedError(id, 'exportPointInTime');
    let p = t.pits.get(name);
    const made = !p;
    if (!p) {
      p = { createdAt: this.sim.clock.now(), writes: [...t.writes] };
      t.pits.set(name, p);
      this.register(t);
    }
    return { name, host: t.spec.host, port: t.spec.port, export: `${t.spec.exportName}-${name}`, createdAt: p.createdAt, setupMs: made ? 5 : 0 };
  }

  async listPointInTime(id: string): Promise<string[]> {
    await this.tick();
    return [...this.get(id).pits.keys()].sort();
  }

  async releasePointInTime(id: string, name: string): Promise<void> {
    checkPitName(id, name);
    await this.tick();
    const t = this.get(id);
    t.pits.delete(name);
    if (t.pid !== null) this.register(t);
  }

  async digest(id: string, chunkBytes = DEFAULT_DIGEST_CHUNK): Promise<DiskDigest> {
    if (!validChunkBytes(chunkBytes)) throw new StorageError('REQUEST_INVALID', `chunk ${chunkBytes}: a whole number of bytes from 4096 to 256 MiB`, { targetId: id, op: 'digest' });
    await this.tick();
    const t = this.get(id);
    return simDigest(t.spec.sizeBytes, chunkBytes, t.writes);
  }

  /** Digest of a point-in-time export's bytes (tests: it must not change with later writes). */
  async pitDigest(id: string, name: string, chunkBytes = DEFAULT_DIGEST_CHUNK): Promise<DiskDigest> {
    const p = this.get(id).pits.get(name);
    if (!p) throw new StorageError('NOT_FOUND', `no point-in-time export ${name} of ${id}`, { targetId: id });
    return simDigest(this.get(id).spec.sizeBytes, chunkBytes, p.writes);
  }

  /** A write through the live export (what a replication does). */
  async write(id: string, offset: number, bytes: Uint8Array): Promise<void> {
    await this.tick();
    const t = this.get(id);
    if (t.pid === null) throw new TargetStoppedError(id, 'write');
    if (offset < 0 || offset + bytes.length > t.spec.sizeBytes) throw new RangeError('write beyond the end of the target');
    t.writes.push({ offset, bytes: Buffer.from(bytes) });
  }

  /** Bytes of the live target, or of point-in-time export `pit` (tests). */
  read(id: string, offset: number, len: number, pit?: string): Buffer {
    const t = this.get(id);
    const writes = pit === undefined ? t.writes : t.pits.get(pit)?.writes;
    if (!writes) throw new StorageError('NOT_FOUND', `no point-in-time export ${pit} of ${id}`, { targetId: id });
    return overlay(offset, len, writes);
  }

  async close(): Promise<void> {
    // Nothing to drop: the simulated processes keep "running".
  }

  // --- internals ---

  private get(id: string): SimTarget {
    const t = this.sim.targets.get(id);
    if (!t) throw new TargetNotFoundError(id);
    return t;
  }

  private view(t: SimTarget): TargetStatus {
    return {
      id: t.spec.id,
      state: t.pid === null ? 'stopped' : 'running',
      pid: t.pid,
      file: `${this.sim.baseDir}/targets/${t.spec.id}/disk.raw`,
      sizeBytes: t.spec.sizeBytes,
      export: { host: t.spec.host, port: t.spec.port, export: t.spec.exportName },
    };
  }

  /** The process ends: its exports (point-in-time ones included) go with it. */
  private down(t: SimTarget): void {
    if (t.pid === null) return;
    t.pid = null;
    t.pits.clear();
    this.sim.world?.nbdServers.delete(`${t.spec.host}:${t.spec.port}`);
  }

  private register(t: SimTarget): void {
    const w = this.sim.world;
    if (!w) return;
    const exports = new Map<string, { device: string; writable: boolean }>([[t.spec.exportName, { device: 't0', writable: true }]]);
    for (const name of t.pits.keys()) exports.set(`${t.spec.exportName}-${name}`, { device: `pit-${name}`, writable: false });
    w.nbdServers.set(`${t.spec.host}:${t.spec.port}`, { host: this.sim.hostName, vmId: `target-${t.spec.id}`, exports });
  }
}

/** Digests of `size` zero bytes overlaid with `writes` (later writes win). */
function simDigest(size: number, chunkBytes: number, writes: readonly Write[]): DiskDigest {
  const zero = new Map<number, string>();
  const chunks: string[] = [];
  for (let off = 0; off < size; off += chunkBytes) {
    const len = Math.min(chunkBytes, size - off);
    const touching = writes.filter((w) => w.offset < off + len && w.offset + w.bytes.length > off);
    if (!touching.length) {
      if (!zero.has(len)) zero.set(len, chunkDigest(Buffer.alloc(len)));
      chunks.push(zero.get(len)!);
      continue;
    }
    chunks.push(chunkDigest(overlay(off, len, touching)));
  }
  return { sizeBytes: size, chunkBytes, chunks, digest: combineChunkDigests(chunks), ms: 0 };
}

/** `len` bytes at `off` of a zero disk after `writes` (in order: later writes win). */
function overlay(off: number, len: number, writes: readonly Write[]): Buffer {
  const buf = Buffer.alloc(len);
  for (const w of writes) {
    const from = Math.max(off, w.offset);
    const to = Math.min(off + len, w.offset + w.bytes.length);
    if (from < to) w.bytes.copy(buf, from - off, from - w.offset, to - w.offset);
  }
  return buf;
}
