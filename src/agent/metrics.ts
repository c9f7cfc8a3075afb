/**
 * The metrics the agent reports, with exactly what each one measures. Served in
 * `GET /v1/info` so that a reader of the samples can look up their meaning.
 */

/** One metric's unit and source. */
export interface MetricDoc {
  unit: string;
  source: string;
}

/** Every metric name the agent may put in a UsageSample. */
export const METRICS = {
  cpu_cores: {
    unit: 'cores',
    source: 'Δ(utime+stime) of the QEMU process, all threads (vCPUs, I/O, device emulation, TCG translation), from /proc/<pid>/stat, ÷ Δ wall time between two samples',
  },
  cpu_pct: { unit: '%', source: 'cpu_cores ÷ the vCPUs plugged now (QMP query-cpus-fast) × 100: share of its vCPU allocation; can exceed 100 (emulation overhead)' },
  mem_rss_mib: { unit: 'MiB', source: 'VmRSS of the QEMU process (/proc/<pid>/status): guest RAM touched + QEMU itself; no balloon device, so no balloon figure' },
  disk_read_iops: { unit: 'ops/s', source: 'Δ rd_operations summed over the VM\'s disks (QMP query-blockstats) ÷ Δt' },
  disk_write_iops: { unit: 'ops/s', source: 'Δ wr_operations summed over the VM\'s disks (QMP query-blockstats) ÷ Δt' },
  disk_read_bps: { unit: 'B/s', source: 'Δ rd_bytes summed over the VM\'s disks (QMP query-blockstats) ÷ Δt' },
  disk_write_bps: { unit: 'B/s', source: 'Δ wr_bytes summed over the VM\'s disks (QMP query-blockstats) ÷ Δt' },
  net_rx_bps: {
    unit: 'B/s',
    source: 'Δ bytes into the guest summed over its NICs ÷ Δt, only when the driver has per-NIC counters. QEMU user-mode networking (what the lab uses) has none: not reported',
  },
  net_tx_bps: { unit: 'B/s', source: 'Δ bytes out of the guest summed over its NICs ÷ Δt, only where the driver has per-NIC counters (not with user-mode networking)' },
  probe_ok: { unit: 'bool', source: '1 when GET <endpoint><probePath> answered 2xx within the probe timeout, else 0; only VMs whose vCPUs run are probed' },
  probe_latency_ms: { unit: 'ms', source: 'time from connect to the end of the answer of that probe (successful probes only)' },
} as const satisfies Record<string, MetricDoc>;

/** A metric name. */
export type MetricName = keyof typeof METRICS;
