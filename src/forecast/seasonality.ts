/**
 * Calendar seasonality detection: which of the daily, weekly (and, with enough history, monthly)
 * periods a series really has, and how strong each one is.
 *
 * Candidates are tested shortest first. For each one with enough full cycles of history:
 * 1. detrend the working series with a centered moving average of one period (this removes the
 *    trend but not a seasonality of that period);
 * 2. estimate the seasonal profile as the per-phase mean of the detrended series;
 * 3. strength = Hyndman's F_s = 1 − Var(R)/Var(S + R), adjusted for the degrees of freedom the
 *    profile spends (like an adjusted R²), so that white noise scores ≈ 0 whatever the number
 *    of cycles;
 * 4. significance = the autocorrelation of the detrended series at the period exceeds the
 *    one-sided Bartlett bound z·sqrt((1 + 2 Σ_{k<p} r_k²)/n) (the M4 seasonality test, which
 *    tolerates short-range autocorrelation) AND the adjusted strength reaches `minStrength`.
 * A significant component is removed from the working series before the next (longer)
 * candidate is tested, so a weekly test does not re-detect the daily cycle.
 */
import { acf } from './numeric/fft.js';
import { centeredMovingAverage } from './numeric/stats.js';
import type { Seasonality } from './types.js';

/** A calendar period to test. */
export interface SeasonalCandidate {
  name: string;
  /** Period length in seconds. */
  seconds: number;
  /** Full cycles of history required before the period is tested (default: `minCycles`). */
  minCycles?: number;
}

/** Options of {@link detectSeasonalities}. */
export interface SeasonalityOptions {
  /** Candidate periods; default daily, weekly, monthly (30 d, needs 3 cycles). */
  candidates?: SeasonalCandidate[];
  /** Full cycles of history a period needs to be tested at all (default 2). */
  minCycles?: number;
  /** Normal quantile of the autocorrelation test (default 1.645: one-sided 5 %). */
  z?: number;
  /** Minimum adjusted strength for significance (default 0.05). */
  minStrength?: number;
}

/** The default calendar candidates. */
export const CALENDAR_CANDIDATES: readonly SeasonalCandidate[] = Object.freeze([
  { name: 'daily', seconds: 86_400 },
  { name: 'weekly', seconds: 604_800 },
  { name: 'monthly', seconds: 30 * 86_400, minCycles: 3 },
]);

/** Result of testing one period on a working series. */
interface PeriodTest {
  strength: number;
  significant: boolean;
  /** The estimated seasonal component (length n), zero-mean profile repeated. */
  seasonal: Float64Array;
}

/**
 * Detect calendar seasonalities of a regular series `y` sampled every `step` seconds.
 * Returns one entry per candidate whose period is at least 2 steps (duplicates of a shorter
 * period dropped), shortest first; entries with too little history have strength 0 and
 * `significant: false`. Deterministic and O(n log n).
 */
export function detectSeasonalities(y: Float64Array, step: number, opts: SeasonalityOptions = {}): Seasonality[] {
  const candidates = opts.candidates ?? CALENDAR_CANDIDATES;
  const minCycles = opts.minCycles ?? 2;
  const z = opts.z ?? 1.645;
  const minStrength = opts.minStrength ?? 0.05;
  const n = y.length;

  const periods: { name: string; period: number; minCycles: number }[] = [];
  for (const c of candidates) {
    const period = Math.round(c.seconds / step);
    if (!(period >= 2) || periods.some((p) => p.period === period)) continue;
    periods.push({ name: c.name, period, minCycles: c.minCycles ?? minCycles });
  }
  periods.sort((a, b) => a.period - b.period);

  const work = Float64Array.from(y);
  const out: Seasonality[] = [];
  for (const p of periods) {
    if (n < p.minCycles * p.period || n < 2 * p.period) {
      out.push({ name: p.name, period: p.period, strength: 0, significant: false });
      continue;
    }
    const t = testPeriod(work, p.period, z, minStrength);
    out.push({ name: p.name, period: p.period, strength: t.strength, significant: t.significant });
    if (t.significant) for (let i = 0; i < n; i++) work[i] -= t.seasonal[i];
  }
  return out;
}

/** The significant seasonalities among `s`, shortest first (what ModelInput expects). */
export function significantSeasonalities(s: readonly Seasonality[]): Seasonality[] {
  return s.filter((x) => x.significant).sort((a, b) => a.period - b.period);
}

/** Strength at which a period is significant whatever the autocorrelation test says. */
const STRONG_STRENGTH = 0.64;

function testPeriod(x: Float64Array, period: number, z: number, minStrength: number): PeriodTest {
  const n = x.length;
  const trend = centeredMovingAverage(x, period);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = x[i] - trend[i];

  const sum = new Float64Array(period);
  const cnt = new Float64Array(period);
  for (let i = 0; i < n; i++) {
    const k = i % period;
    sum[k] += d[i];
    cnt[k] += 1;
  }
  let profMean = 0;
  for (let k = 0; k < period; k++) {
    sum[k] /= cnt[k];
    profMean += sum[k];
  }
  profMean /= period;
  const seasonal = new Float64Array(n);
  let dMean = 0;
  for (let i = 0; i < n; i++) dMean += d[i];
  dMean /= n;
  let ssD = 0;
  let ssR = 0;
  for (let i = 0; i < n; i++) {
    const s = sum[i % period] - profMean;
    seasonal[i] = s;
    const r = d[i] - s;
    const dd = d[i] - dMean;
    ssD += dd * dd;
    ssR += r * r;
  }
  let strength = 0;
  if (ssD > 0) {
    // Adjusted F_s: the profile spends period-1 degrees of freedom.
    const adj = 1 - ssR / (n - period) / (ssD / (n - 1));
    strength = Math.min(1, Math.max(0, adj));
  }

  const r = acf(d, period);
  let sumSq = 0;
  for (let k = 1; k < period; k++) sumSq += r[k] * r[k];
  const bound = z * Math.sqrt((1 + 2 * sumSq) / n);
  // Bartlett's bound sums r[k]² over every lag below the period: for a smooth, strong wave
  // (r[k]² large everywhere) it approaches 1 on short histories and rejects an obvious season.
  // A strength of at least 0.64 (Wang, Smith & Hyndman's "strong") is significant by itself.
  const significant = (r[period] > bound && strength >= minStrength) || strength >= STRONG_STRENGTH;
  return { strength, significant, seasonal };
}
