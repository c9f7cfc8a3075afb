import { describe, expect, it } from 'vitest';
import {
  BACKTEST_DEFAULTS,
  actualsMatrix,
  backtest,
  commonOrigins,
  extendBacktest,
  maeScored,
  planOrigins,
  residualMatrix,
  restrictOrigins,
  subsampleOrigins,
  type BacktestResult,
} from './backtest.js';
import type { ForecastModel, RegularSeries } from './types.js';

function series(values: number[], imputedAt: number[] = []): RegularSeries {
  const imputed = new Uint8Array(values.length);
  for (const i of imputedAt) imputed[i] = 1;
  return {
    series: 's',
    metric: 'value',
    unit: '',
    source: 's.csv',
    t0: 0,
    step: 300,
    values: Float64Array.from(values),
    imputed,
    report: { stepSeconds: 300, snapped: 0, reordered: false, duplicatesMerged: 0, interpolated: 0, longGaps: [] },
  };
}

/** Forecasts the last value; records the history length it saw. */
function lastValue(seen: number[] = []): ForecastModel {
  return {
    name: 'last',
    minHistory: () => 1,
    forecast(input, h) {
      seen.push(input.y.length);
      return new Float64Array(h).fill(input.y[input.y.length - 1]);
    },
  };
}

describe('planOrigins', () => {
  it('places K origins at the given spacing, the newest leaving exactly the horizon', () => {
    expect(planOrigins(1000, 100, 300, 200, { origins: 4, spacingSeconds: 50 * 300 })).toEqual([750, 800, 850, 900]);
  });

  it('spreads the origins over the window by default (two weeks of 5-min steps)', () => {
    expect(planOrigins(10_000, 288, 300, 1).length).toBe(BACKTEST_DEFAULTS.origins);
    const o = planOrigins(10_000, 288, 300, 1, { origins: 16 });
    // 16 origins, window 4032 steps: span 4032 - 288 = 3744, spacing floor(3744 / 15) = 249.
    expect(o.length).toBe(16);
    expect(o[0]).toBe(9712 - 15 * 249);
    expect(o[15]).toBe(9712);
    for (let k = 1; k < 16; k++) expect(o[k] - o[k - 1]).toBe(249);
    expect(planOrigins(10_000, 288, 300, 1, { origins: 8 })).toEqual([5974, 6508, 7042, 7576, 8110, 8644, 9178, 9712]);
  });

  it('compresses the spacing on short series and honours minTrain', () => {
    const o = planOrigins(700, 288, 300, 288, { origins: 8 });
    expect(o.length).toBe(8);
    expect(o[0]).toBeGreaterThanOrEqual(288);
    expect(o[7]).toBe(412);
    expect(planOrigins(700, 288, 300, 500)).toEqual([]);
    // An explicit spacing that runs past minTrain keeps only the origins that fit.
    expect(planOrigins(700, 288, 300, 300, { origins: 8, spacingSeconds: 50 * 300 })).toEqual([312, 362, 412]);
  });

  it('subsamples evenly, keeping the newest origin', () => {
    const plan = [10, 20, 30, 40, 50, 60, 70];
    expect(subsampleOrigins(plan, 4)).toEqual([10, 30, 50, 70]);
    expect(subsampleOrigins(plan, 1)).toEqual([70]);
    expect(subsampleOrigins(plan, 9)).toEqual(plan);
    expect(subsampleOrigins([], 3)).toEqual([]);
  });
});

describe('backtest', () => {
  it('forecasts from each origin with only the history before it, and skips imputed actuals', () => {
    const y = Array.from({ length: 100 }, (_, i) => i);
    const s = series(y, [52]);
    const seen: number[] = [];
    const r = backtest(s, lastValue(seen), { t0: 0, step: 300, seasonalities: [] }, [50, 60], 5);
    expect(seen).toEqual([50, 60]);
    expect([...r.forecasts]).toEqual([49, 49, 49, 49, 49, 59, 59, 59, 59, 59]);
    const res = residualMatrix(r.forecasts, r.actuals, 2, 5);
    expect([...res.values.slice(0, 5)]).toEqual([1, 2, NaN, 4, 5]);
    expect([...res.values.slice(5)]).toEqual([1, 2, 3, 4, 5]);
    // MAE over the 9 scored points: (1+2+4+5 + 1+2+3+4+5) / 9.
    expect(maeScored(r.forecasts, r.actuals)).toBeCloseTo(27 / 9, 12);
  });

  it('rejects a model that returns the wrong number of steps', () => {
    const bad: ForecastModel = { name: 'bad', minHistory: () => 1, forecast: () => new Float64Array(3) };
    expect(() => backtest(series([1, 2, 3, 4, 5, 6]), bad, { t0: 0, step: 300, seasonalities: [] }, [3], 2)).toThrow(RangeError);
  });

  it('restricts results to shared origins', () => {
    const s = series(Array.from({ length: 40 }, (_, i) => i * i));
    const a = backtest(s, lastValue(), { t0: 0, step: 300, seasonalities: [] }, [10, 20, 30], 4);
    const b: BacktestResult = { ...restrictOrigins(a, [20, 30]), model: 'b' };
    expect(commonOrigins([a, b])).toEqual([20, 30]);
    expect([...b.forecasts]).toEqual([...a.forecasts.slice(4)]);
    expect([...b.actuals]).toEqual([...actualsMatrix(s, [20, 30], 4)]);
    expect(() => restrictOrigins(b, [10])).toThrow(RangeError);
  });

  it('extends a backtest with more origins, fitting only the new ones', () => {
    const s = series(Array.from({ length: 40 }, (_, i) => 2 * i));
    const ctx = { t0: 0, step: 300, seasonalities: [] };
    const seen: number[] = [];
    const model = lastValue(seen);
    const r = backtest(s, model, ctx, [20, 30], 3);
    const e = extendBacktest(s, model, ctx, r, [10, 20, 25, 30]);
    expect(seen).toEqual([20, 30, 10, 25]);
    expect(e.origins).toEqual([10, 20, 25, 30]);
    expect([...e.forecasts]).toEqual([18, 18, 18, 38, 38, 38, 48, 48, 48, 58, 58, 58]);
    expect([...e.actuals]).toEqual([20, 22, 24, 40, 42, 44, 50, 52, 54, 60, 62, 64]);
    expect(extendBacktest(s, model, ctx, r, [20])).toBe(r);
  });
});
