/**
 * `prophet_like`: a Prophet-style additive regression (Taylor & Letham 2018) fitted by penalized
 * least squares instead of Stan:
 *
 *   y(t) = m + k·t + Σ_j δ_j·(t − s_j)₊ + Σ_seasonality Fourier terms + Σ_event β_e·1[t ∈ event]
 *
 * - piecewise-linear trend with `changepoints` candidate changepoints spread over the first
 *   `changepointRange` of the history; the slope changes δ get Prophet's Laplace(0, τ) prior,
 *   applied as a MAP estimate by iteratively reweighted ridge (an L1 penalty);
 * - Fourier terms of each significant seasonality (order 10 daily, 3 weekly, 3 otherwise) with
 *   Prophet's N(0, 10²) prior; phases are anchored to epoch time, so "daily" means clock time;
 * - one indicator regressor per event name (`ModelInput.events`: all windows of one name share
 *   the effect, as Prophet's holidays), kept when one of its windows overlaps the history,
 *   N(0, 10²) prior; forecast steps inside any window of that name get the effect;
 * - y is scaled by max|y| as Prophet does; the noise variance is re-estimated between passes.
 *
 * The Gram matrix XᵀX is assembled from structure (running suffix sums for the trend columns,
 * per-phase counts for the Fourier block, window sums for events), so a fit costs
 * O(n·F + L·F² + p³) with F Fourier columns, L the longest period and p the column count, not
 * O(n·p²). The forecast continues the last segment's slope, damped (see `trendDamping`).
 */
import { InsufficientHistoryError } from '../../core/errors.js';
import { solveSpd } from '../numeric/linalg.js';
import type { EventWindow, ForecastModel, ModelInput, Seasonality } from '../types.js';

/** Options of {@link makeProphetLike}. */
export interface ProphetLikeOptions {
  name?: string;
  /** Candidate changepoints (default 25). */
  changepoints?: number;
  /** Share of the history where changepoints may sit (default 0.8). */
  changepointRange?: number;
  /** Laplace scale τ of the slope changes (default 0.05, Prophet's). */
  changepointPriorScale?: number;
  /** Normal scale of Fourier coefficients (default 10). */
  seasonalityPriorScale?: number;
  /** Normal scale of event effects (default 10). */
  eventPriorScale?: number;
  /** Fourier order per seasonality (default: daily 10, weekly 3, other 3). */
  fourierOrder?: (s: Seasonality) => number;
  /**
   * Per-step damping φ of the last slope in the forecast: trend(n+j) = trend(n) + slope·Σ_{u≤j} φ^u.
   * 1 continues the slope linearly (Prophet), 0 keeps the trend flat. Default 0.99.
   */
  trendDamping?: number;
  /** Reweighting passes of the L1 (Laplace) penalty (default 8). */
  irlsIterations?: number;
  /**
   * Likelihood: `l2` (Gaussian, Prophet's: fits the conditional mean) or `l1` (Laplace: fits the
   * conditional median, robust to spikes). Default `l1`.
   */
  loss?: 'l1' | 'l2';
  /** Reweighting passes of the L1 loss (default 4). */
  robustIterations?: number;
}

const DEFAULT_ORDER = (s: Seasonality): number => (s.name === 'daily' ? 10 : 3);

/** The fitted design: everything needed to evaluate a row. */
interface Design {
  n: number;
  /** Changepoint positions in scaled time, ascending, and their row indices. */
  cpT: Float64Array;
  cpIdx: Int32Array;
  /** Per seasonality: period (steps), order, phase offset, Fourier table [phase][2K]. */
  seas: { period: number; order: number; offset: number; table: Float64Array }[];
  /** Event names with a window overlapping the history: their disjoint row ranges [a, b). */
  events: { name: string; ranges: { a: number; b: number }[] }[];
  nF: number;
  p: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Row index range [a, b) covered by an event, relative to y[0]. */
function eventRows(e: EventWindow, t0: number, step: number): { a: number; b: number } {
  return { a: Math.ceil((e.start - t0) / step - 1e-9), b: Math.ceil((e.end - t0) / step - 1e-9) };
}

function buildDesign(input: ModelInput, opts: Required<Omit<ProphetLikeOptions, 'name'>>): Design {
  const n = input.y.length;
  const hist = Math.floor(n * opts.changepointRange);
  const cps = new Set<number>();
  const S = Math.max(0, Math.min(opts.changepoints, hist - 1));
  for (let j = 1; j <= S; j++) cps.add(Math.round((j * (hist - 1)) / S));
  cps.delete(0);
  const cpIdx = Int32Array.from([...cps].sort((a, b) => a - b));
  const cpT = Float64Array.from(cpIdx, (c) => c / (n - 1));

  const base = Math.round(input.t0 / input.step);
  const seas: Design['seas'] = [];
  for (const s of input.seasonalities) {
    if (!s.significant || s.period < 2) continue;
    const order = Math.min(opts.fourierOrder(s), Math.floor((s.period - 1) / 2));
    if (order < 1) continue;
    const P = s.period;
    const table = new Float64Array(P * 2 * order);
    for (let ph = 0; ph < P; ph++) {
      for (let k = 1; k <= order; k++) {
        const ang = (2 * Math.PI * k * ph) / P;
        table[ph * 2 * order + 2 * (k - 1)] = Math.sin(ang);
        table[ph * 2 * order + 2 * (k - 1) + 1] = Math.cos(ang);
      }
    }
    seas.push({ period: P, order, offset: ((base % P) + P) % P, table });
  }
  const nF = seas.reduce((a, s) => a + 2 * s.order, 0);
  const byName = new Map<string, { a: number; b: number }[]>();
  for (const e of input.events ?? []) {
    const r = eventRows(e, input.t0, input.step);
    if (r.b <= r.a) continue;
    const list = byName.get(e.name) ?? [];
    list.push(r);
    byName.set(e.name, list);
  }
  const events: Design['events'] = [];
  for (const [name, list] of byName) {
    if (!list.some((r) => r.a < n && r.b > 0)) continue;
    // Merge overlapping windows so no row is counted twice.
    list.sort((x, y) => x.a - y.a);
    const ranges: { a: number; b: number }[] = [];
    for (const r of list) {
      const last = ranges[ranges.length - 1];
      if (last !== undefined && r.a <= last.b) last.b = Math.max(last.b, r.b);
      else ranges.push({ ...r });
    }
    events.push({ name, ranges });
  }
  return { n, cpT, cpIdx, seas, events, nF, p: 2 + cpIdx.length + nF + events.length };
}

/** Fourier values of row i into out[off..off+nF). */
function fourierRow(d: Design, i: number, out: Float64Array, off: number): void {
  let q = off;
  for (const s of d.seas) {
    const ph = (i + s.offset) % s.period;
    const w = 2 * s.order;
    const base = ph * w;
    for (let k = 0; k < w; k++) out[q++] = s.table[base + k];
  }
}

/** Every column's value at row i (i may be ≥ n: a forecast row). */
function fullRow(d: Design, i: number, out: Float64Array): void {
  const t = i / (d.n - 1);
  out[0] = 1;
  out[1] = t;
  const S = d.cpT.length;
  for (let j = 0; j < S; j++) out[2 + j] = t > d.cpT[j] ? t - d.cpT[j] : 0;
  fourierRow(d, i, out, 2 + S);
  const e0 = 2 + S + d.nF;
  for (let e = 0; e < d.events.length; e++) {
    let v = 0;
    for (const r of d.events[e].ranges) if (i >= r.a && i < r.b) v = 1;
    out[e0 + e] = v;
  }
}

/** In-sample fitted values of the design with coefficients θ, O(n + Σ period·order). */
function fittedValues(d: Design, theta: Float64Array, out: Float64Array): void {
  const n = d.n;
  const S = d.cpT.length;
  const inv = 1 / (n - 1);
  let j = 0;
  let sumD = 0;
  let sumDs = 0;
  for (let i = 0; i < n; i++) {
    while (j < S && d.cpIdx[j] <= i) {
      sumD += theta[2 + j];
      sumDs += theta[2 + j] * d.cpT[j];
      j++;
    }
    out[i] = theta[0] + (theta[1] + sumD) * i * inv - sumDs;
  }
  let q = 2 + S;
  for (const s of d.seas) {
    const w = 2 * s.order;
    const val = new Float64Array(s.period);
    for (let ph = 0; ph < s.period; ph++) {
      let v = 0;
      for (let k = 0; k < w; k++) v += theta[q + k] * s.table[ph * w + k];
      val[ph] = v;
    }
    for (let i = 0; i < n; i++) out[i] += val[(i + s.offset) % s.period];
    q += w;
  }
  for (let e = 0; e < d.events.length; e++) {
    const c = theta[q + e];
    for (const r of d.events[e].ranges) for (let i = Math.max(0, r.a); i < Math.min(n, r.b); i++) out[i] += c;
  }
}

/**
 * XᵀWX (full, symmetric) and XᵀWy of the design with optional observation weights W (all 1
 * when `w` is null), assembled from structure; `yy` = yᵀWy.
 */
function gram(d: Design, y: Float64Array, w: Float64Array | null = null): { G: Float64Array; Xy: Float64Array; yy: number } {
  const { n, p, nF } = d;
  const S = d.cpT.length;
  const G = new Float64Array(p * p);
  const Xy = new Float64Array(p);
  const f0 = 2 + S;
  // Backward pass: suffix sums of 1, t, t², y, t·y, and per Fourier column of f, t·f, y·f,
  // snapshotted at each changepoint (and at row 0 for the intercept and slope).
  const snapA = new Float64Array((S + 1) * 5);
  const snapF = new Float64Array((S + 1) * 2 * nF);
  const fv = new Float64Array(Math.max(1, nF));
  const F0 = new Float64Array(nF);
  const F1 = new Float64Array(nF);
  const Fy = new Float64Array(nF);
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let y0 = 0;
  let y1 = 0;
  let yy = 0;
  let next = S - 1;
  const inv = 1 / (n - 1);
  for (let i = n - 1; i >= 0; i--) {
    const t = i * inv;
    const wi = w === null ? 1 : w[i];
    const wt = wi * t;
    const yi = y[i];
    const wy = wi * yi;
    a0 += wi;
    a1 += wt;
    a2 += wt * t;
    y0 += wy;
    y1 += wy * t;
    yy += wy * yi;
    if (nF > 0) {
      fourierRow(d, i, fv, 0);
      for (let q = 0; q < nF; q++) {
        const f = fv[q];
        F0[q] += wi * f;
        F1[q] += wt * f;
        Fy[q] += wy * f;
      }
    }
    while (next >= 0 && d.cpIdx[next] === i) {
      // Snapshot j = next + 1 (slot 0 is row 0).
      const s = next + 1;
      snapA.set([a0, a1, a2, y0, y1], s * 5);
      snapF.set(F0, s * 2 * nF);
      snapF.set(F1, s * 2 * nF + nF);
      next--;
    }
  }
  snapA.set([a0, a1, a2, y0, y1], 0);
  snapF.set(F0, 0);
  snapF.set(F1, nF);
  const set = (r: number, c: number, v: number): void => {
    G[r * p + c] = v;
    G[c * p + r] = v;
  };
  // Trend block. Column 0 = 1, 1 = t, 2+j = (t − s_j)₊ (nonzero from row cpIdx[j] on).
  set(0, 0, a0);
  set(0, 1, a1);
  set(1, 1, a2);
  Xy[0] = y0;
  Xy[1] = y1;
  for (let j = 0; j < S; j++) {
    const s = d.cpT[j];
    const o = (j + 1) * 5;
    const A0 = snapA[o];
    const A1 = snapA[o + 1];
    const A2 = snapA[o + 2];
    set(0, 2 + j, A1 - s * A0);
    set(1, 2 + j, A2 - s * A1);
    Xy[2 + j] = snapA[o + 4] - s * snapA[o + 3];
    for (let k = 0; k <= j; k++) {
      // Rows from the later changepoint (j ≥ k): Σ (t − s_j)(t − s_k).
      const sk = d.cpT[k];
      set(2 + j, 2 + k, A2 - (s + sk) * A1 + s * sk * A0);
    }
    const fo = (j + 1) * 2 * nF;
    for (let q = 0; q < nF; q++) set(2 + j, f0 + q, snapF[fo + nF + q] - s * snapF[fo + q]);
  }
  for (let q = 0; q < nF; q++) {
    set(0, f0 + q, snapF[q]);
    set(1, f0 + q, snapF[nF + q]);
    Xy[f0 + q] = Fy[q];
  }
  // Fourier block: by phase of the common period L when every period divides it and L ≤ n.
  if (nF > 0) {
    let L = 1;
    for (const s of d.seas) L = (L / gcd(L, s.period)) * s.period;
    // Row i has the Fourier values of row i mod L, since every period divides L.
    const commensurate = L <= n;
    const acc = new Float64Array(nF * nF);
    if (commensurate) {
      const cnt = new Float64Array(L);
      for (let i = 0; i < n; i++) cnt[i % L] += w === null ? 1 : w[i];
      for (let ph = 0; ph < L; ph++) {
        fourierRow(d, ph, fv, 0);
        const c = cnt[ph];
        for (let a = 0; a < nF; a++) {
          const ca = c * fv[a];
          for (let b = 0; b <= a; b++) acc[a * nF + b] += ca * fv[b];
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        fourierRow(d, i, fv, 0);
        const wi = w === null ? 1 : w[i];
        for (let a = 0; a < nF; a++) {
          const fa = wi * fv[a];
          for (let b = 0; b <= a; b++) acc[a * nF + b] += fa * fv[b];
        }
      }
    }
    for (let a = 0; a < nF; a++) for (let b = 0; b <= a; b++) set(f0 + a, f0 + b, acc[a * nF + b]);
  }
  // Event rows: add each window's full rows to the event's row of G.
  const e0 = f0 + nF;
  const row = new Float64Array(p);
  for (let e = 0; e < d.events.length; e++) {
    const acc = new Float64Array(p);
    let ys = 0;
    for (const r of d.events[e].ranges) {
      const a = Math.max(0, r.a);
      const b = Math.min(n, r.b);
      for (let i = a; i < b; i++) {
        fullRow(d, i, row);
        const wi = w === null ? 1 : w[i];
        for (let c = 0; c < p; c++) acc[c] += wi * row[c];
        ys += wi * y[i];
      }
    }
    for (let c = 0; c < p; c++) set(e0 + e, c, acc[c]);
    Xy[e0 + e] = ys;
  }
  return { G, Xy, yy };
}

/** The fitted coefficients (scaled y units) and design. */
interface ProphetFit {
  design: Design;
  theta: Float64Array;
  yScale: number;
}

function fit(input: ModelInput, o: Required<Omit<ProphetLikeOptions, 'name'>>): ProphetFit {
  const y = input.y;
  const n = y.length;
  let yScale = 0;
  for (let i = 0; i < n; i++) yScale = Math.max(yScale, Math.abs(y[i]));
  if (!(yScale > 0)) yScale = 1;
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) ys[i] = y[i] / yScale;
  const d = buildDesign(input, o);
  const { G, Xy, yy } = gram(d, ys);
  const p = d.p;
  const S = d.cpT.length;
  const f0 = 2 + S;
  const e0 = f0 + d.nF;
  const A = new Float64Array(p * p);
  let theta: Float64Array = new Float64Array(p);
  // Start: σ² from the variance of y, ridge on the slope changes.
  let mean = 0;
  for (let i = 0; i < n; i++) mean += ys[i];
  mean /= n;
  let sigma2 = Math.max(1e-12, yy / n - mean * mean);
  const tau = o.changepointPriorScale;
  const solve = (Gm: Float64Array, Xym: Float64Array, noise: number, prev: Float64Array | null): Float64Array => {
    A.set(Gm);
    const add = (c: number, v: number): void => {
      A[c * p + c] += noise * v;
    };
    add(0, 1 / 25);
    add(1, 1 / 25);
    for (let j = 0; j < S; j++) add(2 + j, prev === null ? 1 / (tau * tau) : 1 / (tau * Math.max(Math.abs(prev[2 + j]), 1e-6)));
    for (let q = 0; q < d.nF; q++) add(f0 + q, 1 / (o.seasonalityPriorScale * o.seasonalityPriorScale));
    for (let e = 0; e < d.events.length; e++) add(e0 + e, 1 / (o.eventPriorScale * o.eventPriorScale));
    return solveSpd(A, p, Xym);
  };
  // Gaussian likelihood (Prophet's): the Laplace prior on δ by reweighting, σ² re-estimated.
  for (let it = 0; it <= o.irlsIterations; it++) {
    theta = solve(G, Xy, sigma2, it === 0 ? null : theta);
    // SSE = yᵀy − 2θᵀXᵀy + θᵀGθ, without another pass over the rows.
    let quad = 0;
    let lin = 0;
    for (let r = 0; r < p; r++) {
      lin += theta[r] * Xy[r];
      let s = 0;
      for (let c = 0; c < p; c++) s += G[r * p + c] * theta[c];
      quad += theta[r] * s;
    }
    sigma2 = Math.max(1e-12 * (yy / n + 1e-300), (yy - 2 * lin + quad) / n);
  }
  if (o.loss === 'l1') {
    // Laplace likelihood (a median regression) by iteratively reweighted least squares:
    // weights 1/|r| turn Σ r² into Σ |r|; the noise scale b = mean |r| multiplies the priors.
    const fitted = new Float64Array(n);
    const w = new Float64Array(n);
    for (let it = 0; it < o.robustIterations; it++) {
      fittedValues(d, theta, fitted);
      let b = 0;
      for (let i = 0; i < n; i++) b += Math.abs(ys[i] - fitted[i]);
      b /= n;
      if (!(b > 0)) break;
      const floor = 1e-2 * b;
      for (let i = 0; i < n; i++) w[i] = 1 / Math.max(Math.abs(ys[i] - fitted[i]), floor);
      const g = gram(d, ys, w);
      theta = solve(g.G, g.Xy, 1, theta);
    }
  }
  return { design: d, theta, yScale };
}

/** Build a Prophet-style model with the given options. */
export function makeProphetLike(options: ProphetLikeOptions = {}): ForecastModel {
  const name = options.name ?? 'prophet_like';
  const o: Required<Omit<ProphetLikeOptions, 'name'>> = {
    changepoints: options.changepoints ?? 25,
    changepointRange: options.changepointRange ?? 0.8,
    changepointPriorScale: options.changepointPriorScale ?? 0.05,
    seasonalityPriorScale: options.seasonalityPriorScale ?? 10,
    eventPriorScale: options.eventPriorScale ?? 10,
    fourierOrder: options.fourierOrder ?? DEFAULT_ORDER,
    trendDamping: options.trendDamping ?? 0.99,
    irlsIterations: options.irlsIterations ?? 4,
    loss: options.loss ?? 'l1',
    robustIterations: options.robustIterations ?? 4,
  };
  return {
    name,
    minHistory(input) {
      const sig = input.seasonalities.filter((s) => s.significant).map((s) => s.period);
      return Math.max(10, ...sig.map((p) => 2 * p));
    },
    forecast(input: ModelInput, h: number): Float64Array {
      const n = input.y.length;
      if (n < 10) throw new InsufficientHistoryError(`${name} needs at least 10 points, got ${n}`);
      const { design: d, theta, yScale } = fit(input, o);
      const p = d.p;
      const S = d.cpT.length;
      const row = new Float64Array(p);
      // Trend at the last observation and the last segment's slope (per step).
      const tEnd = 1;
      let trendEnd = theta[0] + theta[1] * tEnd;
      let slope = theta[1];
      for (let j = 0; j < S; j++) {
        trendEnd += theta[2 + j] * (tEnd - d.cpT[j]);
        slope += theta[2 + j];
      }
      const slopePerStep = slope / (n - 1);
      const out = new Float64Array(h);
      let damp = 1;
      let cum = 0;
      for (let j = 0; j < h; j++) {
        damp *= o.trendDamping;
        cum += damp;
        fullRow(d, n + j, row);
        let v = trendEnd + slopePerStep * cum;
        for (let c = 2 + S; c < p; c++) v += theta[c] * row[c];
        out[j] = v * yScale;
      }
      return out;
    },
  };
}

/**
 * `prophet_like` — Prophet-style regression: piecewise-linear trend with 25 changepoints in the
 * first 80 % of history (Laplace prior, L1 by reweighted ridge), Fourier terms per significant
 * seasonality (daily order 10, weekly 3), one indicator per event name; the last slope is continued
 * with per-step damping 0.99. Needs 2 cycles of the longest significant period, and ≥ 10 points.
 */
export const prophetLike: ForecastModel = makeProphetLike();

/** @internal Exposed for tests: the design builder, Gram assembly and row evaluation. */
export const prophetInternals = { buildDesign, gram, fullRow, fittedValues };
