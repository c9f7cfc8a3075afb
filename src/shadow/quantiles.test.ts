import { describe, expect, it } from 'vitest';
import { cdf, knotsOf, probabilityOf, upperOf } from './quantiles.js';

const pt = { mean: 50, intervals: { '80': [40, 60] as [number, number], '95': [30, 70] as [number, number] } };

describe('forecast quantiles', () => {
  it('places the knots at 2.5/10/50/90/97.5 %', () => {
    expect(knotsOf(pt)).toEqual([
      { q: 30, p: 0.025 },
      { q: 40, p: 0.1 },
      { q: 50, p: 0.5 },
      { q: 60, p: 0.9 },
      { q: 70, p: 0.975 },
    ]);
  });

  it('interpolates the CDF linearly between knots', () => {
    expect(probabilityOf(pt, '>', 50)).toBeCloseTo(0.5, 12);
    expect(probabilityOf(pt, '>', 60)).toBeCloseTo(0.1, 12);
    expect(probabilityOf(pt, '>', 65)).toBeCloseTo(0.0625, 12); // 1 − (0.9 + 0.5 × 0.075)
    expect(probabilityOf(pt, '<', 35)).toBeCloseTo(0.0625, 12);
    expect(probabilityOf(pt, '<=', 45)).toBeCloseTo(0.3, 12);
  });

  it('has exponential tails scaled by the outer segment width', () => {
    expect(probabilityOf(pt, '>', 70)).toBeCloseTo(0.025, 12);
    expect(probabilityOf(pt, '>', 80)).toBeCloseTo(0.025 * Math.exp(-1), 12);
    expect(probabilityOf(pt, '>', 100)).toBeCloseTo(0.025 * Math.exp(-3), 12);
    expect(probabilityOf(pt, '<', 10)).toBeCloseTo(0.025 * Math.exp(-2), 12);
    expect(probabilityOf(pt, '>', 1e6)).toBeGreaterThanOrEqual(0);
  });

  it('handles degenerate points: no interval, collapsed interval, mean outside the interval', () => {
    const mass = { mean: 5, intervals: {} };
    expect(probabilityOf(mass, '>', 5)).toBe(0);
    expect(probabilityOf(mass, '>=', 5)).toBe(1);
    expect(probabilityOf(mass, '>', 4.9)).toBe(1);
    const flat = { mean: 2, intervals: { '95': [2, 2] as [number, number] } };
    expect(probabilityOf(flat, '>', 2)).toBe(0);
    expect(probabilityOf(flat, '<', 2)).toBe(0);
    expect(probabilityOf(flat, '>=', 2)).toBe(1);
    const odd = { mean: 80, intervals: { '80': [40, 60] as [number, number] } };
    expect(knotsOf(odd).map((k) => k.q)).toEqual([40, 80, 80]); // made monotone
    expect(cdf(knotsOf(odd), 70)).toBeCloseTo(0.1 + (0.4 * 30) / 40, 12);
  });

  it('reads the upper bound at a level, else the widest, else the mean', () => {
    expect(upperOf(pt, 95)).toEqual({ value: 70, level: 95 });
    expect(upperOf(pt, 99)).toEqual({ value: 70, level: 95 });
    expect(upperOf({ mean: 3, intervals: {} }, 95)).toEqual({ value: 3, level: null });
  });
});
