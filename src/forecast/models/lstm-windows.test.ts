import { describe, expect, it } from 'vitest';
import {
  CAL_FEATURES,
  SEQ_FEATURES,
  auxLength,
  buildWindows,
  firstOrigin,
  mulberry32,
  normalisation,
  normalise,
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
  const shape: WindowShape = { lookback: 3, block: 2, lags: [4, 6] };
  // z[i] = i makes every position in the layout checkable by value.
  const z = Float32Array.from({ length: 20 }, (_, i) => i);

  it('lays out lookback, seasonal-naive blocks, calendar and target', () => {
    expect(auxLength(shape)).toBe(2 * 2 + CAL_FEATURES);
    expect(firstOrigin(shape)).toBe(6);
    const w = buildWindows(z, 0, 3600, shape, [10, 12], true);
    expect(w.count).toBe(2);
    expect(w.seq.length).toBe(2 * 3 * SEQ_FEATURES);
    // Values of window 0 (origin 10): steps 7, 8, 9.
    expect([w.seq[0], w.seq[SEQ_FEATURES], w.seq[2 * SEQ_FEATURES]]).toEqual([7, 8, 9]);
    // Calendar of step 7 at 1 h steps: 7/24 of a day.
    expect(w.seq[1]).toBeCloseTo(Math.sin((2 * Math.PI * 7) / 24), 6);
    // Window 1 (origin 12) starts at step 9.
    expect(w.seq[3 * SEQ_FEATURES]).toBe(9);
    // Aux of window 0: lag 4 → z[6], z[7]; lag 6 → z[4], z[5]; then calendar of step 10.
    expect(Array.from(w.aux.subarray(0, 4))).toEqual([6, 7, 4, 5]);
    expect(w.aux[4]).toBeCloseTo(Math.sin((2 * Math.PI * 10) / 24), 6);
    expect(Array.from(w.target)).toEqual([10, 11, 12, 13]);
  });

  it('omits targets when asked', () => {
    const w = buildWindows(z, 0, 3600, shape, [20], false);
    expect(w.target.length).toBe(0);
    expect(w.seq[0]).toBe(17);
  });
});

describe('trainingOrigins', () => {
  const shape: WindowShape = { lookback: 10, block: 5, lags: [24] };

  it('spreads at most `max` origins over the valid range, the latest included', () => {
    const o = trainingOrigins(1000, shape, 50, 1);
    expect(o.length).toBe(50);
    const sorted = Array.from(o).sort((a, b) => a - b);
    expect(sorted[0]).toBe(24);
    expect(sorted[49]).toBe(995);
    expect(new Set(sorted).size).toBe(50);
  });

  it('uses every origin when fewer are available, and none when the series is too short', () => {
    expect(trainingOrigins(40, shape, 1000, 1).length).toBe(40 - 5 - 24 + 1);
    expect(trainingOrigins(28, shape, 1000, 1).length).toBe(0);
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
