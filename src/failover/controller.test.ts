/**
 * The failover controller's side-effect layer against in-memory stand-ins for the agents and
 * the traffic switch (real agents and HAProxy: the lab tests) and a real SQLite store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/index.js';
import type { UmbraConfig } from '../config/schema.js';
import { ManualClock } from '../core/clock.js';
import type { AgentTarget } from '../server/agent-client.js';
import { AgentUnavailableError } from '../server/errors.js';
import { openSqliteStore } from '../store/index.js';
import type { ShadowRow, Store } from '../store/store.js';
import type { Backend, EnsureOptions, TrafficSwitch } from '../traffic/switch.js';
import type { FailoverAgentApi, PromoteReply, RetireReply } from './agent-api.js';
import { FailoverController } from './controller.js';

const T0 = 1_800_000_000_000;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

class FakeAgents implements FailoverAgentApi {
  calls: string[] = [];
  unreachable = new Set<string>();
  promoteFails = false;
  private hit(agent: AgentTarget, what: string) {
    if (this.unreachable.has(agent.name)) throw new AgentUnavailableError(`agent ${agent.name} unreachable`, { host: agent.name, op: what });
    this.calls.push(`${what} on ${agent.name}`);
  }
  async stopVm(a: AgentTarget, id: string) { this.hit(a, `stop ${id}`); }
  async killVm(a: AgentTarget, id: string) { this.hit(a, `kill ${id}`); }
  async contVm(a: AgentTarget, id: string) { this.hit(a, `cont ${id}`); }
  async deleteVm(a: AgentTarget, id: string) { this.hit(a, `delete ${id}`); }
  retireReply: RetireReply = { how: 'acpi', ms: 420, timedOut: false, reason: null };
  retireTimeouts: number[] = [];
  async retireVm(a: AgentTarget, id: string, o: { timeoutMs: number }) {
    this.hit(a, `retire ${id}`);
    this.retireTimeouts.push(o.timeoutMs);
    return this.retireReply;
  }
  async stopReplication(a: AgentTarget, id: string) { this.hit(a, `stop replication ${id}`); }
  async promote(a: AgentTarget, id: string, mode: 'warm' | 'cold'): Promise<PromoteReply> {
    this.hit(a, `promote ${id} ${mode}`);
    return this.promoteFails ? { ok: false, ms: 0, vm: { state: 'running', pid: 1, endpoint: null }, error: 'mount failed' } : { ok: true, ms: 120, vm: { state: 'running', pid: 700, endpoint: 'http://10.0.0.2:4000' }, error: null };
  }
  migrationFails = false;
  /** The traffic route seen while the source was held at switchover. */
  routeAtSwitchover: unknown = undefined;
  onSwitchover: () => unknown = () => undefined;
  async migrate(p: AgentTarget, id: string, s: AgentTarget, sid: string, opts: { atSwitchover?: () => Promise<void> } = {}) {
    this.hit(p, `migrate ${id} -> ${sid} on ${s.name}`);
    if (opts.atSwitchover) {
      await opts.atSwitchover();
      this.routeAtSwitchover = this.onSwitchover();
    }
    if (this.migrationFails) return { ok: false, completed: false, downtimeMs: null, totalMs: 300, error: 'the stream broke' };
    return { ok: true, completed: true, downtimeMs: 30, totalMs: 420, error: null };
  }
  async resize(a: AgentTarget, id: string, size: { vcpus: number; memoryMiB: number }) {
    this.hit(a, `resize ${id} ${size.vcpus}/${size.memoryMiB}`);
    return size;
  }
}

class FakeTraffic implements TrafficSwitch {
  readonly name = 'fake';
  readonly capabilities = { routesPort: true, checksHealth: false, ipv6: true };
  routes = new Map<string, Backend>();
  counters = { requests: 0, http5xx: 0, connectionErrors: 0, responseErrors: 0 };
  haproxy503 = 0;
  async stats(service: string) {
    // The backend also counts HAProxy's own 503s (no server up): the controller reads the server row.
    return { service, servers: { active: { ...this.counters, address: '10.0.0.1', status: 'UP' } }, backend: { ...this.counters, http5xx: this.counters.http5xx + this.haproxy503 } };
  }
  async ensure(service: string, b: Backend, _opts?: EnsureOptions) {
    const changed = JSON.stringify(this.routes.get(service)) !== JSON.stringify(b);
    this.routes.set(service, b);
    return { service, changed } as never;
  }
  async observe() { return {} as never; }
  async disable() { return {} as never; }
  async close() {}
}

function config(yaml = ''): UmbraConfig {
  const r = parseConfigText(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r));
  return r.config;
}

const shadowRow = (sync = 'synchronized', flavor: 'warm' | 'migrate' = 'warm'): ShadowRow => ({
  id: 'vm1-s1', vmId: 'vm1', host: 'h2', flavor, mode: 'sync', intervalSeconds: 300, size: { vcpus: 2, memoryMiB: 256 }, createdAt: T0 - 60_000,
  phase: 'active', reason: 'protected', replaces: null,
  status: { sync, syncSince: T0 - 30_000, progress: null, lagBytes: 0, lagSeconds: 0, generation: 1, target: { host: '10.0.0.2', port: 10809, export: 'vm1-s1' }, vm: { state: 'running', pid: 700, endpoint: 'http://10.0.0.2:4000' }, targetPid: 600, error: null, initialCopyBytesPerSec: null, readyAt: T0 - 50_000, verify: null, rehearsal: null },
});

describe('FailoverController', () => {
  let store: Store;
  let clock: ManualClock;
  let agents: FakeAgents;
  let traffic: FakeTraffic;
  let ctl: FailoverController;
  let cfg: UmbraConfig;
  let kicked = 0;

  beforeEach(async () => {
    clock = new ManualClock(T0);
    store = openSqliteStore({ path: ':memory:', now: T0 });
    agents = new FakeAgents();
    traffic = new FakeTraffic();
    cfg = config();
    kicked = 0;
    ctl = new FailoverController({ store, clock, agents, config: () => cfg, log: quiet, traffic, probe: async () => true, kickShadows: () => kicked++, random: (n) => Buffer.alloc(n, 7) });
    await store.transaction((tx) => {
      for (const h of ['h1', 'h2']) tx.putAgent({ name: h, apiUrl: `http://${h}:7070`, address: h, labels: {}, capacity: { cores: 2, memoryMiB: 8192 } }, { now: T0, leaseExpiresAt: T0 + 15_000, observed: [] });
      tx.createVm({ id: 'vm1', role: 'primary', spec: { vcpus: 1, memoryMiB: 128, host: 'h1', labels: {} }, createdAt: T0 - 3_600_000, status: { state: 'running', host: 'h1', pid: 100, endpoint: 'http://10.0.0.1:3000', observedAt: T0, lastError: null } });
      tx.putShadow(shadowRow());
    });
  });
  afterEach(async () => store.close());

  const setState = (state: string) => store.transaction((tx) => tx.setVmStatus('vm1', { state, host: 'h1', pid: null, endpoint: null, observedAt: T0, lastError: null }));
  const events = async () => (await store.read((r) => r.listEvents())).map((e) => e.kind);

  it('a crashed primary with a synchronized warm shadow: fence, stop replication, promote, resize, health, traffic, adopt, retire', async () => {
    await ctl.pass();
    expect(agents.calls).toEqual([]); // running: nothing to do
    expect(traffic.routes.get('vm1')).toEqual({ host: '10.0.0.1', port: 3000 }); // the path is (re)applied every pass
    await setState('crashed');
    await ctl.pass();
    // Crashed: nothing to pause; the agent's kill makes sure (a no-op on an exited VM).
    expect(agents.calls).toEqual(['kill vm1 on h1', 'stop replication vm1 on h1', 'promote vm1-s1 warm on h2', 'resize vm1-s1 2/256 on h2', 'retire vm1 on h1']);
    const [fo] = await store.read((r) => r.listFailovers());
    expect(fo).toMatchObject({ state: 'done', path: 'warm', fromHost: 'h1', toHost: 'h2', shadowId: 'vm1-s1', dataLossBoundSeconds: 0 });
    expect(fo.reason).toMatch(/state in \[crashed/);
    expect(fo.steps.map((s) => [s.name, s.ok])).toEqual(
      ['hook_before_fence', 'fence', 'stop_replication', 'promote', 'resize', 'health', 'traffic', 'hook_after_traffic', 'adopt', 'retire_old', 'hook_after_failover'].map((n) => [n, true]),
    );
    expect(traffic.routes.get('vm1')).toEqual({ host: '10.0.0.2', port: 4000 });
    const vm = (await store.read((r) => r.getVm('vm1')))!;
    expect(vm.spec).toMatchObject({ host: 'h2', instance: 'vm1-s1' });
    expect(await store.read((r) => r.getShadow('vm1-s1'))).toBeUndefined();
    expect(kicked).toBe(1);
    const kinds = await events();
    expect(kinds.filter((k) => k === 'failover.step')).toHaveLength(11);
    expect(kinds).toContain('failover.started');
    expect(kinds).toContain('failover.done');
  });

  it('calm: the promoted VM is not failed over again at once', async () => {
    await setState('crashed');
    await ctl.pass();
    await setState('crashed');
    agents.calls = [];
    clock.advance(1000);
    await ctl.pass();
    expect(agents.calls).toEqual([]);
    expect((await store.read((r) => r.listAlerts())).map((a) => a.key)).toContain('failover_blocked/vm1');
  });

  it('a shadow that is not synchronized is not promoted under max_data_loss 0: blocked and alerted', async () => {
    await store.transaction((tx) => tx.putShadow(shadowRow('lagging')));
    await setState('crashed');
    await ctl.pass();
    expect(agents.calls).toEqual([]);
    expect((await store.read((r) => r.listAlerts())).map((a) => a.key)).toContain('shadow_not_synchronized/vm1');
  });

  it("an unreachable primary agent: the controller waits for its lease to expire (it fences itself) before promoting", async () => {
    agents.unreachable.add('h1');
    await store.transaction((tx) => tx.renewLease('h2', { now: T0, leaseExpiresAt: T0 + 600_000, observed: [] })); // the shadow's host stays alive
    await setState('crashed');
    const p = ctl.pass();
    await new Promise((r) => setTimeout(r, 20));
    expect(agents.calls).toEqual([]); // waiting
    for (let i = 0; i < 40 && !agents.calls.length; i++) {
      clock.advance(500);
      await new Promise((r) => setTimeout(r, 5));
    }
    await p;
    expect(clock.now()).toBeGreaterThanOrEqual(T0 + 15_000 + 2000);
    expect(agents.calls[0]).toBe('promote vm1-s1 warm on h2');
    const [fo] = await store.read((r) => r.listFailovers());
    expect(fo.steps.find((s) => s.name === 'fence')).toMatchObject({ ok: true, detail: expect.stringMatching(/lease expired/) });
  });

  it('a failed promotion fails the failover, alerts, and leaves the VM where it was', async () => {
    agents.promoteFails = true;
    await setState('crashed');
    await ctl.pass();
    const [fo] = await store.read((r) => r.listFailovers());
    expect(fo).toMatchObject({ state: 'failed' });
    expect(fo.steps.at(-1)).toMatchObject({ name: 'promote', ok: false, detail: expect.stringMatching(/mount failed/) });
    expect((await store.read((r) => r.getVm('vm1')))!.spec.host).toBe('h1');
    expect((await store.read((r) => r.listAlerts())).map((a) => a.key)).toContain('failover_failed/vm1');
  });

  it('a promotion that fails after a running primary was paused: the primary is resumed', async () => {
    agents.promoteFails = true;
    await ctl.failover('vm1'); // running: fenced by a pause
    expect(agents.calls).toEqual(['stop vm1 on h1', 'stop replication vm1 on h1', 'promote vm1-s1 warm on h2', 'cont vm1 on h1']);
    expect((await events()).includes('failover.rolled_back')).toBe(true);
  });

  it('killed halfway: a restarted controller resumes from the first unfinished step', async () => {
    await setState('crashed');
    // A previous controller recorded the intent and finished fence, then died inside stop_replication.
    const { startRecord, beginStep, endStep } = await import('./pipeline.js');
    let rec = startRecord({ kind: 'failover', vmId: 'vm1', path: 'warm', shadowId: 'vm1-s1', toHost: 'h2', dataLossBoundSeconds: 0, reason: 'x', priority: 0 }, { fromHost: 'h1', fromInstance: 'vm1' }, 'fo-old', T0 - 1000);
    rec = endStep(beginStep(rec, 'fence', T0 - 1000), 'fence', true, 'paused', T0 - 900);
    rec = beginStep(rec, 'stop_replication', T0 - 800);
    const saved = rec;
    await store.transaction((tx) => tx.putFailover(saved));
    await ctl.pass();
    expect(agents.calls[0]).toBe('stop replication vm1 on h1'); // no second fence
    const resumed = (await store.read((r) => r.listEvents())).find((e) => e.kind === 'failover.resumed');
    expect(resumed?.data).toMatchObject({ failoverId: 'fo-old', interrupted: 'stop_replication', from: 'hook_before_fence', finished: ['fence'] });
    expect(agents.calls).not.toContain('stop vm1 on h1');
    expect(await store.read((r) => r.listFailovers().map((f) => [f.id, f.state]))).toEqual([['fo-old', 'done']]);
  });

  it('a migrate shadow while the primary runs: live migration, no fence', async () => {
    await store.transaction((tx) => tx.putShadow(shadowRow('synchronized', 'migrate')));
    const r = await ctl.failover('vm1');
    expect(r.decision).toMatchObject({ kind: 'failover', path: 'migrate' });
    expect(agents.calls[0]).toBe('migrate vm1 -> vm1-s1 on h2 on h1');
    expect(agents.calls).not.toContain('stop vm1 on h1');
    expect(r.failover?.data).toMatchObject({ migrationDowntimeMs: 30, clientsMovedAtSwitchover: true });
  });

  it('a live migration moves the clients while the source is held at switchover, and back when it then fails', async () => {
    await store.transaction((tx) => tx.putShadow(shadowRow('synchronized', 'migrate')));
    agents.onSwitchover = () => traffic.routes.get('vm1');
    await ctl.failover('vm1');
    expect(agents.routeAtSwitchover).toEqual({ host: '10.0.0.2', port: 4000 }); // before the guest runs there

    // Again from h2, and the stream breaks after the switch: the clients go back to the source.
    await store.transaction((tx) => {
      tx.putShadow({ ...shadowRow('synchronized', 'migrate'), id: 'vm1-s2', host: 'h1', status: { ...shadowRow().status, vm: { state: 'inmigrate', pid: 900, endpoint: 'http://10.0.0.1:5000' } } });
    });
    agents.migrationFails = true;
    clock.advance(1000);
    const again = await ctl.failover('vm1');
    expect(again.failover).toMatchObject({ state: 'failed' });
    expect(agents.routeAtSwitchover).toEqual({ host: '10.0.0.1', port: 5000 });
    expect(traffic.routes.get('vm1')).toEqual({ host: '10.0.0.2', port: 4000 }); // back to the VM where it runs
  });

  it('hooks: outcomes recorded; a failed veto hook before fencing cancels the failover with nothing changed', async () => {
    cfg = config(`policies:
  failover_hooks:
    before_fence:
      - command: { argv: [/bin/sh, -c, 'echo draining {vm}'], timeout: 5s }
    after_failover:
      - command: { argv: [/bin/false] }
`);
    await setState('crashed');
    await ctl.pass();
    const [fo] = await store.read((r) => r.listFailovers());
    expect(fo.state).toBe('done');
    expect(fo.steps.find((s) => s.name === 'hook_before_fence')).toMatchObject({ ok: true, detail: '1 hook(s), all ok' });
    expect(fo.steps.find((s) => s.name === 'hook_after_failover')?.detail).toMatch(/1 failed: command \/bin\/false/);
    expect((fo.data.hooks_before_fence as { output: string }[])[0].output).toBe('draining vm1\n');

    // A veto hook that fails: aborted, no agent touched.
    await store.transaction((tx) => tx.putShadow({ ...shadowRow(), id: 'vm1-s2', host: 'h1' }));
    cfg = config(`policies:
  cooldown: 1s
  probation: 1s
  failover_hooks:
    before_fence:
      - command: { argv: [/bin/sh, -c, 'exit 7'] }
        veto: true
`);
    clock.advance(5000);
    agents.calls = [];
    await store.transaction((tx) => tx.setVmStatus('vm1', { state: 'crashed', host: 'h2', pid: null, endpoint: null, observedAt: T0, lastError: null }));
    await ctl.pass();
    const [vetoed] = await store.read((r) => r.listFailovers());
    expect(vetoed.state).toBe('aborted');
    expect(vetoed.steps.map((s) => [s.name, s.ok])).toEqual([['hook_before_fence', false]]);
    expect(agents.calls).toEqual([]);
    expect((await store.read((r) => r.listAlerts())).map((a) => a.key)).toContain('failover_vetoed/vm1');
  });

  it('fencing: a running primary is paused, a hung one (monitor silent) is killed', async () => {
    await ctl.failover('vm1'); // running: manual failover (overload-like)
    expect(agents.calls[0]).toBe('stop vm1 on h1');
    agents.calls = [];
    await store.transaction((tx) => {
      tx.updateVmSpec('vm1', { vcpus: 1, memoryMiB: 128, host: 'h1', labels: {} });
      tx.putShadow(shadowRow());
      tx.setVmStatus('vm1', { state: 'unknown', host: 'h1', pid: 100, endpoint: null, observedAt: T0, lastError: null });
    });
    await ctl.failover('vm1');
    expect(agents.calls[0]).toBe('kill vm1 on h1');
  });

  it('http_error_rate from the traffic switch: 5xx answers through HAProxy held for the window trigger a failover', async () => {
    cfg = config('policies:\n  failover_criteria: "http_error_rate > 50% for 4s"\n');
    const tick = async (requests: number, errors: number, madeUp503 = 0) => {
      traffic.counters.requests += requests;
      traffic.counters.http5xx += errors;
      traffic.haproxy503 += madeUp503;
      await store.transaction((tx) => {
        for (const h of ['h1', 'h2']) tx.renewLease(h, { now: clock.now(), leaseExpiresAt: clock.now() + 15_000, observed: [] });
      });
      await ctl.pass();
      clock.advance(1000);
    };
    for (let i = 0; i < 6; i++) await tick(10, 0); // healthy
    // HAProxy's check holds the server down: its 503s are not the VM's answers.
    for (let i = 0; i < 6; i++) await tick(1, 0, 20);
    expect(await store.read((r) => r.listFailovers())).toEqual([]);
    for (let i = 0; i < 3; i++) await tick(10, 9); // 90 % errors, not for 4 s yet
    expect(await store.read((r) => r.listFailovers())).toEqual([]);
    for (let i = 0; i < 3; i++) await tick(10, 9);
    const [fo] = await store.read((r) => r.listFailovers());
    expect(fo).toMatchObject({ state: 'done', path: 'warm' });
    expect(fo.reason).toMatch(/http_error_rate > 50% for 4s/);
    expect(agents.calls[0]).toBe('stop vm1 on h1'); // running: paused, not killed
    // The pass that failed over re-applies the NEW path, not the one its snapshot held (the old,
    // running primary's: HAProxy would send clients back to the fenced guest).
    expect(traffic.routes.get('vm1')).toEqual({ host: '10.0.0.2', port: 4000 });
  });

  it('traffic is not re-applied while a failover runs, nor after one failed once it had switched traffic', async () => {
    await store.transaction((tx) =>
      tx.putFailover({ id: 'fo-x', vmId: 'vm1', state: 'failed', reason: 'x', path: 'warm', fromHost: 'h1', fromInstance: 'vm1', shadowId: 'vm1-s1', toHost: 'h2', dataLossBoundSeconds: 0, startedAt: T0 - 5000, endedAt: T0 - 4000, data: {},
        steps: [{ name: 'traffic', startedAt: T0 - 4500, endedAt: T0 - 4400, ok: true, detail: '' }, { name: 'adopt', startedAt: T0 - 4100, endedAt: T0 - 4000, ok: false, detail: 'store busy' }] }),
    );
    traffic.routes.set('vm1', { host: '10.0.0.2', port: 4000 });
    await ctl.pass();
    expect(traffic.routes.get('vm1')).toEqual({ host: '10.0.0.2', port: 4000 });
  });

  it('a manual failover and the loop never drive the same failover twice (no second promotion, no rollback beside it)', async () => {
    const slow = agents.promote.bind(agents);
    agents.promote = async (...args) => {
      await new Promise((r) => setTimeout(r, 50));
      return slow(...args);
    };
    const manual = ctl.failover('vm1');
    await new Promise((r) => setTimeout(r, 10));
    await Promise.all([manual, ctl.pass(), ctl.pass()]);
    expect(agents.calls.filter((c) => c.startsWith('promote'))).toHaveLength(1);
    expect(agents.calls.some((c) => c.startsWith('cont'))).toBe(false);
    expect((await store.read((r) => r.listFailovers())).map((f) => f.state)).toEqual(['done']);
  });

  it('after a failover the new primary is judged on its own state and samples, not the old instance\'s', async () => {
    cfg = config('policies:\n  cooldown: 1s\n  probation: 1s\n  failover_criteria: "state in [crashed, hung] or error_rate > 50% for 3s"\n');
    const probes = (from: number, n: number, ok: number) =>
      store.transaction((tx) => tx.insertSamples(Array.from({ length: n }, (_, i) => ({ vmId: 'vm1', t: from / 1000 + i, metric: 'probe_ok', value: ok, unit: 'bool' }))));
    await probes(T0 - 10_000, 2, 1); // a booted guest
    await probes(T0 - 8000, 8, 0); // then failing
    await setState('crashed');
    await ctl.pass();
    expect((await store.read((r) => r.listFailovers())).map((f) => f.state)).toEqual(['done']);
    const vm = (await store.read((r) => r.getVm('vm1')))!;
    expect(vm.status).toMatchObject({ state: 'running', host: 'h2', pid: 700, endpoint: 'http://10.0.0.2:4000' });
    // A new synchronized shadow, the calm periods over, the new primary probed fine since.
    await store.transaction((tx) => tx.putShadow({ ...shadowRow(), id: 'vm1-s2', host: 'h1' }));
    agents.calls = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await probes(clock.now(), 1, 1);
      await ctl.pass();
    }
    expect(agents.calls).toEqual([]);
    expect(await store.read((r) => r.listFailovers())).toHaveLength(1);
  });

  it('retire_old: the old primary ends gracefully within the policy\'s graceful_shutdown_timeout; the step says how', async () => {
    const retireStep = async () => (await store.read((r) => r.listFailovers()))[0].steps.find((s) => s.name === 'retire_old')!;
    await ctl.failover('vm1'); // running: paused by the fence, then retired
    expect(agents.calls.at(-1)).toBe('retire vm1 on h1');
    expect(agents.retireTimeouts).toEqual([10_000]); // the default: 10 s
    expect(await retireStep()).toMatchObject({ ok: true, detail: 'vm1 powered down by ACPI in 420 ms and removed on h1' });
    expect((await store.read((r) => r.listFailovers()))[0].data.retire).toEqual({ how: 'acpi', ms: 420, timedOut: false, reason: null, timeoutSeconds: 10 });

    // The next failover of the promoted VM retires its promoted-shadow instance, killed after a 3 s timeout.
    cfg = config('policies:\n  cooldown: 1s\n  probation: 1s\n  graceful_shutdown_timeout: 3s\n');
    await store.transaction((tx) => tx.putShadow({ ...shadowRow(), id: 'vm1-s2', host: 'h1' }));
    clock.advance(5000);
    agents.retireReply = { how: 'killed', ms: 3010, timedOut: true, reason: 'no power-off within 3000 ms' };
    const r = await ctl.failover('vm1');
    expect(r.failover?.state).toBe('done');
    expect(agents.calls.at(-1)).toBe('retire vm1-s1 on h2');
    expect(agents.retireTimeouts.at(-1)).toBe(3000);
    expect(r.failover!.steps.find((s) => s.name === 'retire_old')).toMatchObject({ ok: true, detail: 'vm1-s1 killed after the 3 s timeout and removed on h2' });
    expect(r.failover!.data.retire).toMatchObject({ how: 'killed', timedOut: true, timeoutSeconds: 3 });
  });

  it('retire_old details: already gone, killed at once; the timeout must be a duration', async () => {
    const { retireDetail } = await import('./controller.js');
    expect(retireDetail('vm1', 'h1', 10, { how: 'gone', ms: 3, timedOut: false, reason: 'no process (exited)' })).toBe('vm1 already gone on h1 (no process (exited)): removed');
    expect(retireDetail('vm1', 'h1', 10, { how: 'killed', ms: 3, timedOut: false, reason: 'state postmigrate: its guest must not (or cannot) run again to power off' })).toMatch(/^vm1 killed at once \(state postmigrate/);
    expect(parseConfigText('policies:\n  graceful_shutdown_timeout: soon\n').ok).toBe(false);
    expect(parseConfigText('policies:\n  graceful_shutdown_timeout: 0\n').ok).toBe(false);
    expect(config('policies:\n  graceful_shutdown_timeout: 1m\n').policies.graceful_shutdown_timeout).toBe(60);
  });

  it('after the promotion there is no way back: a failing step is retried (failover_stuck alert) until the failover completes; a failed hot-add is not fatal', async () => {
    agents.resize = async () => {
      throw new Error('hot-add refused');
    };
    const ensure = traffic.ensure.bind(traffic);
    let refusals = 2;
    traffic.ensure = async (...args) => {
      if (args[2]?.assumeHealthy && refusals-- > 0) throw new Error('admin socket busy');
      return ensure(...args);
    };
    await setState('crashed');
    await ctl.pass();
    let [fo] = await store.read((r) => r.listFailovers());
    expect(fo.state).toBe('running');
    expect(fo.steps.find((x) => x.name === 'resize')).toMatchObject({ ok: true, detail: expect.stringMatching(/not resized \(hot-add refused\)/) });
    expect(fo.steps.find((x) => x.name === 'traffic')).toMatchObject({ ok: false, detail: 'admin socket busy' });
    expect((await store.read((r) => r.listAlerts())).map((a) => a.key)).toContain('failover_stuck/vm1');
    expect(agents.calls.filter((c) => c.startsWith('cont'))).toEqual([]); // never rolled back: the shadow runs
    await ctl.pass(); // not due yet (2 s backoff)
    expect((await store.read((r) => r.listFailovers()))[0].state).toBe('running');
    for (let i = 0; i < 10 && fo.state === 'running'; i++) {
      clock.advance(5000);
      await ctl.pass();
      await new Promise((r) => setTimeout(r, 20));
      [fo] = await store.read((r) => r.listFailovers());
    }
    expect(fo.state).toBe('done');
    expect(traffic.routes.get('vm1')).toEqual({ host: '10.0.0.2', port: 4000 });
    expect((await store.read((r) => r.listAlerts())).map((a) => a.key)).not.toContain('failover_stuck/vm1');
  });

  it('--dry-run decides and changes nothing', async () => {
    const r = await ctl.failover('vm1', { dryRun: true });
    expect(r).toMatchObject({ dryRun: true, decision: { kind: 'failover', path: 'warm', shadowId: 'vm1-s1' } });
    expect(agents.calls).toEqual([]);
    expect(await store.read((r) => r.listFailovers())).toEqual([]);
  });
});
