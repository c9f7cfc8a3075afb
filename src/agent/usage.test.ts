import { describe, expect, it } from 'vitest';
import { parseProcStat, parseVmRssBytes } from '../hypervisor/qemu/proc-stats.js';
import type { VmStats } from '../hypervisor/types.js';
import { probeSamples, usageSamples } from './usage.js';

const TICKS = 100; // CLK_TCK

/** A /proc/<pid>/stat line (fields 1..24) with the given utime/stime; the comm has spaces and parens. */
function statLine(pid: number, utime: number, stime: number): string {
  const f = ['S', 1, pid, pid, 0, -1, 4194560, 100, 0, 0, 0, utime, stime, 0, 0, 20, 0, 3, 0, 12345, 700000000, 50000];
  return `${pid} (qemu-system-x86 (umbra)) ${f.join(' ')}`;
}

/** VmStats from fake /proc text, as readProcessStats would build them. */
function reading(atMs: number, pid: number, stat: string, status: string, disks: VmStats['disks'], net: VmStats['net'] = null): VmStats {
  const st = parseProcStat(stat);
  return { vmId: 'vm1', atMs, pid, cpuTimeMs: ((st.utimeTicks + st.stimeTicks) * 1000) / TICKS, rssBytes: parseVmRssBytes(status), processIo: null, disks, net };
}

const disk = (rdOps: number, wrOps: number, rdBytes: number, wrBytes: number) => ({ id: 'data', rdOps, wrOps, rdBytes, wrBytes, flushOps: 0 });
const value = (s: ReturnType<typeof usageSamples>, m: string) => s.find((x) => x.metric === m)?.value;

describe('usageSamples (from fake /proc readings)', () => {
  const t0 = 1_700_000_000_000;
  const a = reading(t0, 42, statLine(42, 1000, 500), 'Name:\tqemu\nVmRSS:\t  204800 kB\n', [disk(100, 50, 1_000_000, 4_000_000)]);
  // 10 s later: +80 user ticks, +20 system ticks = 1000 ms of CPU; +200 reads, +1000 writes.
  const b = reading(t0 + 10_000, 42, statLine(42, 1080, 520), 'VmRSS:\t  215040 kB\n', [disk(300, 1050, 3_048_576, 14_485_760)]);

  it('turns CPU-time deltas into cores and % of the allocation', () => {
    const s = usageSamples(a, b, 2);
    expect(value(s, 'cpu_cores')).toBeCloseTo(0.1, 12); // 1 s of CPU in 10 s
    expect(value(s, 'cpu_pct')).toBeCloseTo(5, 12); // of 2 vCPUs
    expect(s.every((x) => x.t === (t0 + 10_000) / 1000 && x.vmId === 'vm1')).toBe(true);
  });

  it('reports RSS in MiB and disk rates from blockstats deltas', () => {
    const s = usageSamples(a, b, 1);
    expect(value(s, 'mem_rss_mib')).toBe(210);
    expect(value(s, 'disk_read_iops')).toBe(20);
    expect(value(s, 'disk_write_iops')).toBe(100);
    expect(value(s, 'disk_read_bps')).toBeCloseTo(204857.6, 6);
    expect(value(s, 'disk_write_bps')).toBe(1048576);
    expect(s.find((x) => x.metric === 'disk_write_bps')?.unit).toBe('B/s');
  });

  it('reports no network rates when the driver has no NIC counters (user-mode networking)', () => {
    const s = usageSamples(a, b, 1);
    expect(s.some((x) => x.metric.startsWith('net_'))).toBe(false);
  });

  it('reports network rates where NIC counters exist', () => {
    const na = { ...a, net: [{ id: 'n0', rxBytes: 1000, txBytes: 0 }] };
    const nb = { ...b, net: [{ id: 'n0', rxBytes: 101_000, txBytes: 5_000 }] };
    const s = usageSamples(na, nb, 1);
    expect(value(s, 'net_rx_bps')).toBe(10_000);
    expect(value(s, 'net_tx_bps')).toBe(500);
  });

  it('gives only the memory gauge without a usable previous reading', () => {
    expect(usageSamples(null, b, 1).map((x) => x.metric)).toEqual(['mem_rss_mib']);
    const restarted = { ...b, pid: 43 };
    expect(usageSamples(a, restarted, 1).map((x) => x.metric)).toEqual(['mem_rss_mib']);
    expect(usageSamples(b, a, 1).map((x) => x.metric)).toEqual(['mem_rss_mib']); // time went back
  });

  it('skips a disk whose counters went back (a reset device) and one that appeared', () => {
    const c = reading(t0 + 20_000, 42, statLine(42, 1080, 520), 'VmRSS: 1 kB\n', [disk(0, 0, 0, 0), { ...disk(5, 5, 5, 5), id: 'new' }]);
    expect(usageSamples(b, c, 1).some((x) => x.metric.startsWith('disk_'))).toBe(false);
  });

  it('probe samples: ok with latency, failure without', () => {
    expect(probeSamples('vm1', 5000, { ok: true, latencyMs: 3.5 })).toEqual([
      { vmId: 'vm1', t: 5, metric: 'probe_ok', value: 1, unit: 'bool' },
      { vmId: 'vm1', t: 5, metric: 'probe_latency_ms', value: 3.5, unit: 'ms' },
    ]);
    expect(probeSamples('vm1', 5000, { ok: false, latencyMs: 2000 }).map((x) => [x.metric, x.value])).toEqual([['probe_ok', 0]]);
  });
});
