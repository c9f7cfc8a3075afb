// Unit tests of the shadow benchmark's statistics. Run: node --test bench/shadow/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distribution, median, pairedRatios, percentile, ratio } from './stats.mjs';

test('percentile interpolates between ranks and leaves the input alone', () => {
  const xs = [40, 10, 30, 20];
  assert.equal(percentile(xs, 0), 10);
  assert.equal(percentile(xs, 100), 40);
  assert.equal(percentile(xs, 50), 25); // the mean of the middle two, like the median
  assert.equal(percentile(xs, 50), median(xs));
  assert.ok(Math.abs(percentile(xs, 95) - 38.5) < 1e-9); // rank 2.85 of 0..3: 30 + 0.85 * 10
  assert.deepEqual(xs, [40, 10, 30, 20]);
  assert.equal(percentile([7], 99), 7);
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
  assert.throws(() => percentile([1], NaN), RangeError);
});

test('distribution gives p50, p95, p99, max and mean', () => {
  const xs = Array.from({ length: 101 }, (_, i) => i); // 0..100: percentile p is p itself
  const d = distribution(xs);
  assert.equal(d.n, 101);
  assert.equal(d.p50, 50);
  assert.equal(d.p95, 95);
  assert.equal(d.p99, 99);
  assert.equal(d.max, 100);
  assert.equal(d.mean, 50);
  assert.throws(() => distribution([]), RangeError);
});

test('ratio refuses a non-positive base', () => {
  assert.equal(ratio(45, 90), 0.5);
  assert.ok(Number.isNaN(ratio(1, 0)));
});

test('pairedRatios divides round by round and skips missing rounds', () => {
  assert.deepEqual(pairedRatios([50, 90, undefined, 30], [100, 90, 80, 0]), [0.5, 1]);
  assert.deepEqual(pairedRatios([1, 2, 3], [2, 4]), [0.5, 0.5]);
});
