import { describe, expect, it } from 'vitest';
import { centeredMovingAverage, median, medianInPlace, variance } from './stats.js';

describe('stats', () => {
  it('median of odd and even samples, in place on a sub-range', () => {
    expect(median([5, 1, 4, 2, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const a = Float64Array.from([100, 7, 1, 9, -100]);
    expect(medianInPlace(a, 1, 4)).toBe(7);
    expect(median([2, 2, 2, 2, 1, 3])).toBe(2);
  });

  it('variance divides by n', () => {
    expect(variance([1, 2, 3, 4])).toBeCloseTo(1.25, 12);
  });

  it('a 2×12 moving average removes a period-12 cycle and keeps a line', () => {
    const y = Float64Array.from({ length: 60 }, (_, i) => 2 * i + Math.sin((2 * Math.PI * i) / 12));
    const m = centeredMovingAverage(y, 12);
    for (let i = 6; i < 54; i++) expect(m[i]).toBeCloseTo(2 * i, 9);
    const m3 = centeredMovingAverage(Float64Array.from([1, 2, 3, 4, 5]), 3);
    expect(Array.from(m3)).toEqual([1.5, 2, 3, 4, 4.5]);
  });
});
