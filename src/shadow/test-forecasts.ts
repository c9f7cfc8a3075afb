/** Forecast fixtures for the shadow manager's unit tests (not used by production code). */
import type { SeriesForecast } from '../forecast/types.js';

/**
 * A forecast of `metric` with one step per entry of `means`, the first at `t0`, intervals
 * mean ± h80 (80 %) and mean ± h95 (95 %).
 */
export function forecastOf(metric: string, t0: number, step: number, means: readonly number[], h80 = 10, h95 = 20): SeriesForecast {
  return {
    series: 'vm',
    metric,
    unit: '',
    stepSeconds: step,
    model: 'test',
    points: means.map((mean, i) => ({ t: t0 + i * step, mean, intervals: { '80': [mean - h80, mean + h80], '95': [mean - h95, mean + h95] } })),
  };
}
