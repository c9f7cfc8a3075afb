/**
 * `umbra forecast --prometheus` against a REAL Prometheus server (Debian `prometheus`, which ships
 * `promtool`): five days of a known daily sine are backfilled with `promtool tsdb
 * create-blocks-from openmetrics`, a server is started on 127.0.0.1 over that data, and the
 * built CLI (dist/, `npm run build` first) forecasts from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './support/net.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve(__dirname, '../dist/cli/main.js');
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const STEP = 300;
const DAYS = 5;
const SAMPLES = DAYS * 288;

/** The known truth the forecast must follow: a daily cycle around 50. */
const truth = (t: number): number => 50 + 20 * Math.sin((2 * Math.PI * t) / 86400);

let dir: string;
let server: ChildProcess | undefined;
let serverLog = '';
let baseUrl: string;
let firstTs: number;
let lastTs: number;

/** Runs a command (argument array), failing with its output when it does not exit 0. */
function run(cmd: string, args: string[], timeoutMs: number): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Installs Debian's prometheus (server + promtool) when missing; packages never start services here. */
function ensurePrometheus(): void {
  if (existsSync(PROMETHEUS) && existsSync(PROMTOOL)) return;
  const apt = (args: string[]) => run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], 900_000);
  const install = () => apt(['install', '-y', '--no-install-recommends', 'prometheus']);
  let r = install();
  if (!r.ok) {
    // Usually "Unable to locate package": the package lists have not been fetched yet.
    const u = apt(['update']);
    if (!u.ok) throw new Error(`apt-get update failed:\n${u.output.slice(-2000)}`);
    r = install();
  }
  if (!r.ok || !existsSync(PROMETHEUS) || !existsSync(PROMTOOL)) throw new Error(`installing prometheus failed:\n${r.output.slice(-2000)}`);
}

/**
 * OpenMetrics text of `umbra_test_cpu{vm="a"}` every 5 minutes, ending at `last` (seconds):
 * the sine plus deterministic noise in [-1, 1).
 */
function openMetrics(first: number): string {
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 30 - 1;
  const lines = ['# HELP umbra_test_cpu Synthetic CPU percent for the Prometheus integration test.', '# TYPE umbra_test_cpu gauge'];
  for (let i = 0; i < SAMPLES; i++) {
    const t = first + i * STEP;
    lines.push(`umbra_test_cpu{vm="a"} ${(truth(t) + rnd()).toFixed(3)} ${t}`);
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}

/** Polls `/-/ready` until 200; fails early (with the server's log) if the process exits. */
async function waitReady(url: string, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`prometheus exited (${proc.exitCode ?? proc.signalCode}):\n${serverLog.slice(-3000)}`);
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`prometheus not ready after ${timeoutMs} ms:\n${serverLog.slice(-3000)}`);
}

function umbra(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const rangeArgs = (url: string, query: string) => [
  'forecast', '--prometheus', url, '--query', query, '--start', String(firstTs), '--end', String(lastTs),
  '--step', '5m', '--horizon', '6h', '--levels', '80,95', '--format', 'json', '--quiet',
];

beforeAll(async () => {
  ensurePrometheus();
  dir = mkdtempSync(join(tmpdir(), 'umbra-prom-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  // History ends ~2 h before now (inside retention, outside the head block), aligned to the step.
  lastTs = Math.floor((Date.now() / 1000 - 2 * 3600) / STEP) * STEP;
  firstTs = lastTs - (SAMPLES - 1) * STEP;
  const om = join(dir, 'history.om');
  writeFileSync(om, openMetrics(firstTs));
  const blocks = run(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', om, data], 300_000);
  if (!blocks.ok) throw new Error(`promtool create-blocks-from failed:\n${blocks.output.slice(-3000)}`);

  // No scrape targets: the server holds only the backfilled history.
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  server = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${data}`,
      '--storage.tsdb.retention.time=10y',
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (b: Buffer) => void (serverLog = (serverLog + b.toString()).slice(-20_000));
  server.stdout?.on('data', keep);
  server.stderr?.on('data', keep);
  await waitReady(baseUrl, server, 60_000);
}, 1_200_000);

afterAll(async () => {
  const proc = server;
  if (proc?.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('umbra forecast --prometheus (real Prometheus 2.x)', () => {
  it('serves the backfilled history (sanity check of the fixture itself)', async () => {
    const res = await fetch(`${baseUrl}/api/v1/query?query=${encodeURIComponent('count_over_time(umbra_test_cpu[10d])')}&time=${lastTs}`);
    const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
    expect(body.data.result).toHaveLength(1);
    expect(Number(body.data.result[0].value[1])).toBe(SAMPLES);
  });

  it('forecasts the daily sine: 72 points one step after the last sample, nested intervals', () => {
    const r = umbra(rangeArgs(baseUrl, 'umbra_test_cpu'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.errors).toBeUndefined();
    expect(doc.forecasts).toHaveLength(1);
    const fc = doc.forecasts[0];
    expect(fc.metric).toBe('umbra_test_cpu');
    expect(fc.series).toBe('prometheus');
    expect(fc.stepSeconds).toBe(STEP);
    expect(fc.points).toHaveLength(72);
    expect(fc.points[0].t).toBe(lastTs + STEP);
    expect(fc.points[71].t).toBe(lastTs + 72 * STEP);
    let maxErr = 0;
    for (const p of fc.points as Array<{ t: number; mean: number; intervals: Record<string, [number, number]> }>) {
      const [l80, u80] = p.intervals['80'];
      const [l95, u95] = p.intervals['95'];
      expect(l95).toBeLessThanOrEqual(l80);
      expect(l80).toBeLessThanOrEqual(p.mean);
      expect(p.mean).toBeLessThanOrEqual(u80);
      expect(u80).toBeLessThanOrEqual(u95);
      maxErr = Math.max(maxErr, Math.abs(p.mean - truth(p.t)));
    }
    // Noise is ±1: a forecast that follows the daily cycle stays well within 4 units of it.
    expect(maxErr).toBeLessThan(4);
  });

  it('a port nobody listens on: SOURCE_UNAVAILABLE naming the URL, exit 3', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = umbra(rangeArgs(url, 'umbra_test_cpu'));
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(url);
    expect(r.stderr).toMatch(/unreachable/i);
    const doc = JSON.parse(r.stdout);
    expect(doc.forecasts).toEqual([]);
    expect(doc.errors).toHaveLength(1);
    expect(doc.errors[0].code).toBe('SOURCE_UNAVAILABLE');
    expect(doc.errors[0].file).toContain(url);
  });

  it('a query that matches nothing: a clear error and a non-zero exit', () => {
    const r = umbra(rangeArgs(baseUrl, 'umbra_no_such_metric'));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/returned no series/);
    expect(r.stderr).toContain(baseUrl);
    const doc = JSON.parse(r.stdout);
    expect(doc.forecasts).toEqual([]);
    expect(doc.errors[0].code).toBe('INPUT_INVALID');
  });

  it('a query Prometheus rejects (bad PromQL): INPUT_INVALID with the server message, exit 3', () => {
    const r = umbra(rangeArgs(baseUrl, 'rate(umbra_test_cpu'));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/HTTP 400/);
    expect(r.stderr).toMatch(/parse error/i);
    expect(JSON.parse(r.stdout).errors[0].code).toBe('INPUT_INVALID');
  });
});
