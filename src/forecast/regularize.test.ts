import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { readFile } from '../ingest/index.js';
import { describeRegularization, inferStep, regularize } from './regularize.js';
import type { RawSeries } from './types.js';

const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
const DAY = 86400;

function raw(times: number[], values: number[], extra: Partial<RawSeries> = {}): RawSeries {
  return { series: 's', metric: 'm', unit: '', times: Float64Array.from(times), values: Float64Array.from(values), source: 'mem.csv', ...extra };
}

describe('inferStep', () => {
  it('finds the common step, rounding jitter to a nice step', () => {
    expect(inferStep(Float64Array.from([0, 60, 120, 180, 240]))).toBe(60);
    expect(inferStep(Float64Array.from([0, 299, 600, 901, 1200, 1499, 1800]))).toBe(300);
    expect(inferStep(Float64Array.from([0, 7, 14, 21, 28]))).toBe(7);
  });
  it('ignores duplicates and a few long gaps', () => {
    expect(inferStep(Float64Array.from([0, 0, 300, 600, 600, 3600, 3900, 4200]))).toBe(300);
  });
  it('uses the median when no step is common', () => {
    expect(inferStep(Float64Array.from([0, 100, 310, 630, 1070, 1620]))).toBe(320);
  });
  it('is NaN without two distinct times', () => {
    expect(inferStep(Float64Array.from([5, 5]))).toBeNaN();
    expect(inferStep(new Float64Array(0))).toBeNaN();
  });
});

describe('regularize', () => {
  it('leaves a regular series alone', () => {
    const r = regularize(raw([600, 900, 1200, 1500], [1, 2, 3, 4]));
    expect([r.t0, r.step]).toEqual([600, 300]);
    expect(Array.from(r.values)).toEqual([1, 2, 3, 4]);
    expect(Array.from(r.imputed)).toEqual([0, 0, 0, 0]);
    expect(r.report).toEqual({ stepSeconds: 300, snapped: 0, reordered: false, duplicatesMerged: 0, interpolated: 0, longGaps: [] });
    expect(describeRegularization(r.report)).toBe('step 5m; already regular');
  });

  it('snaps Bitbrains-like jitter (start at xx:x2:56, ±1 s) onto a grid aligned to epoch multiples of the step', () => {
    const start = 1375308176; // 2013-07-31 22:02:56 UTC
    const jitter = [0, 1, -1, 0, 1, 1, -1, -1, 0, 1];
    const r = regularize(raw(jitter.map((j, i) => start + i * 300 + j), jitter.map((_, i) => i)));
    expect(r.t0 % 300).toBe(0);
    expect(new Date(r.t0 * 1000).toISOString()).toBe('2013-07-31T22:05:00.000Z');
    expect(Array.from(r.values)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.report.snapped).toBe(10);
    expect(r.report.duplicatesMerged).toBe(0);
  });

  it('does not split neighbours when the sampling phase sits at half a step with jitter', () => {
    const jitter = [1, -1, 1, -1, 1, -1, 1, -1];
    const r = regularize(raw(jitter.map((j, i) => 3000 + 150 + i * 300 + j), jitter.map((_, i) => i)), { stepSeconds: 300 });
    expect(r.values.length).toBe(8);
    expect(Array.from(r.values)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(r.report.duplicatesMerged).toBe(0);
    expect(r.report.interpolated).toBe(0);
  });

  it('sorts and merges duplicates by their mean', () => {
    const r = regularize(raw([600, 0, 300, 300, 900], [3, 1, 2, 4, 5]));
    expect(Array.from(r.values)).toEqual([1, 3, 3, 5]);
    expect(r.report.reordered).toBe(true);
    expect(r.report.duplicatesMerged).toBe(1);
    expect(describeRegularization(r.report)).toBe('step 5m; sorted by time; 1 duplicate merged');
  });

  it('interpolates a short gap linearly', () => {
    const r = regularize(raw([0, 300, 1200, 1500], [0, 1, 4, 5]));
    expect(Array.from(r.values)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r.report.interpolated).toBe(2);
    expect(Array.from(r.imputed)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('imputes a long gap from the day before, joining both edges, and marks it', () => {
    // Hourly, 3 days of a daily pattern; on day 3 the level is 10 higher; hours 6..13 of day 3 missing.
    const pattern = (h: number) => 5 + 3 * Math.sin((2 * Math.PI * h) / 24);
    const times: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < 72; i++) {
      if (i >= 54 && i <= 61) continue;
      times.push(i * 3600);
      values.push(pattern(i) + (i >= 48 ? 10 : 0));
    }
    const r = regularize(raw(times, values), { maxInterpolateSteps: 3 });
    expect(r.values.length).toBe(72);
    expect(r.report.longGaps).toEqual([{ start: 54 * 3600, steps: 8 }]);
    for (let i = 54; i <= 61; i++) {
      expect(r.imputed[i]).toBe(1);
      expect(r.values[i]).toBeCloseTo(pattern(i) + 10, 9); // the day-earlier shape, level-corrected
    }
    expect(r.imputed[53] + r.imputed[62]).toBe(0);
    expect(describeRegularization(r.report)).toBe('step 1h; 1 long gap imputed (8 steps, longest 8h)');
  });

  it('imputes linearly when less than a day precedes the long gap', () => {
    const r = regularize(raw([0, 3600, 10 * 3600], [0, 1, 10]), { maxInterpolateSteps: 2 });
    expect(Array.from(r.values)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.report.longGaps).toEqual([{ start: 7200, steps: 8 }]);
    expect(r.imputed.reduce((a, b) => a + b, 0)).toBe(8);
  });

  it('defaults to interpolating gaps up to one hour', () => {
    const t = (k: number) => k * 300;
    const short = regularize(raw([t(0), t(1), t(14)], [0, 1, 14])); // 12 missing steps = 1 h
    expect(short.report.interpolated).toBe(12);
    expect(short.report.longGaps).toEqual([]);
    const long = regularize(raw([t(0), t(1), t(15)], [0, 1, 15])); // 13 missing steps
    expect(long.report.longGaps).toEqual([{ start: t(2), steps: 13 }]);
  });

  it('clamps imputed values at 0 for a non-negative series', () => {
    // The day before the gap dips far lower than the gap's edges: the seasonal copy would go below 0.
    const times: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < 48; i++) {
      if (i >= 30 && i <= 40) continue;
      times.push(i * 3600);
      values.push(i >= 6 && i <= 16 ? 0 : i < 24 ? 50 : 10);
    }
    const r = regularize(raw(times, values), { maxInterpolateSteps: 1 });
    for (let i = 30; i <= 40; i++) expect(r.values[i]).toBeGreaterThanOrEqual(0);
    expect(Math.min(...Array.from(r.values.subarray(30, 41)))).toBe(0);
  });

  it('averages into a coarser step when asked', () => {
    const times = Array.from({ length: 24 }, (_, i) => i * 300);
    const r = regularize(raw(times, times.map((_, i) => i)), { stepSeconds: 3600 });
    expect([r.t0, r.step]).toEqual([0, 3600]);
    expect(Array.from(r.values)).toEqual([2.5, 11.5, 20.5]);
    expect(r.report.duplicatesMerged).toBe(21);
  });

  it('carries the capacity along', () => {
    const r = regularize(raw([0, 60], [1, 2], { capacity: { cpuCores: 2 } }));
    expect(r.capacity).toEqual({ cpuCores: 2 });
  });

  it('throws InputError when fewer than 2 distinct times remain', () => {
    expect(() => regularize(raw([100], [1]))).toThrow(/need at least 2 distinct times, found 1/);
    expect(() => regularize(raw([100, 100], [1, 2]))).toThrow(InputError);
    expect(() => regularize(raw([100, 110], [1, 2]), { stepSeconds: 300 })).toThrow(/on the 300s grid, found 1/);
  });

  it('names the line of a non-finite value and of an absurd timestamp', () => {
    const lines = Int32Array.from([2, 3, 4]);
    try {
      regularize(raw([0, 300, 600], [1, NaN, 2], { lines }));
      expect.unreachable();
    } catch (e) {
      expect((e as InputError).context).toMatchObject({ file: 'mem.csv', line: 3 });
    }
    const times = Array.from({ length: 100 }, (_, i) => 1375308176 + i * 300);
    times[99] = 4e9; // one row in the year 2096
    try {
      regularize(raw(times, times.map(() => 1), { lines: Int32Array.from(times.map((_, i) => i + 2)) }));
      expect.unreachable();
    } catch (e) {
      expect((e as InputError).message).toMatch(/slots for 100 observations/);
      expect((e as InputError).context.line).toBe(101);
    }
  });
});

describe('regularize on the shared traces', () => {
  it('Bitbrains rnd/2013-8/15.csv cpu_mhz: 30 days on the 5-minute grid, its gaps interpolated', async () => {
    const [cpu] = await readFile(join(DATA, 'bitbrains/rnd/2013-8/15.csv'));
    const r = regularize(cpu);
    expect(r.step).toBe(300);
    expect(new Date(r.t0 * 1000).toISOString()).toBe('2013-07-31T22:05:00.000Z');
    expect(r.values.length).toBe(8640); // 30 days
    // 8623 rows, no two in one slot: the other 17 slots are missing and all gaps are < 1 h.
    expect(r.report.duplicatesMerged).toBe(0);
    expect(r.report.interpolated).toBe(17);
    expect(r.report.longGaps).toEqual([]);
    expect(r.capacity).toEqual({ cpuCores: 1, cpuMhz: 2600, memKb: 2097152 });
  });

  it('Bitbrains rnd/2013-7/170.csv: the ~31 h outage of 2013-07-16 is one long gap, imputed', async () => {
    const [cpu] = await readFile(join(DATA, 'bitbrains/rnd/2013-7/170.csv'));
    const r = regularize(cpu);
    expect(r.report.longGaps).toHaveLength(1);
    const gap = r.report.longGaps[0];
    // README: 13:05 → 2013-07-17 19:45 UTC, 110,414 s, i.e. 367 missing 5-minute steps.
    expect(gap.steps).toBe(367);
    expect(new Date(gap.start * 1000).toISOString()).toBe('2013-07-16T13:10:00.000Z');
    expect(r.imputed.reduce((a, b) => a + b, 0)).toBe(367);
    for (let i = 0; i < r.values.length; i++) expect(r.values[i]).toBeGreaterThanOrEqual(0);
  });

  it('NAB ec2_disk_write_bytes_1ef3de: 11 duplicate timestamps merged, the 1 h gap interpolated', async () => {
    const [s] = await readFile(join(DATA, 'nab/data/realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv'));
    const r = regularize(s);
    expect(r.report.duplicatesMerged).toBe(11);
    expect(r.report.interpolated).toBe(11);
    expect(r.values.length).toBe(4730);
  });

  it('NAB machine_temperature_system_failure: the step back in time is sorted out', async () => {
    const [s] = await readFile(join(DATA, 'nab/data/realKnownCause/machine_temperature_system_failure.csv'));
    const r = regularize(s);
    expect(r.report.reordered).toBe(true);
    expect(r.step).toBe(300);
    expect(new Date(r.t0 * 1000).toISOString()).toBe('2013-12-02T21:15:00.000Z');
    expect(Array.from(r.values).every(Number.isFinite)).toBe(true);
  });
});
