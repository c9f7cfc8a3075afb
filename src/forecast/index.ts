/**
 * The load profiler's public API: pure functions from series to calibrated forecasts.
 * Readers (src/ingest) produce RawSeries; `regularize` puts them on a grid; `forecastSeries`
 * does the rest for one series.
 */
export type * from './types.js';
export { regularize } from './regularize.js';
export { detectSeasonalities, significantSeasonalities } from './seasonality.js';
export { MODELS, DEFAULT_MODELS, modelNames } from './models/index.js';
export {
  forecastSeries,
  horizonSteps,
  requiredHistory,
  PIPELINE_CONFORMAL_DEFAULTS,
  type PipelineOptions,
} from './pipeline.js';
export {
  backtest,
  extendBacktest,
  planOrigins,
  subsampleOrigins,
  actualsMatrix,
  residualMatrix,
  BACKTEST_DEFAULTS,
  type BacktestOptions,
  type BacktestResult,
} from './backtest.js';
export { conformalOffsets, conformalQuantile, levelKey, type ConformalOffsets, type ConformalOptions, type ResidualMatrix } from './conformal.js';
export { selectModel, seasonalNaiveScale, combineForecasts, ensembleName, type Selection, type SelectOptions } from './select.js';
