import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF } from './backoff.js';

describe('backoffDelayMs', () => {
  const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };
  it('doubles from the base up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, noJitter))).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
  });
  it('treats 0 failures as the first', () => {
    expect(backoffDelayMs(0, noJitter)).toBe(500);
  });
  it('jitter takes off at most its fraction', () => {
    expect(backoffDelayMs(3, DEFAULT_BACKOFF, () => 0)).toBe(2000);
    expect(backoffDelayMs(3, DEFAULT_BACKOFF, () => 0.5)).toBe(1800);
    expect(backoffDelayMs(3, DEFAULT_BACKOFF, () => 0.999999)).toBe(1600);
    expect(backoffDelayMs(9, DEFAULT_BACKOFF, () => 0)).toBe(5000);
  });
});
