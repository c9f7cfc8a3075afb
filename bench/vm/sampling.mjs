// @ts-check
/**
 * The agent's sampling cost against real VMs: the agent's own Sampler (driver.stats = one QMP
 * query-blockstats + /proc/<pid>/{stat,status,io}, the usage math, and the HTTP probe of the
 * guest's /health) run pass by pass, each pass timed with process.cpuUsage (this process's
 * user + system CPU, all threads). Also the parts alone: `driver.stats` and `usageSamples`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../dist/core/clock.js';
import { Sampler } from '../../dist/agent/sampler.js';
import { SampleBuffer } from '../../dist/agent/sample-buffer.js';
import { silentLogger } from '../../dist/agent/log.js';
import { usageSamples } from '../../dist/agent/usage.js';
import { perCallMs, summarize } from './stats.mjs';

/** @typedef {import('../../dist/hypervisor/qemu/qemu-driver.js').QemuHypervisorDriver} QemuHypervisorDriver */
/** @typedef {import('./stats.mjs').Summary} Summary */

/**
 * @typedef {object} SamplingCost
 * @property {number} vms              VMs sampled per pass
 * @property {Summary} passMsPerVm     agent CPU per VM per full pass (stats + math + probe), ms
 * @property {Summary} statsMs         agent CPU of one driver.stats call, ms
 * @property {number} mathUs           agent CPU of one usageSamples call, µs (mean of many)
 * @property {number} samplesPerVm     usage samples one pass yields per VM
 */

/** This process's CPU time, µs. */
function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** A server client that is never called: the benchmark never flushes the buffer. */
const noServer = /** @type {import('../../dist/agent/server-client.js').ServerClient} */ (
  /** @type {unknown} */ ({
    register: () => Promise.reject(new Error('not used')),
    heartbeat: () => Promise.reject(new Error('not used')),
    postSamples: () => Promise.reject(new Error('not used')),
  })
);

/**
 * Samples `vms` `passes` times, `gapMs` apart (after two warm-up passes), and times each pass.
 * @param {QemuHypervisorDriver} driver
 * @param {{ id: string, url: string }[]} vms
 * @param {{ passes: number, gapMs: number }} opts
 * @returns {Promise<SamplingCost>}
 */
export async function measureSampling(driver, vms, opts) {
  const urls = new Map(vms.map((v) => [v.id, `${v.url}/health`]));
  const sampler = new Sampler({
    agent: 'bench',
    driver,
    source: { ids: () => [...urls.keys()], probeTarget: (id) => ({ url: /** @type {string} */ (urls.get(id)) }) },
    clock: systemClock,
    log: silentLogger,
    buffer: new SampleBuffer(),
    client: noServer,
    intervalMs: 10_000,
  });
  try {
    // Warm-up: JIT, the first driver.status per VM, the first reading (no rates yet).
    for (let i = 0; i < 2; i++) {
      await sampler.samplePass();
      await sleep(opts.gapMs);
    }
    const before = [];
    const after = [];
    let samples = 0;
    for (let i = 0; i < opts.passes; i++) {
      before.push(cpuUs());
      samples = (await sampler.samplePass()).length;
      after.push(cpuUs());
      await sleep(opts.gapMs);
    }
    const passMsPerVm = perCallMs(before, after).map((ms) => ms / vms.length);

    const sb = [];
    const sa = [];
    /** @type {import('../../dist/hypervisor/types.js').VmStats[]} */
    const readings = [];
    for (let i = 0; i < opts.passes; i++) {
      sb.push(cpuUs());
      readings.push(await driver.stats(vms[0].id));
      sa.push(cpuUs());
      await sleep(opts.gapMs);
    }

    const N = 20_000;
    const m0 = cpuUs();
    for (let i = 0; i < N; i++) usageSamples(readings[i % (readings.length - 1)], readings[(i % (readings.length - 1)) + 1], 1);
    const mathUs = (cpuUs() - m0) / N;

    return { vms: vms.length, passMsPerVm: summarize(passMsPerVm), statsMs: summarize(perCallMs(sb, sa)), mathUs, samplesPerVm: samples / vms.length };
  } finally {
    sampler.close();
  }
}

/**
 * One cost from several runs' costs: the per-pass and per-call values pooled, the math cost
 * as the median of the runs'.
 * @param {readonly SamplingCost[]} costs  same `vms` each
 * @returns {SamplingCost}
 */
export function mergeCosts(costs) {
  if (costs.length === 0) throw new RangeError('no sampling costs to merge');
  const maths = costs.map((c) => c.mathUs).sort((a, b) => a - b);
  const m = maths.length >> 1;
  return {
    vms: costs[0].vms,
    passMsPerVm: summarize(costs.flatMap((c) => c.passMsPerVm.values)),
    statsMs: summarize(costs.flatMap((c) => c.statsMs.values)),
    mathUs: maths.length % 2 ? maths[m] : (maths[m - 1] + maths[m]) / 2,
    samplesPerVm: costs[0].samplesPerVm,
  };
}
