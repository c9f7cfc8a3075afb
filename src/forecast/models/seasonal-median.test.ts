import { describe, expect, it } from 'vitest';
import type { Seasonality } from '../types.js';
import { makeSeasonalMedian, seasonalMedian } from './seasonal-median.js';

const p4: Seasonality = { name: 'daily', period: 4, strength: 0.9, significant: true };
const input = (y: number[], seasonalities: Seasonality[] = [p4]) => ({ y: Float64Array.from(y), t0: 0, step: 21_600, seasonalities });

describe('seasonal_median', () => {
  it('forecasts the per-phase median profile and ignores a one-off spike', () => {
    const y: number[] = [];
    for (let c = 0; c < 7; c++) y.push(1, 2, 3, c === 3 ? 100 : 10);
    const f = seasonalMedian.forecast(input(y), 6);
    expect(Array.from(f)).toEqual([1, 2, 3, 10, 1, 2]);
  });

  it('moves the profile to the recent level', () => {
    const y: number[] = [];
    for (let c = 0; c < 7; c++) for (const v of [1, 2, 3, 10]) y.push(v + (c === 6 ? 5 : 0));
    const m = makeSeasonalMedian({ levelWindow: 4 });
    // Profile relative to each cycle's median (2.5): [-1.5, -0.5, 0.5, 7.5]; recent level 7.5.
    expect(Array.from(m.forecast(input(y), 4))).toEqual([6, 7, 8, 15]);
  });

  it('is the recent median without seasonality', () => {
    const m = makeSeasonalMedian({ levelWindow: 5 });
    const f = m.forecast(input([9, 9, 9, 1, 7, 2, 8, 3], []), 3);
    expect(Array.from(f)).toEqual([3, 3, 3]);
    expect(m.minHistory({ seasonalities: [], step: 300 }, 3)).toBe(1);
    expect(m.minHistory({ seasonalities: [p4], step: 21_600 }, 3)).toBe(8);
  });

  it('falls back to flat when the period has fewer than two cycles', () => {
    const f = seasonalMedian.forecast(input([1, 2, 3, 4, 5, 6]), 2);
    expect(f[0]).toBe(f[1]);
  });
});
