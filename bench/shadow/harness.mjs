// @ts-check
/**
 * The shadow benchmark (npm run bench:shadow): the replication data path of issue 4 on real
 * parts, all built code from dist/. One host agent (`Agent`, QEMU driver, TCG) talking to a
 * protocol stand-in server; one lab guest at a time as the primary; the replication target a
 * `qemu-storage-daemon` exporting a raw file over NBD on 127.0.0.1. Replication is driven only
 * through the agent's HTTP API (src/api/shadow-protocol.ts). Measures:
 *
 *  1. initial sync: PUT replication → state `ready`, wall time and the agent's
 *     `initialCopyBytesPerSec`, to a new blank target each run, for the default 64 MiB disk the
 *     guest formatted, a larger disk the guest formatted, and a larger disk mostly full of data;
 *  2. guest write throughput (POST /append, fsync'ed in the guest) with no mirror, `sync`,
 *     `async` and `periodic` replication, modes rotated round by round; ratios to no mirror;
 *  3. replication lag (GET replication every --poll-ms) under that load;
 *  4. periodic rounds (interval --periodic-interval s) under that load: round durations;
 *  4b. an independent lag check: ack of an append → its bytes readable in the target file;
 *  5. verification: quiesce → primary digest (agent route) and target digest (the raw file,
 *     src/storage/digest.ts's digestFile), concurrently → unquiesce; pause and catch-up.
 * Writes bench/results/shadow.md and shadow.json.
 *
 * Usage: node bench/shadow/harness.mjs [--sync-runs 5] [--large-sync-runs 3] [--large-mib 512]
 *          [--fill-pct 75] [--rounds 5] [--load-s 10] [--clients 4] [--line-bytes 4095]
 *          [--poll-ms 100] [--periodic-interval 1] [--verify-runs 10] [--verify-large-runs 3]
 *          [--probe-s 8] [--out DIR] [--keep]
 *
 * One VM QEMU and one storage daemon are alive at a time. Every QEMU (by the pid in its run
 * dir) and the daemon (by its pid) is killed in `finally` and on SIGINT/SIGTERM; the temp dir
 * goes unless --keep.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildImage } from '../../dist/guest/index.js';
import { digestFile } from '../../dist/storage/digest.js';
import { describeMachine, loadNow } from '../vm/machine.mjs';
import { allocatedBytes, makeFilledDisk } from './filled-disk.mjs';
import { appendLoad, pollEvery } from './load.mjs';
import { renderReport } from './report.mjs';
import { Rig } from './rig.mjs';
import { distribution, pairedRatios, summarize } from './stats.mjs';
import { TargetProbe } from './target-probe.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const MiB = 1024 * 1024;
const DEFAULT_DISK_MIB = 64; // the AgentVmSpec default
const HEALTH_TIMEOUT_MS = 180_000;
/** Write-load modes: `none` is the baseline. */
const MODES = /** @type {const} */ (['none', 'sync', 'async', 'periodic']);

/** @typedef {typeof MODES[number]} LoadMode */
/** @typedef {import('../../dist/api/shadow-protocol.js').ReplicationStatus} ReplicationStatus */
/** @typedef {import('./report.mjs').ShadowBenchResult} ShadowBenchResult */

/** @param {string} msg */
const log = (msg) => process.stderr.write(`[bench:shadow] ${msg}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      'sync-runs': { type: 'string', default: '5' },
      'large-sync-runs': { type: 'string', default: '3' },
      'large-mib': { type: 'string', default: '512' },
      'fill-pct': { type: 'string', default: '75' },
      rounds: { type: 'string', default: '5' },
      'load-s': { type: 'string', default: '10' },
      clients: { type: 'string', default: '4' },
      'line-bytes': { type: 'string', default: '4095' },
      'poll-ms': { type: 'string', default: '100' },
      'periodic-interval': { type: 'string', default: '1' },
      'verify-runs': { type: 'string', default: '10' },
      'verify-large-runs': { type: 'string', default: '3' },
      'probe-s': { type: 'string', default: '8' },
      out: { type: 'string', default: join(REPO, 'bench', 'results') },
      keep: { type: 'boolean', default: false },
    },
  });
  const int = (/** @type {string} */ name, /** @type {string} */ v, /** @type {number} */ min, /** @type {number} */ max = Number.MAX_SAFE_INTEGER) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be a whole number in [${min}, ${max}], got ${v}`);
    return n;
  };
  return {
    syncRuns: int('sync-runs', values['sync-runs'], 1),
    largeSyncRuns: int('large-sync-runs', values['large-sync-runs'], 0),
    largeMiB: int('large-mib', values['large-mib'], 128),
    fillPct: int('fill-pct', values['fill-pct'], 10, 85),
    rounds: int('rounds', values.rounds, 1),
    loadS: int('load-s', values['load-s'], 1),
    clients: int('clients', values.clients, 1, 64),
    lineBytes: int('line-bytes', values['line-bytes'], 1, 4096),
    pollMs: int('poll-ms', values['poll-ms'], 10),
    periodicIntervalS: int('periodic-interval', values['periodic-interval'], 1),
    verifyRuns: int('verify-runs', values['verify-runs'], 1),
    verifyLargeRuns: int('verify-large-runs', values['verify-large-runs'], 0),
    probeS: int('probe-s', values['probe-s'], 0),
    out: resolve(values.out),
    keep: values.keep,
  };
}

/**
 * Boots VM `id` through the agent (PUT /v1/vms/:id) and waits for its /health.
 * @param {Rig} rig
 * @param {{ kernel: string, initrd: string }} image
 * @param {string} id
 * @param {number} dataDiskMiB
 * @returns {Promise<{ endpoint: string, bootMs: number }>}
 */
async function bootVm(rig, image, id, dataDiskMiB) {
  const t0 = performance.now();
  const vm = await rig.must(200, 'PUT', `/v1/vms/${id}`, { kernel: image.kernel, initrd: image.initrd, dataDiskMiB });
  const endpoint = /** @type {string} */ (vm.endpoint);
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {
      // not yet
    }
    if (performance.now() - t0 > HEALTH_TIMEOUT_MS) throw new Error(`VM ${id}: /health not 200 within ${HEALTH_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
  return { endpoint, bootMs: performance.now() - t0 };
}

/**
 * Ensures the VM's replication in `mode` (none: removed) and waits until it is ready.
 * @param {Rig} rig
 * @param {string} vmId
 * @param {LoadMode} mode
 * @param {{ host: string, port: number, export: string }} target
 * @param {number} intervalSeconds
 * @returns {Promise<ReplicationStatus | null>}
 */
async function ensureMode(rig, vmId, mode, target, intervalSeconds) {
  if (mode === 'none') {
    if (await rig.replication(vmId)) await rig.must(204, 'DELETE', `/v1/vms/${vmId}/replication`);
    return null;
  }
  const put = await rig.must(200, 'PUT', `/v1/vms/${vmId}/replication`, { shadowId: `${vmId}-s1`, target, mode, intervalSeconds });
  return rig.until(vmId, (s) => s.state === 'ready' && s.mode === mode && s.generation === put.generation, 300_000, `${mode} ready`);
}

/**
 * Initial copies to a new blank target each run: PUT replication (mode sync, idle guest) →
 * state ready.
 * @param {Rig} rig
 * @param {string} vmId
 * @param {number} sizeBytes
 * @param {number} runs
 * @param {string} targetFile
 */
async function initialSync(rig, vmId, sizeBytes, runs, targetFile) {
  /** @type {number[]} */ const wallMs = [];
  /** @type {number[]} */ const agentMiBps = [];
  /** @type {number[]} */ const wallMiBps = [];
  /** @type {number[]} */ const jobLenMiB = [];
  for (let i = 0; i < runs; i++) {
    if (await rig.replication(vmId)) await rig.must(204, 'DELETE', `/v1/vms/${vmId}/replication`);
    const target = await rig.freshTarget(targetFile, sizeBytes);
    const t0 = performance.now();
    await rig.must(200, 'PUT', `/v1/vms/${vmId}/replication`, { shadowId: `${vmId}-s1`, target, mode: 'sync' });
    const ready = await rig.until(vmId, (s) => s.state === 'ready', 300_000, 'initial copy ready', 20);
    const ms = performance.now() - t0;
    wallMs.push(ms);
    wallMiBps.push(sizeBytes / MiB / (ms / 1000));
    agentMiBps.push((ready.initialCopyBytesPerSec ?? NaN) / MiB);
    jobLenMiB.push(ready.len / MiB);
    log(`  initial copy ${i + 1}/${runs}: ${ms.toFixed(0)} ms wall, agent ${agentMiBps[i].toFixed(1)} MiB/s (job len ${jobLenMiB[i].toFixed(1)} MiB)`);
  }
  await rig.must(204, 'DELETE', `/v1/vms/${vmId}/replication`);
  return { wallMs: summarize(wallMs), wallMiBps: summarize(wallMiBps), agentMiBps: summarize(agentMiBps), jobLenMiB: summarize(jobLenMiB) };
}

/**
 * Verification runs under a light write load: quiesce → both digests at once → unquiesce.
 * @param {Rig} rig
 * @param {string} vmId
 * @param {string} endpoint
 * @param {number} sizeBytes
 * @param {number} runs
 * @param {{ lineBytes: number }} o
 */
async function verification(rig, vmId, endpoint, sizeBytes, runs, o) {
  /** @type {number[]} */ const pauseMs = [];
  /** @type {number[]} */ const catchUpMs = [];
  /** @type {number[]} */ const primaryDigestMs = [];
  /** @type {number[]} */ const targetDigestMs = [];
  let equal = 0;
  let caughtUp = 0;
  const stopLoad = new AbortController();
  const load = appendLoad({ endpoint, clients: 2, durationMs: 3_600_000, lineBytes: o.lineBytes, timeoutMs: 120_000, signal: stopLoad.signal });
  try {
    await sleep(1000);
    for (let i = 0; i < runs; i++) {
      const q = await rig.must(200, 'POST', `/v1/vms/${vmId}/quiesce`, { maxPauseMs: 60_000 });
      const [primary, target] = await Promise.all([rig.must(200, 'GET', `/v1/vms/${vmId}/disk-digest`), digestFile(/** @type {string} */ (rig.targetFile), sizeBytes)]);
      const u = await rig.must(200, 'POST', `/v1/vms/${vmId}/unquiesce`);
      pauseMs.push(u.pauseMs);
      catchUpMs.push(q.catchUpMs);
      primaryDigestMs.push(primary.ms);
      targetDigestMs.push(target.ms);
      if (q.caughtUp) caughtUp++;
      if (primary.digest === target.digest) equal++;
      else log(`  run ${i + 1}: digests differ (${primary.chunks.filter((/** @type {string} */ c, /** @type {number} */ k) => c !== target.chunks[k]).length} chunks)`);
      log(`  verify ${i + 1}/${runs}: pause ${u.pauseMs} ms, catch-up ${q.catchUpMs} ms, digests ${primary.ms}/${target.ms} ms, ${primary.digest === target.digest ? 'equal' : 'DIFFERENT'}`);
      await sleep(1000);
    }
  } finally {
    stopLoad.abort();
  }
  const l = await load;
  return {
    runs,
    pauseMs: summarize(pauseMs),
    pauseDist: distribution(pauseMs),
    catchUpMs: summarize(catchUpMs),
    catchUpDist: distribution(catchUpMs),
    primaryDigestMs: summarize(primaryDigestMs),
    targetDigestMs: summarize(targetDigestMs),
    equal,
    caughtUp,
    appendsDuring: l.ok,
    appendFailures: l.failed,
  };
}

/**
 * One load window in one mode: the append load with the poller beside it.
 * @param {Rig} rig
 * @param {string} vmId
 * @param {string} endpoint
 * @param {LoadMode} mode
 * @param {ReturnType<typeof options>} o
 */
async function loadWindow(rig, vmId, endpoint, mode, o) {
  // The same polling in every mode (QMP and agent work that the guest's QEMU shares): the
  // replication status, or in `none` the VM's status.
  const poller = pollEvery(async () => {
    const t = performance.now();
    if (mode === 'none') {
      await rig.must(200, 'GET', `/v1/vms/${vmId}`);
      return { t, state: 'none', generation: 0, lagBytes: 0, lagSeconds: 0, rounds: 0, lastRoundAt: null, lastRoundMs: null, failures: 0 };
    }
    const s = /** @type {ReplicationStatus} */ (await rig.replication(vmId));
    return { t, state: s.state, generation: s.generation, lagBytes: s.lagBytes, lagSeconds: s.lagSeconds, rounds: s.rounds, lastRoundAt: s.lastRoundAt, lastRoundMs: s.lastRoundMs, failures: s.failures };
  }, o.pollMs);
  const load = await appendLoad({ endpoint, clients: o.clients, durationMs: o.loadS * 1000, lineBytes: o.lineBytes });
  const polled = await poller.stop();
  return { load, samples: polled.values, pollFailures: polled.failures };
}

/**
 * The independent lag check (target-probe.mjs) in one mode: the same append load; every
 * ~200 ms the next acknowledged line is looked for in the target's raw file until found.
 * The first probe of a window (which also locates the log in the file) is not counted.
 * @param {string} targetFile
 * @param {number} sizeBytes
 * @param {string} endpoint
 * @param {string} tag  unique per window (line heads must not repeat in the log)
 * @param {ReturnType<typeof options>} o
 */
async function probeWindow(targetFile, sizeBytes, endpoint, tag, o) {
  const probe = new TargetProbe(targetFile, sizeBytes);
  await probe.open();
  /** @type {((a: { head: string, at: number }) => void) | null} */
  let waiter = null;
  const onAck = (/** @type {string} */ head, /** @type {number} */ at) => {
    const w = waiter;
    waiter = null;
    w?.({ head, at });
  };
  /** @type {number[]} */ const delayMs = [];
  let firstLook = 0;
  let timeouts = 0;
  let probes = 0;
  const durationMs = o.probeS * 1000;
  try {
    const load = appendLoad({ endpoint, clients: o.clients, durationMs, lineBytes: o.lineBytes, tag, onAck });
    const end = performance.now() + durationMs - 300;
    while (performance.now() < end) {
      const ack = await Promise.race([new Promise((r) => (waiter = r)), sleep(2000).then(() => null)]);
      if (!ack) continue;
      const got = await probe.waitFor(Buffer.from(ack.head), ack.at, 15_000);
      if (probes++ > 0) {
        if (got) {
          delayMs.push(got.delayMs);
          if (got.looks === 1) firstLook++;
        } else timeouts++;
      }
      await sleep(200);
    }
    waiter = null;
    const l = await load;
    return { probes: delayMs.length + timeouts, delayMs: delayMs.length ? distribution(delayMs) : null, firstLookPct: (100 * firstLook) / Math.max(1, delayMs.length), timeouts, appendsPerSec: l.ok / (l.elapsedMs / 1000) };
  } finally {
    await probe.close();
  }
}

async function main() {
  const o = options();
  const machine = describeMachine(new Date());
  const tStart = performance.now();
  log(`${machine.nproc} cores (${machine.cpuModel}), load ${machine.loadStart.join(' ')}`);
  const image = await buildImage({ onProgress: (p) => log(`image: ${p.message}`) });
  log(`guest image ${image.hash}${image.cached ? ' (cached)' : ''}`);

  const tmp = mkdtempSync(join(tmpdir(), 'ubs-')); // short: QMP socket paths stay < 108 bytes
  const runDir = join(tmp, 'r');
  mkdirSync(runDir);
  /** @type {Rig | null} */
  let rig = null;
  const onSignal = () => {
    rig?.killAllSync();
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  /** @type {Partial<ShadowBenchResult>} */
  const res = {};
  try {
    rig = await Rig.start(runDir);
    const r = rig;
    const largeBytes = o.largeMiB * MiB;

    // --- A: the default 64 MiB disk, formatted by the guest ---
    log(`VM a (${DEFAULT_DISK_MIB} MiB data disk, blank: the guest formats it)`);
    const a = await bootVm(r, image, 'a', DEFAULT_DISK_MIB);
    log(`  booted in ${a.bootMs.toFixed(0)} ms`);
    const aAllocated = allocatedBytes(join(runDir, 'disks', 'a.qcow2')); // what the initial copies read
    const syncA = await initialSync(r, 'a', DEFAULT_DISK_MIB * MiB, o.syncRuns, join(tmp, 'ta.raw'));
    const aTarget = await r.freshTarget(join(tmp, 'ta.raw'), DEFAULT_DISK_MIB * MiB);
    /** @type {Record<string, any>} */
    const verify = {};
    for (const mode of /** @type {const} */ (['async', 'sync'])) {
      await ensureMode(r, 'a', mode, aTarget, o.periodicIntervalS);
      log(`verification, ${DEFAULT_DISK_MIB} MiB disk, ${mode} mirror, under load`);
      verify[mode] = await verification(r, 'a', a.endpoint, DEFAULT_DISK_MIB * MiB, mode === 'async' ? o.verifyRuns : Math.max(1, Math.ceil(o.verifyRuns / 2)), o);
    }
    await ensureMode(r, 'a', 'none', aTarget, 1);
    await r.must(204, 'DELETE', '/v1/vms/a');
    await r.stopTarget();

    // --- B: a larger disk, formatted by the guest: write throughput, lag, periodic rounds ---
    log(`VM b (${o.largeMiB} MiB data disk, blank: the guest formats it)`);
    const b = await bootVm(r, image, 'b', o.largeMiB);
    log(`  booted in ${b.bootMs.toFixed(0)} ms`);
    const bAllocated = allocatedBytes(join(runDir, 'disks', 'b.qcow2'));
    const syncB = o.largeSyncRuns > 0 ? await initialSync(r, 'b', largeBytes, o.largeSyncRuns, join(tmp, 'tb.raw')) : null;
    const bTarget = await r.freshTarget(join(tmp, 'tb.raw'), largeBytes);
    /** @type {{ round: number, mode: LoadMode, appendsPerSec: number, kibPerSec: number, ok: number, failed: number, latencyMs: import('./stats.mjs').Distribution, samples: any[] }[]} */
    const windows = [];
    for (let round = 0; round < o.rounds; round++) {
      const order = MODES.map((_, k) => MODES[(k + round) % MODES.length]);
      for (const mode of order) {
        await ensureMode(r, 'b', mode, bTarget, o.periodicIntervalS);
        await sleep(1000);
        const w = await loadWindow(r, 'b', b.endpoint, mode, o);
        const secs = w.load.elapsedMs / 1000;
        windows.push({
          round,
          mode,
          appendsPerSec: w.load.ok / secs,
          kibPerSec: w.load.bytes / 1024 / secs,
          ok: w.load.ok,
          failed: w.load.failed,
          latencyMs: distribution(w.load.latencyMs.length ? w.load.latencyMs : [NaN]),
          samples: w.samples,
        });
        const last = windows[windows.length - 1];
        log(`  round ${round + 1}/${o.rounds} ${mode}: ${last.appendsPerSec.toFixed(1)} appends/s, ${last.kibPerSec.toFixed(0)} KiB/s, p50 ${last.latencyMs.p50.toFixed(1)} ms, ${w.samples.length} polls${w.load.failed ? `, ${w.load.failed} failed: ${w.load.errors.join('; ')}` : ''}`);
      }
    }
    /** @type {Record<string, any>} */
    const probes = {};
    if (o.probeS > 0) {
      for (const mode of /** @type {const} */ (['sync', 'async', 'periodic'])) {
        await ensureMode(r, 'b', mode, bTarget, o.periodicIntervalS);
        await sleep(1000);
        probes[mode] = await probeWindow(/** @type {string} */ (r.targetFile), largeBytes, b.endpoint, `p${mode[0]}${process.pid}`, o);
        const p = probes[mode];
        log(`  probe ${mode}: ${p.probes} lines, ack → in target file p50 ${p.delayMs?.p50.toFixed(1)} ms, max ${p.delayMs?.max.toFixed(1)} ms, first look ${p.firstLookPct.toFixed(0)} %, ${p.timeouts} timeouts`);
      }
    }
    const verifyLarge = o.verifyLargeRuns > 0 ? (await ensureMode(r, 'b', 'async', bTarget, 1), log(`verification, ${o.largeMiB} MiB disk, async mirror, under load`), await verification(r, 'b', b.endpoint, largeBytes, o.verifyLargeRuns, o)) : null;
    await ensureMode(r, 'b', 'none', bTarget, 1);
    await r.must(204, 'DELETE', '/v1/vms/b');
    await r.stopTarget();

    // --- C: a larger disk mostly full of data (made on the host) ---
    /** @type {any} */
    let syncC = null;
    let cAllocated = 0;
    let cBootMs = 0;
    if (o.largeSyncRuns > 0) {
      const fillMiB = Math.floor((o.largeMiB * o.fillPct) / 100);
      log(`VM c (${o.largeMiB} MiB data disk holding a ${fillMiB} MiB file of random bytes)`);
      mkdirSync(join(runDir, 'disks'), { recursive: true });
      const cDisk = join(runDir, 'disks', 'c.qcow2');
      makeFilledDisk(cDisk, o.largeMiB, fillMiB, join(tmp, 'fill'));
      cAllocated = allocatedBytes(cDisk);
      const c = await bootVm(r, image, 'c', o.largeMiB);
      cBootMs = c.bootMs;
      log(`  booted in ${c.bootMs.toFixed(0)} ms; ${(cAllocated / MiB).toFixed(0)} MiB allocated`);
      syncC = await initialSync(r, 'c', largeBytes, o.largeSyncRuns, join(tmp, 'tc.raw'));
      await r.must(204, 'DELETE', '/v1/vms/c');
      await r.stopTarget();
    }

    // --- summaries ---
    const byMode = (/** @type {LoadMode} */ m) => windows.filter((w) => w.mode === m);
    const perRound = (/** @type {LoadMode} */ m, /** @type {'appendsPerSec' | 'kibPerSec'} */ k) => Array.from({ length: o.rounds }, (_, i) => windows.find((w) => w.mode === m && w.round === i)?.[k]);
    const writes = Object.fromEntries(
      MODES.map((m) => {
        const ws = byMode(m);
        const lat = ws.flatMap((w) => [w.latencyMs.p50]);
        return [
          m,
          {
            appendsPerSec: summarize(ws.map((w) => w.appendsPerSec)),
            kibPerSec: summarize(ws.map((w) => w.kibPerSec)),
            latencyP50Ms: summarize(lat),
            latencyP99Ms: summarize(ws.map((w) => w.latencyMs.p99)),
            ratioToNone: m === 'none' ? null : summarize(pairedRatios(perRound(m, 'appendsPerSec'), perRound('none', 'appendsPerSec'))),
            failed: ws.reduce((s, w) => s + w.failed, 0),
          },
        ];
      }),
    );
    const lagOf = (/** @type {LoadMode} */ m) => {
      const s = byMode(m).flatMap((w) => w.samples);
      const ready = s.filter((x) => x.state === 'ready');
      return {
        polls: s.length,
        notReady: s.length - ready.length,
        lagSeconds: distribution(ready.map((x) => x.lagSeconds)),
        lagKiB: distribution(ready.map((x) => x.lagBytes / 1024)),
        behindPct: (100 * ready.filter((x) => x.lagBytes > 0).length) / Math.max(1, ready.length),
        failures: Math.max(0, ...s.map((x) => x.failures)),
      };
    };
    // Periodic rounds: each distinct (lastRoundAt, lastRoundMs) seen while the load ran.
    const roundMs = [];
    for (const w of byMode('periodic')) {
      const seen = new Set();
      for (const x of w.samples) {
        if (x.lastRoundAt === null || x.lastRoundMs === null || seen.has(x.lastRoundAt)) continue;
        seen.add(x.lastRoundAt);
        roundMs.push(x.lastRoundMs);
      }
    }

    Object.assign(res, {
      initialSync: {
        small: { diskMiB: DEFAULT_DISK_MIB, kind: 'blank, formatted by the guest', allocatedMiB: aAllocated / MiB, bootMs: a.bootMs, ...syncA },
        large: syncB ? { diskMiB: o.largeMiB, kind: 'blank, formatted by the guest', allocatedMiB: bAllocated / MiB, bootMs: b.bootMs, ...syncB } : null,
        filled: syncC ? { diskMiB: o.largeMiB, kind: `holding a ${Math.floor((o.largeMiB * o.fillPct) / 100)} MiB file of random bytes (ext4 made on the host)`, allocatedMiB: cAllocated / MiB, bootMs: cBootMs, ...syncC } : null,
      },
      writes,
      lag: { sync: lagOf('sync'), async: lagOf('async'), periodic: lagOf('periodic') },
      periodic: { intervalS: o.periodicIntervalS, roundMs: roundMs.length ? distribution(roundMs) : null, rounds: roundMs.length },
      verification: { small: { diskMiB: DEFAULT_DISK_MIB, async: verify.async, sync: verify.sync }, large: verifyLarge ? { diskMiB: o.largeMiB, async: verifyLarge } : null },
      probes,
      windows: windows.map(({ samples, ...w }) => ({ ...w, polls: samples.length, lag: samples.length && samples[0].state !== 'none' ? samples.map((x) => [Math.round(x.t - samples[0].t), x.lagBytes, x.lagSeconds]) : undefined })),
    });
  } finally {
    await rig?.close();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (o.keep) log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }

  machine.loadEnd = loadNow();
  /** @type {ShadowBenchResult} */
  const result = /** @type {ShadowBenchResult} */ ({
    machine,
    config: {
      accel: 'tcg (tb-size=32)',
      vm: '1 vCPU, -m 128, a qcow2 data disk (ext4), user networking with the service port forwarded (the agent\'s defaults)',
      target: 'qemu-storage-daemon exporting a raw file over NBD on 127.0.0.1 (page cache, no O_DIRECT)',
      syncRuns: o.syncRuns,
      largeSyncRuns: o.largeSyncRuns,
      largeMiB: o.largeMiB,
      fillPct: o.fillPct,
      rounds: o.rounds,
      loadS: o.loadS,
      clients: o.clients,
      lineBytes: o.lineBytes,
      pollMs: o.pollMs,
      periodicIntervalS: o.periodicIntervalS,
      verifyRuns: o.verifyRuns,
      verifyLargeRuns: o.verifyLargeRuns,
      probeS: o.probeS,
      totalS: Math.round((performance.now() - tStart) / 1000),
    },
    image: { hash: image.hash, kernelVersion: image.kernelVersion },
    ...res,
  });
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'shadow.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(o.out, 'shadow.md'), renderReport(result));
  log(`wrote ${join(o.out, 'shadow.md')} and shadow.json (${result.config.totalS} s)`);
}

main().catch((e) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
