// Tests of origin choice and case building on small hand-made series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCases, pickOrigins, trainingCsv } from './cases.mjs';

test('origins: the last leaves exactly the horizon, spaced and ascending', () => {
  // n = 8640 (30 days), horizon 288, 4 origins 36 h apart, inside the last week (2016)
  assert.deepEqual(pickOrigins(8640, 288, 4, 432, 2016, 4032), [7056, 7488, 7920, 8352]);
});

test('origins outside the window or with too little training are refused', () => {
  assert.throws(() => pickOrigins(8640, 288, 5, 500, 2016, 4032), /beyond the last 2016/);
  assert.throws(() => pickOrigins(3000, 288, 2, 432, 2016, 4032), /need 4032/);
});

test('cases: training prefix, horizon times, NaN actuals where imputed, daily-naive scale', () => {
  const s = {
    t0: 1000,
    step: 10,
    values: Float64Array.from([1, 2, 3, 4, 3, 2, 1, 2, 9, 8]),
    imputed: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  };
  const [c0, c1] = buildCases('vm7', s, [6, 8], 2, 2);
  assert.equal(c0.id, 'vm7-o0');
  assert.equal(c1.id, 'vm7-o1');
  assert.deepEqual(Array.from(c0.train), [1, 2, 3, 4, 3, 2]);
  assert.deepEqual(c0.times, [1060, 1070]);
  assert.deepEqual(Array.from(c0.actual), [1, 2]);
  // lag 2 on [1,2,3,4,3,2]: 2 2 0 2 -> 1.5
  assert.equal(c0.scale, 1.5);
  assert.deepEqual(Array.from(c1.actual), [9, NaN]);
  // lag 2 on [1,2,3,4,3,2,1,2]: 2 2 0 2 2 0 -> 8/6
  assert.equal(c1.scale, 8 / 6);
  assert.equal(trainingCsv(c0), 'timestamp,value\n1000,1\n1010,2\n1020,3\n1030,4\n1040,3\n1050,2\n');
});
