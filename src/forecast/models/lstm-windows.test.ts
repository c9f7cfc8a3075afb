import { describe, expect, it } from 'vitest';
import {
  CAL_FEATURES,
  LEVEL_FEATURES,
  LEVEL_STEPS,
  auxWidth,
  blendPrior,
  buildWindows,
  firstOrigin,
  medianInPlace,
  mulberry32,
  normalisation,
  normalise,
  seasonalWidth,
  seqSteps,
  seqWidth,
  trainingOrigins,
  writeCalendar,
  type WindowShape,
} from './lstm-windows.js';

describe('normalisation', () => {
  it('uses the sample mean and standard deviation', () => {
    const norm = normalisation(Float64Array.from([2, 4, 4, 4, 5, 5, 7, 9]));
    expect(norm.mean).toBe(5);
    expect(norm.scale).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(norm.constant).toBe(false);
    const z = normalise(Float64Array.from([5, 7]), norm, 3);
    expect(z.length).toBe(5);
    expect(z[0]).toBe(0);
    expect(z[1]).toBeCloseTo(2 / Math.sqrt(32 / 7), 6);
  });

  it('flags a constant series and keeps a unit scale', () => {
    const norm = normalisation(new Float64Array(10).fill(3.5));
    expect(norm).toEqual({ mean: 3.5, scale: 1, constant: true });
  });
});

describe('writeCalendar', () => {
  it('encodes time of day and day of week as sin/cos phases', () => {
    const out = new Float32Array(CAL_FEATURES);
    writeCalendar(0, out, 0);
    expect(Array.from(out)).toEqual([0, 1, 0, 1]);
    writeCalendar(6 * 3600, out, 0); // a quarter of a day, 1/28 of a week
    expect(out[0]).toBeCloseTo(1, 6);
    expect(out[1]).toBeCloseTo(0, 6);
    expect(out[2]).toBeCloseTo(Math.sin((2 * Math.PI) / 28), 6);
    writeCalendar(86_400 + 12 * 3600, out, 0); // noon of day 2: same time-of-day phase as noon
    expect(out[0]).toBeCloseTo(0, 6);
    expect(out[1]).toBeCloseTo(-1, 6);
  });
});

describe('buildWindows', () => {
  const shape: WindowShape = { lookback: 4, patch: 2, block: 2, lags: [4, 6], depth: 2 };
  // z[i] = i makes every position in the layout checkable by value.
  const z = Float32Array.from({ length: 60 }, (_, i) => i);

  it('lays out lookback patches, seasonal inputs, levels, calendar and target', () => {
    expect(seqSteps(shape)).toBe(2);
    expect(seqWidth(shape)).toBe(2 + CAL_FEATURES);
    expect(seasonalWidth(shape)).toBe(3); // two lags and the profile
    expect(auxWidth(shape)).toBe(3 + LEVEL_FEATURES + CAL_FEATURES);
    // The current level looks at LEVEL_STEPS steps, each with a profile reaching depth·4 back.
    expect(firstOrigin(shape)).toBe(LEVEL_STEPS + 8);
    const w = buildWindows(z, 0, 3600, shape, [40, 42], true);
    expect(w.count).toBe(2);
    const sw = seqWidth(shape);
    expect(w.seq.length).toBe(2 * 2 * sw);
    // Window 0 (origin 40): patches [36, 37] and [38, 39], each followed by its first step's calendar.
    expect(Array.from(w.seq.subarray(0, 2))).toEqual([36, 37]);
    expect(Array.from(w.seq.subarray(sw, sw + 2))).toEqual([38, 39]);
    expect(w.seq[2]).toBeCloseTo(Math.sin((2 * Math.PI * 36) / 24), 6); // 1 h steps
    // Window 1 (origin 42) starts at step 38.
    expect(w.seq[2 * sw]).toBe(38);
    const aw = auxWidth(shape);
    // Step 40: lag 4 → 36, lag 6 → 34, profile median(z[36], z[32]) = 34; current level: each
    // recent step s minus its profile (s - 6) = 6; last season's level median(z[36..39]) = 37.5.
    expect(Array.from(w.aux.subarray(0, 5))).toEqual([36, 34, 34, 6, 37.5]);
    expect(w.aux[5]).toBeCloseTo(Math.sin((2 * Math.PI * 40) / 24), 6);
    // Step 41: the seasonal inputs move with the step, the levels stay those of the origin.
    expect(Array.from(w.aux.subarray(aw, aw + 5))).toEqual([37, 35, 35, 6, 37.5]);
    expect(Array.from(w.target)).toEqual([40, 41, 42, 43]);
  });

  it('omits targets when asked, and works without seasonal inputs', () => {
    const plain: WindowShape = { lookback: 4, patch: 4, block: 3, lags: [], depth: 0 };
    expect(auxWidth(plain)).toBe(LEVEL_FEATURES + CAL_FEATURES);
    expect(firstOrigin(plain)).toBe(LEVEL_STEPS);
    const w = buildWindows(z, 0, 3600, plain, [50], false);
    expect(w.target.length).toBe(0);
    expect(Array.from(w.seq.subarray(0, 4))).toEqual([46, 47, 48, 49]);
    // Current level: median of the raw last LEVEL_STEPS values; "season": the lookback's median.
    expect(Array.from(w.aux.subarray(0, 2))).toEqual([50 - LEVEL_STEPS / 2 - 0.5, 47.5]);
  });
});

describe('blendPrior', () => {
  it('starts at the seasonal reference plus the current level', () => {
    // [lag 4, lag 6, profile, level now, level season, 4 × calendar]
    expect(Array.from(blendPrior({ lookback: 4, patch: 2, block: 2, lags: [4, 6], depth: 2 }))).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0]);
    // No profile: the shortest lag is the reference.
    expect(Array.from(blendPrior({ lookback: 4, patch: 2, block: 2, lags: [4, 6], depth: 1 }))).toEqual([1, 0, 1, 0, 0, 0, 0, 0]);
    // No seasonal input: the current level alone.
    expect(Array.from(blendPrior({ lookback: 4, patch: 2, block: 2, lags: [], depth: 0 }))).toEqual([1, 0, 0, 0, 0, 0]);
  });
});

describe('medianInPlace', () => {
  it('gives the middle value, or the mean of the middle two, of the first m entries', () => {
    expect(medianInPlace(Float32Array.from([5, 1, 3, 99]), 3)).toBe(3);
    expect(medianInPlace(Float32Array.from([4, 1, 3, 2]), 4)).toBe(2.5);
    const big = Float32Array.from({ length: 101 }, (_, i) => (i * 37) % 101); // a permutation of 0..100
    expect(medianInPlace(big, 101)).toBe(50);
  });
});

describe('trainingOrigins', () => {
  const shape: WindowShape = { lookback: 10, patch: 2, block: 5, lags: [24], depth: 1 };

  it('spreads at most `max` origins over the valid range, the latest included', () => {
    const o = trainingOrigins(1000, shape, 50, 1);
    expect(o.length).toBe(50);
    const sorted = Array.from(o).sort((a, b) => a - b);
    expect(sorted[0]).toBe(firstOrigin(shape)); // LEVEL_STEPS + one lag back
    expect(firstOrigin(shape)).toBe(LEVEL_STEPS + 24);
    expect(sorted[49]).toBe(995);
    expect(new Set(sorted).size).toBe(50);
  });

  it('uses every origin when fewer are available, and none when the series is too short', () => {
    const first = firstOrigin(shape);
    expect(trainingOrigins(first + 40, shape, 1000, 1).length).toBe(40 - 5 + 1);
    expect(trainingOrigins(first + 4, shape, 1000, 1).length).toBe(0);
  });

  it('orders them by the seed', () => {
    const a = trainingOrigins(1000, shape, 50, 1);
    expect(Array.from(trainingOrigins(1000, shape, 50, 1))).toEqual(Array.from(a));
    expect(Array.from(trainingOrigins(1000, shape, 50, 2))).not.toEqual(Array.from(a));
  });
});

describe('mulberry32', () => {
  it('is reproducible and roughly uniform', () => {
    const r = mulberry32(123);
    const xs = Array.from({ length: 10_000 }, r);
    expect(mulberry32(123)()).toBe(xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});
