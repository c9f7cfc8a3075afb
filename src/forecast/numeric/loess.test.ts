import { describe, expect, it } from 'vitest';
import { loessEstimate, loessSmooth } from './loess.js';

describe('loess', () => {
  it('reproduces a straight line exactly with degree 1, with and without jumps', () => {
    const n = 200;
    const y = Float64Array.from({ length: n }, (_, i) => 3 - 0.25 * i);
    for (const [span, jump] of [
      [31, 1],
      [31, 4],
      [301, 30],
    ]) {
      const out = new Float64Array(n);
      loessSmooth(y, n, span, 1, jump, null, out, 0);
      for (let i = 0; i < n; i++) expect(out[i]).toBeCloseTo(y[i], 9);
    }
  });

  it('degree 0 is a tricube-weighted mean; robustness weights exclude points', () => {
    const y = Float64Array.from([1, 1, 1, 100, 1, 1, 1]);
    const rw = Float64Array.from([1, 1, 1, 0, 1, 1, 1]);
    expect(loessEstimate(y, 7, 7, 0, 3, 0, 6, rw)).toBeCloseTo(1, 12);
    const plain = loessEstimate(y, 7, 7, 0, 3, 0, 6, null);
    expect(plain).toBeGreaterThan(10);
  });

  it('extrapolates linearly outside the data', () => {
    const y = Float64Array.from([0, 2, 4, 6, 8]);
    expect(loessEstimate(y, 5, 5, 1, -1, 0, 4, null)).toBeCloseTo(-2, 9);
    expect(loessEstimate(y, 5, 5, 1, 5, 0, 4, null)).toBeCloseTo(10, 9);
  });
});
