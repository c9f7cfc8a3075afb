/**
 * Point-in-time exports inside a running qemu-storage-daemon, by fleecing (PLATFORM.md
 * "Point-in-time copy"): a blank qcow2 overlay whose backing is the target node, a
 * `blockdev-backup sync=none` from the target into it (QEMU then copies every block aside
 * before the live export overwrites it), and a read-only NBD export of the overlay on the
 * daemon's NBD server. Nothing pauses the live export: set-up is a few QMP round trips.
 *
 * Each function works on a connected {@link QmpClient} and is idempotent, so a retry (or the
 * clean-up after an agent crash) picks up whatever part exists.
 */
import type { Clock } from '../../core/clock.js';
import { QmpTimeoutError } from '../../hypervisor/errors.js';
import type { QmpClient, QmpEvent } from '../../hypervisor/qemu/qmp-client.js';
import { pitNames, TARGET_NODE } from './layout.js';

/** Waits for the first event matching `pred` (subscribe BEFORE issuing the command that causes it). */
export function eventWaiter(q: QmpClient, pred: (ev: QmpEvent) => boolean, clock: Clock, timeoutMs: number, what: string): { done: Promise<QmpEvent>; cancel: () => void } {
  const stop = new AbortController();
  let off: () => void = () => undefined;
  const done = new Promise<QmpEvent>((resolve, reject) => {
    off = q.onEvent((ev) => {
      stop.abort();
      off();
      resolve(ev);
    }, pred);
    clock.sleep(timeoutMs, stop.signal).then(
      () => {
        off();
        reject(new QmpTimeoutError(what, timeoutMs));
      },
      () => undefined,
    );
  });
  done.catch(() => undefined);
  return {
    done,
    cancel: () => {
      stop.abort();
      off();
    },
  };
}

/** What exists of the daemon's point-in-time objects, by name. */
export interface FleeceInventory {
  exports: Set<string>;
  jobs: Set<string>;
  nodes: Set<string>;
}

/** Reads the daemon's exports, block jobs and nodes, keyed by point-in-time name. */
export async function fleeceInventory(q: QmpClient): Promise<FleeceInventory> {
  const exps = await q.execute<{ id: string }[]>('query-block-exports');
  const jobs = await q.execute<{ device: string }[]>('query-block-jobs');
  const nodes = await q.execute<{ 'node-name'?: string }[]>('query-named-block-nodes', { flat: true });
  const pick = (xs: (string | undefined)[], prefix: string) => new Set(xs.filter((x): x is string => !!x && x.startsWith(prefix)).map((x) => x.slice(prefix.length)));
  return {
    exports: pick(exps.map((e) => e.id), 'pitexp-'),
    jobs: pick(jobs.map((j) => j.device), 'pitjob-'),
    nodes: pick(nodes.map((n) => n['node-name']), 'pit-'),
  };
}

/**
 * Ensures point-in-time export `name`: overlay node (the blank qcow2 `overlay` must exist),
 * the fleecing backup job, the read-only export `exportName`. Returns true when it set
 * something up, false when the export already existed.
 */
export async function ensureFleece(q: QmpClient, opts: { name: string; overlay: string; exportName: string }): Promise<boolean> {
  const { node, job, exportId } = pitNames(opts.name);
  const inv = await fleeceInventory(q);
  if (inv.exports.has(opts.name)) return false;
  if (!inv.nodes.has(opts.name)) {
    await q.execute('blockdev-add', { driver: 'qcow2', 'node-name': node, file: { driver: 'file', filename: opts.overlay }, backing: TARGET_NODE });
  }
  if (!inv.jobs.has(opts.name)) {
    await q.execute('blockdev-backup', { 'job-id': job, device: TARGET_NODE, target: node, sync: 'none' });
  }
  await q.execute('block-export-add', { type: 'nbd', id: exportId, 'node-name': node, name: opts.exportName, writable: false });
  return true;
}

/**
 * Ends point-in-time export `name`: drops its export (and any reader still connected), cancels
 * the fleecing job (the live target is left exactly as the writes made it), deletes the
 * overlay node. The overlay file is the caller's to delete.
 */
export async function releaseFleece(q: QmpClient, name: string, clock: Clock, timeoutMs = 10_000): Promise<void> {
  const { node, job, exportId } = pitNames(name);
  const inv = await fleeceInventory(q);
  if (inv.exports.has(name)) {
    const w = eventWaiter(q, (e) => e.event === 'BLOCK_EXPORT_DELETED' && e.data.id === exportId, clock, timeoutMs, `BLOCK_EXPORT_DELETED ${exportId}`);
    try {
      await q.execute('block-export-del', { id: exportId, mode: 'hard' });
    } catch (e) {
      w.cancel();
      throw e;
    }
    await w.done;
  }
  if (inv.jobs.has(name)) {
    const w = eventWaiter(q, (e) => (e.event === 'BLOCK_JOB_CANCELLED' || e.event === 'BLOCK_JOB_COMPLETED') && e.data.device === job, clock, timeoutMs, `end of ${job}`);
    try {
      await q.execute('block-job-cancel', { device: job, force: true });
    } catch (e) {
      w.cancel();
      throw e;
    }
    await w.done;
  }
  if (inv.nodes.has(name)) await q.execute('blockdev-del', { 'node-name': node });
}
