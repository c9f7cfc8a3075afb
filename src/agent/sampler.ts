/**
 * The sampling loop: every interval, for every VM with a process, one driver reading
 * (/proc/<pid> + QMP query-blockstats) turned into rates against the previous reading, and a
 * probe of the guest service; samples go into a bounded buffer that is posted to the server.
 *
 * Ticks are scheduled on a fixed grid (start + k × interval), so lateness does not accumulate;
 * a pass that overruns skips the ticks it missed. The loop measures itself: how late each tick
 * fired (jitter) and the agent's own CPU time per VM sampled.
 *
 * Cheap by design: a pass reads `driver.stats` (one QMP command + three /proc files) and
 * probes; the VM's run state and vCPU count come from a cached `driver.status` that any event
 * of the VM (STOP, RESUME, SHUTDOWN, EXITED, ...) or age (`statusRefreshMs`) invalidates.
 * A VM whose process is gone gets one `driver.status` call, which lets the driver notice
 * and report the exit (supervision).
 */
import type { Clock } from '../core/clock.js';
import type { SamplerStats, UsageSample } from '../api/protocol.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import { isHypervisorError } from '../hypervisor/errors.js';
import type { VmStats } from '../hypervisor/types.js';
import { errText, type AgentLogger } from './log.js';
import { probeHttp, type ProbeResult } from './probe.js';
import type { SampleBuffer } from './sample-buffer.js';
import type { ServerClient } from './server-client.js';
import { pause } from './timing.js';
import { probeSamples, usageSamples } from './usage.js';

/** The VMs to sample. */
export interface SampleSource {
  ids(): string[];
  /** The probe URL of a VM, or null (not probed). */
  probeTarget(id: string): { url: string } | null;
}

/** Options of {@link Sampler}. */
export interface SamplerOptions {
  agent: string;
  driver: HypervisorDriver;
  source: SampleSource;
  clock: Clock;
  log: AgentLogger;
  buffer: SampleBuffer;
  client: ServerClient;
  intervalMs: number;
  /** Probe timeout, ms (default 2000, at most the interval). */
  probeTimeoutMs?: number;
  /** Samples per POST (default 2000). */
  batchSize?: number;
  /** The probe (tests replace it). */
  probe?: (url: string, signal: AbortSignal) => Promise<ProbeResult>;
  /** This process's CPU time, µs (default process.cpuUsage: user + system). */
  cpuUsageUs?: () => number;
  /** Longest a cached run state / vCPU count is used without an event, ms (default 30000). */
  statusRefreshMs?: number;
}

export type { SamplerStats } from '../api/protocol.js';

const WINDOW = 256;

/** See the module comment. */
export class Sampler {
  private readonly prev = new Map<string, VmStats>();
  private readonly latest = new Map<string, UsageSample[]>();
  private jitter: number[] = [];
  private cpuPerVm: number[] = [];
  private passWall: number[] = [];
  private passes = 0;
  private skippedTicks = 0;
  private vmSamples = 0;
  private posted = 0;
  private lastPostError: string | null = null;
  private flushing: Promise<void> | null = null;
  /** Cached run state and vCPUs per VM (see the module comment). */
  private readonly observed = new Map<string, { pid: number | null; state: string; vcpus: number; atMs: number }>();
  private readonly unsubscribe: () => void;

  constructor(private readonly o: SamplerOptions) {
    this.unsubscribe = o.driver.subscribe((ev) => this.observed.delete(ev.vmId));
  }

  /** Stops listening to driver events. */
  close(): void {
    this.unsubscribe();
  }

  /** Forgets the cached status of a VM (after an operation that changes its vCPUs). */
  invalidate(id: string): void {
    this.observed.delete(id);
  }

  /** The samples of the VM's last pass (GET /v1/vms/:id/stats). */
  latestSamples(id: string): UsageSample[] {
    return this.latest.get(id) ?? [];
  }

  /** Samples until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs } = this.o;
    const start = clock.now();
    let k = 0;
    while (!signal.aborted) {
      const due = start + k * intervalMs;
      const wait = due - clock.now();
      if (wait > 0 && (await pause(clock, wait, signal)) === 'aborted') break;
      this.record(this.jitter, clock.now() - due);
      await this.samplePass(signal);
      if (signal.aborted) break;
      this.flushSoon(signal);
      // Next tick on the grid; ticks already past are skipped, not run back to back.
      const next = Math.max(k + 1, Math.ceil((clock.now() - start) / intervalMs));
      this.skippedTicks += next - (k + 1);
      k = next;
    }
    await this.flushing;
  }

  /** One pass over every VM; returns the samples it produced (also buffered). */
  async samplePass(signal?: AbortSignal): Promise<UsageSample[]> {
    const cpu = this.o.cpuUsageUs ?? defaultCpuUsageUs;
    const c0 = cpu();
    const w0 = this.o.clock.now();
    const ids = this.o.source.ids();
    const perVm = await Promise.all(ids.map((id) => this.sampleVm(id, signal)));
    const sampled = perVm.filter((s) => s !== null).length;
    const out = perVm.flatMap((s) => s ?? []);
    this.o.buffer.push(out);
    this.passes++;
    this.record(this.passWall, this.o.clock.now() - w0);
    if (sampled > 0) this.record(this.cpuPerVm, (cpu() - c0) / 1000 / sampled);
    this.vmSamples += sampled;
    return out;
  }

  /** Posts buffered samples until the buffer is empty or a post fails. */
  async flush(signal?: AbortSignal): Promise<void> {
    const { buffer, client, agent } = this.o;
    const n = this.o.batchSize ?? 2000;
    while (buffer.size > 0 && !signal?.aborted) {
      const batch = buffer.peek(n);
      const droppedBefore = buffer.dropped;
      try {
        const r = await client.postSamples({ agent, samples: batch }, signal);
        buffer.ack(batch.length, droppedBefore);
        this.posted += r.accepted;
        this.lastPostError = null;
      } catch (e) {
        if (this.lastPostError === null) this.o.log.warn({ buffered: buffer.size, err: errText(e) }, 'posting samples failed; keeping them');
        this.lastPostError = errText(e);
        return;
      }
    }
  }

  /** The sampler's figures about itself. */
  stats(): SamplerStats {
    return {
      intervalMs: this.o.intervalMs,
      passes: this.passes,
      skippedTicks: this.skippedTicks,
      vmSamples: this.vmSamples,
      jitterMs: { p50: quantile(this.jitter, 0.5), p95: quantile(this.jitter, 0.95), max: this.jitter.length ? Math.max(...this.jitter) : 0 },
      cpuMsPerVm: { mean: mean(this.cpuPerVm), max: this.cpuPerVm.length ? Math.max(...this.cpuPerVm) : 0 },
      passMs: quantile(this.passWall, 0.5),
      buffered: this.o.buffer.size,
      dropped: this.o.buffer.dropped,
      posted: this.posted,
      lastPostError: this.lastPostError,
    };
  }

  private flushSoon(signal: AbortSignal): void {
    if (this.flushing) return;
    this.flushing = this.flush(signal).finally(() => (this.flushing = null));
  }

  /** One VM: null when it has no process (nothing sampled). */
  private async sampleVm(id: string, signal?: AbortSignal): Promise<UsageSample[] | null> {
    const { driver, clock } = this.o;
    let cur: VmStats;
    let obs: { pid: number | null; state: string; vcpus: number; atMs: number } | undefined;
    try {
      cur = await driver.stats(id);
      obs = this.observed.get(id);
      if (!obs || obs.pid !== cur.pid || clock.now() - obs.atMs > (this.o.statusRefreshMs ?? 30_000)) {
        const st = await driver.status(id);
        obs = { pid: st.pid, state: st.state, vcpus: st.vcpus ?? 1, atMs: clock.now() };
        this.observed.set(id, obs);
      }
    } catch (e) {
      this.prev.delete(id);
      this.latest.delete(id);
      this.observed.delete(id);
      // No process: ask for the status once, so the driver notices the exit and reports it.
      if (isHypervisorError(e, 'VM_INVALID_STATE')) await driver.status(id).catch(() => undefined);
      else this.o.log.debug({ vmId: id, err: errText(e) }, 'sampling a VM failed');
      return null;
    }
    const out = usageSamples(this.prev.get(id) ?? null, cur, obs.vcpus);
    this.prev.set(id, cur);
    const target = obs.state === 'running' ? this.o.source.probeTarget(id) : null;
    if (target) {
      // At most half the interval: a hanging guest must not push the next tick back.
      const timeoutMs = Math.min(this.o.probeTimeoutMs ?? 2000, this.o.intervalMs / 2);
      const at = clock.now();
      const probe = this.o.probe
        ? await this.o.probe(target.url, signal ?? new AbortController().signal)
        : await probeHttp(target.url, { clock, timeoutMs, signal });
      out.push(...probeSamples(id, at, probe));
    }
    this.latest.set(id, out);
    return out;
  }

  private record(arr: number[], v: number): void {
    arr.push(v);
    if (arr.length > WINDOW) arr.shift();
  }
}

function defaultCpuUsageUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
