/**
 * A forecast step's predictive distribution, rebuilt from what the profiler gives: the mean and,
 * per interval level L, [lower, upper]. Pure.
 *
 * Quantile knots: the mean is taken as the median (p = 0.5); the L % interval's bounds as the
 * (1 − L/100)/2 and 1 − (1 − L/100)/2 quantiles (80 % → 0.10 / 0.90, 95 % → 0.025 / 0.975).
 * Between knots the CDF is linear (a piecewise-uniform density). Beyond the outermost knots the
 * tails are exponential, scaled by the width of the outermost segment on that side:
 * `1 − F(x) = (1 − p_hi) · exp(−(x − q_hi) / (q_hi − q_prev))` above, the mirror below. For a
 * normal forecast that tail is heavier than the normal's (conservative: a rare breach is
 * overestimated, never called impossible), and loads do have heavier-than-normal tails.
 * Degenerate cases: a collapsed segment is a jump (an atom); a point with no interval is a point
 * mass at its mean.
 */
import type { ForecastPoint } from '../forecast/types.js';

/** One (value, cumulative probability) knot. */
export interface Knot {
  q: number;
  p: number;
}

/**
 * The quantile knots of a forecast point, ascending in p. Values are made non-decreasing (a
 * running maximum) should an interval not contain the mean; non-finite values are dropped.
 */
export function knotsOf(point: Pick<ForecastPoint, 'mean' | 'intervals'>): Knot[] {
  const knots: Knot[] = [];
  if (Number.isFinite(point.mean)) knots.push({ q: point.mean, p: 0.5 });
  for (const [level, bounds] of Object.entries(point.intervals ?? {})) {
    const l = Number(level);
    if (!(l > 0 && l < 100) || !bounds) continue;
    const tail = (100 - l) / 200; // exact for whole-percent levels
    if (Number.isFinite(bounds[0])) knots.push({ q: bounds[0], p: tail });
    if (Number.isFinite(bounds[1])) knots.push({ q: bounds[1], p: 1 - tail });
  }
  knots.sort((a, b) => a.p - b.p || a.q - b.q);
  for (let i = 1; i < knots.length; i++) if (knots[i].q < knots[i - 1].q) knots[i] = { q: knots[i - 1].q, p: knots[i].p };
  return knots;
}

/**
 * F(x) = P(X ≤ x) (right-continuous); with `left`, F(x−) = P(X < x). Knots as from
 * {@link knotsOf}; an empty list gives NaN.
 */
export function cdf(knots: readonly Knot[], x: number, left = false): number {
  const n = knots.length;
  if (n === 0) return NaN;
  const below = (q: number) => (left ? q < x : q <= x);
  const first = knots[0];
  const last = knots[n - 1];
  if (!below(first.q)) {
    // Lower tail.
    const s = n >= 2 ? knots[1].q - first.q : 0;
    return s > 0 ? first.p * Math.exp(-(first.q - x) / s) : 0;
  }
  // The last knot at or below x.
  let i = n - 1;
  while (i > 0 && !below(knots[i].q)) i--;
  if (i === n - 1) {
    const s = n >= 2 ? last.q - knots[n - 2].q : 0;
    return s > 0 ? 1 - (1 - last.p) * Math.exp(-(x - last.q) / s) : 1;
  }
  const a = knots[i];
  const b = knots[i + 1];
  return b.q > a.q ? a.p + ((b.p - a.p) * (x - a.q)) / (b.q - a.q) : a.p;
}

/** P(X op v) for a forecast point. */
export function probabilityOf(point: Pick<ForecastPoint, 'mean' | 'intervals'>, op: '>' | '>=' | '<' | '<=', v: number): number {
  const k = knotsOf(point);
  if (!k.length) return 0;
  switch (op) {
    case '>':
      return clamp01(1 - cdf(k, v));
    case '>=':
      return clamp01(1 - cdf(k, v, true));
    case '<':
      return clamp01(cdf(k, v, true));
    case '<=':
      return clamp01(cdf(k, v));
  }
}

/**
 * The upper bound of the `level` % interval of a point; when that level is absent, the widest
 * level present; when none, the mean. Returns the level used (null: the mean).
 */
export function upperOf(point: Pick<ForecastPoint, 'mean' | 'intervals'>, level: number): { value: number; level: number | null } {
  const exact = point.intervals?.[String(level)];
  if (exact) return { value: exact[1], level };
  const levels = Object.keys(point.intervals ?? {})
    .map(Number)
    .filter((l) => l > 0 && l < 100)
    .sort((a, b) => b - a);
  if (levels.length) return { value: point.intervals[String(levels[0])][1], level: levels[0] };
  return { value: point.mean, level: null };
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
