/**
 * STL (Cleveland, Cleveland, McRae & Terpenning 1990: "STL: a seasonal-trend decomposition
 * procedure based on loess") and MSTL (Bandara, Hyndman & Bergmeir 2021: STL iterated over
 * several periods, shortest first). Windows and defaults follow R's `stats::stl` and
 * `forecast::mstl`. O(n) per pass thanks to the loess jumps and running-sum moving averages.
 */
import { loessEstimate, loessSmooth } from './loess.js';
import { medianInPlace } from './stats.js';

/** Options of {@link stl}. Windows are in points and made odd. */
export interface StlOptions {
  /** Seasonal smoother span in cycles (odd, ≥ 7 recommended); `'periodic'` for a fixed profile. */
  seasonalWindow: number | 'periodic';
  /** Trend span (default nextodd(1.5·period/(1 − 1.5/seasonalWindow))). */
  trendWindow?: number;
  /** Low-pass span (default nextodd(period)). */
  lowpassWindow?: number;
  /** Robust fitting with bisquare weights (default false). */
  robust?: boolean;
  /** Inner iterations (default 2, or 1 when robust). */
  inner?: number;
  /** Outer (robustness) iterations (default 0, or 15 when robust). */
  outer?: number;
}

/** An STL decomposition: y = seasonal + trend + remainder. */
export interface StlResult {
  seasonal: Float64Array;
  trend: Float64Array;
  remainder: Float64Array;
  /** Robustness weights (all 1 when not robust). */
  weights: Float64Array;
}

const nextOdd = (x: number): number => {
  const r = Math.round(x);
  return r % 2 === 0 ? r + 1 : r;
};

/** Moving average of length `len` of `x[0..n)` into `out[0..n-len]`, running sum. */
function movingAverage(x: Float64Array, n: number, len: number, out: Float64Array): void {
  let s = 0;
  for (let i = 0; i < len; i++) s += x[i];
  out[0] = s / len;
  const m = n - len + 1;
  for (let j = 1; j < m; j++) {
    s += x[j + len - 1] - x[j - 1];
    out[j] = s / len;
  }
}

/**
 * Scratch buffers for {@link stl}, reusable across calls on series of the same length with
 * periods in [minPeriod, maxPeriod] (MSTL runs several STLs in a row; reusing the buffers
 * spares the garbage collector megabytes per fit).
 */
export class StlWorkspace {
  readonly C: Float64Array;
  readonly w1: Float64Array;
  readonly w2: Float64Array;
  readonly scratch: Float64Array;
  readonly L: Float64Array;
  readonly sub: Float64Array;
  readonly subRw: Float64Array;
  readonly subOut: Float64Array;

  constructor(
    readonly n: number,
    readonly minPeriod: number,
    readonly maxPeriod: number,
  ) {
    const big = n + 2 * maxPeriod;
    this.C = new Float64Array(big);
    this.w1 = new Float64Array(big);
    this.w2 = new Float64Array(big);
    this.scratch = new Float64Array(big);
    this.L = new Float64Array(n);
    // A cycle-subseries has at most ceil(n/period) points.
    const kMax = Math.ceil(n / minPeriod);
    this.sub = new Float64Array(kMax);
    this.subRw = new Float64Array(kMax);
    this.subOut = new Float64Array(kMax + 2);
  }

  /** Whether these buffers serve a series of length n with period np. */
  fits(n: number, np: number): boolean {
    return n === this.n && np >= this.minPeriod && np <= this.maxPeriod;
  }
}

/**
 * STL decomposition of `y` with seasonal period `period` (≥ 2; `y` should hold ≥ 2 periods).
 * `workspace` optionally supplies reusable scratch buffers.
 */
export function stl(y: Float64Array, period: number, opts: StlOptions, workspace?: StlWorkspace): StlResult {
  const n = y.length;
  const np = period;
  const periodic = opts.seasonalWindow === 'periodic';
  const ns = periodic ? 10 * n + 1 : Math.max(3, nextOdd(opts.seasonalWindow as number));
  const isdeg = 0 as const;
  const nt = opts.trendWindow !== undefined ? Math.max(3, nextOdd(opts.trendWindow)) : nextOdd(Math.ceil((1.5 * np) / (1 - 1.5 / ns)));
  const nl = opts.lowpassWindow !== undefined ? Math.max(3, nextOdd(opts.lowpassWindow)) : nextOdd(np);
  const robust = opts.robust ?? false;
  const ni = opts.inner ?? (robust ? 1 : 2);
  const no = opts.outer ?? (robust ? 15 : 0);
  const nsjump = Math.ceil(ns / 10);
  const ntjump = Math.ceil(nt / 10);
  const nljump = Math.ceil(nl / 10);

  const trend = new Float64Array(n);
  const season = new Float64Array(n);
  const rw = new Float64Array(n).fill(1);
  const ws = workspace !== undefined && workspace.fits(n, np) ? workspace : new StlWorkspace(n, np, np);
  const { C, w1, w2, scratch, L, sub, subRw, subOut } = ws;

  let userw = false;
  for (let outer = 0; ; outer++) {
    for (let it = 0; it < ni; it++) {
      // 1. Detrend.
      for (let i = 0; i < n; i++) w1[i] = y[i] - trend[i];
      // 2. Cycle-subseries smoothing into C (length n + 2np, one extra cycle each side).
      for (let j = 0; j < np; j++) {
        const k = Math.floor((n - 1 - j) / np) + 1;
        for (let i = 0; i < k; i++) {
          sub[i] = w1[i * np + j];
          subRw[i] = rw[i * np + j];
        }
        const r = userw ? subRw : null;
        loessSmooth(sub, k, ns, isdeg, nsjump, r, subOut, 1);
        const e0 = loessEstimate(sub, k, ns, isdeg, -1, 0, Math.min(ns, k) - 1, r);
        subOut[0] = Number.isNaN(e0) ? subOut[1] : e0;
        const e1 = loessEstimate(sub, k, ns, isdeg, k, Math.max(0, k - ns), k - 1, r);
        subOut[k + 1] = Number.isNaN(e1) ? subOut[k] : e1;
        for (let m = 0; m < k + 2; m++) C[m * np + j] = subOut[m];
      }
      // 3. Low-pass filter of C: MA(np), MA(np), MA(3), then loess(nl).
      movingAverage(C, n + 2 * np, np, w2);
      movingAverage(w2, n + np + 1, np, scratch);
      movingAverage(scratch, n + 2, 3, w2);
      loessSmooth(w2, n, nl, 1, nljump, null, L, 0);
      // 4. Seasonal = C (central part) − low-pass.
      for (let i = 0; i < n; i++) season[i] = C[np + i] - L[i];
      // 5. Deseasonalize and smooth the trend.
      for (let i = 0; i < n; i++) w1[i] = y[i] - season[i];
      loessSmooth(w1, n, nt, 1, ntjump, userw ? rw : null, trend, 0);
    }
    if (outer >= no) break;
    robustnessWeights(y, trend, season, rw, scratch);
    userw = true;
  }
  if (periodic) {
    // As R's stl: a periodic seasonal is replaced by its per-phase means.
    const sum = new Float64Array(np);
    const cnt = new Float64Array(np);
    for (let i = 0; i < n; i++) {
      sum[i % np] += season[i];
      cnt[i % np] += 1;
    }
    for (let i = 0; i < n; i++) season[i] = sum[i % np] / cnt[i % np];
  }
  const remainder = new Float64Array(n);
  for (let i = 0; i < n; i++) remainder[i] = y[i] - trend[i] - season[i];
  if (!userw) rw.fill(1);
  return { seasonal: season, trend, remainder, weights: rw };
}

/** Bisquare robustness weights of the remainder, scaled by 6 × its median absolute value. */
function robustnessWeights(y: Float64Array, trend: Float64Array, season: Float64Array, rw: Float64Array, scratch: Float64Array): void {
  const n = y.length;
  for (let i = 0; i < n; i++) scratch[i] = Math.abs(y[i] - trend[i] - season[i]);
  const cmad = 6 * medianInPlace(scratch, 0, n);
  const c9 = 0.999 * cmad;
  const c1 = 0.001 * cmad;
  for (let i = 0; i < n; i++) {
    const r = Math.abs(y[i] - trend[i] - season[i]);
    if (r <= c1) rw[i] = 1;
    else if (r <= c9) {
      const u = r / cmad;
      rw[i] = (1 - u * u) * (1 - u * u);
    } else rw[i] = 0;
  }
}

/** Options of {@link mstl}. */
export interface MstlOptions {
  /** Passes over the periods (default 2, as R's forecast::mstl). */
  iterations?: number;
  /** Seasonal window per period, shortest first (default 7 + 4·i for i = 1, 2, …: 11, 15, …). */
  seasonalWindows?: (number | 'periodic')[];
  robust?: boolean;
  /** Robustness iterations per STL when `robust` (default 15, as R's stl). */
  robustIterations?: number;
}

/** An MSTL decomposition: y = Σ seasonals + trend + remainder. */
export interface MstlResult {
  /** Periods actually decomposed (those with ≥ 2 full cycles), ascending. */
  periods: number[];
  /** One seasonal component per entry of `periods`. */
  seasonals: Float64Array[];
  /** y minus every seasonal component. */
  adjusted: Float64Array;
  /** Trend of the last STL pass. */
  trend: Float64Array;
  remainder: Float64Array;
}

/**
 * MSTL: multiple seasonal components by iterated STL, shortest period first. Periods with fewer
 * than 2 full cycles in `y` are skipped. With no usable period, `adjusted` is a copy of `y` and
 * `trend` is `y` itself (no smoothing).
 */
export function mstl(y: Float64Array, periods: readonly number[], opts: MstlOptions = {}): MstlResult {
  const n = y.length;
  const ps = [...new Set(periods)].filter((p) => p >= 2 && 2 * p <= n).sort((a, b) => a - b);
  const iterations = ps.length > 1 ? (opts.iterations ?? 2) : 1;
  const seasonals: Float64Array[] = ps.map(() => new Float64Array(n));
  const adjusted = Float64Array.from(y);
  let trend: Float64Array = Float64Array.from(y);
  const ws = ps.length > 0 ? new StlWorkspace(n, ps[0], ps[ps.length - 1]) : undefined;
  for (let it = 0; it < iterations; it++) {
    for (let k = 0; k < ps.length; k++) {
      const s = seasonals[k];
      for (let i = 0; i < n; i++) adjusted[i] += s[i];
      const window = opts.seasonalWindows?.[k] ?? 7 + 4 * (k + 1);
      const robust = opts.robust ?? false;
      const fit = stl(adjusted, ps[k], { seasonalWindow: window, robust, outer: robust ? (opts.robustIterations ?? 15) : 0 }, ws);
      seasonals[k] = fit.seasonal;
      trend = fit.trend;
      for (let i = 0; i < n; i++) adjusted[i] -= fit.seasonal[i];
    }
  }
  const remainder = new Float64Array(n);
  for (let i = 0; i < n; i++) remainder[i] = adjusted[i] - trend[i];
  return { periods: ps, seasonals, adjusted, trend, remainder };
}
