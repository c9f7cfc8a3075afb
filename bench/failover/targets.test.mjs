// Unit tests of the failover benchmark's targets per fault and path. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_KINDS } from './faults.mjs';
import { TARGETS, TARGET_KEYS, expectedPath, noTargetText, targetKey } from './targets.mjs';

test('the issue\'s targets: crash 2 s warm / 5 s cold to the first good answer; planned or overload 1 s / 100 ms by live migration of gap', () => {
  assert.deepEqual(TARGET_KEYS, ['crash-warm', 'crash-cold', 'planned', 'planned-migrate']);
  assert.deepEqual([TARGETS['crash-warm'].ms, TARGETS['crash-warm'].measure], [2000, 'faultToFirstGoodMs']);
  assert.deepEqual([TARGETS['crash-cold'].ms, TARGETS['crash-cold'].measure], [5000, 'faultToFirstGoodMs']);
  assert.deepEqual([TARGETS.planned.ms, TARGETS.planned.measure], [1000, 'gapMs']);
  assert.deepEqual([TARGETS['planned-migrate'].ms, TARGETS['planned-migrate'].measure], [100, 'gapMs']);
});

test('targetKey follows the path the failover took', () => {
  assert.equal(targetKey('kill', 'warm'), 'crash-warm');
  assert.equal(targetKey('panic', 'warm'), 'crash-warm');
  assert.equal(targetKey('kill', 'cold'), 'crash-cold');
  assert.equal(targetKey('kill', 'migrate'), null); // a dead primary is not migrated
  assert.equal(targetKey('planned', 'warm'), 'planned');
  assert.equal(targetKey('cpu', 'warm'), 'planned');
  assert.equal(targetKey('planned', 'cold'), 'planned');
  assert.equal(targetKey('planned', 'migrate'), 'planned-migrate');
  assert.equal(targetKey('cpu', 'migrate'), 'planned-migrate');
  for (const f of /** @type {const} */ (['hang', '5xx', 'lost-host'])) for (const p of ['warm', 'migrate', 'cold', null]) assert.equal(targetKey(f, p), null);
  assert.equal(targetKey('kill', null), null);
});

test('expectedPath: warm always; migrate moves a running primary and cold boots any other', () => {
  for (const f of FAULT_KINDS) assert.equal(expectedPath('warm', f), 'warm');
  assert.equal(expectedPath('migrate', 'kill'), 'cold');
  assert.equal(expectedPath('migrate', 'panic'), 'cold');
  assert.equal(expectedPath('migrate', 'hang'), 'cold');
  assert.equal(expectedPath('migrate', 'lost-host'), 'cold');
  assert.equal(expectedPath('migrate', 'cpu'), 'migrate');
  assert.equal(expectedPath('migrate', 'planned'), 'migrate');
  assert.equal(expectedPath('migrate', '5xx'), 'migrate');
});

test('the faults with no target say what bounds them', () => {
  assert.match(noTargetText('hang', 'warm'), /none in the issue.*5 s of monitor silence/);
  assert.match(noTargetText('5xx', 'warm'), /HAProxy.*3 s/);
  assert.match(noTargetText('lost-host', 'cold'), /15 s lease \+ 2 s grace/);
  assert.equal(noTargetText('kill', 'migrate'), 'none for path migrate');
});
