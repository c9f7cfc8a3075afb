import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, UmbraError } from '../core/errors.js';
import { detectFormat, readFile, readInputs } from './index.js';
import { iterInputs, seriesIdOf } from './read.js';

const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
const dir = mkdtempSync(join(tmpdir(), 'umbra-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fixture(rel: string, content: string): string {
  const p = join(dir, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}

async function failure(p: string, format?: Parameters<typeof readFile>[1]): Promise<UmbraError> {
  const e = await readFile(p, format).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(UmbraError);
  return e as UmbraError;
}

describe('seriesIdOf', () => {
  it('is the file name without its extension', () => {
    expect(seriesIdOf('/a/b/15.csv')).toBe('15');
    expect(seriesIdOf('/a/b/q.range.json')).toBe('q.range');
    expect(seriesIdOf('/a/b/noext')).toBe('noext');
  });
});

describe('readFile', () => {
  it('detects the format from content and names series after the file', async () => {
    const prom = fixture('one/cpu.txt', JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[0, '1'], [60, '2']] }] } }));
    const [p] = await readFile(prom);
    expect([p.series, p.metric]).toEqual(['cpu', 'value']);
    const [n] = await readFile(fixture('one/latency.dat', 'timestamp,value\n2014-02-14 14:30:00,1\n2014-02-14 14:35:00,2\n'));
    expect([n.series, n.metric, n.times[1] - n.times[0]]).toEqual(['latency', 'value', 300]);
  });
  it('honours a format override', async () => {
    const p = fixture('one/two.csv', 'time,load\n0,1\n300,2\n');
    expect((await readFile(p, 'nab'))[0].metric).toBe('value');
    expect((await readFile(p, 'csv'))[0].metric).toBe('load');
    const e = await failure(p, 'bitbrains');
    expect(e.code).toBe('INPUT_INVALID');
  });
  it('rejects an empty file (INPUT_INVALID, line 1)', async () => {
    const e = await failure(fixture('bad/empty.csv', ''));
    expect(e).toBeInstanceOf(InputError);
    expect(e.where()).toMatch(/empty\.csv:1: empty file$/);
  });
  it('rejects a missing file, naming it', async () => {
    const e = await failure(join(dir, 'nope.csv'));
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.where()).toBe(`${join(dir, 'nope.csv')}: no such file or directory`);
  });
  it('rejects an unknown format with INPUT_UNSUPPORTED naming the file', async () => {
    const p = fixture('bad/readme.md', '# Notes\n\nNothing to see here.\n');
    const e = await failure(p);
    expect(e.code).toBe('INPUT_UNSUPPORTED');
    expect(e.context.file).toBe(p);
  });
  it('rejects invalid JSON', async () => {
    const e = await failure(fixture('bad/q.json', '{"status": "success", "data": {"resultType": "matrix", '));
    expect(e.message).toMatch(/not valid JSON/);
  });
});

describe('readInputs', () => {
  it('reads a directory file by file (sorted, hidden files and sub-folders skipped) and collects errors without stopping', async () => {
    const d = join(dir, 'fleet');
    fixture('fleet/b.csv', 'timestamp,value\n0,1\n300,2\n');
    fixture('fleet/a.csv', 'time,cpu,mem\n0,1,5\n300,2,6\n');
    fixture('fleet/c.csv', 'timestamp,value\n0,1\n300,oops\n600,3\n900,4\n');
    fixture('fleet/.hidden.csv', 'timestamp,value\n0,1\n300,2\n');
    fixture('fleet/sub/d.csv', 'timestamp,value\n0,1\n300,2\n');
    const { series, errors } = await readInputs([d, join(dir, 'missing.csv')]);
    expect(series.map((s) => `${s.series}/${s.metric}`)).toEqual(['a/cpu', 'a/mem', 'b/value']);
    expect(errors.map((e) => e.where())).toEqual([`${join(d, 'c.csv')}:3: column "value": "oops" is not a number`, `${join(dir, 'missing.csv')}: no such file or directory`]);
  });
  it('reports an empty directory', async () => {
    mkdirSync(join(dir, 'void'));
    const { series, errors } = await readInputs([join(dir, 'void')]);
    expect(series).toEqual([]);
    expect(errors[0].message).toBe('directory has no input files');
  });
  it('reads the shared NAB folder: the 3 realKnownCause series, and an error for nothing else', async () => {
    const { series, errors } = await readInputs([join(DATA, 'nab/data/realKnownCause')]);
    expect(series.map((s) => s.series)).toEqual(['cpu_utilization_asg_misconfiguration', 'ec2_request_latency_system_failure', 'machine_temperature_system_failure']);
    expect(series.map((s) => s.times.length)).toEqual([18050, 4032, 22695]);
    expect(errors).toEqual([]);
  });
  it('reads a Bitbrains folder by detection: 7 metrics per VM', async () => {
    const { series, errors } = await readInputs([join(DATA, 'bitbrains/rnd/2013-9')]);
    expect(errors).toEqual([]);
    expect(series).toHaveLength(4 * 7);
    expect(new Set(series.map((s) => s.series))).toEqual(new Set(['15', '170', '301', '385']));
  });
  it('yields file by file from iterInputs', async () => {
    const seen: string[] = [];
    for await (const r of iterInputs([join(dir, 'fleet')])) seen.push(`${r.file.slice(dir.length + 7)}:${r.error ? 'error' : r.series.length}`);
    expect(seen).toEqual(['a.csv:2', 'b.csv:1', 'c.csv:error']);
  });
});

describe('detectFormat is exported from the barrel', () => {
  it('is the same function', () => {
    expect(detectFormat('x', 'timestamp,value\n')).toBe('nab');
  });
});
