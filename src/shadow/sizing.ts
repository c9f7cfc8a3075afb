/**
 * How big a shadow is (issue 4 §3). Pure.
 *
 * - `migrate` shadows take the primary's exact shape (vCPUs, memory and their hot-plug maxima):
 *   live migration needs the same machine on both ends.
 * - `warm` shadows are sized to the forecast's upper quantile at `level` (default 95 %) over the
 *   horizon, NOT at least the primary's size: a warm shadow costs its size all the time it idles,
 *   and the point of forecasting is to reserve what the VM will need, not what it was given.
 *   It may come out larger than the primary (an overload is forecast) or smaller (the VM is
 *   over-provisioned). Its hot-plug maxima are at least the primary's, so that after promotion
 *   it can hot-add up to the primary's shape (and beyond, to the forecast).
 *   - vCPUs = ceil(max upper cpu_cores), clamped to [1, maxVcpus] (cpu_cores from its own
 *     forecast, else cpu_pct × allocated vCPUs / 100, else the primary's vCPUs);
 *   - memory = ceil to 64 MiB of (max upper mem_rss_mib − QEMU overhead) × headroom, clamped
 *     to [minMemoryMiB, maxMemoryMiB]. RSS counts QEMU itself (~50–90 MiB, PLATFORM.md), which
 *     the shadow's own QEMU adds again, so it is taken off; headroom 1.25 covers the guest page
 *     cache the RSS forecast may not see and the step to the next 64 MiB. No forecast: the
 *     primary's memory.
 */
import type { ShadowFlavor } from '../api/shadow-protocol.js';
import type { SeriesForecast } from '../forecast/types.js';
import { upperOf } from './quantiles.js';
import { pointsWithin } from './risk.js';

/** A VM's shape (the protocol's ShadowSpec fields of the same names). */
export interface VmShape {
  vcpus: number;
  memoryMiB: number;
  maxVcpus: number;
  maxMemoryMiB: number;
}

export interface SizingOptions {
  /** Interval level whose upper bound sizes the shadow (the policy's; default 95). */
  level: number;
  /** Largest vCPU count (default: the primary's maxVcpus). */
  maxVcpus?: number;
  /** Largest memory (default: the primary's maxMemoryMiB). */
  maxMemoryMiB?: number;
  /** Smallest memory a guest boots with (default 128). */
  minMemoryMiB: number;
  /** Multiplier on the forecast memory (default 1.25). */
  memoryHeadroom: number;
  /** QEMU's own RSS, subtracted from mem_rss_mib (default 96, as risk.ts). */
  memoryOverheadMiB: number;
  /** Memory granularity (default 64 MiB). */
  memoryStepMiB: number;
}

export const DEFAULT_SIZING: Readonly<SizingOptions> = Object.freeze({ level: 95, minMemoryMiB: 128, memoryHeadroom: 1.25, memoryOverheadMiB: 96, memoryStepMiB: 64 });

export interface SizingInput {
  flavor: ShadowFlavor;
  primary: VmShape;
  forecasts: readonly SeriesForecast[];
  /** Epoch seconds. */
  nowSeconds: number;
  horizonSeconds: number;
  options?: Partial<SizingOptions>;
}

/** Where one dimension's size came from. */
export interface SizeBasis {
  /** `forecast` (with `metric`), `primary` (no forecast, or a migrate shadow). */
  from: 'forecast' | 'primary';
  metric: string | null;
  /** Max upper bound over the horizon, in the metric's unit (cores or MiB); null from the primary. */
  upper: number | null;
  /** Its step time, epoch seconds. */
  at: number | null;
  /** The interval level read (null: the mean, no interval). */
  level: number | null;
  /** The value before clamping. */
  unclamped: number;
  clamped: boolean;
}

export interface ShadowSize extends VmShape {
  cpu: SizeBasis;
  memory: SizeBasis;
  /** One line per decision, for explain. */
  reasons: string[];
}

/** The shape of a new shadow. */
export function sizeShadow(input: SizingInput): ShadowSize {
  const o: SizingOptions = { ...DEFAULT_SIZING, ...input.options };
  const p = input.primary;
  if (input.flavor === 'migrate') {
    const basis = (v: number): SizeBasis => ({ from: 'primary', metric: null, upper: null, at: null, level: null, unclamped: v, clamped: false });
    return { ...pick(p), cpu: basis(p.vcpus), memory: basis(p.memoryMiB), reasons: ["migrate shadow: the primary's exact shape (live migration needs it)"] };
  }
  const maxVcpus = Math.max(1, Math.floor(o.maxVcpus ?? p.maxVcpus));
  const maxMem = Math.max(o.minMemoryMiB, o.maxMemoryMiB ?? p.maxMemoryMiB);
  const reasons: string[] = [];
  const byMetric = new Map(input.forecasts.map((f) => [f.metric, f]));

  // CPU
  let cpu: SizeBasis;
  const cores = maxUpper(byMetric.get('cpu_cores'), input, o.level, 1);
  const pct = cores ? null : maxUpper(byMetric.get('cpu_pct'), input, o.level, p.vcpus / 100);
  const c = cores ?? pct;
  if (c) {
    const want = Math.ceil(c.value - 1e-9);
    const vcpus = clamp(want, 1, maxVcpus);
    cpu = { from: 'forecast', metric: cores ? 'cpu_cores' : 'cpu_pct', upper: c.value, at: c.t, level: c.level, unclamped: want, clamped: vcpus !== want };
    reasons.push(`vCPUs ${vcpus}: ceil(${round(c.value)} cores, ${c.level !== null ? `${c.level}% upper` : 'mean'} of ${cpu.metric}${cores ? '' : ` × ${p.vcpus} vCPUs / 100`})${cpu.clamped ? ` clamped to [1, ${maxVcpus}]` : ''}`);
  } else {
    cpu = { from: 'primary', metric: null, upper: null, at: null, level: null, unclamped: p.vcpus, clamped: false };
    reasons.push(`vCPUs ${p.vcpus}: no cpu_cores or cpu_pct forecast within the horizon, the primary's`);
  }
  const vcpus = cpu.from === 'forecast' ? clamp(cpu.unclamped, 1, maxVcpus) : p.vcpus;

  // Memory
  let memory: SizeBasis;
  const m = maxUpper(byMetric.get('mem_rss_mib'), input, o.level, 1);
  let memoryMiB: number;
  if (m) {
    const guest = Math.max(0, m.value - o.memoryOverheadMiB) * o.memoryHeadroom;
    const want = Math.ceil(guest / o.memoryStepMiB - 1e-9) * o.memoryStepMiB;
    memoryMiB = clamp(want, o.minMemoryMiB, maxMem);
    memory = { from: 'forecast', metric: 'mem_rss_mib', upper: m.value, at: m.t, level: m.level, unclamped: want, clamped: memoryMiB !== want };
    reasons.push(
      `memory ${memoryMiB} MiB: (${round(m.value)} MiB RSS − ${o.memoryOverheadMiB} MiB QEMU) × ${o.memoryHeadroom} → ${want} MiB (to ${o.memoryStepMiB} MiB)${memory.clamped ? ` clamped to [${o.minMemoryMiB}, ${maxMem}]` : ''}`,
    );
  } else {
    memoryMiB = p.memoryMiB;
    memory = { from: 'primary', metric: null, upper: null, at: null, level: null, unclamped: p.memoryMiB, clamped: false };
    reasons.push(`memory ${p.memoryMiB} MiB: no mem_rss_mib forecast within the horizon, the primary's`);
  }
  return {
    vcpus,
    memoryMiB,
    maxVcpus: Math.max(vcpus, p.maxVcpus, p.vcpus),
    maxMemoryMiB: Math.max(memoryMiB, p.maxMemoryMiB, p.memoryMiB),
    cpu,
    memory,
    reasons,
  };
}

/** Max over the horizon of the `level` % upper bound × scale; null without steps. */
function maxUpper(f: SeriesForecast | undefined, input: SizingInput, level: number, scale: number): { value: number; t: number; level: number | null } | null {
  if (!f) return null;
  let best: { value: number; t: number; level: number | null } | null = null;
  for (const pt of pointsWithin(f, input.nowSeconds, input.horizonSeconds)) {
    const u = upperOf(pt, level);
    const v = u.value * scale;
    if (Number.isFinite(v) && (!best || v > best.value)) best = { value: v, t: pt.t, level: u.level };
  }
  return best;
}

function pick(p: VmShape): VmShape {
  return { vcpus: p.vcpus, memoryMiB: p.memoryMiB, maxVcpus: p.maxVcpus, maxMemoryMiB: p.maxMemoryMiB };
}
function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
function round(v: number): number {
  return Math.round(v * 100) / 100;
}
