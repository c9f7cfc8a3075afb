/**
 * Multi-command QMP operations (block jobs, NBD exports, migration, hot-plug), each a function
 * of a connected {@link QmpClient}. The driver adds lookups, state checks and event waits.
 */
import { HotplugError, HvCommandError, isHypervisorError } from '../errors.js';
import type { DiskSpec, VmSpec } from '../spec.js';
import type { BackupOptions, BlockJobInfo, DirtyBitmapInfo, HotAddResult, MirrorOptions, NbdExportOptions } from '../types.js';
import type { QmpClient } from './qmp-client.js';
import { cpuDeviceId, pickFreeCpuSlot, toBlockJobInfo, toDirtyBitmaps, type CpuSlot } from './qmp-mapping.js';

const MiB = 1024 * 1024;

/** The node name of a mirror job's NBD target. Deterministic, so a retried mirror finds it. */
export function mirrorTargetNode(jobId: string): string {
  return `${jobId}-tgt`;
}

/** vCPUs plugged and memory (MiB) now. */
export async function readSize(qmp: QmpClient): Promise<{ vcpus: number; memoryMiB: number }> {
  const cpus = await qmp.execute<unknown[]>('query-cpus-fast');
  const mem = await qmp.execute<{ 'base-memory': number; 'plugged-memory'?: number }>('query-memory-size-summary');
  return { vcpus: cpus.length, memoryMiB: Math.round((mem['base-memory'] + (mem['plugged-memory'] ?? 0)) / MiB) };
}

/** The VM's block jobs. */
export async function queryBlockJobs(qmp: QmpClient): Promise<BlockJobInfo[]> {
  const jobs = await qmp.execute<Record<string, unknown>[]>('query-block-jobs');
  return jobs.map(toBlockJobInfo);
}

async function nodeExists(qmp: QmpClient, nodeName: string): Promise<boolean> {
  const nodes = await qmp.execute<{ 'node-name'?: string }[]>('query-named-block-nodes', { flat: true });
  return nodes.some((n) => n['node-name'] === nodeName);
}

/**
 * Ensures a mirror job `opts.jobId` from disk `opts.device` to an NBD export: adds the NBD
 * node (reusing one left by an earlier attempt), starts `blockdev-mirror`, and removes the
 * node again when the mirror is refused. A live job of that id is returned as it is.
 */
export async function ensureMirror(qmp: QmpClient, opts: MirrorOptions): Promise<BlockJobInfo> {
  const existing = (await queryBlockJobs(qmp)).find((j) => j.jobId === opts.jobId);
  if (existing) return existing;
  const node = mirrorTargetNode(opts.jobId);
  if (!(await nodeExists(qmp, node))) {
    await qmp.execute('blockdev-add', {
      driver: 'nbd',
      'node-name': node,
      server: { type: 'inet', host: opts.target.host, port: String(opts.target.port) },
      export: opts.target.export,
    });
  }
  try {
    const args: Record<string, unknown> = { 'job-id': opts.jobId, device: opts.device, target: node, sync: opts.sync, 'copy-mode': opts.copyMode };
    if (opts.speed) args.speed = opts.speed;
    await qmp.execute('blockdev-mirror', args);
  } catch (e) {
    await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
    throw e;
  }
  const job = (await queryBlockJobs(qmp)).find((j) => j.jobId === opts.jobId);
  // A tiny disk can be mirrored and the job gone before the query (auto-dismiss); report it ready.
  return job ?? { jobId: opts.jobId, type: 'mirror', status: 'ready', ready: true, offset: 0, len: 0, speed: 0 };
}

/** Removes a mirror's NBD target node if it is still there (after the job ended without pivot). */
export async function dropMirrorTarget(qmp: QmpClient, jobId: string): Promise<void> {
  const node = mirrorTargetNode(jobId);
  if (await nodeExists(qmp, node)) await qmp.execute('blockdev-del', { 'node-name': node });
}

/**
 * Ensures a backup job `opts.jobId` from disk `opts.device` to an NBD export: adds the target
 * node `opts.targetNode` unless it exists, then runs `blockdev-backup` (a full copy with a
 * bitmap: one `transaction` with `block-dirty-bitmap-add`, so both happen or neither). A node
 * this call added goes again when the backup is refused. A live job of that id is returned.
 */
export async function ensureBackup(qmp: QmpClient, opts: BackupOptions): Promise<BlockJobInfo> {
  const existing = (await queryBlockJobs(qmp)).find((j) => j.jobId === opts.jobId);
  if (existing) return existing;
  let added = false;
  if (!(await nodeExists(qmp, opts.targetNode))) {
    await qmp.execute('blockdev-add', {
      driver: 'nbd',
      'node-name': opts.targetNode,
      server: { type: 'inet', host: opts.target.host, port: String(opts.target.port) },
      export: opts.target.export,
    });
    added = true;
  }
  const args: Record<string, unknown> = { 'job-id': opts.jobId, device: opts.device, target: opts.targetNode, sync: opts.sync };
  if (opts.sync === 'incremental') args.bitmap = opts.bitmap;
  if (opts.speed) args.speed = opts.speed;
  try {
    if (opts.sync === 'full' && opts.bitmap) {
      await qmp.execute('transaction', {
        actions: [
          { type: 'block-dirty-bitmap-add', data: { node: opts.device, name: opts.bitmap } },
          { type: 'blockdev-backup', data: args },
        ],
      });
    } else {
      await qmp.execute('blockdev-backup', args);
    }
  } catch (e) {
    if (added) await qmp.execute('blockdev-del', { 'node-name': opts.targetNode }).catch(() => undefined);
    throw e;
  }
  const job = (await queryBlockJobs(qmp)).find((j) => j.jobId === opts.jobId);
  // Nothing to copy (a clean incremental round) ends before the query: report it done.
  return job ?? { jobId: opts.jobId, type: 'backup', status: 'concluded', ready: false, offset: 0, len: 0, speed: 0 };
}

/** The dirty bitmaps of node `device` (named ones; anonymous ones too with `includeAnonymous`). */
export async function queryDirtyBitmaps(qmp: QmpClient, device: string, includeAnonymous = false): Promise<DirtyBitmapInfo[]> {
  return toDirtyBitmaps(await qmp.execute<Record<string, unknown>[]>('query-named-block-nodes', { flat: true }), device, includeAnonymous);
}

/** Removes a dirty bitmap when it exists. */
export async function removeDirtyBitmap(qmp: QmpClient, device: string, name: string): Promise<void> {
  if (!(await queryDirtyBitmaps(qmp, device)).some((b) => b.name === name)) return;
  await qmp.execute('block-dirty-bitmap-remove', { node: device, name });
}

/** Removes a block node when it exists. */
export async function removeNode(qmp: QmpClient, node: string): Promise<void> {
  if (await nodeExists(qmp, node)) await qmp.execute('blockdev-del', { 'node-name': node });
}

/**
 * Ensures an NBD server on `opts.host:opts.port` and one export per entry (export id
 * `exp-<name>`). An already running server (e.g. after re-adoption) is accepted.
 */
export async function ensureNbdExports(qmp: QmpClient, opts: NbdExportOptions): Promise<void> {
  let started = false;
  try {
    await qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: opts.host, port: String(opts.port) } } });
    started = true;
  } catch (e) {
    if (!(e instanceof HvCommandError && /already running/i.test(e.desc))) throw e;
  }
  try {
    const live = await qmp.execute<{ id: string }[]>('query-block-exports');
    for (const ex of opts.exports) {
      const id = `exp-${ex.name}`;
      if (live.some((l) => l.id === id)) continue;
      await qmp.execute('block-export-add', { type: 'nbd', id, 'node-name': ex.device, name: ex.name, writable: ex.writable });
    }
  } catch (e) {
    // All or nothing: a server this call started goes again when an export is refused.
    if (started) await stopNbd(qmp).catch(() => undefined);
    throw e;
  }
}

/** Stops the NBD server (and with it every export); a server that is not running is fine. */
export async function stopNbd(qmp: QmpClient): Promise<void> {
  try {
    await qmp.execute('nbd-server-stop');
  } catch (e) {
    if (!(e instanceof HvCommandError && /not running/i.test(e.desc))) throw e;
  }
}

/** Plugs the next free vCPU slot. */
export async function plugVcpu(qmp: QmpClient, vmId: string): Promise<HotAddResult> {
  const slots = await qmp.execute<CpuSlot[]>('query-hotpluggable-cpus');
  const slot = pickFreeCpuSlot(slots);
  if (!slot) throw new HotplugError(vmId, 'hotAddVcpu', `no free vCPU slot: all ${slots.length} are plugged (vcpus.max)`);
  const deviceId = cpuDeviceId(slot);
  try {
    await qmp.execute('device_add', { driver: slot.type, id: deviceId, ...slot.props });
  } catch (e) {
    if (isHypervisorError(e, 'HV_COMMAND_FAILED')) throw new HotplugError(vmId, 'hotAddVcpu', (e as HvCommandError).desc, e);
    throw e;
  }
  return { deviceId, ...(await readSize(qmp)) };
}

/** Plugs a DIMM of `sizeMiB` (`memory-backend-ram` + `pc-dimm`), undoing the backend when the DIMM is refused. */
export async function plugMemory(qmp: QmpClient, spec: VmSpec, sizeMiB: number): Promise<HotAddResult> {
  const vmId = spec.id;
  if (!Number.isInteger(sizeMiB) || sizeMiB <= 0) throw new HotplugError(vmId, 'hotAddMemory', `size must be a positive whole number of MiB, got ${sizeMiB}`);
  if (spec.memory.slots === 0) throw new HotplugError(vmId, 'hotAddMemory', 'the VM has no memory slots (memory.slots = 0)');
  const devices = await qmp.execute<{ data?: { id?: string } }[]>('query-memory-devices');
  const used = new Set(devices.map((d) => d.data?.id));
  let n = 0;
  while (used.has(`dimm${n}`)) n++;
  const deviceId = `dimm${n}`;
  const backend = `mem${n}`;
  try {
    await qmp.execute('object-add', { 'qom-type': 'memory-backend-ram', id: backend, size: sizeMiB * MiB });
    try {
      await qmp.execute('device_add', { driver: 'pc-dimm', id: deviceId, memdev: backend });
    } catch (e) {
      await qmp.execute('object-del', { id: backend }).catch(() => undefined);
      throw e;
    }
  } catch (e) {
    if (isHypervisorError(e, 'HV_COMMAND_FAILED')) throw new HotplugError(vmId, 'hotAddMemory', (e as HvCommandError).desc, e);
    throw e;
  }
  return { deviceId, ...(await readSize(qmp)) };
}

/** Hot-plugs a disk: `blockdev-add` then `device_add virtio-blk-pci` on `bus`, undoing the node when the device is refused. */
export async function plugDisk(qmp: QmpClient, vmId: string, disk: DiskSpec, bus: string): Promise<void> {
  if (disk.kind === 'file' && disk.snapshot) throw new HotplugError(vmId, 'attachDisk', 'snapshot disks cannot be hot-plugged');
  const node =
    disk.kind === 'nbd'
      ? { driver: 'nbd', 'node-name': disk.id, server: { type: 'inet', host: disk.host, port: String(disk.port) }, export: disk.export, 'read-only': disk.readOnly }
      : { driver: disk.format, 'node-name': disk.id, file: { driver: 'file', filename: disk.path }, 'read-only': disk.readOnly };
  await qmp.execute('blockdev-add', node);
  try {
    await qmp.execute('device_add', { driver: 'virtio-blk-pci', drive: disk.id, id: `${disk.id}-dev`, bus, serial: disk.id });
  } catch (e) {
    await qmp.execute('blockdev-del', { 'node-name': disk.id }).catch(() => undefined);
    throw e;
  }
}
