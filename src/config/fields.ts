import { z } from 'zod';

/**
 * Small field schemas with operator-facing messages ("expected a number between 0 and 1").
 * The loader appends the offending value (", got 1.5"), so messages here never repeat it.
 */

export interface RangeOptions {
  /** Bounds excluded (open interval). Default false. */
  exclusive?: boolean;
  /** Integers only. Default false. */
  int?: boolean;
}

/** A number in [lo, hi] (or (lo, hi) when `exclusive`), with one clear message for every failure. */
export function numberBetween(lo: number, hi: number, opts: RangeOptions = {}) {
  const kind = opts.int ? 'an integer' : 'a number';
  const message = opts.exclusive
    ? `expected ${kind} strictly between ${lo} and ${hi}`
    : `expected ${kind} between ${lo} and ${hi}`;
  return z.number({ error: message }).refine(
    (v) => Number.isFinite(v) && (!opts.int || Number.isInteger(v)) && (opts.exclusive ? v > lo && v < hi : v >= lo && v <= hi),
    { message },
  );
}

/** A positive number (> 0), optionally an integer. */
export function positive(opts: { int?: boolean } = {}) {
  const message = opts.int ? 'expected a positive integer' : 'expected a positive number';
  return z.number({ error: message }).refine((v) => Number.isFinite(v) && v > 0 && (!opts.int || Number.isInteger(v)), { message });
}

/** Any integer (may be negative). */
export function integer() {
  const message = 'expected an integer';
  return z.number({ error: message }).refine((v) => Number.isInteger(v), { message });
}

/** A non-empty string (after trimming). */
export function nonEmptyString(what = 'a non-empty string') {
  const message = `expected ${what}`;
  return z.string({ error: message }).refine((s) => s.trim().length > 0, { message });
}

/** A boolean with a message that names YAML's spelling. */
export function bool() {
  return z.boolean({ error: 'expected true or false' });
}

/** One of the given words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}
