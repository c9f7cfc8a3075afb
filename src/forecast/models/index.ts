/**
 * The model registry: every forecasting model by name. The pipeline (backtests, selection,
 * conformal intervals) looks models up here; each model documents what it needs in TSDoc and
 * through `minHistory`.
 *
 * | name              | what                                                              | minHistory                         |
 * |-------------------|-------------------------------------------------------------------|------------------------------------|
 * | `snaive`          | seasonal naive (longest significant period ≤ weekly, else naive)  | one period (1 without seasonality) |
 * | `seasonal_median` | per-phase median profile of the last 7 cycles + recent median level | 2 cycles of the shortest period  |
 * | `mstl_ets`        | robust MSTL + ETS (ANN/AAdN by AICc) on the adjusted series (stlf) | 2 cycles of the longest period + 1 |
 * | `prophet_like`    | piecewise-linear trend + Fourier seasonality + events, L1 (median) | 2 cycles of the longest period   |
 *
 * On Bitbrains CPU (20 VMs × 7 origins in the last week, horizon 288, MASE against the daily
 * seasonal naive) the mean MASE was: seasonal_median 0.610, mstl_ets 0.694, snaive 0.751,
 * prophet_like 1.005 (R: stlf 0.980, snaive daily 0.852, snaive weekly 1.267).
 */
import type { ForecastModel } from '../types.js';
import { mstlEts } from './mstl-ets.js';
import { prophetLike } from './prophet-like.js';
import { seasonalMedian } from './seasonal-median.js';
import { snaive } from './snaive.js';

/** Every available model, by its `name`. */
export const MODELS: Record<string, ForecastModel> = {
  [snaive.name]: snaive,
  [seasonalMedian.name]: seasonalMedian,
  [mstlEts.name]: mstlEts,
  [prophetLike.name]: prophetLike,
};

/**
 * The candidate models used when the caller names none (the LSTM is off by default). Chosen on
 * the Bitbrains benchmark (MASE, horizon 288, last week's origins); see the forecast bench notes.
 * The pipeline tries them in tiers: {@link FIRST_TIER_MODELS} always, the others only when the
 * first tier explains the series poorly (see `escalation` in pipeline.ts).
 */
export const DEFAULT_MODELS: string[] = ['snaive', 'seasonal_median', 'mstl_ets', 'prophet_like'];

/**
 * The default candidates in tiers of cost. Every series is backtested with the first tier
 * (well under a millisecond a fit); each further tier is tried only while the best model so far
 * leaves structure unexplained (see `escalationReason` in pipeline.ts): MSTL + ETS (~10 ms a
 * fit on a month of 5-minute data), then the Prophet-style regression (~50 ms). On the Bitbrains
 * CPU benchmark the heavier models rarely beat the first tier, and running them on every series
 * made the whole run ~7× slower for a MASE change under 0.5 %.
 */
export const MODEL_TIERS: string[][] = [['snaive', 'seasonal_median'], ['mstl_ets'], ['prophet_like']];

/** The first tier (see {@link MODEL_TIERS}). */
export const FIRST_TIER_MODELS: string[] = MODEL_TIERS[0];

/** Names of every registered model, in registration order. */
export function modelNames(): string[] {
  return Object.keys(MODELS);
}
