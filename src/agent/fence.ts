/**
 * Fencing: when the agent lost its lease, it stops its primaries' execution so that a shadow
 * promoted on another host is never a second writer. A VM is fenced with QMP `stop` (vCPUs
 * paused, process and disk state kept: the failover controller decides later whether it
 * continues or is killed); a VM whose monitor does not answer within `timeoutMs` is killed,
 * because an unfenced primary is worse than a lost one.
 */
import type { Clock } from '../core/clock.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import { isHypervisorError } from '../hypervisor/errors.js';
import { errText, type AgentLogger } from './log.js';
import { pause } from './timing.js';

/** A VM to fence and its labels. */
export interface FenceTarget {
  id: string;
  labels: Record<string, string>;
}

/** What {@link fenceVms} did, per VM. */
export interface FenceReport {
  /** Paused with QMP `stop`. */
  stopped: string[];
  /** Killed because `stop` failed or timed out. */
  killed: string[];
  /** Left alone, with why (`no process`, `already paused`, `shadow`). */
  skipped: { id: string; reason: string }[];
  /** Could be neither stopped nor killed. */
  failed: { id: string; error: string }[];
}

/** Options of {@link fenceVms}. */
export interface FenceOptions {
  clock: Clock;
  log: AgentLogger;
  /** How long `stop` may take before the VM is killed instead (ms, default 2000). */
  timeoutMs?: number;
}

/** VMs labelled `role: shadow` are not primaries: fencing leaves them (they write no primary disk). */
export const SHADOW_LABEL = { key: 'role', value: 'shadow' } as const;

/**
 * Fences every primary of this host, all at once: `stop` each running VM, kill the ones that
 * do not stop in time. VMs without a process, already paused (or never started), and shadows
 * are skipped. Never throws: the report says what happened to each VM.
 */
export async function fenceVms(driver: HypervisorDriver, targets: readonly FenceTarget[], opts: FenceOptions): Promise<FenceReport> {
  const report: FenceReport = { stopped: [], killed: [], skipped: [], failed: [] };
  const timeoutMs = opts.timeoutMs ?? 2000;
  await Promise.all(
    targets.map(async ({ id, labels }): Promise<void> => {
      const skip = (reason: string) => void report.skipped.push({ id, reason });
      if (labels[SHADOW_LABEL.key] === SHADOW_LABEL.value) return skip('shadow');
      let state: string;
      try {
        state = (await driver.status(id)).state;
      } catch (e) {
        // No answer from the monitor: we cannot know whether it runs, so it must not.
        if (isHypervisorError(e, 'VM_NOT_FOUND')) return skip('no process');
        return kill(id, `status failed: ${errText(e)}`);
      }
      if (state === 'defined' || state === 'exited') return skip('no process');
      if (state !== 'running') return skip(`already ${state}`);
      const timer = new AbortController();
      const outcome = await Promise.race([
        driver.stop(id).then(
          () => 'stopped' as const,
          (e: unknown) => `stop failed: ${errText(e)}`,
        ),
        pause(opts.clock, timeoutMs, timer.signal).then(() => `stop took longer than ${timeoutMs} ms`),
      ]);
      timer.abort();
      if (outcome === 'stopped') {
        report.stopped.push(id);
        opts.log.warn({ vmId: id }, 'fenced: VM paused');
        return;
      }
      return kill(id, outcome);
    }),
  );
  return report;

  async function kill(id: string, why: string): Promise<void> {
    try {
      await driver.kill(id);
      report.killed.push(id);
      opts.log.error({ vmId: id, why }, 'fenced: VM killed');
    } catch (e) {
      report.failed.push({ id, error: `${why}; kill failed: ${errText(e)}` });
      opts.log.error({ vmId: id, why, err: errText(e) }, 'fencing a VM failed');
    }
  }
}
