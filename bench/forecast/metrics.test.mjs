// Unit tests of the benchmark metrics against hand-computed values.
// Run: node --test bench/forecast/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregate,
  coverageCounts,
  intervalScore,
  mase,
  medianOf,
  msis,
  scoreCase,
  seasonalNaiveScale,
} from './metrics.mjs';

const f64 = (/** @type {number[]} */ xs) => Float64Array.from(xs);
const close = (/** @type {number} */ a, /** @type {number} */ b) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('seasonal naive scale: mean |y[t] - y[t-m]| over t >= m', () => {
  // lag 2: |3-1| |4-2| |3-3| |2-4| |1-3| |2-2| = 2 2 0 2 2 0 -> 8/6
  close(seasonalNaiveScale(f64([1, 2, 3, 4, 3, 2, 1, 2]), 2), 8 / 6);
  // lag 1: 1 1 1 1 1 1 1 -> 1
  close(seasonalNaiveScale(f64([1, 2, 3, 4, 3, 2, 1, 2]), 1), 1);
  assert.ok(Number.isNaN(seasonalNaiveScale(f64([1, 2]), 2)));
});

test('seasonal naive scale leaves out pairs touching an imputed point', () => {
  // index 4 imputed: drops t=4 (4 vs 2) and t=6 (6 vs 4); left 2, 2, 2, 0 -> 6/4
  const skip = Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0]);
  close(seasonalNaiveScale(f64([1, 2, 3, 4, 3, 2, 1, 2]), 2, skip), 1.5);
});

test('MASE divides the MAE by the scale and skips NaN actuals', () => {
  close(mase(f64([2, 4]), f64([3, 3]), 4 / 3), 0.75);
  close(mase(f64([2, NaN, 4]), f64([3, 100, 3]), 2), 0.5);
});

test('interval score: width plus 2/alpha times the miss', () => {
  close(intervalScore(2, 1, 3, 0.05), 2);
  close(intervalScore(10, 1, 8, 0.05), 7 + 40 * 2);
  close(intervalScore(5, 6, 7, 0.05), 1 + 40 * 1);
  close(intervalScore(5, 6, 7, 0.2), 1 + 10 * 1);
});

test('MSIS (M4) is the mean interval score over the scale', () => {
  // scores 2, 87, 41 -> mean 130/3, scale 2
  close(msis(f64([2, 10, 5]), f64([1, 1, 6]), f64([3, 8, 7]), 0.05, 2), 130 / 3 / 2);
});

test('coverage counts bounds as inside and skips NaN actuals', () => {
  assert.deepEqual(coverageCounts(f64([2, 10, 5, 3, NaN]), f64([1, 1, 6, 1, 0]), f64([3, 8, 7, 3, 0])), { inside: 2, total: 4 });
});

test('median of odd and even counts ignores NaN', () => {
  assert.equal(medianOf([3, 1, 2]), 2);
  assert.equal(medianOf([4, 1, 3, 2, NaN]), 2.5);
  assert.ok(Number.isNaN(medianOf([])));
});

test('aggregate: mean/median of case scores, coverage pooled over points', () => {
  const a = scoreCase(
    f64([2, 10, 5]),
    { mean: f64([3, 3, 3]), intervals: { '80': [f64([1, 1, 6]), f64([3, 8, 7])], '95': [f64([1, 1, 6]), f64([3, 8, 7])] } },
    2,
    [80, 95],
    95,
  );
  close(a.mase, (1 + 7 + 2) / 3 / 2);
  close(a.msis95, 130 / 3 / 2);
  const b = scoreCase(
    f64([1, 1]),
    { mean: f64([1, 2]), intervals: { '80': [f64([0, 0]), f64([2, 2])], '95': [f64([0, 0]), f64([2, 2])] } },
    1,
    [80, 95],
    95,
  );
  close(b.mase, 0.5);
  close(b.msis95, 2);
  const agg = aggregate([a, b], [80, 95]);
  assert.equal(agg.cases, 2);
  close(agg.maseMean, (10 / 6 + 0.5) / 2);
  close(agg.maseMedian, (10 / 6 + 0.5) / 2);
  close(agg.msisMean, (130 / 6 + 2) / 2);
  // pooled: 1 of 3 inside plus 2 of 2 inside -> 3/5, not the mean of 33.3 % and 100 %
  close(agg.coverage['80'], 60);
  close(agg.coverage['95'], 60);
});
