import { describe, expect, it } from 'vitest';
import { InsufficientHistoryError } from '../../core/errors.js';
import { Rng } from '../numeric/random.js';
import type { Seasonality } from '../types.js';
import { DEFAULT_MODELS, MODELS, modelNames } from './index.js';

const daily: Seasonality = { name: 'daily', period: 288, strength: 0.6, significant: true };
const weekly: Seasonality = { name: 'weekly', period: 2016, strength: 0.3, significant: true };

describe('model registry', () => {
  it('registers every model under its own name, defaults included', () => {
    expect(modelNames()).toEqual(Object.keys(MODELS));
    for (const [key, m] of Object.entries(MODELS)) expect(m.name).toBe(key);
    for (const name of DEFAULT_MODELS) expect(modelNames()).toContain(name);
    expect(modelNames()).toEqual(expect.arrayContaining(['snaive', 'seasonal_median', 'mstl_ets', 'prophet_like']));
  });

  it('every model forecasts h finite values at its minimum history, deterministically', () => {
    const rng = new Rng(8);
    for (const seasonalities of [[], [daily], [daily, weekly]]) {
      for (const m of Object.values(MODELS)) {
        const n = m.minHistory({ seasonalities, step: 300 }, 288);
        const y = Float64Array.from({ length: n }, (_, t) => 100 + 20 * Math.sin((2 * Math.PI * t) / 288) + 5 * rng.normal());
        const input = { y, t0: 1_375_308_000, step: 300, seasonalities };
        const f = m.forecast(input, 300);
        expect(f.length).toBe(300);
        for (const v of f) expect(Number.isFinite(v)).toBe(true);
        expect(Array.from(m.forecast(input, 300))).toEqual(Array.from(f));
      }
    }
  });

  it('models that cannot run on a tiny history throw InsufficientHistoryError', () => {
    const y = Float64Array.of(1, 2, 3);
    for (const m of Object.values(MODELS)) {
      try {
        const f = m.forecast({ y, t0: 0, step: 300, seasonalities: [daily] }, 5);
        expect(f.length).toBe(5);
      } catch (e) {
        expect(e).toBeInstanceOf(InsufficientHistoryError);
      }
    }
  });
});
