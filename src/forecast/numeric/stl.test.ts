import { describe, expect, it } from 'vitest';
import { Rng } from './random.js';
import { mstl, stl } from './stl.js';

/** A deterministic test series: trend, growing seasonal, pseudo-noise, one spike at i = 50. */
function rSeries(): Float64Array {
  const y = new Float64Array(120);
  for (let i = 0; i < 120; i++) y[i] = 0.05 * i + Math.sin((2 * Math.PI * i) / 12) * (1 + i / 200) + 0.5 * Math.sin(i * 1.7) + (i === 50 ? 8 : 0);
  return y;
}

// Reference values from R 4 `stats::stl(ts(y, frequency = 12), s.window = ...)` at 1-based
// indices 1, 18, 60, 120.
const IDX = [0, 17, 59, 119];

describe('stl', () => {
  it('matches R stats::stl (s.window = 7)', () => {
    const r = stl(rSeries(), 12, { seasonalWindow: 7 });
    const seasonal = [0.004075038053, 0.518233000999, -0.84124431154, -0.702985436004];
    const trend = [-0.056128158784, 0.850976898478, 3.048355077655, 5.942143220851];
    IDX.forEach((i, k) => {
      expect(r.seasonal[i]).toBeCloseTo(seasonal[k], 9);
      expect(r.trend[i]).toBeCloseTo(trend[k], 9);
    });
    for (let i = 0; i < 120; i++) expect(r.seasonal[i] + r.trend[i] + r.remainder[i]).toBeCloseTo(rSeries()[i], 12);
  });

  it("matches R stats::stl (s.window = 'periodic')", () => {
    const r = stl(rSeries(), 12, { seasonalWindow: 'periodic' });
    const seasonal = [-0.033244641061, 0.601148565543, -0.673028266221, -0.673028266221];
    const trend = [-0.186675359565, 0.834924001716, 2.965316299443, 5.883512291266];
    IDX.forEach((i, k) => {
      expect(r.seasonal[i]).toBeCloseTo(seasonal[k], 9);
      expect(r.trend[i]).toBeCloseTo(trend[k], 9);
    });
  });

  it('robust fitting puts a spike into the remainder with weight 0', () => {
    const y = rSeries();
    const plain = stl(y, 12, { seasonalWindow: 7 });
    const robust = stl(y, 12, { seasonalWindow: 7, robust: true });
    expect(robust.weights[50]).toBe(0);
    expect(robust.remainder[50]).toBeGreaterThan(7);
    // The spike leaks less into its phase's seasonal value and into the trend.
    expect(robust.seasonal[50]).toBeLessThan(plain.seasonal[50]);
    expect(Math.abs(robust.trend[50] - 2.5)).toBeLessThan(Math.abs(plain.trend[50] - 2.5));
  });
});

describe('mstl', () => {
  it('separates a daily and a weekly sine and recovers their amplitudes', () => {
    const rng = new Rng(5);
    const n = 2016 * 4;
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = 50 + 3 * Math.sin((2 * Math.PI * i) / 288) + 2 * Math.cos((2 * Math.PI * i) / 2016) + 0.5 * rng.normal();
    const d = mstl(y, [2016, 288]);
    expect(d.periods).toEqual([288, 2016]);
    // Amplitude and phase by projection on sin/cos over whole weeks (inner two weeks).
    const fitSine = (s: Float64Array, period: number): { amp: number; sinCoef: number } => {
      let a = 0;
      let b = 0;
      for (let i = 2016; i < 3 * 2016; i++) {
        a += s[i] * Math.sin((2 * Math.PI * i) / period);
        b += s[i] * Math.cos((2 * Math.PI * i) / period);
      }
      a /= 2016;
      b /= 2016;
      return { amp: Math.hypot(a, b), sinCoef: a };
    };
    const daily = fitSine(d.seasonals[0], 288);
    const weekly = fitSine(d.seasonals[1], 2016);
    expect(daily.amp).toBeGreaterThan(2.9);
    expect(daily.amp).toBeLessThan(3.1);
    expect(daily.sinCoef).toBeGreaterThan(2.9);
    expect(weekly.amp).toBeGreaterThan(1.8);
    expect(weekly.amp).toBeLessThan(2.2);
    // The daily component peaks a quarter period after its zero crossing.
    expect(d.seasonals[0][2016 + 72]).toBeGreaterThan(2.5);
    for (let i = 0; i < n; i += 97) expect(d.adjusted[i] + d.seasonals[0][i] + d.seasonals[1][i]).toBeCloseTo(y[i], 9);
  });

  it('skips periods without two full cycles', () => {
    const y = new Float64Array(500).map((_, i) => Math.sin(i / 7));
    const d = mstl(y, [288, 50]);
    expect(d.periods).toEqual([50]);
  });
});
