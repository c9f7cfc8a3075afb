/**
 * Local (tricube-weighted) regression of degree 0 or 1 on equally spaced points, with the
 * "jump" speed-up of Cleveland et al.'s STL: the fit is evaluated every `jump` points and
 * linearly interpolated in between, so a window of q points costs O(n·q/jump).
 *
 * Positions are the indices 0..n-1; the window `span` is a number of points. The arithmetic is
 * that of the original STL Fortran (window half-width h, tricube weights cut at 0.999·h, the
 * linear term dropped when the weighted spread of positions is tiny), in one pass of running
 * weighted moments.
 */

/**
 * Loess estimate at position `xs` (may lie outside [0, n)) from the points `y[left..right]`
 * (inclusive). `rw` are optional robustness weights. Returns NaN when every weight is zero (the
 * caller then falls back to a neighbour).
 */
export function loessEstimate(
  y: Float64Array,
  n: number,
  span: number,
  degree: 0 | 1,
  xs: number,
  left: number,
  right: number,
  rw: Float64Array | null,
): number {
  let h = Math.max(xs - left, right - xs);
  if (span > n) h += Math.floor((span - n) / 2);
  const h9 = 0.999 * h;
  const h1 = 0.001 * h;
  const invH = 1 / h;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let t0 = 0;
  let t1 = 0;
  for (let j = left; j <= right; j++) {
    const u = j - xs;
    const r = u < 0 ? -u : u;
    if (r > h9) continue;
    let w: number;
    if (r <= h1) w = 1;
    else {
      const q = r * invH;
      const t = 1 - q * q * q;
      w = t * t * t;
    }
    if (rw !== null) w *= rw[j];
    const wy = w * y[j];
    s0 += w;
    s1 += w * u;
    s2 += w * u * u;
    t0 += wy;
    t1 += wy * u;
  }
  if (!(s0 > 0)) return NaN;
  const mean = t0 / s0;
  if (h > 0 && degree > 0) {
    // Weighted linear fit evaluated at u = 0 (the point xs).
    const a = s1 / s0;
    const c = s2 / s0 - a * a;
    if (c > 0 && Math.sqrt(c) > 0.001 * (n - 1)) return mean - (a * (t1 / s0 - a * mean)) / c;
  }
  return mean;
}

/**
 * Loess smooth of `y[0..n)` into `out[outOffset .. outOffset+n)`, window `span` points,
 * evaluated every `jump` points and interpolated linearly in between; `rw` optional robustness
 * weights (length ≥ n).
 */
export function loessSmooth(
  y: Float64Array,
  n: number,
  span: number,
  degree: 0 | 1,
  jump: number,
  rw: Float64Array | null,
  out: Float64Array,
  outOffset: number,
): void {
  if (n < 2) {
    out[outOffset] = y[0];
    return;
  }
  const nj = Math.max(1, Math.min(jump, n - 1));
  const nsh = (span + 1) >> 1;
  if (span >= n) {
    for (let i = 0; i < n; i += nj) {
      const v = loessEstimate(y, n, span, degree, i, 0, n - 1, rw);
      out[outOffset + i] = Number.isNaN(v) ? y[i] : v;
    }
  } else if (nj === 1) {
    let left = 0;
    let right = span - 1;
    for (let i = 0; i < n; i++) {
      if (i + 1 > nsh && right !== n - 1) {
        left++;
        right++;
      }
      const v = loessEstimate(y, n, span, degree, i, left, right, rw);
      out[outOffset + i] = Number.isNaN(v) ? y[i] : v;
    }
    return;
  } else {
    // Interior points have a centered window, so the tricube kernel is the same for all of
    // them: precompute it once. Without robustness weights it is also symmetric, and the local
    // linear fit at the center is the kernel-weighted mean (the first moment vanishes).
    const half = (span - 1) >> 1;
    const kernel = span % 2 === 1 ? centeredKernel(half) : null;
    let ksum = 0;
    if (kernel !== null) {
      ksum = kernel[0];
      for (let d = 1; d <= half; d++) ksum += 2 * kernel[d];
    }
    for (let i = 0; i < n; i += nj) {
      let left: number;
      if (i + 1 < nsh) left = 0;
      else if (i + 1 >= n - nsh + 1) left = n - span;
      else left = i - nsh + 1;
      if (kernel !== null && left === i - half && ksum > 0) {
        if (rw === null) {
          let acc = kernel[0] * y[i];
          for (let d = 1; d <= half; d++) acc += kernel[d] * (y[i - d] + y[i + d]);
          out[outOffset + i] = acc / ksum;
          continue;
        }
        const v = weightedCenteredFit(y, n, i, half, kernel, rw, degree);
        if (!Number.isNaN(v)) {
          out[outOffset + i] = v;
          continue;
        }
      }
      const v = loessEstimate(y, n, span, degree, i, left, left + span - 1, rw);
      out[outOffset + i] = Number.isNaN(v) ? y[i] : v;
    }
  }
  if (nj === 1) return;
  for (let i = 0; i + nj < n; i += nj) {
    const a = out[outOffset + i];
    const delta = (out[outOffset + i + nj] - a) / nj;
    for (let j = 1; j < nj; j++) out[outOffset + i + j] = a + delta * j;
  }
  const k = Math.floor((n - 1) / nj) * nj;
  if (k !== n - 1) {
    const left = span >= n ? 0 : n - span;
    const v = loessEstimate(y, n, span, degree, n - 1, left, n - 1, rw);
    out[outOffset + n - 1] = Number.isNaN(v) ? y[n - 1] : v;
    if (k !== n - 2) {
      const a = out[outOffset + k];
      const delta = (out[outOffset + n - 1] - a) / (n - 1 - k);
      for (let j = k + 1; j < n - 1; j++) out[outOffset + j] = a + delta * (j - k);
    }
  }
}

/** Tricube weights at distances 0..h of a window of half-width h, cut as in {@link loessEstimate}. */
function centeredKernel(h: number): Float64Array {
  const k = new Float64Array(h + 1);
  const h9 = 0.999 * h;
  const h1 = 0.001 * h;
  for (let d = 0; d <= h; d++) {
    if (d > h9) k[d] = 0;
    else if (d <= h1) k[d] = 1;
    else {
      const q = d / h;
      const t = 1 - q * q * q;
      k[d] = t * t * t;
    }
  }
  return k;
}

/**
 * {@link loessEstimate} at the center i of the window [i−half, i+half] with a precomputed
 * kernel and robustness weights: the same arithmetic without recomputing the tricube weights.
 */
function weightedCenteredFit(y: Float64Array, n: number, i: number, half: number, kernel: Float64Array, rw: Float64Array, degree: 0 | 1): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let t0 = 0;
  let t1 = 0;
  for (let d = -half; d <= half; d++) {
    const w = kernel[d < 0 ? -d : d] * rw[i + d];
    const wy = w * y[i + d];
    s0 += w;
    s1 += w * d;
    s2 += w * d * d;
    t0 += wy;
    t1 += wy * d;
  }
  if (!(s0 > 0)) return NaN;
  const mean = t0 / s0;
  if (half > 0 && degree > 0) {
    const a = s1 / s0;
    const c = s2 / s0 - a * a;
    if (c > 0 && Math.sqrt(c) > 0.001 * (n - 1)) return mean - (a * (t1 / s0 - a * mean)) / c;
  }
  return mean;
}
