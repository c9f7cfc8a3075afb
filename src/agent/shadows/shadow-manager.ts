/**
 * The shadows of this host (the shadow side of the data path, src/api/shadow-protocol.ts):
 * each is a block target (a raw file of the primary's disk size, exported writable over NBD on
 * the agent's address, served by the BlockTargetDriver) plus a shadow VM (HypervisorDriver)
 * using that export as its data disk: `warm` booted in standby, `migrate` paused `-incoming`.
 *
 * - ensure: records the spec and the chosen ports, ensures the target, then the VM. Idempotent.
 * - supervision: every ~1 s (injected clock) a dead target process is restarted on the same file
 *   and port (`targetRestarts` + 1, `restarted` on the next status read). The VM is not
 *   restarted: its state is reported and a re-sent ensure starts it.
 * - rehearse: `warm` runs the task against the live shadow's service; `migrate` boots a
 *   throwaway VM from a point-in-time export of the target (never the target itself), measures
 *   its time to ready, runs the task there and removes everything it made.
 * - delete: VM killed, target stopped, files and record removed.
 *
 * Operations on one shadow run one at a time (ensure, delete, supervision); a rehearsal runs
 * beside them (it never blocks a target restart) and a delete aborts it. Status is observed on
 * every call; the records (records.ts) hold only what cannot be observed.
 */
import type { Clock } from '../../core/clock.js';
import { isUmbraError } from '../../core/errors.js';
import type { DiskDigest, RehearsalResult, ShadowSpec, ShadowStatus } from '../../api/shadow-protocol.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import { isHypervisorError, VmExistsError, VmSpecInvalidError, VmStartFailedError, type SpecIssue } from '../../hypervisor/errors.js';
import { parseVmSpec } from '../../hypervisor/spec.js';
import type { VmState } from '../../hypervisor/types.js';
import type { BlockTargetDriver } from '../../storage/driver.js';
import { TargetStartFailedError } from '../../storage/errors.js';
import { targetSpecProblems } from '../../storage/spec.js';
import { errText, type AgentLogger } from '../log.js';
import type { PortPicker } from '../ports.js';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { pause } from '../timing.js';
import { endpointUrl } from '../vm-spec.js';
import { ShadowConflictError, ShadowNotFoundError } from './errors.js';
import { ShadowRecordStore, type ShadowRecord } from './records.js';
import { fetchGet, httpCheck, runTask, waitReady, type HttpGet } from './rehearse.js';
import { rehearsalPitName, rehearsalVmId, sameShadowSpec, targetStateOf, toRehearsalVmSpec, toShadowVmSpec, toTargetSpec, type ShadowPlacement } from './shadow-spec.js';

/** Driver states in which a VM process exists. */
const LIVE: ReadonlySet<VmState> = new Set(['prelaunch', 'running', 'paused', 'inmigrate', 'postmigrate', 'shutdown', 'crashed']);

/** How many ports to try when a picked one was taken before the process bound it. */
const PORT_ATTEMPTS = 3;

/** A rehearsal request, as validated by the protocol (defaults filled). */
export interface RehearseOptions {
  task?: import('../../api/shadow-protocol.js').RehearsalTask;
  bootTimeoutMs: number;
}

/** Options of {@link ShadowManager}. */
export interface ShadowManagerOptions {
  driver: HypervisorDriver;
  targets: BlockTargetDriver;
  clock: Clock;
  log: AgentLogger;
  /** Records go under `<runDir>/agent/shadows/`. */
  runDir: string;
  /** The agent's address: exports and service forwards bind there. */
  address: string;
  ports: PortPicker;
  /** HTTP GET for probes and tasks (default: fetch). */
  http?: HttpGet;
  /** Supervision period, ms (default 1000). */
  superviseEveryMs?: number;
  /** Readiness polling period of a rehearsal VM, ms (default 200). */
  probeEveryMs?: number;
}

/** The `lastError` of a status for an error (the process's stderr tail when there is one). */
function toLastError(e: unknown): NonNullable<ShadowStatus['lastError']> {
  const code = isUmbraError(e) ? e.code : 'INTERNAL';
  const tail = e instanceof VmStartFailedError || e instanceof TargetStartFailedError ? { stderrTail: e.stderrTail } : {};
  return { code, message: errText(e), ...tail };
}

/** See the module comment. */
export class ShadowManager {
  private readonly lock = new KeyedMutex();
  private readonly rehearsalLock = new KeyedMutex();
  private readonly rehearsals = new Map<string, AbortController>();
  private readonly records: ShadowRecordStore;
  private readonly http: HttpGet;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  /** The last supervision error logged per shadow (each distinct failure is logged once). */
  private readonly lastLogged = new Map<string, string>();

  constructor(private readonly o: ShadowManagerOptions) {
    this.records = new ShadowRecordStore(o.runDir);
    this.http = o.http ?? fetchGet;
  }

  /**
   * Re-attaches to the shadows a previous agent left (their target daemons and VMs keep
   * running and are never restarted), cleans up an interrupted rehearsal, runs one
   * supervision pass and starts the supervision loop.
   */
  async start(): Promise<void> {
    for (const rec of this.records.all()) {
      await this.lock.run(rec.spec.id, () => this.adopt(rec)).catch((e: unknown) => this.o.log.warn({ shadowId: rec.spec.id, err: errText(e) }, 'adopting a shadow failed'));
    }
    await this.superviseOnce();
    this.loop = this.supervise(this.abort.signal);
  }

  /**
   * Stops supervision, aborts running rehearsals (they remove their throwaway VM and export
   * first) and drops the target connections; targets and shadow VMs keep running.
   */
  async close(): Promise<void> {
    this.abort.abort();
    for (const ac of this.rehearsals.values()) ac.abort();
    await this.loop;
    await Promise.all([...this.rehearsals.keys()].map((id) => this.rehearsalLock.run(id, async () => undefined)));
    await this.o.targets.close();
  }

  /** Every shadow id of this host, sorted. */
  ids(): string[] {
    return this.records.ids();
  }

  /** Every shadow as observed now. */
  list(): Promise<ShadowStatus[]> {
    return Promise.all(this.ids().map((id) => this.status(id)));
  }

  /** One shadow as observed now. `NOT_FOUND` for an unknown id. */
  async status(id: string): Promise<ShadowStatus> {
    const rec = this.records.get(id);
    if (!rec) throw new ShadowNotFoundError(id, 'status');
    const t = await this.o.targets.status(id).catch(() => null);
    const running = t?.state === 'running';
    const targetState = targetStateOf(running, rec.restartedPending);
    if (targetState === 'restarted') this.records.update(id, (r) => (r.restartedPending = false));
    let vm: ShadowStatus['vm'];
    const endpoint = endpointUrl(this.o.address, rec.servicePort);
    try {
      const st = await this.o.driver.status(id);
      vm = { state: st.state, pid: st.pid, endpoint };
    } catch (e) {
      vm = { state: isHypervisorError(e, 'VM_NOT_FOUND') ? 'absent' : 'unknown', pid: null, endpoint };
    }
    return {
      id,
      primaryId: rec.spec.primaryId,
      flavor: rec.spec.flavor,
      target: { host: this.o.address, port: rec.exportPort, export: rec.exportName },
      targetPid: running ? (t?.pid ?? null) : null,
      targetState,
      targetRestarts: rec.targetRestarts,
      vm,
      createdAt: rec.createdAt,
      lastError: rec.lastError,
    };
  }

  /**
   * Ensures the shadow: records it (picking free ports for 0), ensures its target, then its VM
   * (started unless a process lives). The same spec again returns the same shadow (same
   * processes); another spec for the id is `CONFLICT`. Failures are recorded in `lastError`.
   */
  ensure(spec: ShadowSpec): Promise<ShadowStatus> {
    return this.lock.run(spec.id, async () => {
      let rec = this.records.get(spec.id);
      if (rec && !sameShadowSpec(rec, spec)) throw new ShadowConflictError(spec.id);
      if (!rec) {
        this.check(spec);
        const exportPort = spec.exportPort || (await this.o.ports.pick(this.o.address, this.portsInUse()));
        const servicePort = spec.servicePort || (await this.o.ports.pick(this.o.address, new Set([...this.portsInUse(), exportPort])));
        rec = {
          spec,
          servicePort,
          exportPort,
          exportName: spec.id,
          createdAt: this.o.clock.now(),
          targetStarted: false,
          targetRestarts: 0,
          restartedPending: false,
          lastError: null,
          rehearsals: 0,
          rehearsing: null,
        };
        this.records.put(rec);
        this.o.log.info({ shadowId: spec.id, primaryId: spec.primaryId, flavor: spec.flavor, exportPort, servicePort }, 'shadow recorded');
      }
      try {
        await this.ensureTarget(spec.id);
        await this.ensureVm(spec.id);
        this.records.update(spec.id, (r) => (r.lastError = null));
      } catch (e) {
        this.records.update(spec.id, (r) => (r.lastError = toLastError(e)));
        this.o.log.error({ shadowId: spec.id, err: errText(e) }, 'shadow ensure failed');
        throw e;
      }
      return this.status(spec.id);
    });
  }

  /** Kills the shadow VM, stops and removes the target, removes the record. `NOT_FOUND` for an unknown id. */
  async delete(id: string): Promise<void> {
    if (!this.records.get(id)) throw new ShadowNotFoundError(id, 'delete');
    this.rehearsals.get(id)?.abort();
    await this.rehearsalLock.run(id, async () => undefined); // the aborted rehearsal has cleaned up
    await this.lock.run(id, async () => {
      const rec = this.records.get(id);
      if (!rec) return;
      await this.removeVm(id);
      if (rec.rehearsing) await this.cleanupRehearsal(id, rec.rehearsing);
      await this.o.targets.remove(id);
      this.records.remove(id);
      this.lastLogged.delete(id);
      this.o.log.info({ shadowId: id }, 'shadow deleted');
    });
  }

  /** Digests of the target's bytes. `NOT_FOUND` for an unknown shadow. */
  async digest(id: string, chunkBytes?: number): Promise<DiskDigest> {
    if (!this.records.get(id)) throw new ShadowNotFoundError(id, 'digest');
    return this.o.targets.digest(id, chunkBytes);
  }

  /** Runs a rehearsal (see the module comment). One at a time per shadow. */
  async rehearse(id: string, req: RehearseOptions): Promise<RehearsalResult> {
    if (!this.records.get(id)) throw new ShadowNotFoundError(id, 'rehearse');
    return this.rehearsalLock.run(id, async () => {
      const rec = this.records.get(id);
      if (!rec) throw new ShadowNotFoundError(id, 'rehearse');
      const ac = new AbortController();
      this.rehearsals.set(id, ac);
      try {
        return rec.spec.flavor === 'warm' ? await this.rehearseWarm(rec, req, ac.signal) : await this.rehearseCopy(rec, req, ac.signal);
      } finally {
        this.rehearsals.delete(id);
      }
    });
  }

  // --- internals ---

  private placement(rec: ShadowRecord): ShadowPlacement {
    return { address: this.o.address, servicePort: rec.servicePort, exportPort: rec.exportPort, exportName: rec.exportName };
  }

  private portsInUse(): Set<number> {
    return new Set(this.records.all().flatMap((r) => [r.servicePort, r.exportPort]));
  }

  /** Validates what the drivers would reject, every problem at once (placeholder ports). */
  private check(spec: ShadowSpec): void {
    const at: ShadowPlacement = { address: this.o.address, servicePort: spec.servicePort || 1, exportPort: spec.exportPort || 1, exportName: spec.id };
    const issues: SpecIssue[] = [];
    if (spec.maxVcpus < spec.vcpus) issues.push({ path: 'maxVcpus', message: `must be at least vcpus (${spec.vcpus})` });
    if (spec.maxMemoryMiB < spec.memoryMiB) issues.push({ path: 'maxMemoryMiB', message: `must be at least memoryMiB (${spec.memoryMiB})` });
    if (spec.diskBytes % 512 !== 0) issues.push({ path: 'diskBytes', message: 'must be a multiple of 512' });
    if (issues.length === 0) {
      for (const p of targetSpecProblems(toTargetSpec(spec, at))) issues.push({ path: 'target', message: p });
      try {
        parseVmSpec(toShadowVmSpec(spec, at));
      } catch (e) {
        if (e instanceof VmSpecInvalidError) issues.push(...e.issues);
        else throw e;
      }
    }
    if (issues.length) throw new VmSpecInvalidError(issues, spec.id);
  }

  /** Ensures the target; a first start whose picked port was taken meanwhile moves to another port. */
  private async ensureTarget(id: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const rec = this.records.get(id)!;
      try {
        await this.o.targets.ensure(toTargetSpec(rec.spec, this.placement(rec)));
        if (!rec.targetStarted) this.records.update(id, (r) => (r.targetStarted = true));
        return;
      } catch (e) {
        const movable = e instanceof TargetStartFailedError && !rec.targetStarted && rec.spec.exportPort === 0 && attempt < PORT_ATTEMPTS;
        if (movable && !(await this.o.ports.isFree(this.o.address, rec.exportPort))) {
          const exportPort = await this.o.ports.pick(this.o.address, this.portsInUse());
          this.o.log.warn({ shadowId: id, taken: rec.exportPort, exportPort }, 'export port was taken: trying another');
          this.records.update(id, (r) => (r.exportPort = exportPort));
          continue;
        }
        throw e;
      }
    }
  }

  /** Ensures the shadow VM is defined and has a process; moves a picked service port that was taken meanwhile. */
  private async ensureVm(id: string): Promise<void> {
    const { driver } = this.o;
    for (let attempt = 1; ; attempt++) {
      const rec = this.records.get(id)!;
      const spec = toShadowVmSpec(rec.spec, this.placement(rec));
      try {
        await driver.create(spec);
      } catch (e) {
        // Defined earlier with another placement (a moved port) and not running: define it anew.
        if (!(e instanceof VmExistsError) || LIVE.has((await driver.status(id)).state) || !this.records.get(id)) throw e;
        await driver.remove(id);
        await driver.create(spec);
      }
      if (LIVE.has((await driver.status(id)).state)) return;
      try {
        const st = await driver.start(id);
        this.o.log.info({ shadowId: id, pid: st.pid, state: st.state, servicePort: rec.servicePort }, 'shadow VM started');
        return;
      } catch (e) {
        const movable = e instanceof VmStartFailedError && rec.spec.servicePort === 0 && attempt < PORT_ATTEMPTS;
        if (movable && !(await this.o.ports.isFree(this.o.address, rec.servicePort))) {
          const servicePort = await this.o.ports.pick(this.o.address, this.portsInUse());
          this.o.log.warn({ shadowId: id, taken: rec.servicePort, servicePort }, 'service port was taken: trying another');
          await driver.remove(id);
          this.records.update(id, (r) => (r.servicePort = servicePort));
          continue;
        }
        throw e;
      }
    }
  }

  /** Kills and forgets a VM (no-op when the driver does not know it). */
  private async removeVm(vmId: string): Promise<void> {
    try {
      await this.o.driver.kill(vmId);
      await this.o.driver.remove(vmId);
    } catch (e) {
      if (!isHypervisorError(e, 'VM_NOT_FOUND')) throw e;
    }
  }

  private async adopt(rec: ShadowRecord): Promise<void> {
    const id = rec.spec.id;
    try {
      const st = await this.o.driver.adopt(id);
      this.o.log.info({ shadowId: id, pid: st.pid, state: st.state }, 'adopted shadow VM');
    } catch (e) {
      if (!isHypervisorError(e, 'VM_NOT_FOUND')) throw e;
    }
    if (rec.rehearsing) await this.cleanupRehearsal(id, rec.rehearsing);
    // Point-in-time exports only live during a rehearsal: any left belongs to an interrupted one.
    const t = await this.o.targets.status(id).catch(() => null);
    if (t?.state === 'running') for (const pit of await this.o.targets.listPointInTime(id)) await this.o.targets.releasePointInTime(id, pit);
  }

  private async cleanupRehearsal(id: string, r: { vmId: string; pit: string }): Promise<void> {
    await this.removeVm(r.vmId).catch((e: unknown) => this.o.log.warn({ shadowId: id, vmId: r.vmId, err: errText(e) }, 'removing a rehearsal VM failed'));
    await this.o.targets.releasePointInTime(id, r.pit).catch((e: unknown) => this.o.log.warn({ shadowId: id, pit: r.pit, err: errText(e) }, 'releasing a point-in-time export failed'));
    this.records.update(id, (x) => (x.rehearsing = null));
  }

  private async supervise(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if ((await pause(this.o.clock, this.o.superviseEveryMs ?? 1000, signal)) === 'aborted') return;
      await this.superviseOnce();
    }
  }

  /** One pass: restarts every dead target on its file and port. */
  private async superviseOnce(): Promise<void> {
    for (const id of this.ids()) {
      if (this.abort.signal.aborted) return;
      await this.lock.run(id, () => this.checkTarget(id)).catch((e: unknown) => this.o.log.error({ shadowId: id, err: errText(e) }, 'shadow supervision failed'));
    }
  }

  private async checkTarget(id: string): Promise<void> {
    const rec = this.records.get(id);
    if (!rec || !rec.targetStarted) return; // deleted meanwhile, or never came up (ensure reports that)
    const t = await this.o.targets.status(id).catch(() => null);
    if (t?.state === 'running') return;
    try {
      const st = await this.o.targets.ensure(toTargetSpec(rec.spec, this.placement(rec)));
      this.records.update(id, (r) => {
        r.targetRestarts += 1;
        r.restartedPending = true;
        r.lastError = null;
      });
      this.lastLogged.delete(id);
      this.o.log.warn({ shadowId: id, pid: st.pid, port: rec.exportPort, restarts: rec.targetRestarts + 1 }, 'target process was dead: restarted');
    } catch (e) {
      const le = toLastError(e);
      this.records.update(id, (r) => (r.lastError = le));
      if (this.lastLogged.get(id) !== le.message) this.o.log.error({ shadowId: id, err: le.message }, 'restarting a dead target failed');
      this.lastLogged.set(id, le.message);
    }
  }

  /** Warm: the task (or the probe path) against the live shadow's service. */
  private async rehearseWarm(rec: ShadowRecord, req: RehearseOptions, signal: AbortSignal): Promise<RehearsalResult> {
    const { clock } = this.o;
    const startedAt = clock.now();
    const base = endpointUrl(this.o.address, rec.servicePort);
    const task = req.task ? await runTask(req.task, base, this.http, clock, signal) : null;
    const probe = task ?? (await httpCheck(this.http, clock, base + rec.spec.probePath, 200, 10_000, signal));
    const result: RehearsalResult = {
      shadowId: rec.spec.id,
      flavor: 'warm',
      where: 'in-shadow',
      ok: probe.ok,
      startedAt,
      timeToReadyMs: null,
      task,
      error: probe.ok ? null : (probe.error ?? 'failed'),
    };
    this.o.log.info({ shadowId: rec.spec.id, ok: result.ok, ms: probe.ms }, 'warm shadow rehearsed');
    return result;
  }

  /** Migrate: a throwaway VM on a point-in-time export of the target. */
  private async rehearseCopy(rec: ShadowRecord, req: RehearseOptions, signal: AbortSignal): Promise<RehearsalResult> {
    const { clock, driver, targets, log } = this.o;
    const id = rec.spec.id;
    const startedAt = clock.now();
    const n = rec.rehearsals + 1;
    const r = { vmId: rehearsalVmId(id, n), pit: rehearsalPitName(n) };
    this.records.update(id, (x) => {
      x.rehearsals = n;
      x.rehearsing = r;
    });
    let timeToReadyMs: number | null = null;
    let task: RehearsalResult['task'] = null;
    let error: string | null = null;
    try {
      const pit = await targets.exportPointInTime(id, r.pit);
      const servicePort = await this.o.ports.pick(this.o.address, this.portsInUse());
      await driver.create(toRehearsalVmSpec(rec.spec, { vmId: r.vmId, address: this.o.address, servicePort, pit }));
      const t0 = clock.now();
      await driver.start(r.vmId);
      const base = endpointUrl(this.o.address, servicePort);
      const ready = await waitReady(this.http, clock, base + rec.spec.probePath, t0 + req.bootTimeoutMs, { everyMs: this.o.probeEveryMs ?? 200, signal });
      if (signal.aborted) error = 'rehearsal aborted (the shadow is being deleted)';
      else if (!ready.ok) error = `the copy was not ready within ${req.bootTimeoutMs} ms: ${ready.error ?? ''}`;
      else {
        timeToReadyMs = clock.now() - t0;
        task = req.task ? await runTask(req.task, base, this.http, clock, signal) : null;
      }
      log.info({ shadowId: id, vmId: r.vmId, pitSetupMs: pit.setupMs, timeToReadyMs, ok: error === null && (task?.ok ?? true) }, 'point-in-time copy rehearsed');
    } catch (e) {
      error = errText(e);
      log.warn({ shadowId: id, vmId: r.vmId, err: error }, 'rehearsal failed');
    } finally {
      await this.cleanupRehearsal(id, r);
    }
    return { shadowId: id, flavor: 'migrate', where: 'pit-copy', ok: error === null && (task?.ok ?? true), startedAt, timeToReadyMs, task, error };
  }
}
