/**
 * Regularization: an irregular RawSeries (unsorted, jittered, with duplicates and gaps) becomes
 * a RegularSeries on a calendar-aligned grid with no NaN. Pure: no I/O, no clock.
 */
import { formatDuration } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import type { GapSpan, RawSeries, RegularizeReport, RegularSeries } from './types.js';

/** Options for {@link regularize}. */
export interface RegularizeOptions {
  /** Grid step in seconds; inferred from the data when absent. */
  stepSeconds?: number;
  /**
   * Longest run of missing steps filled by linear interpolation; longer runs are imputed and
   * marked. Default: the number of steps in one hour (at least 1).
   */
  maxInterpolateSteps?: number;
  /** Largest grid allowed, in slots (guards against one absurd timestamp). Default: max(1e6, 20·n). */
  maxSlots?: number;
}

/** Steps people sample at; an inferred step within {@link NICE_TOLERANCE} of one becomes it. */
export const NICE_STEPS = [
  1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400, 604800,
] as const;
const NICE_TOLERANCE = 0.02;
/** The mode of the steps is trusted when at least this share of steps has that length. */
const MODE_MIN_SHARE = 0.3;
const DAY = 86_400;

/**
 * Infers the sampling step (seconds) from sorted times: the most common positive difference when
 * it is common enough (≥ 30 % of them), else the median one; then rounded to a nice step
 * (60, 300, 3600, …) when within 2 % of it. NaN when there are no two distinct times.
 */
export function inferStep(sortedTimes: Float64Array): number {
  const diffs = new Float64Array(Math.max(0, sortedTimes.length - 1));
  let m = 0;
  for (let i = 1; i < sortedTimes.length; i++) {
    const d = Math.round((sortedTimes[i] - sortedTimes[i - 1]) * 1000) / 1000;
    if (d > 0) diffs[m++] = d;
  }
  if (m === 0) return NaN;
  const sorted = diffs.subarray(0, m).sort();
  let mode = sorted[0];
  let modeCount = 0;
  for (let i = 0; i < m; ) {
    let j = i;
    while (j < m && sorted[j] === sorted[i]) j++;
    if (j - i > modeCount) {
      mode = sorted[i];
      modeCount = j - i;
    }
    i = j;
  }
  const median = m % 2 === 1 ? sorted[(m - 1) / 2] : (sorted[m / 2 - 1] + sorted[m / 2]) / 2;
  const candidate = modeCount >= MODE_MIN_SHARE * m ? mode : median;
  for (const nice of NICE_STEPS) {
    if (Math.abs(candidate - nice) <= NICE_TOLERANCE * nice) return nice;
  }
  return candidate >= 10 ? Math.round(candidate) : candidate;
}

/**
 * Puts a raw series on a regular grid:
 * - sorts by time; infers the step unless given;
 * - aligns the grid to multiples of the step in epoch time (so daily seasonality lines up with
 *   UTC midnight) and snaps each observation to its nearest slot; the series' own sampling phase
 *   decides the rounding (a circular mean of `t mod step`), so ±1 s jitter around a phase of
 *   exactly half a step cannot split neighbours into a collision and a hole;
 * - merges observations that land in one slot (mean);
 * - fills runs of up to `maxInterpolateSteps` missing steps linearly;
 * - imputes longer runs from the same time one day earlier, level-adjusted so that both gap
 *   edges join the observed values (linear when less than a day precedes the gap or the step
 *   does not divide a day); these slots are marked in `imputed` and listed in `report.longGaps`.
 *   Imputed values are clamped at 0 when every observation is ≥ 0.
 *
 * @throws InputError naming the source (and line when known) when fewer than 2 distinct grid
 *   times remain, a time or value is not finite, the step is not positive, or the grid would be
 *   absurdly large (one timestamp far off the others).
 */
export function regularize(raw: RawSeries, opts: RegularizeOptions = {}): RegularSeries {
  const n = raw.times.length;
  const ctx = { file: raw.source, series: raw.series, metric: raw.metric };
  if (raw.values.length !== n) throw new InputError(`times and values differ in length (${n} vs ${raw.values.length})`, ctx);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(raw.times[i]) || !Number.isFinite(raw.values[i])) {
      const what = Number.isFinite(raw.times[i]) ? `value ${raw.values[i]}` : `time ${raw.times[i]}`;
      throw new InputError(`${raw.metric}: ${what} is not finite`, { ...ctx, ...lineOf(raw, i) });
    }
  }

  // Sort (stable) only when needed.
  let reordered = false;
  let order: Uint32Array | undefined;
  for (let i = 1; i < n; i++) {
    if (raw.times[i] < raw.times[i - 1]) {
      reordered = true;
      break;
    }
  }
  if (reordered) {
    order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const t = raw.times;
    order.sort((a, b) => t[a] - t[b] || a - b);
  }
  const times = order ? permute(raw.times, order) : raw.times;
  const values = order ? permute(raw.values, order) : raw.values;
  const at = (i: number): number => (order ? order[i] : i); // index into raw (for lines)

  const step = opts.stepSeconds ?? inferStep(times);
  if (Number.isNaN(step)) throw new InputError(`${raw.metric}: need at least 2 distinct times, found ${n === 0 ? 0 : 1}`, ctx);
  if (!(step > 0) || !Number.isFinite(step)) throw new InputError(`step must be a positive number of seconds, got ${step}`, ctx);

  const shift = phaseShift(times, step);
  const slotOf = (t: number): number => Math.round((t - shift) / step);
  const kFirst = slotOf(times[0]);
  const kLast = slotOf(times[n - 1]);
  const len = kLast - kFirst + 1;
  const maxSlots = opts.maxSlots ?? Math.max(1_000_000, 20 * n);
  if (len > maxSlots) {
    let worst = 1;
    for (let i = 2; i < n; i++) if (times[i] - times[i - 1] > times[worst] - times[worst - 1]) worst = i;
    throw new InputError(
      `${raw.metric}: times span ${formatDuration(Math.round((times[n - 1] - times[0]) / 60) * 60)} at a ${step}s step ` +
        `(${len} slots for ${n} observations); the largest jump is ${times[worst] - times[worst - 1]}s, check this timestamp`,
      { ...ctx, ...lineOf(raw, at(worst)) },
    );
  }
  const t0 = kFirst * step;

  // Merge into slots.
  const sums = new Float64Array(len);
  const counts = new Uint32Array(len);
  let snapped = 0;
  let duplicatesMerged = 0;
  let allNonNegative = true;
  for (let i = 0; i < n; i++) {
    const k = slotOf(times[i]);
    if (Math.abs(times[i] - k * step) > 1e-6) snapped++;
    const slot = k - kFirst;
    if (counts[slot] > 0) duplicatesMerged++;
    sums[slot] += values[i];
    counts[slot]++;
    if (values[i] < 0) allNonNegative = false;
  }
  let distinct = 0;
  for (let k = 0; k < len; k++) if (counts[k] > 0) distinct++;
  if (distinct < 2) {
    throw new InputError(`${raw.metric}: need at least 2 distinct times on the ${step}s grid, found ${distinct}`, ctx);
  }

  const out = sums; // reuse: observed slots become their mean, missing ones are filled below
  for (let k = 0; k < len; k++) if (counts[k] > 0) out[k] = sums[k] / counts[k];
  const imputed = new Uint8Array(len);
  const maxInterp = opts.maxInterpolateSteps ?? Math.max(1, Math.floor(3600 / step));
  const daySteps = DAY % step === 0 ? DAY / step : 0;
  let interpolated = 0;
  const longGaps: GapSpan[] = [];
  for (let k = 1; k < len; k++) {
    if (counts[k] > 0) continue;
    const left = k - 1; // observed (slot 0 and the last slot always are)
    let right = k;
    while (counts[right] === 0) right++;
    const missing = right - k;
    if (missing <= maxInterp) {
      fillLinear(out, left, right);
      interpolated += missing;
    } else {
      if (daySteps >= 2 && left - daySteps >= 0) fillSeasonal(out, left, right, daySteps);
      else fillLinear(out, left, right);
      for (let j = k; j < right; j++) {
        imputed[j] = 1;
        if (allNonNegative && out[j] < 0) out[j] = 0;
      }
      longGaps.push({ start: t0 + k * step, steps: missing });
    }
    k = right;
  }

  const report: RegularizeReport = { stepSeconds: step, snapped, reordered, duplicatesMerged, interpolated, longGaps };
  const result: RegularSeries = {
    series: raw.series,
    metric: raw.metric,
    unit: raw.unit,
    source: raw.source,
    t0,
    step,
    values: out,
    imputed,
    report,
  };
  if (raw.capacity) result.capacity = { ...raw.capacity };
  return result;
}

/**
 * One line summing up a report, e.g. `step 5m; 8623 times snapped to the grid; 2 duplicates
 * merged; 14 steps interpolated; 1 long gap imputed (31h)`.
 */
export function describeRegularization(report: RegularizeReport): string {
  const parts = [`step ${formatDuration(report.stepSeconds)}`];
  if (report.reordered) parts.push('sorted by time');
  if (report.snapped > 0) parts.push(`${report.snapped} ${plural(report.snapped, 'time')} snapped to the grid`);
  if (report.duplicatesMerged > 0) parts.push(`${report.duplicatesMerged} ${plural(report.duplicatesMerged, 'duplicate')} merged`);
  if (report.interpolated > 0) parts.push(`${report.interpolated} missing ${plural(report.interpolated, 'step')} interpolated`);
  if (report.longGaps.length > 0) {
    const steps = report.longGaps.reduce((a, g) => a + g.steps, 0);
    const longest = Math.max(...report.longGaps.map((g) => g.steps)) * report.stepSeconds;
    parts.push(
      `${report.longGaps.length} long ${plural(report.longGaps.length, 'gap')} imputed ` +
        `(${steps} ${plural(steps, 'step')}, longest ${formatSpan(longest)})`,
    );
  }
  if (parts.length === 1) parts.push('already regular');
  return parts.join('; ');
}

/**
 * The offset (in (-step/2, step/2]) of the series' sampling phase from the epoch grid: the
 * circular mean of `t mod step`. 0 when the phases do not agree (e.g. when downsampling), so
 * that plain rounding applies.
 */
function phaseShift(times: Float64Array, step: number): number {
  let c = 0;
  let s = 0;
  const w = (2 * Math.PI) / step;
  for (let i = 0; i < times.length; i++) {
    const a = w * (times[i] - Math.floor(times[i] / step) * step);
    c += Math.cos(a);
    s += Math.sin(a);
  }
  const r = Math.hypot(c, s) / times.length;
  if (r < 0.5) return 0;
  const phase = Math.atan2(s, c) / w; // in (-step/2, step/2]
  return phase;
}

/** Linear fill of out[left+1 .. right-1] between the observed out[left] and out[right]. */
function fillLinear(out: Float64Array, left: number, right: number): void {
  const a = out[left];
  const b = out[right];
  const span = right - left;
  for (let j = left + 1; j < right; j++) out[j] = a + ((b - a) * (j - left)) / span;
}

/**
 * Seasonal fill: out[j] = out[j - day] + an offset that goes linearly from
 * (out[left] - out[left - day]) to (out[right] - base[right]), where base is the plain
 * day-earlier copy, so both edges join the observations. Needs left - day ≥ 0.
 */
function fillSeasonal(out: Float64Array, left: number, right: number, day: number): void {
  for (let j = left + 1; j < right; j++) out[j] = out[j - day];
  const a = out[left] - out[left - day];
  const b = out[right] - out[right - day];
  const span = right - left;
  for (let j = left + 1; j < right; j++) out[j] += a + ((b - a) * (j - left)) / span;
}

function permute(src: Float64Array, order: Uint32Array): Float64Array {
  const out = new Float64Array(order.length);
  for (let i = 0; i < order.length; i++) out[i] = src[order[i]];
  return out;
}

function lineOf(raw: RawSeries, i: number): { line?: number } {
  return raw.lines && raw.lines[i] > 0 ? { line: raw.lines[i] } : {};
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/** `1.3d`, `5.5h`, `45m`: a length for people, one decimal at most. */
function formatSpan(seconds: number): string {
  if (seconds >= DAY) return `${Math.round((seconds / DAY) * 10) / 10}d`;
  if (seconds >= 3600) return `${Math.round((seconds / 3600) * 10) / 10}h`;
  return formatDuration(seconds);
}
