/**
 * What the failover criteria language can talk about: metrics (with the sample each one is read
 * from and the units it may be written in), VM states and flags. One table, used by the parser,
 * the evaluator, the forecast thresholds and the docs.
 */

/** A unit a criteria value may be written in (`''`: a plain number). */
export type CriteriaUnit = '%' | 'ms' | 's' | 'MiB' | 'GiB' | '';

/** One metric of the criteria language. */
export interface CriteriaMetricDoc {
  /** What the number means, for operators. */
  meaning: string;
  /** The agent sample metric it is read from (src/agent/metrics.ts). */
  sampleMetric: string;
  /** Unit of the sample metric (the unit thresholds are converted to). */
  sampleUnit: string;
  /** Units a value may be written in; the first is assumed for a plain number. */
  units: readonly CriteriaUnit[];
  /** True when the profiler forecasts the sample metric, so a forecast can breach a threshold. */
  forecastable: boolean;
}

/** Every metric the criteria language knows. */
export const CRITERIA_METRICS = {
  cpu: {
    meaning: '% of the allocated vCPUs in use (can exceed 100 with emulation overhead)',
    sampleMetric: 'cpu_pct',
    sampleUnit: '%',
    units: ['%', ''],
    forecastable: true,
  },
  memory: {
    meaning: '% of the allocated memory (mem_rss_mib / allocated MiB × 100), or an absolute RSS when written in MiB or GiB',
    sampleMetric: 'mem_rss_mib',
    sampleUnit: 'MiB',
    units: ['%', 'MiB', 'GiB', ''],
    forecastable: true,
  },
  error_rate: {
    meaning: '% of failed health probes (probe_ok = 0) over the window (the `for` duration, else the last minute)',
    sampleMetric: 'probe_ok',
    sampleUnit: '%',
    units: ['%', ''],
    forecastable: false,
  },
  http_error_rate: {
    meaning: '% of 5xx answers among the requests through the traffic switch (HAProxy hrsp_5xx / req_tot, per pass), on every reading over the `for` window',
    sampleMetric: 'http_5xx_pct',
    sampleUnit: '%',
    units: ['%', ''],
    forecastable: false,
  },
  probe_failures: {
    meaning: 'consecutive failed health probes, counted back from the latest one (probe_ok = 0)',
    sampleMetric: 'probe_ok',
    sampleUnit: '',
    units: [''],
    forecastable: false,
  },
  latency: {
    meaning: 'health probe latency in ms (successful probes only)',
    sampleMetric: 'probe_latency_ms',
    sampleUnit: 'ms',
    units: ['ms', 's', ''],
    forecastable: false,
  },
  disk_write_iops: {
    meaning: 'disk write operations per second, summed over the VM\'s disks',
    sampleMetric: 'disk_write_iops',
    sampleUnit: 'ops/s',
    units: [''],
    forecastable: true,
  },
  disk_read_iops: {
    meaning: 'disk read operations per second, summed over the VM\'s disks',
    sampleMetric: 'disk_read_iops',
    sampleUnit: 'ops/s',
    units: [''],
    forecastable: true,
  },
} as const satisfies Record<string, CriteriaMetricDoc>;

/** A metric name of the criteria language. */
export type CriteriaMetric = keyof typeof CRITERIA_METRICS;

/** VM states `state in [...]` may name (the agent's state words). */
export const CRITERIA_STATES = ['running', 'paused', 'crashed', 'panicked', 'hung', 'exited'] as const;
export type CriteriaState = (typeof CRITERIA_STATES)[number];

/** Flags: conditions that hold or not, with no number. */
export const CRITERIA_FLAGS = {
  host_lost: "the primary's host lost its lease with the server (its agent is unreachable)",
  probe_failed: "the VM's latest health probe failed",
} as const;
export type CriteriaFlag = keyof typeof CRITERIA_FLAGS;

/** Comparison operators. */
export type CompareOp = '>' | '>=' | '<' | '<=';

export function isMetric(name: string): name is CriteriaMetric {
  return Object.hasOwn(CRITERIA_METRICS, name);
}
export function isState(name: string): name is CriteriaState {
  return (CRITERIA_STATES as readonly string[]).includes(name);
}
export function isFlag(name: string): name is CriteriaFlag {
  return Object.hasOwn(CRITERIA_FLAGS, name);
}
