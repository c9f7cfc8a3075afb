// Unit tests of the failover benchmark's polling helper. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from './session.mjs';

test('until returns the first truthy value, treating throws as "not yet"', async () => {
  let n = 0;
  const v = await until('three calls', async () => {
    n++;
    if (n === 1) throw new Error('not yet');
    return n >= 3 ? { n } : false;
  }, 2000, 5);
  assert.deepEqual(v, { n: 3 });
});

test('until names what it waited for and the last error when it times out', async () => {
  await assert.rejects(
    until('the moon', async () => {
      throw new Error('cloudy');
    }, 30, 5),
    /timed out after 0 s waiting for the moon: Error: cloudy/,
  );
});
