import { describe, expect, it } from 'vitest';
import { Rng } from '../numeric/random.js';
import type { ModelInput, Seasonality } from '../types.js';
import { makeProphetLike, prophetInternals, prophetLike } from './prophet-like.js';

const daily: Seasonality = { name: 'daily', period: 288, strength: 0.8, significant: true };
const weekly: Seasonality = { name: 'weekly', period: 2016, strength: 0.3, significant: true };
const T0 = 1_375_308_000;

describe('prophet_like', () => {
  it('assembles the same XᵀX and Xᵀy as the explicit design matrix', () => {
    const n = 2500;
    const y = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 30) + (i % 17) / 10);
    const input: ModelInput = {
      y,
      t0: T0,
      step: 300,
      seasonalities: [daily, weekly],
      events: [{ name: 'e', start: T0 + 300 * 100, end: T0 + 300 * 150 }],
    };
    const o = { changepoints: 25, changepointRange: 0.8, changepointPriorScale: 0.05, seasonalityPriorScale: 10, eventPriorScale: 10, fourierOrder: () => 4, trendDamping: 1, irlsIterations: 1, loss: 'l2' as const, robustIterations: 0 };
    const d = prophetInternals.buildDesign(input, o);
    // Observation weights (as the L1 fit uses) must be honoured by every block.
    const w = Float64Array.from({ length: n }, (_, i) => 0.5 + ((i * 7919) % 13) / 13);
    const { G, Xy } = prophetInternals.gram(d, y, w);
    const p = d.p;
    expect(p).toBe(2 + 25 + 16 + 1);
    const row = new Float64Array(p);
    const G2 = new Float64Array(p * p);
    const Xy2 = new Float64Array(p);
    const theta = Float64Array.from({ length: p }, (_, k) => Math.sin(k + 1));
    const fitted = new Float64Array(n);
    prophetInternals.fittedValues(d, theta, fitted);
    for (let i = 0; i < n; i++) {
      prophetInternals.fullRow(d, i, row);
      let fit = 0;
      for (let a = 0; a < p; a++) {
        fit += row[a] * theta[a];
        Xy2[a] += w[i] * row[a] * y[i];
        for (let b = 0; b < p; b++) G2[a * p + b] += w[i] * row[a] * row[b];
      }
      expect(fitted[i]).toBeCloseTo(fit, 9);
    }
    for (let k = 0; k < p * p; k++) expect(G[k]).toBeCloseTo(G2[k], 6);
    for (let k = 0; k < p; k++) expect(Xy[k]).toBeCloseTo(Xy2[k], 6);
  });

  it("recovers a sine's amplitude and phase", () => {
    const rng = new Rng(1);
    const n = 288 * 8;
    const y = Float64Array.from({ length: n }, (_, t) => 5 + 1.5 * Math.sin((2 * Math.PI * t) / 288) + 0.3 * rng.normal());
    const f = prophetLike.forecast({ y, t0: 0, step: 300, seasonalities: [daily] }, 288);
    let a = 0;
    let b = 0;
    let mean = 0;
    for (let j = 0; j < 288; j++) {
      a += (f[j] * Math.sin((2 * Math.PI * (n + j)) / 288) * 2) / 288;
      b += (f[j] * Math.cos((2 * Math.PI * (n + j)) / 288) * 2) / 288;
      mean += f[j] / 288;
    }
    expect(a).toBeGreaterThan(1.4);
    expect(a).toBeLessThan(1.6);
    expect(Math.abs(b)).toBeLessThan(0.1);
    expect(mean).toBeGreaterThan(4.9);
    expect(mean).toBeLessThan(5.1);
  });

  it('the L1 loss tracks the median of spiky data, the L2 loss its mean', () => {
    const rng = new Rng(4);
    const n = 3000;
    // Level 10 with 10 % spikes of +50: median ≈ 10, mean ≈ 15.
    const y = Float64Array.from({ length: n }, () => 10 + 0.5 * rng.normal() + (rng.uniform() < 0.1 ? 50 : 0));
    const l1 = prophetLike.forecast({ y, t0: 0, step: 300, seasonalities: [] }, 10);
    const l2 = makeProphetLike({ loss: 'l2' }).forecast({ y, t0: 0, step: 300, seasonalities: [] }, 10);
    expect(Math.abs(l1[0] - 10.05)).toBeLessThan(0.4);
    expect(Math.abs(l2[0] - 15)).toBeLessThan(1.5);
  });

  it('recovers the slope after a changepoint', () => {
    const rng = new Rng(2);
    const n = 2000;
    const y = Float64Array.from({ length: n }, (_, t) => (t < 1000 ? 0.01 * t : 10 - 0.005 * (t - 1000)) + 0.05 * rng.normal());
    const m = makeProphetLike({ trendDamping: 1 });
    const f = m.forecast({ y, t0: 0, step: 300, seasonalities: [] }, 100);
    const slope = (f[99] - f[0]) / 99;
    expect(slope).toBeGreaterThan(-0.0055);
    expect(slope).toBeLessThan(-0.0045);
    expect(f[0]).toBeGreaterThan(5 - 0.1);
    expect(f[0]).toBeLessThan(5 + 0.1);
    // Damped (default): the forecast flattens.
    const g = prophetLike.forecast({ y, t0: 0, step: 300, seasonalities: [] }, 1000);
    expect(g[999] - g[998]).toBeGreaterThan(-0.0001);
  });

  it('estimates an event effect and applies it to a future window of the same name', () => {
    const rng = new Rng(3);
    const n = 1500;
    const step = 300;
    const inPast = (t: number): boolean => (t >= 500 && t < 560) || (t >= 900 && t < 930);
    const y = Float64Array.from({ length: n }, (_, t) => 3 + (inPast(t) ? 2 : 0) + 0.1 * rng.normal());
    const events = [
      { name: 'backup', start: T0 + 500 * step, end: T0 + 560 * step },
      { name: 'backup', start: T0 + 900 * step, end: T0 + 930 * step },
      { name: 'backup', start: T0 + (n + 10) * step, end: T0 + (n + 20) * step },
      // Never in the history: no regressor, no effect.
      { name: 'migration', start: T0 + (n + 25) * step, end: T0 + (n + 28) * step },
    ];
    const f = prophetLike.forecast({ y, t0: T0, step, seasonalities: [], events }, 30);
    for (let j = 0; j < 30; j++) {
      const expected = j >= 10 && j < 20 ? 5 : 3;
      expect(Math.abs(f[j] - expected)).toBeLessThan(0.05);
    }
    const without = prophetLike.forecast({ y, t0: T0, step, seasonalities: [] }, 30);
    expect(Math.abs(without[15] - 3)).toBeLessThan(0.1);
  });
});
