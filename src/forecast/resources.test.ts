import { describe, expect, it } from 'vitest';
import { toResourceForms } from './resources.js';

const BB = { cpuCores: 4, cpuMhz: 10400, memKb: 16777216 };

describe('toResourceForms', () => {
  it('cpu_mhz → cores through the per-core speed', () => {
    const [f] = toResourceForms('cpu_mhz', 'MHz', BB);
    expect([f.resource, f.unit]).toEqual(['cpu_cores', 'cores']);
    expect(f.scale(2600)).toBeCloseTo(1, 12);
    expect(f.scale(10400)).toBeCloseTo(4, 12);
    expect(f.derivation).toMatch(/2600 MHz per core/);
  });
  it('cpu_pct → cores when the core count is known, nothing otherwise', () => {
    const [f] = toResourceForms('cpu_pct', '%', BB);
    expect(f.resource).toBe('cpu_cores');
    expect(f.scale(50)).toBe(2);
    expect(toResourceForms('cpu_pct', '%', {})).toEqual([]);
    expect(toResourceForms('cpu_mhz', 'MHz', { cpuCores: 4 })).toEqual([]);
  });
  it('mem_kb → GiB (KB are KiB: 2097152 KB = 2 GiB)', () => {
    const [f] = toResourceForms('mem_kb', 'KB', BB);
    expect([f.resource, f.unit]).toEqual(['memory_gib', 'GiB']);
    expect(f.scale(2097152)).toBe(2);
  });
  it('disk throughput → MiB/s, saying that Bitbrains has throughput, not IOPS', () => {
    for (const m of ['disk_read_kbs', 'disk_write_kbs']) {
      const [f] = toResourceForms(m, 'KB/s', BB);
      expect([f.resource, f.unit]).toEqual(['disk_throughput_mbs', 'MiB/s']);
      expect(f.scale(2048)).toBe(2);
      expect(f.derivation).toMatch(/not IOPS/);
    }
  });
  it('network KB/s → Mbit/s', () => {
    for (const m of ['net_rx_kbs', 'net_tx_kbs']) {
      const [f] = toResourceForms(m, 'KB/s', BB);
      expect([f.resource, f.unit]).toEqual(['net_bandwidth_mbits', 'Mbit/s']);
      expect(f.scale(1000)).toBeCloseTo(8.192, 12); // 1000 KiB/s = 8,192,000 bit/s
    }
  });
  it('maps generic metrics by unit where unambiguous', () => {
    expect(toResourceForms('memory', 'MB', undefined)[0].scale(512)).toBe(0.5);
    expect(toResourceForms('cpu', '%', { cpuCores: 8 })[0].scale(25)).toBe(2);
    expect(toResourceForms('disk_ops', 'IOPS', undefined)[0].resource).toBe('disk_iops');
    expect(toResourceForms('net_in', 'MB/s', undefined)[0].scale(1)).toBeCloseTo(8.388608, 12);
  });
  it('gives nothing for metrics without a resource meaning', () => {
    expect(toResourceForms('value', '', undefined)).toEqual([]);
    expect(toResourceForms('temperature', 'C', BB)).toEqual([]);
    expect(toResourceForms('load', '%', BB)).toEqual([]);
  });
  it('scales are increasing, so interval bounds keep their order', () => {
    for (const m of ['cpu_mhz', 'cpu_pct', 'mem_kb', 'disk_read_kbs', 'net_tx_kbs']) {
      const [f] = toResourceForms(m, '', BB);
      expect(f.scale(1)).toBeGreaterThan(f.scale(0));
      expect(f.scale(0)).toBe(0);
    }
  });
});

describe('resourceForecasts', () => {
  it('scales the mean and every bound of a Bitbrains CPU forecast into cores', async () => {
    const { resourceForecasts } = await import('./resources.js');
    const f = {
      series: '15', metric: 'cpu_mhz', unit: 'MHz', stepSeconds: 300, model: 'm',
      points: [{ t: 1, mean: 1300, intervals: { '80': [650, 2600] as [number, number] } }],
    };
    const [cores] = resourceForecasts(f, { cpuCores: 2, cpuMhz: 5200 });
    expect(cores.resource).toBe('cpu_cores');
    expect(cores.points[0].mean).toBeCloseTo(0.5);
    expect(cores.points[0].intervals['80']).toEqual([0.25, 1]);
  });
});
