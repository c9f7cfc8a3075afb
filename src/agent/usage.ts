/**
 * Usage math: two cumulative readings of a VM (VmStats from the driver) in, rates out as
 * protocol UsageSamples. Pure; see metrics.ts for what each metric measures.
 */
import type { UsageSample } from '../api/protocol.js';
import type { VmStats } from '../hypervisor/types.js';
import { METRICS, type MetricName } from './metrics.js';

const MiB = 1024 * 1024;

function sample(vmId: string, t: number, metric: MetricName, value: number): UsageSample {
  return { vmId, t, metric, value, unit: METRICS[metric].unit };
}

/**
 * The samples of one VM at `cur`. Rates need `prev` of the same process (same pid, earlier
 * time, counters not going back); without it only the memory gauge is reported. `vcpus` is
 * the VM's plugged vCPU count (the allocation `cpu_pct` is relative to).
 */
export function usageSamples(prev: VmStats | null, cur: VmStats, vcpus: number): UsageSample[] {
  const t = cur.atMs / 1000;
  const out: UsageSample[] = [sample(cur.vmId, t, 'mem_rss_mib', cur.rssBytes / MiB)];
  if (!prev || prev.pid !== cur.pid || cur.atMs <= prev.atMs) return out;
  const dtS = (cur.atMs - prev.atMs) / 1000;
  const dCpuMs = cur.cpuTimeMs - prev.cpuTimeMs;
  if (dCpuMs >= 0) {
    const cores = dCpuMs / 1000 / dtS;
    out.push(sample(cur.vmId, t, 'cpu_cores', cores));
    if (vcpus > 0) out.push(sample(cur.vmId, t, 'cpu_pct', (100 * cores) / vcpus));
  }
  // Disks present in both readings (a hot-plugged disk counts from its second reading).
  let rdOps = 0, wrOps = 0, rdBytes = 0, wrBytes = 0, disks = 0;
  for (const d of cur.disks) {
    const p = prev.disks.find((x) => x.id === d.id);
    if (!p || d.rdOps < p.rdOps || d.wrOps < p.wrOps || d.rdBytes < p.rdBytes || d.wrBytes < p.wrBytes) continue;
    rdOps += d.rdOps - p.rdOps;
    wrOps += d.wrOps - p.wrOps;
    rdBytes += d.rdBytes - p.rdBytes;
    wrBytes += d.wrBytes - p.wrBytes;
    disks++;
  }
  if (disks > 0) {
    out.push(sample(cur.vmId, t, 'disk_read_iops', rdOps / dtS));
    out.push(sample(cur.vmId, t, 'disk_write_iops', wrOps / dtS));
    out.push(sample(cur.vmId, t, 'disk_read_bps', rdBytes / dtS));
    out.push(sample(cur.vmId, t, 'disk_write_bps', wrBytes / dtS));
  }
  // Network only where the driver measured per-NIC counters (null: not measurable).
  if (cur.net && prev.net && cur.net.length > 0) {
    let rx = 0, tx = 0, nics = 0;
    for (const n of cur.net) {
      const p = prev.net.find((x) => x.id === n.id);
      if (!p || n.rxBytes < p.rxBytes || n.txBytes < p.txBytes) continue;
      rx += n.rxBytes - p.rxBytes;
      tx += n.txBytes - p.txBytes;
      nics++;
    }
    if (nics > 0) {
      out.push(sample(cur.vmId, t, 'net_rx_bps', rx / dtS));
      out.push(sample(cur.vmId, t, 'net_tx_bps', tx / dtS));
    }
  }
  return out;
}

/** The probe's samples: `probe_ok` always, `probe_latency_ms` when it succeeded. */
export function probeSamples(vmId: string, atMs: number, probe: { ok: boolean; latencyMs: number }): UsageSample[] {
  const t = atMs / 1000;
  const out = [sample(vmId, t, 'probe_ok', probe.ok ? 1 : 0)];
  if (probe.ok) out.push(sample(vmId, t, 'probe_latency_ms', probe.latencyMs));
  return out;
}
