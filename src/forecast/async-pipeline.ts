/**
 * The pipeline with asynchronous models (the LSTM): the synchronous pipeline is run with a
 * stand-in for each async model that answers from a cache and records what it was asked; the
 * missing forecasts are then computed (awaited) and the pipeline runs again. Everything is
 * deterministic, so after at most three passes (selection origins, then calibration origins
 * and the final fit of a chosen async model) every request is answered and the result is the
 * one a synchronous model would have given. Only the fits actually needed are computed.
 */
import { DEFAULT_MODELS, MODELS } from './models/index.js';
import { forecastSeries, type PipelineOptions } from './pipeline.js';
import type { AsyncForecastModel, ForecastModel, ModelInput, RegularSeries, SeriesForecast } from './types.js';

const MAX_PASSES = 4;

export async function forecastSeriesWithAsync(s: RegularSeries, opts: PipelineOptions, asyncModels: AsyncForecastModel[]): Promise<SeriesForecast> {
  const cache = new Map<string, Float64Array>();
  const key = (name: string, input: ModelInput, h: number) => `${name}:${input.y.length}:${h}`;
  const asyncNames = asyncModels.map((m) => m.name);
  const models = [...(opts.models ?? DEFAULT_MODELS).filter((m) => !asyncNames.includes(m)), ...asyncNames];
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const missing: { model: AsyncForecastModel; input: ModelInput; h: number }[] = [];
    const registry: Record<string, ForecastModel> = { ...(opts.registry ?? MODELS) };
    for (const am of asyncModels) {
      registry[am.name] = {
        name: am.name,
        minHistory: (input, h) => am.minHistory(input, h),
        forecast(input, h) {
          const hit = cache.get(key(am.name, input, h));
          if (hit) return hit.slice();
          missing.push({ model: am, input: { ...input, y: input.y.slice() }, h });
          // A placeholder: NaN forecasts score as missing, so this pass's choice is discarded.
          return new Float64Array(h).fill(NaN);
        },
      };
    }
    const result = forecastSeries(s, { ...opts, models, registry });
    if (missing.length === 0) return result;
    for (const m of missing) {
      const k = key(m.model.name, m.input, m.h);
      if (!cache.has(k)) cache.set(k, await m.model.forecastAsync(m.input, m.h));
    }
  }
  throw new Error(`async pipeline did not settle after ${MAX_PASSES} passes (series ${s.series})`);
}
