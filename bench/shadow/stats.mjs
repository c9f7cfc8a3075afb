// @ts-check
/**
 * Statistics for the shadow benchmark: percentiles of samples (lag readings, latencies),
 * medians and summaries of repeated runs, and ratios to a baseline. Pure.
 */
import { median, summarize } from '../vm/stats.mjs';

export { median, summarize };

/** @typedef {import('../vm/stats.mjs').Summary} Summary */

/**
 * @typedef {object} Distribution
 * @property {number} n
 * @property {number} p50
 * @property {number} p95
 * @property {number} p99
 * @property {number} max
 * @property {number} mean
 */

/**
 * The `p`-th percentile of `xs` (0 ≤ p ≤ 100), interpolating linearly between the two
 * nearest ranks (NumPy's default, R's type 7): p50 of an even count is the mean of the middle two.
 * @param {readonly number[]} xs
 * @param {number} p
 * @returns {number}
 */
export function percentile(xs, p) {
  if (xs.length === 0) throw new RangeError('percentile of no values');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const s = [...xs].sort((a, b) => a - b);
  const h = ((s.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

/**
 * p50, p95, p99, max and mean of a sample.
 * @param {readonly number[]} xs
 * @returns {Distribution}
 */
export function distribution(xs) {
  if (xs.length === 0) throw new RangeError('distribution of no values');
  return {
    n: xs.length,
    p50: percentile(xs, 50),
    p95: percentile(xs, 95),
    p99: percentile(xs, 99),
    max: Math.max(...xs),
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
  };
}

/**
 * Ratio of `x` to `base` (NaN when the base is not positive).
 * @param {number} x
 * @param {number} base
 */
export function ratio(x, base) {
  return base > 0 ? x / base : NaN;
}

/**
 * Per-round ratios of a mode's figure to the baseline's figure in the same round (rounds
 * alternate the modes, so both saw about the same machine noise). Rounds where either figure
 * is missing are skipped.
 * @param {readonly (number | undefined)[]} values    the mode's figure per round
 * @param {readonly (number | undefined)[]} baseline  the baseline's figure per round
 * @returns {number[]}
 */
export function pairedRatios(values, baseline) {
  /** @type {number[]} */
  const out = [];
  for (let i = 0; i < Math.min(values.length, baseline.length); i++) {
    const v = values[i];
    const b = baseline[i];
    if (v === undefined || b === undefined || !(b > 0)) continue;
    out.push(v / b);
  }
  return out;
}
