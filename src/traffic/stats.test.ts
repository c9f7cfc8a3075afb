import { describe, expect, it } from 'vitest';
import { errorRateBetween } from './stats.js';

const c = (requests: number, http5xx: number, connectionErrors = 0) => ({ requests, http5xx, connectionErrors, responseErrors: 0 });

describe('errorRateBetween', () => {
  it('is the share of 5xx among the requests of the window', () => {
    expect(errorRateBetween(c(100, 5), c(140, 15))).toEqual({ requests: 40, errors: 10, rate: 0.25, reset: false });
  });
  it('has no rate without requests', () => {
    expect(errorRateBetween(c(10, 1), c(10, 1)).rate).toBeNull();
  });
  it('counts from zero after a restart (a counter went down) and on the first reading', () => {
    expect(errorRateBetween(c(100, 5), c(4, 1))).toEqual({ requests: 4, errors: 1, rate: 0.25, reset: true });
    expect(errorRateBetween(null, c(4, 2))).toMatchObject({ requests: 4, errors: 2, rate: 0.5, reset: false });
  });
  it('counts failed connections as failed requests when asked', () => {
    expect(errorRateBetween(c(10, 0, 0), c(10, 0, 5), { countConnectionErrors: true })).toMatchObject({ requests: 5, errors: 5, rate: 1 });
    expect(errorRateBetween(c(10, 0, 0), c(10, 0, 5)).rate).toBeNull();
  });
});
