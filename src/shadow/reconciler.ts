/**
 * The shadow manager's reconciler (issue 4): the thin side-effect layer around the pure
 * decisions (reconciler-decide.ts → risk, plan, sync-state). Each pass:
 * 1. reads a snapshot (VMs, agents, shadows, forecasts, recent health samples) and decides which
 *    shadows should exist, where and how big;
 * 2. acts: creates shadows (record first, then the shadow host's target + VM, then the primary's
 *    replication to it), retires the ones no longer wanted (replication stopped, shadow deleted),
 *    and removes shadows agents run that no record knows (a crash between steps);
 * 3. observes every shadow (shadow host: target + VM; primary host: replication status), moves its
 *    sync state machine, and raises or resolves alerts — all in one transaction.
 * Everything it asks of agents is idempotent, so a pass that runs twice (or after a server crash
 * in the middle) converges to the same shadows.
 *
 * Verification and rehearsals take seconds, so they run from {@link ShadowReconciler.checks}, a
 * second loop, never inside a pass.
 */
import { randomBytes } from 'node:crypto';
import type { RehearsalResult, ReplicationStatus, ShadowSpec, ShadowStatus } from '../api/shadow-protocol.js';
import type { Clock } from '../core/clock.js';
import { isUmbraError } from '../core/errors.js';
import type { UmbraConfig } from '../config/schema.js';
import type { AgentTarget } from '../server/agent-client.js';
import type { GuestImageRef } from '../server/reconciler.js';
import { agentSpecFor } from '../server/reconciler.js';
import type { ShadowAgentApi } from '../server/shadow-agent-client.js';
import { ConflictError, NotFoundError } from '../store/errors.js';
import type { AgentRow, ShadowRow, ShadowStatusDoc, Store, StoreTx, VmRow } from '../store/store.js';
import type { FailoverGate } from '../failover/gate.js';
import { raiseAlert, resolveAlert } from './alerts.js';
import {
  decideShadows,
  explainVm,
  keepUpdates,
  nextShadowStatus,
  policyOf,
  rehearsalTaskOf,
  type Decision,
  type ShadowObservation,
  type Snapshot,
  type VmAnalysis,
} from './reconciler-decide.js';

/** Logging the reconciler does (pino satisfies it). */
export interface ShadowLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  debug(fields: object, msg: string): void;
}

/** Options of {@link ShadowReconciler}. */
export interface ShadowReconcilerOptions {
  store: Store;
  clock: Clock;
  agents: ShadowAgentApi;
  image: () => Promise<GuestImageRef>;
  /** The policy file in force (policies, budgets, forecast horizons). */
  config: () => UmbraConfig;
  log: ShadowLogger;
  /** Longest pause a verification may impose on a primary (ms, default 5000). */
  verifyMaxPauseMs?: number;
  /** Random bytes (tests inject determinism). */
  random?: (n: number) => Buffer;
  /** Shared with the failover controller: no replication calls for a VM while it fails over. */
  gate?: FailoverGate;
}

/** The outcome of one verification. */
export interface VerifyResult {
  shadowId: string;
  vmId: string;
  at: number;
  ok: boolean;
  /** How long the primary was paused, ms. */
  pauseMs: number;
  /** Catching up while paused, ms. */
  catchUpMs: number;
  chunks: number;
  chunkBytes: number;
  /** Indices of the chunks that differ. */
  mismatched: number[];
  primaryDigest: string;
  shadowDigest: string;
  error?: string;
}

const MiB = 1024 * 1024;
/** Chunk size of verification digests. */
const VERIFY_CHUNK = MiB;
/** Agent time allowed to ensure a shadow (a warm one boots). */
const MAX_ID = 63;

/** A record of a new shadow, before anything was asked of agents. */
function newShadowRow(d: Extract<Decision, { kind: 'create' }>, id: string, now: number): ShadowRow {
  return {
    id,
    vmId: d.vmId,
    host: d.host,
    flavor: d.flavor,
    mode: d.mode,
    intervalSeconds: d.intervalSeconds,
    size: { ...d.size },
    createdAt: now,
    phase: 'active',
    reason: d.reason,
    replaces: d.replaces ?? null,
    status: {
      sync: 'provisioning',
      syncSince: now,
      progress: null,
      lagBytes: null,
      lagSeconds: null,
      generation: null,
      target: null,
      vm: null,
      targetPid: null,
      error: null,
      initialCopyBytesPerSec: null,
      readyAt: null,
      verify: null,
      rehearsal: null,
    },
  };
}

/** See the module comment. */
export class ShadowReconciler {
  /** Shadow ids with a create in flight (agents are slow; the next pass must not start another). */
  private readonly creating = new Set<string>();
  private lastDecisions: Decision[] = [];
  /** Verifications and rehearsals in flight, by `kind:shadowId`: a second caller joins the first. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  private checking = false;

  constructor(private readonly o: ShadowReconcilerOptions) {}

  /** The decisions of the last pass (explain, tests). */
  get decisions(): readonly Decision[] {
    return this.lastDecisions;
  }

  /** One reconcile pass (see the module comment). */
  async pass(signal?: AbortSignal): Promise<void> {
    const now = this.o.clock.now();
    const snap = await this.snapshot();
    const decisions = decideShadows(snap, this.o.config(), now);
    this.lastDecisions = decisions;

    const keeps = keepUpdates(decisions);
    await this.o.store.transaction((tx) => {
      for (const [id, lowRiskSinceMs] of keeps) {
        const cur = tx.getShadow(id);
        if (cur && (cur.status.lowRiskSinceMs ?? null) !== lowRiskSinceMs) putStatus(tx, cur, { lowRiskSinceMs });
      }
      for (const d of decisions) {
        if (d.kind === 'unplaced') {
          raiseAlert(tx, now, { key: `unplaced/${d.vmId}`, kind: 'unplaced', severity: 'warning', vmId: d.vmId, shadowId: null, summary: `VM ${d.vmId} needs a shadow but none can be placed: ${d.reason}` });
        } else if (d.kind === 'create' || d.kind === 'keep') {
          resolveAlert(tx, now, `unplaced/${d.vmId}`, 'placed');
        }
      }
    });

    for (const d of decisions) {
      if (signal?.aborted) return;
      if (this.failingOver(snap, d.vmId)) continue;
      if (d.kind === 'create') await this.guarded(snap, d.vmId, () => this.create(d, snap, now));
      else if (d.kind === 'retire') await this.guarded(snap, d.vmId, () => this.retire(d.shadowId, d.reason, snap));
    }
    // Retirements a failed agent call left half done are finished here.
    for (const s of snap.shadows) {
      if (signal?.aborted) return;
      if (this.failingOver(snap, s.vmId)) continue;
      if (s.phase === 'retiring' && !decisions.some((d) => d.kind === 'retire' && d.shadowId === s.id)) await this.guarded(snap, s.vmId, () => this.retire(s.id, s.reason, snap));
    }
    await this.collectGarbage(snap);
    if (!signal?.aborted) await this.observe();
  }

  /** Due verifications and rehearsals, one at a time (a second loop; see the module comment). */
  async checks(signal?: AbortSignal): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = this.o.clock.now();
      const shadows = await this.o.store.read((r) => r.listShadows());
      for (const s of shadows) {
        if (signal?.aborted) return;
        if (s.phase !== 'active' || s.status.sync !== 'synchronized') continue;
        if (await this.failoverRunning(s.vmId)) continue;
        const policy = policyOf(this.o.config(), await this.vmIdentity(s.vmId));
        if (!policy) continue;
        const lastVerify = s.status.verify?.at ?? s.status.readyAt ?? s.createdAt;
        if (now - lastVerify >= policy.verify_interval * 1000) await this.verify(s.id).catch((e) => this.o.log.warn({ shadowId: s.id, err: errText(e) }, 'verification failed'));
        const lastRehearsal = s.status.rehearsal?.at ?? -Infinity;
        if (now - lastRehearsal >= policy.warmup_interval * 1000) await this.rehearse(s.id).catch((e) => this.o.log.warn({ shadowId: s.id, err: errText(e) }, 'rehearsal failed'));
      }
    } finally {
      this.checking = false;
    }
  }

  /**
   * Proves the shadow's disk equals the primary's at one point in time: the primary is paused
   * until the target holds every write, both sides are digested (1 MiB chunks), the primary
   * resumes. The pause is measured. A mismatch raises `corruption` and starts a full resync.
   */
  verify(shadowId: string): Promise<VerifyResult> {
    return this.once(`verify:${shadowId}`, () => this.unlessFailingOver(shadowId, 'verify', () => this.doVerify(shadowId)));
  }

  private async doVerify(shadowId: string): Promise<VerifyResult> {
    const { shadow, primary, host, instance } = await this.endpoints(shadowId);
    const maxPause = this.o.verifyMaxPauseMs ?? 5000;
    const at = this.o.clock.now();
    let result: VerifyResult;
    const q = await this.o.agents.quiesce(primary, instance, maxPause);
    let pauseMs = 0;
    try {
      const [a, b] = await Promise.all([this.o.agents.vmDiskDigest(primary, instance, VERIFY_CHUNK), this.o.agents.shadowDiskDigest(host, shadowId, VERIFY_CHUNK)]);
      pauseMs = (await this.o.agents.unquiesce(primary, instance)).pauseMs;
      const n = Math.max(a.chunks.length, b.chunks.length);
      const mismatched: number[] = [];
      for (let i = 0; i < n; i++) if (a.chunks[i] !== b.chunks[i]) mismatched.push(i);
      result = {
        shadowId,
        vmId: shadow.vmId,
        at,
        ok: q.caughtUp && mismatched.length === 0 && a.sizeBytes === b.sizeBytes,
        pauseMs,
        catchUpMs: q.catchUpMs,
        chunks: n,
        chunkBytes: VERIFY_CHUNK,
        mismatched,
        primaryDigest: a.digest,
        shadowDigest: b.digest,
        ...(q.caughtUp ? {} : { error: 'the target had not caught up when the point in time was taken' }),
        ...(a.sizeBytes !== b.sizeBytes ? { error: `sizes differ: primary ${a.sizeBytes} B, shadow ${b.sizeBytes} B` } : {}),
      };
    } catch (e) {
      await this.o.agents.unquiesce(primary, instance).catch(() => undefined); // the agent resumes by itself anyway
      throw e;
    }
    // Only a consistent point in time can prove corruption (a target that had not caught up differs by design).
    const corrupt = q.caughtUp && result.mismatched.length > 0;
    const now = this.o.clock.now();
    await this.o.store.transaction((tx) => {
      const row = tx.getShadow(shadowId);
      if (!row) return;
      putStatus(tx, row, { verify: { at, ok: result.ok, pauseMs: result.pauseMs, chunks: result.chunks, mismatched: result.mismatched.slice(0, 64), ...(result.error ? { error: result.error } : {}) } });
      tx.appendEvent({ t: now, kind: result.ok ? 'shadow.verified' : 'shadow.verify_failed', vmId: shadow.vmId, data: { shadowId, pauseMs: result.pauseMs, chunks: result.chunks, mismatched: result.mismatched.length, error: result.error ?? null } });
      if (corrupt) {
        raiseAlert(tx, now, {
          key: `corruption/${shadow.vmId}`,
          kind: 'corruption',
          severity: 'critical',
          vmId: shadow.vmId,
          shadowId,
          summary: `shadow ${shadowId} of ${shadow.vmId} differs from the primary in ${result.mismatched.length} of ${result.chunks} MiB chunks (first at offset ${(result.mismatched[0] ?? 0) * VERIFY_CHUNK}): resyncing`,
          data: { mismatched: result.mismatched.slice(0, 64) },
        });
      } else if (result.ok) {
        resolveAlert(tx, now, `corruption/${shadow.vmId}`, 'verified equal');
      }
    });
    this.o.log.info({ shadowId, vmId: shadow.vmId, ok: result.ok, pauseMs, mismatched: result.mismatched.length }, 'shadow verified');
    if (corrupt) await this.resync(shadowId);
    return result;
  }

  /** Runs the policy's warm-up task in (or, for a migrate shadow, beside) the shadow and records it. */
  rehearse(shadowId: string): Promise<RehearsalResult> {
    return this.once(`rehearse:${shadowId}`, () => this.doRehearse(shadowId));
  }

  private async doRehearse(shadowId: string): Promise<RehearsalResult> {
    const { shadow, host } = await this.endpoints(shadowId);
    const policy = policyOf(this.o.config(), await this.vmIdentity(shadow.vmId));
    const r = await this.o.agents.rehearse(host, shadowId, policy ? rehearsalTaskOf(policy) : undefined);
    const now = this.o.clock.now();
    await this.o.store.transaction((tx) => {
      const row = tx.getShadow(shadowId);
      if (!row) return;
      putStatus(tx, row, { rehearsal: { at: r.startedAt, ok: r.ok, where: r.where, timeToReadyMs: r.timeToReadyMs, taskMs: r.task?.ms ?? null, error: r.error ?? r.task?.error ?? null } });
      tx.appendEvent({ t: now, kind: r.ok ? 'shadow.rehearsed' : 'shadow.rehearsal_failed', vmId: shadow.vmId, data: { shadowId, where: r.where, timeToReadyMs: r.timeToReadyMs, taskMs: r.task?.ms ?? null, error: r.error } });
      const key = `rehearsal_failed/${shadow.vmId}`;
      if (r.ok) resolveAlert(tx, now, key, 'rehearsal passed');
      else raiseAlert(tx, now, { key, kind: 'rehearsal_failed', severity: 'warning', vmId: shadow.vmId, shadowId, summary: `warm-up of shadow ${shadowId} failed: ${r.error ?? r.task?.error ?? 'task failed'}` });
    });
    this.o.log.info({ shadowId, ok: r.ok, where: r.where, timeToReadyMs: r.timeToReadyMs }, 'shadow rehearsed');
    return r;
  }

  /** The numbers behind a VM's shadow decision, as text and JSON. */
  async explain(vmId: string): Promise<{ vmId: string; text: string; analysis: VmAnalysis | null }> {
    return explainVm(await this.snapshot(), this.o.config(), vmId);
  }

  /** Starts a new full copy to the shadow. */
  resync(shadowId: string): Promise<ReplicationStatus> {
    return this.unlessFailingOver(shadowId, 'resync', () => this.doResync(shadowId));
  }

  private async doResync(shadowId: string): Promise<ReplicationStatus> {
    const { shadow, primary, instance } = await this.endpoints(shadowId);
    const r = await this.o.agents.resync(primary, instance);
    await this.o.store.transaction((tx) => tx.appendEvent({ t: this.o.clock.now(), kind: 'shadow.resync', vmId: shadow.vmId, data: { shadowId, generation: r.generation } }));
    return r;
  }

  // --- internals

  /** Runs `fn` unless a run under `key` is in flight, whose result is then shared. */
  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Everything a pass decides from, read in one consistent view. */
  private async snapshot(): Promise<Snapshot> {
    const now = this.o.clock.now();
    const horizonS = Math.max(...this.o.config().forecast.horizons);
    const gate = this.o.gate;
    return this.o.store.read((r) => {
      const vms = r.listVms().filter((v) => v.role === 'primary');
      // Tickets first: a failover held after this makes every decision taken from this read stale.
      const tickets = new Map(vms.map((v) => [v.id, gate?.ticket(v.id) ?? 0]));
      return {
        failingOver: new Set(r.listFailovers({ running: true }).map((f) => f.vmId)),
        tickets,
        now,
        agents: r.listAgents(),
        vms,
        shadows: r.listShadows(),
        forecasts: new Map(vms.map((v) => [v.id, r.getForecasts(v.id).map((f) => f.forecast)])),
        health: new Map(
          vms.map((v) => [
            v.id,
            r.querySamples({ vmId: v.id, metric: 'probe_ok', from: now / 1000 - 900, limit: 1000 }).map((s) => ({ t: s.t, value: s.value })),
          ]),
        ),
        // Samples since the CPU forecast was made: how many fell outside its interval.
        recentCpu: new Map(
          vms.map((v) => {
            const f = r.getForecasts(v.id).find((x) => x.metric === 'cpu_pct');
            const from = f?.forecast.points[0]?.t;
            return [v.id, from === undefined ? [] : r.querySamples({ vmId: v.id, metric: 'cpu_pct', from: Math.max(from - 150, now / 1000 - 3600), limit: 5000 }).map((s) => ({ t: s.t, value: s.value }))];
          }),
        ),
        horizonSeconds: horizonS,
      };
    });
  }

  /** A failover of the VM runs (recorded, or held by the controller): hands off (see gate.ts). */
  private failingOver(snap: Snapshot, vmId: string): boolean {
    return Boolean(snap.failingOver?.has(vmId) || this.o.gate?.isHeld(vmId));
  }

  private async failoverRunning(vmId: string): Promise<boolean> {
    if (this.o.gate?.isHeld(vmId)) return true;
    return (await this.o.store.read((r) => r.listFailovers({ vmId, running: true }))).length > 0;
  }

  /** Runs `fn` for the VM unless a failover held it since `snap` was read (then skips it). */
  private async guarded(snap: Snapshot, vmId: string, fn: () => Promise<void>): Promise<void> {
    const gate = this.o.gate;
    if (!gate) return fn();
    await gate.guard(vmId, snap.tickets?.get(vmId) ?? gate.ticket(vmId), fn);
  }

  /** Runs an operator- or check-driven call on a shadow's VM, refused while that VM fails over. */
  private async unlessFailingOver<T>(shadowId: string, what: string, fn: () => Promise<T>): Promise<T> {
    const vmId = (await this.o.store.read((r) => r.getShadow(shadowId)))?.vmId;
    const refuse = (): never => {
      throw new ConflictError(`${what} of shadow ${shadowId}: its VM ${vmId} is failing over; try again when the failover ended`, { shadowId, vmId });
    };
    if (!vmId || !this.o.gate) return fn();
    if (await this.failoverRunning(vmId)) refuse();
    const gate = this.o.gate;
    const out = await gate.guard(vmId, gate.ticket(vmId), async () => ({ v: await fn() }));
    return out ? out.v : refuse();
  }

  private async vmIdentity(vmId: string): Promise<{ name: string; labels: Record<string, string> } | null> {
    const vm = await this.o.store.read((r) => r.getVm(vmId));
    return vm ? { name: vm.id, labels: { ...vm.spec.labels } } : null;
  }

  /** The shadow's record, its primary's agent and its own host's agent. */
  private async endpoints(shadowId: string): Promise<{ shadow: ShadowRow; primary: AgentTarget; host: AgentTarget; instance: string }> {
    const found = await this.o.store.read((r) => {
      const shadow = r.getShadow(shadowId);
      const vm = shadow ? r.getVm(shadow.vmId) : undefined;
      return shadow ? { shadow, primary: vm ? r.getAgent(vm.spec.host) : undefined, host: r.getAgent(shadow.host), instance: vm ? instanceOf(vm) : shadow.vmId } : undefined;
    });
    if (!found) throw new NotFoundError('shadow', shadowId, { shadowId });
    if (!found.primary) throw new NotFoundError('vm', found.shadow.vmId, { vmId: found.shadow.vmId, shadowId });
    if (!found.host) throw new NotFoundError('agent', found.shadow.host, { shadowId });
    return { shadow: found.shadow, primary: found.primary, host: found.host, instance: found.instance };
  }

  private newId(vmId: string): string {
    const suffix = `-s${(this.o.random ?? randomBytes)(3).toString('hex')}`;
    return vmId.slice(0, MAX_ID - suffix.length) + suffix;
  }

  /** Creates a shadow: the record first (so a crash leaves something to clean or finish), then the agents. */
  private async create(d: Extract<Decision, { kind: 'create' }>, snap: Snapshot, now: number): Promise<void> {
    const id = this.newId(d.vmId);
    const token = (this.o.random ?? randomBytes)(24).toString('hex');
    await this.o.store.transaction((tx) => {
      const row = newShadowRow(d, id, now);
      tx.putShadow({ ...row, status: { ...row.status, adminToken: token } });
      tx.appendEvent({ t: now, kind: 'shadow.created', vmId: d.vmId, data: { shadowId: id, host: d.host, flavor: d.flavor, mode: d.mode, size: d.size, reason: d.reason, replaces: d.replaces ?? null } });
    });
    this.o.log.info({ vmId: d.vmId, shadowId: id, host: d.host, flavor: d.flavor, mode: d.mode, ...d.size }, 'shadow decided');
    const row = await this.o.store.read((r) => r.getShadow(id));
    if (row) await this.provision(row, snap);
  }

  /** Ensures the shadow host runs the shadow, then the primary replicates to it. Errors land in the record. */
  private async provision(row: ShadowRow, snap: Snapshot): Promise<void> {
    if (this.creating.has(row.id)) return;
    this.creating.add(row.id);
    try {
      const vm = snap.vms.find((v) => v.id === row.vmId);
      const host = snap.agents.find((a) => a.name === row.host);
      const primary = vm ? snap.agents.find((a) => a.name === vm.spec.host) : undefined;
      if (!vm || !host || !primary) return;
      const image = await this.o.image();
      const primarySpec = agentSpecFor(vm, image);
      const token = typeof row.status.adminToken === 'string' ? row.status.adminToken : '';
      const spec: ShadowSpec = {
        id: row.id,
        primaryId: row.vmId,
        flavor: row.flavor,
        diskBytes: primarySpec.dataDiskMiB * MiB,
        // A migrate shadow receives the primary's RAM: it must have the same machine shape.
        vcpus: row.flavor === 'migrate' ? primarySpec.vcpus : row.size.vcpus,
        maxVcpus: Math.max(primarySpec.maxVcpus, row.size.vcpus),
        memoryMiB: row.flavor === 'migrate' ? primarySpec.memoryMiB : row.size.memoryMiB,
        maxMemoryMiB: Math.max(primarySpec.maxMemoryMiB, row.size.memoryMiB),
        kernel: image.kernel,
        initrd: image.initrd,
        adminToken: token,
        servicePort: 0,
        exportPort: 0,
        probePath: primarySpec.probePath,
        labels: { 'umbra.shadow-of': row.vmId },
      };
      let st: ShadowStatus;
      try {
        st = await this.o.agents.ensureShadow(host, spec);
      } catch (e) {
        await this.noteError(row.id, `shadow host ${row.host}: ${errText(e)}`);
        return;
      }
      await this.o.store.transaction((tx) => {
        const cur = tx.getShadow(row.id);
        if (cur) putStatus(tx, cur, { target: st.target, vm: st.vm, targetPid: st.targetPid, error: null });
      });
      await this.replicate(row, primary, instanceOf(vm), st);
    } finally {
      this.creating.delete(row.id);
    }
  }

  /** Points the primary's replication at the shadow's target. */
  private async replicate(row: ShadowRow, primary: AgentTarget, instance: string, st: Pick<ShadowStatus, 'target'>): Promise<ReplicationStatus | null> {
    try {
      return await this.o.agents.ensureReplication(primary, instance, {
        shadowId: row.id,
        target: st.target,
        mode: row.mode,
        intervalSeconds: row.intervalSeconds,
        speedBytesPerSec: 0,
      });
    } catch (e) {
      await this.noteError(row.id, `replication from ${primary.name}: ${errText(e)}`);
      return null;
    }
  }

  private async noteError(shadowId: string, error: string): Promise<void> {
    this.o.log.warn({ shadowId, err: error }, 'shadow step failed (retried next pass)');
    await this.o.store.transaction((tx) => {
      const cur = tx.getShadow(shadowId);
      if (cur) putStatus(tx, cur, { error });
    });
  }

  /** Retires a shadow: replication to it stops, its host removes it, the record goes. */
  private async retire(shadowId: string, reason: string, snap: Snapshot): Promise<void> {
    const row = snap.shadows.find((s) => s.id === shadowId);
    if (!row) return;
    const vm = snap.vms.find((v) => v.id === row.vmId);
    const primary = vm ? aliveAgent(snap.agents, vm.spec.host, snap.now) : undefined;
    const host = aliveAgent(snap.agents, row.host, snap.now);
    await this.o.store.transaction((tx) => {
      const cur = tx.getShadow(shadowId);
      if (cur && cur.phase !== 'retiring') tx.putShadow({ ...cur, phase: 'retiring', reason });
    });
    try {
      if (primary) {
        const instance = vm ? instanceOf(vm) : row.vmId;
        const rep = await this.o.agents.getReplication(primary, instance);
        if (rep && rep.shadowId === shadowId) await this.o.agents.stopReplication(primary, instance);
      }
      if (host) await this.o.agents.deleteShadow(host, shadowId);
    } catch (e) {
      this.o.log.warn({ shadowId, err: errText(e) }, 'retiring a shadow failed (retried next pass)');
      return;
    }
    // A lost shadow host cannot confirm; its leftovers are collected when it comes back.
    const now = this.o.clock.now();
    await this.o.store.transaction((tx) => {
      tx.deleteShadow(shadowId);
      tx.appendEvent({ t: now, kind: 'shadow.retired', vmId: row.vmId, data: { shadowId, host: row.host, reason, hostAlive: Boolean(host) } });
      if (!host && reason.startsWith('host_lost')) {
        // Protection is gone until the replacement is synchronized (that resolves it).
        raiseAlert(tx, now, {
          key: `target_lost/${row.vmId}`,
          kind: 'target_lost',
          severity: 'critical',
          vmId: row.vmId,
          shadowId,
          summary: `shadow ${shadowId} of ${row.vmId} lost with its host ${row.host}; a replacement is being built`,
        });
      } else if (!tx.listShadows(row.vmId).some((s) => s.id !== shadowId && s.phase === 'active')) {
        for (const k of ['lag_slo', 'sync_failed', 'target_lost']) resolveAlert(tx, now, `${k}/${row.vmId}`, 'shadow retired');
      }
    });
    this.o.log.info({ shadowId, vmId: row.vmId, reason }, 'shadow retired');
  }

  /** Removes shadows a live agent runs that no record knows (a create interrupted by a crash). */
  private async collectGarbage(snap: Snapshot): Promise<void> {
    const known = new Set((await this.o.store.read((r) => r.listShadows())).map((s) => s.id));
    await Promise.all(
      snap.agents
        .filter((a) => snap.now < a.leaseExpiresAt)
        .map(async (a) => {
          let listed: ShadowStatus[];
          try {
            listed = await this.o.agents.listShadows(a);
          } catch {
            return;
          }
          for (const s of listed) {
            // A promoted shadow is a primary now (the VM's instance after a failover), not garbage.
            if (known.has(s.id) || this.creating.has(s.id) || s.promoted) continue;
            this.o.log.warn({ host: a.name, shadowId: s.id }, 'removing a shadow no record knows');
            await this.o.agents.deleteShadow(a, s.id).catch(() => undefined);
          }
        }),
    );
  }

  /** Observes every shadow and its replication; moves sync states and alerts. */
  private async observe(): Promise<void> {
    const snap = await this.snapshot();
    // Per host: what it runs, or `lost` (its lease expired), or null (alive but did not answer).
    const byHost = new Map<string, ShadowStatus[] | 'lost' | null>();
    await Promise.all(
      snap.agents.map(async (a) => {
        if (snap.now >= a.leaseExpiresAt) return byHost.set(a.name, 'lost');
        byHost.set(a.name, await this.o.agents.listShadows(a).catch(() => null));
      }),
    );
    const current = currentShadows(snap.shadows);
    const observations: ShadowObservation[] = [];
    /** Shadows whose target process was restarted this pass (their replication observation is stale). */
    const targetRestarted = new Map<string, number>();
    for (const row of snap.shadows) {
      if (row.phase !== 'active') continue;
      // A failover moves this VM now: its shadows are the controller's until it ended.
      if (this.failingOver(snap, row.vmId)) continue;
      const vm = snap.vms.find((v) => v.id === row.vmId);
      const primary = vm ? aliveAgent(snap.agents, vm.spec.host, snap.now) : undefined;
      const hostView = byHost.get(row.host) ?? 'lost';
      const listed = Array.isArray(hostView) ? hostView : null;
      // A lost host runs nothing we can count on: its shadow is observed absent.
      const shadow = listed ? (listed.find((s) => s.id === row.id) ?? null) : hostView === 'lost' ? null : undefined;
      let replication: ReplicationStatus | null | undefined;
      const instance = vm ? instanceOf(vm) : row.vmId;
      if (primary) replication = await this.o.agents.getReplication(primary, instance).catch(() => undefined);
      const isCurrent = current.get(row.vmId) === row.id;
      observations.push({ row, shadow, replication: replication && replication.shadowId === row.id ? replication : replication === undefined ? undefined : null, isCurrent, primaryAlive: Boolean(primary), hostAlive: hostView !== 'lost' });

      // Converge: a shadow its live host does not run is ensured again; the current shadow's
      // replication is pointed at its target.
      if (listed && !shadow && !this.creating.has(row.id)) {
        void this.guarded(snap, row.vmId, () => this.provision(row, snap));
        continue;
      }
      // Only on what the primary's agent said: one that did not answer (its host going down) is
      // not asked to replicate (the call would hang until its timeout, and hold up a failover).
      if (primary && shadow && isCurrent && replication !== undefined && (!replication || replication.shadowId !== row.id || !sameTarget(replication.target, shadow.target))) {
        await this.guarded(snap, row.vmId, async () => void (await this.replicate(row, primary, instance, shadow)));
      } else if (primary && shadow && isCurrent && replication && shadow.targetRestarts > (typeof row.status.targetRestarts === 'number' ? row.status.targetRestarts : 0)) {
        // The target process died and its agent restarted it: the primary's connection to it is
        // dead even if no write has noticed yet. Alert, and copy again now instead of at the next
        // guest write (the alert resolves once the shadow is synchronized again).
        this.o.log.warn({ shadowId: row.id, vmId: row.vmId, targetRestarts: shadow.targetRestarts }, 'shadow target restarted: resyncing');
        targetRestarted.set(row.id, shadow.targetRestarts);
        await this.guarded(snap, row.vmId, async () => void (await this.o.agents.resync(primary, instance))).catch((e: unknown) => this.o.log.warn({ shadowId: row.id, err: errText(e) }, 'resync after a target restart failed'));
      }
    }
    const now = this.o.clock.now();
    await this.o.store.transaction((tx) => {
      for (const ob of observations) {
        const cur = tx.getShadow(ob.row.id);
        if (!cur || cur.phase !== 'active') continue;
        const policy = policyOf(this.o.config(), snapVmIdentity(snap, cur.vmId));
        const next = nextShadowStatus(cur, ob, policy, now);
        if (next.status.sync !== cur.status.sync) {
          tx.appendEvent({ t: now, kind: 'shadow.sync', vmId: cur.vmId, data: { shadowId: cur.id, from: cur.status.sync, to: next.status.sync, why: next.why } });
          this.o.log.info({ shadowId: cur.id, vmId: cur.vmId, from: cur.status.sync, to: next.status.sync, why: next.why }, 'shadow sync state');
        }
        const restarts = targetRestarted.get(cur.id);
        if (restarts !== undefined) {
          // Observed before the resync: not synchronized until a later pass says so.
          next.status = { ...next.status, sync: 'syncing', syncSince: now, syncAlerts: [...new Set([...(Array.isArray(next.status.syncAlerts) ? (next.status.syncAlerts as string[]) : []), 'target_lost'])] };
          raiseAlert(tx, now, {
            key: `target_lost/${cur.vmId}`,
            kind: 'target_lost',
            severity: 'critical',
            vmId: cur.vmId,
            shadowId: cur.id,
            summary: `the target process of shadow ${cur.id} died (restarted by its agent, ${restarts} restarts): resyncing`,
          });
        }
        tx.putShadow({ ...cur, status: next.status });
        for (const r of next.resyncs) {
          tx.appendEvent({ t: now, kind: 'shadow.resync', vmId: cur.vmId, data: { shadowId: cur.id, generation: r.generation, lastError: r.error, failures: ob.replication?.failures ?? null } });
          this.o.log.warn({ shadowId: cur.id, vmId: cur.vmId, generation: r.generation, lastError: r.error }, 'replication restarted with a full copy');
        }
        for (const a of next.raise) raiseAlert(tx, now, a);
        for (const key of next.resolve) resolveAlert(tx, now, key);
        // The VM is protected again: alerts about an earlier shadow of it are over too.
        if (ob.isCurrent && next.status.sync === 'synchronized' && restarts === undefined) {
          for (const k of ['target_lost', 'sync_failed', 'lag_slo']) resolveAlert(tx, now, `${k}/${cur.vmId}`, `${cur.id} synchronized`);
        }
      }
    });
  }
}

/** The id of the VM's process on its host's agent (a promoted shadow's after a failover). */
function instanceOf(vm: Pick<VmRow, 'id' | 'spec'>): string {
  return vm.spec.instance ?? vm.id;
}

/** The live agent called `name`, if its lease holds at `now`. */
function aliveAgent(agents: readonly AgentRow[], name: string, now: number): AgentRow | undefined {
  const a = agents.find((x) => x.name === name);
  return a && now < a.leaseExpiresAt ? a : undefined;
}

/** Per VM, the shadow its replication should feed: the newest active one whose target exists. */
export function currentShadows(shadows: readonly ShadowRow[]): Map<string, string> {
  const out = new Map<string, ShadowRow>();
  for (const s of shadows) {
    if (s.phase !== 'active' || !s.status.target) continue;
    const prev = out.get(s.vmId);
    if (!prev || s.createdAt > prev.createdAt || (s.createdAt === prev.createdAt && s.id > prev.id)) out.set(s.vmId, s);
  }
  return new Map([...out].map(([vm, s]) => [vm, s.id]));
}

function sameTarget(a: { host: string; port: number; export: string }, b: { host: string; port: number; export: string }): boolean {
  return a.host === b.host && a.port === b.port && a.export === b.export;
}

function snapVmIdentity(snap: Snapshot, vmId: string): { name: string; labels: Record<string, string> } | null {
  const vm = snap.vms.find((v) => v.id === vmId);
  return vm ? { name: vm.id, labels: { ...vm.spec.labels } } : null;
}

/** Writes part of a shadow's status document. */
function putStatus(tx: StoreTx, row: ShadowRow, patch: Partial<ShadowStatusDoc>): void {
  tx.putShadow({ ...row, status: { ...row.status, ...patch } });
}

function errText(e: unknown): string {
  if (isUmbraError(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}
