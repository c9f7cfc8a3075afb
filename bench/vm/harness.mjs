// @ts-check
/**
 * The VM benchmark (npm run bench:vm): the lab guest on real QEMU under TCG, one VM at a time
 * then two at once. Measures create → /health (first boot with the data-disk format, and later
 * boots), RSS per VM at -m 128, and the agent's sampling CPU per VM against the idle QEMU's own
 * CPU. Writes bench/results/vm.md and vm.json.
 *
 * Usage: node bench/vm/harness.mjs [--runs 5] [--pair-runs 3] [--settle 5] [--idle 5]
 *          [--passes 20] [--gap-ms 250] [--out DIR] [--keep]
 *   --runs      boot runs (each: a first boot on a new disk, then a later boot on it), at least 2
 *   --pair-runs runs with two VMs alive at once
 *   --settle    seconds a guest idles after /health before its RSS is read
 *   --idle      seconds over which the idle QEMU's CPU is measured
 *   --passes    timed sampler passes per run (at least 2)
 *   --out       where vm.md and vm.json go (default bench/results)
 *   --keep      keep the temporary folder (run dirs, disks, QEMU logs)
 *
 * At most two QEMUs are alive at any time; every one is SIGKILLed by pid in `finally`, and on
 * SIGINT/SIGTERM.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildImage, createDataDisk } from '../../dist/guest/index.js';
import { QemuHypervisorDriver } from '../../dist/hypervisor/qemu/qemu-driver.js';
import { LabVms, processCpuMs, rssKiB } from './lab-vms.mjs';
import { describeMachine, loadNow } from './machine.mjs';
import { renderReport } from './report.mjs';
import { measureSampling, mergeCosts } from './sampling.mjs';
import { summarize } from './stats.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const DATA_DISK_MIB = 64; // the AgentVmSpec default

/** @param {string} msg */
const log = (msg) => process.stderr.write(`[bench:vm] ${msg}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      'pair-runs': { type: 'string', default: '3' },
      settle: { type: 'string', default: '5' },
      idle: { type: 'string', default: '5' },
      passes: { type: 'string', default: '20' },
      'gap-ms': { type: 'string', default: '250' },
      out: { type: 'string', default: join(REPO, 'bench', 'results') },
      keep: { type: 'boolean', default: false },
    },
  });
  const int = (/** @type {string} */ name, /** @type {string} */ v, /** @type {number} */ min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be a whole number ≥ ${min}, got ${v}`);
    return n;
  };
  return {
    runs: int('runs', values.runs, 2),
    pairRuns: int('pair-runs', values['pair-runs'], 1),
    settleS: int('settle', values.settle, 0),
    idleS: int('idle', values.idle, 1),
    passes: int('passes', values.passes, 2),
    gapMs: int('gap-ms', values['gap-ms'], 0),
    out: resolve(values.out),
    keep: values.keep,
  };
}

async function main() {
  const o = options();
  const machine = describeMachine(new Date());
  log(`${machine.nproc} cores (${machine.cpuModel}), load ${machine.loadStart.join(' ')}`);
  const image = await buildImage({ onProgress: (p) => log(`image: ${p.message}`) });
  log(`guest image ${image.hash}${image.cached ? ' (cached)' : ''}`);

  const tmp = mkdtempSync(join(tmpdir(), 'ubv-')); // short: QMP socket paths stay < 108 bytes
  const driver = new QemuHypervisorDriver({ baseDir: join(tmp, 'r'), accel: 'tcg' });
  const lab = new LabVms(driver, image);
  const onSignal = () => {
    lab.killAll();
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const first = { qmp: /** @type {number[]} */ ([]), health: /** @type {number[]} */ ([]) };
  const later = { qmp: /** @type {number[]} */ ([]), health: /** @type {number[]} */ ([]) };
  /** @type {number[]} */ const rssSingle = [];
  /** @type {number[]} */ const rssPair = [];
  /** @type {number[]} */ const idlePct = [];
  /** @type {import('./sampling.mjs').SamplingCost[]} */ const costSingle = [];
  /** @type {import('./sampling.mjs').SamplingCost[]} */ const costPair = [];
  /** @type {string[]} */ const disks = [];
  let cleanPowerdowns = 0;

  try {
    for (let r = 0; r < o.runs; r++) {
      const disk = await createDataDisk(join(tmp, `d${r}.qcow2`), DATA_DISK_MIB, { format: 'qcow2' });
      disks.push(disk);
      const a = await lab.boot(`first-${r}`, disk);
      first.qmp.push(a.createToQmpMs);
      first.health.push(a.createToHealthMs);
      if (await lab.powerdown(a)) cleanPowerdowns++;

      const b = await lab.boot(`later-${r}`, disk);
      later.qmp.push(b.createToQmpMs);
      later.health.push(b.createToHealthMs);
      await sleep(o.settleS * 1000);
      rssSingle.push(rssKiB(b.pid) / 1024);
      const c0 = processCpuMs(b.pid);
      const t0 = performance.now();
      await sleep(o.idleS * 1000);
      idlePct.push((100 * (processCpuMs(b.pid) - c0)) / (performance.now() - t0));
      costSingle.push(await measureSampling(driver, [b], { passes: o.passes, gapMs: o.gapMs }));
      await lab.kill(b);
      log(
        `run ${r + 1}/${o.runs}: first ${a.createToHealthMs.toFixed(0)} ms, later ${b.createToHealthMs.toFixed(0)} ms, ` +
          `RSS ${rssSingle[r].toFixed(1)} MiB, idle ${idlePct[r].toFixed(2)} %, pass ${costSingle[r].passMsPerVm.median.toFixed(3)} ms`,
      );
    }

    for (let r = 0; r < o.pairRuns; r++) {
      const v1 = await lab.boot(`pair-${r}-a`, disks[(2 * r) % disks.length]);
      const v2 = await lab.boot(`pair-${r}-b`, disks[(2 * r + 1) % disks.length]);
      await sleep(o.settleS * 1000);
      const rss = [rssKiB(v1.pid) / 1024, rssKiB(v2.pid) / 1024];
      rssPair.push(...rss);
      costPair.push(await measureSampling(driver, [v1, v2], { passes: o.passes, gapMs: o.gapMs }));
      await lab.kill(v1);
      await lab.kill(v2);
      log(`pair ${r + 1}/${o.pairRuns}: RSS ${rss.map((x) => x.toFixed(1)).join(' + ')} MiB, pass ${costPair[r].passMsPerVm.median.toFixed(3)} ms/VM`);
    }
  } finally {
    lab.killAll();
    await driver.close();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (o.keep) log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }

  machine.loadEnd = loadNow();
  /** @type {import('./report.mjs').VmBenchResult} */
  const result = {
    machine,
    config: {
      runs: o.runs,
      pairRuns: o.pairRuns,
      settleS: o.settleS,
      idleS: o.idleS,
      passes: o.passes,
      gapMs: o.gapMs,
      accel: 'tcg (tb-size=32)',
      vm: `1 vCPU (hot-add up to 4), -m 128 (DIMM slots up to 1024 MiB), a ${DATA_DISK_MIB} MiB qcow2 data disk, user networking with the service port forwarded, one PCIe root port`,
    },
    image: { hash: image.hash, kernelVersion: image.kernelVersion },
    boot: {
      first: { qmpMs: summarize(first.qmp), healthMs: summarize(first.health) },
      later: { qmpMs: summarize(later.qmp), healthMs: summarize(later.health) },
      cleanPowerdowns,
    },
    rssMiB: { single: summarize(rssSingle), pair: summarize(rssPair) },
    qemuIdle: { cpuPct: summarize(idlePct) },
    sampling: { single: mergeCosts(costSingle), pair: mergeCosts(costPair) },
  };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'vm.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(o.out, 'vm.md'), renderReport(result));
  log(`wrote ${join(o.out, 'vm.md')} and vm.json`);
}

main().catch((e) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
