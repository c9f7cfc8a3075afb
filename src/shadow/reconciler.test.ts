/**
 * The shadow reconciler's side-effect layer against an in-memory stand-in for the agents'
 * shadow API (the real agents are exercised in test/shadow-lab.test.ts) and a real SQLite store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DiskDigest, QuiesceReply, RehearsalResult, RehearsalTask, ReplicationSpec, ReplicationStatus, ShadowSpec, ShadowStatus } from '../api/shadow-protocol.js';
import { parseConfigText } from '../config/index.js';
import type { UmbraConfig } from '../config/schema.js';
import { ManualClock } from '../core/clock.js';
import type { AgentTarget } from '../server/agent-client.js';
import type { ShadowAgentApi } from '../server/shadow-agent-client.js';
import { statusVms } from '../server/shadow-routes.js';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/store.js';
import { FailoverGate } from '../failover/gate.js';
import { ShadowReconciler } from './reconciler.js';

const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };
const T0 = 1_800_000_000_000;

/** Agents as the reconciler sees them, kept in memory; tests steer replication by hand. */
class FakeShadowAgents implements ShadowAgentApi {
  shadows = new Map<string, { host: string; spec: ShadowSpec; status: ShadowStatus }>();
  replications = new Map<string, ReplicationStatus>();
  calls: string[] = [];
  digests = { primary: ['a', 'b'], shadow: ['a', 'b'] };
  nextPort = 10_800;

  async ensureReplication(agent: AgentTarget, vmId: string, spec: ReplicationSpec): Promise<ReplicationStatus> {
    this.calls.push(`replicate ${vmId} -> ${spec.shadowId} on ${agent.name}`);
    const prev = this.replications.get(vmId);
    if (prev && prev.shadowId === spec.shadowId) return prev;
    const r: ReplicationStatus = {
      vmId,
      shadowId: spec.shadowId,
      mode: spec.mode,
      target: spec.target,
      state: 'copying',
      generation: (prev?.generation ?? 0) + 1,
      jobId: 'j',
      offset: 0,
      len: 100,
      lagBytes: 100,
      lagSeconds: 1,
      lastCaughtUpAt: null,
      startedAt: T0,
      readyAt: null,
      initialCopyBytesPerSec: null,
      rounds: 0,
      lastRoundAt: null,
      lastRoundMs: null,
      error: null,
      retryAt: null,
      failures: 0,
    };
    this.replications.set(vmId, r);
    return r;
  }
  /** Hosts whose agent does not answer (its link down, its lease not expired yet). */
  silent = new Set<string>();
  async getReplication(a: AgentTarget, vmId: string) {
    if (this.silent.has(a.name)) throw new Error(`agent ${a.name}: connect ETIMEDOUT`);
    return this.replications.get(vmId) ?? null;
  }
  async stopReplication(_a: AgentTarget, vmId: string) {
    this.calls.push(`stop replication ${vmId}`);
    this.replications.delete(vmId);
  }
  async resync(_a: AgentTarget, vmId: string) {
    this.calls.push(`resync ${vmId}`);
    const r = this.replications.get(vmId)!;
    const next = { ...r, state: 'copying' as const, generation: r.generation + 1, offset: 0 };
    this.replications.set(vmId, next);
    return next;
  }
  async quiesce(): Promise<QuiesceReply> {
    return { pausedAt: T0, caughtUp: true, catchUpMs: 3 };
  }
  async unquiesce() {
    return { pauseMs: 42 };
  }
  private digest(chunks: string[]): DiskDigest {
    return { sizeBytes: chunks.length * 1048576, chunkBytes: 1048576, chunks, digest: chunks.join(''), ms: 1 };
  }
  async vmDiskDigest() {
    return this.digest(this.digests.primary);
  }
  async shadowDiskDigest() {
    return this.digest(this.digests.shadow);
  }
  async ensureShadow(agent: AgentTarget, spec: ShadowSpec): Promise<ShadowStatus> {
    this.calls.push(`ensure shadow ${spec.id} on ${agent.name} (${spec.flavor}, ${spec.vcpus} vCPU)`);
    const existing = this.shadows.get(spec.id);
    if (existing) return existing.status;
    const status: ShadowStatus = {
      id: spec.id,
      primaryId: spec.primaryId,
      flavor: spec.flavor,
      target: { host: `10.0.0.${agent.name.slice(1)}`, port: this.nextPort++, export: spec.id },
      targetPid: 500,
      targetState: 'running',
      targetRestarts: 0,
      vm: { state: 'running', pid: 600, endpoint: 'http://x:1' },
      createdAt: T0,
      lastError: null,
    };
    this.shadows.set(spec.id, { host: agent.name, spec, status });
    return status;
  }
  async listShadows(agent: AgentTarget) {
    return [...this.shadows.values()].filter((s) => s.host === agent.name).map((s) => s.status);
  }
  async deleteShadow(agent: AgentTarget, id: string) {
    this.calls.push(`delete shadow ${id} on ${agent.name}`);
    this.shadows.delete(id);
  }
  async rehearse(_a: AgentTarget, shadowId: string, task: RehearsalTask | undefined): Promise<RehearsalResult> {
    return { shadowId, flavor: 'warm', where: 'in-shadow', ok: true, startedAt: T0, timeToReadyMs: null, task: task ? { ok: true, status: 200, ms: 5 } : null, error: null };
  }
  /** The VM's replication reaches ready. */
  ready(vmId: string): void {
    const r = this.replications.get(vmId)!;
    this.replications.set(vmId, { ...r, state: 'ready', offset: r.len, lagBytes: 0, lagSeconds: 0, readyAt: T0 + 1000, initialCopyBytesPerSec: 200e6 });
  }
}

function config(yaml = ''): UmbraConfig {
  const r = parseConfigText(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r));
  return r.config;
}

describe('ShadowReconciler', () => {
  let store: Store;
  let clock: ManualClock;
  let agents: FakeShadowAgents;
  let rec: ShadowReconciler;
  let cfg: UmbraConfig;

  beforeEach(async () => {
    clock = new ManualClock(T0);
    store = openSqliteStore({ path: ':memory:', now: T0 });
    agents = new FakeShadowAgents();
    cfg = config();
    let n = 0;
    rec = new ShadowReconciler({
      store,
      clock,
      agents,
      image: async () => ({ kernel: '/k', initrd: '/i' }),
      config: () => cfg,
      log: quiet,
      random: (len) => Buffer.alloc(len, ++n),
    });
    await store.transaction((tx) => {
      for (const h of ['h1', 'h2', 'h3']) {
        tx.putAgent(
          { name: h, apiUrl: `http://${h}:7070`, address: h, labels: { zone: h }, capacity: { cores: 2, memoryMiB: 8192 } },
          { now: T0, leaseExpiresAt: T0 + 3_600_000, observed: [] },
        );
      }
      tx.createVm({ id: 'vm1', role: 'primary', spec: { vcpus: 1, memoryMiB: 128, host: 'h1', labels: {}, protect: true }, createdAt: T0, status: { state: 'running', host: 'h1', pid: 1, endpoint: null, observedAt: T0, lastError: null } });
      tx.createVm({ id: 'vm2', role: 'primary', spec: { vcpus: 1, memoryMiB: 128, host: 'h2', labels: {} }, createdAt: T0, status: { state: 'running', host: 'h2', pid: 2, endpoint: null, observedAt: T0, lastError: null } });
    });
  });
  afterEach(async () => store.close());

  const shadowsOf = (vmId: string) => store.read((r) => r.listShadows(vmId));
  const alerts = () => store.read((r) => r.listAlerts({ all: true }));

  it('gives a protected VM a shadow on another host and follows it to synchronized; a low-risk VM gets none', async () => {
    await rec.pass();
    const [s] = await shadowsOf('vm1');
    expect(s.host).not.toBe('h1');
    expect(s.flavor).toBe('warm');
    expect(s.mode).toBe('sync'); // max_data_loss 0 by default
    expect(s.status.sync).toBe('syncing');
    expect(agents.calls).toContain(`replicate vm1 -> ${s.id} on h1`);
    expect(await shadowsOf('vm2')).toEqual([]);
    agents.ready('vm1');
    clock.advance(2000);
    await rec.pass();
    const [after] = await shadowsOf('vm1');
    expect(after.status.sync).toBe('synchronized');
    expect(after.status.vm?.pid).toBe(600);
    const vms = statusVms(await store.read((r) => r.listVms()), await store.read((r) => r.listShadows()));
    expect(vms.find((v) => v.id === 'vm1')?.sync).toBe('synchronized');
    expect(vms.find((v) => v.id === s.id)).toMatchObject({ role: 'shadow', host: s.host, pid: 600, sync: 'synchronized', shadowOf: 'vm1' });
    // Another pass changes nothing: no second shadow, no second replication.
    const before = agents.calls.length;
    await rec.pass();
    expect(await shadowsOf('vm1')).toHaveLength(1);
    expect(agents.calls.slice(before).filter((c) => c.startsWith('ensure') || c.startsWith('replicate'))).toEqual([]);
  });

  it('a VM failing over is left alone: no replication (re)started into the shadow being promoted, no new shadow, no verify', async () => {
    const gate = new FailoverGate();
    rec = new ShadowReconciler({ store, clock, agents, image: async () => ({ kernel: '/k', initrd: '/i' }), config: () => cfg, log: quiet, gate });
    await rec.pass();
    agents.ready('vm1');
    await rec.pass();
    const [s] = await shadowsOf('vm1');
    expect(s.status.sync).toBe('synchronized');
    // The failover stopped the mirror (stop_replication) and is promoting s: held by the controller.
    const release = await gate.hold('vm1');
    agents.replications.delete('vm1');
    const before = agents.calls.length;
    clock.advance(2000);
    await rec.pass();
    await expect(rec.resync(s.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(rec.verify(s.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(agents.calls.slice(before).filter((c) => !c.startsWith('list') && !c.startsWith('get'))).toEqual([]);
    expect((await shadowsOf('vm1')).map((x) => [x.id, x.status.sync])).toEqual([[s.id, 'synchronized']]);
    release();
    // A controller restarted mid-failover: the running record alone keeps the shadow manager off.
    await store.transaction((tx) =>
      tx.putFailover({ id: 'fo-1', vmId: 'vm1', state: 'running', reason: 'x', path: 'warm', fromHost: 'h1', fromInstance: 'vm1', shadowId: s.id, toHost: s.host, dataLossBoundSeconds: 0, startedAt: clock.now(), endedAt: null, steps: [], data: {} }),
    );
    await rec.pass();
    expect(agents.calls.slice(before).filter((c) => c.startsWith('replicate'))).toEqual([]);
  });

  it("a primary whose agent does not answer is not asked to replicate (the call would hang and hold up a failover)", async () => {
    await rec.pass();
    agents.ready('vm1');
    await rec.pass();
    agents.silent.add('h1');
    const before = agents.calls.length;
    clock.advance(2000);
    await rec.pass();
    expect(agents.calls.slice(before).filter((c) => c.startsWith('replicate'))).toEqual([]);
  });

  it('a failed replication raises sync_failed; once ready again the alert resolves', async () => {
    await rec.pass();
    agents.ready('vm1');
    await rec.pass();
    const r = agents.replications.get('vm1')!;
    agents.replications.set('vm1', { ...r, state: 'error', error: 'target lost: Connection refused', failures: 1 });
    clock.advance(2000);
    await rec.pass();
    const a = (await alerts()).find((x) => x.key === 'sync_failed/vm1');
    expect(a?.state).toBe('firing');
    expect((await shadowsOf('vm1'))[0].status.sync).toBe('broken');
    agents.replications.set('vm1', { ...r, state: 'ready', generation: r.generation + 1 });
    clock.advance(2000);
    await rec.pass();
    expect((await shadowsOf('vm1'))[0].status.sync).toBe('synchronized');
    expect((await alerts()).find((x) => x.key === 'sync_failed/vm1')?.state).toBe('resolved');
  });

  it('verification: equal digests pass; a differing chunk raises corruption and starts a resync', async () => {
    await rec.pass();
    agents.ready('vm1');
    await rec.pass();
    const [s] = await shadowsOf('vm1');
    const ok = await rec.verify(s.id);
    expect(ok).toMatchObject({ ok: true, pauseMs: 42, chunks: 2, mismatched: [] });
    agents.digests.shadow = ['a', 'X'];
    const bad = await rec.verify(s.id);
    expect(bad).toMatchObject({ ok: false, mismatched: [1] });
    expect((await alerts()).find((x) => x.key === 'corruption/vm1')?.state).toBe('firing');
    expect(agents.calls).toContain('resync vm1');
    agents.digests.shadow = ['a', 'b'];
    await rec.verify(s.id);
    expect((await alerts()).find((x) => x.key === 'corruption/vm1')?.state).toBe('resolved');
    expect((await shadowsOf('vm1'))[0].status.verify).toMatchObject({ ok: true, pauseMs: 42 });
  });

  it('concurrent rehearsals of one shadow share one run', async () => {
    await rec.pass();
    agents.ready('vm1');
    await rec.pass();
    const [s] = await shadowsOf('vm1');
    let runs = 0;
    const orig = agents.rehearse.bind(agents);
    agents.rehearse = async (...args) => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      return orig(...args);
    };
    const [a, b] = await Promise.all([rec.rehearse(s.id), rec.rehearse(s.id)]);
    expect(runs).toBe(1);
    expect(a).toEqual(b);
    await rec.rehearse(s.id);
    expect(runs).toBe(2);
  });

  it('a restarted target process: an alert, and the primary copies again at once', async () => {
    await rec.pass();
    agents.ready('vm1');
    await rec.pass();
    const [s] = await shadowsOf('vm1');
    agents.shadows.get(s.id)!.status.targetRestarts = 1;
    await rec.pass();
    expect(agents.calls.filter((c) => c === 'resync vm1')).toHaveLength(1);
    expect((await alerts()).find((a) => a.key === 'target_lost/vm1')?.state).toBe('firing');
    expect((await shadowsOf('vm1'))[0].status.sync).toBe('syncing');
    agents.ready('vm1');
    await rec.pass(); // seen once: no second resync; synchronized again resolves the alert
    expect(agents.calls.filter((c) => c === 'resync vm1')).toHaveLength(1);
    expect((await shadowsOf('vm1'))[0].status.sync).toBe('synchronized');
    expect((await alerts()).find((a) => a.key === 'target_lost/vm1')?.state).toBe('resolved');
  });

  it('max_shadow_age: a fresh shadow is built and synchronized before the old one goes (protection never lapses)', async () => {
    cfg = config('policies:\n  max_shadow_age: 10m\n');
    await rec.pass();
    agents.ready('vm1');
    await rec.pass();
    const [old] = await shadowsOf('vm1');
    expect(old.status.sync).toBe('synchronized');
    clock.advance(11 * 60_000);
    await rec.pass();
    const two = await shadowsOf('vm1');
    expect(two).toHaveLength(2);
    const fresh = two.find((s) => s.id !== old.id)!;
    expect(fresh.replaces).toBe(old.id);
    expect(fresh.host).not.toBe('h1');
    // Replication moved to the fresh one; the old one keeps its last copy meanwhile.
    expect(agents.replications.get('vm1')?.shadowId).toBe(fresh.id);
    expect((await shadowsOf('vm1')).find((s) => s.id === old.id)?.phase).toBe('active');
    clock.advance(2000);
    await rec.pass();
    expect((await shadowsOf('vm1')).map((s) => s.id).sort()).toEqual([fresh.id, old.id].sort());
    agents.ready('vm1');
    clock.advance(2000);
    await rec.pass(); // the fresh one is observed synchronized
    await rec.pass(); // the plan retires the old one
    const left = await shadowsOf('vm1');
    expect(left.map((s) => s.id)).toEqual([fresh.id]);
    expect(left[0].status.sync).toBe('synchronized');
    expect(agents.shadows.has(old.id)).toBe(false);
  });

  it("a lost shadow host: the shadow is replaced elsewhere, target_lost fires until the replacement is synchronized", async () => {
    await rec.pass();
    agents.ready('vm1');
    await rec.pass();
    const [old] = await shadowsOf('vm1');
    // The shadow's host stops renewing its lease.
    await store.transaction((tx) => {
      const a = tx.getAgent(old.host)!;
      tx.renewLease(a.name, { now: T0, leaseExpiresAt: T0 + 1000, observed: [] });
    });
    clock.advance(5000);
    await rec.pass();
    const now = await shadowsOf('vm1');
    expect(now.map((s) => s.id)).not.toContain(old.id);
    expect(now).toHaveLength(1);
    expect(now[0].host).not.toBe(old.host);
    expect(now[0].host).not.toBe('h1');
    expect((await alerts()).find((a) => a.key === 'target_lost/vm1')?.state).toBe('firing');
    agents.ready('vm1');
    clock.advance(2000);
    await rec.pass();
    expect((await shadowsOf('vm1'))[0].status.sync).toBe('synchronized');
    expect((await alerts()).find((a) => a.key === 'target_lost/vm1')?.state).toBe('resolved');
  });

  it('a VM that failed over (promoted instance): its new shadow is fed from the instance on its new host', async () => {
    await store.transaction((tx) => tx.updateVmSpec('vm1', { vcpus: 1, memoryMiB: 128, host: 'h2', labels: {}, protect: true, instance: 'vm1-sold' }));
    await rec.pass();
    const [s] = await shadowsOf('vm1');
    expect(s.host).not.toBe('h2');
    expect(agents.calls).toContain(`replicate vm1-sold -> ${s.id} on h2`);
  });

  it('a deleted VM loses its shadow: replication stopped, shadow deleted, record gone', async () => {
    await rec.pass();
    const [s] = await shadowsOf('vm1');
    await store.transaction((tx) => tx.deleteVm('vm1'));
    await rec.pass();
    expect(await shadowsOf('vm1')).toEqual([]);
    expect(agents.shadows.has(s.id)).toBe(false);
  });

  it('removes shadows an agent runs that no record knows', async () => {
    await agents.ensureShadow({ name: 'h3', apiUrl: 'http://h3:7070' }, { id: 'ghost-s1', primaryId: 'ghost', flavor: 'warm', diskBytes: 1, vcpus: 1, maxVcpus: 1, memoryMiB: 128, maxMemoryMiB: 128, kernel: 'k', initrd: 'i', adminToken: 'x'.repeat(16), servicePort: 0, exportPort: 0, probePath: '/health', labels: {} });
    await rec.pass();
    expect(agents.shadows.has('ghost-s1')).toBe(false);
    expect(agents.calls).toContain('delete shadow ghost-s1 on h3');
  });

  it('explain gives the numbers behind the decision', async () => {
    const e = await rec.explain('vm1');
    expect(e.text).toMatch(/vm1/);
    expect(e.text).toMatch(/protect/);
    expect(e.analysis?.assessment.risk).toBe(0);
  });
});

describe('sinceFirstSuccess', () => {
  it('drops the failed probes of a booting guest, keeps later failures', async () => {
    const { sinceFirstSuccess } = await import('./reconciler-decide.js');
    const v = (xs: number[]) => xs.map((value, t) => ({ t, value }));
    expect(sinceFirstSuccess(v([0, 0, 0, 1, 1, 0, 1])).map((p) => p.value)).toEqual([1, 1, 0, 1]);
    expect(sinceFirstSuccess(v([0, 0]))).toEqual([]);
    expect(sinceFirstSuccess(v([]))).toEqual([]);
  });
});
