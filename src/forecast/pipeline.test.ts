import { describe, expect, it } from 'vitest';
import { InsufficientHistoryError, UsageError } from '../core/errors.js';
import { MODELS } from './models/index.js';
import { forecastSeries, horizonSteps, requiredHistory } from './pipeline.js';
import type { ForecastModel, RegularSeries } from './types.js';

const STEP = 300;
const DAY = 288;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A daily sine around `level` plus uniform noise of half-width `noise`. */
function sineSeries(days: number, level: number, noise: number, seed = 1): RegularSeries {
  const u = rng(seed);
  const n = days * DAY;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = level + 10 * Math.sin((2 * Math.PI * i) / DAY) + noise * (2 * u() - 1);
  return {
    series: 'vm-7',
    metric: 'cpu_mhz',
    unit: 'MHz',
    source: 'vm-7.csv',
    t0: 1_375_308_000,
    step: STEP,
    values,
    imputed: new Uint8Array(n),
    report: { stepSeconds: STEP, snapped: 3, reordered: false, duplicatesMerged: 0, interpolated: 1, longGaps: [] },
  };
}

/** Seasonal naive shifted by `bias`: a deliberately biased model. */
function shifted(name: string, bias: number): ForecastModel {
  const base = MODELS.snaive;
  return {
    name,
    minHistory: (i, h) => base.minHistory(i, h),
    forecast: (input, h) => base.forecast(input, h).map((v) => v + bias),
  };
}

describe('horizon and history rules', () => {
  it('covers the horizon with whole steps and needs max(2 horizons, 2 days)', () => {
    expect(horizonSteps(86_400, STEP)).toBe(288);
    expect(horizonSteps(3_601, STEP)).toBe(13);
    expect(requiredHistory(288, STEP)).toBe(576);
    expect(requiredHistory(12, STEP)).toBe(576);
    expect(requiredHistory(2016, STEP)).toBe(4032);
  });
});

describe('forecastSeries', () => {
  it('returns h points after the last input with nested intervals around the mean', () => {
    const s = sineSeries(10, 100, 2);
    const f = forecastSeries(s, { horizonSeconds: 86_400, levels: [95, 80], models: ['snaive'] });
    const n = s.values.length;
    expect(f).toMatchObject({ series: 'vm-7', metric: 'cpu_mhz', unit: 'MHz', stepSeconds: STEP, model: 'snaive' });
    expect(f.points.length).toBe(288);
    expect(f.points[0].t).toBe(s.t0 + n * STEP);
    expect(f.points[287].t).toBe(s.t0 + (n + 287) * STEP);
    for (const p of f.points) {
      const [l80, h80] = p.intervals['80'];
      const [l95, h95] = p.intervals['95'];
      expect(Object.keys(p.intervals).sort()).toEqual(['80', '95']);
      expect(l95).toBeLessThanOrEqual(l80);
      expect(l80).toBeLessThanOrEqual(p.mean);
      expect(p.mean).toBeLessThanOrEqual(h80);
      expect(h80).toBeLessThanOrEqual(h95);
    }
    // Seasonal naive repeats the last day: its mean error is the noise (±2 on each of two days),
    // so the 95 % band is a few units wide, never the sine's 20.
    const p = f.points[100];
    expect(p.intervals['95'][1] - p.intervals['95'][0]).toBeGreaterThan(2);
    expect(p.intervals['95'][1] - p.intervals['95'][0]).toBeLessThan(8);
    expect(f.diagnostics?.seasonalities.find((x) => x.name === 'daily')?.significant).toBe(true);
    expect(f.diagnostics?.regularization.snapped).toBe(3);
    expect(f.diagnostics?.backtest.snaive).toBeGreaterThan(0);
  });

  it('chooses an ensemble whose members err in opposite directions', () => {
    const s = sineSeries(10, 100, 0.5, 3);
    const registry = { up: shifted('up', 5), down: shifted('down', -5), far: shifted('far', 20) };
    const f = forecastSeries(s, { horizonSeconds: 6 * 3600, levels: [80], models: ['far', 'up', 'down'], registry });
    // Members are named in the caller's order, whichever scored better.
    expect(f.model).toBe('ensemble(up+down)');
    expect(f.diagnostics?.backtest[f.model]).toBeLessThan(f.diagnostics!.backtest.up);
    // The ensemble is refitted on the full series: the mean is the unbiased seasonal naive.
    const n = s.values.length;
    expect(f.points[0].mean).toBeCloseTo(s.values[n - DAY], 9);
  });

  it('runs every default model and reports a registered name', () => {
    const s = sineSeries(10, 100, 2);
    const f = forecastSeries(s, { horizonSeconds: 6 * 3600, levels: [80] });
    const names = f.model.replace(/^ensemble(-median)?\(|\)$/g, '').split('+');
    for (const name of names) expect(Object.keys(MODELS)).toContain(name);
    expect(Object.keys(f.diagnostics!.backtest).length).toBeGreaterThanOrEqual(1);
  });

  it('clamps the mean and bounds at 0 for a non-negative metric', () => {
    const s = sineSeries(6, 3, 6, 5); // mostly around 3 with ±16: negative dips
    for (let i = 0; i < s.values.length; i++) s.values[i] = Math.max(0, s.values[i]);
    const f = forecastSeries(s, { horizonSeconds: 86_400, levels: [80, 95] });
    const lows = f.points.map((p) => p.intervals['95'][0]);
    expect(Math.min(...lows)).toBe(0);
    expect(f.points.every((p) => p.mean >= 0)).toBe(true);
  });

  it('does not clamp a metric that goes negative', () => {
    const s = sineSeries(6, 0, 6, 5);
    const f = forecastSeries(s, { horizonSeconds: 86_400, levels: [95] });
    expect(Math.min(...f.points.map((p) => p.intervals['95'][0]))).toBeLessThan(-10);
  });

  it('names the series when the history is too short for the horizon', () => {
    const s = sineSeries(3, 100, 1); // 864 points
    let err: unknown;
    try {
      forecastSeries(s, { horizonSeconds: 2 * 86_400, levels: [80] }); // needs 1152
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InsufficientHistoryError);
    expect((err as InsufficientHistoryError).context).toMatchObject({ series: 'vm-7', file: 'vm-7.csv', have: 864, need: 1152 });
    expect((err as Error).message).toContain('vm-7');
    // 1 day of history is short of the 2-day floor even for a 1 h horizon.
    expect(() => forecastSeries(sineSeries(1, 100, 1), { horizonSeconds: 3600, levels: [80] })).toThrow(InsufficientHistoryError);
    // Exactly 2 days is enough for 24 h.
    expect(forecastSeries(sineSeries(2, 100, 1), { horizonSeconds: 86_400, levels: [80] }).points.length).toBe(288);
  });

  it('rejects unknown models, bad levels and horizons as usage errors', () => {
    const s = sineSeries(4, 100, 1);
    expect(() => forecastSeries(s, { horizonSeconds: 3600, levels: [80], models: ['nope'] })).toThrow(UsageError);
    expect(() => forecastSeries(s, { horizonSeconds: 3600, levels: [100] })).toThrow(UsageError);
    expect(() => forecastSeries(s, { horizonSeconds: 0, levels: [80] })).toThrow(UsageError);
  });
});
