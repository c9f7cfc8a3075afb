/**
 * Derivative-free minimizers for small smoothing-parameter fits: golden-section search in one
 * dimension and Nelder–Mead in a few. Deterministic; the caller bounds parameters by
 * transformation (e.g. a logistic map).
 */

/** Result of a minimization. */
export interface MinResult {
  x: Float64Array;
  value: number;
  evaluations: number;
}

/**
 * Golden-section minimization of a unimodal `f` on [lo, hi] to tolerance `tol` (absolute).
 */
export function goldenSection(f: (x: number) => number, lo: number, hi: number, tol = 1e-4, maxEval = 60): MinResult {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  let evals = 2;
  while (b - a > tol && evals < maxEval) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
    evals++;
  }
  const x = fc < fd ? c : d;
  return { x: Float64Array.of(x), value: Math.min(fc, fd), evaluations: evals };
}

/** Options of {@link nelderMead}. */
export interface NelderMeadOptions {
  /** Initial simplex edge per coordinate (default 0.5). */
  step?: number | Float64Array;
  /** Stop when the simplex's value spread falls below this relative tolerance (default 1e-7). */
  relTol?: number;
  /** Evaluation budget (default 200·dim). */
  maxEval?: number;
}

/** Nelder–Mead simplex minimization of `f` from `x0` (standard coefficients 1, 2, ½, ½). */
export function nelderMead(f: (x: Float64Array) => number, x0: ArrayLike<number>, opts: NelderMeadOptions = {}): MinResult {
  const dim = x0.length;
  const relTol = opts.relTol ?? 1e-7;
  const maxEval = opts.maxEval ?? 200 * dim;
  const pts: Float64Array[] = [];
  const vals = new Float64Array(dim + 1);
  let evals = 0;
  const evalAt = (x: Float64Array): number => {
    evals++;
    const v = f(x);
    return Number.isFinite(v) ? v : Infinity;
  };
  pts.push(Float64Array.from(x0));
  vals[0] = evalAt(pts[0]);
  for (let i = 0; i < dim; i++) {
    const p = Float64Array.from(x0);
    const s = typeof opts.step === 'number' || opts.step === undefined ? (opts.step ?? 0.5) : opts.step[i];
    p[i] += s;
    pts.push(p);
    vals[i + 1] = evalAt(p);
  }
  const order = new Int32Array(dim + 1);
  const centroid = new Float64Array(dim);
  const xr = new Float64Array(dim);
  const xe = new Float64Array(dim);
  const xc = new Float64Array(dim);
  for (;;) {
    for (let i = 0; i <= dim; i++) order[i] = i;
    order.sort((a, b) => vals[a] - vals[b]);
    const best = order[0];
    const worst = order[dim];
    const second = order[dim - 1];
    const spread = Math.abs(vals[worst] - vals[best]);
    if (spread <= relTol * (Math.abs(vals[best]) + 1e-12) || evals >= maxEval) {
      return { x: Float64Array.from(pts[best]), value: vals[best], evaluations: evals };
    }
    centroid.fill(0);
    for (let i = 0; i <= dim; i++) {
      if (i === worst) continue;
      for (let k = 0; k < dim; k++) centroid[k] += pts[i][k] / dim;
    }
    for (let k = 0; k < dim; k++) xr[k] = centroid[k] + (centroid[k] - pts[worst][k]);
    const fr = evalAt(xr);
    if (fr < vals[best]) {
      for (let k = 0; k < dim; k++) xe[k] = centroid[k] + 2 * (centroid[k] - pts[worst][k]);
      const fe = evalAt(xe);
      if (fe < fr) {
        pts[worst].set(xe);
        vals[worst] = fe;
      } else {
        pts[worst].set(xr);
        vals[worst] = fr;
      }
      continue;
    }
    if (fr < vals[second]) {
      pts[worst].set(xr);
      vals[worst] = fr;
      continue;
    }
    // Contraction: outside when the reflection improved on the worst, else inside.
    const outside = fr < vals[worst];
    for (let k = 0; k < dim; k++) {
      xc[k] = outside ? centroid[k] + 0.5 * (xr[k] - centroid[k]) : centroid[k] + 0.5 * (pts[worst][k] - centroid[k]);
    }
    const fc = evalAt(xc);
    if (fc < (outside ? fr : vals[worst])) {
      pts[worst].set(xc);
      vals[worst] = fc;
      continue;
    }
    // Shrink towards the best point.
    for (let i = 0; i <= dim; i++) {
      if (i === best) continue;
      for (let k = 0; k < dim; k++) pts[i][k] = pts[best][k] + 0.5 * (pts[i][k] - pts[best][k]);
      vals[i] = evalAt(pts[i]);
    }
  }
}

/** Logistic map ℝ → (lo, hi). */
export function toInterval(u: number, lo: number, hi: number): number {
  return lo + (hi - lo) / (1 + Math.exp(-u));
}

/** Inverse of {@link toInterval}. */
export function fromInterval(x: number, lo: number, hi: number): number {
  const p = (x - lo) / (hi - lo);
  const q = Math.min(1 - 1e-9, Math.max(1e-9, p));
  return Math.log(q / (1 - q));
}
