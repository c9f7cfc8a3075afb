/**
 * The failover controller (issue 5): the side-effect layer around decide.ts and pipeline.ts.
 * Each pass:
 * 1. resumes every failover recorded as running (a controller killed halfway goes on from the
 *    first unfinished step: every step is idempotent on the agents);
 * 2. evaluates each primary's failover criteria on what was observed (state, host lease,
 *    samples), decides (calm, shadow sync, path), and starts the failovers that should happen,
 *    highest failover_priority first;
 * 3. re-applies the traffic switch for every VM (a stale path heals).
 * The intent is stored before the first step, and each step's end right after it, in one
 * transaction with the event log (`failover.*` events: what `umbra events` shows).
 *
 * Never two writers: the shadow is promoted only after `fence` (the primary paused by its agent,
 * or, when its agent cannot be reached, after its lease expired: the agent fences itself) and
 * `stop_replication`; a live migration leaves its source paused by QEMU itself.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { isUmbraError } from '../core/errors.js';
import { resolvePolicy } from '../config/resolve.js';
import type { UmbraConfig } from '../config/schema.js';
import type { AgentRow, FailoverRow, ShadowRow, Store, StoreReader, StoreTx, VmRow } from '../store/store.js';
import type { ServerCounters, TrafficSwitch } from '../traffic/switch.js';
import { errorRateBetween } from '../traffic/stats.js';
import { raiseAlert, resolveAlert } from '../shadow/alerts.js';
import type { FailoverAgentApi, RetireReply } from './agent-api.js';
import type { FailoverGate } from './gate.js';
import { evaluate, parseCriteria, type CriteriaNode, type TimedValue } from './criteria/index.js';
import { decideFailover, orderFailovers, type FailoverDecision, type FailoverHistoryItem } from './decide.js';
import { beginStep, endStep, nextStep, startRecord, stepDurations, type FailoverStep } from './pipeline.js';
import { runHook, type HookOutcome } from './hooks.js';
import { sinceFirstSuccess } from '../shadow/reconciler-decide.js';

/** Logging the controller does (pino satisfies it). */
export interface FailoverLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export interface FailoverControllerOptions {
  store: Store;
  clock: Clock;
  agents: FailoverAgentApi;
  config: () => UmbraConfig;
  log: FailoverLogger;
  /** Where clients go (HAProxy, DNS, both); absent: no traffic step (the VM's endpoint moves). */
  traffic?: TrafficSwitch;
  /** Asks the shadow manager for a pass (a new shadow for the promoted VM). */
  kickShadows?: () => void;
  /** How long the new primary may take to answer its probe (ms, default 60 000). */
  healthTimeoutMs?: number;
  /** Margin after a lost host's lease before its agent is taken as fenced (ms, default 2000). */
  fenceGraceMs?: number;
  /** Probe a URL (default: fetch, 200 = healthy). */
  probe?: (url: string) => Promise<boolean>;
  random?: (n: number) => Buffer;
  /** Shared with the shadow manager: it keeps off the VM's replication while the failover runs. */
  gate?: FailoverGate;
}

/** What `umbra failover VM [--dry-run]` returns. */
export interface ManualFailoverResult {
  decision: FailoverDecision;
  /** The record when it ran (absent with --dry-run or when blocked). */
  failover?: FailoverRow;
  dryRun: boolean;
}

/** Sample metrics the criteria read, and how far back. */
const CRITERIA_SAMPLES = ['cpu_pct', 'mem_rss_mib', 'probe_ok', 'probe_latency_ms', 'disk_write_iops', 'disk_read_iops'] as const;
const LOOKBACK_S = 3600;

/** The criteria language's state word for a VM status (what the agent and server report). */
export function criteriaState(state: string): string | null {
  switch (state) {
    case 'running':
    case 'paused':
    case 'crashed':
      return state;
    case 'exited':
    case 'shutdown':
      return 'exited';
    case 'unknown': // a live process whose monitor does not answer
      return 'hung';
    default:
      return null; // pending, host_lost (a flag of its own), ...
  }
}

/** See the module comment. */
export class FailoverController {
  private readonly criteriaCache = new Map<string, CriteriaNode>();
  /** Per VM: the traffic switch's last counters, and the 5xx % of each pass since (the `http_error_rate` signal). */
  private readonly httpErrors = new Map<string, { last: ServerCounters | null; samples: TimedValue[] }>();
  private running: Promise<void> | null = null;
  private readonly driving = new Map<string, Promise<FailoverRow>>();
  /** Failovers stuck after their promotion: attempts so far and when to try again (epoch ms). */
  private readonly retries = new Map<string, { attempts: number; at: number }>();
  /** Failovers this controller started or already resumed (any other running one is resumed). */
  private readonly known = new Set<string>();

  constructor(private readonly o: FailoverControllerOptions) {}

  /** One pass (see the module comment). Passes never overlap. */
  pass(): Promise<void> {
    this.running ??= this.doPass().finally(() => (this.running = null));
    return this.running;
  }

  /** A failover of `vmId` now (criteria and calm do not apply; shadow rules do). */
  async failover(vmId: string, opts: { dryRun?: boolean } = {}): Promise<ManualFailoverResult> {
    const snap = await this.snapshot();
    const vm = snap.vms.find((v) => v.id === vmId);
    if (!vm) return { decision: { kind: 'none', vmId, why: `no VM ${vmId}` }, dryRun: Boolean(opts.dryRun) };
    const decision = this.decide(vm, snap, { manual: true });
    if (opts.dryRun || decision.kind !== 'failover') return { decision, dryRun: Boolean(opts.dryRun) };
    const rec = await this.start(decision, vm);
    const failover = await this.drive(rec);
    return { decision, failover, dryRun: false };
  }

  // --- internals

  private async doPass(): Promise<void> {
    for (const r of await this.o.store.read((x) => x.listFailovers({ running: true }))) {
      const retry = this.retries.get(r.id);
      if (!retry) await this.drive(r);
      // A stuck one is retried when due, beside the loop (its step may wait long: a health probe).
      else if (this.o.clock.now() >= retry.at) void this.drive(r);
    }
    const snap = await this.snapshot();
    await this.readHttpErrors(snap.vms);
    const decisions: FailoverDecision[] = [];
    const now = this.o.clock.now();
    for (const vm of snap.vms) decisions.push(this.decide(vm, snap, {}));
    await this.o.store.transaction((tx) => {
      for (const d of decisions) {
        if (d.kind === 'blocked') raiseAlert(tx, now, { key: `${d.alert}/${d.vmId}`, kind: d.alert, severity: 'critical', vmId: d.vmId, shadowId: null, summary: `failover of ${d.vmId} wanted but held: ${d.why}` });
        else for (const k of ['failover_blocked', 'failover_limit', 'no_shadow', 'shadow_not_synchronized']) resolveAlert(tx, now, `${k}/${d.vmId}`, d.kind === 'failover' ? 'failing over' : 'criteria no longer hold');
      }
    });
    for (const d of orderFailovers(decisions)) {
      if (d.kind !== 'failover') continue;
      const vm = snap.vms.find((v) => v.id === d.vmId)!;
      await this.drive(await this.start(d, vm));
    }
    // Read again: a failover of this pass moved its VM (the snapshot still names the old primary).
    await this.reapplyTraffic(await this.primaries());
  }

  /** The primaries and their failover history: what re-applying traffic needs (read every pass). */
  private async primaries() {
    return this.o.store.read(primariesOf);
  }

  private async snapshot() {
    const nowS = this.o.clock.now() / 1000;
    return this.o.store.read((r) => {
      const { vms, history } = primariesOf(r);
      return {
        vms,
        agents: r.listAgents(),
        shadows: r.listShadows(),
        history,
        samples: new Map(
          vms.map((v) => {
            // Samples of an earlier instance (before the last failover ended) say nothing of this one.
            const since = Math.max(nowS - LOOKBACK_S, lastFailoverEnd(history.get(v.id) ?? []) / 1000);
            const rows = r.querySamples({ vmId: v.id, from: since, limit: 50_000 });
            const by: Record<string, TimedValue[]> = {};
            for (const m of CRITERIA_SAMPLES) by[m] = [];
            for (const s of rows) by[s.metric]?.push({ t: s.t, value: s.value });
            // A booting guest fails its first probes: that is not an error rate.
            by.probe_ok = [...sinceFirstSuccess(by.probe_ok)];
            return [v.id, by];
          }),
        ),
      };
    });
  }

  private criteria(text: string): CriteriaNode {
    let c = this.criteriaCache.get(text);
    if (!c) this.criteriaCache.set(text, (c = parseCriteria(text)));
    return c;
  }

  /** The decision for one VM from the snapshot. */
  private decide(vm: VmRow, snap: Awaited<ReturnType<FailoverController['snapshot']>>, opts: { manual?: boolean }): FailoverDecision {
    const now = this.o.clock.now();
    const { policy } = resolvePolicy(this.o.config().policies, { name: vm.id, labels: { ...vm.spec.labels } });
    const agent = snap.agents.find((a) => a.name === vm.spec.host);
    const hostLost = !agent || now >= agent.leaseExpiresAt;
    const result = evaluate(this.criteria(policy.failover_criteria), {
      nowSeconds: now / 1000,
      state: hostLost ? null : criteriaState(vm.status.state),
      hostLost,
      allocation: { vcpus: vm.spec.vcpus, memoryMiB: vm.spec.memoryMiB },
      samples: { ...(snap.samples.get(vm.id) ?? {}), http_5xx_pct: this.httpErrors.get(vm.id)?.samples ?? [] },
    });
    const shadow = pickShadow(snap.shadows, vm.id);
    const shadowAgent = shadow ? snap.agents.find((a) => a.name === shadow.host) : undefined;
    return decideFailover({
      vmId: vm.id,
      now,
      criteriaHold: result.holds,
      because: result.atoms.filter((a) => a.result === true).map((a) => `${a.text} (${a.detail})`).join('; ') || 'criteria hold',
      manual: opts.manual,
      policy,
      shadow: shadow
        ? { id: shadow.id, host: shadow.host, flavor: shadow.flavor, mode: shadow.mode, sync: shadow.status.sync, lagSeconds: shadow.status.lagSeconds, hostAlive: Boolean(shadowAgent && now < shadowAgent.leaseExpiresAt) }
        : null,
      history: snap.history.get(vm.id) ?? [],
      primaryRuns: !hostLost && vm.status.state === 'running',
    });
  }

  /** Records the intent (before any step) and the event. */
  private async start(d: Extract<FailoverDecision, { kind: 'failover' }>, vm: VmRow): Promise<FailoverRow> {
    const now = this.o.clock.now();
    const id = `fo-${now.toString(36)}-${(this.o.random ?? randomBytes)(3).toString('hex')}`;
    const rec = startRecord(d, { fromHost: vm.spec.host, fromInstance: vm.spec.instance ?? vm.id }, id, now);
    this.known.add(id);
    await this.o.store.transaction((tx) => {
      tx.putFailover(rec);
      tx.appendEvent({ t: now, kind: 'failover.started', vmId: vm.id, data: { failoverId: id, reason: d.reason, path: d.path, from: vm.spec.host, to: d.toHost, shadowId: d.shadowId, dataLossBoundSeconds: d.dataLossBoundSeconds } });
    });
    this.o.log.warn({ vmId: vm.id, failoverId: id, path: d.path, from: vm.spec.host, to: d.toHost, reason: d.reason }, 'failover started');
    return rec;
  }

  /**
   * Runs the record's remaining steps; returns it as it ended (or stopped). One driver per
   * failover: a manual failover and the loop's resume of running records share the same run
   * (two drivers would redo steps concurrently: a second promotion fails, its rollback would
   * resume the old primary beside the promoted one).
   */
  private drive(rec: FailoverRow): Promise<FailoverRow> {
    const running = this.driving.get(rec.id);
    if (running) return running;
    const p = this.driveOnce(rec).finally(() => this.driving.delete(rec.id));
    this.driving.set(rec.id, p);
    return p;
  }

  private async driveOnce(rec: FailoverRow): Promise<FailoverRow> {
    // The shadow manager's calls for this VM end before the first step and stay off until the last.
    const release = (await this.o.gate?.hold(rec.vmId)) ?? (() => undefined);
    try {
      return await this.driveSteps(rec);
    } finally {
      release();
    }
  }

  private async driveSteps(rec: FailoverRow): Promise<FailoverRow> {
    let r = (await this.o.store.read((x) => x.getFailover(rec.id))) ?? rec;
    if (!this.known.has(r.id)) {
      // Left running by an earlier controller (killed halfway): say where it goes on from.
      this.known.add(r.id);
      const interrupted = r.steps.find((s) => s.ok === null)?.name ?? null;
      const from = nextStep(r);
      const now = this.o.clock.now();
      const resumed = r;
      await this.o.store.transaction((tx) => tx.appendEvent({ t: now, kind: 'failover.resumed', vmId: resumed.vmId, data: { failoverId: resumed.id, interrupted, from, finished: resumed.steps.filter((s) => s.ok === true).map((s) => s.name) } }));
      this.o.log.warn({ vmId: r.vmId, failoverId: r.id, interrupted, from }, 'failover resumed after a controller restart');
    }
    for (let step = nextStep(r); step; step = nextStep(r)) {
      const begun = beginStep(r, step, this.o.clock.now());
      await this.o.store.transaction((tx) => tx.putFailover(begun));
      let ok = false;
      let detail = '';
      let data: Record<string, unknown> = {};
      let veto = false;
      try {
        ({ detail, data = {} } = await this.runStep(begun, step));
        ok = true;
      } catch (e) {
        veto = e instanceof HookVetoError;
        if (veto) data = (e as HookVetoError).data;
        detail = isUmbraError(e) || e instanceof Error ? e.message : String(e);
      }
      const now = this.o.clock.now();
      r = endStep(begun, step, ok, detail, now, data, veto);
      const ended = r;
      await this.o.store.transaction((tx) => {
        tx.putFailover(ended);
        tx.appendEvent({ t: now, kind: `failover.step`, vmId: ended.vmId, data: { failoverId: ended.id, step, ok, detail, ms: now - (begun.steps.at(-1)?.startedAt ?? now) } });
        if (ended.state !== 'running') this.finish(tx, ended, now);
      });
      if (!ok) {
        this.o.log.error({ vmId: r.vmId, failoverId: r.id, step, err: detail }, 'failover step failed');
        if (r.state === 'running') {
          await this.stuck(r, step, detail);
          break;
        }
        if (!veto) await this.rollBack(r, step);
        break;
      }
    }
    if (r.state !== 'running') this.retries.delete(r.id);
    if (r.state === 'done') {
      await this.o.store.transaction((tx) => resolveAlert(tx, this.o.clock.now(), `failover_stuck/${r.vmId}`, 'the failover completed'));
      this.o.kickShadows?.();
    }
    return r;
  }

  /**
   * A step after the promotion failed: there is no way back (the shadow runs the VM, the old
   * primary stays fenced), so the record stays running and the step is retried with backoff
   * (2 s doubling to 60 s) while a `failover_stuck` alert says what fails.
   */
  private async stuck(r: FailoverRow, step: FailoverStep, detail: string): Promise<void> {
    const now = this.o.clock.now();
    const prev = this.retries.get(r.id);
    const attempts = (prev?.attempts ?? 0) + 1;
    this.retries.set(r.id, { attempts, at: now + Math.min(60_000, 2000 * 2 ** (attempts - 1)) });
    await this.o.store.transaction((tx) =>
      raiseAlert(tx, now, { key: `failover_stuck/${r.vmId}`, kind: 'failover_stuck', severity: 'critical', vmId: r.vmId, shadowId: r.shadowId, summary: `failover ${r.id} of ${r.vmId}: the shadow took over but ${step} failed (${attempts} attempt(s), retried): ${detail}` }),
    );
  }

  /**
   * A failover that failed before the shadow took over leaves the primary as the fence left it:
   * a paused primary (not killed, its host alive) is resumed, so a failed promotion does not cost
   * the VM its availability. After `promote` succeeded nothing is undone (the shadow may serve).
   */
  private async rollBack(r: FailoverRow, failedAt: FailoverStep): Promise<void> {
    const fence = r.steps.find((s) => s.name === 'fence' && s.ok === true);
    const promoted = r.steps.some((s) => s.name === 'promote' && s.ok === true);
    if (!fence || promoted || !fence.detail.startsWith('paused') || !['stop_replication', 'promote'].includes(failedAt)) return;
    const from = await this.agent(r.fromHost);
    if (!this.alive(from)) return;
    const now = this.o.clock.now();
    try {
      await this.o.agents.contVm(from, r.fromInstance);
      this.o.log.warn({ vmId: r.vmId, failoverId: r.id, failedAt }, 'failover failed before the shadow took over: the primary resumed');
      await this.o.store.transaction((tx) => tx.appendEvent({ t: now, kind: 'failover.rolled_back', vmId: r.vmId, data: { failoverId: r.id, failedAt, resumed: r.fromInstance } }));
    } catch (e) {
      this.o.log.error({ vmId: r.vmId, failoverId: r.id, err: e instanceof Error ? e.message : String(e) }, 'resuming the primary after a failed failover failed');
    }
  }

  private finish(tx: StoreTx, r: FailoverRow, now: number): void {
    tx.appendEvent({
      t: now,
      kind: `failover.${r.state}`,
      vmId: r.vmId,
      data: { failoverId: r.id, path: r.path, to: r.toHost, totalMs: now - r.startedAt, steps: stepDurations(r), dataLossBoundSeconds: r.dataLossBoundSeconds },
    });
    if (r.state === 'aborted') {
      raiseAlert(tx, now, { key: `failover_vetoed/${r.vmId}`, kind: 'failover_vetoed', severity: 'warning', vmId: r.vmId, shadowId: r.shadowId, summary: `failover ${r.id} of ${r.vmId} cancelled by a before_fence hook: ${r.steps.at(-1)?.detail}` });
    } else if (r.state === 'failed') {
      raiseAlert(tx, now, { key: `failover_failed/${r.vmId}`, kind: 'failover_failed', severity: 'critical', vmId: r.vmId, shadowId: r.shadowId, summary: `failover ${r.id} of ${r.vmId} failed at ${r.steps.at(-1)?.name}: ${r.steps.at(-1)?.detail}` });
    } else {
      resolveAlert(tx, now, `failover_failed/${r.vmId}`, 'a later failover succeeded');
    }
  }

  private async agent(name: string): Promise<AgentRow | undefined> {
    return this.o.store.read((x) => x.getAgent(name));
  }

  private alive(a: AgentRow | undefined): a is AgentRow {
    return a !== undefined && this.o.clock.now() < a.leaseExpiresAt;
  }

  /** One step's side effects; throws to fail it. */
  private async runStep(r: FailoverRow, step: FailoverStep): Promise<{ detail: string; data?: Record<string, unknown> }> {
    const from = await this.agent(r.fromHost);
    const to = await this.agent(r.toHost);
    switch (step) {
      case 'hook_before_fence':
      case 'hook_after_traffic':
      case 'hook_after_failover':
        return this.hooks(r, step.slice('hook_'.length) as 'before_fence' | 'after_traffic' | 'after_failover');
      case 'fence': {
        if (this.alive(from)) {
          // A running guest is paused (the process stays, for a graceful end later); a hung one
          // (its monitor does not answer) or one whose pause fails is killed.
          const state = (await this.o.store.read((x) => x.getVm(r.vmId)))?.status.state;
          try {
            if (state === 'running' || state === 'paused') {
              try {
                await this.o.agents.stopVm(from, r.fromInstance);
                return { detail: `paused on ${r.fromHost} by its agent` };
              } catch (e) {
                if (isUmbraError(e) && e.code === 'AGENT_UNAVAILABLE') throw e;
                this.o.log.warn({ vmId: r.vmId, err: e instanceof Error ? e.message : String(e) }, 'pausing the primary failed: killing it');
              }
            }
            await this.o.agents.killVm(from, r.fromInstance);
            return { detail: `killed on ${r.fromHost} by its agent (${state ?? 'unknown state'})` };
          } catch (e) {
            if (!isUmbraError(e) || e.code !== 'AGENT_UNAVAILABLE') throw e;
          }
        }
        // Unreachable: its agent fences itself when its lease runs out. Wait for that.
        const lease = from?.leaseExpiresAt ?? 0;
        const until = lease + (this.o.fenceGraceMs ?? 2000);
        while (this.o.clock.now() < until) {
          const fresh = await this.agent(r.fromHost);
          if (this.alive(fresh) && fresh.leaseExpiresAt > lease) throw new Error(`host ${r.fromHost} renewed its lease while unreachable: retry the failover`);
          await this.o.clock.sleep(Math.min(500, until - this.o.clock.now()));
        }
        return { detail: `host ${r.fromHost} unreachable: its lease expired, its agent fenced itself` };
      }
      case 'stop_replication':
        if (this.alive(from)) {
          await this.o.agents.stopReplication(from, r.fromInstance).catch((e: unknown) => {
            if (!isUmbraError(e) || e.code !== 'AGENT_UNAVAILABLE') throw e;
          });
          return { detail: 'the mirror into the shadow is stopped' };
        }
        return { detail: 'the primary host is lost: its fenced QEMU writes nothing' };
      case 'promote': {
        if (!this.alive(to)) throw new Error(`the shadow's host ${r.toHost} is not alive`);
        if (r.path === 'migrate') {
          if (!this.alive(from)) throw new Error(`the primary's host ${r.fromHost} is lost: a live migration is impossible (a cold boot is needed)`);
          return this.liveMigrate(r, from, to);
        }
        const p = await this.o.agents.promote(to, r.shadowId, r.path);
        if (!p.ok) throw new Error(`promotion failed: ${p.error ?? 'unknown'}`);
        return { detail: `${r.path} promotion in ${p.ms} ms (pid ${p.vm.pid ?? '?'})`, data: { promoteMs: p.ms, endpoint: p.vm.endpoint, pid: p.vm.pid } };
      }
      case 'resize': {
        const shadow = await this.o.store.read((x) => x.getShadow(r.shadowId));
        const vm = await this.o.store.read((x) => x.getVm(r.vmId));
        if (!shadow || !vm || !this.alive(to)) return { detail: 'nothing to resize' };
        const want = { vcpus: Math.max(shadow.size.vcpus, vm.spec.vcpus), memoryMiB: Math.max(shadow.size.memoryMiB, vm.spec.memoryMiB) };
        try {
          const got = await this.o.agents.resize(to, r.shadowId, want);
          return { detail: `${got.vcpus} vCPU, ${got.memoryMiB} MiB`, data: { size: got } };
        } catch (e) {
          // Best effort: the new primary serves at the size it has; a failed hot-add must not stop the failover.
          const err = e instanceof Error ? e.message : String(e);
          this.o.log.warn({ vmId: r.vmId, failoverId: r.id, err }, 'hot-add after the promotion failed: the VM runs at its size');
          return { detail: `not resized (${err}): runs at its size`, data: { resizeError: err } };
        }
      }
      case 'health': {
        const endpoint = await this.endpointOf(r);
        if (!endpoint) throw new Error('the new primary reports no service endpoint');
        const probe = this.o.probe ?? defaultProbe;
        const end = this.o.clock.now() + (this.o.healthTimeoutMs ?? 60_000);
        while (this.o.clock.now() < end) {
          if (await probe(`${endpoint}/health`)) return { detail: `${endpoint}/health answered`, data: { endpoint } };
          await this.o.clock.sleep(100);
        }
        throw new Error(`${endpoint}/health did not answer within ${(this.o.healthTimeoutMs ?? 60_000) / 1000} s`);
      }
      case 'traffic': {
        if (!this.o.traffic) return { detail: 'no traffic switch configured' };
        const endpoint = await this.endpointOf(r);
        if (!endpoint) throw new Error('the new primary reports no service endpoint');
        // Just passed its health step: HAProxy need not wait for its own check to send traffic.
        await routeTo(this.o.traffic, r.vmId, endpoint);
        return { detail: `${r.vmId} → ${new URL(endpoint).host} (${this.o.traffic.name})` };
      }
      case 'adopt': {
        const now = this.o.clock.now();
        const endpoint = await this.endpointOf(r);
        await this.o.store.transaction((tx) => {
          const vm = tx.getVm(r.vmId);
          if (!vm) throw new Error(`VM ${r.vmId} was deleted during its failover`);
          const { instance: _old, ...spec } = vm.spec;
          const shadow = tx.getShadow(r.shadowId);
          tx.updateVmSpec(r.vmId, { ...spec, labels: { ...spec.labels }, host: r.toHost, ...(r.shadowId !== r.vmId ? { instance: r.shadowId } : {}) });
          // The status is the promoted instance's from now on (it just passed its health step),
          // not the old one's `crashed` or `hung` until the next observation: criteria must not
          // fail the new primary over for the old one's state.
          const pid = typeof r.data.pid === 'number' ? r.data.pid : (shadow?.status.vm?.pid ?? null);
          tx.setVmStatus(r.vmId, { state: 'running', host: r.toHost, pid, endpoint, observedAt: now, lastError: null });
          tx.deleteShadow(r.shadowId);
          tx.appendEvent({ t: now, kind: 'vm.moved', vmId: r.vmId, data: { from: r.fromHost, to: r.toHost, instance: r.shadowId, failoverId: r.id } });
        });
        // The old instance's 5xx answers are not the new one's error rate.
        this.httpErrors.delete(r.vmId);
        return { detail: `${r.vmId} is ${r.shadowId} on ${r.toHost}` };
      }
      case 'retire_old': {
        if (!this.alive(from)) return { detail: `host ${r.fromHost} lost: its leftovers are removed when it returns` };
        // The fenced guest is usually paused: its agent cuts its network first (it must never
        // answer a client again), presses the power button and resumes it, and kills it after
        // the policy's timeout; then removes it.
        const vm = await this.o.store.read((x) => x.getVm(r.vmId));
        const { policy } = resolvePolicy(this.o.config().policies, { name: r.vmId, labels: { ...(vm?.spec.labels ?? {}) } });
        const timeoutS = policy.graceful_shutdown_timeout;
        const out = await this.o.agents.retireVm(from, r.fromInstance, { timeoutMs: Math.round(timeoutS * 1000), promotedShadow: r.fromInstance !== r.vmId });
        return { detail: retireDetail(r.fromInstance, r.fromHost, timeoutS, out), data: { retire: { how: out.how, ms: out.ms, timedOut: out.timedOut, reason: out.reason, timeoutSeconds: timeoutS } } };
      }
    }
  }

  /**
   * The `promote` step of a live migration. With a traffic switch, the clients are moved while
   * the source is held at switchover (nothing runs: requests wait at the destination for the
   * guest instead of going to the stopped source); a migration that then fails sends them back.
   */
  private async liveMigrate(r: FailoverRow, from: AgentRow, to: AgentRow): Promise<{ detail: string; data?: Record<string, unknown> }> {
    const { shadow, vm } = await this.o.store.read((x) => ({ shadow: x.getShadow(r.shadowId), vm: x.getVm(r.vmId) }));
    const dest = shadow?.status.vm?.endpoint ?? null;
    const back = vm?.status.endpoint ?? null;
    const traffic = this.o.traffic;
    let switchedAt: number | null = null;
    const atSwitchover =
      traffic && dest
        ? async () => {
            await routeTo(traffic, r.vmId, dest);
            switchedAt = this.o.clock.now();
          }
        : undefined;
    const m = await this.o.agents.migrate(from, r.fromInstance, to, r.shadowId, { atSwitchover });
    if (!m.ok) {
      if (switchedAt !== null && !m.completed && back && traffic) {
        await routeTo(traffic, r.vmId, back).catch((e: unknown) => this.o.log.error({ vmId: r.vmId, err: e instanceof Error ? e.message : String(e) }, 'sending the clients back to the source after a failed live migration failed'));
      }
      throw new Error(`live migration failed: ${m.error ?? 'unknown'}`);
    }
    return {
      detail: `live migration: downtime ${m.downtimeMs ?? '?'} ms, total ${m.totalMs ?? '?'} ms${switchedAt !== null ? ', clients moved at switchover' : ''}`,
      data: { migrationDowntimeMs: m.downtimeMs, migrationTotalMs: m.totalMs, clientsMovedAtSwitchover: switchedAt !== null },
    };
  }

  /** Runs the VM's hooks for `which`, one after the other; a failed veto hook before fencing throws {@link HookVetoError}. */
  private async hooks(r: FailoverRow, which: 'before_fence' | 'after_traffic' | 'after_failover'): Promise<{ detail: string; data?: Record<string, unknown> }> {
    const vm = await this.o.store.read((x) => x.getVm(r.vmId));
    const { policy } = resolvePolicy(this.o.config().policies, { name: r.vmId, labels: { ...(vm?.spec.labels ?? {}) } });
    const hooks = policy.failover_hooks[which];
    if (!hooks.length) return { detail: 'no hooks' };
    const outcomes: HookOutcome[] = [];
    for (const h of hooks) {
      const o = await runHook(h, { hook: which, vm: r.vmId, failover: r.id, from: r.fromHost, to: r.toHost, path: r.path, reason: r.reason });
      outcomes.push(o);
      this.o.log.info({ vmId: r.vmId, failoverId: r.id, hook: which, what: o.what, ok: o.ok, ms: o.ms, err: o.error }, 'failover hook ran');
      if (!o.ok && which === 'before_fence' && o.veto) throw new HookVetoError(`${o.what} failed (${o.error}): the failover is cancelled`, { [`hooks_${which}`]: outcomes });
    }
    const failed = outcomes.filter((o) => !o.ok);
    return {
      detail: `${outcomes.length} hook(s), ${failed.length ? `${failed.length} failed: ${failed.map((f) => `${f.what}: ${f.error}`).join('; ')}` : 'all ok'}`,
      data: { [`hooks_${which}`]: outcomes },
    };
  }

  /** The new primary's endpoint: from the promotion, else its shadow record. */
  private async endpointOf(r: FailoverRow): Promise<string | null> {
    const fresh = await this.o.store.read((x) => x.getFailover(r.id));
    const fromPromote = fresh?.data.endpoint;
    if (typeof fromPromote === 'string') return fromPromote;
    const shadow = await this.o.store.read((x) => x.getShadow(r.shadowId));
    return shadow?.status.vm?.endpoint ?? null;
  }

  /**
   * Reads the traffic switch's counters of every VM's server and records the 5xx share of the
   * requests it answered since the last pass as a sample (none when there were no requests: no
   * evidence either way).
   */
  private async readHttpErrors(vms: readonly VmRow[]): Promise<void> {
    const t = this.o.traffic;
    if (!t?.stats) return;
    const nowS = this.o.clock.now() / 1000;
    for (const vm of vms) {
      const stats = await t.stats(vm.id).catch(() => null);
      if (!stats) continue;
      // The VM's own answers: its server row (issue 5 §1: hrsp_5xx / req_tot per server), not the
      // backend's, which also counts the 503s HAProxy makes up while its check holds the server down.
      const server = Object.values(stats.servers)[0];
      if (!server) continue;
      const h = this.httpErrors.get(vm.id) ?? { last: null, samples: [] };
      const w = errorRateBetween(h.last, server);
      h.last = server;
      if (w.rate !== null) h.samples.push({ t: nowS, value: w.rate * 100 });
      while (h.samples.length && h.samples[0].t < nowS - LOOKBACK_S) h.samples.shift();
      this.httpErrors.set(vm.id, h);
    }
  }

  /**
   * Points every VM's traffic at its primary (idempotent; heals a stale path). Not while a
   * failover of the VM runs (its traffic step owns the path), nor after one failed once it had
   * switched traffic (the record still names the old primary; the alert asks for a person).
   */
  private async reapplyTraffic(snap: { vms: readonly VmRow[]; history: ReadonlyMap<string, readonly FailoverHistoryItem[]> }): Promise<void> {
    const t = this.o.traffic;
    if (!t) return;
    for (const vm of snap.vms) {
      if (!vm.status.endpoint || vm.status.state !== 'running') continue;
      const last = snap.history.get(vm.id)?.[0];
      if (last && (last.state === 'running' || (last.state === 'failed' && last.switchedTraffic))) continue;
      const u = new URL(vm.status.endpoint);
      await t.ensure(vm.id, { host: u.hostname, port: Number(u.port) }).catch((e: unknown) => this.o.log.warn({ vmId: vm.id, err: e instanceof Error ? e.message : String(e) }, 'traffic switch not applied'));
    }
  }
}

/** A before_fence hook marked `veto` failed: the failover ends `aborted`, nothing changed. */
class HookVetoError extends Error {
  constructor(message: string, readonly data: Record<string, unknown>) {
    super(message);
    this.name = 'HookVetoError';
  }
}

/** The `retire_old` step's detail for what the agent did. */
export function retireDetail(instance: string, host: string, timeoutS: number, out: RetireReply): string {
  switch (out.how) {
    case 'acpi':
      return `${instance} powered down by ACPI in ${Math.round(out.ms)} ms and removed on ${host}`;
    case 'killed':
      return out.timedOut ? `${instance} killed after the ${timeoutS} s timeout and removed on ${host}` : `${instance} killed at once (${out.reason ?? 'no reason given'}) and removed on ${host}`;
    case 'gone':
      return `${instance} already gone on ${host}${out.reason ? ` (${out.reason})` : ''}: removed`;
  }
}

/** Sends `vmId`'s clients to the service at `endpoint` (a URL) now, without waiting for the switch's own health check. */
function routeTo(traffic: TrafficSwitch, vmId: string, endpoint: string): Promise<unknown> {
  const u = new URL(endpoint);
  return traffic.ensure(vmId, { host: u.hostname, port: Number(u.port) }, { assumeHealthy: true });
}

/** The primaries and each one's failover history, in one read. */
function primariesOf(r: StoreReader): { vms: VmRow[]; history: Map<string, FailoverHistoryItem[]> } {
  const vms = r.listVms().filter((v) => v.role === 'primary');
  return { vms, history: new Map(vms.map((v) => [v.id, historyOf(r.listFailovers({ vmId: v.id, limit: 100 }))])) };
}

/** What the decisions read of a VM's failovers (newest first). */
function historyOf(failovers: readonly FailoverRow[]): FailoverHistoryItem[] {
  return failovers.map((f) => ({ startedAt: f.startedAt, endedAt: f.endedAt, state: f.state, switchedTraffic: f.steps.some((s) => s.name === 'traffic' && s.ok === true) }));
}

/** Epoch ms when the newest completed failover ended (0: none). */
function lastFailoverEnd(failovers: readonly FailoverHistoryItem[]): number {
  return Math.max(0, ...failovers.filter((f) => f.state === 'done').map((f) => f.endedAt ?? 0));
}

/**
 * The shadow to promote: the newest active synchronized one whose standby is ready (a booted
 * guest takes over at once), else the newest synchronized, else the newest active.
 */
export function pickShadow(shadows: readonly ShadowRow[], vmId: string): ShadowRow | null {
  const mine = shadows.filter((s) => s.vmId === vmId && s.phase === 'active').sort((a, b) => b.createdAt - a.createdAt);
  const synced = mine.filter((s) => s.status.sync === 'synchronized');
  return synced.find((s) => s.status.vm?.ready === true) ?? synced[0] ?? mine[0] ?? null;
}

async function defaultProbe(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}
