/**
 * Small descriptive statistics on typed arrays. Pure, allocation-light helpers used by the
 * seasonality test and the models.
 */

/** Arithmetic mean of `x[from, to)` (whole array by default); NaN for an empty range. */
export function mean(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i];
  return s / (to - from);
}

/** Population variance (divides by n) of `x[from, to)`. */
export function variance(x: ArrayLike<number>, from = 0, to = x.length): number {
  const m = mean(x, from, to);
  let s = 0;
  for (let i = from; i < to; i++) {
    const d = x[i] - m;
    s += d * d;
  }
  return s / (to - from);
}

/**
 * In-place k-th smallest (0-based) of `a[from, to)` by Hoare selection; reorders that range.
 * Expected O(n).
 */
export function selectInPlace(a: Float64Array, k: number, from = 0, to = a.length): number {
  let lo = from;
  let hi = to - 1;
  const target = from + k;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target];
}

/** Median of `a[from, to)`, computed in place (the range is reordered). NaN when empty. */
export function medianInPlace(a: Float64Array, from = 0, to = a.length): number {
  const n = to - from;
  if (n <= 0) return NaN;
  const half = n >>> 1;
  const upper = selectInPlace(a, half, from, to);
  if (n % 2 === 1) return upper;
  // The lower middle is the largest value left of the upper middle after selection.
  let lower = -Infinity;
  for (let i = from; i < from + half; i++) if (a[i] > lower) lower = a[i];
  return (lower + upper) / 2;
}

/** Median of `x` (copied; the input is not modified). */
export function median(x: ArrayLike<number>): number {
  return medianInPlace(Float64Array.from(x));
}

/** Mean absolute value of `x[from, to)`. */
export function meanAbs(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += Math.abs(x[i]);
  return s / (to - from);
}

/**
 * Centered moving average of even or odd length `m` (a 2×m MA when `m` is even, as in classical
 * decomposition), O(n) with running sums. Near the ends, where the full window does not fit, the
 * window is truncated to the available points, so the result has no gaps.
 */
export function centeredMovingAverage(x: Float64Array, m: number): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i] + x[i];
  const half = m >> 1;
  const even = m % 2 === 0;
  for (let i = 0; i < n; i++) {
    if (even) {
      // 2×m MA: weights 1/(2m) on the two outermost points, 1/m on the m-1 inner ones.
      const a = i - half;
      const b = i + half;
      if (a >= 0 && b < n) {
        const inner = prefix[b] - prefix[a + 1];
        out[i] = (inner + 0.5 * (x[a] + x[b])) / m;
        continue;
      }
    } else {
      const a = i - half;
      const b = i + half;
      if (a >= 0 && b < n) {
        out[i] = (prefix[b + 1] - prefix[a]) / m;
        continue;
      }
    }
    const a = Math.max(0, i - half);
    const b = Math.min(n - 1, i + half);
    out[i] = (prefix[b + 1] - prefix[a]) / (b - a + 1);
  }
  return out;
}
