// @ts-check
/**
 * What the benchmark runs: the shadow flavors (one lab each, one after the other), each with its
 * fault list, and an estimate of how long that takes from the pace of an earlier run. Pure.
 */
import { median } from '../vm/stats.mjs';
import { parseFaults } from './faults.mjs';

/** @typedef {import('./faults.mjs').FaultKind} FaultKind */
/** @typedef {import('./targets.mjs').Flavor} Flavor */

/** Every shadow flavor, in the benchmark's order. */
export const FLAVORS = /** @type {const} */ (['warm', 'migrate']);

/**
 * The faults each flavor runs by default. A migrate shadow cold boots from the synchronized disk
 * when the primary is dead (`kill`) and live-migrates a running one (`cpu`, `planned`): those
 * three cover its two paths; the detection-bound faults are the warm lab's.
 * @type {Readonly<Record<Flavor, readonly FaultKind[]>>}
 */
export const DEFAULT_FAULTS = {
  warm: ['kill', 'panic', 'hang', '5xx', 'cpu', 'lost-host', 'planned'],
  migrate: ['kill', 'cpu', 'planned'],
};

/**
 * Parses `--flavors warm,migrate`.
 * @param {string} text
 * @returns {Flavor[]}
 */
export function parseFlavors(text) {
  const out = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (out.length === 0) throw new RangeError('--flavors: name at least one flavor');
  for (const f of out) {
    if (!(/** @type {readonly string[]} */ (FLAVORS)).includes(f)) throw new RangeError(`--flavors: unknown flavor "${f}" (known: ${FLAVORS.join(', ')})`);
  }
  if (new Set(out).size !== out.length) throw new RangeError('--flavors: a flavor is named twice');
  return /** @type {Flavor[]} */ (out);
}

/**
 * @typedef {object} FlavorPlan
 * @property {Flavor} flavor
 * @property {FaultKind[]} faults  in this order within a round
 */

/**
 * The fault list of each flavor: `--faults-<flavor>` when given, else `--faults` (every flavor),
 * else the flavor's default.
 * @param {readonly Flavor[]} flavors
 * @param {{ faults?: string, warm?: string, migrate?: string }} given  the options' texts
 * @returns {FlavorPlan[]}
 */
export function faultPlan(flavors, given) {
  return flavors.map((flavor) => {
    const own = given[flavor];
    if (own !== undefined) return { flavor, faults: parseFaults(own, `--faults-${flavor}`) };
    if (given.faults !== undefined) return { flavor, faults: parseFaults(given.faults) };
    return { flavor, faults: [...DEFAULT_FAULTS[flavor]] };
  });
}

/**
 * Seconds per run (fault to the next run's fault: the run, the new shadow, the quiet period)
 * used where no earlier run measured the (flavor, fault). The warm kill, panic, hang, 5xx and
 * planned figures are bench/results/failover.md of 2026-11-29 (medians: 14, 25, 22, 29, 14 s;
 * 5xx less 3 s for its shorter criterion); the others are guesses from their detection bound
 * (cpu: 10 s of criterion; lost-host: 17 s of lease and grace, then the host's return and the
 * orphan sweep) and, for migrate, a cold boot or a migration under TCG instead of a promotion.
 * @type {Readonly<Record<Flavor, Readonly<Record<FaultKind, number>>>>}
 */
export const PACE_GUESS_S = {
  warm: { kill: 14, panic: 25, hang: 22, '5xx': 26, cpu: 27, 'lost-host': 50, planned: 14 },
  migrate: { kill: 22, panic: 30, hang: 30, '5xx': 28, cpu: 30, 'lost-host': 55, planned: 18 },
};

/**
 * @typedef {object} PastRun  the fields of an earlier result's runs the pace is read from
 * @property {number} lab
 * @property {string} fault
 * @property {string} [flavor]  absent in results from before the flavors: warm
 * @property {number} faultAt
 */

/**
 * The median seconds per run of each (flavor, fault) in an earlier result: from a run's fault
 * to the next run's fault in the same lab (a lab's last run has no successor and is skipped).
 * @param {readonly PastRun[]} runs
 * @returns {Map<string, number>}  keyed `flavor/fault`
 */
export function paceOf(runs) {
  /** @type {Map<string, number[]>} */
  const gaps = new Map();
  for (let i = 0; i + 1 < runs.length; i++) {
    const a = runs[i];
    const b = runs[i + 1];
    if (a.lab !== b.lab || !(b.faultAt > a.faultAt)) continue;
    const k = `${a.flavor ?? 'warm'}/${a.fault}`;
    gaps.set(k, [...(gaps.get(k) ?? []), (b.faultAt - a.faultAt) / 1000]);
  }
  return new Map([...gaps].map(([k, v]) => [k, median(v)]));
}

/**
 * @typedef {object} Estimate
 * @property {number} totalS
 * @property {Record<string, number>} perFlavorS  runs and lab up/down per flavor
 * @property {string[]} measured  `flavor/fault` whose pace an earlier run measured
 * @property {string[]} guessed   `flavor/fault` taken from PACE_GUESS_S
 * @property {number} labS        seconds per lab up and down
 */

/**
 * How long the benchmark will take: per flavor, rounds × the pace of each fault, plus a lab up
 * and down (per run with --lab-per-run).
 * @param {readonly FlavorPlan[]} plan
 * @param {number} rounds
 * @param {{ pace?: Map<string, number>, labS?: number, labPerRun?: boolean }} [o]
 * @returns {Estimate}
 */
export function estimate(plan, rounds, o = {}) {
  const pace = o.pace ?? new Map();
  const labS = o.labS ?? 60;
  /** @type {Record<string, number>} */
  const perFlavorS = {};
  /** @type {Set<string>} */
  const measured = new Set();
  /** @type {Set<string>} */
  const guessed = new Set();
  for (const { flavor, faults } of plan) {
    let s = o.labPerRun ? rounds * faults.length * labS : labS;
    for (const fault of faults) {
      const k = `${flavor}/${fault}`;
      const p = pace.get(k);
      (p === undefined ? guessed : measured).add(k);
      s += rounds * (p ?? PACE_GUESS_S[flavor][fault]);
    }
    perFlavorS[flavor] = s;
  }
  return { totalS: Object.values(perFlavorS).reduce((a, b) => a + b, 0), perFlavorS, measured: [...measured], guessed: [...guessed], labS };
}
