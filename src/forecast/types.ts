/**
 * The profiler's data types. `src/forecast` is pure: series in, forecasts out; it imports
 * nothing that does I/O (readers live in src/ingest, plots in src/report, workers in src/fleet).
 */

/** A series as read from an input: possibly irregular, unsorted, with duplicates and gaps. */
export interface RawSeries {
  /** Series id: the input file's name without extension (or a label for live sources). */
  series: string;
  /** Metric name, e.g. `cpu_mhz`, `value`, or a CSV header. */
  metric: string;
  /** Unit of `values`, e.g. `MHz`, `%`, `KB`, `KB/s`; `''` when unknown. */
  unit: string;
  /** Observation times, epoch seconds. */
  times: Float64Array;
  /** Observed values (finite numbers; readers reject NaN/non-numeric cells). */
  values: Float64Array;
  /** 1-based source line of each observation, for error messages (optional). */
  lines?: Int32Array;
  /** Where it came from: a file path or a URL. */
  source: string;
  /**
   * Provisioned capacity, when the source states it (Bitbrains does): used to express forecasts
   * in the resource forms the shadow manager needs (cores, GiB, ...).
   */
  capacity?: {
    cpuCores?: number;
    cpuMhz?: number;
    memKb?: number;
  };
  /** What the reader assumed or skipped, for the user (e.g. "timestamps read as epoch milliseconds"). */
  notes?: string[];
}

/** A long gap the regularizer did not interpolate (it imputes it for fitting and masks it). */
export interface GapSpan {
  /** First missing timestamp (epoch s). */
  start: number;
  /** Number of missing steps. */
  steps: number;
}

/** What regularization did, reported to the user. */
export interface RegularizeReport {
  stepSeconds: number;
  /** Observations whose timestamp was moved onto the grid. */
  snapped: number;
  /** True when input times were not sorted. */
  reordered: boolean;
  /** Observations merged into an existing grid slot (duplicates / same-slot jitter). */
  duplicatesMerged: number;
  /** Missing steps filled by linear interpolation (short gaps). */
  interpolated: number;
  /** Long gaps: imputed for model fitting, excluded from scoring. */
  longGaps: GapSpan[];
}

/** A regular series: `values[i]` is the observation at `t0 + i * step`. No NaN inside. */
export interface RegularSeries {
  series: string;
  metric: string;
  unit: string;
  source: string;
  t0: number;
  step: number;
  values: Float64Array;
  /** 1 where the value was imputed over a long gap (not observed, not interpolated). */
  imputed: Uint8Array;
  report: RegularizeReport;
  capacity?: RawSeries['capacity'];
}

/** A seasonal period found in (or asserted for) a series. */
export interface Seasonality {
  /** `daily`, `weekly`, `monthly`, or `p<N>` for a period found only by the data. */
  name: string;
  /** Period in steps (integer). */
  period: number;
  /** Strength in [0, 1] (1 - Var(remainder)/Var(seasonal + remainder)), Hyndman's F_s. */
  strength: number;
  /** Whether the strength passed the test, i.e. models should use this period. */
  significant: boolean;
}

/** An optional event window for regression models (e.g. a known maintenance window). */
export interface EventWindow {
  name: string;
  /** Epoch seconds, inclusive start / exclusive end. */
  start: number;
  end: number;
}

/** Everything a model may use to fit. `y` is regular with no NaN. */
export interface ModelInput {
  y: Float64Array;
  /** Epoch seconds of y[0]. */
  t0: number;
  step: number;
  /** Seasonal periods to model (significant ones, shortest first). */
  seasonalities: Seasonality[];
  events?: EventWindow[];
  /** Deterministic seed for models with randomness. */
  seed?: number;
}

/**
 * A forecasting model. Implementations are pure and deterministic: they fit on `input.y` and
 * return point forecasts for the `h` steps after its end. They may throw
 * InsufficientHistoryError when `y` is too short for them.
 */
export interface ForecastModel {
  readonly name: string;
  /** Minimum history (in steps) this model needs given the seasonalities. */
  minHistory(input: Pick<ModelInput, 'seasonalities' | 'step'>, h: number): number;
  forecast(input: ModelInput, h: number): Float64Array;
}

/**
 * A model whose fit is asynchronous (the recurrent network on TensorFlow.js). The pipeline
 * uses it through {@link forecastSeriesWithAsync} in src/forecast/async-pipeline.ts.
 */
export interface AsyncForecastModel {
  readonly name: string;
  /** Minimum history (in steps) this model needs given the seasonalities. */
  minHistory: ForecastModel['minHistory'];
  /** Fits on `input.y` and resolves to point forecasts for the `h` steps after its end. */
  forecastAsync(input: ModelInput, h: number): Promise<Float64Array>;
}

/** One forecast step: mean and, per level (e.g. "80"), [lower, upper]. */
export interface ForecastPoint {
  t: number;
  mean: number;
  intervals: Record<string, [number, number]>;
}

/** A forecast of one metric of one series; this is the JSON contract's element. */
export interface SeriesForecast {
  series: string;
  metric: string;
  unit: string;
  stepSeconds: number;
  model: string;
  points: ForecastPoint[];
  /** Extra detail (not part of the minimal contract; stable additions only). */
  diagnostics?: ForecastDiagnostics;
}

export interface ForecastDiagnostics {
  seasonalities: Seasonality[];
  regularization: RegularizeReport;
  /** Backtest score per candidate model (MAE relative to seasonal naive), lower is better. */
  backtest: Record<string, number>;
  /** Whether the heavier models were tried, and why (default candidates only). */
  escalation?: string;
  /** Resource forms of the same forecast, when the metric maps to one. */
  resources?: ResourceForecast[];
}

/** The same forecast expressed in a resource unit the shadow manager sizes with. */
export interface ResourceForecast {
  /** `cpu_cores` | `memory_gib` | `disk_iops` | `disk_throughput_mbs` | `net_bandwidth_mbits`. */
  resource: string;
  unit: string;
  /** How it was derived, e.g. "cpu_mhz / (capacity MHz / cores)". */
  derivation: string;
  points: ForecastPoint[];
}

export interface ForecastOptions {
  /** Horizon in seconds (e.g. 86400). */
  horizonSeconds: number;
  /** Interval levels in percent, e.g. [80, 95]. */
  levels: number[];
  /** Candidate model names; default: every enabled model. */
  models?: string[];
  /** Also try the recurrent network (slow; off by default). */
  lstm?: boolean;
  events?: EventWindow[];
  seed?: number;
}
