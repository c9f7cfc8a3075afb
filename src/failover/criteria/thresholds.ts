import { atomsOf, type CompareNode, type CriteriaNode } from './ast.js';
import { CRITERIA_METRICS, type CompareOp, type CriteriaMetric, type CriteriaUnit } from './metrics.js';

/** A VM's allocation, which relative thresholds (`memory > 90%`) are taken of. */
export interface Allocation {
  vcpus: number;
  memoryMiB: number;
}

/** A comparison of a forecastable metric: what the shadow manager's risk checks forecasts against. */
export interface CriteriaThreshold {
  metric: CriteriaMetric;
  /** The agent/profiler metric the threshold applies to (`cpu_pct`, `mem_rss_mib`, ...). */
  sampleMetric: string;
  /** The operator, flipped when the comparison sits under an odd number of `not`s. */
  op: CompareOp;
  /** The threshold in the sample metric's unit; null when it needs an allocation that was not given (`memory > 90%`). */
  value: number | null;
  sampleUnit: string;
  /** The number and unit as written. */
  written: { value: number; unit: CriteriaUnit };
  /** The `for` duration, seconds (0: none). */
  durationSeconds: number;
  /** True under an odd number of `not`s (the op is already flipped). */
  negated: boolean;
  /** The comparison's source text. */
  text: string;
}

const FLIP: Record<CompareOp, CompareOp> = { '>': '<=', '>=': '<', '<': '>=', '<=': '>' };

/**
 * The value of a comparison in its sample metric's unit: `cpu > 90%` → 90 (cpu_pct);
 * `memory > 2GiB` → 2048 (MiB); `memory > 80%` → 0.8 × allocated MiB (null without allocation);
 * `latency > 1s` → 1000 (ms); `error_rate > 5%` → 5.
 */
export function sampleValueOf(node: Pick<CompareNode, 'metric' | 'value' | 'unit'>, allocation?: Allocation): number | null {
  const { metric, value, unit } = node;
  if (metric === 'memory') {
    if (unit === 'MiB') return value;
    if (unit === 'GiB') return value * 1024;
    return allocation ? (value / 100) * allocation.memoryMiB : null; // % or a plain number
  }
  if (metric === 'latency' && unit === 's') return value * 1000;
  return value;
}

/**
 * The thresholds of `ast` a forecast can breach: every comparison of a forecastable metric
 * (cpu, memory, disk IOPS; not error_rate or latency, which the profiler does not forecast), in
 * source order, with its value converted to the sample metric's unit. States and flags are not
 * thresholds. Pass `allocation` to convert `memory` percentages.
 */
export function thresholdsOf(ast: CriteriaNode, allocation?: Allocation): CriteriaThreshold[] {
  const out: CriteriaThreshold[] = [];
  const walk = (n: CriteriaNode, negated: boolean): void => {
    if (n.kind === 'not') return walk(n.expr, !negated);
    if (n.kind === 'and' || n.kind === 'or') return n.items.forEach((i) => walk(i, negated));
    if (n.kind !== 'compare') return;
    const doc = CRITERIA_METRICS[n.metric];
    if (!doc.forecastable) return;
    out.push({
      metric: n.metric,
      sampleMetric: doc.sampleMetric,
      op: negated ? FLIP[n.op] : n.op,
      value: sampleValueOf(n, allocation),
      sampleUnit: doc.sampleUnit,
      written: { value: n.value, unit: n.unit },
      durationSeconds: n.durationSeconds,
      negated,
      text: n.text,
    });
  };
  walk(ast, false);
  return out;
}

/** Every comparison in `ast` (forecastable or not), for docs and explain. */
export function comparisonsOf(ast: CriteriaNode): CompareNode[] {
  return atomsOf(ast).filter((a): a is CompareNode => a.kind === 'compare');
}
