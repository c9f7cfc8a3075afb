/**
 * `umbra forecast`: read inputs (files, directories, Prometheus), forecast every series/metric on
 * worker threads, print JSON or a table, optionally write SVG plots.
 *
 * Exit: 0 all forecast; 3 some series failed (the others are still printed); 2 usage errors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import type { ForecastOptions, RawSeries, SeriesForecast } from '../forecast/types.js';
import { runJobs } from '../fleet/pool.js';
import { formatJobError, toJobError, type ForecastJob, type HistoryTail, type JobError } from '../fleet/job.js';
import { makeProgress } from './progress.js';
import { EXIT } from './exit-codes.js';
import { renderForecastTable } from './forecast-table.js';
import { INPUT_FORMATS } from '../ingest/formats.js';
import { expandInputs } from '../ingest/read.js';

export const OUTPUT_FORMATS = ['json', 'table'] as const;

export interface ForecastArgs {
  input?: string[];
  format?: string[];
  inputFormat?: string;
  horizon?: string;
  levels?: string;
  metric?: string[];
  models?: string;
  lstm?: boolean;
  plot?: string;
  workers?: string;
  config?: string;
  prometheus?: string;
  query?: string;
  start?: string;
  end?: string;
  step?: string;
  token?: string;
  json?: boolean;
  quiet?: boolean;
  diagnostics?: boolean;
}

export interface ForecastPlan {
  inputs: string[];
  inputFormat?: string;
  output: 'json' | 'table';
  horizons: number[];
  options: ForecastOptions;
  metrics?: string[];
  plotDir?: string;
  workers?: number;
  prometheus?: { url: string; query: string; start: number; end: number; step: number; token?: string };
  diagnostics: boolean;
}

/** Parses a time given as epoch seconds or ISO 8601 (for --start/--end). */
function parseTime(text: string, what: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError(`${what}: expected epoch seconds or an ISO 8601 time, got "${text}"`);
  return ms / 1000;
}

/** Parses `80,95` into sorted unique levels in (0, 100). */
export function parseLevels(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new UsageError(`--levels: expected a list like 80,95, got "${text}"`);
  const levels = parts.map((p) => {
    const v = Number(p);
    if (!Number.isFinite(v) || v <= 0 || v >= 100) throw new UsageError(`--levels: each level must be a number between 0 and 100 (exclusive), got "${p}"`);
    return v;
  });
  return [...new Set(levels)].sort((a, b) => a - b);
}

/** Turns raw CLI options (plus config defaults) into a validated plan. Pure; throws UsageError. */
export function planForecast(args: ForecastArgs, defaults: { horizons?: number[]; levels?: number[]; models?: string[]; lstm?: boolean } = {}): ForecastPlan {
  let output: 'json' | 'table' = args.json ? 'json' : 'table';
  let inputFormat = args.inputFormat;
  for (const f of args.format ?? []) {
    if ((OUTPUT_FORMATS as readonly string[]).includes(f)) output = f as 'json' | 'table';
    else if ((INPUT_FORMATS as readonly string[]).includes(f)) inputFormat = f;
    else throw new UsageError(`--format: "${f}" is neither an output format (${OUTPUT_FORMATS.join(', ')}) nor an input format (${INPUT_FORMATS.join(', ')})`);
  }
  if (inputFormat && !(INPUT_FORMATS as readonly string[]).includes(inputFormat))
    throw new UsageError(`--input-format: unknown format "${inputFormat}" (one of ${INPUT_FORMATS.join(', ')})`);
  const inputs = args.input ?? [];
  let prometheus: ForecastPlan['prometheus'];
  if (args.prometheus) {
    if (!args.query || !args.start || !args.end) throw new UsageError('--prometheus needs --query, --start and --end (and optionally --step)');
    prometheus = {
      url: args.prometheus,
      query: args.query,
      start: parseTime(args.start, '--start'),
      end: parseTime(args.end, '--end'),
      step: args.step ? parseDuration(args.step, '--step') : 300,
      ...(args.token ? { token: args.token } : {}),
    };
    if (prometheus.end <= prometheus.start) throw new UsageError('--end must be after --start');
  }
  if (!inputs.length && !prometheus) throw new UsageError('no input: give --input FILE|DIR (repeatable) or --prometheus URL --query Q --start T --end T');
  const horizons = args.horizon
    ? args.horizon.split(',').map((h) => parseDuration(h.trim(), '--horizon'))
    : defaults.horizons ?? [3600, 6 * 3600, 24 * 3600];
  const levels = args.levels ? parseLevels(args.levels) : defaults.levels ?? [80, 95];
  const models = args.models ? args.models.split(',').map((m) => m.trim()).filter(Boolean) : defaults.models;
  let workers: number | undefined;
  if (args.workers !== undefined) {
    workers = Number(args.workers);
    if (!Number.isInteger(workers) || workers < 0) throw new UsageError(`--workers: expected a whole number ≥ 0, got "${args.workers}"`);
  }
  const lstm = args.lstm ?? defaults.lstm ?? false;
  return {
    inputs,
    inputFormat,
    output,
    horizons: [...new Set(horizons)].sort((a, b) => a - b),
    options: {
      horizonSeconds: Math.max(...horizons),
      levels,
      ...(models ? { models } : {}),
      ...(lstm ? { lstm: true } : {}),
    },
    metrics: args.metric?.length ? args.metric : undefined,
    plotDir: args.plot,
    workers,
    prometheus,
    diagnostics: args.diagnostics ?? false,
  };
}

export interface ForecastRun {
  forecasts: SeriesForecast[];
  histories: HistoryTail[];
  errors: JobError[];
}

/** Executes a plan: reads, forecasts on workers, returns everything (no printing). */
export async function executeForecast(plan: ForecastPlan, opts: { progress?: boolean } = {}): Promise<ForecastRun> {
  const errors: JobError[] = [];
  const jobs: ForecastJob[] = [];
  // Plots show at least 3 days of history, and twice the horizon when that is longer.
  const historyTailSeconds = plan.plotDir ? Math.max(3 * 86400, 2 * plan.options.horizonSeconds) : undefined;
  const base = { metrics: plan.metrics, options: plan.options, ...(historyTailSeconds ? { historyTailSeconds } : {}) };
  if (plan.inputs.length) {
    const { files, errors: missing } = await expandInputs(plan.inputs);
    errors.push(...missing.map((e) => toJobError(e)));
    files.forEach((path) => jobs.push({ id: jobs.length, source: { kind: 'file', path, ...(plan.inputFormat ? { format: plan.inputFormat } : {}) }, ...base }));
  }
  if (plan.prometheus) {
    try {
      const { fetchPrometheusRange } = await import('../ingest/index.js');
      const raw: RawSeries[] = await fetchPrometheusRange(plan.prometheus);
      for (const r of raw) jobs.push({ id: jobs.length, source: { kind: 'series', raw: [r] }, ...base });
    } catch (e) {
      // The reader's errors already name the URL without credentials; never the raw one here.
      const { redactUrl } = await import('../ingest/prometheus.js');
      const err = toJobError(e);
      errors.push(err.file ? err : { ...err, file: redactUrl(plan.prometheus.url) });
    }
  }
  const progress = makeProgress('forecast', jobs.length, opts.progress);
  const results = await runJobs(jobs, {
    workers: plan.workers,
    onProgress: (done, total, r) => progress.tick(done, total, r.forecasts[0]?.series ?? ''),
  });
  progress.stop();
  const forecasts: SeriesForecast[] = [];
  const histories: HistoryTail[] = [];
  for (const r of results) {
    forecasts.push(...r.forecasts);
    if (r.histories) histories.push(...r.histories);
    errors.push(...r.errors);
  }
  return { forecasts, histories, errors };
}

/** The JSON document of the CLI contract (diagnostics only on request). */
export function forecastJson(run: ForecastRun, diagnostics: boolean): unknown {
  return {
    forecasts: run.forecasts.map((f) => (diagnostics ? f : { ...f, diagnostics: undefined })),
    ...(run.errors.length ? { errors: run.errors } : {}),
  };
}

export async function forecastCommand(args: ForecastArgs, io: { stdout: (s: string) => void; stderr: (s: string) => void; defaults?: Parameters<typeof planForecast>[1] }): Promise<number> {
  const plan = planForecast(args, io.defaults);
  const run = await executeForecast(plan, { progress: !args.quiet && process.stderr.isTTY === true });
  for (const e of run.errors) io.stderr(`umbra forecast: ${formatJobError(e)}\n`);
  if (plan.output === 'json') io.stdout(JSON.stringify(forecastJson(run, plan.diagnostics)) + '\n');
  else io.stdout(renderForecastTable(run.forecasts, plan.horizons, plan.options.levels));
  if (plan.plotDir && run.forecasts.length) {
    await writePlots(run, plan.plotDir);
    if (!args.quiet) io.stderr(`umbra forecast: wrote ${run.forecasts.length} plot(s) to ${plan.plotDir}\n`);
  }
  if (!run.forecasts.length && run.errors.length) return EXIT.PARTIAL;
  return run.errors.length ? EXIT.PARTIAL : EXIT.OK;
}

/** Writes one SVG per forecast into `dir`; returns the file names (same order as the forecasts). */
export async function writePlots(run: ForecastRun, dir: string): Promise<string[]> {
  const { renderForecastSvg, plotFileName } = await import('../report/index.js');
  mkdirSync(dir, { recursive: true });
  return run.forecasts.map((f, i) => {
    const name = plotFileName(f.series, f.metric);
    const svg = renderForecastSvg({ series: f.series, metric: f.metric, unit: f.unit, history: run.histories[i], forecast: f });
    writeFileSync(join(dir, name), svg);
    return name;
  });
}

