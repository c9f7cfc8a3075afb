/**
 * Pure mappings from QMP replies (QEMU 7.2 shapes) to the driver's records.
 */
import type { BlockJobInfo, DirtyBitmapInfo, DiskStats, MigrationInfo, VmState } from '../types.js';

/** QEMU's RunState (`query-status`.status) → {@link VmState}. */
export function mapRunState(status: string): VmState {
  switch (status) {
    case 'running':
    case 'colo':
      return 'running';
    case 'prelaunch':
      return 'prelaunch';
    case 'inmigrate':
      return 'inmigrate';
    case 'postmigrate':
      return 'postmigrate';
    case 'shutdown':
      return 'shutdown';
    case 'guest-panicked':
    case 'internal-error':
    case 'watchdog':
      return 'crashed';
    // paused, io-error (werror=stop), finish-migrate, save-vm, restore-vm, suspended, debug
    default:
      return 'paused';
  }
}

/** One `query-block-jobs` entry → {@link BlockJobInfo}. */
export function toBlockJobInfo(j: Record<string, unknown>): BlockJobInfo {
  return {
    jobId: String(j.device),
    type: String(j.type),
    status: String(j.status),
    ready: j.ready === true,
    offset: Number(j.offset ?? 0),
    len: Number(j.len ?? 0),
    speed: Number(j.speed ?? 0),
  };
}

/**
 * The dirty bitmaps of node `device` from `query-named-block-nodes` (flat). Anonymous bitmaps
 * (a mirror's dirty tracking, the successors QEMU adds while an incremental backup runs) are
 * left out unless `includeAnonymous`; their name is then `''`.
 */
export function toDirtyBitmaps(nodes: Record<string, unknown>[], device: string, includeAnonymous = false): DirtyBitmapInfo[] {
  const node = nodes.find((n) => n['node-name'] === device);
  const list = (node?.['dirty-bitmaps'] ?? []) as Record<string, unknown>[];
  return list
    .filter((b) => includeAnonymous || typeof b.name === 'string')
    .map((b) => ({ name: typeof b.name === 'string' ? b.name : '', count: Number(b.count ?? 0), granularity: Number(b.granularity ?? 0), busy: b.busy === true, recording: b.recording === true }));
}

/** `query-migrate` → {@link MigrationInfo} (an empty reply means no migration yet: `none`). */
export function toMigrationInfo(m: Record<string, unknown>): MigrationInfo {
  const ram = (m.ram ?? {}) as Record<string, unknown>;
  const out: MigrationInfo = { status: typeof m.status === 'string' ? m.status : 'none' };
  if (typeof m['total-time'] === 'number') out.totalTimeMs = m['total-time'];
  if (typeof m.downtime === 'number') out.downtimeMs = m.downtime;
  if (typeof ram.transferred === 'number') out.transferredBytes = ram.transferred;
  if (typeof ram.remaining === 'number') out.remainingBytes = ram.remaining;
  if (typeof m['error-desc'] === 'string') out.error = m['error-desc'];
  return out;
}

/**
 * The disk id of a `query-blockstats` entry: the `-drive` id, else the device id
 * (`<disk>-dev` → `<disk>`) from the qdev path, else the node name.
 */
export function blockStatsId(e: Record<string, unknown>): string | null {
  if (typeof e.device === 'string' && e.device) return e.device;
  if (typeof e.qdev === 'string') {
    const m = /\/machine\/peripheral\/([^/]+?)(?:-dev)?(?:\/|$)/.exec(e.qdev);
    if (m) return m[1];
  }
  if (typeof e['node-name'] === 'string' && e['node-name']) return e['node-name'];
  return null;
}

/** `query-blockstats` → per-disk counters (entries without a device, e.g. a mirror's NBD target, are left out). */
export function toDiskStats(entries: Record<string, unknown>[]): DiskStats[] {
  const out: DiskStats[] = [];
  for (const e of entries) {
    if (!e.qdev && !e.device) continue; // not attached to a guest device
    const id = blockStatsId(e);
    if (!id) continue;
    const s = (e.stats ?? {}) as Record<string, number>;
    out.push({
      id,
      rdBytes: s.rd_bytes ?? 0,
      wrBytes: s.wr_bytes ?? 0,
      rdOps: s.rd_operations ?? 0,
      wrOps: s.wr_operations ?? 0,
      flushOps: s.flush_operations ?? 0,
    });
  }
  return out;
}

/** A hot-pluggable CPU slot (`query-hotpluggable-cpus` entry). */
export interface CpuSlot {
  type: string;
  props: Record<string, number>;
  /** Present when the slot holds a CPU. */
  'qom-path'?: string;
}

/** The first free CPU slot in (socket, die, core, thread) order, or null when every slot is plugged. */
export function pickFreeCpuSlot(slots: CpuSlot[]): CpuSlot | null {
  const free = slots.filter((s) => !s['qom-path']);
  const key = (s: CpuSlot) => [s.props['socket-id'] ?? 0, s.props['die-id'] ?? 0, s.props['core-id'] ?? 0, s.props['thread-id'] ?? 0];
  free.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
    return 0;
  });
  return free[0] ?? null;
}

/** A deterministic device id for a CPU slot: `cpu-s0-c1-t0`. */
export function cpuDeviceId(slot: CpuSlot): string {
  return `cpu-s${slot.props['socket-id'] ?? 0}-c${slot.props['core-id'] ?? 0}-t${slot.props['thread-id'] ?? 0}`;
}
