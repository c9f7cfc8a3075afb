/**
 * The profiler's pipeline for one regular series: seasonality → history check → rolling-origin
 * backtests → model selection → refit → conformal intervals → points.
 *
 * History rule: a series needs at least max(2 × horizon, 2 days) of steps. Two horizons leave
 * one horizon of training before the newest backtest origin, whose actuals are the last
 * horizon; two days let the daily season be seen twice (seasonal naive and the MASE scale need
 * one full day before the first scored point).
 *
 * Cost: with the defaults (backtest.ts) every candidate is fitted at 8 origins, the chosen
 * model(s) at 16 more for calibration, and once on the full series.
 */
import { InsufficientHistoryError, UsageError } from '../core/errors.js';
import {
  BACKTEST_DEFAULTS,
  backtest,
  extendBacktest,
  planOrigins,
  residualMatrix,
  subsampleOrigins,
  type BacktestContext,
  type BacktestOptions,
  type BacktestResult,
} from './backtest.js';
import { conformalOffsets, levelKey, type ConformalOptions } from './conformal.js';
import { DEFAULT_MODELS, MODELS } from './models/index.js';
import { detectSeasonalities, significantSeasonalities } from './seasonality.js';
import { combineForecasts, combineResults, seasonalNaiveScale, selectModel, type Selection, type SelectOptions } from './select.js';
import type { ForecastModel, ForecastOptions, ForecastPoint, RegularSeries, Seasonality, SeriesForecast } from './types.js';

const DAY_SECONDS = 86_400;

/** {@link ForecastOptions} plus the pipeline's tuning knobs (all optional). */
export interface PipelineOptions extends ForecastOptions {
  backtest?: BacktestOptions;
  conformal?: ConformalOptions;
  select?: SelectOptions;
  /** Seasonalities to use instead of detecting them (e.g. asserted by the user). */
  seasonalities?: Seasonality[];
  /** Where model names are looked up (default: the MODELS registry). */
  registry?: Readonly<Record<string, ForecastModel>>;
}

/**
 * Conformal settings used when the caller gives none: equal origin weights plus a gentle ACI
 * step over the backtest origins, so a series whose recent errors outgrow older ones widens.
 */
export const PIPELINE_CONFORMAL_DEFAULTS: ConformalOptions = { aci: { gamma: 0.05 } };

/** Horizon in steps: enough steps to cover `horizonSeconds` (at least 1). */
export function horizonSteps(horizonSeconds: number, step: number): number {
  return Math.max(1, Math.ceil(horizonSeconds / step - 1e-9));
}

/** Minimum history in steps for a horizon of `horizon` steps: max(2·horizon, 2 days). */
export function requiredHistory(horizon: number, step: number): number {
  return Math.max(2 * horizon, Math.ceil((2 * DAY_SECONDS) / step));
}

/**
 * Forecasts one regular series with calibrated intervals.
 *
 * @returns points at `t0 + (n + i)·step`, i = 0..h−1, with `intervals[levelKey(L)] = [lo, hi]`
 *   for each requested level; `model` is the chosen model or `ensemble(a+b)`; diagnostics carry
 *   the seasonalities, every candidate's backtest MASE and the regularization report.
 * @throws InsufficientHistoryError (naming the series and source) when the history is shorter
 *   than {@link requiredHistory} or no candidate model can be backtested
 * @throws UsageError for an unknown model name, a non-positive horizon or a level outside (0, 100)
 */
export function forecastSeries(s: RegularSeries, opts: PipelineOptions): SeriesForecast {
  const ctxErr = { series: s.series, file: s.source };
  if (!(opts.horizonSeconds > 0)) throw new UsageError(`horizon must be positive, got ${opts.horizonSeconds} s`, ctxErr);
  for (const l of opts.levels) {
    if (!(l > 0 && l < 100)) throw new UsageError(`interval level ${l} is not in (0, 100)`, ctxErr);
  }
  const step = s.step;
  const n = s.values.length;
  const H = horizonSteps(opts.horizonSeconds, step);
  const needed = requiredHistory(H, step);
  if (n < needed) {
    throw new InsufficientHistoryError(
      `series ${s.series}: ${n} points (${fmtDuration(n * step)}) of history, a ${fmtDuration(H * step)} horizon needs at least ${needed} (${fmtDuration(needed * step)})`,
      { ...ctxErr, have: n, need: needed },
    );
  }

  const detected = opts.seasonalities ?? detectSeasonalities(s.values, step);
  const ctx = { t0: s.t0, step, seasonalities: significantSeasonalities(detected), events: opts.events, seed: opts.seed };

  const registry = opts.registry ?? MODELS;
  const names = opts.models ?? DEFAULT_MODELS;
  const models = names.map((name) => {
    const m = registry[name];
    if (!m) throw new UsageError(`unknown model '${name}' (known: ${Object.keys(registry).join(', ')})`, ctxErr);
    return m;
  });

  const { results, plan, needs } = runBacktests(s, models, ctx, H, opts.backtest);
  if (results.length === 0) {
    throw new InsufficientHistoryError(`series ${s.series}: no model (${names.join(', ')}) can be backtested on ${n} points for a ${fmtDuration(H * step)} horizon`, ctxErr);
  }
  const scale = seasonalNaiveScale(s.values, s.imputed, Math.round(DAY_SECONDS / step));
  const sel = selectModel(results, scale, opts.select);

  // Refit the chosen member(s) on the full series.
  const full = { ...ctx, y: s.values };
  const mean = combineForecasts(
    sel.members.map((name) => registry[name].forecast(full, H)),
    sel.combine,
  );
  const cal = calibrationBacktest(s, sel, results, registry, ctx, plan, needs);
  const res = residualMatrix(cal.forecasts, cal.actuals, cal.origins.length, H);
  const off = conformalOffsets(res, opts.levels, opts.conformal ?? PIPELINE_CONFORMAL_DEFAULTS);

  const nonNegative = allNonNegative(s.values);
  const points: ForecastPoint[] = new Array(H);
  for (let i = 0; i < H; i++) {
    const m = nonNegative ? Math.max(0, mean[i]) : mean[i];
    const intervals: Record<string, [number, number]> = {};
    for (let j = 0; j < off.levels.length; j++) {
      let lo = mean[i] + off.lower[j][i];
      let hi = mean[i] + off.upper[j][i];
      if (nonNegative) {
        lo = Math.max(0, lo);
        hi = Math.max(0, hi);
      }
      intervals[levelKey(off.levels[j])] = [lo, hi];
    }
    points[i] = { t: s.t0 + (n + i) * step, mean: m, intervals };
  }
  return {
    series: s.series,
    metric: s.metric,
    unit: s.unit,
    stepSeconds: step,
    model: sel.name,
    points,
    diagnostics: { seasonalities: detected, regularization: s.report, backtest: sel.scores },
  };
}

/**
 * Backtests every model that has enough history on the selection origins. One origin plan serves
 * all: it leaves the least demanding model its `minHistory`, and each model runs from the origins
 * that leave it its own (always including the newest). Selection compares models on the
 * origins they share.
 */
function runBacktests(
  s: RegularSeries,
  models: ForecastModel[],
  ctx: BacktestContext,
  H: number,
  opts: BacktestOptions | undefined,
): { results: BacktestResult[]; plan: number[]; needs: Map<string, number> } {
  const n = s.values.length;
  const cands = models.map((m) => ({ m, need: Math.max(1, m.minHistory(ctx, H)) })).filter((c) => c.need <= n - H);
  const needs = new Map(cands.map((c) => [c.m.name, c.need]));
  if (cands.length === 0) return { results: [], plan: [], needs };
  const plan = planOrigins(n, H, s.step, Math.min(...cands.map((c) => c.need)), opts);
  const selection = subsampleOrigins(plan, opts?.selectionOrigins ?? BACKTEST_DEFAULTS.selectionOrigins);
  const results: BacktestResult[] = [];
  for (const { m, need } of cands) {
    const origins = selection.filter((o) => o >= need);
    if (origins.length === 0) continue;
    try {
      results.push(backtest(s, m, ctx, origins, H));
    } catch (e) {
      // A model may still find an origin too short (its minHistory is an estimate): skip it.
      if (!(e instanceof InsufficientHistoryError)) throw e;
    }
  }
  return { results, plan, needs };
}

/**
 * The chosen model's (or ensemble's) backtest on every origin of the plan it can use: the
 * selection backtests extended with the remaining origins, members combined as selected.
 */
function calibrationBacktest(
  s: RegularSeries,
  sel: Selection,
  results: readonly BacktestResult[],
  registry: Readonly<Record<string, ForecastModel>>,
  ctx: BacktestContext,
  plan: readonly number[],
  needs: Map<string, number>,
): BacktestResult {
  const members = sel.members.map((name) => {
    const r = results.find((x) => x.model === name)!;
    const more = plan.filter((o) => o >= (needs.get(name) ?? 1));
    try {
      return extendBacktest(s, registry[name], ctx, r, more);
    } catch (e) {
      if (!(e instanceof InsufficientHistoryError)) throw e;
      return r;
    }
  });
  return combineResults(members, sel.combine, sel.name);
}

/** True when every value is ≥ 0 (then the forecast and its bounds are clamped at 0). */
function allNonNegative(y: Float64Array): boolean {
  for (let i = 0; i < y.length; i++) if (y[i] < 0) return false;
  return true;
}

/** `2d`, `6h`, `90m`, `45s`: a compact duration for messages. */
function fmtDuration(seconds: number): string {
  if (seconds % DAY_SECONDS === 0) return `${seconds / DAY_SECONDS}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
