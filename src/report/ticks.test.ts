import { describe, expect, it } from 'vitest';
import { formatTicks, formatUtcDateTime, formatValue, niceNumber, niceTicks, timeTickLabel, timeTicks } from './ticks.js';

describe('niceTicks', () => {
  it('covers the range with 1-2-5 steps', () => {
    expect(niceTicks(0, 97, 6)).toEqual({ min: 0, max: 100, step: 20, ticks: [0, 20, 40, 60, 80, 100] });
    expect(niceTicks(13, 1920, 6)).toMatchObject({ min: 0, max: 2000, step: 500 });
    expect(niceTicks(-3.2, 4.9, 5)).toMatchObject({ min: -4, max: 6, step: 2, ticks: [-4, -2, 0, 2, 4, 6] });
  });
  it('keeps decimal ticks exact (no 0.30000000000000004)', () => {
    const t = niceTicks(0, 0.97, 11);
    expect(t.step).toBe(0.1);
    expect(t.ticks).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  });
  it('widens a flat range and rejects non-finite ones', () => {
    const t = niceTicks(5, 5);
    expect(t.min).toBeLessThan(5);
    expect(t.max).toBeGreaterThan(5);
    expect(niceTicks(0, 0).ticks).toContain(0);
    expect(() => niceTicks(0, Infinity)).toThrow(RangeError);
  });
  it('rounds to nice numbers', () => {
    expect(niceNumber(0.0037, true)).toBe(0.005);
    expect(niceNumber(730, false)).toBe(1000);
    expect(niceNumber(140, true)).toBe(100);
  });
});

describe('formatTicks', () => {
  it('uses one SI prefix from 10 000 and the decimals the step needs', () => {
    expect(formatTicks([0, 200000, 400000, 600000], 200000)).toEqual(['0', '200k', '400k', '600k']);
    expect(formatTicks([0, 5000, 10000, 15000], 5000)).toEqual(['0', '5k', '10k', '15k']);
    expect(formatTicks([0, 2500000, 5000000], 2500000)).toEqual(['0', '2.5M', '5.0M']);
    expect(formatTicks([0, 500, 1000, 1500, 2000], 500)).toEqual(['0', '500', '1,000', '1,500', '2,000']);
    expect(formatTicks([0, 0.25, 0.5], 0.25)).toEqual(['0', '0.25', '0.50']);
    expect(formatTicks([-2, 0, 2], 2)).toEqual(['-2', '0', '2']);
  });
});

describe('formatValue', () => {
  it('gives three significant digits', () => {
    expect(formatValue(1234567)).toBe('1.23M');
    expect(formatValue(4321)).toBe('4,321');
    expect(formatValue(12.345)).toBe('12.3');
    expect(formatValue(0.000123)).toBe('0.000123');
    expect(formatValue(0)).toBe('0');
    expect(formatValue(20)).toBe('20');
  });
});

describe('timeTicks', () => {
  const day = 86400;
  const t0 = Date.UTC(2013, 7, 28, 3, 17) / 1000; // Wed 28 Aug 2013 03:17 UTC
  it('picks a UTC-aligned step that gives at most maxTicks ticks', () => {
    const r = timeTicks(t0, t0 + 4 * day, 9);
    expect(r.step).toBe(12 * 3600);
    expect(r.ticks.length).toBeLessThanOrEqual(9);
    expect(r.ticks[0]).toBe(Date.UTC(2013, 7, 28, 12) / 1000);
    for (const t of r.ticks) expect(t % r.step).toBe(0);
  });
  it('uses short steps for short spans and Monday-aligned weeks for long ones', () => {
    expect(timeTicks(t0, t0 + 3 * 3600, 8).step).toBe(30 * 60);
    const weeks = timeTicks(t0, t0 + 60 * day, 10);
    expect(weeks.step).toBe(7 * day);
    expect(new Date(weeks.ticks[0] * 1000).getUTCDay()).toBe(1);
  });
  it('labels times with the date at midnight and on the first tick', () => {
    const midnight = Date.UTC(2013, 7, 29) / 1000;
    expect(timeTickLabel(midnight, 6 * 3600, false)).toEqual({ time: '00:00', date: 'Thu 29 Aug' });
    expect(timeTickLabel(midnight + 6 * 3600, 6 * 3600, false)).toEqual({ time: '06:00', date: '' });
    expect(timeTickLabel(midnight + 6 * 3600, 6 * 3600, true)).toEqual({ time: '06:00', date: 'Thu 29 Aug' });
    expect(timeTickLabel(midnight, 2 * day, false)).toEqual({ time: '', date: 'Thu 29 Aug' });
    expect(formatUtcDateTime(1375308176)).toBe('2013-07-31 22:02 UTC');
  });
});
