/**
 * End-to-end tests of `umbra forecast` through the built CLI (dist/), as acceptance checks call it.
 * `npm test` builds before running vitest.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve(__dirname, '../dist/cli/main.js');
let dir: string;

function umbra(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A 6-day, 5-minute series with a daily cycle: value = 50 + 20 sin(2π t / 1 day) + noise. */
function sineCsv(path: string, startEpoch: number, days = 6) {
  const lines = ['timestamp,value'];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  for (let i = 0; i < days * 288; i++) {
    const t = startEpoch + i * 300;
    lines.push(`${t},${(50 + 20 * Math.sin((2 * Math.PI * t) / 86400) + 2 * rnd()).toFixed(3)}`);
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return startEpoch + (days * 288 - 1) * 300;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('umbra forecast (CLI contract)', () => {
  it('prints the JSON contract for a two-column CSV, points starting one step after the last input', () => {
    const f = join(dir, 'vm-a.csv');
    const last = sineCsv(f, 1_700_000_000 - (1_700_000_000 % 300));
    const r = umbra(['forecast', '--input', f, '--horizon', '24h', '--levels', '80,95', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.forecasts).toHaveLength(1);
    const fc = doc.forecasts[0];
    expect(fc.series).toBe('vm-a');
    expect(fc.metric).toBe('value');
    expect(fc.stepSeconds).toBe(300);
    expect(typeof fc.model).toBe('string');
    expect(fc.points).toHaveLength(288);
    expect(fc.points[0].t).toBe(last + 300);
    expect(fc.points[287].t).toBe(last + 288 * 300);
    for (const p of fc.points) {
      const [l80, u80] = p.intervals['80'];
      const [l95, u95] = p.intervals['95'];
      expect(l95).toBeLessThanOrEqual(l80);
      expect(l80).toBeLessThanOrEqual(p.mean);
      expect(p.mean).toBeLessThanOrEqual(u80);
      expect(u80).toBeLessThanOrEqual(u95);
    }
    // The daily sine is forecast: the mean follows it within the noise.
    const maxErr = Math.max(...fc.points.map((p: { t: number; mean: number }) => Math.abs(p.mean - (50 + 20 * Math.sin((2 * Math.PI * p.t) / 86400)))));
    expect(maxErr).toBeLessThan(6);
  });

  it('forecasts the good files, reports the bad ones with file:line, exits 3', () => {
    const d = join(dir, 'mixed');
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
    sineCsv(join(d, 'good.csv'), 1_700_000_100 - (1_700_000_100 % 300));
    writeFileSync(join(d, 'empty.csv'), '');
    writeFileSync(join(d, 'nan.csv'), 'timestamp,value\n1700000000,1\n1700000300,abc\n1700000600,3\n');
    const r = umbra(['forecast', '--input', d, '--horizon', '6h', '--format', 'json']);
    expect(r.status).toBe(3);
    const doc = JSON.parse(r.stdout);
    expect(doc.forecasts.map((f: { series: string }) => f.series)).toEqual(['good']);
    expect(r.stderr).toMatch(/empty\.csv/);
    expect(r.stderr).toMatch(/nan\.csv:3/);
    expect(doc.errors.length).toBe(2);
  });

  it('names the file when the history is too short for the horizon', () => {
    const f = join(dir, 'short.csv');
    sineCsv(f, 1_700_000_000 - (1_700_000_000 % 300), 1);
    const r = umbra(['forecast', '--input', f, '--horizon', '24h', '--format', 'json']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/short\.csv.*(history|horizon)/);
    expect(JSON.parse(r.stdout).errors[0].code).toBe('INSUFFICIENT_HISTORY');
  });

  it('rejects usage errors with exit 2', () => {
    expect(umbra(['forecast']).status).toBe(2);
    expect(umbra(['forecast', '--input', 'x.csv', '--levels', '80,120']).status).toBe(2);
    expect(umbra(['forecast', '--input', 'x.csv', '--horizon', 'soon']).status).toBe(2);
    expect(umbra(['forecast', '--input', 'x.csv', '--format', 'xml']).status).toBe(2);
    expect(umbra(['no-such-command']).status).toBe(2);
  });

  it('prints a table and writes one SVG per series and metric', () => {
    const f = join(dir, 'vm-b.csv');
    sineCsv(f, 1_700_000_000 - (1_700_000_000 % 300));
    const plots = join(dir, 'plots');
    const r = umbra(['forecast', '--input', f, '--plot', plots, '--format', 'table']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/vm-b\s+value/);
    expect(r.stdout).toMatch(/\+24h mean \[95%\]/);
    const svgs = readdirSync(plots);
    expect(svgs).toEqual(['vm-b.value.svg']);
    expect(readFileSync(join(plots, svgs[0]), 'utf8')).toMatch(/^<svg|<\?xml/);
  });
});
