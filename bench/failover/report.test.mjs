// Unit tests of the failover benchmark's summaries and report. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultPlan } from './plan.mjs';
import { BENCH_CRITERIA, benchPolicy } from './policy.mjs';
import { fmtMedMax, issueTargets, peerRows, placeAfterRun, policyDiff, renderReport, summarizeFault, summaryOf, targetCell } from './report.mjs';

/**
 * A run that failed over (fields not given: a plausible warm failover).
 * @param {Partial<import('./report.mjs').RunResult>} x
 * @returns {import('./report.mjs').RunResult}
 */
function run(x) {
  return {
    lab: 1,
    flavor: 'warm',
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
    oldGoneByMs: 500,
    after: null,
    undo: null,
    ...x,
  };
}

test('summaryOf skips missing values', () => {
  assert.equal(summaryOf([null, undefined]), null);
  assert.deepEqual(summaryOf([3, null, 1]), { n: 2, median: 2, min: 1, max: 3, values: [3, 1] });
});

const machine = { date: '2026-11-30T12:00:00.000Z', nproc: 2, cpuModel: 'AMD EPYC', memTotalMiB: 24105, kernel: '6.1', node: 'v20', qemu: 'QEMU 7.2', loadStart: [2, 2, 2], loadEnd: [3, 2, 2] };

/**
 * The config of a report (fields not given: both flavors, their default faults, 5 rounds).
 * @param {Partial<import('./report.mjs').FailoverBenchResult['config']>} x
 * @returns {import('./report.mjs').FailoverBenchResult['config']}
 */
function config(x = {}) {
  return {
    runs: 5,
    plan: faultPlan(['warm', 'migrate'], {}),
    labPerRun: false,
    hosts: 3,
    interval: '2s',
    periodMs: 20,
    maxInFlight: 64,
    quietS: 12,
    recoveryTimeoutS: 45,
    maxFailures: 2,
    criteria: BENCH_CRITERIA,
    policies: { warm: benchPolicy({ flavor: 'warm' }), migrate: benchPolicy({ flavor: 'migrate' }) },
    accel: 'tcg',
    estimate: null,
    ...x,
  };
}

test('summarizeFault: medians over the runs of its flavor that failed over, problems listed, the target checked', () => {
  const runs = [
    run({ round: 1, faultToFirstGoodMs: 1000, gapMs: 1100 }),
    run({ round: 2, faultToFirstGoodMs: 3000, gapMs: 3100, steps: [{ name: 'promote', ms: 800, ok: true }] }),
    run({ round: 3, faultToFirstGoodMs: 1500, gapMs: 1600, lost: 2 }),
    run({ round: 4, outcome: 'not-failed-over', why: 'failover failed at promote: boom', gapMs: null, faultToFirstGoodMs: null, lost: null, steps: [] }),
    run({ fault: 'hang', round: 1, faultToFirstGoodMs: 9000 }),
    run({ flavor: 'migrate', round: 1, path: 'cold', faultToFirstGoodMs: 4000 }),
  ];
  const s = summarizeFault('warm', 'kill', runs, false);
  assert.equal(s.flavor, 'warm');
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
  assert.deepEqual(s.paths, ['warm']);
  assert.deepEqual(s.problems, [{ round: 4, outcome: 'not-failed-over', why: 'failover failed at promote: boom' }]);
  // Crash by the warm path: fault → first good < 2 s; median 1500 met, 2 of 3 runs within.
  assert.equal(s.targets.length, 1);
  assert.deepEqual({ ...s.targets[0] }, { path: 'warm', key: 'crash-warm', text: 'crash, warm shadow: fault → first good < 2 s', ms: 2000, measure: 'faultToFirstGoodMs', n: 3, withinMedian: true, withinRuns: 2 });
  // The migrate flavor's kill cold boots: the 5 s target.
  const m = summarizeFault('migrate', 'kill', runs, false);
  assert.equal(m.runs, 1);
  assert.deepEqual([m.targets[0].key, m.targets[0].withinMedian, m.targets[0].withinRuns], ['crash-cold', true, 1]);
  // Planned: the target is on the gap; by live migration 100 ms.
  const p = summarizeFault('warm', 'planned', [run({ fault: 'planned', gapMs: 1200 })], false);
  assert.deepEqual([p.targets[0].measure, p.targets[0].withinMedian], ['gapMs', false]);
  const pm = summarizeFault('migrate', 'cpu', [run({ flavor: 'migrate', fault: 'cpu', path: 'migrate', gapMs: 80 }), run({ flavor: 'migrate', fault: 'cpu', path: 'migrate', gapMs: 140 })], false);
  assert.deepEqual([pm.targets[0].key, pm.targets[0].ms, pm.targets[0].withinRuns, pm.targets[0].n], ['planned-migrate', 100, 1, 2]);
  // Hang has none; nothing failed over: the flavor's expected path is named.
  const h = summarizeFault('warm', 'hang', runs, true);
  assert.equal(h.targets[0].ms, null);
  assert.match(h.targets[0].text, /5 s of monitor silence/);
  assert.equal(h.stoppedEarly, true);
  const none = summarizeFault('migrate', 'planned', [], false);
  assert.deepEqual([none.targets[0].path, none.targets[0].key, none.targets[0].n], ['migrate', 'planned-migrate', 0]);
  // Results from before the flavors (no `flavor`) count as warm.
  const old = /** @type {any} */ (run({}));
  delete old.flavor;
  assert.equal(summarizeFault('warm', 'kill', [old], false).runs, 1);
});

test('targetCell: per path when the runs took several', () => {
  const runs = [run({ flavor: 'migrate', fault: 'planned', path: 'migrate', gapMs: 60 }), run({ flavor: 'migrate', fault: 'planned', path: 'cold', gapMs: 4000 })];
  const cell = targetCell(summarizeFault('migrate', 'planned', runs, false));
  assert.equal(cell, 'migrate: planned or overload failover by live migration: gap < 100 ms: median **met**, 1/1 runs within; cold: planned or overload failover: gap < 1 s: median **missed**, 0/1 runs within');
  assert.equal(targetCell(summarizeFault('warm', 'kill', [], false)), 'crash, warm shadow: fault → first good < 2 s: not measured');
});

test('issueTargets: every target over both flavors, what was meant to measure it, whether 5 runs did', () => {
  const runs = [
    ...[1, 2, 3, 4, 5].map((round) => run({ round, faultToFirstGoodMs: 500 + round * 100 })),
    ...[1, 2, 3].map((round) => run({ flavor: 'migrate', round, path: 'cold', faultToFirstGoodMs: 6000 })),
    run({ flavor: 'migrate', fault: 'cpu', path: 'migrate', gapMs: 90 }),
    run({ flavor: 'migrate', fault: 'planned', path: 'migrate', gapMs: null }),
  ];
  const t = Object.fromEntries(issueTargets(runs, faultPlan(['warm', 'migrate'], {})).map((x) => [x.key, x]));
  assert.deepEqual(t['crash-warm'].planned, ['warm `kill`', 'warm `panic`']);
  assert.deepEqual(t['crash-warm'].seen, ['warm `kill`']);
  assert.deepEqual([t['crash-warm'].summary?.n, t['crash-warm'].summary?.median, t['crash-warm'].withinRuns, t['crash-warm'].enough], [5, 800, 5, true]);
  assert.deepEqual(t['crash-cold'].planned, ['migrate `kill`']);
  assert.deepEqual([t['crash-cold'].summary?.n, t['crash-cold'].withinRuns, t['crash-cold'].enough], [3, 0, false]);
  assert.deepEqual(t.planned.planned, ['warm `cpu`', 'warm `planned`']);
  assert.equal(t.planned.summary, null);
  assert.deepEqual(t['planned-migrate'].planned, ['migrate `cpu`', 'migrate `planned`']);
  assert.deepEqual([t['planned-migrate'].summary?.n, t['planned-migrate'].withinRuns], [1, 1]);
});

test('policyDiff: the lines another flavor changes', () => {
  assert.deepEqual(policyDiff(benchPolicy({ flavor: 'warm' }), benchPolicy({ flavor: 'migrate' })), ['shadow_flavor: migrate']);
  assert.deepEqual(policyDiff('a\nb', 'b\na'), []);
});

test('renderReport: both flavors side by side, the issue targets, per-run lines, what did not fail over', () => {
  const runs = [
    run({ round: 1, faultToFirstGoodMs: 1000, gapMs: 1100 }),
    run({ round: 2, faultToFirstGoodMs: 1400, gapMs: 1500 }),
    run({ fault: '5xx', round: 1, outcome: 'not-failed-over', why: 'no failover started within 90 s; alerts: shadow_not_synchronized: held', toHost: null, failoverId: null, gapMs: null, faultToFirstGoodMs: null, steps: [], undo: 'POST /fault?mode=none → 200' }),
    run({ fault: '5xx', round: 2, outcome: 'not-failed-over', why: 'no failover started within 90 s', toHost: null, failoverId: null, gapMs: null, faultToFirstGoodMs: null, steps: [], faultAt: 11_000, failoverEndedAt: null }),
    run({ fault: 'lost-host', round: 1, reason: 'host_lost', faultToFirstGoodMs: 19_000, gapMs: 19_100, oldGoneByMs: 21_000, after: 'ip link set umbra-h1-br up', faultAt: 20_000 }),
    run({ lab: 2, flavor: 'migrate', round: 1, path: 'cold', faultToFirstGoodMs: 4200, gapMs: 4300, faultAt: 100_000 }),
    run({ lab: 2, flavor: 'migrate', fault: 'cpu', round: 1, path: 'migrate', gapMs: 70, faultToFirstGoodMs: 12_000, steps: [{ name: 'promote', ms: 900, ok: true }], after: 'the load moved with the RAM: GET http://10.213.0.1:8001/load?cpu=0&seconds=1 → 200', faultAt: 130_000 }),
  ];
  const plan = faultPlan(['warm', 'migrate'], { warm: 'kill,5xx,lost-host', migrate: 'kill,cpu' });
  const md = renderReport({
    machine,
    totalS: 1500,
    config: config({ runs: 2, plan, maxInFlight: 4, recoveryTimeoutS: 90, estimate: { totalS: 1320, perFlavorS: { warm: 900, migrate: 420 }, measured: ['warm/kill'], guessed: ['warm/5xx'], labS: 28 } }),
    lab: { labs: [{ no: 1, flavor: 'warm', upS: 80 }, { no: 2, flavor: 'migrate', upS: 40 }], traffic: 'http://10.213.0.1:8001' },
    runs,
    faults: plan.flatMap((p) => p.faults.map((f) => summarizeFault(p.flavor, f, runs, p.flavor === 'warm' && f === '5xx'))),
    unexpected: [{ lab: 1, flavor: 'warm', id: 'fo-x', state: 'done', reason: 'http_error_rate > 50% for 3s (60%)', startedAt: 14_500 }],
    finalLog: { acked: 700, missing: 0, sample: [] },
    aborted: null,
  });
  assert.match(md, /AMD EPYC, \*\*2 cores\*\*/);
  assert.match(md, /shared 2-core box/);
  assert.match(md, /in 1500 s \(25 min\)/);
  assert.match(md, /Estimated beforehand: \*\*~22 min\*\* \(warm 15 min, migrate 7 min; the previous results' pace per run for `warm\/kill`; a guess for `warm\/5xx`; 28 s per lab up and down\); it took 25 min\./);
  assert.match(md, /synchronization_mode: sync/);
  assert.match(md, /shadow_flavor: warm/);
  assert.match(md, /The migrate lab's policy differs only in: `shadow_flavor: migrate`\./);
  assert.match(md, /http_error_rate > 50% for 3s or cpu > 70% for 10s/);
  assert.match(md, /\*\*One lab per shadow flavor\*\* \(warm, then migrate; one lab at a time\)/);
  assert.match(md, /\(up in 60 s median, max 80 s\)/);
  // Issue targets.
  assert.match(md, /\| crash, warm shadow: fault → first good < 2 s \| warm `kill` \| 2 \| 1200 ms \| 1400 ms \| 2\/2 \| median \*\*met\*\*; \*\*only 2 run\(s\)\*\* \(the issue asks for ≥ 5\) \|/);
  assert.match(md, /\| crash, cold boot: fault → first good < 5 s \| migrate `kill` \| 1 \| 4200 ms \| 4200 ms \| 1\/1 \| median \*\*met\*\*;/);
  assert.match(md, /\| planned or overload failover: gap < 1 s \| \(nothing ran that measures it\) \| 0 \| — \| — \| — \| \*\*not measured\*\* \|/);
  assert.match(md, /\| planned or overload failover by live migration: gap < 100 ms \| migrate `cpu` \| 1 \| 70 ms \|/);
  assert.match(md, /\| zero acknowledged records lost in sync mode \| every run \| 7 \| — \| — \| — \| \*\*0\*\* of 700 acked lost; final logs: 0 of 700 missing: \*\*met\*\* \|/);
  // Per flavor and fault.
  assert.match(md, /\| warm \| `kill` \| warm \| 2\/2 \| \*\*1300 ms\*\* \(max 1500, n=2\) \| \*\*1200 ms\*\* \(max 1400, n=2\) \| 200 \| \*\*0\*\* \| crash, warm shadow: fault → first good < 2 s: median \*\*met\*\*, 2\/2 runs within \|/);
  assert.match(md, /\| warm \| `5xx` \| — \| 0\/2 \(given up\) \| — \| — \|.*HAProxy's answers for 3 s \|/);
  assert.match(md, /\| warm \| `lost-host` \| warm \| 1\/1 \|.*15 s lease \+ 2 s grace \|/);
  assert.match(md, /\| migrate \| `kill` \| cold \| 1\/1 \|.*crash, cold boot: fault → first good < 5 s: median \*\*met\*\*, 1\/1 runs within \|/);
  assert.match(md, /\| migrate \| `cpu` \| migrate \| 1\/1 \| \*\*70 ms\*\*.*by live migration: gap < 100 ms: median \*\*met\*\*, 1\/1 runs within \|/);
  // Faults described, 5xx from HAProxy's counters.
  assert.match(md, /`5xx` `POST \/fault\?mode=5xx` \(every answer is a 500: detected from HAProxy's 5xx\/request\ncounters/);
  assert.match(md, /`cpu` an overload,\n`GET \/load\?cpu=100&seconds=600`/);
  assert.match(md, /`lost-host` `ip link set <the primary's/);
  // Old QEMU, runs, phases and steps.
  assert.match(md, /QEMU process was gone after every failover \(5\), checked by pid \(within 3 s of the check; for `lost-host` within 60 s: gone by 21\.0 s median after the failover, max 21\.0 s\)/);
  assert.match(md, /- warm `lost-host` round 1: h1 → h2, warm: gap 19100 ms.*; after: ip link set umbra-h1-br up; old QEMU gone by 21\.0 s after the failover/);
  assert.match(md, /- migrate `cpu` round 1: h1 → h2, migrate: gap 70 ms.*after: the load moved with the RAM/);
  assert.match(md, /- warm `5xx` round 1: h1 → —: \*\*not-failed-over\*\*: no failover started within 90 s; alerts: shadow_not_synchronized: held; 100 acked, lost 0; then: POST \/fault\?mode=none → 200/);
  assert.match(md, /\| Flavor \| Fault \| Detection \| Pipeline \| Fault → traffic switched \| Path \|/);
  assert.match(md, /\| Flavor \| Fault \| fence \| promote \| traffic \|/);
  assert.match(md, /\| migrate \| `cpu` \| — \| 900 \/ 900 \| — \|/);
  // What did not fail over.
  assert.match(md, /- warm `5xx` round 1: not-failed-over: no failover started within 90 s; alerts: shadow_not_synchronized: held/);
  assert.match(md, /- warm: fo-x \(done\), 3\.5 s after the fault of `5xx` round 2: http_error_rate > 50% for 3s/);
  assert.match(md, /\*\*0\*\* of 700 missing/);
  assert.doesNotMatch(md, /stopped early/);
  assert.doesNotMatch(md, /Peer: QEMU alone/); // none ran
  for (const h of ['## 1. Issue 5\'s targets', '## 2. Per flavor and fault', '## 3. Where the time goes', '## 4. Runs', '## 5. What did not fail over']) assert.ok(md.includes(h), h);
});

test('fmtMedMax', () => {
  assert.equal(fmtMedMax(null), '—');
  assert.equal(fmtMedMax(summaryOf([10.4, 30.6, 20])), '**20 ms** (max 31, n=3)');
});

test('renderReport names the lab-per-run mode and each run\'s lab, an old QEMU left over, a loss, an abort', () => {
  const runs = [run({ lab: 2, round: 1, oldPidAlive: true, undo: 'the old QEMU 123 was still there after the failover: SIGKILLed' }), run({ lab: 3, round: 2, lost: 1, note: 'the record read failed at promote first, then done once the request ended' })];
  const plan = faultPlan(['warm'], { faults: 'kill' });
  const md = renderReport({
    machine: { ...machine, memTotalMiB: 1, loadStart: [1, 1, 1], loadEnd: null },
    totalS: 60,
    config: config({ runs: 2, plan, labPerRun: true, policies: { warm: benchPolicy() } }),
    lab: { labs: [{ no: 2, flavor: 'warm', upS: 20 }, { no: 3, flavor: 'warm', upS: 30 }], traffic: null },
    runs,
    faults: [summarizeFault('warm', 'kill', runs, false)],
    unexpected: [],
    finalLog: { acked: 200, missing: null, sample: [] },
    aborted: 'lab 3: umbra lab up exited 1',
  });
  assert.match(md, /\*\*A fresh lab for every run\*\* \(2 labs\)/);
  assert.match(md, /up in 25 s median, max 30 s/);
  assert.match(md, /- warm `kill` round 1 \(lab 2\)/);
  assert.match(md, /\*\*the old QEMU was still alive\*\* \(the old QEMU 123 was still there after the failover: SIGKILLed\)/);
  assert.match(md, /\*\*was still there after 1 of 2 failovers\*\* \(warm `kill` round 1; the benchmark killed it\)/);
  assert.match(md, /note: the record read failed at promote first/);
  assert.match(md, /\*\*The benchmark stopped early\*\*: lab 3: umbra lab up exited 1/);
  assert.match(md, /\*\*1\*\* of 200 acked lost; final logs unread: \*\*missed\*\*/);
  assert.doesNotMatch(md, /policy differs/);
  assert.doesNotMatch(md, /Estimated beforehand/);
});

test('placeAfterRun: the last run of the same lab before it', () => {
  const runs = [run({ lab: 1, round: 1, faultAt: 1000, failoverEndedAt: 3000 }), run({ lab: 1, fault: 'hang', round: 1, faultAt: 20_000, failoverEndedAt: null }), run({ lab: 2, round: 2, faultAt: 30_000 })];
  assert.equal(placeAfterRun({ lab: 1, startedAt: 8000 }, runs), '5.0 s after the failover of `kill` round 1 ended');
  assert.equal(placeAfterRun({ lab: 1, startedAt: 40_000 }, runs), '20.0 s after the fault of `hang` round 1');
  assert.equal(placeAfterRun({ lab: 2, startedAt: 500 }, runs), 'before the first run');
});

test('peerRows and the peer section: QEMU alone (migration, stop/cont) beside Umbra\'s live migrations', () => {
  const peer = {
    accel: 'tcg',
    error: null,
    rounds: [
      { kind: /** @type {const} */ ('migration'), gapMs: 300, stoppedMs: 90, resumeToFirstGoodMs: 200, acked: 140 },
      { kind: /** @type {const} */ ('pause'), gapMs: 110, stoppedMs: 90, resumeToFirstGoodMs: 12, acked: 120 },
      { kind: /** @type {const} */ ('migration'), gapMs: 260, stoppedMs: 80, resumeToFirstGoodMs: 170, acked: 150 },
      { kind: /** @type {const} */ ('pause'), gapMs: 100, stoppedMs: 80, resumeToFirstGoodMs: 9, acked: 121 },
    ],
  };
  const runs = [
    run({ flavor: 'migrate', fault: 'planned', path: 'migrate', gapMs: 320 }),
    run({ flavor: 'migrate', fault: 'planned', path: 'migrate', gapMs: 280, round: 2 }),
    run({ flavor: 'migrate', fault: 'kill', path: 'cold', gapMs: 4000 }),
    run({ flavor: 'migrate', fault: 'cpu', path: 'migrate', outcome: 'not-failed-over', gapMs: null }),
  ];
  const rows = peerRows(peer, runs);
  assert.deepEqual(rows.map((r) => r.what), ['QEMU alone: live migration, ideal client', 'QEMU alone: the same guest paused and resumed (stop/cont)', 'Umbra, `planned` by live migration (through HAProxy)']);
  assert.equal(rows[0].gap?.median, 280);
  assert.equal(rows[0].firstGood?.max, 200);
  assert.equal(rows[1].firstGood?.median, 10.5);
  assert.equal(rows[2].gap?.n, 2); // the cold boot and the run that did not fail over are not live migrations
  const plan = faultPlan(['migrate'], { migrate: 'kill,planned' });
  const md = renderReport({
    machine,
    totalS: 100,
    config: config({ runs: 2, plan }),
    lab: { labs: [{ no: 1, flavor: 'migrate', upS: 10 }], traffic: null },
    runs,
    faults: plan.flatMap((p) => p.faults.map((f) => summarizeFault(p.flavor, f, runs, false))),
    unexpected: [],
    finalLog: { acked: 0, missing: 0, sample: [] },
    aborted: null,
    peer: { ...peer, error: 'migration 3: the destination did not resume within 60 s' },
  });
  assert.match(md, /## 2b\. Peer: QEMU alone/);
  assert.match(md, /\| QEMU alone: live migration, ideal client \| \*\*280 ms\*\* \(max 300, n=2\) \| \*\*85 ms\*\* \(max 90, n=2\) \| \*\*185 ms\*\* \(max 200, n=2\) \|/);
  assert.match(md, /\| Umbra, `planned` by live migration \(through HAProxy\) \| \*\*300 ms\*\* \(max 320, n=2\) \| — \| — \|/);
  assert.match(md, /\*\*The peer stopped early\*\*: migration 3: the destination did not resume within 60 s\./);
  assert.ok(md.indexOf('## 2b.') < md.indexOf('## 3. Where the time goes'));
});
