import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { readCsv, splitRow } from './csv.js';

const dir = mkdtempSync(join(tmpdir(), 'umbra-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

function fixture(content: string): string {
  const p = join(dir, `f${counter++}.csv`);
  writeFileSync(p, content);
  return p;
}

/** The InputError a read rejects with (fails the test when it resolves). */
async function errorOf(content: string): Promise<InputError> {
  const p = fixture(content);
  try {
    await readCsv(p, 'x');
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).context.file).toBe(p);
    return e as InputError;
  }
  throw new Error('expected the read to fail');
}

describe('readCsv', () => {
  it('reads one series per value column, with units from the header', async () => {
    const p = fixture('time,cpu [%],mem (MB)\n1000,1.5,200\n1300,2.5,210\n1600,3.5,220\n');
    const [cpu, mem] = await readCsv(p, 'vm1');
    expect(cpu.series).toBe('vm1');
    expect(cpu.metric).toBe('cpu');
    expect(cpu.unit).toBe('%');
    expect(Array.from(cpu.times)).toEqual([1000, 1300, 1600]);
    expect(Array.from(cpu.values)).toEqual([1.5, 2.5, 3.5]);
    expect(Array.from(cpu.lines!)).toEqual([2, 3, 4]);
    expect(cpu.source).toBe(p);
    expect(mem.metric).toBe('mem');
    expect(mem.unit).toBe('MB');
    expect(Array.from(mem.values)).toEqual([200, 210, 220]);
    expect(cpu.notes).toBeUndefined();
  });

  it('names the metric of a timestamp,value file "value" and reads ISO 8601 (naive = UTC)', async () => {
    const p = fixture('timestamp,value\n2014-02-14 14:30:00,0.132\n2014-02-14T14:35:00Z,0.134\n');
    const [s] = await readCsv(p, 'nab');
    expect(s.metric).toBe('value');
    expect(s.unit).toBe('');
    expect(Array.from(s.times)).toEqual([1392388200, 1392388500]);
  });

  it('reads epoch milliseconds and says so', async () => {
    const p = fixture('ts,v\n1375308176000,1\n1375308476000,2\n');
    const [s] = await readCsv(p, 'x');
    expect(Array.from(s.times)).toEqual([1375308176, 1375308476]);
    expect(s.notes?.[0]).toMatch(/epoch milliseconds/);
  });

  it('handles CRLF, a semicolon delimiter, quotes, comments and blank lines', async () => {
    const p = fixture('# exported\r\n"time";"load"\r\n0;"1.0"\r\n\r\n60;2\r\n');
    const [s] = await readCsv(p, 'x');
    expect(s.metric).toBe('load');
    expect(Array.from(s.values)).toEqual([1, 2]);
    expect(Array.from(s.lines!)).toEqual([3, 5]);
  });

  it('reads a newest-first file (time running backwards) for the regularizer to sort', async () => {
    const [s] = await readCsv(fixture('time,v\n900,4\n600,3\n300,2\n0,1\n'), 'x');
    expect(Array.from(s.times)).toEqual([900, 600, 300, 0]);
  });

  it('reads a headerless file as time + value columns, and notes it', async () => {
    const [a, b] = await readCsv(fixture('0,1,10\n300,2,20\n'), 'x');
    expect([a.metric, b.metric]).toEqual(['value', 'value2']);
    expect(Array.from(a.values)).toEqual([1, 2]);
    expect(a.notes?.join()).toMatch(/no header/);
  });

  it('skips a text column (noted) and treats an empty cell as a missing observation', async () => {
    const p = fixture('time,host,cpu\n0,a,1\n300,b,\n600,c,3\n');
    const series = await readCsv(p, 'x');
    expect(series).toHaveLength(1);
    expect(series[0].metric).toBe('cpu');
    expect(Array.from(series[0].times)).toEqual([0, 600]);
    expect(series[0].notes?.join()).toMatch(/"host" skipped/);
  });

  it('keeps repeated header names apart', async () => {
    const series = await readCsv(fixture('t,cpu,cpu\n0,1,2\n60,3,4\n'), 'x');
    expect(series.map((s) => s.metric)).toEqual(['cpu', 'cpu_2']);
  });

  it('splits quoted fields that contain the delimiter', () => {
    expect(splitRow('1,"a,b",3', ',')).toEqual(['1', 'a,b', '3']);
    expect(splitRow('1,"say ""hi"""', ',')).toEqual(['1', 'say "hi"']);
  });
});

describe('readCsv rejects bad input with file and line', () => {
  it('empty file', async () => {
    const e = await errorOf('\n  \n');
    expect(e.message).toBe('empty file');
    expect(e.context.line).toBe(1);
  });
  it('header only', async () => {
    const e = await errorOf('timestamp,value\n');
    expect(e.message).toMatch(/need at least 2 observations, found 0/);
    expect(e.context.line).toBe(1);
  });
  it('a single data row', async () => {
    const e = await errorOf('timestamp,value\n2014-02-14 14:30:00,1\n');
    expect(e.message).toMatch(/need at least 2 observations, found 1/);
    expect(e.context.line).toBe(2);
  });
  it('a non-numeric cell, naming the column and the line', async () => {
    const e = await errorOf('time,cpu,mem\n0,1,5\n300,2,6\n600,abc,7\n900,4,8\n');
    expect(e.message).toBe('column "cpu": "abc" is not a number');
    expect(e.context.line).toBe(4);
    expect(e.where()).toMatch(/f\d+\.csv:4: column "cpu"/);
  });
  it('a value column that holds no number at all', async () => {
    const e = await errorOf('timestamp,value\n0,abc\n300,def\n');
    expect(e.message).toMatch(/no numeric value column: column "value": "abc" is not a number/);
    expect(e.context.line).toBe(2);
  });
  it('NaN', async () => {
    const e = await errorOf('timestamp,value\n0,1\n300,NaN\n600,2\n');
    expect(e.message).toBe('column "value": "NaN" is not a finite number');
    expect(e.context.line).toBe(3);
  });
  it('Infinity', async () => {
    const e = await errorOf('timestamp,value\n0,1\n300,2\n600,-Infinity\n');
    expect(e.message).toMatch(/"-Infinity" is not a finite number/);
    expect(e.context.line).toBe(4);
  });
  it('an unparsable timestamp', async () => {
    const e = await errorOf('timestamp,value\n2014-02-14 14:30:00,1\n2014-02-30 14:35:00,2\n');
    expect(e.message).toMatch(/cannot parse timestamp "2014-02-30 14:35:00" in column "timestamp"/);
    expect(e.context.line).toBe(3);
  });
  it('a row with too few cells', async () => {
    const e = await errorOf('time,a,b\n0,1,2\n300,1\n');
    expect(e.message).toBe('expected 3 columns, found 2');
    expect(e.context.line).toBe(3);
  });
  it('a first column that is not time', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => `${(i * 7919) % 97},${i}`).join('\n');
    const e = await errorOf(`cpu_util_percent,mem\n${rows}\n`);
    expect(e.message).toMatch(/first column "cpu_util_percent" does not look like time/);
  });
  it('a file with one column', async () => {
    const e = await errorOf('value\n1\n2\n');
    expect(e.message).toMatch(/time column and at least one value column/);
  });
});
