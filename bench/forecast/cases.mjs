// @ts-check
/**
 * The benchmark's cases: for each regularized VM series, several forecast origins in its last
 * week; each (VM, origin) gives a training series (everything before the origin), the actuals
 * of the next `horizon` steps and the scale used by MASE and MSIS. Pure; no I/O.
 */
import { seasonalNaiveScale } from './metrics.mjs';

/**
 * @typedef {object} BenchCase
 * @property {string} id series id given to every method (`<vm>-o<k>`, the training file's stem)
 * @property {string} vm VM id (the Bitbrains file stem)
 * @property {number} k origin number, 0 = earliest
 * @property {number} origin index of the first forecast step in the full series
 * @property {number} step grid step in seconds
 * @property {number} t0 epoch seconds of the first training point
 * @property {Float64Array} train training values (indices 0 .. origin-1)
 * @property {number[]} times epoch seconds of the horizon steps
 * @property {Float64Array} actual actuals over the horizon; NaN where the regularizer imputed
 * @property {number} scale in-sample MAE of the daily seasonal naive on `train`
 * @property {number} imputedInTrain number of imputed training points
 */

/**
 * Chooses `count` origins spaced `spacing` steps apart, the last one leaving exactly `horizon`
 * points of actuals at the end of an `n`-point series. Returns them ascending.
 * Throws when they do not all fall in the last `window` steps or leave too little training.
 * @param {number} n series length
 * @param {number} horizon forecast horizon in steps
 * @param {number} count number of origins
 * @param {number} spacing steps between origins
 * @param {number} window the origins must lie in the last `window` steps (one week)
 * @param {number} minTrain minimum training length in steps
 * @returns {number[]}
 */
export function pickOrigins(n, horizon, count, spacing, window, minTrain) {
  const origins = [];
  for (let k = count - 1; k >= 0; k--) origins.push(n - horizon - k * spacing);
  if (origins[0] < n - window) {
    throw new Error(`origins reach back ${n - origins[0]} steps, beyond the last ${window}`);
  }
  if (origins[0] < minTrain) throw new Error(`series of ${n} steps leaves ${origins[0]} training steps, need ${minTrain}`);
  return origins;
}

/**
 * Builds the cases of one regularized series.
 * @param {string} vm VM id
 * @param {{ t0: number, step: number, values: Float64Array, imputed: Uint8Array }} s regularized series
 * @param {number[]} origins from {@link pickOrigins}
 * @param {number} horizon steps
 * @param {number} daily daily period in steps (MASE/MSIS scale lag)
 * @returns {BenchCase[]}
 */
export function buildCases(vm, s, origins, horizon, daily) {
  return origins.map((origin, k) => {
    const train = s.values.slice(0, origin);
    const imputedTrain = s.imputed.subarray(0, origin);
    const actual = new Float64Array(horizon);
    const times = [];
    for (let j = 0; j < horizon; j++) {
      const i = origin + j;
      actual[j] = s.imputed[i] ? NaN : s.values[i];
      times.push(s.t0 + i * s.step);
    }
    let imputedInTrain = 0;
    for (let i = 0; i < imputedTrain.length; i++) imputedInTrain += imputedTrain[i];
    return {
      id: `${vm}-o${k}`,
      vm,
      k,
      origin,
      step: s.step,
      t0: s.t0,
      train,
      times,
      actual,
      scale: seasonalNaiveScale(train, daily, imputedTrain),
      imputedInTrain,
    };
  });
}

/**
 * The generic two-column CSV every method reads: `timestamp,value`, epoch seconds.
 * @param {BenchCase} c
 * @returns {string}
 */
export function trainingCsv(c) {
  const parts = ['timestamp,value'];
  for (let i = 0; i < c.train.length; i++) parts.push(`${c.t0 + i * c.step},${c.train[i]}`);
  return parts.join('\n') + '\n';
}
