import { describe, expect, it } from 'vitest';
import { classifyNumber, cleanCell, splitHeaderUnit } from './cells.js';

describe('cells', () => {
  it('splits a unit out of a header', () => {
    expect(splitHeaderUnit('cpu [%]')).toEqual({ metric: 'cpu', unit: '%' });
    expect(splitHeaderUnit('mem (KB)')).toEqual({ metric: 'mem', unit: 'KB' });
    expect(splitHeaderUnit('Disk read throughput [KB/s]')).toEqual({ metric: 'Disk read throughput', unit: 'KB/s' });
    expect(splitHeaderUnit('value')).toEqual({ metric: 'value', unit: '' });
  });
  it('classifies numbers, blanks, NaN/Infinity and text', () => {
    expect(classifyNumber('1.5')).toEqual({ kind: 'number', value: 1.5 });
    expect(classifyNumber('-2e3').value).toBe(-2000);
    expect(classifyNumber('').kind).toBe('empty');
    for (const s of ['NaN', 'nan', 'Infinity', '-Infinity', 'inf', '1e999']) expect(classifyNumber(s).kind).toBe('not-finite');
    expect(classifyNumber('abc').kind).toBe('not-a-number');
    expect(classifyNumber('12abc').kind).toBe('not-a-number');
  });
  it('strips whitespace and quotes', () => {
    expect(cleanCell('  "cpu [%]" ')).toBe('cpu [%]');
    expect(cleanCell('\t42')).toBe('42');
  });
});
