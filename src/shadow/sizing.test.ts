import { describe, expect, it } from 'vitest';
import { sizeShadow, type SizingInput } from './sizing.js';
import { forecastOf } from './test-forecasts.js';

const NOW = 1_700_000_000;
const primary = { vcpus: 2, memoryMiB: 1024, maxVcpus: 4, maxMemoryMiB: 2048 };
const input = (over: Partial<SizingInput> = {}): SizingInput => ({
  flavor: 'warm',
  primary,
  forecasts: [forecastOf('cpu_cores', NOW, 300, [0.5, 1.2, 0.8], 0.2, 0.4), forecastOf('mem_rss_mib', NOW, 300, [400, 500, 450], 30, 60)],
  nowSeconds: NOW,
  horizonSeconds: 3600,
  ...over,
});

describe('sizeShadow', () => {
  it('sizes a warm shadow to the 95 % upper bound', () => {
    const s = sizeShadow(input());
    // cpu: max upper 1.2 + 0.4 = 1.6 → 2; memory: (560 − 96) × 1.25 = 580 → 640.
    expect([s.vcpus, s.memoryMiB, s.maxVcpus, s.maxMemoryMiB]).toEqual([2, 640, 4, 2048]);
    expect(s.cpu).toMatchObject({ from: 'forecast', metric: 'cpu_cores', at: NOW + 300, level: 95, clamped: false });
    expect(s.cpu.upper).toBeCloseTo(1.6, 12);
    expect(s.memory).toMatchObject({ from: 'forecast', metric: 'mem_rss_mib', upper: 560, unclamped: 640, clamped: false });
    expect(s.reasons[1]).toBe('memory 640 MiB: (560 MiB RSS − 96 MiB QEMU) × 1.25 → 640 MiB (to 64 MiB)');
  });

  it('can be smaller or larger than the primary, within the clamps', () => {
    const small = sizeShadow(input({ forecasts: [forecastOf('cpu_cores', NOW, 300, [0.01], 0, 0), forecastOf('mem_rss_mib', NOW, 300, [100], 0, 0)] }));
    expect([small.vcpus, small.memoryMiB]).toEqual([1, 128]);
    expect(small.memory.clamped).toBe(true);
    const big = sizeShadow(input({ forecasts: [forecastOf('cpu_cores', NOW, 300, [5], 0.5, 1), forecastOf('mem_rss_mib', NOW, 300, [4000], 0, 0)] }));
    expect([big.vcpus, big.memoryMiB, big.maxVcpus, big.maxMemoryMiB]).toEqual([4, 2048, 4, 2048]);
    expect(big.cpu).toMatchObject({ unclamped: 6, clamped: true });
    const roomy = sizeShadow(input({ options: { maxVcpus: 8 }, forecasts: [forecastOf('cpu_cores', NOW, 300, [5], 0.5, 1)] }));
    expect([roomy.vcpus, roomy.maxVcpus]).toEqual([6, 6]);
  });

  it('reads cpu_pct × vCPUs when there is no cpu_cores forecast, and the primary without forecasts', () => {
    const s = sizeShadow(input({ forecasts: [forecastOf('cpu_pct', NOW, 300, [120], 10, 30)] }));
    expect(s.vcpus).toBe(3); // 150 % of 2 vCPUs = 3 cores
    expect(s.cpu.metric).toBe('cpu_pct');
    expect(s.memoryMiB).toBe(1024);
    expect(s.memory.from).toBe('primary');
    const none = sizeShadow(input({ forecasts: [], nowSeconds: NOW }));
    expect([none.vcpus, none.memoryMiB]).toEqual([2, 1024]);
  });

  it("gives a migrate shadow the primary's exact shape", () => {
    const s = sizeShadow(input({ flavor: 'migrate' }));
    expect([s.vcpus, s.memoryMiB, s.maxVcpus, s.maxMemoryMiB]).toEqual([2, 1024, 4, 2048]);
    expect(s.cpu.from).toBe('primary');
  });
});
