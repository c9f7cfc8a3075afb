/**
 * Per-VM risk (issue 4 §1): the probability that the VM breaches its failover criteria or its
 * allocation within the policy horizon, raised by poor health, weighted by failover_priority.
 * Pure: forecasts and health counts in, a {@link RiskAssessment} with every number behind the
 * result out (`umbra shadow explain` prints it).
 *
 * 1. Per threshold and forecast step k: p_k = P(X_k op threshold) from the step's quantiles
 *    (quantiles.ts). A threshold with `for d` needs n = ceil(d / step) consecutive steps:
 *    p = max over windows of min over the window's p_k.
 * 2. Per threshold, over the horizon: the max over steps (windows). Why max and not
 *    1 − Π(1 − p_k): the per-step forecasts are marginals of strongly correlated errors (a load
 *    above its forecast now is likely above it at the next step too). Independence would
 *    compound small per-step chances into certainty (1 % per step over 288 five-minute steps is
 *    94 %). The max is the exact answer when the errors are perfectly correlated (comonotone),
 *    and a lower bound in general (P(∪A_k) ≥ max P(A_k)); the same comonotone model gives the
 *    min over a `for` window. Across thresholds the breach probability is again the max.
 * 3. Health raises it, as independent extra evidence (a noisy-OR):
 *    raw = 1 − (1 − breach)(1 − probeTerm)(1 − anomalyTerm), where
 *    probeTerm = probeWeight × failed/total of the last probes, and
 *    anomalyTerm = anomalyWeight × excess, excess = max(0, (k/n − 0.05) / 0.95) the share of
 *    recent samples outside the forecast's 95 % interval beyond the 5 % expected, counted only
 *    when the binomial tail P(Bin(n, 0.05) ≥ k) < anomalyAlpha (few samples prove nothing).
 * 4. Weight = clamp(1 + 0.25 × failover_priority, 0.25, 2); risk = min(1, raw × weight), the
 *    number compared with shadow_creation_threshold. Both raw and weighted are kept.
 */
import type { CriteriaNode } from '../failover/criteria/ast.js';
import type { CompareOp } from '../failover/criteria/metrics.js';
import { thresholdsOf, type Allocation } from '../failover/criteria/thresholds.js';
import type { ForecastPoint, SeriesForecast } from '../forecast/types.js';
import { probabilityOf, upperOf } from './quantiles.js';

/** Tunables of the risk estimate (defaults in {@link DEFAULT_RISK_OPTIONS}). */
export interface RiskOptions {
  /**
   * QEMU's own RSS on top of guest memory: `mem_rss_mib` counts it, so the memory allocation is
   * breached when RSS > allocation + this. Measured ~50–90 MiB at -m 128 under TCG
   * (PLATFORM.md: 180–220 MB RSS); 96 leaves a margin.
   */
  memoryOverheadMiB: number;
  /** Also count allocation breaches (cpu_cores > vCPUs, RSS > memory + overhead). */
  allocation: boolean;
  probeWeight: number;
  /**
   * Probes counted at least this many (the missing ones as successes): one failed probe out of
   * two says little, and must not weigh 0.5 (a loaded machine times a probe out now and then).
   */
  minProbes: number;
  anomalyWeight: number;
  /** Significance below which the miss count counts. */
  anomalyAlpha: number;
  /** Misses expected outside the 95 % interval. */
  expectedMissRate: number;
  priorityStep: number;
  minWeight: number;
  maxWeight: number;
}

export const DEFAULT_RISK_OPTIONS: Readonly<RiskOptions> = Object.freeze({
  memoryOverheadMiB: 96,
  allocation: true,
  probeWeight: 1,
  minProbes: 10,
  anomalyWeight: 0.5,
  anomalyAlpha: 0.05,
  expectedMissRate: 0.05,
  priorityStep: 0.25,
  minWeight: 0.25,
  maxWeight: 2,
});

/** Recent health of the VM. */
export interface HealthInput {
  /** The last N probes (see {@link probeCounts}). */
  probes?: { failed: number; total: number };
  /** Recent samples checked against the 95 % interval of a forecast made before them (see {@link countForecastMisses}). */
  anomaly?: { checked: number; outside: number };
}

export interface RiskInput {
  vmId: string;
  /** Epoch seconds. */
  nowSeconds: number;
  /** The policy horizon (the longest forecast horizon), seconds. */
  horizonSeconds: number;
  allocation: Allocation;
  /** The parsed failover_criteria. */
  criteria: CriteriaNode;
  /** The VM's latest forecasts, one per metric (`cpu_pct`, `cpu_cores`, `mem_rss_mib`, ...). */
  forecasts: readonly SeriesForecast[];
  failoverPriority: number;
  health?: HealthInput;
  options?: Partial<RiskOptions>;
}

/** The forecast at one step, for explain. */
export interface StepView {
  t: number;
  mean: number;
  /** The widest interval at that step (level, [lower, upper]), when any. */
  interval: { level: number; lower: number; upper: number } | null;
}

/** One threshold's breach probability. */
export interface MetricRisk {
  /** `criteria` (a failover_criteria comparison) or `allocation`. */
  source: 'criteria' | 'allocation';
  /** What was checked, e.g. `cpu > 90% for 5m` or `cpu_cores > 2 (allocated vCPUs)`. */
  label: string;
  /** The forecast used (`cpu_pct`, `cpu_cores`, ...); null when none was available. */
  forecastMetric: string | null;
  op: CompareOp;
  /** In the forecast metric's unit. */
  threshold: number;
  unit: string;
  durationSeconds: number;
  /** Consecutive forecast steps the duration needs (1 without `for`). */
  windowSteps: number;
  /** Max over the horizon, in [0, 1]. */
  probability: number;
  /** Epoch seconds of the first step of the worst window; null when no step was checked. */
  worstAt: number | null;
  /** The binding step of the worst window (its lowest p_k). */
  worstStep: StepView | null;
  /** Forecast steps inside the horizon. */
  steps: number;
  /** Why the probability is 0 without a look, or how the threshold was converted. */
  note?: string;
}

export interface HealthTerms {
  probes: { failed: number; total: number; fraction: number; weight: number; term: number };
  anomaly: {
    checked: number;
    outside: number;
    expectedRate: number;
    /** Share of misses beyond the expected, in [0, 1]. */
    excess: number;
    /** P(Bin(checked, expectedRate) ≥ outside). */
    pValue: number;
    significant: boolean;
    weight: number;
    term: number;
  };
}

/** Everything behind a VM's risk. */
export interface RiskAssessment {
  vmId: string;
  nowSeconds: number;
  horizonSeconds: number;
  metrics: MetricRisk[];
  /** Max of the metrics' probabilities. */
  breachProbability: number;
  /** The metric with the highest probability (first on ties); null when there is none. */
  worst: MetricRisk | null;
  health: HealthTerms;
  /** Breach and health combined, in [0, 1], before the priority weight. */
  raw: number;
  priority: number;
  weight: number;
  /** min(1, raw × weight): compared with shadow_creation_threshold. */
  risk: number;
}

/** A threshold to check against a forecast. */
interface Check {
  source: MetricRisk['source'];
  label: string;
  op: CompareOp;
  durationSeconds: number;
  /** Candidate forecasts, in preference order, with the threshold in each one's unit. */
  options: { metric: string; threshold: number; unit: string; note?: string }[];
}

/** Assesses one VM. */
export function assessRisk(input: RiskInput): RiskAssessment {
  const o: RiskOptions = { ...DEFAULT_RISK_OPTIONS, ...input.options };
  const byMetric = new Map(input.forecasts.map((f) => [f.metric, f]));
  const checks = checksFor(input, o);
  const metrics = checks.map((c) => evaluateCheck(c, byMetric, input.nowSeconds, input.horizonSeconds));
  let worst: MetricRisk | null = null;
  for (const m of metrics) if (!worst || m.probability > worst.probability) worst = m;
  const breachProbability = worst?.probability ?? 0;
  const health = healthTerms(input.health, o);
  const raw = 1 - (1 - breachProbability) * (1 - health.probes.term) * (1 - health.anomaly.term);
  const weight = priorityWeight(input.failoverPriority, o);
  return {
    vmId: input.vmId,
    nowSeconds: input.nowSeconds,
    horizonSeconds: input.horizonSeconds,
    metrics,
    breachProbability,
    worst,
    health,
    raw,
    priority: input.failoverPriority,
    weight,
    risk: Math.min(1, raw * weight),
  };
}

/** clamp(1 + step × priority, minWeight, maxWeight). */
export function priorityWeight(priority: number, o: Pick<RiskOptions, 'priorityStep' | 'minWeight' | 'maxWeight'> = DEFAULT_RISK_OPTIONS): number {
  return Math.min(o.maxWeight, Math.max(o.minWeight, 1 + o.priorityStep * priority));
}

function checksFor(input: RiskInput, o: RiskOptions): Check[] {
  const { vcpus, memoryMiB } = input.allocation;
  const out: Check[] = [];
  for (const t of thresholdsOf(input.criteria, input.allocation)) {
    if (t.value === null) continue; // unreachable: the allocation is given
    const base = { source: 'criteria' as const, label: t.text, op: t.op, durationSeconds: t.durationSeconds };
    if (t.sampleMetric === 'cpu_pct') {
      out.push({
        ...base,
        options: [
          { metric: 'cpu_pct', threshold: t.value, unit: '%' },
          { metric: 'cpu_cores', threshold: (t.value / 100) * vcpus, unit: 'cores', note: `${t.value}% of ${vcpus} vCPUs` },
        ],
      });
    } else {
      out.push({ ...base, options: [{ metric: t.sampleMetric, threshold: t.value, unit: t.sampleUnit }] });
    }
  }
  if (o.allocation) {
    out.push({
      source: 'allocation',
      label: `cpu over its ${vcpus} allocated vCPUs`,
      op: '>',
      durationSeconds: 0,
      options: [
        { metric: 'cpu_cores', threshold: vcpus, unit: 'cores' },
        { metric: 'cpu_pct', threshold: 100, unit: '%' },
      ],
    });
    const limit = memoryMiB + o.memoryOverheadMiB;
    out.push({
      source: 'allocation',
      label: `memory over its ${memoryMiB} MiB allocation`,
      op: '>',
      durationSeconds: 0,
      options: [{ metric: 'mem_rss_mib', threshold: limit, unit: 'MiB', note: `RSS > ${memoryMiB} MiB + ${o.memoryOverheadMiB} MiB QEMU overhead` }],
    });
  }
  return out;
}

function evaluateCheck(c: Check, forecasts: Map<string, SeriesForecast>, now: number, horizon: number): MetricRisk {
  const chosen = c.options.find((x) => forecasts.has(x.metric));
  const head = { source: c.source, label: c.label, op: c.op, durationSeconds: c.durationSeconds };
  if (!chosen) {
    const first = c.options[0];
    return {
      ...head,
      forecastMetric: null,
      threshold: first.threshold,
      unit: first.unit,
      windowSteps: 1,
      probability: 0,
      worstAt: null,
      worstStep: null,
      steps: 0,
      note: `no forecast of ${c.options.map((x) => x.metric).join(' or ')}`,
    };
  }
  const f = forecasts.get(chosen.metric)!;
  const step = f.stepSeconds > 0 ? f.stepSeconds : 1;
  const points = pointsWithin(f, now, horizon);
  const windowSteps = Math.max(1, Math.min(points.length, Math.ceil(c.durationSeconds / step)));
  const p = points.map((pt) => probabilityOf(pt, c.op, chosen.threshold));
  let best = 0;
  let bestStart = -1;
  let bestBinding = -1;
  for (let s = 0; s + windowSteps <= p.length; s++) {
    let min = Infinity;
    let at = s;
    for (let j = s; j < s + windowSteps; j++) {
      if (p[j] < min) {
        min = p[j];
        at = j;
      }
    }
    if (bestStart < 0 || min > best) {
      best = min;
      bestStart = s;
      bestBinding = at;
    }
  }
  return {
    ...head,
    forecastMetric: chosen.metric,
    threshold: chosen.threshold,
    unit: chosen.unit,
    windowSteps,
    probability: bestStart < 0 ? 0 : best,
    worstAt: bestStart < 0 ? null : points[bestStart].t,
    worstStep: bestBinding < 0 ? null : stepView(points[bestBinding]),
    steps: points.length,
    ...(points.length === 0 ? { note: `the ${chosen.metric} forecast has no step within the horizon` } : chosen.note ? { note: chosen.note } : {}),
  };
}

/** Steps of `f` inside the horizon: the one in progress at `now` (t > now − step) to now + horizon. */
export function pointsWithin(f: SeriesForecast, nowSeconds: number, horizonSeconds: number): ForecastPoint[] {
  const step = f.stepSeconds > 0 ? f.stepSeconds : 0;
  return f.points.filter((p) => p.t > nowSeconds - step && p.t <= nowSeconds + horizonSeconds);
}

function stepView(p: ForecastPoint): StepView {
  const levels = Object.keys(p.intervals ?? {})
    .map(Number)
    .filter((l) => l > 0 && l < 100)
    .sort((a, b) => b - a);
  const l = levels[0];
  return { t: p.t, mean: p.mean, interval: l === undefined ? null : { level: l, lower: p.intervals[String(l)][0], upper: p.intervals[String(l)][1] } };
}

function healthTerms(h: HealthInput | undefined, o: RiskOptions): HealthTerms {
  const failed = h?.probes?.failed ?? 0;
  const total = h?.probes?.total ?? 0;
  const fraction = total > 0 ? Math.min(1, failed / Math.max(total, o.minProbes)) : 0;
  const checked = h?.anomaly?.checked ?? 0;
  const outside = Math.min(checked, h?.anomaly?.outside ?? 0);
  const e = o.expectedMissRate;
  const excess = checked > 0 ? Math.max(0, (outside / checked - e) / (1 - e)) : 0;
  const pValue = checked > 0 ? binomialTail(checked, outside, e) : 1;
  const significant = checked > 0 && pValue < o.anomalyAlpha && excess > 0;
  return {
    probes: { failed, total, fraction, weight: o.probeWeight, term: clamp01(o.probeWeight * fraction) },
    anomaly: { checked, outside, expectedRate: e, excess, pValue, significant, weight: o.anomalyWeight, term: significant ? clamp01(o.anomalyWeight * excess) : 0 },
  };
}

/** P(Bin(n, p) ≥ k), summed in log space (no underflow for large n). */
export function binomialTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  // log pmf(k) from lgamma-free accumulation: log C(n, k) = Σ log((n − i) / (i + 1)), i < k.
  let logC = 0;
  for (let i = 0; i < k; i++) logC += Math.log((n - i) / (i + 1));
  let logPmf = logC + k * Math.log(p) + (n - k) * Math.log1p(-p);
  let sum = 0;
  for (let i = k; i <= n; i++) {
    sum += Math.exp(logPmf);
    logPmf += Math.log((n - i) / (i + 1)) + Math.log(p) - Math.log1p(-p);
  }
  return clamp01(sum);
}

/** The failed and total count of the last `lastN` `probe_ok` samples (oldest first). */
export function probeCounts(probeOk: readonly { value: number }[], lastN = 30): { failed: number; total: number } {
  const recent = probeOk.slice(-lastN);
  return { failed: recent.filter((s) => s.value === 0).length, total: recent.length };
}

/**
 * How many of `samples` fell outside the `level` % interval of `forecast` (made before them):
 * each sample is matched to the forecast step within half a step of it; unmatched samples are
 * not checked.
 */
export function countForecastMisses(forecast: SeriesForecast, samples: readonly { t: number; value: number }[], level = 95): { checked: number; outside: number } {
  const half = (forecast.stepSeconds > 0 ? forecast.stepSeconds : 1) / 2;
  let checked = 0;
  let outside = 0;
  let j = 0;
  const pts = forecast.points;
  for (const s of samples) {
    while (j < pts.length - 1 && pts[j + 1].t <= s.t + half) j++;
    // Nearest step: pts[j] or its successor.
    let best = -1;
    for (const k of [j, j + 1]) if (k < pts.length && Math.abs(pts[k].t - s.t) <= half && (best < 0 || Math.abs(pts[k].t - s.t) < Math.abs(pts[best].t - s.t))) best = k;
    if (best < 0) continue;
    const iv = pts[best].intervals?.[String(level)];
    if (!iv) continue;
    checked++;
    if (s.value < iv[0] || s.value > iv[1]) outside++;
  }
  return { checked, outside };
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
