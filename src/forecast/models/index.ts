/**
 * The model registry: every forecasting model by name. The pipeline (backtests, selection,
 * conformal intervals) looks models up here.
 */
import type { ForecastModel } from '../types.js';
import { snaive } from './snaive.js';

/** Every available model, by its `name`. */
export const MODELS: Record<string, ForecastModel> = {
  [snaive.name]: snaive,
};

/** The candidate models used when the caller names none (the LSTM is off by default). */
export const DEFAULT_MODELS: string[] = ['snaive'];

/** Names of every registered model, in registration order. */
export function modelNames(): string[] {
  return Object.keys(MODELS);
}
