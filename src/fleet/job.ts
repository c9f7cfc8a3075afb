/**
 * One unit of fleet work: read one input file, regularize every series in it and forecast each
 * metric. Runs inside a worker thread (src/fleet/worker.ts) or in-process for small inputs.
 * A failure of one series never stops the others: it is returned as a {@link JobError}.
 */
import { isUmbraError } from '../core/errors.js';
import type { ForecastOptions, RawSeries, RegularSeries, SeriesForecast } from '../forecast/types.js';

/** Where the series of a job come from. */
export type JobSource =
  | { kind: 'file'; path: string; format?: string }
  | { kind: 'series'; raw: RawSeries[] };

export interface ForecastJob {
  id: number;
  source: JobSource;
  /** Only these metrics (all when empty/undefined). */
  metrics?: string[];
  options: ForecastOptions;
  /** Return the regularized history tail too (for plots): this many seconds of it. */
  historyTailSeconds?: number;
}

/** A serializable error (structured clone drops class identity). */
export interface JobError {
  code: string;
  message: string;
  file?: string;
  line?: number;
  series?: string;
  metric?: string;
}

export interface HistoryTail {
  t0: number;
  step: number;
  values: Float64Array;
  imputed: Uint8Array;
}

export interface JobResult {
  id: number;
  forecasts: SeriesForecast[];
  /** Per forecast (same order), the history tail when requested. */
  histories?: HistoryTail[];
  errors: JobError[];
}

export function toJobError(e: unknown, extra: Partial<JobError> = {}): JobError {
  if (isUmbraError(e)) {
    const c = e.context;
    return {
      code: e.code,
      message: e.message,
      ...(c.file ? { file: String(c.file) } : {}),
      ...(typeof c.line === 'number' ? { line: c.line } : {}),
      ...(c.series ? { series: String(c.series) } : {}),
      ...extra,
    };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'INTERNAL', message, ...extra };
}

/** `file:line: [series/metric] message`, for stderr. */
export function formatJobError(e: JobError): string {
  const where = e.file ? (e.line ? `${e.file}:${e.line}` : e.file) : e.series ?? 'input';
  const what = e.series && e.metric ? ` ${e.series}/${e.metric}:` : e.series ? ` ${e.series}:` : '';
  return `${where}:${what} ${e.message}`;
}

/** Runs a job. Modules are imported lazily so a worker pays only for what it uses. */
export async function runForecastJob(job: ForecastJob): Promise<JobResult> {
  const { regularize } = await import('../forecast/regularize.js');
  const { resourceForecasts } = await import('../forecast/resources.js');
  const { forecastSeries } = await import('../forecast/pipeline.js');
  // The recurrent network is loaded (tfjs + wasm, ~100 MB per worker) only when asked for.
  let forecastOne = async (reg: RegularSeries) => forecastSeries(reg, job.options);
  if (job.options.lstm || job.options.models?.includes('lstm')) {
    const { lstmModel, initLstmBackend } = await import('../forecast/models/lstm.js');
    const { forecastSeriesWithAsync } = await import('../forecast/async-pipeline.js');
    await initLstmBackend();
    const options = { ...job.options, ...(job.options.models ? { models: job.options.models.filter((m) => m !== 'lstm') } : {}) };
    forecastOne = (reg) => forecastSeriesWithAsync(reg, options, [lstmModel]);
  }
  const result: JobResult = { id: job.id, forecasts: [], errors: [] };
  if (job.historyTailSeconds) result.histories = [];

  let raws: RawSeries[];
  if (job.source.kind === 'file') {
    try {
      const { readFile } = await import('../ingest/index.js');
      raws = await readFile(job.source.path, job.source.format as never);
    } catch (e) {
      result.errors.push(toJobError(e, { file: job.source.kind === 'file' ? job.source.path : undefined }));
      return result;
    }
  } else {
    raws = job.source.raw;
  }
  const wanted = job.metrics?.length ? new Set(job.metrics) : undefined;
  if (wanted && !raws.some((r) => wanted.has(r.metric)) && raws.length) {
    result.errors.push({
      code: 'INPUT_INVALID',
      message: `none of the requested metrics (${[...wanted].join(', ')}) is in this input; it has: ${[...new Set(raws.map((r) => r.metric))].join(', ')}`,
      file: raws[0].source,
      series: raws[0].series,
    });
    return result;
  }
  for (const raw of raws) {
    if (wanted && !wanted.has(raw.metric)) continue;
    let reg: RegularSeries;
    try {
      reg = regularize(raw);
      const fc = await forecastOne(reg);
      const resources = resourceForecasts(fc, raw.capacity);
      if (resources.length && fc.diagnostics) fc.diagnostics.resources = resources;
      result.forecasts.push(fc);
      if (result.histories) {
        const n = reg.values.length;
        const k = Math.min(n, Math.ceil(job.historyTailSeconds! / reg.step));
        result.histories.push({ t0: reg.t0 + (n - k) * reg.step, step: reg.step, values: reg.values.slice(n - k), imputed: reg.imputed.slice(n - k) });
      }
    } catch (e) {
      result.errors.push(toJobError(e, { file: raw.source, series: raw.series, metric: raw.metric }));
    }
  }
  return result;
}

