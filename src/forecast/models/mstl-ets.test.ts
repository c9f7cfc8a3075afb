import { describe, expect, it } from 'vitest';
import { InsufficientHistoryError } from '../../core/errors.js';
import { Rng } from '../numeric/random.js';
import type { Seasonality } from '../types.js';
import { makeMstlEts, mstlEts } from './mstl-ets.js';

const daily: Seasonality = { name: 'daily', period: 288, strength: 0.8, significant: true };

/** Least-squares amplitude and sine coefficient of `x` at `period` (whole cycles). */
function sineFit(x: Float64Array, period: number, offset: number): { amp: number; sin: number } {
  let a = 0;
  let b = 0;
  for (let j = 0; j < x.length; j++) {
    a += x[j] * Math.sin((2 * Math.PI * (j + offset)) / period);
    b += x[j] * Math.cos((2 * Math.PI * (j + offset)) / period);
  }
  return { amp: (2 / x.length) * Math.hypot(a, b), sin: (2 / x.length) * a };
}

describe('mstl_ets', () => {
  it("recovers a noisy sine's amplitude and period in its forecast", () => {
    const rng = new Rng(11);
    const n = 288 * 10;
    const y = Float64Array.from({ length: n }, (_, t) => 10 + 2 * Math.sin((2 * Math.PI * t) / 288) + 0.5 * rng.normal());
    const f = mstlEts.forecast({ y, t0: 0, step: 300, seasonalities: [daily] }, 288);
    const s = sineFit(f, 288, n);
    expect(s.amp).toBeGreaterThan(1.85);
    expect(s.amp).toBeLessThan(2.15);
    expect(s.sin).toBeGreaterThan(1.85);
    let mae = 0;
    for (let j = 0; j < 288; j++) mae += Math.abs(f[j] - (10 + 2 * Math.sin((2 * Math.PI * (n + j)) / 288))) / 288;
    expect(mae).toBeLessThan(0.2);
  });

  it('forecasts a linear trend plus a sine with a small error', () => {
    const rng = new Rng(12);
    const n = 288 * 14;
    const truth = (t: number): number => 5 + 0.001 * t + 2 * Math.sin((2 * Math.PI * t) / 288);
    const y = Float64Array.from({ length: n }, (_, t) => truth(t) + 0.3 * rng.normal());
    for (const model of [mstlEts, makeMstlEts({ name: 'r', robust: false, kinds: ['ANN', 'AAN', 'AAdN'] })]) {
      const f = model.forecast({ y, t0: 0, step: 300, seasonalities: [daily] }, 288);
      let mae = 0;
      for (let j = 0; j < 288; j++) mae += Math.abs(f[j] - truth(n + j)) / 288;
      // The noise sd is 0.3 and the trend adds 0.29 over the horizon.
      expect(mae).toBeLessThan(0.25);
    }
  });

  it('is plain ETS without seasonality, and rejects tiny inputs', () => {
    const y = Float64Array.from({ length: 50 }, (_, t) => 3 + (t % 2) * 0.1);
    const f = mstlEts.forecast({ y, t0: 0, step: 300, seasonalities: [] }, 4);
    for (const v of f) expect(Math.abs(v - 3.05)).toBeLessThan(0.1);
    expect(() => mstlEts.forecast({ y: y.subarray(0, 5), t0: 0, step: 300, seasonalities: [] }, 4)).toThrow(InsufficientHistoryError);
    expect(mstlEts.minHistory({ seasonalities: [daily], step: 300 }, 288)).toBe(577);
  });
});
