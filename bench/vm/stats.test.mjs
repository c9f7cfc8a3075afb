// Unit tests of the VM benchmark's statistics. Run: node --test bench/vm/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, perCallMs, summarize } from './stats.mjs';

test('median of odd and even counts, unsorted input left alone', () => {
  const xs = [5, 1, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
});

test('summarize keeps run order and finds the extremes', () => {
  assert.deepEqual(summarize([2400, 2100, 3900]), { n: 3, median: 2400, min: 2100, max: 3900, values: [2400, 2100, 3900] });
});

test('perCallMs turns µs readings into ms per call', () => {
  assert.deepEqual(perCallMs([1000, 5000], [1500, 7000]), [0.5, 2]);
  assert.throws(() => perCallMs([1], []), RangeError);
});
