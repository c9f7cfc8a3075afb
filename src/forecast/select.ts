/**
 * Model selection by backtest score. Each candidate's rolling-origin MAE is scaled by the
 * in-sample daily seasonal-naive MAE (MASE, M4's scale); the mean of the top 2 and 3 models and
 * the median of the top 3 are scored the same way from the members' backtest forecasts (no
 * extra fits), and whichever scores lowest wins. A tie keeps the simpler choice.
 */
import { commonOrigins, maeScored, restrictOrigins, type BacktestResult } from './backtest.js';

/** How an ensemble combines its members' forecasts. */
export type Combiner = 'mean' | 'median';

/** Options of {@link selectModel}. */
export interface SelectOptions {
  /** Consider ensembles of the best models (default true). */
  ensembles?: boolean;
  /** Largest ensemble (default 3). */
  maxMembers?: number;
}

/** The outcome of selection: what to refit and how to combine it. */
export interface Selection {
  /** Reported model name: `ets`, or `ensemble(a+b)` (mean), `ensemble-median(a+b+c)`. */
  name: string;
  /** Models to refit on the full series, in the order the candidates were given. */
  members: string[];
  /** How members are combined (`mean` for a single model: the identity). */
  combine: Combiner;
  /** MASE of every scored candidate and ensemble on the common origins, by name (lower is better). */
  scores: Record<string, number>;
  /**
   * The chosen candidate's backtest on every origin it has (a single model keeps origins that
   * more demanding models lacked; an ensemble has its members' common origins): the
   * calibration set of its conformal intervals.
   */
  calibration: BacktestResult;
}

/**
 * In-sample MAE of the seasonal naive forecast with lag `lag` (y[t] vs y[t − lag]) over pairs
 * where neither point is imputed. Falls back to lag 1 when the series is not longer than `lag`.
 * Returns a positive number: when every difference is 0, the mean |y| (or 1) is used instead so
 * that scaled errors stay finite.
 */
export function seasonalNaiveScale(values: Float64Array, imputed: Uint8Array | undefined, lag: number): number {
  const n = values.length;
  const m = n > lag ? Math.max(1, lag) : 1;
  let s = 0;
  let c = 0;
  for (let t = m; t < n; t++) {
    if (imputed && (imputed[t] || imputed[t - m])) continue;
    s += Math.abs(values[t] - values[t - m]);
    c++;
  }
  if (c > 0 && s > 0) return s / c;
  let a = 0;
  for (let t = 0; t < n; t++) a += Math.abs(values[t]);
  return a > 0 ? a / n : 1;
}

/** Combines equally long forecasts element-wise by mean or median. */
export function combineForecasts(forecasts: readonly Float64Array[], how: Combiner): Float64Array {
  if (forecasts.length === 0) throw new RangeError('no forecasts to combine');
  const len = forecasts[0].length;
  const out = new Float64Array(len);
  const m = forecasts.length;
  if (how === 'mean' || m <= 2) {
    for (const f of forecasts) for (let i = 0; i < len; i++) out[i] += f[i];
    for (let i = 0; i < len; i++) out[i] /= m;
    return out;
  }
  const buf = new Float64Array(m);
  for (let i = 0; i < len; i++) {
    for (let j = 0; j < m; j++) buf[j] = forecasts[j][i];
    buf.sort();
    out[i] = m % 2 ? buf[(m - 1) / 2] : (buf[m / 2 - 1] + buf[m / 2]) / 2;
  }
  return out;
}

/** The reported name of a combination. */
export function ensembleName(members: readonly string[], how: Combiner): string {
  if (members.length === 1) return members[0];
  return `${how === 'mean' ? 'ensemble' : 'ensemble-median'}(${members.join('+')})`;
}

/**
 * Picks the candidate (single model or ensemble) with the lowest backtest MASE. Candidates are
 * compared on the origins they all have (see {@link commonOrigins}).
 *
 * @param results backtests of every candidate with the same horizon and origin plan
 * @param scale MASE denominator (see {@link seasonalNaiveScale})
 * @throws RangeError when no candidate has a finite score
 */
export function selectModel(results: readonly BacktestResult[], scale: number, opts: SelectOptions = {}): Selection {
  const common = commonOrigins(results);
  const scores: Record<string, number> = {};
  const singles: { full: BacktestResult; r: BacktestResult; score: number }[] = [];
  for (const full of results) {
    const r = full.origins.length === common.length ? full : restrictOrigins(full, common);
    const score = maeScored(r.forecasts, r.actuals) / scale;
    scores[r.model] = score;
    if (Number.isFinite(score)) singles.push({ full, r, score });
  }
  if (singles.length === 0) throw new RangeError('no model could be scored in the backtest');
  // Stable sort: equal scores keep the caller's order.
  singles.sort((a, b) => a.score - b.score);
  let best: { name: string; members: string[]; combine: Combiner } = {
    name: singles[0].r.model,
    members: [singles[0].r.model],
    combine: 'mean',
  };
  let bestScore = singles[0].score;
  if (opts.ensembles ?? true) {
    const actuals = singles[0].r.actuals;
    const maxM = Math.min(opts.maxMembers ?? 3, singles.length);
    for (let m = 2; m <= maxM; m++) {
      const top = singles.slice(0, m);
      const hows: Combiner[] = m >= 3 ? ['mean', 'median'] : ['mean'];
      for (const how of hows) {
        const forecasts = combineForecasts(
          top.map((t) => t.r.forecasts),
          how,
        );
        // Members in the caller's order, so one ensemble always carries one name.
        const members = results.map((r) => r.model).filter((name) => top.some((t) => t.r.model === name));
        const name = ensembleName(members, how);
        const score = maeScored(forecasts, actuals) / scale;
        scores[name] = score;
        if (score < bestScore) {
          bestScore = score;
          best = { name, members, combine: how };
        }
      }
    }
  }
  const chosen = best.members.map((name) => singles.find((x) => x.r.model === name)!.full);
  return { ...best, scores, calibration: combineResults(chosen, best.combine, best.name) };
}

/** The members' backtests combined on the origins they share (a single member: itself). */
export function combineResults(members: readonly BacktestResult[], how: Combiner, name: string): BacktestResult {
  if (members.length === 1) return members[0];
  const origins = commonOrigins(members);
  const parts = members.map((r) => restrictOrigins(r, origins));
  return {
    model: name,
    origins,
    horizon: parts[0].horizon,
    forecasts: combineForecasts(
      parts.map((p) => p.forecasts),
      how,
    ),
    actuals: parts[0].actuals,
  };
}
