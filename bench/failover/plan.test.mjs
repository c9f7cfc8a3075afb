// Unit tests of the failover benchmark's plan: flavors, fault lists, the time estimate. Run: node --test bench/failover/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_KINDS } from './faults.mjs';
import { DEFAULT_FAULTS, FLAVORS, PACE_GUESS_S, estimate, faultPlan, paceOf, parseFlavors } from './plan.mjs';

test('parseFlavors keeps the order and rejects unknown or repeated names', () => {
  assert.deepEqual(parseFlavors('warm,migrate'), ['warm', 'migrate']);
  assert.deepEqual(parseFlavors(' migrate '), ['migrate']);
  assert.throws(() => parseFlavors('warm,hot'), /--flavors: unknown flavor "hot"/);
  assert.throws(() => parseFlavors('warm,warm'), /twice/);
  assert.throws(() => parseFlavors(','), /at least one/);
});

test('faultPlan: the defaults, --faults for every flavor, --faults-<flavor> over it', () => {
  assert.deepEqual(faultPlan(['warm', 'migrate'], {}), [
    { flavor: 'warm', faults: ['kill', 'panic', 'hang', '5xx', 'cpu', 'lost-host', 'planned'] },
    { flavor: 'migrate', faults: ['kill', 'cpu', 'planned'] },
  ]);
  assert.deepEqual(faultPlan(['migrate', 'warm'], { faults: 'planned,kill' }), [
    { flavor: 'migrate', faults: ['planned', 'kill'] },
    { flavor: 'warm', faults: ['planned', 'kill'] },
  ]);
  assert.deepEqual(faultPlan(['warm', 'migrate'], { faults: 'kill', migrate: 'cpu' }), [
    { flavor: 'warm', faults: ['kill'] },
    { flavor: 'migrate', faults: ['cpu'] },
  ]);
  assert.throws(() => faultPlan(['warm'], { warm: 'kill,oops' }), /--faults-warm: unknown fault "oops"/);
  // The defaults are not shared with the plan.
  const p = faultPlan(['warm'], {});
  p[0].faults.pop();
  assert.equal(DEFAULT_FAULTS.warm.length, 7);
  for (const fl of FLAVORS) for (const f of FAULT_KINDS) assert.ok(PACE_GUESS_S[fl][f] > 0);
});

test('paceOf: median seconds from a run\'s fault to the next one in the same lab', () => {
  const runs = [
    { lab: 1, fault: 'kill', faultAt: 0 },
    { lab: 1, fault: 'hang', faultAt: 14_000 },
    { lab: 1, fault: 'kill', faultAt: 36_000 },
    { lab: 1, fault: 'hang', faultAt: 52_000 },
    { lab: 2, flavor: 'migrate', fault: 'kill', faultAt: 60_000 }, // another lab: no gap from the hang before
    { lab: 2, flavor: 'migrate', fault: 'cpu', faultAt: 80_000 },
  ];
  const p = paceOf(runs);
  assert.equal(p.get('warm/kill'), 15); // 14 and 16
  assert.equal(p.get('warm/hang'), 22);
  assert.equal(p.get('migrate/kill'), 20);
  assert.equal(p.has('migrate/cpu'), false); // the lab's last run
  assert.equal(paceOf([]).size, 0);
});

test('estimate: rounds × pace per fault (measured, else guessed), plus the labs', () => {
  const plan = faultPlan(['warm', 'migrate'], { warm: 'kill,cpu', migrate: 'planned' });
  const e = estimate(plan, 5, { pace: new Map([['warm/kill', 10]]), labS: 30 });
  assert.equal(e.perFlavorS.warm, 30 + 5 * 10 + 5 * PACE_GUESS_S.warm.cpu);
  assert.equal(e.perFlavorS.migrate, 30 + 5 * PACE_GUESS_S.migrate.planned);
  assert.equal(e.totalS, e.perFlavorS.warm + e.perFlavorS.migrate);
  assert.deepEqual(e.measured, ['warm/kill']);
  assert.deepEqual(e.guessed, ['warm/cpu', 'migrate/planned']);
  // A lab per run.
  const one = estimate(faultPlan(['warm'], { faults: 'kill' }), 3, { pace: new Map([['warm/kill', 10]]), labS: 20, labPerRun: true });
  assert.equal(one.totalS, 3 * 20 + 3 * 10);
  // The default plan with nothing measured stays under an hour.
  assert.ok(estimate(faultPlan(['warm', 'migrate'], {}), 5).totalS < 3600);
});
