// @ts-check
/**
 * Small statistics for the VM benchmark: medians and min/max summaries of repeated runs. Pure.
 */

/**
 * @typedef {object} Summary
 * @property {number} n       how many values
 * @property {number} median
 * @property {number} min
 * @property {number} max
 * @property {number[]} values  in run order
 */

/**
 * The median of `xs` (mean of the two middle values for an even count).
 * @param {readonly number[]} xs
 * @returns {number}
 */
export function median(xs) {
  if (xs.length === 0) throw new RangeError('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Median, min and max of repeated measurements, keeping the values in run order.
 * @param {readonly number[]} xs
 * @returns {Summary}
 */
export function summarize(xs) {
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), values: [...xs] };
}

/**
 * Per-call costs from cumulative CPU readings taken around each call: `after[i] - before[i]`.
 * @param {readonly number[]} before  CPU µs before each call
 * @param {readonly number[]} after   CPU µs after each call
 * @returns {number[]} CPU ms per call
 */
export function perCallMs(before, after) {
  if (before.length !== after.length) throw new RangeError(`${before.length} readings before, ${after.length} after`);
  return before.map((b, i) => (after[i] - b) / 1000);
}
