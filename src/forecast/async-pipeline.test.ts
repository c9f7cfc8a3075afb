import { describe, it, expect } from 'vitest';
import { forecastSeriesWithAsync } from './async-pipeline.js';
import { forecastSeries } from './pipeline.js';
import { MODELS } from './models/index.js';
import type { AsyncForecastModel, ForecastModel, RegularSeries } from './types.js';

/** Five days of a daily sine at 5-minute steps, with a little deterministic noise. */
function series(): RegularSeries {
  const n = 5 * 288;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = 100 + 30 * Math.sin((2 * Math.PI * i) / 288) + ((i * 7919) % 13) - 6;
  return {
    series: 's', metric: 'value', unit: '', source: 'mem', t0: 1_700_000_100 - (1_700_000_100 % 86400), step: 300, values,
    imputed: new Uint8Array(n),
    report: { stepSeconds: 300, snapped: 0, reordered: false, duplicatesMerged: 0, interpolated: 0, longGaps: [] },
  };
}

/** A model that copies the last day, as a sync model and as an async one that counts its calls. */
const lastDay: ForecastModel = {
  name: 'last_day',
  minHistory: () => 288,
  forecast: (input, h) => {
    const y = input.y;
    const out = new Float64Array(h);
    for (let i = 0; i < h; i++) out[i] = y[y.length - 288 + (i % 288)];
    return out;
  },
};

describe('forecastSeriesWithAsync', () => {
  it('gives exactly what the same model gives synchronously, fitting each origin once', async () => {
    let calls = 0;
    const asyncLastDay: AsyncForecastModel = {
      name: 'last_day',
      minHistory: lastDay.minHistory,
      forecastAsync: async (input, h) => {
        calls++;
        await new Promise((r) => setTimeout(r, 1));
        return lastDay.forecast(input, h);
      },
    };
    const s = series();
    const opts = { horizonSeconds: 6 * 3600, levels: [80, 95], models: ['seasonal_median'] };
    const sync = forecastSeries(s, { ...opts, models: ['seasonal_median', 'last_day'], registry: { ...MODELS, last_day: lastDay } });
    const viaAsync = await forecastSeriesWithAsync(s, opts, [asyncLastDay]);
    expect(viaAsync.model).toBe(sync.model);
    expect(viaAsync.points).toEqual(sync.points);
    // Each distinct (training length, horizon) is fitted once, however many passes ran.
    const distinct = new Set<string>();
    const recorder: ForecastModel = { ...lastDay, forecast: (input, h) => (distinct.add(`${input.y.length}:${h}`), lastDay.forecast(input, h)) };
    forecastSeries(s, { ...opts, models: ['seasonal_median', 'last_day'], registry: { ...MODELS, last_day: recorder } });
    expect(calls).toBe(distinct.size);
  });
});
