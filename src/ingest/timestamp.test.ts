import { describe, expect, it } from 'vitest';
import { epochToSeconds, epochUnitOf, isNumericTimestamp, parseIsoTimestamp } from './timestamp.js';

describe('parseIsoTimestamp', () => {
  it('reads naive NAB-style times as UTC', () => {
    expect(parseIsoTimestamp('2014-02-14 14:30:00')).toBe(1392388200);
  });
  it('reads T/Z, fractions, and numeric offsets', () => {
    expect(parseIsoTimestamp('2014-02-14T14:30:00Z')).toBe(1392388200);
    expect(parseIsoTimestamp('2014-02-14T14:30:00.250Z')).toBe(1392388200.25);
    expect(parseIsoTimestamp('2014-02-14T16:30:00+02:00')).toBe(1392388200);
    expect(parseIsoTimestamp('2014-02-14T09:30:00-0500')).toBe(1392388200);
    expect(parseIsoTimestamp('2014-02-26 13:45:00.000000')).toBe(Date.UTC(2014, 1, 26, 13, 45) / 1000);
  });
  it('reads a date alone and minutes without seconds', () => {
    expect(parseIsoTimestamp('2013-08-01')).toBe(Date.UTC(2013, 7, 1) / 1000);
    expect(parseIsoTimestamp('2013-08-01 00:05')).toBe(Date.UTC(2013, 7, 1, 0, 5) / 1000);
  });
  it('rejects out-of-range fields instead of rolling over', () => {
    expect(parseIsoTimestamp('2014-02-30 00:00:00')).toBeNaN();
    expect(parseIsoTimestamp('2014-02-29')).toBeNaN();
    expect(parseIsoTimestamp('2016-02-29')).toBe(Date.UTC(2016, 1, 29) / 1000);
    expect(parseIsoTimestamp('1900-02-29')).toBeNaN();
    expect(parseIsoTimestamp('2000-02-29')).toBe(Date.UTC(2000, 1, 29) / 1000);
    expect(parseIsoTimestamp('2014-04-31')).toBeNaN();
    expect(parseIsoTimestamp('2014-13-01')).toBeNaN();
    expect(parseIsoTimestamp('2014-01-01 25:00:00')).toBeNaN();
    expect(parseIsoTimestamp('2014-01-01 10:61:00')).toBeNaN();
  });
  it('rejects text that is not a date', () => {
    expect(parseIsoTimestamp('yesterday')).toBeNaN();
    expect(parseIsoTimestamp('')).toBeNaN();
    expect(parseIsoTimestamp('14:30:00')).toBeNaN();
  });
});

describe('epoch numbers', () => {
  it('tells seconds from milliseconds, micro- and nanoseconds by magnitude', () => {
    expect(epochUnitOf(1375308176)).toBe('s');
    expect(epochUnitOf(0)).toBe('s');
    expect(epochUnitOf(1375308176000)).toBe('ms');
    expect(epochUnitOf(1375308176000000)).toBe('us');
    expect(epochUnitOf(1375308176000000000)).toBe('ns');
    expect(epochToSeconds(1375308176500, 'ms')).toBe(1375308176.5);
  });
  it('recognises plain decimal numbers only', () => {
    expect(isNumericTimestamp('1375308176')).toBe(true);
    expect(isNumericTimestamp('1375308176.25')).toBe(true);
    expect(isNumericTimestamp('2014-02-14')).toBe(false);
    expect(isNumericTimestamp('1e9')).toBe(false);
  });
});
