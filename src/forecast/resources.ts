/**
 * Resource forms: the same forecast in the units the shadow manager sizes with (CPU cores, GiB
 * of memory, disk throughput or IOPS, network bandwidth). Pure.
 */
import type { RawSeries, ResourceForecast, SeriesForecast } from './types.js';

/** One way to express a metric as a resource. */
export interface ResourceForm {
  /** `cpu_cores` | `memory_gib` | `disk_iops` | `disk_throughput_mbs` | `net_bandwidth_mbits`. */
  resource: string;
  unit: string;
  /** How it was derived, in words a person can check (and what the source lacks, if anything). */
  derivation: string;
  /**
   * Converts a value of the metric to the resource unit. Always `v * c` with c > 0, so it maps
   * interval bounds to bounds and keeps their order.
   */
  scale: (v: number) => number;
}

const KIB_PER_GIB = 1024 * 1024;
/** KiB/s → MiB/s. */
const KIB_PER_MIB = 1024;
/** KiB/s → Mbit/s (network megabits are decimal). */
const KIBS_TO_MBITS = (1024 * 8) / 1e6;

/**
 * The resource forms of a metric, given its unit and the provisioned capacity when known.
 * Bitbrains metrics map as: cpu_mhz → cpu_cores (v / (capacity MHz / cores)); cpu_pct →
 * cpu_cores (v / 100 · cores); mem_kb → memory_gib; disk_read_kbs / disk_write_kbs →
 * disk_throughput_mbs (Bitbrains records throughput, not IOPS); net_rx_kbs / net_tx_kbs →
 * net_bandwidth_mbits. Other metrics map by unit where it is unambiguous (MHz, %, KB/MB/GB,
 * KB/s, IOPS). A metric that needs a capacity the source does not state gets no CPU form.
 * Returns `[]` when nothing applies.
 */
export function toResourceForms(metric: string, unit: string, capacity?: RawSeries['capacity']): ResourceForm[] {
  const m = metric.toLowerCase();
  const u = unit.trim().toLowerCase();
  const cores = positive(capacity?.cpuCores);
  const mhz = positive(capacity?.cpuMhz);

  // CPU
  if (u === 'mhz' || m === 'cpu_mhz') {
    if (cores === undefined || mhz === undefined) return [];
    const perCore = mhz / cores;
    return [form('cpu_cores', 'cores', `${metric} / ${round(perCore)} MHz per core (capacity ${round(mhz)} MHz / ${cores} cores)`, 1 / perCore)];
  }
  if ((u === '%' && /cpu/.test(m)) || m === 'cpu_pct') {
    if (cores === undefined) return [];
    return [form('cpu_cores', 'cores', `${metric} / 100 × ${cores} cores (percent of provisioned CPU)`, cores / 100)];
  }
  if (u === 'cores' || u === 'vcpu' || u === 'vcpus') return [form('cpu_cores', 'cores', `${metric} as is`, 1)];

  // Memory
  // mem_kb is KB by name (Bitbrains); other memory metrics need a unit that says bytes.
  const memFactor = m === 'mem_kb' ? BYTES_TO_GIB.kb : /mem|ram/.test(m) ? BYTES_TO_GIB[u] : undefined;
  if (memFactor !== undefined) {
    return [form('memory_gib', 'GiB', `${metric} (${unit || 'KB'}) / ${round(1 / memFactor)}`, memFactor)];
  }

  // Disk
  if (/^disk_(read|write)_kbs$/.test(m) || (/disk|(^|_)io(_|$)/.test(m) && RATE_TO_MIBS[u] !== undefined)) {
    const f = RATE_TO_MIBS[u] ?? 1 / KIB_PER_MIB;
    const note = /^disk_(read|write)_kbs$/.test(m) ? '; Bitbrains records disk throughput, not IOPS' : '';
    return [form('disk_throughput_mbs', 'MiB/s', `${metric} (${unit || 'KB/s'}) × ${+f.toPrecision(6)} → MiB/s${note}`, f)];
  }
  if (u === 'iops' || u === 'ops/s' || /iops/.test(m)) return [form('disk_iops', 'IOPS', `${metric} as is`, 1)];

  // Network
  if (/^net_(rx|tx)_kbs$/.test(m) || (/net|rx|tx|bandwidth/.test(m) && RATE_TO_MIBS[u] !== undefined)) {
    const f = (RATE_TO_MIBS[u] ?? 1 / KIB_PER_MIB) * KIB_PER_MIB * KIBS_TO_MBITS;
    return [form('net_bandwidth_mbits', 'Mbit/s', `${metric} (${unit || 'KB/s'}) × ${+f.toPrecision(6)} → Mbit/s (8 bits per byte, 10⁶ bits per Mbit)`, f)];
  }
  return [];
}

/** Memory units → GiB factor (KB means KiB, as in Bitbrains: 2097152 KB = 2 GiB). */
const BYTES_TO_GIB: Record<string, number> = {
  b: 1 / (KIB_PER_GIB * 1024),
  bytes: 1 / (KIB_PER_GIB * 1024),
  kb: 1 / KIB_PER_GIB,
  kib: 1 / KIB_PER_GIB,
  mb: 1 / 1024,
  mib: 1 / 1024,
  gb: 1,
  gib: 1,
};

/** Rate units → MiB/s factor. */
const RATE_TO_MIBS: Record<string, number> = {
  'b/s': 1 / (1024 * 1024),
  'bytes/s': 1 / (1024 * 1024),
  'kb/s': 1 / KIB_PER_MIB,
  'kib/s': 1 / KIB_PER_MIB,
  'mb/s': 1,
  'mib/s': 1,
};

function form(resource: string, unit: string, derivation: string, factor: number): ResourceForm {
  return { resource, unit, derivation, scale: (v) => v * factor };
}

function positive(v: number | undefined): number | undefined {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : undefined;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * The same forecast in every resource form its metric maps to (mean and every interval bound
 * scaled; the forms are linear, so quantiles stay quantiles).
 */
export function resourceForecasts(f: SeriesForecast, capacity?: RawSeries['capacity']): ResourceForecast[] {
  return toResourceForms(f.metric, f.unit, capacity).map((form) => ({
    resource: form.resource,
    unit: form.unit,
    derivation: form.derivation,
    points: f.points.map((p) => ({
      t: p.t,
      mean: form.scale(p.mean),
      intervals: Object.fromEntries(Object.entries(p.intervals).map(([k, [lo, hi]]) => [k, [form.scale(lo), form.scale(hi)] as [number, number]])),
    })),
  }));
}
