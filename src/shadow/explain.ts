/**
 * `umbra shadow explain VM`: a RiskAssessment and the plan's decision as text, with every
 * number behind them. Pure (times printed in UTC).
 */
import type { VmDecision } from './plan.js';
import type { MetricRisk, RiskAssessment } from './risk.js';
import type { ShadowSize } from './sizing.js';
import type { SyncChoice } from './sync-policy.js';

export interface ExplainInput {
  assessment: RiskAssessment;
  /** The plan's decision for this VM (absent: risk only). */
  decision?: VmDecision;
  /** The size a new shadow would get. */
  size?: ShadowSize;
  /** The mode and flavor chosen. */
  sync?: SyncChoice;
  /** The VM's shadows and their sync states. */
  shadows?: readonly { id: string; host: string; state: string }[];
}

/** Renders the explanation (lines joined by `\n`, no trailing newline). */
export function renderExplain(x: ExplainInput): string {
  const a = x.assessment;
  const d = x.decision;
  const out: string[] = [];
  const head = d ? `: ${d.summary}` : '';
  out.push(`VM ${a.vmId}: risk ${p3(a.risk)}${d ? ` (create at ≥ ${p3(d.threshold)}, retire below ${p3(d.retireBelow)}${d.protect ? ', protected' : ''})` : ''}${head}`);
  out.push(`forecast horizon ${dur(a.horizonSeconds)} from ${iso(a.nowSeconds)}`);
  out.push('');
  out.push('Breach probability per threshold (max over the horizon):');
  const rows = a.metrics.map((m) => [m.source, m.label, checkOf(m), `p=${p3(m.probability)}`, whereOf(m)]);
  out.push(...table(rows).map((r) => `  ${r}`));
  out.push(`  → breach probability ${p3(a.breachProbability)}${a.worst && a.breachProbability > 0 ? ` (${a.worst.label})` : ''}`);
  out.push('');
  const h = a.health;
  out.push('Health:');
  out.push(
    h.probes.total > 0
      ? `  probes: ${h.probes.failed}/${h.probes.total} failed (${p3(h.probes.fraction)}) × weight ${h.probes.weight} → ${p3(h.probes.term)}`
      : '  probes: none recorded → 0',
  );
  const an = h.anomaly;
  out.push(
    an.checked > 0
      ? `  anomaly: ${an.outside}/${an.checked} samples outside the forecast's 95% interval (expected ${pct(an.expectedRate)}), excess ${p3(an.excess)}, binomial p=${sig(an.pValue)} ${an.significant ? 'significant' : 'not significant'} → ${p3(an.term)}`
      : '  anomaly: no samples checked against an earlier forecast → 0',
  );
  out.push(`  combined with the breach probability (1 − Π(1 − term)): ${p3(a.raw)}`);
  out.push(`priority ${a.priority}: weight ${a.weight} → risk min(1, ${p3(a.raw)} × ${a.weight}) = ${p3(a.risk)}${d ? ` ${a.risk >= d.threshold ? '≥' : '<'} threshold ${p3(d.threshold)}` : ''}`);

  if (d) {
    out.push('');
    out.push(`Decision: ${d.summary}`);
    if (d.lowRiskSinceMs !== null) out.push(`  risk below ${p3(d.retireBelow)} since ${new Date(d.lowRiskSinceMs).toISOString()}`);
    for (const act of d.actions) out.push(`  ${actionLine(act)}`);
    if (d.placement) {
      out.push(`Placement candidates (${d.placement.for}):`);
      for (const c of d.placement.candidates) {
        const mark = c.rank !== undefined ? `${c.rank}.` : '-';
        const dom = c.domain ? `zone ${c.domain}${c.otherDomain ? ' (other domain)' : ''}` : 'no domain label';
        const state = c.ok ? (c.host === d.placement.chosen ? 'chosen' : 'fits') : `rejected (${c.rejected}): ${c.detail}`;
        out.push(`  ${mark} ${c.host}  ${dom}, ${c.domainShadows} shadow(s) in its domain${c.ok ? `, ${Math.round(c.freeAfter * 100)}% free after` : ''}  ${state}`);
      }
    }
  }
  if (x.shadows?.length) {
    out.push('Shadows:');
    for (const s of x.shadows) out.push(`  ${s.id} on ${s.host}: ${s.state}`);
  }
  if (x.size) {
    out.push(`Size: ${x.size.vcpus} vCPU (max ${x.size.maxVcpus}), ${x.size.memoryMiB} MiB (max ${x.size.maxMemoryMiB})`);
    for (const r of x.size.reasons) out.push(`  ${r}`);
  }
  if (x.sync) {
    out.push(`Sync: mode ${x.sync.mode}, flavor ${x.sync.flavor}; crash recovery ${x.sync.crashRecovery.path} (~${x.sync.crashRecovery.seconds}s)`);
    for (const r of x.sync.reasons) out.push(`  ${r}`);
  }
  return out.join('\n');
}

function checkOf(m: MetricRisk): string {
  if (!m.forecastMetric) return '—';
  const dur = m.durationSeconds > 0 ? ` for ${m.windowSteps} step(s)` : '';
  return `${m.forecastMetric} ${m.op} ${round(m.threshold)} ${m.unit}${dur}`;
}

function whereOf(m: MetricRisk): string {
  if (m.worstAt === null || !m.worstStep) return m.note ?? '';
  const s = m.worstStep;
  const iv = s.interval ? `, ${s.interval.level}% [${round(s.interval.lower)}, ${round(s.interval.upper)}]` : '';
  return `worst ${iso(m.worstAt)} (mean ${round(s.mean)}${iv})${m.note ? `; ${m.note}` : ''}`;
}

function actionLine(a: VmDecision['actions'][number]): string {
  switch (a.kind) {
    case 'create':
      return `create on ${a.host} (${a.size.vcpus} vCPU, ${a.size.memoryMiB} MiB): ${a.reason}`;
    case 'refresh':
      return `refresh ${a.shadowId}: new one on ${a.host} (${a.size.vcpus} vCPU, ${a.size.memoryMiB} MiB): ${a.detail}`;
    case 'keep':
      return `keep ${a.shadowId}: ${a.detail}`;
    case 'retire':
      return `retire ${a.shadowId} (${a.reason}): ${a.detail}`;
    case 'unplaced':
      return `unplaced (${a.reason}): ${a.detail}`;
  }
}

/** Left-aligned columns. */
function table(rows: string[][]): string[] {
  const w = rows.reduce<number[]>((acc, r) => r.map((c, i) => Math.max(acc[i] ?? 0, c.length)), []);
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ').trimEnd());
}

function p3(v: number): string {
  return v.toFixed(3);
}
function pct(v: number): string {
  return `${Math.round(v * 1000) / 10}%`;
}
function sig(v: number): string {
  return v >= 0.01 ? v.toFixed(3) : v.toExponential(1);
}
function round(v: number): number {
  return Math.round(v * 100) / 100;
}
function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}
function dur(s: number): string {
  return s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}
