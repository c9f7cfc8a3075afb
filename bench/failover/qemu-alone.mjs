// @ts-check
/**
 * The peer of the live-migration rows: the lab's guest, QEMU and accelerator (the VM spec an
 * agent gives a 1-vCPU, 128 MiB lab VM, started by Umbra's QEMU driver), live migrated by QEMU
 * alone: two processes on this host sharing the disk file, no controller, agent, HAProxy or
 * disk replication. Its client is ideal: it appends straight to the guest and moves to the
 * destination the moment the source's STOP event arrives, with no proxy in between; the
 * destination runs on a `cont` sent when its migration-completed event arrives. Its gap
 * (last good answer from the source → first good answer from the destination) is what this
 * QEMU under this accelerator costs whatever orchestrates it.
 *
 * The control: the same running guest paused (`stop`) and resumed (`cont`) for as long as its
 * last migration kept it stopped. Its gap is the pause plus a few ms; what a migration adds on
 * top is the destination's own start (under TCG: a fresh process translates the guest's code
 * again before the first answer).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../common/net.mjs';
import { epochMs, startAppender } from './client.mjs';
import { outage } from './measure.mjs';

const DIST = new URL('../../dist/', import.meta.url);

/**
 * @typedef {object} PeerRound
 * @property {'migration' | 'pause'} kind
 * @property {number | null} gapMs                 last good answer before → first good answer after
 * @property {number | null} stoppedMs             source STOP → destination RESUME (the pause: stop → cont)
 * @property {number | null} resumeToFirstGoodMs   RESUME (cont) → first good answer
 * @property {number} acked
 */

/**
 * Runs `rounds` migrations (each followed by a pause of the new source) and returns them.
 * @param {{ rounds: number, dir: string, log: (m: string) => void, onRound?: (r: PeerRound) => void }} o
 * @returns {Promise<{ accel: string, rounds: PeerRound[] }>}
 */
export async function qemuAlone(o) {
  const { QemuHypervisorDriver } = await import(new URL('hypervisor/index.js', DIST).href);
  const { buildImage, createDataDisk } = await import(new URL('guest/index.js', DIST).href);
  const { toVmSpec } = await import(new URL('agent/vm-spec.js', DIST).href);
  const image = await buildImage({});
  rmSync(o.dir, { recursive: true, force: true });
  mkdirSync(o.dir, { recursive: true });
  const driver = new QemuHypervisorDriver({ baseDir: o.dir });
  const disk = await createDataDisk(join(o.dir, 'data.qcow2'), 64);
  const shape = { vcpus: 1, maxVcpus: 4, memoryMiB: 128, maxMemoryMiB: 1024, kernel: image.kernel, initrd: image.initrd, dataDiskMiB: 64, labels: {} };
  /** @type {{ id: string, url: string }[]} */
  const made = [];
  const vm = async (/** @type {boolean} */ incoming) => {
    const id = `peer-${made.length}`;
    const port = await freePort();
    const spec = { ...toVmSpec({ ...shape, id }, { address: '127.0.0.1', servicePort: port, dataDisk: disk }), incoming };
    await driver.create(spec);
    await driver.start(id);
    const v = { id, url: `http://127.0.0.1:${port}` };
    made.push(v);
    return v;
  };
  /** @type {PeerRound[]} */
  const rounds = [];
  try {
    let src = await vm(false);
    const end = performance.now() + 120_000;
    while (!(await fetch(`${src.url}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false))) {
      if (performance.now() > end) throw new Error('the peer guest did not answer /health within 120 s');
      await sleep(200);
    }
    await sleep(3000); // settled, as the lab's primary is before a fault
    for (let i = 0; i < o.rounds; i++) {
      // A live migration: the client moves at the source's STOP.
      const dst = await vm(true);
      const mport = await freePort();
      await driver.migrateIncoming(dst.id, `tcp:127.0.0.1:${mport}`);
      // Resumed by `cont` on its completion event (a `cont` while incoming would take the disk's
      // write lock from the running source: both open the same file here).
      await driver.setMigrationCapabilities(dst.id, { events: true });
      await driver.setMigrationCapabilities(src.id, { events: true });
      let target = src.url;
      /** @type {number | null} */ let stopAt = null;
      /** @type {number | null} */ let resumeAt = null;
      const off = driver.subscribe((/** @type {{ vmId: string, type: string, atMs: number, data: Record<string, unknown> }} */ ev) => {
        if (ev.vmId === src.id && ev.type === 'STOP' && stopAt === null) {
          stopAt = ev.atMs;
          target = dst.url;
        }
        if (ev.vmId === dst.id && ev.type === 'RESUME' && resumeAt === null) resumeAt = ev.atMs;
        if (ev.vmId === dst.id && ev.type === 'MIGRATION' && ev.data.status === 'completed') {
          driver.cont(dst.id).catch((/** @type {unknown} */ e) => o.log(`QEMU alone: cont of the destination failed: ${e instanceof Error ? e.message : String(e)}`));
        }
      });
      const client = startAppender(() => target, { tag: `peer${i}`, maxInFlight: 64, timeoutMs: 5000 });
      await sleep(1000);
      await driver.migrate(src.id, `tcp:127.0.0.1:${mport}`);
      const until = performance.now() + 60_000;
      while (resumeAt === null && performance.now() < until) await sleep(50);
      if (resumeAt === null) {
        await client.stop();
        throw new Error(`migration ${i + 1}: the destination did not resume within 60 s (source ${JSON.stringify(await driver.queryMigration(src.id).catch(() => null))})`);
      }
      await sleep(1500);
      await client.stop();
      off();
      rounds.push(measured('migration', client.acks.map((a) => a.at), stopAt, resumeAt));
      o.onRound?.(/** @type {PeerRound} */ (rounds.at(-1)));
      o.log(`QEMU alone, migration ${i + 1}: ${fmt(rounds.at(-1))}`);
      await driver.kill(src.id).catch(() => undefined);
      await driver.remove(src.id).catch(() => undefined);
      src = dst;

      // The control: the new source paused for as long as the migration kept the guest stopped.
      await sleep(1000);
      const pauseMs = Math.max(50, Math.round(rounds.at(-1)?.stoppedMs ?? 100));
      const c2 = startAppender(src.url, { tag: `pause${i}`, maxInFlight: 64, timeoutMs: 5000 });
      await sleep(1000);
      const t0 = epochMs();
      await driver.stop(src.id);
      await sleep(pauseMs);
      const contAt = epochMs();
      await driver.cont(src.id);
      await sleep(1500);
      await c2.stop();
      rounds.push(measured('pause', c2.acks.map((a) => a.at), t0, contAt));
      o.onRound?.(/** @type {PeerRound} */ (rounds.at(-1)));
      o.log(`QEMU alone, stop/cont ${i + 1}: ${fmt(rounds.at(-1))}`);
    }
    return { accel: await driver.accel(), rounds };
  } finally {
    for (const v of made) await driver.kill(v.id).catch(() => undefined);
    await driver.close().catch(() => undefined);
    rmSync(o.dir, { recursive: true, force: true });
  }
}

/**
 * @param {'migration' | 'pause'} kind
 * @param {number[]} goodAt
 * @param {number | null} stopAt
 * @param {number | null} resumeAt
 * @returns {PeerRound}
 */
function measured(kind, goodAt, stopAt, resumeAt) {
  const out = stopAt === null ? null : outage(goodAt, stopAt, resumeAt === null ? null : resumeAt + 1000);
  const first = out?.firstGoodAfter ?? null;
  return {
    kind,
    gapMs: out?.gapMs ?? null,
    stoppedMs: stopAt !== null && resumeAt !== null ? resumeAt - stopAt : null,
    resumeToFirstGoodMs: first !== null && resumeAt !== null ? first - resumeAt : null,
    acked: goodAt.length,
  };
}

/** @param {PeerRound | undefined} r */
function fmt(r) {
  const ms = (/** @type {number | null | undefined} */ v) => (v == null ? '?' : `${Math.round(v)} ms`);
  return r ? `gap ${ms(r.gapMs)} (stopped ${ms(r.stoppedMs)}, then ${ms(r.resumeToFirstGoodMs)} to the first good answer)` : '?';
}
