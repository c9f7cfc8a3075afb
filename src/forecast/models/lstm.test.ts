import { describe, expect, it } from 'vitest';
import { InsufficientHistoryError, UsageError } from '../../core/errors.js';
import type { ModelInput, Seasonality } from '../types.js';
import { initLstmBackend, loadTf } from './lstm-backend.js';
import { mulberry32 } from './lstm-windows.js';
import { LSTM_DEFAULTS, MIN_TRAINING_WINDOWS, forecastLstm, lstmModel, windowShape, type LstmOptions } from './lstm.js';

const PERIOD = 36; // 3 h at 5 min steps
const AMPLITUDE = 10;
const LEVEL = 50;
const N = 2000;
const H = 2 * PERIOD;

/** A noisy sine (N(0, 1) noise) with its clean continuation over the horizon. */
function noisySine(seed: number): { y: Float64Array; future: Float64Array; clean: Float64Array } {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const all = new Float64Array(N + H);
  const clean = new Float64Array(H);
  for (let i = 0; i < N + H; i++) {
    const s = LEVEL + AMPLITUDE * Math.sin((2 * Math.PI * i) / PERIOD);
    all[i] = s + gauss();
    if (i >= N) clean[i - N] = s;
  }
  return { y: all.slice(0, N), future: all.slice(N), clean };
}

function mae(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** Amplitude of the PERIOD-cycle in `f` by least squares (f spans whole periods: exact projection). */
function amplitude(f: Float64Array, offset: number): number {
  let a = 0;
  let b = 0;
  for (let j = 0; j < f.length; j++) {
    const w = (2 * Math.PI * (offset + j)) / PERIOD;
    a += f[j] * Math.sin(w);
    b += f[j] * Math.cos(w);
  }
  return (2 / f.length) * Math.hypot(a, b);
}

const daily: Seasonality = { name: 'p36', period: PERIOD, strength: 0.98, significant: true };
// Small enough for the test budget (a few seconds per fit on 2 shared cores).
const FAST: LstmOptions = { epochs: 10, maxWindows: 400, seed: 7 };

describe('windowShape', () => {
  const s = (period: number, significant = true): Seasonality => ({ name: `p${period}`, period, strength: 0.5, significant });
  const o = { lookback: 96, patch: 4, block: 288, depth: 7 };

  it('uses the significant periods that fit and caps the block by horizon and shortest period', () => {
    const shape = windowShape(8000, 288, [s(288), s(2016), s(4032, false)], o);
    expect(shape).toEqual({ lookback: 96, patch: 4, block: 288, lags: [288, 2016], depth: 7 });
    expect(windowShape(8000, 12, [s(288)], o).block).toBe(12);
    expect(windowShape(8000, 288, [s(36)], o).block).toBe(36);
  });

  it('drops periods and profile depth the history cannot hold', () => {
    // 1000 steps: lag 2016 does not fit; a profile over d seasons needs the current level's
    // LEVEL_STEPS (24) steps d·288 back, + a block + 99 windows: d = 2 fits (987), 3 does not.
    const shape = windowShape(1000, 288, [s(288), s(2016)], o);
    expect(shape.lags).toEqual([288]);
    expect(shape.depth).toBe(2);
    // Periods below MIN_LAG are left to the recurrent layer.
    expect(windowShape(1000, 24, [s(4)], o).lags).toEqual([]);
  });
});

describe('forecastLstm without tfjs work', () => {
  const input = (y: Float64Array): ModelInput => ({ y, t0: 0, step: 300, seasonalities: [] });

  it('rejects a history shorter than lookback + block + the minimum windows', async () => {
    const need = LSTM_DEFAULTS.lookback + 24 + MIN_TRAINING_WINDOWS - 1;
    expect(lstmModel.minHistory({ seasonalities: [], step: 300 }, 24)).toBe(need);
    await expect(forecastLstm(input(new Float64Array(need - 1).fill(1)), 24)).rejects.toBeInstanceOf(InsufficientHistoryError);
  });

  it('forecasts a constant series as that constant', async () => {
    const f = await forecastLstm(input(new Float64Array(1000).fill(4.25)), 5);
    expect(Array.from(f)).toEqual([4.25, 4.25, 4.25, 4.25, 4.25]);
  });

  it('rejects bad options and horizons as usage errors', async () => {
    const y = input(new Float64Array(1000).fill(1));
    await expect(forecastLstm(y, 0)).rejects.toBeInstanceOf(UsageError);
    await expect(forecastLstm(y, 10, { lookback: 10, patch: 4 })).rejects.toBeInstanceOf(UsageError);
    await expect(forecastLstm(y, 10, { units: 0 })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('forecastLstm on a noisy sine (wasm backend)', () => {
  const { y, future, clean } = noisySine(11);
  const naive = new Float64Array(H).fill(y[N - 1]);

  it('learns the cycle from the lookback alone, reproducibly, and frees its tensors', async () => {
    const info = await initLstmBackend();
    expect(info.backend).toBe('wasm');
    const tf = await loadTf();
    const before = tf.memory().numTensors;
    const input: ModelInput = { y, t0: 0, step: 300, seasonalities: [] };
    const f1 = await forecastLstm(input, H, FAST);
    expect(tf.memory().numTensors).toBe(before);
    // Concurrent calls are serialised and give the same answer as a lone call.
    const [f2, f3] = await Promise.all([forecastLstm(input, H, FAST), forecastLstm(input, H, FAST)]);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(f2)).toEqual(Array.from(f1));
    expect(Array.from(f3)).toEqual(Array.from(f1));

    // Noise is N(0, 1): a perfect forecast has MAE ≈ 0.8 against the noisy future; the last
    // value is ~11 off on average.
    expect(mae(f1, future)).toBeLessThan(1.5);
    expect(mae(f1, future)).toBeLessThan(mae(naive, future) / 5);
    expect(mae(f1, clean)).toBeLessThan(1);
    const amp = amplitude(f1, N);
    expect(amp).toBeGreaterThan(0.8 * AMPLITUDE);
    expect(amp).toBeLessThan(1.2 * AMPLITUDE);
  });

  it('uses the seasonal inputs and iterates blocks past the period', async () => {
    // block = PERIOD, so the 2-period horizon takes two predicted blocks.
    const f = await forecastLstm({ y, t0: 0, step: 300, seasonalities: [daily] }, H, FAST);
    expect(mae(f, future)).toBeLessThan(1.5);
    expect(mae(f.subarray(PERIOD), future.subarray(PERIOD))).toBeLessThan(1.5);
    const amp = amplitude(f, N);
    expect(amp).toBeGreaterThan(0.8 * AMPLITUDE);
    expect(amp).toBeLessThan(1.2 * AMPLITUDE);
  });

  it('runs on the cpu backend when asked', async () => {
    const info = await initLstmBackend({ backend: 'cpu' });
    expect(info).toEqual({ backend: 'cpu', requested: 'cpu' });
    const f = await forecastLstm({ y, t0: 0, step: 300, seasonalities: [daily] }, H, {
      backend: 'cpu',
      epochs: 2,
      maxWindows: 100,
      units: 8,
      lookback: 16,
    });
    expect(f.length).toBe(H);
    expect(f.every(Number.isFinite)).toBe(true);
    // Mostly carried by the seasonal inputs (2 epochs): already far better than the last value.
    expect(mae(f, future)).toBeLessThan(mae(naive, future) / 4);
    expect((await loadTf()).getBackend()).toBe('cpu');
  });
});
