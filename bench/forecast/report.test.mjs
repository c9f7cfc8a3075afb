// Tests of the target verdicts and the report's tables on a made-up result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestPeer, renderReport, verdicts } from './report.mjs';

/** @param {string} label @param {number} maseMean @param {number} msisMean @param {number} c80 @param {number} c95 @param {number} wall */
const method = (label, maseMean, msisMean, c80, c95, wall) => ({
  label,
  wallSeconds: wall,
  exitCode: 0,
  failed: [],
  aggregate: { cases: 2, maseMean, maseMedian: maseMean, msisMean, msisMedian: msisMean, coverage: { '80': c80, '95': c95 } },
});

test('best peer is the lowest mean among the peers, never Umbra', () => {
  const methods = { umbra: method('U', 0.1, 1, 80, 95, 1), snaive: method('s', 2, 30, 80, 95, 2), stlf: method('t', 0.9, 12, 80, 95, 10) };
  assert.deepEqual(bestPeer(methods, 'maseMean'), { name: 'stlf', value: 0.9 });
  assert.deepEqual(bestPeer(methods, 'msisMean'), { name: 'stlf', value: 12 });
});

test('verdicts: MASE needs 5 % below the best peer, coverage ±3 points, time vs stlf and prophet', () => {
  const methods = {
    umbra: method('U', 0.85, 11.9, 76.9, 98, 2),
    snaive: method('s', 2, 30, 80, 95, 2),
    stlf: method('t', 0.9, 12, 80, 95, 2),
    prophet: method('p', 1.2, 20, 85, 86, 199),
  };
  const v = verdicts(methods);
  assert.deepEqual(v.map((x) => x.pass), [true, true, false, true, true, false]);
  methods.umbra.aggregate.maseMean = 0.8551; // 0.9501 × best: fails
  methods.umbra.wallSeconds = 1.99; // prophet 100.0 ×: passes
  assert.deepEqual(verdicts(methods).map((x) => x.pass), [false, true, false, true, true, true]);
});

test('verdicts are n/a without Umbra', () => {
  const v = verdicts({ stlf: method('t', 0.9, 12, 80, 95, 2) });
  assert.ok(v.every((x) => x.pass === null));
});

test('report lists every method and a per-VM MASE row', () => {
  const md = renderReport({
    mode: 'quick',
    date: '2013-08-31T00:00:00Z',
    machine: { cpus: '2', cpuModel: 'cpu', memory: '1 GiB', loadavg: '0', os: 'os', node: '20', r: 'R', forecast: '8', prophet: '1' },
    setup: { vms: ['15'], originsPerVm: 1, spacingSteps: 432, horizonSteps: 288, stepSeconds: 300, levels: [80, 95], msisLevel: 95, dailyPeriod: 288, weeklyPeriod: 2016, command: 'umbra' },
    methods: { umbra: method('Umbra', 0.5, 5, 80, 95, 1), stlf: method('stlf', 1, 10, 80, 95, 2) },
    cases: [{ id: '15-o0', vm: '15', k: 0, originT: 0, trainLength: 10, scale: 1, imputedInTrain: 0, scores: { umbra: { mase: 0.5, msis95: 5, cov80: 0.8, cov95: 0.95 }, stlf: null } }],
  });
  assert.match(md, /Mode: quick/);
  assert.match(md, /\| Umbra \| 2 \| 0\.500 \| 0\.500 \| 5\.00 \| 5\.00 \| 80\.0 \| 95\.0 \| 1\.0 \|/);
  assert.match(md, /\| 15 \| 0\.500 \| – \|/);
});
