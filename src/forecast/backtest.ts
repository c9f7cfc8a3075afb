/**
 * Rolling-origin evaluation: a model is fitted on the history before each of K origins and
 * forecasts the next `horizon` steps, whose actuals are known. The forecasts and residuals feed
 * model selection (select.ts) and the conformal intervals (conformal.ts).
 *
 * Two uses, two sizes. Every candidate model is compared on `selectionOrigins` origins (default
 * 8); only the chosen model (or ensemble members) then runs from the remaining origins of the
 * plan (default 16 in all), whose residuals calibrate the intervals. Selection needs a fair
 * comparison; calibration needs many distinct days of actuals: on the Bitbrains traces (seasonal
 * naive, 8 forecasts per VM over the last two weeks) the 95 % intervals covered 91.7 % with 8
 * calibration origins, 94.7 % with 16 and 95.1 % with 24.
 *
 * By default the origins are spread evenly so that their actuals cover the last `windowSeconds`
 * (two weeks): every weekday, and, because the spacing is not a whole number of days, many
 * times of day, so the residuals represent the conditions the real forecast meets rather than
 * one hour of the day seen K times.
 */
import type { ForecastModel, ModelInput, RegularSeries } from './types.js';
import type { ResidualMatrix } from './conformal.js';

/** Where the backtest origins go. */
export interface BacktestOptions {
  /** Number of origins K in the plan: the calibration set of the chosen model (default 16). */
  origins?: number;
  /** How many of them (evenly chosen, newest included) every candidate is compared on (default 8). */
  selectionOrigins?: number;
  /**
   * Seconds between origins. Default: spread the origins evenly so that their actuals cover
   * the last `windowSeconds`.
   */
  spacingSeconds?: number;
  /** Span of history the origins' actuals cover when `spacingSeconds` is not given (default 14 days). */
  windowSeconds?: number;
}

/** Default backtest settings (see {@link BacktestOptions}). */
export const BACKTEST_DEFAULTS = { origins: 24, selectionOrigins: 8, windowSeconds: 14 * 86_400 } as const;

/**
 * Origin indices (the number of training points at each origin), oldest first. The newest
 * origin is `n − horizon` (its actuals end with the series); no origin leaves fewer than
 * `minTrain` training points. May return fewer than K origins (or none) on short series.
 */
export function planOrigins(n: number, horizon: number, step: number, minTrain: number, opts: BacktestOptions = {}): number[] {
  const K = Math.max(1, Math.floor(opts.origins ?? BACKTEST_DEFAULTS.origins));
  const last = n - horizon;
  const first = Math.max(1, Math.ceil(minTrain));
  if (last < first) return [];
  let spacing: number;
  if (opts.spacingSeconds !== undefined) {
    spacing = Math.max(1, Math.round(opts.spacingSeconds / step));
  } else {
    const window = Math.round((opts.windowSeconds ?? BACKTEST_DEFAULTS.windowSeconds) / step);
    // Origins' actuals span [last - (K-1)·spacing, n): make that the window, within the data.
    const span = Math.min(Math.max(0, window - horizon), last - first);
    spacing = K > 1 ? Math.max(1, Math.floor(span / (K - 1))) : 1;
  }
  const out: number[] = [];
  for (let k = K - 1; k >= 0; k--) {
    const o = last - k * spacing;
    if (o >= first) out.push(o);
  }
  return out;
}

/**
 * `k` origins of `plan` (oldest first), evenly spread and always including the newest; the whole
 * plan when it has no more than `k`.
 */
export function subsampleOrigins(plan: readonly number[], k: number): number[] {
  const K = plan.length;
  if (k >= K) return [...plan];
  if (k <= 1) return K > 0 ? [plan[K - 1]] : [];
  const out: number[] = [];
  for (let j = 0; j < k; j++) out.push(plan[K - 1 - Math.round(((k - 1 - j) * (K - 1)) / (k - 1))]);
  return out;
}

/** One model's rolling-origin forecasts. Matrices are origins × horizon, row-major, oldest first. */
export interface BacktestResult {
  model: string;
  /** Training length at each origin (index of the first forecast step). */
  origins: number[];
  horizon: number;
  /** Forecasts, `forecasts[k * horizon + h]`. */
  forecasts: Float64Array;
  /** Actuals at the same positions; NaN where the series was imputed (not scored). */
  actuals: Float64Array;
}

/** Model inputs shared by every origin (everything but `y`). */
export type BacktestContext = Omit<ModelInput, 'y'>;

/**
 * The actuals matrix of a series for the given origins: `values[o + h]`, or NaN where
 * `imputed[o + h]` is set (long gaps are not scored).
 */
export function actualsMatrix(s: RegularSeries, origins: readonly number[], horizon: number): Float64Array {
  const out = new Float64Array(origins.length * horizon);
  for (let k = 0; k < origins.length; k++) {
    const o = origins[k];
    for (let h = 0; h < horizon; h++) {
      const i = o + h;
      out[k * horizon + h] = s.imputed[i] ? NaN : s.values[i];
    }
  }
  return out;
}

/**
 * Runs `model` from every origin. The model sees `s.values[0, o)` (a view, never a copy: models
 * are pure and do not write to their input) with the series' seasonalities.
 *
 * @throws whatever the model throws (e.g. InsufficientHistoryError when an origin is too early)
 */
export function backtest(
  s: RegularSeries,
  model: ForecastModel,
  ctx: BacktestContext,
  origins: readonly number[],
  horizon: number,
  actuals: Float64Array = actualsMatrix(s, origins, horizon),
): BacktestResult {
  const forecasts = new Float64Array(origins.length * horizon);
  for (let k = 0; k < origins.length; k++) {
    const y = s.values.subarray(0, origins[k]);
    const f = model.forecast({ ...ctx, y }, horizon);
    if (f.length !== horizon) {
      throw new RangeError(`model ${model.name} returned ${f.length} steps, expected ${horizon}`);
    }
    forecasts.set(f, k * horizon);
  }
  return { model: model.name, origins: [...origins], horizon, forecasts, actuals };
}

/**
 * Origins shared by every result (origin lists are suffixes of one plan, so this is the list of
 * the result with the fewest origins), oldest first.
 */
export function commonOrigins(results: readonly BacktestResult[]): number[] {
  if (results.length === 0) return [];
  return results[0].origins.filter((o) => results.every((r) => r.origins.includes(o)));
}

/** The rows of `r` at `origins` (each must be one of `r.origins`), as a new result. */
export function restrictOrigins(r: BacktestResult, origins: readonly number[]): BacktestResult {
  const H = r.horizon;
  const forecasts = new Float64Array(origins.length * H);
  const actuals = new Float64Array(origins.length * H);
  origins.forEach((o, k) => {
    const row = r.origins.indexOf(o);
    if (row < 0) throw new RangeError(`origin ${o} is not in the backtest of ${r.model}`);
    forecasts.set(r.forecasts.subarray(row * H, (row + 1) * H), k * H);
    actuals.set(r.actuals.subarray(row * H, (row + 1) * H), k * H);
  });
  return { model: r.model, origins: [...origins], horizon: H, forecasts, actuals };
}

/**
 * `r` extended with forecasts from `more` origins (those it already has are skipped), merged
 * oldest first. Used to calibrate the chosen model on more origins than selection used.
 */
export function extendBacktest(
  s: RegularSeries,
  model: ForecastModel,
  ctx: BacktestContext,
  r: BacktestResult,
  more: readonly number[],
): BacktestResult {
  const add = more.filter((o) => !r.origins.includes(o));
  if (add.length === 0) return r;
  const extra = backtest(s, model, ctx, add, r.horizon);
  const origins = [...r.origins, ...add].sort((a, b) => a - b);
  const H = r.horizon;
  const forecasts = new Float64Array(origins.length * H);
  const actuals = new Float64Array(origins.length * H);
  origins.forEach((o, k) => {
    const [src, row] = r.origins.includes(o) ? [r, r.origins.indexOf(o)] : [extra, extra.origins.indexOf(o)];
    forecasts.set(src.forecasts.subarray(row * H, (row + 1) * H), k * H);
    actuals.set(src.actuals.subarray(row * H, (row + 1) * H), k * H);
  });
  return { model: r.model, origins, horizon: H, forecasts, actuals };
}

/** Residuals (actual − forecast; NaN where unscored) of forecasts against actuals. */
export function residualMatrix(forecasts: Float64Array, actuals: Float64Array, origins: number, horizon: number): ResidualMatrix {
  const values = new Float64Array(forecasts.length);
  for (let i = 0; i < values.length; i++) values[i] = actuals[i] - forecasts[i];
  return { origins, horizon, values };
}

/** Mean absolute error over the scored (non-NaN) positions; NaN when none is scored. */
export function maeScored(forecasts: Float64Array, actuals: Float64Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < forecasts.length; i++) {
    const a = actuals[i];
    if (a !== a) continue;
    s += Math.abs(a - forecasts[i]);
    n++;
  }
  return n > 0 ? s / n : NaN;
}
