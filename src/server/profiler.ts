/**
 * The scheduled load profiler: for every stored series of a load metric, read the last
 * `history` of samples averaged to `stepSeconds`, regularize, forecast (src/forecast), and store
 * the forecast as the latest of that VM and metric. A series with too little history (or too
 * few points to regularize) is skipped and noted in the pass report, not an error.
 *
 * Forecasting runs on the event loop, one series at a time, yielding between series so the API
 * stays responsive (a few hundred ms per series); fleets move it to worker threads (src/fleet).
 */
import { setImmediate as nextTick } from 'node:timers/promises';
import type { Clock } from '../core/clock.js';
import { isUmbraError } from '../core/errors.js';
import { forecastSeries } from '../forecast/pipeline.js';
import { regularize } from '../forecast/regularize.js';
import type { RawSeries } from '../forecast/types.js';
import type { Store } from '../store/store.js';

/** The metrics forecast by default: load, not health probes. */
export const LOAD_METRICS: readonly string[] = [
  'cpu_cores',
  'cpu_pct',
  'mem_rss_mib',
  'disk_read_iops',
  'disk_write_iops',
  'disk_read_bps',
  'disk_write_bps',
  'net_rx_bps',
  'net_tx_bps',
];

/** What the profiler does (durations in seconds; from the policy's `forecast` section). */
export interface ProfilerSettings {
  /** Forecast horizons; points go to the longest. */
  horizons: readonly number[];
  /** Interval levels in percent. */
  levels: readonly number[];
  /** Candidate models (default: the pipeline's). */
  models?: readonly string[];
  /** The most history read per series. */
  historySeconds: number;
  /** Grid step the samples are averaged to (a multiple of the retention bucket). Default 300. */
  stepSeconds: number;
  /** Metrics to forecast; null: every stored metric. */
  metrics: readonly string[] | null;
}

/** A series the pass did not forecast, and why. */
export interface SkippedSeries {
  vmId: string;
  metric: string;
  /** `INSUFFICIENT_HISTORY`, `INPUT_INVALID` (skipped) or another code (failed). */
  code: string;
  reason: string;
}

/** What one pass did. */
export interface ProfilerReport {
  /** Epoch seconds the pass ran at. */
  at: number;
  forecast: number;
  /** Too little history: noted, not errors. */
  skipped: SkippedSeries[];
  /** Unexpected failures (logged as warnings). */
  failed: SkippedSeries[];
  ms: number;
}

/** Logging the profiler does (pino satisfies it). */
export interface ProfilerLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  debug(fields: object, msg: string): void;
}

/** Options of {@link Profiler}. */
export interface ProfilerOptions {
  store: Store;
  clock: Clock;
  log: ProfilerLogger;
  settings: ProfilerSettings;
  /** Elapsed-time source for the report (default performance.now). */
  elapsed?: () => number;
}

const SKIP_CODES = new Set(['INSUFFICIENT_HISTORY', 'INPUT_INVALID']);

/** See the module comment. */
export class Profiler {
  /** The report of the last completed pass, or null before the first. */
  last: ProfilerReport | null = null;

  constructor(private readonly o: ProfilerOptions) {}

  /** Forecasts every eligible series once; stops between series when `signal` aborts. */
  async pass(signal?: AbortSignal): Promise<ProfilerReport> {
    const s = this.o.settings;
    const elapsed = this.o.elapsed ?? (() => performance.now());
    const start = elapsed();
    const now = this.o.clock.now() / 1000;
    const from = now - s.historySeconds;
    const horizon = Math.max(...s.horizons);
    const wanted = s.metrics ? new Set(s.metrics) : null;
    const report: ProfilerReport = { at: now, forecast: 0, skipped: [], failed: [], ms: 0 };

    const series = await this.o.store.read((r) => r.listSeries());
    for (const info of series) {
      if (signal?.aborted) break;
      if (wanted && !wanted.has(info.metric)) continue;
      if (info.last < from) continue; // nothing within the history window (a VM gone long ago)
      const data = await this.o.store.read((r) =>
        r.readSeries({ vmId: info.vmId, metric: info.metric, from, to: now, bucketSeconds: s.stepSeconds }),
      );
      const raw: RawSeries = {
        series: info.vmId,
        metric: info.metric,
        unit: data.unit,
        times: data.times,
        values: data.values,
        source: `store:${info.vmId}/${info.metric}`,
      };
      try {
        const regular = regularize(raw, { stepSeconds: s.stepSeconds });
        const forecast = forecastSeries(regular, {
          horizonSeconds: horizon,
          levels: [...s.levels],
          ...(s.models ? { models: [...s.models] } : {}),
        });
        await this.o.store.transaction((tx) => tx.putForecast(info.vmId, forecast, now));
        report.forecast++;
      } catch (e) {
        const code = isUmbraError(e) ? e.code : 'INTERNAL';
        const entry = { vmId: info.vmId, metric: info.metric, code, reason: e instanceof Error ? e.message : String(e) };
        if (SKIP_CODES.has(code)) {
          report.skipped.push(entry);
          this.o.log.debug(entry, 'series skipped by the profiler');
        } else {
          report.failed.push(entry);
          this.o.log.warn(entry, 'forecast failed');
        }
      }
      await nextTick(); // let requests in between series
    }
    report.ms = Math.round(elapsed() - start);
    this.last = report;
    this.o.log.info({ forecast: report.forecast, skipped: report.skipped.length, failed: report.failed.length, ms: report.ms }, 'profiler pass');
    return report;
  }
}
