/**
 * The recurrent-network model: a small LSTM (or GRU) trained per series with tfjs on the wasm
 * backend. Off by default: on Bitbrains CPU it roughly ties the seasonal-median model at a few
 * seconds per fit (see the report in the forecast bench notes). It is the only model whose fit
 * is asynchronous, so it does not implement the synchronous {@link ForecastModel} contract but
 * {@link AsyncForecastModel}, which the pipeline awaits.
 *
 * How it forecasts (window layout in lstm-windows.ts):
 * - the series is normalised by the mean and standard deviation of the training window;
 * - a recurrent layer reads the last `lookback` values in patches of `patch` steps (fewer
 *   steps to unroll), each with calendar features (sin/cos of time of day and day of week);
 * - beside it, each step of the block to predict has an auxiliary row: the seasonal-naive
 *   values of the significant periods, a robust seasonal profile (median of past seasons), the
 *   current deseasonalised level and the last season's level, and the step's calendar features;
 * - output = a linear blend of the auxiliary row, shared by all steps and started at
 *   "profile + current level" (a level-adjusted seasonal median), + a correction from the
 *   recurrent state, started at 0. It predicts `block` steps at once (direct multi-output,
 *   288 by default, capped by the shortest period); longer horizons feed predicted blocks back.
 * The loss is MAE (the models are scored on MASE; MSE did clearly worse on spiky CPU series).
 * Training is reproducible: seeded initialisers, no dropout, windows put in a seeded order and
 * fitted without tfjs' own (unseeded) shuffle, and one tfjs job at a time per process.
 *
 * Pipeline use: `await initLstmBackend()` once per process (or worker), then call
 * `lstmModel.forecastAsync(input, h)` wherever a synchronous model's `forecast(input, h)` is
 * called, awaiting it: in rolling-origin backtests and for the final forecast alike. Calls are
 * serialised internally; run series in parallel with worker threads, not with Promise.all.
 */
import { InsufficientHistoryError, UsageError } from '../../core/errors.js';
import type { ForecastModel, ModelInput, Seasonality } from '../types.js';
import {
  initLstmBackend,
  loadTf,
  runExclusive,
  type LstmBackendName,
  type LstmLogger,
  type Tf,
} from './lstm-backend.js';
import {
  auxWidth,
  blendPrior,
  buildWindows,
  firstOrigin,
  normalisation,
  normalise,
  seqSteps,
  seqWidth,
  trainingOrigins,
  type WindowShape,
} from './lstm-windows.js';

export { initLstmBackend } from './lstm-backend.js';
export type { LstmBackendInfo, LstmBackendName, LstmBackendOptions, LstmLogger } from './lstm-backend.js';

/** A model whose fit is asynchronous (tfjs training); otherwise as {@link ForecastModel}. */
import type { AsyncForecastModel } from '../types.js';
export type { AsyncForecastModel };

/** Tuning of the recurrent model. Every field is optional; defaults are in {@link LSTM_DEFAULTS}. */
export interface LstmOptions {
  /** Recurrent cell type. */
  cell?: 'lstm' | 'gru';
  /** Hidden units of the recurrent layer. */
  units?: number;
  /** Past steps fed to the recurrent layer; a multiple of `patch`. */
  lookback?: number;
  /** Consecutive steps per recurrent input (fewer steps to unroll: faster training). */
  patch?: number;
  /**
   * Most steps predicted at once (capped by the horizon and the shortest seasonal period);
   * longer horizons are covered by feeding predicted blocks back in.
   */
  block?: number;
  /** Most past seasons averaged into the seasonal-profile input. */
  depth?: number;
  /** Training epochs. */
  epochs?: number;
  /** Most training windows used (evenly subsampled over the history). */
  maxWindows?: number;
  batchSize?: number;
  learningRate?: number;
  /** Training loss; MAE matches the MASE the models are scored with. */
  loss?: 'mae' | 'mse';
  /** Seed for initialisers and window order; default `input.seed`, else 42. */
  seed?: number;
  /** tfjs backend; default wasm (falls back to cpu with a logged reason). */
  backend?: LstmBackendName;
  /** Where a backend fallback is reported. */
  log?: LstmLogger;
}

/** Default tuning: sized to train in a few seconds per series on the wasm backend. */
export const LSTM_DEFAULTS = {
  cell: 'lstm',
  units: 16,
  lookback: 96,
  patch: 4,
  block: 288,
  depth: 7,
  epochs: 5,
  maxWindows: 600,
  batchSize: 64,
  learningRate: 0.005,
  loss: 'mae',
  seed: 42,
  backend: 'wasm',
} as const satisfies Required<Omit<LstmOptions, 'log'>>;

/** Fewest training windows the model accepts. */
export const MIN_TRAINING_WINDOWS = 100;
/** Seasonal periods shorter than this are left to the recurrent layer (no seasonal-naive input). */
const MIN_LAG = 8;
/** At most this many seasonal-naive inputs (the shortest periods). */
const MAX_LAGS = 2;

type Resolved = Required<Omit<LstmOptions, 'log'>> & { log?: LstmLogger };

function resolve(input: ModelInput, opts: LstmOptions): Resolved {
  const r: Resolved = {
    ...LSTM_DEFAULTS,
    seed: input.seed ?? LSTM_DEFAULTS.seed,
    // Explicit `undefined` options keep their defaults.
    ...(Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as LstmOptions),
  };
  for (const key of ['units', 'lookback', 'patch', 'block', 'depth', 'epochs', 'maxWindows', 'batchSize'] as const) {
    const v = r[key];
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`lstm: ${key} must be a positive integer, got ${v}`, { option: key });
  }
  if (r.lookback % r.patch !== 0) {
    throw new UsageError(`lstm: lookback (${r.lookback}) must be a multiple of patch (${r.patch})`, { option: 'lookback' });
  }
  if (!(r.learningRate > 0)) throw new UsageError(`lstm: learningRate must be > 0, got ${r.learningRate}`, { option: 'learningRate' });
  return r;
}

/**
 * The window shape for a series of length `n` and horizon `h`: significant seasonal periods
 * that fit (>= MIN_LAG, and the history still leaves MIN_TRAINING_WINDOWS windows after them)
 * become seasonal-naive inputs, the block shrinks to the horizon and to the shortest of them (so
 * those inputs are always known values), and the profile averages as many past seasons as fit.
 */
export function windowShape(
  n: number,
  h: number,
  seasonalities: Seasonality[],
  o: { lookback: number; patch: number; block: number; depth: number },
): WindowShape {
  const periods = [...new Set(seasonalities.filter((s) => s.significant).map((s) => Math.round(s.period)))]
    .filter((p) => p >= MIN_LAG)
    .sort((a, b) => a - b);
  const fits = (shape: WindowShape) => firstOrigin(shape) + shape.block + MIN_TRAINING_WINDOWS - 1 <= n;
  let shape: WindowShape = { lookback: o.lookback, patch: o.patch, block: Math.min(o.block, h), lags: [], depth: 0 };
  for (const p of periods) {
    if (shape.lags.length === MAX_LAGS) break;
    const next = { ...shape, block: Math.min(shape.block, p), lags: [...shape.lags, p], depth: 1 };
    if (!fits(next)) break;
    shape = next;
  }
  while (shape.lags.length > 0 && shape.depth < o.depth) {
    const next = { ...shape, depth: shape.depth + 1 };
    if (!fits(next)) break;
    shape = next;
  }
  return shape;
}

/** History the model needs: the reach of a window without seasonal inputs, one block, and the minimum number of windows. */
function minHistoryFor(lookback: number, block: number): number {
  return firstOrigin({ lookback, patch: 1, block, lags: [], depth: 0 }) + block + MIN_TRAINING_WINDOWS - 1;
}

/**
 * Fits the recurrent model on `input.y` and forecasts the `h` steps after its end.
 * Initialises the backend if needed. Rejects with InsufficientHistoryError when `y` is
 * shorter than `max(lookback, LEVEL_STEPS) + min(block, h) + MIN_TRAINING_WINDOWS - 1` steps.
 */
export async function forecastLstm(input: ModelInput, h: number, opts: LstmOptions = {}): Promise<Float64Array> {
  if (!Number.isInteger(h) || h < 1) throw new UsageError(`lstm: horizon must be a positive integer of steps, got ${h}`);
  const o = resolve(input, opts);
  const n = input.y.length;
  const need = minHistoryFor(o.lookback, Math.min(o.block, h));
  if (n < need) {
    throw new InsufficientHistoryError(`lstm needs at least ${need} steps of history, got ${n}`, { need, have: n });
  }
  const norm = normalisation(input.y);
  if (norm.constant) return new Float64Array(h).fill(norm.mean);
  const initOpts = o.log ? { backend: o.backend, log: o.log } : { backend: o.backend };
  return runExclusive(async () => {
    await initLstmBackend(initOpts);
    const tf = await loadTf();
    return fitAndForecast(tf, input, h, o, norm);
  });
}

async function fitAndForecast(
  tf: Tf,
  input: ModelInput,
  h: number,
  o: Resolved,
  norm: ReturnType<typeof normalisation>,
): Promise<Float64Array> {
  const { y, t0, step } = input;
  const n = y.length;
  const shape = windowShape(n, h, input.seasonalities, o);
  const k = shape.block;
  const blocks = Math.ceil(h / k);
  const z = normalise(y, norm, blocks * k);
  const seqShape = [seqSteps(shape), seqWidth(shape)] as const;
  const auxShape = [k, auxWidth(shape)] as const;

  const origins = trainingOrigins(n, shape, o.maxWindows, o.seed);
  const train = buildWindows(z, t0, step, shape, origins, true);
  // Everything created here is disposed in `finally`, so memory does not grow across series.
  const owned: Array<{ dispose(): void }> = [];
  try {
    const model = buildNetwork(tf, shape, o);
    owned.push(model);
    const optimizer = tf.train.adam(o.learningRate);
    owned.push(optimizer); // passed as an object, so the model does not own (dispose) it
    model.compile({ optimizer, loss: o.loss === 'mae' ? 'meanAbsoluteError' : 'meanSquaredError' });
    const seqT = tf.tensor3d(train.seq, [train.count, ...seqShape]);
    owned.push(seqT);
    const auxT = tf.tensor3d(train.aux, [train.count, ...auxShape]);
    owned.push(auxT);
    const yT = tf.tensor2d(train.target, [train.count, k]);
    owned.push(yT);
    await model.fit([seqT, auxT], yT, {
      epochs: o.epochs,
      batchSize: o.batchSize,
      shuffle: false, // the windows are already in a seeded random order
      verbose: 0,
    });
    for (let b = 0; b < blocks; b++) {
      const origin = n + b * k;
      const win = buildWindows(z, t0, step, shape, [origin], false);
      const pred = tf.tidy(() => {
        const out = model.predict([tf.tensor3d(win.seq, [1, ...seqShape]), tf.tensor3d(win.aux, [1, ...auxShape])]) as TfTensor;
        return out.dataSync();
      });
      z.set(pred, origin);
    }
  } finally {
    for (const x of owned) x.dispose();
  }
  const out = new Float64Array(h);
  for (let i = 0; i < h; i++) out[i] = z[n + i] * norm.scale + norm.mean;
  return out;
}

type TfTensor = ReturnType<Tf['tensor']>;
type SymbolicTensor = ReturnType<Tf['input']>;

/**
 * Two paths, added:
 * - base: one small linear map shared by every step of the block, from that step's auxiliary
 *   row (seasonal-naive values, seasonal profile, levels, calendar): a learned blend of seasonal
 *   baselines, cheap in parameters whatever the block length;
 * - correction: the recurrent layer over the lookback patches → linear `block` outputs, which
 *   carries the recent level and dynamics the baselines miss.
 */
function buildNetwork(tf: Tf, shape: WindowShape, o: Resolved): ReturnType<Tf['model']> {
  const k = shape.block;
  const seqIn = tf.input({ shape: [seqSteps(shape), seqWidth(shape)] });
  const auxIn = tf.input({ shape: [k, auxWidth(shape)] });
  const gates = o.cell === 'lstm' ? 4 : 3;
  const recurrentInitializer =
    // tfjs' orthogonal initializer warns (and is slow) above 2000 elements.
    o.units * o.units * gates <= 2000
      ? tf.initializers.orthogonal({ seed: o.seed + 1, gain: 1 })
      : tf.initializers.glorotUniform({ seed: o.seed + 1 });
  const rnnArgs = {
    units: o.units,
    kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed }),
    recurrentInitializer,
    returnSequences: false,
  };
  const state = (o.cell === 'lstm' ? tf.layers.lstm(rnnArgs) : tf.layers.gru(rnnArgs)).apply(seqIn) as SymbolicTensor;
  const correction = tf.layers
    .dense({ units: k, kernelInitializer: 'zeros' })
    .apply(state) as SymbolicTensor;
  const blendLayer = tf.layers.dense({ units: 1 });
  const blend = blendLayer.apply(auxIn) as SymbolicTensor;
  const base = tf.layers.reshape({ targetShape: [k] }).apply(blend) as SymbolicTensor;
  const out = tf.layers.add().apply([base, correction]) as SymbolicTensor;
  const model = tf.model({ inputs: [seqIn, auxIn], outputs: out });
  // Start from a robust seasonal baseline (blendPrior) with a zero correction, not from noise:
  // with ~100 optimiser steps the starting point matters, and the correction path only has to
  // learn what the baseline misses.
  const prior = blendPrior(shape);
  tf.tidy(() => blendLayer.setWeights([tf.tensor2d(prior, [prior.length, 1]), tf.zeros([1])]));
  return model;
}

/** The recurrent model for the pipeline (asynchronous; off by default). */
export const lstmModel: AsyncForecastModel = {
  name: 'lstm',
  minHistory(_input, h) {
    return minHistoryFor(LSTM_DEFAULTS.lookback, Math.min(LSTM_DEFAULTS.block, h));
  },
  forecastAsync(input, h) {
    return forecastLstm(input, h);
  },
};
