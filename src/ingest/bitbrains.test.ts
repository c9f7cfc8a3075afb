import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { BITBRAINS_COLUMNS, readBitbrains, trailingMode } from './bitbrains.js';

/** The project's shared data, beside the checkout (../shared/data). */
const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
const dir = mkdtempSync(join(tmpdir(), 'umbra-bb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEADER = BITBRAINS_COLUMNS.join(';\t');
const row = (t: number, usage = '24.5', mem = '2097152.0') => [t, 1, '2599.9993', usage, '0.9', mem, '138411.2', '0.0', '7.8', '2.0', '4.6'].join(';\t');

function fixture(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('readBitbrains on the real trace', () => {
  it('maps rnd/2013-8/15.csv to seven metrics with units and the provisioned capacity', async () => {
    const series = await readBitbrains(join(DATA, 'bitbrains/rnd/2013-8/15.csv'), '15');
    expect(series.map((s) => `${s.metric} ${s.unit}`)).toEqual([
      'cpu_mhz MHz',
      'cpu_pct %',
      'mem_kb KB',
      'disk_read_kbs KB/s',
      'disk_write_kbs KB/s',
      'net_rx_kbs KB/s',
      'net_tx_kbs KB/s',
    ]);
    const [cpu, pct, mem, dr, dw, rx, tx] = series;
    // README: 8623 rows, 2013-07-31 22:02 → 2013-08-30 21:58 UTC, timestamps in epoch seconds.
    expect(cpu.times.length).toBe(8623);
    expect(cpu.times[0]).toBe(1375308176);
    expect(new Date(cpu.times[8622] * 1000).toISOString()).toBe('2013-08-30T21:58:21.000Z');
    expect(cpu.lines![0]).toBe(2);
    // The first data row, column by column.
    expect([cpu, pct, mem, dr, dw, rx, tx].map((s) => s.values[0])).toEqual([24.266660133333332, 0.9333333333333332, 138411.2, 0, 7.8, 2.0, 4.6]);
    // 1 core of ~2600 MHz and 2 GiB, as the README's table says.
    expect(cpu.capacity).toEqual({ cpuCores: 1, cpuMhz: 2600, memKb: 2097152 });
    expect(cpu.series).toBe('15');
    expect(cpu.notes).toBeUndefined();
  });
});

describe('readBitbrains on small files', () => {
  it('takes the capacity of the last day when the VM was re-provisioned', async () => {
    const rows: string[] = [];
    for (let i = 0; i < 600; i++) rows.push(row(1375308176 + i * 300, '10', i < 300 ? '2097152.0' : '4194304.0'));
    const [s] = await readBitbrains(fixture('reprov.csv', `${HEADER}\n${rows.join('\n')}\n`), 'r');
    expect(s.capacity?.memKb).toBe(4194304);
  });
  it('reads millisecond timestamps and says so', async () => {
    const p = fixture('ms.csv', `${HEADER}\n${row(1375308176000)}\n${row(1375308476000)}\n`);
    const [s] = await readBitbrains(p, 'ms');
    expect(Array.from(s.times)).toEqual([1375308176, 1375308476]);
    expect(s.notes?.[0]).toMatch(/milliseconds/);
  });
  it('names the column and line of a non-numeric cell', async () => {
    const p = fixture('bad.csv', `${HEADER}\n${row(1375308176)}\n${row(1375308476, 'n/a')}\n`);
    const e = await readBitbrains(p, 'bad').catch((x: unknown) => x as InputError);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).where()).toBe(`${p}:3: column "CPU usage [MHZ]": "n/a" is not a number`);
  });
  it('rejects NaN', async () => {
    const p = fixture('nan.csv', `${HEADER}\n${row(1375308176)}\n${row(1375308476, 'NaN')}\n`);
    await expect(readBitbrains(p, 'nan')).rejects.toThrow(/"NaN" is not a finite number/);
  });
  it('rejects a row with the wrong number of columns', async () => {
    const p = fixture('short.csv', `${HEADER}\n${row(1375308176)}\n1375308476;\t1;\t2\n`);
    const e = (await readBitbrains(p, 's').catch((x: unknown) => x)) as InputError;
    expect(e.message).toMatch(/expected 11 columns separated by ";", found 3/);
    expect(e.context.line).toBe(3);
  });
  it('rejects a header with no rows and a single row', async () => {
    await expect(readBitbrains(fixture('h.csv', `${HEADER}\n`), 'h')).rejects.toThrow(/need at least 2 observations, found 0/);
    await expect(readBitbrains(fixture('one.csv', `${HEADER}\n${row(1375308176)}\n`), 'o')).rejects.toThrow(/found 1/);
  });
});

describe('trailingMode', () => {
  it('is the most frequent rounded value within the window before the last time', () => {
    const t = new Float64Array([0, 100, 200, 300, 400]);
    const v = new Float64Array([5, 5, 5, 7.2, 6.9]);
    expect(trailingMode(t, v, 1000)).toBe(5);
    expect(trailingMode(t, v, 150)).toBe(7);
  });
});
