// Unit tests of the failover benchmark's measurements. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failoverPhases, missingLines, outage, stepTimings, whyNot } from './measure.mjs';

test('outage: last good at or before the fault to the first good after it', () => {
  const o = outage([900, 1000, 1020, 3000, 3020], 1010, 3000);
  assert.deepEqual(o, { lastGoodBefore: 1020, firstGoodAfter: 3000, gapMs: 1980, faultToFirstGoodMs: 1990 });
});

test('outage: a response already on its way when the fault hit is not the recovery', () => {
  // 1000 before the fault, 1005 a few ms after it (in flight), then nothing until 2500.
  const o = outage([980, 1000, 1005, 2500, 2520], 1001, 2400);
  assert.equal(o.lastGoodBefore, 1005);
  assert.equal(o.firstGoodAfter, 2500);
  assert.equal(o.gapMs, 1495);
  assert.equal(o.faultToFirstGoodMs, 1499);
});

test('outage: responses after the failover ended are not considered (a later hiccup is not the outage)', () => {
  // Outage 1000→2000; failover ended at 1900; a longer pause later (3000→6000) is ignored.
  const o = outage([1000, 2000, 2020, 3000, 6000], 1001, 1900);
  assert.equal(o.gapMs, 1000);
  assert.equal(o.firstGoodAfter, 2000);
});

test('outage: no good response after the fault, or none before it', () => {
  assert.deepEqual(outage([500, 900], 1000, null), { lastGoodBefore: 900, firstGoodAfter: null, gapMs: null, faultToFirstGoodMs: null });
  // Nothing before the fault: the gap is measured from the fault.
  assert.deepEqual(outage([1600, 1620], 1000, 1500), { lastGoodBefore: null, firstGoodAfter: 1600, gapMs: 600, faultToFirstGoodMs: 600 });
  // Input order does not matter, and is left alone.
  const xs = [3000, 900, 1000];
  assert.equal(outage(xs, 1000, null).gapMs, 2000);
  assert.deepEqual(xs, [3000, 900, 1000]);
});

test('missingLines matches whole lines only', () => {
  const log = 'a-1\na-10\r\na-2\n';
  assert.deepEqual(missingLines(['a-1', 'a-10', 'a-2', 'a-3', 'a-'], log), ['a-3', 'a-']);
  assert.deepEqual(missingLines([], ''), []);
});

test('stepTimings and failoverPhases from a failover record', () => {
  const f = {
    startedAt: 10_400,
    endedAt: 12_000,
    steps: [
      { name: 'fence', startedAt: 10_400, endedAt: 10_500, ok: true, detail: '' },
      { name: 'traffic', startedAt: 11_000, endedAt: 11_050, ok: true, detail: '' },
      { name: 'retire_old', startedAt: 11_050, endedAt: null, ok: null, detail: '' },
    ],
  };
  assert.deepEqual(stepTimings(f.steps), [
    { name: 'fence', ms: 100, ok: true },
    { name: 'traffic', ms: 50, ok: true },
    { name: 'retire_old', ms: null, ok: null },
  ]);
  assert.deepEqual(failoverPhases(f, 10_000), { detectMs: 400, pipelineMs: 1600, faultToTrafficMs: 1050, faultToEndMs: 2000 });
  assert.deepEqual(failoverPhases({ startedAt: 5, endedAt: null, steps: [] }, 0), { detectMs: 5, pipelineMs: null, faultToTrafficMs: null, faultToEndMs: null });
});

test('whyNot names the failed step, else the alerts, else what was waited for', () => {
  const steps = [{ name: 'promote', startedAt: 0, endedAt: 1, ok: false, detail: 'promotion failed: boom' }];
  assert.equal(whyNot({ state: 'failed', steps }, [], 'x'), 'failover failed at promote: promotion failed: boom');
  assert.equal(whyNot(null, [{ kind: 'shadow_not_synchronized', summary: 'held' }], 'no failover within 90 s'), 'no failover within 90 s; alerts: shadow_not_synchronized: held');
  assert.equal(whyNot(null, [], 'no failover within 90 s'), 'no failover within 90 s');
});
