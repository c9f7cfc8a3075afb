/**
 * Timestamp parsing for text inputs: epoch numbers and ISO 8601 dates. Naive times (no zone)
 * are UTC. Results are epoch seconds (possibly fractional); NaN when the text is not a time.
 */

/** How numeric timestamps of one file are scaled to seconds (decided from its first row). */
export type EpochUnit = 's' | 'ms' | 'us' | 'ns';

const EPOCH_DIVISOR: Record<EpochUnit, number> = { s: 1, ms: 1e3, us: 1e6, ns: 1e9 };

/** A plain decimal number (no exponent, no hex): what epoch timestamps look like. */
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

// 2014-02-14, 2014-02-14 14:30, 2014-02-14T14:30:00.123Z, 2014/02/14 14:30:00+02:00
const ISO =
  /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;

/** True when `text` is a plain number, i.e. an epoch timestamp rather than a date string. */
export function isNumericTimestamp(text: string): boolean {
  return NUMERIC.test(text);
}

/**
 * Picks the unit of numeric epoch timestamps from a sample value: seconds up to 1e11 (year
 * 5138), milliseconds up to 1e14, microseconds up to 1e17, nanoseconds beyond.
 */
export function epochUnitOf(sample: number): EpochUnit {
  const a = Math.abs(sample);
  if (a > 1e17) return 'ns';
  if (a > 1e14) return 'us';
  if (a > 1e11) return 'ms';
  return 's';
}

/** Converts a numeric epoch timestamp in `unit` to seconds. */
export function epochToSeconds(value: number, unit: EpochUnit): number {
  return value / EPOCH_DIVISOR[unit];
}

/**
 * Parses an ISO 8601 date or date-time (`T` or space separator, optional fraction, optional
 * `Z`/`UTC`/`±hh:mm` zone; naive means UTC) into epoch seconds. NaN when invalid, including
 * out-of-range fields such as `2014-02-30` or `25:00`.
 */
export function parseIsoTimestamp(text: string): number {
  const m = ISO.exec(text);
  if (!m) return NaN;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const frac = m[7] === undefined ? 0 : Number(m[7]);
  // Date.UTC would roll over (Feb 30 → Mar 2); reject instead of guessing.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return NaN;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  let offsetSeconds = 0;
  const zone = m[8];
  if (zone !== undefined && /^[+-]/.test(zone)) {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) return NaN;
    offsetSeconds = (zone[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return ms / 1000 + frac - offsetSeconds;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
}
