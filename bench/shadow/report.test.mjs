// Unit tests of the shadow benchmark report. Run: node --test bench/shadow/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtDist, fmtRatio, noiseNote, renderReport } from './report.mjs';
import { distribution, summarize } from './stats.mjs';

const s = (/** @type {number[]} */ xs) => summarize(xs);
const d = (/** @type {number[]} */ xs) => distribution(xs);

/** A result with round figures (what the harness writes, made up). */
function result() {
  const sync = (/** @type {number} */ mib, /** @type {number} */ wall) => ({ diskMiB: mib, kind: 'blank, formatted by the guest', allocatedMiB: 4, bootMs: 4200, wallMs: s([wall, wall + 10, wall - 10]), wallMiBps: s([mib / (wall / 1000)]), agentMiBps: s([350, 340, 360]), jobLenMiB: s([mib]) });
  const writes = (/** @type {number} */ aps, /** @type {number[] | null} */ ratios) => ({ appendsPerSec: s([aps, aps - 2, aps + 2]), kibPerSec: s([aps * 4]), latencyP50Ms: s([40]), latencyP99Ms: s([120]), ratioToNone: ratios ? s(ratios) : null, failed: 0 });
  const lag = (/** @type {number[]} */ secs, /** @type {number[]} */ kib) => ({ polls: secs.length, notReady: 0, lagSeconds: d(secs), lagKiB: d(kib), behindPct: 90, failures: 0 });
  const verify = (/** @type {number[]} */ pause) => ({ runs: pause.length, pauseMs: s(pause), pauseDist: d(pause), catchUpMs: s([8, 10]), catchUpDist: d([8, 10]), primaryDigestMs: s([200]), targetDigestMs: s([180]), equal: pause.length, caughtUp: pause.length, appendsDuring: 100, appendFailures: 0 });
  return {
    machine: { date: '2026-11-29T12:00:00.000Z', nproc: 2, cpuModel: 'AMD EPYC', memTotalMiB: 24105, kernel: '6.1', node: 'v20', qemu: 'QEMU 7.2', loadStart: [2, 2, 2], loadEnd: [3, 2, 2] },
    config: { accel: 'tcg', vm: '1 vCPU', target: 'qsd', syncRuns: 3, largeSyncRuns: 3, largeMiB: 512, fillPct: 75, rounds: 2, loadS: 10, clients: 4, lineBytes: 4095, pollMs: 100, periodicIntervalS: 1, verifyRuns: 2, verifyLargeRuns: 1, probeS: 8, totalS: 300 },
    image: { hash: 'abc', kernelVersion: '6.1.0' },
    initialSync: { small: sync(64, 200), large: sync(512, 300), filled: { ...sync(512, 5000), kind: 'holding a 384 MiB file', allocatedMiB: 385 } },
    writes: { none: writes(100, null), sync: writes(60, [0.6, 0.62]), async: writes(85, [0.85, 0.8]), periodic: writes(80, [0.8, 0.82]) },
    lag: { sync: lag([0, 0, 0.1], [0, 0, 16]), async: lag([0.5, 1, 2], [64, 128, 192]), periodic: lag([0.3, 0.6, 0.9], [256, 512, 1024]) },
    periodic: { intervalS: 1, roundMs: d([20, 30, 40]), rounds: 3 },
    probes: { sync: { probes: 30, delayMs: d([5, 6, 7]), firstLookPct: 100, timeouts: 0, appendsPerSec: 60 }, async: { probes: 25, delayMs: d([50, 70, 150]), firstLookPct: 30, timeouts: 0, appendsPerSec: 80 } },
    verification: { small: { diskMiB: 64, async: verify([250, 300]), sync: verify([210]) }, large: { diskMiB: 512, async: verify([3400]) } },
    windows: [
      { round: 0, mode: 'none', appendsPerSec: 100, kibPerSec: 400, ok: 1000, failed: 0, polls: 100 },
      { round: 0, mode: 'sync', appendsPerSec: 60, kibPerSec: 240, ok: 600, failed: 0, polls: 100 },
    ],
  };
}

test('fmtDist and fmtRatio', () => {
  assert.equal(fmtDist(d([1, 2, 3]), 1), '2.0 / 2.9 / 3.0 / 3.0');
  assert.equal(fmtDist(d([0.1, 0.2]), 0, 1000), '150 / 195 / 199 / 200');
  assert.equal(fmtDist(null, 1), 'n/a');
  assert.equal(fmtRatio(s([0.5, 0.7, 0.6])), '**0.60×** (0.50–0.70, n=3)');
  assert.equal(fmtRatio(null), '—');
});

test('renderReport states the machine, the medians, the ratios, lag and pauses', () => {
  const md = renderReport(/** @type {any} */ (result()));
  assert.match(md, /AMD EPYC, \*\*2 cores\*\*/);
  assert.match(md, /start 2 \/ 2 \/ 2, end 3 \/ 2 \/ 2/);
  assert.match(md, /shared 2-core box/);
  // Initial sync rows: the default disk and the filled one.
  assert.match(md, /\| 64 MiB \(default\), blank, formatted by the guest \| 4 MiB \| \*\*200 ms\*\* \(190–210, n=3\) \| \*\*320 MiB\/s\*\*/);
  assert.match(md, /\| 512 MiB, holding a 384 MiB file \| 385 MiB \| \*\*5000 ms\*\*/);
  // Write throughput and ratios.
  assert.match(md, /\| no mirror \| \*\*100\.0 \/s\*\* \(98\.0–102\.0, n=3\) \| .* \| — \|/);
  assert.match(md, /\| `sync` \(write-blocking mirror\) \| \*\*60\.0 \/s\*\* .* \| \*\*0\.61×\*\* \(0\.60–0\.62, n=2\) \|/);
  assert.match(md, /\| `async` \(background mirror\) \| .* \| \*\*0\.82×\*\* \(0\.80–0\.85, n=2\) \|/);
  assert.match(md, /Appends\/s per round: none 100\.0; sync 60\.0; async ; periodic /);
  // Lag: the agent's figures, and the probe's.
  assert.match(md, /\| `async` \| 3 \| 1\.000 \/ 1\.900 \/ 1\.980 \/ 2\.000 \| 128 \/ 186 \/ 191 \/ 192 \| 90 % \|/);
  assert.match(md, /\| `async` \| 25 \| 70\.0 \/ 142\.0 \/ 148\.4 \/ 150\.0 \| 30 % \| 0 \|/);
  assert.match(md, /reached the target 70 ms \(p50\) after its acknowledgement/);
  assert.doesNotMatch(md, /\| `periodic` \| 0 \|/); // no periodic probe row without a periodic probe
  assert.match(md, /round duration .* \*\*30 \/ 39 \/ 40 \/ 40 ms\*\*/s);
  // Verification.
  assert.match(md, /\| 64 MiB, `async` \| 2 \| \*\*275 ms\*\* \(250–300, n=2\) \| 298 ms \| \*\*9 ms\*\* .* \| 200 \/ 180 ms \| 2\/2 \| 2\/2 \|/);
  assert.match(md, /\| 512 MiB, `async` \| 1 \| \*\*3400 ms\*\*/);
});

test('renderReport without the optional parts', () => {
  const r = /** @type {any} */ (result());
  r.initialSync.large = null;
  r.initialSync.filled = null;
  r.probes = {};
  r.verification.large = null;
  r.periodic = { intervalS: 1, roundMs: null, rounds: 0 };
  const md = renderReport(/** @type {any} */ (r));
  assert.doesNotMatch(md, /Independent check/);
  assert.doesNotMatch(md, /512 MiB, `async`/);
  assert.match(md, /0 incremental rounds/);
  assert.match(md, /\*\*n\/a ms\*\*/);
});

test('noiseNote separates a cost seen in every round from noise', () => {
  const r = /** @type {any} */ (result());
  // sync ratios 0.6–0.62: below 1 in every round; async 0.8–0.85 too; periodic 0.8–0.82.
  assert.equal(noiseNote(r), 'Reading the ratios: `sync`, `async`, `periodic` cost write throughput in every round (all per-round ratios below 1).');
  r.writes.async.ratioToNone = s([0.9, 1.1]);
  r.writes.periodic.ratioToNone = s([0.95, 1.0]);
  assert.equal(
    noiseNote(r),
    "Reading the ratios: `sync` cost write throughput in every round (all per-round ratios below 1); `async`, `periodic` had rounds both faster and slower than no mirror, so their medians carry this machine's noise (2 rounds).",
  );
  assert.match(renderReport(r), /their medians carry this machine's noise/);
});
