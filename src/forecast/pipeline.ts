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
import { DEFAULT_MODELS, MODEL_TIERS, MODELS } from './models/index.js';
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
  /** When the default candidates are tiered, when to escalate (see {@link ESCALATION_DEFAULTS}). */
  escalation?: Partial<EscalationOptions>;
}

/**
 * With the default candidates, the heavier models are backtested only when the first tier
 * leaves structure unexplained: its best backtest MASE is above `maseAbove`, or its errors are
 * biased (|mean signed error| / MAE above `biasAbove`: a trend or level shift that the
 * seasonal profile does not follow). Explicit `models` are always all backtested.
 *
 * Defaults chosen on Bitbrains CPU (August benchmark cases; July/September held out): never
 * escalating gave MASE 0.641 / 0.650, always escalating 0.635 / 0.651 at ~9× the time;
 * (1.1, 0.6) gives 0.638 / 0.649 at ~4× the first tier's time (a quarter of series escalate).
 */
export interface EscalationOptions {
  maseAbove: number;
  biasAbove: number;
}
export const ESCALATION_DEFAULTS: EscalationOptions = { maseAbove: 1.1, biasAbove: 0.6 };

/**
 * Conformal settings used when the caller gives none: origins weighted toward the recent ones
 * (half-life 6 origins), so intervals follow a series whose errors drift. Chosen on Bitbrains:
 * against equal weights + ACI (gamma 0.05) it brought 80 % coverage from 83.6 to 82.3 % on the
 * August benchmark cases and from 79.5 to 80.8 % on the held-out July/September files, and
 * MSIS down ~13 % on both.
 */
export const PIPELINE_CONFORMAL_DEFAULTS: ConformalOptions = { halfLife: 6 };

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
  const lookup = (names: string[]) =>
    names.map((name) => {
      const m = registry[name];
      if (!m) throw new UsageError(`unknown model '${name}' (known: ${Object.keys(registry).join(', ')})`, ctxErr);
      return m;
    });
  const scale = seasonalNaiveScale(s.values, s.imputed, Math.round(DAY_SECONDS / step));
  const names = opts.models ?? DEFAULT_MODELS;
  // Default candidates run tier by tier (cheapest first); explicit models all run at once.
  const tiered = !opts.models && !opts.registry;
  const tiers = tiered
    ? [...MODEL_TIERS.map((t) => t.filter((m) => names.includes(m))), names.filter((m) => !MODEL_TIERS.flat().includes(m))].filter((t) => t.length)
    : [names];
  const bt = runBacktests(s, lookup(tiers[0]), ctx, H, opts.backtest);
  let { results } = bt;
  const { plan, needs } = bt;
  let escalation: string | undefined;
  if (tiered) {
    const tried: string[] = [];
    let why: string | undefined;
    for (const tier of tiers.slice(1)) {
      why = escalationReason(results, scale, { ...ESCALATION_DEFAULTS, ...opts.escalation });
      if (!why) break;
      const more = runBacktests(s, lookup(tier), ctx, H, opts.backtest, plan);
      results = [...results, ...more.results];
      for (const [k, v] of more.needs) needs.set(k, v);
      tried.push(`${why} → tried ${tier.join(', ')}`);
    }
    escalation = tried.length ? tried.join('; ') : 'first tier sufficient';
  }
  if (results.length === 0) {
    throw new InsufficientHistoryError(`series ${s.series}: no model (${names.join(', ')}) can be backtested on ${n} points for a ${fmtDuration(H * step)} horizon`, ctxErr);
  }
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
    diagnostics: { seasonalities: detected, regularization: s.report, backtest: sel.scores, ...(escalation ? { escalation } : {}) },
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
  fixedPlan?: number[],
): { results: BacktestResult[]; plan: number[]; needs: Map<string, number> } {
  const n = s.values.length;
  const cands = models.map((m) => ({ m, need: Math.max(1, m.minHistory(ctx, H)) })).filter((c) => c.need <= n - H);
  const needs = new Map(cands.map((c) => [c.m.name, c.need]));
  if (cands.length === 0) return { results: [], plan: fixedPlan ?? [], needs };
  // A later tier reuses the first tier's origins so that selection compares like with like.
  const plan = fixedPlan ?? planOrigins(n, H, s.step, Math.min(...cands.map((c) => c.need)), opts);
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

/**
 * Why the first tier is not enough, or undefined when it is: the best model's backtest MASE is
 * above `maseAbove`, or its errors are biased beyond `biasAbove` (mean error / MAE).
 */
export function escalationReason(results: readonly BacktestResult[], scale: number, o: EscalationOptions): string | undefined {
  if (results.length === 0) return 'no cheaper model could be backtested';
  let best: { mase: number; bias: number } | undefined;
  for (const r of results) {
    let abs = 0;
    let sum = 0;
    let c = 0;
    for (let i = 0; i < r.forecasts.length; i++) {
      const e = r.actuals[i] - r.forecasts[i];
      if (Number.isNaN(e)) continue;
      abs += Math.abs(e);
      sum += e;
      c++;
    }
    if (c === 0) continue;
    const mase = abs / c / scale;
    if (!best || mase < best.mase) best = { mase, bias: abs > 0 ? sum / abs : 0 };
  }
  if (!best) return 'no cheaper model could be scored';
  if (best.mase > o.maseAbove) return `best MASE so far ${best.mase.toFixed(2)} > ${o.maseAbove}`;
  if (Math.abs(best.bias) > o.biasAbove) return `best model so far biased (${best.bias.toFixed(2)})`;
  return undefined;
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
