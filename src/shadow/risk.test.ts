import { describe, expect, it } from 'vitest';
import { parseCriteria } from '../failover/criteria/parse.js';
import { assessRisk, binomialTail, countForecastMisses, priorityWeight, probeCounts, type RiskInput } from './risk.js';
import { forecastOf } from './test-forecasts.js';

const NOW = 1_700_000_000;
const STEP = 300;
const base = (over: Partial<RiskInput> = {}): RiskInput => ({
  vmId: 'vm1',
  nowSeconds: NOW,
  horizonSeconds: 3600,
  allocation: { vcpus: 2, memoryMiB: 1024 },
  criteria: parseCriteria('cpu > 90% for 5m or host_lost'),
  forecasts: [forecastOf('cpu_pct', NOW + STEP, STEP, [50, 80, 90, 60])],
  failoverPriority: 0,
  ...over,
});

describe('assessRisk', () => {
  it('a few probes say little: one failure out of two weighs as one out of ten', () => {
    const a = assessRisk(base({ health: { probes: { failed: 1, total: 2 } } }));
    expect(a.health.probes.fraction).toBe(0.1);
    expect(assessRisk(base({ health: { probes: { failed: 10, total: 10 } } })).health.probes.fraction).toBe(1);
  });

  it('takes the max over steps of P(cpu_pct > 90)', () => {
    const a = assessRisk(base());
    const cpu = a.metrics[0];
    expect(cpu).toMatchObject({ source: 'criteria', label: 'cpu > 90% for 5m', forecastMetric: 'cpu_pct', op: '>', threshold: 90, windowSteps: 1, steps: 4, worstAt: NOW + 3 * STEP });
    expect(cpu.probability).toBeCloseTo(0.5, 12);
    expect(cpu.worstStep).toEqual({ t: NOW + 3 * STEP, mean: 90, interval: { level: 95, lower: 70, upper: 110 } });
    // Allocation: cpu_pct > 100 (no cpu_cores forecast): the 80 % upper bound of the 90 % step.
    expect(a.metrics[1]).toMatchObject({ source: 'allocation', forecastMetric: 'cpu_pct', threshold: 100 });
    expect(a.metrics[1].probability).toBeCloseTo(0.1, 12);
    expect(a.metrics[2]).toMatchObject({ source: 'allocation', forecastMetric: null, probability: 0, note: 'no forecast of mem_rss_mib' });
    expect(a.breachProbability).toBeCloseTo(0.5, 12);
    expect(a.worst?.label).toBe('cpu > 90% for 5m');
    expect([a.raw, a.weight, a.risk].map((v) => +v.toFixed(12))).toEqual([0.5, 1, 0.5]);
  });

  it('needs consecutive steps for a longer for: max over windows of the min', () => {
    const a = assessRisk(base({ criteria: parseCriteria('cpu > 90% for 10m') }));
    const cpu = a.metrics[0];
    expect(cpu.windowSteps).toBe(2);
    expect(cpu.probability).toBeCloseTo(0.1, 12); // window (80, 90): min(0.1, 0.5)
    expect(cpu.worstAt).toBe(NOW + 2 * STEP);
    expect(cpu.worstStep?.t).toBe(NOW + 2 * STEP);
  });

  it('converts cpu % to cores when only cpu_cores is forecast, and memory % to MiB', () => {
    const a = assessRisk(
      base({
        criteria: parseCriteria('cpu > 90% or memory > 50%'),
        forecasts: [forecastOf('cpu_cores', NOW, STEP, [1.8], 0.2, 0.4), forecastOf('mem_rss_mib', NOW, STEP, [512], 50, 100)],
      }),
    );
    expect(a.metrics.map((m) => [m.label, m.forecastMetric, m.threshold])).toEqual([
      ['cpu > 90%', 'cpu_cores', 1.8],
      ['memory > 50%', 'mem_rss_mib', 512],
      ['cpu over its 2 allocated vCPUs', 'cpu_cores', 2],
      ['memory over its 1024 MiB allocation', 'mem_rss_mib', 1120],
    ]);
    expect(a.metrics[0].probability).toBeCloseTo(0.5, 12);
    expect(a.metrics[1].probability).toBeCloseTo(0.5, 12);
    expect(a.metrics[2].probability).toBeCloseTo(0.1, 12);
    expect(a.metrics[3].probability).toBeCloseTo(0.025 * Math.exp(-(1120 - 612) / 50), 12);
  });

  it('ignores steps outside the horizon and in the past', () => {
    const f = forecastOf('cpu_pct', NOW - 2 * STEP, STEP, [99, 99, 10, 10, 99]); // 99 at now − 600, now − 300, now + 600
    const a = assessRisk(base({ forecasts: [f], horizonSeconds: 300 }));
    expect(a.metrics[0].steps).toBe(2); // now, now + 300
    expect(a.metrics[0].probability).toBeCloseTo(0.025 * Math.exp(-6), 12);
    const stale = assessRisk(base({ nowSeconds: NOW + 10 * 3600 }));
    expect(stale.metrics[0]).toMatchObject({ probability: 0, steps: 0, worstAt: null, note: 'the cpu_pct forecast has no step within the horizon' });
  });

  it('raises risk with health terms and weights it by priority', () => {
    const a = assessRisk(base({ health: { probes: { failed: 3, total: 30 }, anomaly: { checked: 20, outside: 5 } }, failoverPriority: 2 }));
    expect(a.health.probes).toEqual({ failed: 3, total: 30, fraction: 0.1, weight: 1, term: 0.1 });
    expect(a.health.anomaly.excess).toBeCloseTo(0.2 / 0.95, 12);
    expect(a.health.anomaly.pValue).toBeCloseTo(0.0025739, 6);
    expect(a.health.anomaly.significant).toBe(true);
    expect(a.health.anomaly.term).toBeCloseTo(0.1 / 0.95, 12);
    expect(a.raw).toBeCloseTo(1 - 0.5 * 0.9 * (1 - 0.1 / 0.95), 12);
    expect(a.weight).toBe(1.5);
    expect(a.risk).toBeCloseTo(Math.min(1, a.raw * 1.5), 12);
    // Two misses in 20 are what 5 % looks like: not significant, no term.
    const b = assessRisk(base({ health: { anomaly: { checked: 20, outside: 2 } } }));
    expect(b.health.anomaly.significant).toBe(false);
    expect(b.health.anomaly.term).toBe(0);
  });

  it('clamps the priority weight', () => {
    expect([-10, -1, 0, 1, 4, 10].map((p) => priorityWeight(p))).toEqual([0.25, 0.75, 1, 1.25, 2, 2]);
  });
});

describe('health helpers', () => {
  it('binomialTail matches known values', () => {
    expect(binomialTail(20, 0, 0.05)).toBe(1);
    expect(binomialTail(20, 2, 0.05)).toBeCloseTo(1 - 0.95 ** 20 - 20 * 0.05 * 0.95 ** 19, 12);
    expect(binomialTail(10, 10, 0.5)).toBeCloseTo(1 / 1024, 14);
    expect(binomialTail(100_000, 5_000, 0.05)).toBeGreaterThan(0.4);
    expect(binomialTail(100_000, 5_000, 0.05)).toBeLessThan(0.6);
  });

  it('probeCounts counts the last N', () => {
    const probes = [0, 0, 1, 1, 0, 1].map((value) => ({ value }));
    expect(probeCounts(probes, 4)).toEqual({ failed: 1, total: 4 });
    expect(probeCounts(probes)).toEqual({ failed: 3, total: 6 });
  });

  it('countForecastMisses matches samples to the nearest step', () => {
    const f = forecastOf('cpu_pct', NOW, 60, [50, 50, 50]); // 95 %: [30, 70]
    const samples = [
      { t: NOW - 100, value: 99 }, // before the forecast: not checked
      { t: NOW + 5, value: 71 }, // outside
      { t: NOW + 55, value: 65 }, // inside the 95 %, outside the 80 % interval
      { t: NOW + 125, value: 29 }, // outside
      { t: NOW + 500, value: 99 }, // after: not checked
    ];
    expect(countForecastMisses(f, samples)).toEqual({ checked: 3, outside: 2 });
    expect(countForecastMisses(f, samples, 80)).toEqual({ checked: 3, outside: 3 }); // 80 %: [40, 60]
  });
});
