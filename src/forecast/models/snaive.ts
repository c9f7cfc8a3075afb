/**
 * Seasonal naive: each forecast step repeats the value one season earlier.
 */
import { InsufficientHistoryError } from '../../core/errors.js';
import type { ForecastModel, ModelInput, Seasonality } from '../types.js';

/** Weekly period in seconds: the longest season seasonal naive repeats. */
const WEEK_SECONDS = 604_800;

/**
 * The season seasonal naive repeats: the longest significant period no longer than a week,
 * else 1 (naive: the last value).
 */
export function snaivePeriod(seasonalities: readonly Seasonality[], step: number): number {
  const maxPeriod = Math.round(WEEK_SECONDS / step);
  let best = 1;
  for (const s of seasonalities) {
    if (s.significant && s.period <= maxPeriod && s.period > best) best = s.period;
  }
  return best;
}

/** ŷ[n+j] = y[n+j−m·⌈(j+1)/m⌉]: repeat the last full season of length `period`. */
export function seasonalNaiveForecast(y: Float64Array, period: number, h: number): Float64Array {
  const n = y.length;
  const out = new Float64Array(h);
  for (let j = 0; j < h; j++) out[j] = y[n - period + (j % period)];
  return out;
}

/**
 * `snaive` — seasonal naive on the longest significant period ≤ weekly (else the last value).
 * Needs one full season of history (1 point without seasonality). The benchmark's reference
 * and the MASE scale's cousin; robust, and hard to beat on strongly periodic series.
 */
export const snaive: ForecastModel = {
  name: 'snaive',
  minHistory(input) {
    return snaivePeriod(input.seasonalities, input.step);
  },
  forecast(input: ModelInput, h: number): Float64Array {
    const m = snaivePeriod(input.seasonalities, input.step);
    if (input.y.length < m) {
      throw new InsufficientHistoryError(`snaive needs ${m} points of history, got ${input.y.length}`);
    }
    return seasonalNaiveForecast(input.y, m, h);
  },
};
