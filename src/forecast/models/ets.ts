/**
 * Additive-error exponential smoothing without seasonality (the non-seasonal ETS models used on
 * seasonally adjusted series): ANN (simple exponential smoothing), AAN (Holt's linear trend)
 * and AAdN (damped additive trend), in Hyndman et al.'s state-space form.
 *
 * The smoothing parameters are fit by minimizing the sum of squared one-step errors; the initial
 * states are concentrated out exactly: the filter is linear in the initial state, so for given
 * parameters the best initial state solves a 1×1 or 2×2 least-squares problem computed in the
 * same pass. Models are compared by AICc, as R's `forecast::ets`. Each evaluation is O(n).
 */
import { goldenSection, nelderMead, toInterval, fromInterval } from '../numeric/optim.js';

/** The non-seasonal ETS forms supported. */
export type EtsKind = 'ANN' | 'AAN' | 'AAdN';

/** A fitted ETS model: its parameters and final state. */
export interface EtsFit {
  kind: EtsKind;
  alpha: number;
  beta: number;
  phi: number;
  /** Final level and trend (trend 0 for ANN). */
  level: number;
  trend: number;
  sse: number;
  aicc: number;
  n: number;
}

/** Bounds as in R's forecast::ets (usual region). */
const A_LO = 1e-4;
const A_HI = 0.9999;
const PHI_LO = 0.8;
const PHI_HI = 0.98;
/**
 * Below this size the initial state's influence on later one-step forecasts is dropped: the
 * sensitivities decay geometrically, so tracking them to the end would only cost time.
 */
const NEGLIGIBLE = 1e-12;

/**
 * One filter pass with zero initial state that concentrates the initial state out.
 * Writes [sse, level, trend] of the best initial state into `out`.
 */
export function etsConcentratedSse(y: Float64Array, kind: EtsKind, alpha: number, beta: number, phi: number, out: Float64Array): void {
  const n = y.length;
  if (kind === 'ANN') {
    sesConcentratedSse(y, alpha, out);
    return;
  }
  const ph = kind === 'AAdN' ? phi : 1;
  const b_ = beta;
  // Zero-initial-state filter: state (l, b), one-step forecast l + ph·b.
  let l = 0;
  let b = 0;
  // P = D^t (2×2) tracks the state's sensitivity to the initial state: x_t = x_t(0) + P x0.
  // D = F − g·wᵀ with F = [[1, ph], [0, ph]], g = (α, β), w = (1, ph).
  const d00 = 1 - alpha;
  const d01 = ph * (1 - alpha);
  const d10 = -b_;
  const d11 = ph * (1 - b_);
  let p00 = 1;
  let p01 = 0;
  let p10 = 0;
  let p11 = 1;
  let see = 0;
  let s00 = 0;
  let s01 = 0;
  let s11 = 0;
  let r0 = 0;
  let r1 = 0;
  let t = 0;
  // Phase 1: track the sensitivities while they matter (they decay geometrically).
  for (; t < n; t++) {
    if ((t & 63) === 0 && Math.abs(p00) + Math.abs(p01) + Math.abs(p10) + Math.abs(p11) < NEGLIGIBLE) break;
    const f = l + ph * b;
    const e = y[t] - f;
    // One-step forecast sensitivity c = wᵀP: ŷ_t = f + c·x0, so e_t(x0) = e − c·x0.
    const c0 = p00 + ph * p10;
    const c1 = p01 + ph * p11;
    see += e * e;
    s00 += c0 * c0;
    s01 += c0 * c1;
    s11 += c1 * c1;
    r0 += c0 * e;
    r1 += c1 * e;
    l = f + alpha * e;
    b = ph * b + b_ * e;
    const q00 = d00 * p00 + d01 * p10;
    const q01 = d00 * p01 + d01 * p11;
    const q10 = d10 * p00 + d11 * p10;
    const q11 = d10 * p01 + d11 * p11;
    p00 = q00;
    p01 = q01;
    p10 = q10;
    p11 = q11;
  }
  // Phase 2: the plain filter.
  for (; t < n; t++) {
    const f = l + ph * b;
    const e = y[t] - f;
    see += e * e;
    l = f + alpha * e;
    b = ph * b + b_ * e;
  }
  let x0 = 0;
  let x1 = 0;
  // Tiny ridge keeps the 2×2 system solvable when the sensitivities die out fast.
  const eps = 1e-9 * (s00 + s11 + 1e-300);
  const a = s00 + eps;
  const d = s11 + eps;
  const det = a * d - s01 * s01;
  if (det > 0) {
    x0 = (d * r0 - s01 * r1) / det;
    x1 = (a * r1 - s01 * r0) / det;
  }
  const sse = Math.max(0, see - 2 * (x0 * r0 + x1 * r1) + x0 * x0 * s00 + 2 * x0 * x1 * s01 + x1 * x1 * s11);
  out[0] = sse;
  out[1] = l + p00 * x0 + p01 * x1;
  out[2] = b + p10 * x0 + p11 * x1;
}

/** The ANN special case of {@link etsConcentratedSse}: sensitivity (1 − α)^t. */
function sesConcentratedSse(y: Float64Array, alpha: number, out: Float64Array): void {
  const n = y.length;
  const d = 1 - alpha;
  let l = 0;
  let c = 1;
  let see = 0;
  let scc = 0;
  let sce = 0;
  let t = 0;
  for (; t < n && c > NEGLIGIBLE; t++) {
    const e = y[t] - l;
    see += e * e;
    scc += c * c;
    sce += c * e;
    l += alpha * e;
    c *= d;
  }
  for (; t < n; t++) {
    const e = y[t] - l;
    see += e * e;
    l += alpha * e;
  }
  const x0 = scc > 0 ? sce / scc : 0;
  out[0] = Math.max(0, see - x0 * sce);
  out[1] = l + c * x0;
  out[2] = 0;
}

function aicc(n: number, sse: number, k: number): number {
  const aic = n * Math.log(Math.max(sse, 1e-300) / n) + 2 * k;
  return aic + (2 * k * (k + 1)) / Math.max(1, n - k - 1);
}

/** Fit one ETS form by SSE minimization. */
export function fitEtsKind(y: Float64Array, kind: EtsKind, startAlpha = 0.2): EtsFit {
  const n = y.length;
  const buf = new Float64Array(3);
  let alpha = 0.5;
  let beta = 0;
  let phi = 1;
  if (kind === 'ANN') {
    // Search on a log scale: noisy 5-minute series often want α ≈ 0.01–0.2.
    const r = goldenSection(
      (u) => {
        etsConcentratedSse(y, 'ANN', Math.exp(u), 0, 1, buf);
        return buf[0];
      },
      Math.log(A_LO),
      Math.log(A_HI),
      1e-3,
    );
    alpha = Math.exp(r.x[0]);
  } else {
    const damped = kind === 'AAdN';
    // β/α on a log scale: fitted trends of noisy series sit at β's lower bound, which a
    // logistic map only reaches asymptotically (and Nelder–Mead then wanders for long).
    const decode = (u: Float64Array): [number, number, number] => {
      const a = toInterval(u[0], A_LO, A_HI);
      const logRatio = Math.min(0, Math.max(Math.log(A_LO / a), u[1]));
      const b = Math.max(A_LO, a * Math.exp(logRatio));
      const p = damped ? toInterval(u[2], PHI_LO, PHI_HI) : 1;
      return [a, b, p];
    };
    const a0 = Math.min(0.9, Math.max(0.01, startAlpha));
    const x0 = damped ? [fromInterval(a0, A_LO, A_HI), Math.log(0.05), fromInterval(0.9, PHI_LO, PHI_HI)] : [fromInterval(a0, A_LO, A_HI), Math.log(0.05)];
    const r = nelderMead(
      (u) => {
        const [a, b, p] = decode(u);
        etsConcentratedSse(y, kind, a, b, p, buf);
        return buf[0];
      },
      x0,
      { step: damped ? Float64Array.of(0.5, 3, 1) : Float64Array.of(0.5, 3), relTol: 1e-6, maxEval: damped ? 90 : 70 },
    );
    [alpha, beta, phi] = decode(r.x);
  }
  etsConcentratedSse(y, kind, alpha, beta, phi, buf);
  // Parameters: smoothing ones + initial states + the error variance.
  const k = kind === 'ANN' ? 3 : kind === 'AAN' ? 5 : 6;
  return { kind, alpha, beta, phi, level: buf[1], trend: kind === 'ANN' ? 0 : buf[2], sse: buf[0], aicc: aicc(n, buf[0], k), n };
}

/** Fit each form in `kinds` and keep the one with the lowest AICc. */
export function fitEts(y: Float64Array, kinds: readonly EtsKind[] = ['ANN', 'AAdN']): EtsFit {
  // Fit SES first when asked: its α starts the trended searches.
  const order = [...kinds].sort((a, b) => (a === 'ANN' ? -1 : b === 'ANN' ? 1 : 0));
  let best: EtsFit | null = null;
  let startAlpha = 0.2;
  for (const kind of order) {
    const f = fitEtsKind(y, kind, startAlpha);
    if (kind === 'ANN') startAlpha = f.alpha;
    if (best === null || f.aicc < best.aicc) best = f;
  }
  return best!;
}

/** Point forecasts 1..h of a fitted ETS model: ℓ + (φ + … + φ^j)·b. */
export function etsForecast(fit: EtsFit, h: number): Float64Array {
  const out = new Float64Array(h);
  const phi = fit.kind === 'AAdN' ? fit.phi : 1;
  let cum = 0;
  let pw = 1;
  for (let j = 0; j < h; j++) {
    pw *= phi;
    cum += pw;
    out[j] = fit.level + cum * fit.trend;
  }
  return out;
}
