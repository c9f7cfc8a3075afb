/**
 * Axis ticks: "nice" numbers for value axes (1, 2, 5 × 10^k steps), UTC-aligned ticks for time
 * axes, and SI-ish tick labels (`1.5k`, `2M`) with the same number of decimals on every tick.
 */

/** Ticks of a value axis: the domain is widened to whole steps so the data fits inside. */
export interface NiceTicks {
  /** First and last tick; the axis domain. */
  min: number;
  max: number;
  step: number;
  ticks: number[];
}

/** The nice number (1, 2, 5 or 10 × 10^k) closest to, or at least, `x` (> 0). */
export function niceNumber(x: number, round: boolean): number {
  const exp = Math.floor(Math.log10(x));
  const f = x / 10 ** exp;
  let nf: number;
  if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nf * 10 ** exp;
}

/** The fewest decimals that write `step` exactly (0.25 → 2, 5 → 0, 2.5 → 1). */
function decimalsOf(step: number): number {
  for (let d = 0; d < 12; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, scaled)) return d;
  }
  return 12;
}

/**
 * Nice ticks covering [lo, hi] with about `target` ticks (at most `target + 2`), Heckbert's
 * method. A zero-width range is widened around its value.
 */
export function niceTicks(lo: number, hi: number, target = 6): NiceTicks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`niceTicks: non-finite range [${lo}, ${hi}]`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const n = Math.max(2, target);
  const step = niceNumber(niceNumber(hi - lo, false) / (n - 1), true);
  const d = decimalsOf(step);
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toFixed(d)) + 0); // + 0 turns -0 into 0
  return { min: ticks[0], max: ticks[ticks.length - 1], step, ticks };
}

const SI: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/**
 * Labels for value ticks: one SI prefix for the whole axis (from the largest tick), and as many
 * decimals as the step needs, so `[0, 500, 1000, 1500]` reads `0, 0.5k, 1k, 1.5k`... except
 * that values under 10 000 are left unprefixed (`1,500` is easier to read than `1.5k`).
 */
export function formatTicks(ticks: readonly number[], step: number): string[] {
  const top = Math.max(...ticks.map(Math.abs));
  let div = 1;
  let prefix = '';
  for (const [v, p] of SI) {
    if (top >= v && top >= 1e4) {
      div = v;
      prefix = p;
      break;
    }
  }
  const d = decimalsOf(step / div);
  return ticks.map((t) => {
    const x = t / div;
    const s = div === 1 && Math.abs(x) >= 1000 ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : x.toFixed(d);
    if (Math.abs(x) < 1e-12) return '0';
    return s + prefix;
  });
}

/** Formats one value for text (legends, tables): 3 significant digits, SI prefix from 10 000. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  for (const [div, p] of SI) if (a >= div && a >= 1e4) return `${trim((v / div).toPrecision(3))}${p}`;
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a === 0) return '0';
  return trim(v.toPrecision(3));
}

function trim(s: string): string {
  return s.includes('e') ? s : s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

// ---------------------------------------------------------------------------------------------
// time

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;
const WEEK = 7 * DAY;
/** Candidate time steps, each dividing the next boundary it aligns to. */
const TIME_STEPS = [MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, WEEK, 2 * WEEK, 4 * WEEK];
/** 1970-01-01 was a Thursday; week ticks fall on Mondays 00:00 UTC. */
const MONDAY_OFFSET = 4 * DAY;

/** Ticks of a time axis (epoch seconds, UTC). */
export interface TimeTicks {
  step: number;
  ticks: number[];
}

/** UTC-aligned ticks within [t0, t1], the smallest step giving at most `maxTicks` ticks. */
export function timeTicks(t0: number, t1: number, maxTicks = 8): TimeTicks {
  if (!(t1 > t0)) return { step: HOUR, ticks: [t0] };
  const span = t1 - t0;
  let step = TIME_STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / WEEK) * WEEK;
  // Steps of 2 days and more: align to weeks when a week divides them, else to days.
  const offset = step % WEEK === 0 ? MONDAY_OFFSET : 0;
  const ticks: number[] = [];
  const first = Math.ceil((t0 - offset) / step) * step + offset;
  for (let t = first; t <= t1; t += step) ticks.push(t);
  if (ticks.length === 0) {
    step = span;
    ticks.push(t0);
  }
  return { step, ticks };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `Tue 10 Sep` (UTC). */
export function formatUtcDate(t: number): string {
  const d = new Date(t * 1000);
  return `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

/** `14:05` (UTC). */
export function formatUtcTime(t: number): string {
  const d = new Date(t * 1000);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

/** `2013-09-10 14:05 UTC`. */
export function formatUtcDateTime(t: number): string {
  const d = new Date(t * 1000);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${formatUtcTime(t)} UTC`;
}

/**
 * A time tick's label as two lines: the time of day (empty for steps of a day or more) and the
 * date (only at midnight, or on the first tick so that every axis names its day).
 */
export function timeTickLabel(t: number, step: number, first: boolean): { time: string; date: string } {
  const midnight = t % DAY === 0;
  if (step >= DAY) return { time: '', date: formatUtcDate(t) };
  return { time: formatUtcTime(t), date: midnight || first ? formatUtcDate(t) : '' };
}
