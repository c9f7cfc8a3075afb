/**
 * The failover pipeline as data (issue 5 §3, §6): the steps of each path in order, and the
 * record that persists the intent and every finished step so that a controller killed halfway
 * resumes where it was. Pure: the controller (controller.ts) does the side effects.
 *
 * Steps (each idempotent on the agents, so redoing an unfinished one is safe):
 * - `hook_before_fence`, `hook_after_traffic`, `hook_after_failover`: the policy's hooks
 *   (hooks.ts); a failed `veto` hook before fencing aborts the failover, nothing changed;
 * - `fence`: the primary can no longer write: its agent pauses it (or it is already gone); when
 *   its agent is unreachable, wait until its lease has expired (the agent fences itself);
 * - `stop_replication`: the primary's mirror into the shadow's target is stopped (a warm guest
 *   must never mount a disk a mirror still writes);
 * - `promote`: warm: the shadow guest takes the synchronized disk; cold: a VM boots from it;
 *   migrate: the RAM moves by live migration (no fence first: the source ends paused by it);
 * - `resize`: vCPUs and memory hot-added up to the shadow's size;
 * - `health`: the new primary answers its probe;
 * - `traffic`: the traffic switch sends the VM's service to the new primary;
 * - `adopt`: the server's record of the VM moves to the new host and instance; the old shadow
 *   record goes (the shadow manager provisions a new one);
 * - `retire_old`: the old primary ends gracefully and its files are removed (when its host is
 *   reachable; a lost host's leftovers go when it returns): its agent cuts its network, presses
 *   the ACPI power button, resumes it and kills it after the policy's graceful_shutdown_timeout
 *   (POST /v1/vms/:id/retire).
 */
import type { FailoverRow, FailoverStepRecord } from '../store/store.js';
import type { FailoverDecision } from './decide.js';

export type FailoverStep =
  | 'hook_before_fence'
  | 'fence'
  | 'stop_replication'
  | 'promote'
  | 'resize'
  | 'health'
  | 'traffic'
  | 'hook_after_traffic'
  | 'adopt'
  | 'retire_old'
  | 'hook_after_failover';

/** The steps of a path, in order. */
export function stepsOf(path: FailoverRow['path']): readonly FailoverStep[] {
  // A live migration moves the running guest itself: its clients follow at once (every ms
  // between the switchover and the traffic step is client-visible), then it is checked and grown.
  return path === 'migrate'
    ? ['hook_before_fence', 'promote', 'traffic', 'health', 'resize', 'hook_after_traffic', 'adopt', 'retire_old', 'hook_after_failover']
    : ['hook_before_fence', 'fence', 'stop_replication', 'promote', 'resize', 'health', 'traffic', 'hook_after_traffic', 'adopt', 'retire_old', 'hook_after_failover'];
}

/** The record of a failover about to start (its intent), written before the first step. */
export function startRecord(
  d: Extract<FailoverDecision, { kind: 'failover' }>,
  vm: { fromHost: string; fromInstance: string },
  id: string,
  now: number,
  data: Record<string, unknown> = {},
): FailoverRow {
  return {
    id,
    vmId: d.vmId,
    state: 'running',
    reason: d.reason,
    path: d.path,
    fromHost: vm.fromHost,
    fromInstance: vm.fromInstance,
    shadowId: d.shadowId,
    toHost: d.toHost,
    dataLossBoundSeconds: d.dataLossBoundSeconds,
    startedAt: now,
    endedAt: null,
    steps: [],
    data,
  };
}

/** The next step to run, or null when every step finished. A step begun but not ended runs again. */
export function nextStep(r: FailoverRow): FailoverStep | null {
  if (r.state !== 'running') return null;
  for (const s of stepsOf(r.path)) {
    const done = r.steps.find((x) => x.name === s && x.ok === true);
    if (!done) return s;
  }
  return null;
}

/** The record with `step` begun at `now` (a rerun replaces an unfinished attempt). */
export function beginStep(r: FailoverRow, step: FailoverStep, now: number): FailoverRow {
  const steps = r.steps.filter((x) => !(x.name === step && x.ok !== true));
  return { ...r, steps: [...steps, { name: step, startedAt: now, endedAt: null, ok: null, detail: '' }] };
}

/**
 * The record with `step` ended. A failed step fails the failover (`abort`: it ends `aborted`,
 * nothing was changed), except after the shadow took over ({@link mustGoForward}): then the
 * record stays `running` with the failed attempt recorded, and the step is tried again.
 */
export function endStep(r: FailoverRow, step: FailoverStep, ok: boolean, detail: string, now: number, data: Record<string, unknown> = {}, abort = false): FailoverRow {
  const steps: FailoverStepRecord[] = r.steps.map((x) => (x.name === step && x.ok === null ? { ...x, endedAt: now, ok, detail } : x));
  const next: FailoverRow = { ...r, steps, data: { ...r.data, ...data } };
  if (!ok && !abort && mustGoForward(r, step)) return next;
  if (!ok) return { ...next, state: abort ? 'aborted' : 'failed', endedAt: now };
  return nextStep(next) === null ? { ...next, state: 'done', endedAt: now } : next;
}

/**
 * True for a step after a successful `promote`: the shadow runs the VM, the old primary stays
 * fenced, so there is no way back; the failover must finish (its step is retried).
 */
export function mustGoForward(r: FailoverRow, step: FailoverStep): boolean {
  return step !== 'promote' && r.steps.some((s) => s.name === 'promote' && s.ok === true);
}

/** How long each step took (ms), for the event log and the benchmark. */
export function stepDurations(r: FailoverRow): Record<string, number | null> {
  return Object.fromEntries(r.steps.map((s) => [s.name, s.endedAt === null ? null : s.endedAt - s.startedAt]));
}
