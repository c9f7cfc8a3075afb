import { describe, expect, it } from 'vitest';
import { InsufficientHistoryError } from '../../core/errors.js';
import type { Seasonality } from '../types.js';
import { snaive, snaivePeriod } from './snaive.js';

const daily: Seasonality = { name: 'daily', period: 4, strength: 0.9, significant: true };
const weekly: Seasonality = { name: 'weekly', period: 28, strength: 0.5, significant: true };

describe('snaive', () => {
  it('repeats the last season of the longest significant period up to a week', () => {
    const y = Float64Array.from([9, 9, 9, 9, 1, 2, 3, 4]);
    const f = snaive.forecast({ y, t0: 0, step: 21_600, seasonalities: [daily] }, 6);
    expect(Array.from(f)).toEqual([1, 2, 3, 4, 1, 2]);
    expect(snaivePeriod([daily, weekly], 21_600)).toBe(28);
    expect(snaivePeriod([daily, { ...weekly, significant: false }], 21_600)).toBe(4);
  });

  it('falls back to the last value without seasonality', () => {
    const y = Float64Array.from([1, 5, 7]);
    expect(Array.from(snaive.forecast({ y, t0: 0, step: 300, seasonalities: [] }, 3))).toEqual([7, 7, 7]);
    expect(snaive.minHistory({ seasonalities: [], step: 300 }, 3)).toBe(1);
  });

  it('ignores periods longer than a week and rejects short history', () => {
    const monthly: Seasonality = { name: 'monthly', period: 8640, strength: 0.5, significant: true };
    expect(snaivePeriod([monthly], 300)).toBe(1);
    const y = Float64Array.from([1, 2]);
    expect(() => snaive.forecast({ y, t0: 0, step: 21_600, seasonalities: [daily] }, 2)).toThrow(InsufficientHistoryError);
  });
});
