/**
 * Retry delays while the server is unreachable: exponential, capped, with optional jitter so
 * that many agents do not retry in step after a server restart. Pure.
 */

/** How retry delays grow. */
export interface BackoffPolicy {
  /** Delay after the first failure, ms. */
  baseMs: number;
  /** Largest delay, ms. */
  maxMs: number;
  /** Growth per failure (2: doubling). */
  factor: number;
  /** Fraction of the delay that is random (0: none; 0.5: between 50 % and 100 % of it). */
  jitter: number;
}

/** The defaults: 0.5 s, doubling, at most 5 s, 20 % jitter. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 5000, factor: 2, jitter: 0.2 };

/**
 * The delay before retry number `failures` (1 after the first failure). Never above `maxMs`,
 * never below `(1 - jitter)` of the exponential value. `random` returns a number in [0, 1).
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(failures));
  const raw = Math.min(policy.maxMs, policy.baseMs * Math.pow(policy.factor, n - 1));
  const j = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(raw * (1 - j * random()));
}
