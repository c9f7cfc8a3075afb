import { describe, expect, it } from 'vitest';
import type { BacktestResult } from './backtest.js';
import { combineForecasts, ensembleName, seasonalNaiveScale, selectModel } from './select.js';

const ACTUALS = Float64Array.from([10, 12, 14, 16, 11, 13, 15, 17]); // 2 origins × 4 steps

/** A backtest whose forecasts miss the actuals by `bias` at every step. */
function result(model: string, bias: number, origins = [100, 200], actuals = ACTUALS): BacktestResult {
  return { model, origins, horizon: 4, forecasts: actuals.map((a) => a - bias), actuals };
}

describe('seasonalNaiveScale', () => {
  it('is the mean |y[t] − y[t−lag]| over non-imputed pairs', () => {
    const y = Float64Array.from([1, 5, 3, 8, 5, 11]); // lag-2 differences: 2, 3, 2, 3
    expect(seasonalNaiveScale(y, undefined, 2)).toBe(2.5);
    const imputed = Uint8Array.from([0, 0, 0, 1, 0, 0]); // drops the pairs (1,3) and (3,5)
    expect(seasonalNaiveScale(y, imputed, 2)).toBe(2);
  });

  it('falls back to lag 1 on short series and to mean |y| on constant ones', () => {
    expect(seasonalNaiveScale(Float64Array.from([1, 4, 2]), undefined, 288)).toBe(2.5);
    expect(seasonalNaiveScale(Float64Array.from([3, 3, 3, 3]), undefined, 2)).toBe(3);
    expect(seasonalNaiveScale(Float64Array.from([0, 0, 0]), undefined, 1)).toBe(1);
  });
});

describe('combineForecasts', () => {
  it('takes the element-wise mean or median', () => {
    const f = [Float64Array.from([1, 10]), Float64Array.from([2, 30]), Float64Array.from([9, 20])];
    expect([...combineForecasts(f, 'mean')]).toEqual([4, 20]);
    expect([...combineForecasts(f, 'median')]).toEqual([2, 20]);
    expect(ensembleName(['a', 'b'], 'mean')).toBe('ensemble(a+b)');
    expect(ensembleName(['a', 'b', 'c'], 'median')).toBe('ensemble-median(a+b+c)');
    expect(ensembleName(['a'], 'mean')).toBe('a');
  });
});

describe('selectModel', () => {
  it('picks the lowest MASE and reports every score', () => {
    const sel = selectModel([result('far', 3), result('near', 0.5), result('mid', -1)], 2, { ensembles: false });
    expect(sel.name).toBe('near');
    expect(sel.members).toEqual(['near']);
    expect(sel.scores).toEqual({ far: 1.5, near: 0.25, mid: 0.5 });
  });

  it('chooses an ensemble when its errors cancel, and calibrates it on its own forecasts', () => {
    const sel = selectModel([result('up', 1), result('down', -1), result('off', 4)], 1);
    expect(sel.name).toBe('ensemble(up+down)');
    expect(sel.members).toEqual(['up', 'down']);
    expect(sel.scores['ensemble(up+down)']).toBe(0);
    expect(sel.scores.up).toBe(1);
    expect([...sel.calibration.forecasts]).toEqual([...ACTUALS]);
  });

  it('prefers the single model on a tie with an ensemble', () => {
    const sel = selectModel([result('a', 1), result('b', 1)], 1);
    expect(sel.name).toBe('a');
  });

  it('compares on shared origins but calibrates a single model on all of its origins', () => {
    const three = Float64Array.from([...ACTUALS, 20, 21, 22, 23]);
    const older = { ...result('weekly', 0, [0, 100, 200], three) };
    older.forecasts = three.map((a, i) => (i < 4 ? a - 50 : a - 0.25)); // bad only at origin 0
    const daily = result('daily', 1);
    const sel = selectModel([daily, older], 1, { ensembles: false });
    expect(sel.scores.weekly).toBe(0.25); // origin 0 is not shared, so not scored
    expect(sel.name).toBe('weekly');
    expect(sel.calibration.origins).toEqual([0, 100, 200]);
  });

  it('throws when nothing can be scored', () => {
    const nan = Float64Array.from(ACTUALS).fill(NaN);
    expect(() => selectModel([result('a', 1, [100, 200], nan)], 1)).toThrow(RangeError);
  });
});
