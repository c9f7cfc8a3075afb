// Unit tests of the shadow benchmark's load helpers (pure parts, and the poller on a fake). Run: node --test bench/shadow/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineOf, pollEvery } from './load.mjs';

test('lineOf makes lines of the asked length with a unique head', () => {
  const filler = 'x'.repeat(5000);
  const a = lineOf('w1', 7, 4095, filler);
  assert.equal(a.length, 4095);
  assert.ok(a.startsWith('w1-7:x'));
  // One head is never inside another (the probe searches for heads).
  assert.equal(lineOf('w1', 112, 40, filler).indexOf('w1-12:'), -1);
  assert.equal(lineOf('w1', 1234567, 3, filler), 'w1-1234567:'); // the head is kept whole
});

test('pollEvery keeps values and counts failures until stopped', async () => {
  let n = 0;
  const p = pollEvery(async () => {
    n++;
    if (n === 2) throw new Error('boom');
    return n;
  }, 5);
  await new Promise((r) => setTimeout(r, 40));
  const { values, failures } = await p.stop();
  assert.equal(failures, 1);
  assert.ok(values.length >= 2);
  assert.equal(values[0], 1);
  assert.ok(!values.includes(2));
});
