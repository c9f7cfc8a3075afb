/**
 * `seasonal_median`: a robust seasonal profile. Heavy-tailed, spiky series (VM CPU) are scored
 * on absolute error, which the conditional median minimizes; this model forecasts
 *
 *   ŷ[n+j] = level + profile[phase(n+j)]
 *
 * where `profile[φ]` is the median, over the last `cycles` cycles (and over the phases within
 * ±`phaseWidth` of φ, none by default), of the value minus its cycle's median, and `level` is
 * the median of the last `levelWindow` deseasonalized points. Without a usable seasonality the
 * forecast is the median of the last `levelWindow` points (flat). Expected O(cycles · period)
 * work (selection-based medians), no fitting.
 */
import { InsufficientHistoryError } from '../../core/errors.js';
import { medianInPlace } from '../numeric/stats.js';
import type { ForecastModel, ModelInput, Seasonality } from '../types.js';

/** Options of {@link makeSeasonalMedian}. */
export interface SeasonalMedianOptions {
  name?: string;
  /** Cycles of history the profile uses (default 7); fewer when the history is shorter. */
  cycles?: number;
  /**
   * Neighbouring phases pooled on each side (default 0: VM jobs recur at the exact same
   * 5-minute slot, and pooling blurs them; on Bitbrains 1 costs ~15 % MASE).
   */
  phaseWidth?: number;
  /** Recent points the level is the median of (default 24, two hours at 5 min). */
  levelWindow?: number;
  /** Which significant period to follow: the shortest (default) or the longest ≤ `maxPeriodSeconds`. */
  pick?: 'shortest' | 'longest';
  /** Longest period considered, seconds (default one week). */
  maxPeriodSeconds?: number;
  /** Cycles needed to use a period (default 2). */
  minCycles?: number;
}

/** The period this model follows, or 0 for none. */
function pickPeriod(seasonalities: readonly Seasonality[], step: number, n: number, o: Required<Omit<SeasonalMedianOptions, 'name'>>): number {
  const max = Math.round(o.maxPeriodSeconds / step);
  const ps = seasonalities
    .filter((s) => s.significant && s.period <= max && s.period * o.minCycles <= n)
    .map((s) => s.period)
    .sort((a, b) => a - b);
  if (ps.length === 0) return 0;
  return o.pick === 'shortest' ? ps[0] : ps[ps.length - 1];
}

/** Median of the last `w` values of `x` (all of them when shorter). */
function tailMedian(x: Float64Array, w: number, buf: Float64Array): number {
  const n = x.length;
  const m = Math.min(w, n);
  for (let i = 0; i < m; i++) buf[i] = x[n - m + i];
  return medianInPlace(buf, 0, m);
}

/** Build a seasonal-median model. */
export function makeSeasonalMedian(options: SeasonalMedianOptions = {}): ForecastModel {
  const name = options.name ?? 'seasonal_median';
  const o: Required<Omit<SeasonalMedianOptions, 'name'>> = {
    cycles: options.cycles ?? 7,
    phaseWidth: options.phaseWidth ?? 0,
    levelWindow: options.levelWindow ?? 24,
    pick: options.pick ?? 'shortest',
    maxPeriodSeconds: options.maxPeriodSeconds ?? 604_800,
    minCycles: options.minCycles ?? 2,
  };
  return {
    name,
    minHistory(input) {
      const max = Math.round(o.maxPeriodSeconds / input.step);
      const ps = input.seasonalities.filter((s) => s.significant && s.period <= max).map((s) => s.period);
      return Math.max(1, ...ps.map((p) => o.minCycles * p));
    },
    forecast(input: ModelInput, h: number): Float64Array {
      const y = input.y;
      const n = y.length;
      if (n < 1) throw new InsufficientHistoryError(`${name} needs at least 1 point`);
      const out = new Float64Array(h);
      const p = pickPeriod(input.seasonalities, input.step, n, o);
      if (p === 0) {
        out.fill(tailMedian(y, o.levelWindow, new Float64Array(Math.min(o.levelWindow, n))));
        return out;
      }
      const k = Math.min(o.cycles, Math.floor(n / p));
      const start = n - k * p;
      // Each cycle's median: the profile is relative to it, so level shifts between days cancel.
      const buf = new Float64Array(Math.max(p, k * (2 * o.phaseWidth + 1), o.levelWindow));
      const cycleLevel = new Float64Array(k);
      for (let c = 0; c < k; c++) {
        for (let i = 0; i < p; i++) buf[i] = y[start + c * p + i];
        cycleLevel[c] = medianInPlace(buf, 0, p);
      }
      // Profile by phase relative to the end of the history: phase φ = (index − start) mod p.
      const profile = new Float64Array(p);
      const w = o.phaseWidth;
      for (let ph = 0; ph < p; ph++) {
        let m = 0;
        for (let c = 0; c < k; c++) {
          for (let d = -w; d <= w; d++) {
            const idx = start + c * p + ph + d;
            if (idx < 0 || idx >= n) continue;
            // A neighbour across the cycle boundary belongs to the adjacent cycle's level.
            const cc = Math.min(k - 1, Math.max(0, Math.floor((idx - start) / p)));
            buf[m++] = y[idx] - cycleLevel[cc];
          }
        }
        profile[ph] = medianInPlace(buf, 0, m);
      }
      // Level: median of the recent deseasonalized points.
      const lw = Math.min(o.levelWindow, n - start);
      for (let i = 0; i < lw; i++) {
        const idx = n - lw + i;
        buf[i] = y[idx] - profile[(idx - start) % p];
      }
      const level = medianInPlace(buf, 0, lw);
      for (let j = 0; j < h; j++) out[j] = level + profile[(n + j - start) % p];
      return out;
    },
  };
}

/**
 * `seasonal_median` — robust seasonal profile: per-phase medians over the last 7 cycles of the
 * shortest significant period, relative to each cycle's median, plus the
 * median deseasonalized level of the last 24 points; flat recent median without seasonality.
 * Needs 2 cycles of the period it follows (1 point without seasonality).
 */
export const seasonalMedian: ForecastModel = makeSeasonalMedian();
