/**
 * Retiring a VM's process: the graceful end of an old primary after a failover (issue 5: "shut
 * the old primary down gracefully"), served by POST /v1/vms/:id/retire (retire-routes.ts,
 * src/api/shadow-protocol.ts) for a VM of the VM manager and for a promoted shadow (a VM that
 * failed over before runs as a promoted shadow id). The old primary was fenced: usually paused by QMP `stop`, sometimes
 * killed already. A paused guest cannot react to the power button, and resuming it as it is
 * would make two running copies of the VM (it would answer its clients again). So:
 *   1. isolate: every NIC's link goes down, so that the guest, once it runs, reaches and answers
 *      no one;
 *   2. press the ACPI power button and resume the vCPUs; wait up to `timeoutMs` for the process
 *      to exit (the guest's own shutdown: services stopped, disks unmounted);
 *   3. past the timeout, SIGKILL.
 * A VM that must not run at all is killed at once (see {@link planRetire}). The callers
 * (VmManager, ShadowManager) mark the exit as planned before and remove files and records after,
 * as their delete does.
 */
import type { Clock } from '../core/clock.js';
import type { RetireResult } from '../api/shadow-protocol.js';
import type { HypervisorDriver } from '../hypervisor/driver.js';
import { isHypervisorError } from '../hypervisor/errors.js';
import { errText, type AgentLogger } from './log.js';

/** What a retire did (the protocol's RetireResult without the id). */
export type RetireOutcome = Omit<RetireResult, 'vmId'>;

/** Options of a retire. */
export interface RetireOptions {
  /** How long the guest may take to power off after the button, ms. */
  timeoutMs: number;
}

/** What was observed of the VM before deciding. */
export interface RetireObservation {
  /** The driver's state; null when its monitor did not answer. */
  state: string | null;
  /** Block jobs of the VM (null when they could not be listed). */
  blockJobs: number | null;
  /** The agent lost its lease: no vCPU may run on this host. */
  fenced: boolean;
}

/** How to end the process. */
export type RetirePlan = { kind: 'gone'; reason: string } | { kind: 'kill'; reason: string } | { kind: 'acpi' };

/**
 * Pure: how to end a VM's process. No process: nothing to end. Only a guest that was running or
 * paused by `stop` is given the power button (it has to run again to take it), and only when
 * running it is safe: not on a fenced host, not with a block job (a mirror or backup would
 * carry a resumed guest's writes to a shadow's target, which may be the new primary's disk).
 * Anything else is killed at once: a migrated-away source or an incoming target must never run
 * (the guest lives elsewhere), a crashed or shut-down guest cannot power off, a silent monitor
 * cannot be asked.
 */
export function planRetire(o: RetireObservation): RetirePlan {
  if (o.state === null) return { kind: 'kill', reason: 'its monitor does not answer' };
  if (o.state === 'defined' || o.state === 'exited') return { kind: 'gone', reason: `no process (${o.state})` };
  if (o.state !== 'running' && o.state !== 'paused') return { kind: 'kill', reason: `state ${o.state}: its guest must not (or cannot) run again to power off` };
  if (o.fenced) return { kind: 'kill', reason: 'the host is fenced: no vCPU may run' };
  if (o.blockJobs === null) return { kind: 'kill', reason: 'its block jobs could not be listed' };
  if (o.blockJobs > 0) return { kind: 'kill', reason: `${o.blockJobs} block job(s) still run: a resumed guest would write through them` };
  return { kind: 'acpi' };
}

/** Options of {@link retireProcess}. */
export interface RetireProcessOptions extends RetireOptions {
  clock: Clock;
  log: AgentLogger;
  fenced: boolean;
  /** How long to wait for the monitor's answer before taking it as silent, ms (default 2000). */
  statusDeadlineMs?: number;
}

/**
 * Ends the VM's process as {@link planRetire} says and reports how (see the module comment).
 * `ms` runs from the call to the process's end. `VM_NOT_FOUND` for a VM the driver does not know.
 */
export async function retireProcess(driver: HypervisorDriver, id: string, o: RetireProcessOptions): Promise<RetireOutcome> {
  const t0 = o.clock.now();
  const done = (how: RetireOutcome['how'], reason: string | null, timedOut = false): RetireOutcome => ({ how, ms: o.clock.now() - t0, timedOut, reason });
  const state = await within(driver.status(id), o.statusDeadlineMs ?? 2000).then(
    (st) => st?.state ?? null,
    (e: unknown) => {
      if (isHypervisorError(e, 'VM_NOT_FOUND')) throw e;
      return null; // a monitor that fails: as silent
    },
  );
  const blockJobs = state === 'running' || state === 'paused' ? await driver.queryBlockJobs(id).then((j) => j.length, () => null) : 0;
  const plan = planRetire({ state, blockJobs, fenced: o.fenced });
  if (plan.kind === 'gone') return done('gone', plan.reason);
  const kill = async (reason: string, timedOut = false): Promise<RetireOutcome> => {
    await driver.kill(id);
    o.log.warn({ vmId: id, reason }, 'retire: VM killed');
    return done('killed', reason, timedOut);
  };
  if (plan.kind === 'kill') return kill(plan.reason);
  try {
    await driver.setLink(id, false);
  } catch (e) {
    // Never run a guest that may still reach its clients.
    return kill(`isolating it failed: ${errText(e)}`);
  }
  try {
    const r = await driver.powerdown(id, { timeoutMs: o.timeoutMs, resume: true });
    if (r.reason === 'killed') return done('killed', 'killed by another caller during the power-down');
    const out = done('acpi', null);
    o.log.info({ vmId: id, ms: out.ms, shutdown: r.reason }, 'retire: VM powered off by ACPI');
    return out;
  } catch (e) {
    if (isHypervisorError(e, 'POWERDOWN_TIMEOUT')) return kill(`no power-off within ${o.timeoutMs} ms`, true);
    if (isHypervisorError(e, 'VM_INVALID_STATE')) return done('gone', 'the process ended meanwhile');
    return kill(`the power-down failed: ${errText(e)}`);
  }
}

/** `p`'s value, or null when it has not settled within `ms` (a wall-time I/O deadline, not domain time). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
