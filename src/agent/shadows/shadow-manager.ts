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
 * - retire (a promoted shadow only: the old primary after a later failover): isolated, powered
 *   off by ACPI or killed (src/agent/retire.ts), then removed as delete removes it. While it
 *   runs the shadow is `retiring`: its exit is a planned one (the heartbeat never reports it
 *   `crashed`).
 * - promotion (issue 5): `warm` asks the standby guest to mount the target's disk and waits
 *   for its /health as primary; `cold` replaces the shadow VM by a normal boot on the same
 *   export; a migrate shadow listens for a live migration (`incoming`) and runs the guest once
 *   the stream completed (at once with autoResume, or on `resume`). A promoted shadow is a
 *   primary: its VM is never replaced or killed by ensure, rehearse or a plain delete; its
 *   target process is still restarted when it dies (it serves the VM's disk).
 *
 * Operations on one shadow run one at a time (ensure, delete, supervision); a rehearsal runs
 * beside them (it never blocks a target restart) and a delete aborts it. Status is observed on
 * every call; the records (records.ts) hold only what cannot be observed.
 */
import type { Clock } from '../../core/clock.js';
import { isUmbraError } from '../../core/errors.js';
import type { DiskDigest, IncomingReply, IncomingRequest, PromoteRequest, PromoteResult, RehearsalResult, ResumeRequest, ResumeResult, ShadowSpec, ShadowStatus } from '../../api/shadow-protocol.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import { isHypervisorError, VmExistsError, VmInvalidStateError, VmSpecInvalidError, VmStartFailedError, type SpecIssue } from '../../hypervisor/errors.js';
import { parseVmSpec } from '../../hypervisor/spec.js';
import { LIVE_STATES, type VmEvent } from '../../hypervisor/types.js';
import type { BlockTargetDriver } from '../../storage/driver.js';
import { TargetStartFailedError } from '../../storage/errors.js';
import { targetSpecProblems } from '../../storage/spec.js';
import { errText, type AgentLogger } from '../log.js';
import type { PortPicker } from '../ports.js';
import { KeyedMutex } from '../../core/keyed-mutex.js';
import { pause, Wakeup } from '../timing.js';
import { endpointUrl } from '../vm-spec.js';
import { retireProcess, type RetireOptions, type RetireOutcome } from '../retire.js';
import { ShadowConflictError, ShadowNotFoundError, ShadowPromotedError } from './errors.js';
import { fetchPost, GUEST_HEALTH_PATH, promoteGuest, waitPrimary, type HttpPost } from './promote.js';
import { ShadowRecordStore, type ShadowRecord } from './records.js';
import { fetchGet, httpCheck, runTask, waitReady, type HttpGet } from './rehearse.js';
import { rehearsalPitName, rehearsalVmId, sameShadowSpec, targetStateOf, toPromotedVmSpec, toRehearsalVmSpec, toShadowVmSpec, toTargetSpec, type ShadowPlacement } from './shadow-spec.js';

/** The guest device of the shadow's data disk (the export, attached first). */
const DATA_DEVICE = 'vda';

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
  /** HTTP POST for the guest's /admin/promote (default: fetch). */
  post?: HttpPost;
  /** True while the agent's lease is lost: nothing is promoted or resumed then. */
  fenced?: () => boolean;
  /** Polling period while a promotion waits for the guest or a migration, ms (default 50). */
  promoteEveryMs?: number;
  /** Called before a promoted shadow's VM is ended on purpose (retire): its replication must start no new copy. */
  onEndOnPurpose?: (id: string, op: 'retire') => void;
}

/** Migration event statuses that end an incoming migration without a guest. */
const MIGRATION_FAILED: ReadonlySet<string> = new Set(['failed', 'cancelled']);

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
  private readonly post: HttpPost;
  /** Poked on every migration event of a shadow (resume waits on it). */
  private readonly migrationWake = new Wakeup();
  private unsubscribe: (() => void) | null = null;
  /** `shadowId/pid` of warm standby guests that answered their probe once (see standbyReady). */
  private readonly guestUp = new Set<string>();

  constructor(private readonly o: ShadowManagerOptions) {
    this.records = new ShadowRecordStore(o.runDir);
    this.http = o.http ?? fetchGet;
    this.post = o.post ?? fetchPost;
  }

  /**
   * Re-attaches to the shadows a previous agent left (their target daemons and VMs keep
   * running and are never restarted), cleans up an interrupted rehearsal, runs one
   * supervision pass and starts the supervision loop.
   */
  async start(): Promise<void> {
    this.unsubscribe = this.o.driver.subscribe((ev) => this.onEvent(ev), { types: ['MIGRATION', 'RESUME', 'EXITED'] });
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
    this.unsubscribe?.();
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
      vm = { state: st.state, pid: st.pid, endpoint, ready: await this.standbyReady(rec, st.state, st.pid) };
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
      promoted: Boolean(rec.promoted),
      promotion: rec.promoted ?? null,
    };
  }

  /**
   * Whether the standby can take over at once (see the protocol's `vm.ready`): a warm guest
   * answers its probe (asked until it did once per QEMU process, 500 ms at most), a migrate
   * shadow's QEMU is alive waiting for the stream, a promoted one runs.
   */
  private async standbyReady(rec: ShadowRecord, state: string, pid: number | null): Promise<boolean> {
    if (rec.promoted) return state === 'running';
    if (rec.spec.flavor === 'migrate') return state === 'inmigrate';
    if (state !== 'running' || pid === null) return false;
    const key = `${rec.spec.id}/${pid}`;
    if (this.guestUp.has(key)) return true;
    const r = await httpCheck(this.http, this.o.clock, endpointUrl(this.o.address, rec.servicePort) + GUEST_HEALTH_PATH, 200, 500, this.abort.signal);
    if (r.ok) this.guestUp.add(key);
    return r.ok;
  }

  /** Where to probe a promoted shadow's service (a primary now), or null for any other id. */
  probeTarget(id: string): { url: string } | null {
    const rec = this.records.get(id);
    return rec?.promoted ? { url: endpointUrl(this.o.address, rec.servicePort) + rec.spec.probePath } : null;
  }

  /** Ids of the promoted shadows (primaries now: fencing must stop them). */
  promotedIds(): string[] {
    return this.records.all().filter((r) => r.promoted || r.promoting).map((r) => r.spec.id);
  }

  /** Ids of the promoted shadows being retired: their process ends on purpose (never a crash). */
  retiringIds(): string[] {
    return this.records.all().filter((r) => r.retiring).map((r) => r.spec.id);
  }

  /** A shadow VM's vCPU and memory maxima and whether it was promoted (resize); null for an unknown id. */
  limitsOf(id: string): { maxVcpus: number; maxMemoryMiB: number; promoted: boolean } | null {
    const rec = this.records.get(id);
    return rec ? { maxVcpus: rec.spec.maxVcpus, maxMemoryMiB: rec.spec.maxMemoryMiB, promoted: Boolean(rec.promoted) } : null;
  }

  /**
   * Ensures the shadow: records it (picking free ports for 0), ensures its target, then its VM
   * (started unless a process lives). The same spec again returns the same shadow (same
   * processes); another spec for the id is `CONFLICT`. Failures are recorded in `lastError`.
   */
  ensure(spec: ShadowSpec): Promise<ShadowStatus> {
    return this.lock.run(spec.id, async () => {
      let rec = this.records.get(spec.id);
      if (rec?.promoted || rec?.promoting) throw new ShadowPromotedError(spec.id, 'ensure');
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

  /**
   * Kills the shadow VM, stops and removes the target, removes the record. `NOT_FOUND` for an
   * unknown id; `CONFLICT` for a promoted shadow (or one being promoted) unless `killPromoted`:
   * its VM is a primary.
   */
  async delete(id: string, opts: { killPromoted?: boolean } = {}): Promise<void> {
    const r0 = this.records.get(id);
    if (!r0) throw new ShadowNotFoundError(id, 'delete');
    if ((r0.promoted || r0.promoting) && !opts.killPromoted) throw new ShadowPromotedError(id, 'delete', 'it is a primary now (DELETE ?promoted=kill kills it)');
    this.rehearsals.get(id)?.abort();
    await this.rehearsalLock.run(id, async () => undefined); // the aborted rehearsal has cleaned up
    await this.lock.run(id, async () => {
      const rec = this.records.get(id);
      if (!rec) return;
      if ((rec.promoted || rec.promoting) && !opts.killPromoted) throw new ShadowPromotedError(id, 'delete', 'it is a primary now (DELETE ?promoted=kill kills it)');
      if (rec.promoted) this.o.log.warn({ shadowId: id, promotion: rec.promoted }, 'deleting a promoted shadow: its VM (a primary) is killed');
      await this.removeVm(id);
      if (rec.rehearsing) await this.cleanupRehearsal(id, rec.rehearsing);
      await this.o.targets.remove(id);
      this.records.remove(id);
      this.lastLogged.delete(id);
      this.o.log.info({ shadowId: id }, 'shadow deleted');
    });
  }

  /**
   * The graceful end of a promoted shadow's VM (the old primary after a later failover): see the
   * module comment and src/agent/retire.ts. `NOT_FOUND` for an unknown id; `CONFLICT` for a
   * shadow that is not a primary (a standby is deleted, not retired) or whose promotion runs.
   */
  async retire(id: string, opts: RetireOptions): Promise<RetireOutcome> {
    const r0 = this.records.get(id);
    if (!r0) throw new ShadowNotFoundError(id, 'retire');
    const refuse = (rec: ShadowRecord) => {
      if (rec.promoting) throw new ShadowPromotedError(id, 'retire', 'its promotion runs');
      if (!rec.promoted) throw new ShadowPromotedError(id, 'retire', 'it is a standby, not a primary (DELETE /v1/shadows/:id removes it)');
    };
    refuse(r0);
    return this.lock.run(id, async () => {
      const rec = this.records.get(id);
      if (!rec) return { how: 'gone', ms: 0, timedOut: false, reason: 'removed meanwhile' };
      refuse(rec);
      this.records.update(id, (r) => (r.retiring = { at: this.o.clock.now() }));
      this.o.onEndOnPurpose?.(id, 'retire');
      let out: RetireOutcome = { how: 'gone', ms: 0, timedOut: false, reason: 'unknown to the hypervisor' };
      try {
        out = await retireProcess(this.o.driver, id, { ...opts, clock: this.o.clock, log: this.o.log, fenced: this.o.fenced?.() ?? false });
      } catch (e) {
        if (!isHypervisorError(e, 'VM_NOT_FOUND')) throw e;
      }
      await this.removeVm(id);
      await this.o.targets.remove(id);
      this.records.remove(id);
      this.lastLogged.delete(id);
      this.o.log.info({ shadowId: id, how: out.how, ms: out.ms, reason: out.reason }, 'promoted shadow retired');
      return out;
    });
  }

  /** Digests of the target's bytes. `NOT_FOUND` for an unknown shadow. */
  async digest(id: string, chunkBytes?: number): Promise<DiskDigest> {
    if (!this.records.get(id)) throw new ShadowNotFoundError(id, 'digest');
    return this.o.targets.digest(id, chunkBytes);
  }

  /** Runs a rehearsal (see the module comment). One at a time per shadow. */
  async rehearse(id: string, req: RehearseOptions): Promise<RehearsalResult> {
    const r0 = this.records.get(id);
    if (!r0) throw new ShadowNotFoundError(id, 'rehearse');
    if (r0.promoted || r0.promoting) throw new ShadowPromotedError(id, 'rehearse');
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

  /**
   * Promotes the shadow (see the module comment and the protocol). `NOT_FOUND` for an unknown
   * shadow; `CONFLICT` when it was promoted or a promotion runs; `VM_INVALID_STATE` on a
   * fenced host and for `warm` on a migrate shadow. A promotion that fails answers ok false
   * (the VM as it was left, `lastError` set) and may be retried.
   */
  async promote(id: string, req: PromoteRequest): Promise<PromoteResult> {
    const { clock, log } = this.o;
    if (!this.records.get(id)) throw new ShadowNotFoundError(id, 'promote');
    if (this.o.fenced?.()) throw new VmInvalidStateError(id, 'promote', 'fenced', 'a live lease with the server (the agent fenced this host)');
    const t0 = clock.now();
    const deadline = t0 + req.bootTimeoutMs;
    await this.lock.run(id, async () => {
      const rec = this.records.get(id);
      if (!rec) throw new ShadowNotFoundError(id, 'promote');
      if (rec.promoted) throw new ShadowPromotedError(id, 'promote', `it was promoted (${rec.promoted.mode}) already`);
      if (rec.promoting) throw new ShadowPromotedError(id, 'promote', `a ${rec.promoting} promotion is running`);
      if (req.mode === 'warm' && rec.spec.flavor !== 'warm') throw new VmInvalidStateError(id, 'promote warm', 'a migrate shadow (no running guest)', 'a warm shadow (promote cold, or migrate live)');
      this.records.update(id, (r) => {
        r.promoting = req.mode;
        r.incoming = null;
      });
    });
    // A throwaway rehearsal VM only costs CPU now.
    this.rehearsals.get(id)?.abort();
    log.info({ shadowId: id, mode: req.mode }, 'promoting a shadow');
    let outcome: { ok: boolean; seq: number | null; error: string | null };
    try {
      outcome = req.mode === 'warm' ? await this.promoteWarm(id, deadline) : await this.promoteCold(id, deadline);
    } catch (e) {
      outcome = { ok: false, seq: null, error: errText(e) };
    }
    const ms = clock.now() - t0;
    this.records.update(id, (r) => {
      r.promoting = null;
      if (outcome.ok) {
        r.promoted = { mode: req.mode, at: clock.now(), ms };
        r.lastError = null;
      } else r.lastError = { code: 'PROMOTION_FAILED', message: outcome.error ?? 'failed' };
    });
    const st = await this.status(id);
    if (outcome.ok) log.info({ shadowId: id, mode: req.mode, ms, seq: outcome.seq, pid: st.vm.pid }, 'shadow promoted: it is a primary now');
    else log.error({ shadowId: id, mode: req.mode, ms, err: outcome.error }, 'promotion failed');
    return { shadowId: id, mode: req.mode, ok: outcome.ok, ms, seq: outcome.seq, vm: st.vm, error: outcome.error };
  }

  /**
   * A migrate shadow listens for the live migration on a free port of the agent's address and
   * answers the uri; with `autoResume` the guest runs as soon as the stream completed. The same
   * call while the same process listens answers the same uri. `VM_INVALID_STATE` for a warm
   * shadow, a VM that is not a paused incoming one, or a fenced host.
   */
  async incoming(id: string, req: IncomingRequest): Promise<IncomingReply> {
    if (!this.records.get(id)) throw new ShadowNotFoundError(id, 'incoming');
    if (this.o.fenced?.()) throw new VmInvalidStateError(id, 'incoming', 'fenced', 'a live lease with the server (the agent fenced this host)');
    return this.lock.run(id, async () => {
      const { driver, clock, log } = this.o;
      const rec = this.records.get(id);
      if (!rec) throw new ShadowNotFoundError(id, 'incoming');
      if (rec.promoted || rec.promoting) throw new ShadowPromotedError(id, 'incoming');
      if (rec.spec.flavor !== 'migrate') throw new VmInvalidStateError(id, 'incoming', 'a warm shadow', 'a migrate shadow');
      const st = await driver.status(id);
      if (st.state !== 'inmigrate') throw new VmInvalidStateError(id, 'incoming', st.state, 'a paused incoming VM (PUT the shadow again to start one)');
      if (rec.incoming && rec.incoming.pid === st.pid) {
        // Armed once, QEMU's autostart cannot be taken back: only arming is applied again.
        if (req.autoResume && !rec.incoming.autoResume) {
          await driver.cont(id);
          this.records.update(id, (r) => (r.incoming!.autoResume = true));
        }
        return { uri: rec.incoming.uri };
      }
      await driver.setMigrationCapabilities(id, { events: true });
      for (let attempt = 1; ; attempt++) {
        const port = await this.o.ports.pick(this.o.address, this.portsInUse());
        const uri = `tcp:${this.o.address.includes(':') ? `[${this.o.address}]` : this.o.address}:${port}`;
        try {
          await driver.migrateIncoming(id, uri);
        } catch (e) {
          // Taken between the pick and QEMU's bind: another port.
          if (isHypervisorError(e, 'HV_COMMAND_FAILED') && attempt < PORT_ATTEMPTS && !(await this.o.ports.isFree(this.o.address, port))) continue;
          throw e;
        }
        this.records.update(id, (r) => (r.incoming = { uri, port, pid: st.pid, at: clock.now(), autoResume: req.autoResume }));
        // `cont` while incoming makes QEMU run the guest by itself the moment the stream
        // completed (never before: a failed stream ends the process), saving the round trip of
        // the completed event and our `cont` from the downtime. The event handler conts too.
        if (req.autoResume) await driver.cont(id);
        log.info({ shadowId: id, uri, autoResume: req.autoResume }, 'shadow listening for a live migration');
        return { uri };
      }
    });
  }

  /**
   * Waits until the incoming migration completed, runs the guest when it is still paused, and
   * answers once it runs (the shadow is then promoted, mode `migrate`). Idempotent after that.
   */
  async resume(id: string, req: ResumeRequest): Promise<ResumeResult> {
    const { driver, clock } = this.o;
    const rec0 = this.records.get(id);
    if (!rec0) throw new ShadowNotFoundError(id, 'resume');
    if (rec0.promoted && rec0.promoted.mode !== 'migrate') throw new ShadowPromotedError(id, 'resume', `it was promoted (${rec0.promoted.mode})`);
    const result = async (ok: boolean, migrationStatus: string | null, error: string | null): Promise<ResumeResult> => {
      const st = await this.status(id);
      return { shadowId: id, ok, resumedAt: st.promotion?.mode === 'migrate' ? st.promotion.at : null, migrationStatus, vm: st.vm, error };
    };
    if (rec0.promoted) return result(true, 'completed', null);
    if (!rec0.incoming) throw new VmInvalidStateError(id, 'resume', 'not listening for a migration', 'an incoming migration (POST /v1/shadows/:id/incoming first)');
    const deadline = clock.now() + req.timeoutMs;
    let status: string | null = null;
    for (;;) {
      const rec = this.records.get(id);
      if (!rec) throw new ShadowNotFoundError(id, 'resume');
      if (rec.promoted) return result(true, 'completed', null);
      let state: string;
      try {
        state = (await driver.status(id)).state;
        status = state === 'exited' ? status : (await driver.queryMigration(id)).status;
      } catch (e) {
        return result(false, status, `the shadow VM cannot be observed: ${errText(e)}`);
      }
      if (state === 'running') {
        this.markMigrated(id, clock.now());
        return result(true, status, null);
      }
      if (state === 'exited' || state === 'defined' || (status !== null && MIGRATION_FAILED.has(status))) return result(false, status, `the incoming migration ended without a guest (VM ${state}, migration ${status ?? 'unknown'})`);
      if (status === 'completed') {
        const err = await this.runMigratedGuest(id, 'resume requested');
        return err ? result(false, status, err) : result(true, status, null);
      }
      const left = deadline - clock.now();
      if (left <= 0) return result(false, status, `the migration did not complete within ${req.timeoutMs} ms (status ${status ?? 'unknown'})`);
      await pause(clock, Math.min(this.o.promoteEveryMs ?? 50, left), this.abort.signal, this.migrationWake);
    }
  }

  // --- internals ---

  private placement(rec: ShadowRecord): ShadowPlacement {
    return { address: this.o.address, servicePort: rec.servicePort, exportPort: rec.exportPort, exportName: rec.exportName };
  }

  private portsInUse(): Set<number> {
    return new Set(this.records.all().flatMap((r) => [r.servicePort, r.exportPort, ...(r.incoming ? [r.incoming.port] : [])]));
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
        if (!(e instanceof VmExistsError) || LIVE_STATES.has((await driver.status(id)).state) || !this.records.get(id)) throw e;
        await driver.remove(id);
        await driver.create(spec);
      }
      if (LIVE_STATES.has((await driver.status(id)).state)) return;
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

  /** Warm: the standby guest mounts the target's disk; then its health says primary. */
  private async promoteWarm(id: string, deadline: number): Promise<{ ok: boolean; seq: number | null; error: string | null }> {
    const rec = this.records.get(id)!;
    const base = endpointUrl(this.o.address, rec.servicePort);
    const every = { everyMs: this.o.promoteEveryMs ?? 50, signal: this.abort.signal };
    const p = await promoteGuest(this.post, this.o.clock, `${base}/admin/promote?dev=${DATA_DEVICE}`, rec.spec.adminToken, deadline, every);
    if (!p.ok) return p;
    return waitPrimary(this.http, this.o.clock, base + GUEST_HEALTH_PATH, deadline, every);
  }

  /** Cold: the shadow VM is replaced by a normal boot on the target's export; then its health says primary. */
  private async promoteCold(id: string, deadline: number): Promise<{ ok: boolean; seq: number | null; error: string | null }> {
    const { driver, log } = this.o;
    const base = await this.lock.run(id, async () => {
      const rec = this.records.get(id)!;
      await this.removeVm(id);
      await driver.create(toPromotedVmSpec(rec.spec, this.placement(rec)));
      const st = await driver.start(id);
      log.info({ shadowId: id, pid: st.pid, servicePort: rec.servicePort }, 'cold promotion: VM booting on the target');
      return endpointUrl(this.o.address, rec.servicePort);
    });
    return waitPrimary(this.http, this.o.clock, base + GUEST_HEALTH_PATH, deadline, { everyMs: this.o.promoteEveryMs ?? 50, signal: this.abort.signal });
  }

  /** Runs a migrated-in guest (`cont`) unless the host is fenced; null when it runs, else why not. */
  private async runMigratedGuest(id: string, why: string): Promise<string | null> {
    const { driver, clock, log } = this.o;
    if (this.o.fenced?.()) {
      log.warn({ shadowId: id, why }, 'migration completed but the host is fenced: the guest stays paused');
      return 'the host is fenced: the guest stays paused';
    }
    try {
      await driver.cont(id);
    } catch (e) {
      log.error({ shadowId: id, err: errText(e) }, 'running the migrated guest failed');
      return `cont failed: ${errText(e)}`;
    }
    // The RESUME event (sent before cont's reply) marked it already, with QEMU's time.
    this.markMigrated(id, clock.now());
    return null;
  }

  /** Records a promotion by live migration (once): the guest runs here since `at`. */
  private markMigrated(id: string, at: number): void {
    const rec = this.records.get(id);
    if (!rec || rec.promoted) return;
    const since = rec.incoming?.at;
    this.records.update(id, (r) => {
      r.promoted = { mode: 'migrate', at, ms: null };
      r.incoming = null;
      r.lastError = null;
    });
    this.o.log.info({ shadowId: id, resumedAt: at, listenedMs: since !== undefined ? at - since : null }, 'shadow promoted by live migration: it is a primary now');
  }

  /** Migration events of shadows: run the guest when its stream completed, record its resume or failure. */
  private onEvent(ev: VmEvent): void {
    const rec = this.records.get(ev.vmId);
    if (!rec?.incoming || rec.promoted) return;
    this.migrationWake.poke();
    const id = ev.vmId;
    if (ev.type === 'RESUME') return this.markMigrated(id, ev.atMs);
    if (ev.type === 'MIGRATION' && ev.data.status === 'completed') {
      this.o.log.info({ shadowId: id, at: ev.atMs, autoResume: rec.incoming.autoResume }, 'incoming migration completed');
      if (rec.incoming.autoResume) void this.runMigratedGuest(id, 'the migration completed');
      return;
    }
    const failed = ev.type === 'EXITED' || (ev.type === 'MIGRATION' && MIGRATION_FAILED.has(String(ev.data.status)));
    if (failed) {
      const message = ev.type === 'EXITED' ? 'the shadow VM exited during the incoming migration' : `the incoming migration ended ${String(ev.data.status)}`;
      this.records.update(id, (r) => {
        r.incoming = null;
        r.lastError = { code: 'MIGRATION_FAILED', message };
      });
      this.o.log.warn({ shadowId: id }, message);
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
    if (rec.promoting) {
      // Interrupted by the agent's end: not promoted; the server may retry.
      this.records.update(id, (r) => {
        r.promoting = null;
        r.lastError = { code: 'PROMOTION_FAILED', message: 'the agent stopped during the promotion' };
      });
    }
    if (rec.incoming && !rec.promoted) await this.adoptIncoming(id);
    if (rec.rehearsing) await this.cleanupRehearsal(id, rec.rehearsing);
    // Point-in-time exports only live during a rehearsal: any left belongs to an interrupted one.
    const t = await this.o.targets.status(id).catch(() => null);
    if (t?.state === 'running') for (const pit of await this.o.targets.listPointInTime(id)) await this.o.targets.releasePointInTime(id, pit);
  }

  /** An incoming migration found by a restarted agent: a guest already running is promoted; one whose stream completed is run (autoResume). */
  private async adoptIncoming(id: string): Promise<void> {
    const rec = this.records.get(id)!;
    const st = await this.o.driver.status(id).catch(() => null);
    if (st?.state === 'running') return this.markMigrated(id, this.o.clock.now());
    if (!st || st.pid === null || st.pid !== rec.incoming!.pid) {
      this.records.update(id, (r) => (r.incoming = null));
      return;
    }
    if (st.state === 'paused' && rec.incoming!.autoResume && (await this.o.driver.queryMigration(id)).status === 'completed') await this.runMigratedGuest(id, 'the migration completed while the agent was down');
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
