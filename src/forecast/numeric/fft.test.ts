import { describe, expect, it } from 'vitest';
import { acf, fftInPlace } from './fft.js';
import { Rng } from './random.js';

describe('fft', () => {
  it('transforms an impulse and a cosine to known spectra and inverts', () => {
    const re = Float64Array.from([1, 0, 0, 0, 0, 0, 0, 0]);
    const im = new Float64Array(8);
    fftInPlace(re, im);
    expect(Array.from(re)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    const c = Float64Array.from({ length: 8 }, (_, i) => Math.cos((2 * Math.PI * i) / 8));
    const ci = new Float64Array(8);
    fftInPlace(c, ci);
    expect(c[1]).toBeCloseTo(4, 12);
    expect(c[7]).toBeCloseTo(4, 12);
    expect(Math.abs(c[2])).toBeLessThan(1e-12);
    fftInPlace(c, ci, true);
    expect(c[0]).toBeCloseTo(1, 12);
    expect(c[2]).toBeCloseTo(0, 12);
  });

  it('acf equals the direct estimator', () => {
    const rng = new Rng(9);
    const x = Float64Array.from({ length: 300 }, () => rng.normal());
    for (let i = 1; i < 300; i++) x[i] += 0.6 * x[i - 1];
    const r = acf(x, 20);
    let m = 0;
    for (const v of x) m += v / 300;
    let c0 = 0;
    for (const v of x) c0 += (v - m) * (v - m);
    for (const k of [0, 1, 5, 20]) {
      let ck = 0;
      for (let i = 0; i + k < 300; i++) ck += (x[i] - m) * (x[i + k] - m);
      expect(r[k]).toBeCloseTo(ck / c0, 12);
    }
    expect(r[1]).toBeGreaterThan(0.4);
  });
});
