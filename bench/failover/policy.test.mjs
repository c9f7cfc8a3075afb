// Unit tests of the failover benchmark's policy. Run: node --test bench/failover/ (after a build: the check uses dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../dist/config/index.js';
import { BENCH_CRITERIA, benchPolicy } from './policy.mjs';

test('the bench policy is a valid policy file with the settings the benchmark relies on', () => {
  const r = parseConfigText(benchPolicy());
  assert.ok(r.ok, JSON.stringify(r.ok ? null : r.errors));
  const p = r.config.policies;
  assert.equal(p.synchronization_mode, 'sync');
  assert.equal(p.shadow_flavor, 'warm');
  assert.equal(p.max_data_loss, 0);
  assert.equal(p.cooldown, 1);
  assert.equal(p.probation, 1);
  assert.deepEqual(p.max_failovers, { count: 1000, window: 3600 });
  assert.equal(p.failover_criteria, BENCH_CRITERIA);
  assert.match(BENCH_CRITERIA, /state in \[crashed, panicked, hung\]/);
  assert.match(BENCH_CRITERIA, /host_lost/);
  assert.match(BENCH_CRITERIA, /http_error_rate > 50% for 3s/);
  assert.match(BENCH_CRITERIA, /cpu > 70% for 10s/);
});

test('the migrate flavor\'s policy is valid with the default criteria', () => {
  const r = parseConfigText(benchPolicy({ flavor: 'migrate' }));
  assert.ok(r.ok, JSON.stringify(r.ok ? null : r.errors));
  assert.equal(r.config.policies.shadow_flavor, 'migrate');
  assert.equal(r.config.policies.failover_criteria, BENCH_CRITERIA);
});

test('another criteria or flavor is written as given', () => {
  const r = parseConfigText(benchPolicy({ criteria: 'host_lost or probe_failures >= 8', flavor: 'migrate' }));
  assert.ok(r.ok);
  assert.equal(r.config.policies.failover_criteria, 'host_lost or probe_failures >= 8');
  assert.equal(r.config.policies.shadow_flavor, 'migrate');
});
