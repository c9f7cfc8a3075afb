/**
 * Evaluates a criteria expression against what was observed of a VM (issue 5's failover
 * trigger). Pure: times are epoch seconds passed in.
 *
 * Three-valued (Kleene) logic: a condition is `true`, `false` or `unknown` (too few samples to
 * tell). `not unknown` is unknown, so missing data never makes a negated condition true; the
 * whole expression holds only when it is `true`.
 *
 * `for d` on a sampled metric means: the condition held on every sample over the last `d`
 * seconds, with sample-and-hold: the value of the last sample at or before `now − d` holds until
 * the next one, so that sample counts too (the condition held at the window's start). It is
 * `unknown` unless the samples cover the window: a sample at or before `now − d` no older than
 * `maxGapSeconds` before it, no gap between samples longer than `maxGapSeconds`, and the latest
 * sample no older than `maxGapSeconds`. Any sample in the window that fails the comparison makes
 * it `false` whatever the coverage. Without `for`, the latest sample decides (when fresh).
 *
 * `error_rate` is an aggregate, not a per-sample value: the % of `probe_ok` samples equal to 0
 * within the window (the `for` duration, else {@link DEFAULT_ERROR_RATE_WINDOW_S}), with the
 * same coverage rule.
 */
import type { AtomNode, CompareNode, CriteriaNode } from './ast.js';
import type { CompareOp } from './metrics.js';
import { CRITERIA_METRICS } from './metrics.js';
import { sampleValueOf, type Allocation } from './thresholds.js';

/** One sample: epoch seconds and value. */
export interface TimedValue {
  t: number;
  value: number;
}

/** What is known of a VM when the criteria are evaluated. */
export interface CriteriaObservations {
  /** Epoch seconds. */
  nowSeconds: number;
  /** The VM's state word (`running`, `crashed`, ...); null/absent: unknown. */
  state?: string | null;
  /** Its host lost its lease. Absent: false. */
  hostLost?: boolean;
  /** The latest probe failed. Absent: derived from the latest fresh `probe_ok` sample. */
  probeFailed?: boolean;
  /** Needed by `memory` percentages. */
  allocation?: Allocation;
  /** Samples by sample metric (`cpu_pct`, `mem_rss_mib`, `probe_ok`, ...), ascending by time. */
  samples: Readonly<Record<string, readonly TimedValue[]>>;
  /** Longest gap between samples that still counts as covered (default 30 s: three 10 s samples). */
  maxGapSeconds?: number;
}

export type Tri = true | false | 'unknown';

/** One leaf's outcome, for logs and `explain`. */
export interface AtomResult {
  text: string;
  result: Tri;
  /** Why, in words (`cpu_pct ≥ 90 on all 31 samples over 5m`, `no probe_ok sample in the last 30s`). */
  detail: string;
}

export interface CriteriaResult {
  /** True only when the expression is definitely true. */
  holds: boolean;
  result: Tri;
  atoms: AtomResult[];
}

export const DEFAULT_MAX_GAP_S = 30;
/** The window of an `error_rate` comparison without `for`. */
export const DEFAULT_ERROR_RATE_WINDOW_S = 60;

/** Evaluates `ast` against `obs`. */
export function evaluate(ast: CriteriaNode, obs: CriteriaObservations): CriteriaResult {
  const atoms: AtomResult[] = [];
  const result = evalNode(ast, obs, atoms);
  return { holds: result === true, result, atoms };
}

function evalNode(n: CriteriaNode, obs: CriteriaObservations, atoms: AtomResult[]): Tri {
  switch (n.kind) {
    case 'not': {
      const r = evalNode(n.expr, obs, atoms);
      return r === 'unknown' ? r : !r;
    }
    case 'and': {
      const rs = n.items.map((i) => evalNode(i, obs, atoms)); // all evaluated: every atom reported
      return rs.includes(false) ? false : rs.includes('unknown') ? 'unknown' : true;
    }
    case 'or': {
      const rs = n.items.map((i) => evalNode(i, obs, atoms));
      return rs.includes(true) ? true : rs.includes('unknown') ? 'unknown' : false;
    }
    default: {
      const a = evalAtom(n, obs);
      atoms.push({ text: n.text, ...a });
      return a.result;
    }
  }
}

function evalAtom(n: AtomNode, obs: CriteriaObservations): { result: Tri; detail: string } {
  if (n.kind === 'state_in') {
    if (obs.state == null) return { result: 'unknown', detail: 'state unknown' };
    const hit = (n.states as readonly string[]).includes(obs.state);
    return { result: hit, detail: `state is ${obs.state}` };
  }
  if (n.kind === 'flag') {
    if (n.flag === 'host_lost') return { result: obs.hostLost === true, detail: obs.hostLost ? 'host lease expired' : 'host alive' };
    if (obs.probeFailed !== undefined) return { result: obs.probeFailed, detail: obs.probeFailed ? 'latest probe failed' : 'latest probe ok' };
    const probes = obs.samples.probe_ok ?? [];
    const last = probes[probes.length - 1];
    const gap = obs.maxGapSeconds ?? DEFAULT_MAX_GAP_S;
    if (!last || obs.nowSeconds - last.t > gap) return { result: 'unknown', detail: `no probe_ok sample in the last ${gap}s` };
    return { result: last.value === 0, detail: last.value === 0 ? 'latest probe failed' : 'latest probe ok' };
  }
  return evalCompare(n, obs);
}

function cmp(op: CompareOp, a: number, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

function evalCompare(n: CompareNode, obs: CriteriaObservations): { result: Tri; detail: string } {
  const doc = CRITERIA_METRICS[n.metric];
  const gap = obs.maxGapSeconds ?? DEFAULT_MAX_GAP_S;
  const threshold = sampleValueOf(n, obs.allocation);
  if (threshold === null) return { result: 'unknown', detail: `${n.metric} in % needs the VM's allocation` };
  const samples = obs.samples[doc.sampleMetric] ?? [];
  const now = obs.nowSeconds;

  if (n.metric === 'error_rate') {
    const d = n.durationSeconds > 0 ? n.durationSeconds : DEFAULT_ERROR_RATE_WINDOW_S;
    const inWindow = samples.filter((s) => s.t > now - d && s.t <= now);
    if (!covers(inWindow, now - d, now, gap)) {
      return { result: 'unknown', detail: `probe_ok samples do not cover the last ${fmt(d)} (${inWindow.length} in it)` };
    }
    const failed = inWindow.filter((s) => s.value === 0).length;
    const rate = (100 * failed) / inWindow.length;
    return { result: cmp(n.op, rate, threshold), detail: `error rate ${round(rate)}% (${failed}/${inWindow.length} probes failed over ${fmt(d)})` };
  }

  if (n.metric === 'probe_failures') {
    // A count over the latest probes, not a per-sample value: how many failed in a row.
    const last = samples[samples.length - 1];
    if (!last || now - last.t > gap) return { result: 'unknown', detail: `no probe_ok sample in the last ${gap}s` };
    let run = 0;
    for (let i = samples.length - 1; i >= 0 && samples[i].value === 0; i--) run++;
    return { result: cmp(n.op, run, threshold), detail: `${run} consecutive failed probe${run === 1 ? '' : 's'}` };
  }

  const d = n.durationSeconds;
  // The sample in force at the window's start (sample-and-hold), then every later one.
  let startIdx = -1;
  for (let i = samples.length - 1; i >= 0; i--) {
    if (samples[i].t <= now - d) {
      startIdx = i;
      break;
    }
  }
  const held = (startIdx >= 0 ? samples.slice(startIdx) : samples.filter((s) => s.t > now - d)).filter((s) => s.t <= now);
  const bad = held.find((s) => !cmp(n.op, s.value, threshold));
  const what = `${doc.sampleMetric} ${n.op} ${round(threshold)}`;
  if (bad) return { result: false, detail: `${doc.sampleMetric} was ${round(bad.value)} at t=${bad.t}${d > 0 ? ` within the last ${fmt(d)}` : ''} (not ${n.op} ${round(threshold)})` };
  const start = startIdx >= 0 ? samples[startIdx] : undefined;
  if (!start || now - d - start.t > gap || !covers(held, start.t, now, gap)) {
    return { result: 'unknown', detail: d > 0 ? `${doc.sampleMetric} samples do not cover the last ${fmt(d)}` : `no ${doc.sampleMetric} sample in the last ${gap}s` };
  }
  return { result: true, detail: d > 0 ? `${what} on all ${held.length} samples over ${fmt(d)}` : `${what} (latest ${round(start.value)})` };
}

/** Samples (ascending) cover [from, to]: first ≤ from + gap, gaps ≤ gap, last ≥ to − gap. */
function covers(s: readonly TimedValue[], from: number, to: number, gap: number): boolean {
  if (!s.length) return false;
  if (s[0].t - from > gap || to - s[s.length - 1].t > gap) return false;
  for (let i = 1; i < s.length; i++) if (s[i].t - s[i - 1].t > gap) return false;
  return true;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
function fmt(s: number): string {
  return s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}
