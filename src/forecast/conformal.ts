/**
 * Split-conformal prediction intervals per horizon step, from rolling-origin residuals.
 *
 * Input: a residual matrix (backtest origins × horizon steps, residual = actual − forecast,
 * oldest origin first). For each step h and level L the interval offsets are empirical
 * quantiles of the *signed* residuals (asymmetric, since load is skewed) with the split-conformal
 * finite-sample correction, i.e. the ⌈(n+1)·q⌉-th smallest of n residuals. Neighbouring steps
 * are pooled (a window around h that grows with h) so that every step has enough residuals.
 *
 * Adaptivity where the series drifts:
 * - origin weights decaying with age (weighted quantiles as in Barber et al. 2023, "Conformal
 *   prediction beyond exchangeability": the test point carries the weight of the newest origin
 *   and sits at +∞, which reduces to the ⌈(n+1)q⌉/n rule for equal weights);
 * - optionally, adaptive conformal inference (Gibbs & Candès 2021) run over the origins in time
 *   order: each origin is covered by intervals built from the origins before it, and the
 *   miscoverage rate steers the level: α ← α + γ(α* − err).
 *
 * Cost: quantiles are computed at anchor steps whose spacing grows with h (half the pooling
 * half-width) and interpolated linearly between them; pools stop growing at `maxPool`.
 *
 * Invariants of the result: lower offsets ≤ 0 ≤ upper offsets (so mean + offsets never cross
 * the mean), and for two levels L1 < L2 the L2 interval contains the L1 interval at every step.
 */
import { selectInPlace } from './numeric/stats.js';

/** Backtest residuals: `values[k * horizon + h]` is origin k's residual at step h (NaN = unscored). */
export interface ResidualMatrix {
  /** Number of origins (rows), oldest first. */
  origins: number;
  /** Horizon steps (columns). */
  horizon: number;
  /** Row-major residuals, actual − forecast; NaN where the actual was imputed or unknown. */
  values: Float64Array;
}

/** Options of {@link conformalOffsets}. Every field has a default tuned on Bitbrains CPU traces. */
export interface ConformalOptions {
  /**
   * Half-life of origin weights, in origins: the newest origin weighs 1, one `halfLife` older
   * weighs 1/2. `Infinity` (default) weighs all origins equally.
   */
  halfLife?: number;
  /** Minimum residuals pooled per step: the window widens until it holds this many. Default 100. */
  minPool?: number;
  /** Pooling half-width grows as `round(poolFraction · h)` (h is 0-based). Default 0.25. */
  poolFraction?: number;
  /** Smallest pooling half-width in steps. Default 1. */
  minHalfWidth?: number;
  /**
   * The growing window stops growing once a pool would exceed this many residuals (many origins
   * need no wide window; this bounds the cost). Default 1500.
   */
  maxPool?: number;
  /** Width (odd, in steps) of the moving average across h applied at the end; 1 = none. Default 5. */
  smooth?: number;
  /**
   * Adaptive conformal inference over origins in time order (off when absent). `gamma` is the
   * step size of the level update; `warmup` the number of oldest origins used only for
   * calibration before updates start (default: half the origins, at least 1); `maxRefits` the
   * most times the offsets are rebuilt during the pass (default 4: later origins are judged in
   * blocks, which bounds the cost).
   */
  aci?: { gamma: number; warmup?: number; maxRefits?: number };
}

/** Interval offsets per level and step: the interval is `[mean + lower[i][h], mean + upper[i][h]]`. */
export interface ConformalOffsets {
  /** Requested levels in percent, ascending (e.g. [80, 95]). */
  levels: number[];
  /** Levels actually used after ACI, in percent (equal to `levels` without ACI). */
  effectiveLevels: number[];
  horizon: number;
  /** Per level (same order as `levels`), per step: lower offsets, all ≤ 0. */
  lower: Float64Array[];
  /** Per level, per step: upper offsets, all ≥ 0. */
  upper: Float64Array[];
}

const DEFAULTS = { minPool: 100, maxPool: 1500, poolFraction: 0.25, minHalfWidth: 1, smooth: 5 } as const;

/**
 * Pooling half-width for step h (0-based) before widening for `minPool`: grows with h, but not
 * past the width at which `rows` origins fill `maxPool` residuals.
 */
function halfWidth(h: number, rows: number, opts: ConformalOptions): number {
  const frac = opts.poolFraction ?? DEFAULTS.poolFraction;
  const cap = Math.floor(((opts.maxPool ?? DEFAULTS.maxPool) / Math.max(1, rows) - 1) / 2);
  return Math.max(opts.minHalfWidth ?? DEFAULTS.minHalfWidth, Math.min(Math.round(frac * h), cap));
}

/**
 * Weighted conformal quantile of `vals[idx[0..n)]` (already sorted ascending by value) at
 * probability `beta`, with a test point of weight `wTest` at +∞: the smallest value whose
 * cumulative weight reaches `beta · (Σw + wTest)`. When only the +∞ point reaches it, the
 * largest value is returned (the pool is too small for that level; `minPool` avoids this).
 */
function sortedWeightedQuantile(
  vals: Float64Array,
  wts: Float64Array,
  idx: Uint32Array,
  n: number,
  total: number,
  wTest: number,
  beta: number,
): number {
  const target = beta * (total + wTest);
  let cum = 0;
  for (let j = 0; j < n; j++) {
    cum += wts[idx[j]];
    // Tolerance for rounding in the running sum (equal weights must hit rank ⌈(n+1)β⌉ exactly).
    if (cum >= target - 1e-9 * total) return vals[idx[j]];
  }
  return vals[idx[n - 1]];
}

/**
 * Split-conformal quantile with finite-sample correction of unweighted `values` (NaN skipped):
 * the ⌈(n+1)·beta⌉-th smallest value, or the largest when that rank exceeds n.
 * Exposed for tests and for callers with a single pool of residuals.
 */
export function conformalQuantile(values: ArrayLike<number>, beta: number): number {
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) finite.push(values[i]);
  if (finite.length === 0) return NaN;
  const sorted = Float64Array.from(finite).sort();
  const n = sorted.length;
  const k = Math.min(n, Math.max(1, Math.ceil((n + 1) * beta - 1e-9)));
  return sorted[k - 1];
}

/** Origin weights: newest = 1, halving every `halfLife` origins. */
export function originWeights(origins: number, halfLife = Infinity): Float64Array {
  const w = new Float64Array(origins);
  for (let k = 0; k < origins; k++) {
    const age = origins - 1 - k;
    w[k] = Number.isFinite(halfLife) && halfLife > 0 ? Math.pow(0.5, age / halfLife) : 1;
  }
  return w;
}

/** Anchor steps at which quantiles are computed; spacing grows with h (offsets are interpolated between). */
function anchorSteps(horizon: number, rows: number, opts: ConformalOptions): number[] {
  const out: number[] = [];
  let h = 0;
  while (h < horizon) {
    out.push(h);
    h += Math.max(1, Math.floor(halfWidth(h, rows, opts) / 2));
  }
  if (out[out.length - 1] !== horizon - 1) out.push(horizon - 1);
  return out;
}

/**
 * Raw (un-smoothed) offsets from the rows `[rowFrom, rowTo)` of `res`, at the given levels
 * (fractions in (0,1)), using origin weights `w`. Returns per level lower/upper arrays.
 */
function rawOffsets(
  res: ResidualMatrix,
  rowFrom: number,
  rowTo: number,
  levels: number[],
  w: Float64Array,
  opts: ConformalOptions,
): { lower: Float64Array[]; upper: Float64Array[] } {
  const H = res.horizon;
  const minPool = opts.minPool ?? DEFAULTS.minPool;
  const rows = rowTo - rowFrom;
  const lower = levels.map(() => new Float64Array(H));
  const upper = levels.map(() => new Float64Array(H));
  const anchors = anchorSteps(H, rows, opts);
  // Scratch buffers sized for the whole matrix: a pool can at most hold every residual.
  const vals = new Float64Array(rows * H);
  const wts = new Float64Array(rows * H);
  const idx = new Uint32Array(rows * H);
  // The test point weighs as much as the newest origin used.
  const wTest = rows > 0 ? w[rowTo - 1] : 1;
  const ranks: number[] = [];
  let equal = true;
  for (let k = rowFrom; k < rowTo; k++) if (w[k] !== w[rowFrom]) equal = false;
  const aLo = new Float64Array(levels.length * anchors.length);
  const aHi = new Float64Array(levels.length * anchors.length);

  for (let a = 0; a < anchors.length; a++) {
    const h = anchors[a];
    let half = halfWidth(h, rows, opts);
    let n = 0;
    let total = 0;
    // Widen the window until it pools `minPool` residuals or covers every step.
    for (;;) {
      const from = Math.max(0, h - half);
      const to = Math.min(H - 1, h + half);
      n = 0;
      total = 0;
      for (let k = rowFrom; k < rowTo; k++) {
        const base = k * H;
        for (let j = from; j <= to; j++) {
          const r = res.values[base + j];
          if (r === r) {
            vals[n] = r;
            wts[n] = w[k];
            total += w[k];
            n++;
          }
        }
      }
      if (n >= minPool || (from === 0 && to === H - 1)) break;
      half = Math.max(half + 1, Math.ceil(half * 1.5));
    }
    const stride = anchors.length;
    if (n === 0) {
      for (let i = 0; i < levels.length; i++) aLo[i * stride + a] = aHi[i * stride + a] = 0;
      continue;
    }
    if (equal) {
      // Equal weights: the same rule is the rank ⌈(n+1)β⌉; select the needed order statistics
      // (two per level) instead of sorting the pool.
      ranks.length = 0;
      for (let i = 0; i < levels.length; i++) {
        const k = Math.min(n, Math.ceil((n + 1) * (1 - (1 - levels[i]) / 2) - 1e-9));
        ranks.push(k - 1, n - k);
      }
      const order = [...new Set(ranks)].sort((p, q) => p - q);
      const at = new Map<number, number>();
      let from = 0;
      for (const r of order) {
        // After selecting rank r, every value right of r is ≥ it: the next rank lies there.
        at.set(r, selectInPlace(vals, r - from, from, n));
        from = r + 1;
      }
      for (let i = 0; i < levels.length; i++) {
        aHi[i * stride + a] = at.get(ranks[2 * i])!;
        aLo[i * stride + a] = at.get(ranks[2 * i + 1])!;
      }
      continue;
    }
    for (let j = 0; j < n; j++) idx[j] = j;
    const view = idx.subarray(0, n);
    view.sort((p, q) => vals[p] - vals[q]);
    for (let i = 0; i < levels.length; i++) {
      const beta = 1 - (1 - levels[i]) / 2;
      aHi[i * stride + a] = sortedWeightedQuantile(vals, wts, view, n, total, wTest, beta);
    }
    // Lower: the same rule on the negated residuals (the reversed order is ascending in −r).
    view.reverse();
    for (let j = 0; j < n; j++) vals[j] = -vals[j];
    for (let i = 0; i < levels.length; i++) {
      const beta = 1 - (1 - levels[i]) / 2;
      aLo[i * stride + a] = -sortedWeightedQuantile(vals, wts, view, n, total, wTest, beta);
    }
  }
  // Linear interpolation between anchors: a convex combination keeps the level ordering.
  for (let i = 0; i < levels.length; i++) {
    const off = i * anchors.length;
    for (let a = 0; a < anchors.length; a++) {
      const h0 = anchors[a];
      const h1 = a + 1 < anchors.length ? anchors[a + 1] : h0;
      for (let h = h0; h <= h1; h++) {
        const t = h1 === h0 ? 0 : (h - h0) / (h1 - h0);
        const a1 = a + 1 < anchors.length ? a + 1 : a;
        lower[i][h] = aLo[off + a] * (1 - t) + aLo[off + a1] * t;
        upper[i][h] = aHi[off + a] * (1 - t) + aHi[off + a1] * t;
      }
    }
  }
  return { lower, upper };
}

/** Centered moving average of width `width` (odd), shrinking at the edges. */
function movingAverage(x: Float64Array, width: number): Float64Array {
  const half = Math.floor(width / 2);
  if (half <= 0) return x;
  const out = new Float64Array(x.length);
  for (let h = 0; h < x.length; h++) {
    const from = Math.max(0, h - half);
    const to = Math.min(x.length - 1, h + half);
    let s = 0;
    for (let j = from; j <= to; j++) s += x[j];
    out[h] = s / (to - from + 1);
  }
  return out;
}

/**
 * Enforces the invariants in place: lower ≤ 0 ≤ upper, and for ascending levels, lower offsets
 * non-increasing and upper offsets non-decreasing.
 */
function enforceInvariants(lower: Float64Array[], upper: Float64Array[]): void {
  for (let i = 0; i < lower.length; i++) {
    for (let h = 0; h < lower[i].length; h++) {
      let lo = Math.min(0, lower[i][h]);
      let hi = Math.max(0, upper[i][h]);
      if (i > 0) {
        lo = Math.min(lo, lower[i - 1][h]);
        hi = Math.max(hi, upper[i - 1][h]);
      }
      lower[i][h] = lo;
      upper[i][h] = hi;
    }
  }
}

/** Fraction of finite residuals in row k outside [lower, upper]. NaN when the row has none. */
function rowMiscoverage(res: ResidualMatrix, k: number, lower: Float64Array, upper: Float64Array): number {
  const H = res.horizon;
  let miss = 0;
  let n = 0;
  for (let h = 0; h < H; h++) {
    const r = res.values[k * H + h];
    if (r !== r) continue;
    n++;
    if (r < lower[h] || r > upper[h]) miss++;
  }
  return n > 0 ? miss / n : NaN;
}

/**
 * Runs ACI over origins in time order and returns the adjusted levels (fractions). Origin k
 * (after the warm-up) is judged against offsets built from origins [0, k).
 */
function aciLevels(res: ResidualMatrix, levels: number[], w: Float64Array, opts: ConformalOptions): number[] {
  const aci = opts.aci!;
  const K = res.origins;
  const warmup = Math.max(1, Math.min(K - 1, aci.warmup ?? Math.floor(K / 2)));
  // Origins are judged in blocks against offsets rebuilt once per block (at most `maxRefits`
  // rebuilds): the same updates as one origin at a time, with intervals a few origins stale.
  const block = Math.max(1, Math.ceil((K - warmup) / Math.max(1, aci.maxRefits ?? 4)));
  const alphaTarget = levels.map((l) => 1 - l);
  const alpha = alphaTarget.slice();
  for (let k0 = warmup; k0 < K; k0 += block) {
    const cur = alpha.map((a) => 1 - clampAlpha(a));
    const { lower, upper } = rawOffsets(res, 0, k0, cur, w, opts);
    for (let k = k0; k < Math.min(K, k0 + block); k++) {
      for (let i = 0; i < levels.length; i++) {
        const err = rowMiscoverage(res, k, lower[i], upper[i]);
        if (Number.isFinite(err)) alpha[i] += aci.gamma * (alphaTarget[i] - err);
      }
    }
  }
  return alpha.map((a) => 1 - clampAlpha(a));
}

/** Keeps an ACI-adjusted miscoverage rate in a range where a finite interval exists. */
function clampAlpha(a: number): number {
  return Math.min(0.9, Math.max(0.001, a));
}

/**
 * Computes conformal interval offsets per step and level from backtest residuals.
 *
 * @param res residual matrix (origins × steps, oldest origin first; NaN = unscored)
 * @param levels interval levels in percent, e.g. `[80, 95]` (each in (0, 100))
 * @param opts pooling, weighting, smoothing and ACI options (see {@link ConformalOptions})
 * @returns offsets to add to the point forecast; `lower ≤ 0 ≤ upper`, nested across levels
 * @throws RangeError when a level is outside (0, 100) or the matrix shape is inconsistent
 */
export function conformalOffsets(res: ResidualMatrix, levels: number[], opts: ConformalOptions = {}): ConformalOffsets {
  if (res.values.length !== res.origins * res.horizon) {
    throw new RangeError(`residual matrix has ${res.values.length} values, expected ${res.origins}×${res.horizon}`);
  }
  for (const l of levels) {
    if (!(l > 0 && l < 100)) throw new RangeError(`interval level ${l} is not in (0, 100)`);
  }
  const sorted = [...new Set(levels)].sort((a, b) => a - b);
  const fractions = sorted.map((l) => l / 100);
  const w = originWeights(res.origins, opts.halfLife ?? Infinity);
  let used = fractions;
  if (opts.aci && res.origins >= 2) {
    used = aciLevels(res, fractions, w, opts);
    // ACI runs per level; keep the adjusted levels in the requested order.
    for (let i = 1; i < used.length; i++) used[i] = Math.max(used[i], used[i - 1]);
  }
  const raw = rawOffsets(res, 0, res.origins, used, w, opts);
  const width = opts.smooth ?? DEFAULTS.smooth;
  const lower = raw.lower.map((x) => movingAverage(x, width));
  const upper = raw.upper.map((x) => movingAverage(x, width));
  enforceInvariants(lower, upper);
  return {
    levels: sorted,
    effectiveLevels: used.map((f) => Math.round(f * 1e6) / 1e4),
    horizon: res.horizon,
    lower,
    upper,
  };
}

/** The key a level is reported under in `ForecastPoint.intervals`: `80`, `95`, `99.5`. */
export function levelKey(level: number): string {
  return String(level);
}
