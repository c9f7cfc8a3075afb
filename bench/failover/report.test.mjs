// Unit tests of the failover benchmark's summaries and report. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchPolicy } from './policy.mjs';
import { fmtMedMax, placeAfterRun, renderReport, summarizeFault, summaryOf } from './report.mjs';

/**
 * A run that failed over (fields not given: a plausible warm failover).
 * @param {Partial<import('./report.mjs').RunResult>} x
 * @returns {import('./report.mjs').RunResult}
 */
function run(x) {
  return {
    lab: 1,
    fault: 'kill',
    round: 1,
    outcome: 'failed-over',
    why: null,
    note: null,
    faultDetail: 'SIGKILL 123',
    faultAt: 10_000,
    failoverEndedAt: 12_000,
    fromHost: 'h1',
    toHost: 'h2',
    failoverId: 'fo-1',
    path: 'warm',
    reason: 'state in [crashed] (state is crashed)',
    dataLossBoundSeconds: 0,
    gapMs: 1500,
    faultToFirstGoodMs: 1480,
    detectMs: 300,
    pipelineMs: 900,
    faultToTrafficMs: 1200,
    steps: [
      { name: 'fence', ms: 20, ok: true },
      { name: 'promote', ms: 400, ok: true },
      { name: 'traffic', ms: 30, ok: true },
    ],
    acked: 100,
    failedRequests: { 'HTTP 503': 3 },
    lost: 0,
    lostSample: [],
    oldPidAlive: false,
    undo: null,
    ...x,
  };
}

test('summaryOf skips missing values', () => {
  assert.equal(summaryOf([null, undefined]), null);
  assert.deepEqual(summaryOf([3, null, 1]), { n: 2, median: 2, min: 1, max: 3, values: [3, 1] });
});

test('summarizeFault: medians over the runs that failed over, problems listed, the target checked', () => {
  const runs = [
    run({ round: 1, faultToFirstGoodMs: 1000, gapMs: 1100 }),
    run({ round: 2, faultToFirstGoodMs: 3000, gapMs: 3100, steps: [{ name: 'promote', ms: 800, ok: true }] }),
    run({ round: 3, faultToFirstGoodMs: 1500, gapMs: 1600, lost: 2 }),
    run({ round: 4, outcome: 'not-failed-over', why: 'failover failed at promote: boom', gapMs: null, faultToFirstGoodMs: null, lost: null, steps: [] }),
    run({ fault: 'hang', round: 1, faultToFirstGoodMs: 9000 }),
  ];
  const s = summarizeFault('kill', runs, false);
  assert.equal(s.runs, 4);
  assert.equal(s.failedOver, 3);
  assert.equal(s.faultToFirstGoodMs?.median, 1500);
  assert.equal(s.faultToFirstGoodMs?.max, 3000);
  assert.equal(s.gapMs?.median, 1600);
  assert.deepEqual(s.stepMs.promote.values, [400, 800, 400]);
  assert.equal(s.stepMs.fence.n, 2);
  assert.equal(s.lost, 2);
  assert.equal(s.logUnread, 1);
  assert.equal(s.acked, 400);
  assert.deepEqual(s.problems, [{ round: 4, outcome: 'not-failed-over', why: 'failover failed at promote: boom' }]);
  // Crash target: fault → first good < 2 s; median 1500 met, 2 of 3 runs within.
  assert.equal(s.target.measure, 'faultToFirstGoodMs');
  assert.equal(s.target.withinMedian, true);
  assert.equal(s.target.withinRuns, 2);
  // Planned: the target is on the gap; hang has none.
  const p = summarizeFault('planned', [run({ fault: 'planned', gapMs: 1200 })], false);
  assert.equal(p.target.measure, 'gapMs');
  assert.equal(p.target.withinMedian, false);
  const h = summarizeFault('hang', runs, true);
  assert.equal(h.target.ms, null);
  assert.equal(h.stoppedEarly, true);
});

test('renderReport: machine, policy, per-fault medians and maxima, what did not fail over', () => {
  const runs = [
    run({ round: 1, faultToFirstGoodMs: 1000, gapMs: 1100 }),
    run({ round: 2, faultToFirstGoodMs: 1400, gapMs: 1500 }),
    run({ fault: '5xx', round: 1, outcome: 'not-failed-over', why: 'no failover started within 90 s; alerts: shadow_not_synchronized: held', toHost: null, failoverId: null, gapMs: null, faultToFirstGoodMs: null, steps: [], undo: 'POST /fault?mode=none → 200' }),
    run({ fault: '5xx', round: 2, outcome: 'not-failed-over', why: 'no failover started within 90 s', toHost: null, failoverId: null, gapMs: null, faultToFirstGoodMs: null, steps: [], faultAt: 11_000, failoverEndedAt: null }),
  ];
  const md = renderReport({
    machine: { date: '2026-11-30T12:00:00.000Z', nproc: 2, cpuModel: 'AMD EPYC', memTotalMiB: 24105, kernel: '6.1', node: 'v20', qemu: 'QEMU 7.2', loadStart: [2, 2, 2], loadEnd: [3, 2, 2] },
    totalS: 600,
    config: { runs: 2, faults: ['kill', '5xx'], labPerRun: false, hosts: 3, interval: '2s', periodMs: 20, maxInFlight: 4, quietS: 12, recoveryTimeoutS: 90, maxFailures: 2, policy: benchPolicy(), accel: 'tcg' },
    lab: { labs: 1, upS: [80], traffic: 'http://10.213.0.1:8001' },
    runs,
    faults: [summarizeFault('kill', runs, false), summarizeFault('5xx', runs, true)],
    unexpected: [{ lab: 1, id: 'fo-x', state: 'done', reason: 'error_rate > 50% for 10s (error rate 60%)', startedAt: 14_500 }],
    finalLog: { acked: 400, missing: 0, sample: [] },
    aborted: null,
  });
  assert.match(md, /AMD EPYC, \*\*2 cores\*\*/);
  assert.match(md, /shared 2-core box/);
  assert.match(md, /synchronization_mode: sync/);
  assert.match(md, /\| `kill` \| 2\/2 \| \*\*1300 ms\*\* \(max 1500, n=2\) \| \*\*1200 ms\*\* \(max 1400, n=2\) \| 200 \| \*\*0\*\* \| crash, warm shadow: fault → first good < 2 s: median \*\*met\*\*, 2\/2 runs within \|/);
  assert.match(md, /\| `5xx` \| 0\/2 \(given up\) \| — \| — \|/);
  assert.match(md, /- `5xx` round 1: not-failed-over: no failover started within 90 s; alerts: shadow_not_synchronized: held/);
  assert.match(md, /\*\*0\*\* of 400 missing/);
  assert.match(md, /QEMU process was gone after every failover \(2\), checked by pid/);
  assert.match(md, /- fo-x \(done\), 3\.5 s after the fault of `5xx` round 2: error_rate > 50% for 10s/);
  assert.match(md, /\| Fault \| fence \| promote \| traffic \|/);
  assert.doesNotMatch(md, /stopped early/);
  assert.match(md, /\*\*One lab for the whole benchmark\*\*/);
  assert.match(md, /\(up in 80 s\)/);
});

test('fmtMedMax', () => {
  assert.equal(fmtMedMax(null), '—');
  assert.equal(fmtMedMax(summaryOf([10.4, 30.6, 20])), '**20 ms** (max 31, n=3)');
});

test('renderReport names the lab-per-run mode and each run\'s lab', () => {
  const runs = [run({ lab: 2, round: 1 }), run({ lab: 3, round: 2, note: 'the record read failed at promote first, then done once the request ended' })];
  const md = renderReport({
    machine: { date: '2026-11-30T12:00:00.000Z', nproc: 2, cpuModel: 'AMD EPYC', memTotalMiB: 1, kernel: '6.1', node: 'v20', qemu: 'QEMU 7.2', loadStart: [1, 1, 1], loadEnd: null },
    totalS: 60,
    config: { runs: 2, faults: ['kill'], labPerRun: true, hosts: 3, interval: '2s', periodMs: 20, maxInFlight: 64, quietS: 12, recoveryTimeoutS: 45, maxFailures: 2, policy: benchPolicy(), accel: 'tcg' },
    lab: { labs: 2, upS: [20, 30], traffic: null },
    runs,
    faults: [summarizeFault('kill', runs, false)],
    unexpected: [],
    finalLog: { acked: 200, missing: null, sample: [] },
    aborted: 'lab 3: umbra lab up exited 1',
  });
  assert.match(md, /\*\*A fresh lab for every run\*\* \(2 labs\)/);
  assert.match(md, /up in 25 s median, max 30 s/);
  assert.match(md, /- `kill` round 1 \(lab 2\)/);
  assert.match(md, /note: the record read failed at promote first/);
  assert.match(md, /\*\*The benchmark stopped early\*\*: lab 3: umbra lab up exited 1/);
});

test('placeAfterRun: the last run of the same lab before it', () => {
  const runs = [run({ lab: 1, round: 1, faultAt: 1000, failoverEndedAt: 3000 }), run({ lab: 1, fault: 'hang', round: 1, faultAt: 20_000, failoverEndedAt: null }), run({ lab: 2, round: 2, faultAt: 30_000 })];
  assert.equal(placeAfterRun({ lab: 1, startedAt: 8000 }, runs), '5.0 s after the failover of `kill` round 1 ended');
  assert.equal(placeAfterRun({ lab: 1, startedAt: 40_000 }, runs), '20.0 s after the fault of `hang` round 1');
  assert.equal(placeAfterRun({ lab: 2, startedAt: 500 }, runs), 'before the first run');
});
