// Unit tests of the VM benchmark report. Run: node --test bench/vm/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtSummary, overheadPct, renderReport } from './report.mjs';
import { mergeCosts } from './sampling.mjs';
import { summarize } from './stats.mjs';

test('overheadPct: agent ms per pass against the idle QEMU CPU in one interval', () => {
  // 2 % of a core over 10 s is 200 ms; 5 ms of agent CPU is 2.5 % of that.
  assert.equal(overheadPct(5, 2, 10), 2.5);
  assert.equal(overheadPct(1, 0, 10), Infinity);
});

test('fmtSummary prints median, range and count', () => {
  assert.equal(fmtSummary(summarize([3, 1, 2]), 'ms', 1), '**2.0 ms** (1.0–3.0, n=3)');
});

test('mergeCosts pools the per-pass values and takes the median math cost', () => {
  const c = (/** @type {number[]} */ p, /** @type {number} */ mathUs) => ({ vms: 1, passMsPerVm: summarize(p), statsMs: summarize(p), mathUs, samplesPerVm: 9 });
  const m = mergeCosts([c([1, 2], 4), c([3], 8), c([5], 6)]);
  assert.deepEqual(m.passMsPerVm.values, [1, 2, 3, 5]);
  assert.equal(m.passMsPerVm.median, 2.5);
  assert.equal(m.mathUs, 6);
  assert.throws(() => mergeCosts([]), RangeError);
});

test('renderReport states the machine, the medians and the overhead', () => {
  const s = (/** @type {number[]} */ xs) => summarize(xs);
  const cost = { vms: 1, passMsPerVm: s([4, 5, 6]), statsMs: s([2, 2, 2]), mathUs: 5.5, samplesPerVm: 9 };
  const md = renderReport({
    machine: { date: '2026-11-29T12:00:00.000Z', nproc: 2, cpuModel: 'AMD EPYC', memTotalMiB: 24105, kernel: '6.1', node: 'v20', qemu: 'QEMU 7.2', loadStart: [2, 2, 2], loadEnd: [3, 2, 2] },
    config: { runs: 3, pairRuns: 1, settleS: 5, idleS: 5, passes: 3, gapMs: 250, accel: 'tcg', vm: '1 vCPU' },
    image: { hash: 'abc', kernelVersion: '6.1.0' },
    boot: { first: { qmpMs: s([400]), healthMs: s([7000, 7400, 7200]) }, later: { qmpMs: s([350]), healthMs: s([5600, 5800, 5700]) }, cleanPowerdowns: 3 },
    rssMiB: { single: s([261.5]), pair: s([262, 261]) },
    qemuIdle: { cpuPct: s([2, 2, 2]) },
    sampling: { single: cost, pair: { ...cost, vms: 2 } },
  });
  assert.match(md, /AMD EPYC, \*\*2 cores\*\*/);
  assert.match(md, /shared 2-core box/);
  assert.match(md, /start 2 \/ 2 \/ 2, end 3 \/ 2 \/ 2/);
  assert.match(md, /\| First boot .* \| \*\*7200 ms\*\* \(7000–7400, n=3\) \|/);
  assert.match(md, /\| Later boot .* \| \*\*5700 ms\*\* \(5600–5800, n=3\) \|/);
  assert.match(md, /Two VMs alive at once \(each VM\) \| \*\*261\.5 MiB\*\*/);
  // 5 ms per pass against 2 % of a core (200 ms per 10 s): 2.50 %.
  assert.match(md, /\*\*2\.50 %\*\* of what the idle VM itself uses/);
});
