/**
 * Dense symmetric positive-definite solves for small systems (tens of unknowns): Cholesky
 * factorization in place on a row-major p×p Float64Array.
 */

/**
 * Cholesky factorization A = L·Lᵀ in place (the lower triangle of `a` receives L; the upper
 * triangle is left untouched). Returns false when `a` is not numerically positive definite.
 */
export function choleskyInPlace(a: Float64Array, p: number): boolean {
  for (let j = 0; j < p; j++) {
    let d = a[j * p + j];
    for (let k = 0; k < j; k++) d -= a[j * p + k] * a[j * p + k];
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    a[j * p + j] = ljj;
    for (let i = j + 1; i < p; i++) {
      let s = a[i * p + j];
      for (let k = 0; k < j; k++) s -= a[i * p + k] * a[j * p + k];
      a[i * p + j] = s / ljj;
    }
  }
  return true;
}

/** Solve L·Lᵀ·x = b given the factor from {@link choleskyInPlace}; `b` is overwritten with x. */
export function choleskySolveInPlace(l: Float64Array, p: number, b: Float64Array): void {
  for (let i = 0; i < p; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * p + k] * b[k];
    b[i] = s / l[i * p + i];
  }
  for (let i = p - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < p; k++) s -= l[k * p + i] * b[k];
    b[i] = s / l[i * p + i];
  }
}

/**
 * Solve the symmetric positive (semi)definite system A·x = b (A row-major p×p, only its lower
 * triangle is read). When A is singular or indefinite, a growing multiple of its mean diagonal
 * is added (ridge jitter) until the factorization succeeds. Inputs are not modified.
 */
export function solveSpd(a: Float64Array, p: number, b: Float64Array): Float64Array {
  let scale = 0;
  for (let i = 0; i < p; i++) scale += Math.abs(a[i * p + i]);
  scale = scale > 0 ? scale / p : 1;
  const work = new Float64Array(p * p);
  for (let jitter = 0, attempt = 0; attempt < 12; attempt++, jitter = jitter === 0 ? 1e-12 * scale : jitter * 100) {
    work.set(a);
    for (let i = 0; i < p; i++) work[i * p + i] += jitter;
    if (choleskyInPlace(work, p)) {
      const x = Float64Array.from(b);
      choleskySolveInPlace(work, p, x);
      return x;
    }
  }
  throw new RangeError('solveSpd: matrix is not positive definite even with jitter');
}
