import { describe, expect, it } from 'vitest';
import { planShadows, type PlanHost, type PlanInput, type PlanShadow, type PlanVm } from './plan.js';

const NOW = 1_700_000_000_000;
const MIN = 60_000;
const HOUR = 60 * MIN;

const host = (name: string, zone: string | null, over: Partial<PlanHost> = {}): PlanHost => ({
  name,
  labels: zone ? { zone } : {},
  alive: true,
  capacity: { cores: 4, memoryMiB: 8192 }, // 16 vCPUs with the default 4× CPU overcommit
  reserved: { vcpus: 0, memoryMiB: 0 },
  ...over,
});
const vm = (id: string, hostName: string, over: Partial<PlanVm> = {}): PlanVm => ({
  id,
  host: hostName,
  risk: 0.3,
  threshold: 0.2,
  priority: 0,
  maxShadowAgeSeconds: 24 * 3600,
  size: { vcpus: 2, memoryMiB: 1024 },
  ...over,
});
const shadow = (id: string, vmId: string, hostName: string, over: Partial<PlanShadow> = {}): PlanShadow => ({
  id,
  vmId,
  host: hostName,
  size: { vcpus: 2, memoryMiB: 1024 },
  createdAtMs: NOW - HOUR,
  state: 'synchronized',
  lowRiskSinceMs: null,
  replaces: null,
  ...over,
});
const HOSTS = [host('h1', 'a'), host('h2', 'a'), host('h3', 'b'), host('h4', 'b', { reserved: { vcpus: 8, memoryMiB: 4096 } })];
const plan = (over: Partial<PlanInput>) => planShadows({ nowMs: NOW, vms: [], shadows: [], hosts: HOSTS, budgets: { total: {}, per_host: {} }, ...over });
const kinds = (p: ReturnType<typeof planShadows>) => p.actions.map((a) => `${a.kind}:${a.vmId}${'shadowId' in a ? `:${a.shadowId}` : ''}${'host' in a ? `@${a.host}` : ''}${'reason' in a ? `:${a.reason}` : ''}`);

describe('planShadows: creation and placement', () => {
  it('creates at risk ≥ threshold in another failure domain, on the host with most room', () => {
    const p = plan({ vms: [vm('vm1', 'h1'), vm('vm2', 'h1', { risk: 0.19 })] });
    expect(kinds(p)).toEqual(['create:vm1@h3:risk']);
    const d = p.decisions.get('vm1')!;
    expect(d.summary).toBe('create on h3 (16 vCPU, 8192 MiB free, other domain (b)): risk 0.3 ≥ threshold 0.2');
    expect(d.placement?.candidates.map((c) => [c.host, c.rank ?? c.rejected])).toEqual([
      ['h3', 1],
      ['h4', 2],
      ['h2', 3],
      ['h1', 'primary_host'],
    ]);
    expect(p.decisions.get('vm2')!.summary).toBe('no shadow: risk 0.19 < threshold 0.2');
  });

  it('spreads shadows: the domain with fewest shadows first, counting this pass', () => {
    const hosts = [host('h1', 'a'), host('h2', 'b'), host('h3', 'c'), host('h4', 'c')];
    const p = plan({ hosts, vms: [vm('vm1', 'h1', { risk: 0.9 }), vm('vm2', 'h1', { risk: 0.8 }), vm('vm3', 'h1', { risk: 0.7 })], shadows: [shadow('x-s1', 'x', 'h2')] });
    // x-s1 belongs to no known VM: retired, but it still counts in zone b this pass. vm1 goes to the
    // empty zone c; vm2 ties b and c (one each) and h2 has as much room as h4: by name; vm3: zone c.
    expect(kinds(p)).toEqual(['retire:x:x-s1:vm_deleted', 'create:vm1@h3:risk', 'create:vm2@h2:risk', 'create:vm3@h4:risk']);
    expect(p.orphans).toHaveLength(1);
  });

  it('gives protected VMs, then unprotected ones, then higher risk × priority the room first', () => {
    const hosts = [host('h1', 'a'), host('h2', 'b', { capacity: { cores: 1, memoryMiB: 2048 } })]; // room for 2 shadows of 2 vCPU
    const p = plan({
      hosts,
      vms: [vm('vm1', 'h1', { risk: 0.5 }), vm('vm2', 'h1', { risk: 0, protect: true }), vm('vm3', 'h1', { risk: 0.9 }), vm('vm4', 'h1', { risk: 0.5, priority: 1 })],
    });
    expect(kinds(p)).toEqual(['create:vm2@h2:protected', 'create:vm3@h2:risk', 'unplaced:vm4:no_host_with_room', 'unplaced:vm1:no_host_with_room']);
    const u = p.actions[2];
    expect(u.kind === 'unplaced' && u.detail).toBe('h2: no room for 2 vCPU, 1024 MiB (0 vCPU, 0 MiB free)');
  });

  it('reports the total budget, per-host budgets and a lone primary host', () => {
    const budgets = { total: { cores: 3 }, per_host: {} };
    const p = plan({ budgets, vms: [vm('vm1', 'h1', { risk: 0.9 }), vm('vm2', 'h1', { risk: 0.8 })] });
    expect(kinds(p)).toEqual(['create:vm1@h3:risk', 'unplaced:vm2:budget']);
    const u = p.actions[1];
    expect(u.kind === 'unplaced' && u.detail).toBe('total budget: 2 of 3 cores used, 2 more needed');
    const q = plan({ budgets: { total: {}, per_host: { memory_gib: 0.5 } }, vms: [vm('vm1', 'h1')] });
    expect(kinds(q)).toEqual(['unplaced:vm1:budget']);
    const r = plan({ hosts: [host('h1', 'a'), host('h2', 'b', { alive: false })], vms: [vm('vm1', 'h1')] });
    expect(kinds(r)).toEqual(['unplaced:vm1:only_primary_host']);
    expect(r.decisions.get('vm1')!.summary).toBe("wants a shadow (risk 0.3 ≥ threshold 0.2), unplaced: no live host other than the primary's");
  });
});

describe('planShadows: hysteresis', () => {
  it('keeps between the two levels and retires only after the delay below the lower one', () => {
    const s = shadow('vm1-s1', 'vm1', 'h3');
    expect(kinds(plan({ vms: [vm('vm1', 'h1', { risk: 0.15 })], shadows: [s] }))).toEqual(['keep:vm1:vm1-s1']);
    const first = plan({ vms: [vm('vm1', 'h1', { risk: 0.05 })], shadows: [s] });
    expect(first.actions).toEqual([{ kind: 'keep', vmId: 'vm1', shadowId: 'vm1-s1', lowRiskSinceMs: NOW, detail: 'risk 0.05 < 0.1 for 0s: retire after the delay' }]);
    const later = plan({ nowMs: NOW + 29 * MIN, vms: [vm('vm1', 'h1', { risk: 0.05 })], shadows: [{ ...s, lowRiskSinceMs: NOW }] });
    expect(later.actions[0]).toMatchObject({ kind: 'keep', lowRiskSinceMs: NOW });
    const done = plan({ nowMs: NOW + 30 * MIN, vms: [vm('vm1', 'h1', { risk: 0.05 })], shadows: [{ ...s, lowRiskSinceMs: NOW }] });
    expect(kinds(done)).toEqual(['retire:vm1:vm1-s1:low_risk']);
    // Back above the lower level: the clock restarts.
    const back = plan({ nowMs: NOW + 29 * MIN, vms: [vm('vm1', 'h1', { risk: 0.12 })], shadows: [{ ...s, lowRiskSinceMs: NOW }] });
    expect(back.actions[0]).toMatchObject({ kind: 'keep', lowRiskSinceMs: null });
    // Protected: never retired.
    const prot = plan({ nowMs: NOW + 5 * HOUR, vms: [vm('vm1', 'h1', { risk: 0, protect: true })], shadows: [{ ...s, lowRiskSinceMs: NOW }] });
    expect(prot.actions[0]).toMatchObject({ kind: 'keep', lowRiskSinceMs: null, detail: 'protected VM' });
  });
});

describe('planShadows: refresh, lost hosts, deleted VMs', () => {
  it('refreshes an old shadow by creating the new one first, and retires the old once synchronized', () => {
    const old = shadow('vm1-s1', 'vm1', 'h3', { createdAtMs: NOW - 25 * HOUR });
    const p1 = plan({ vms: [vm('vm1', 'h1')], shadows: [old] });
    // h3 (where the old one runs) and h4 share zone b; h3 has more room left.
    expect(kinds(p1)).toEqual(['keep:vm1:vm1-s1', 'refresh:vm1:vm1-s1@h3:max_age']);
    expect(p1.decisions.get('vm1')!.summary).toBe('refresh on h3: vm1-s1 is 25h old (max_shadow_age 24h); the old one stays until the new one is synchronized');
    const fresh = shadow('vm1-s2', 'vm1', 'h3', { createdAtMs: NOW, state: 'syncing', replaces: 'vm1-s1' });
    const p2 = plan({ nowMs: NOW + MIN, vms: [vm('vm1', 'h1')], shadows: [old, fresh] });
    expect(kinds(p2)).toEqual(['keep:vm1:vm1-s1', 'keep:vm1:vm1-s2']);
    const p3 = plan({ nowMs: NOW + 2 * MIN, vms: [vm('vm1', 'h1')], shadows: [old, { ...fresh, state: 'synchronized' }] });
    expect(kinds(p3)).toEqual(['retire:vm1:vm1-s1:replaced', 'keep:vm1:vm1-s2']);
  });

  it('replaces a shadow on the primary host and one whose host is lost', () => {
    const p = plan({ vms: [vm('vm1', 'h1'), vm('vm2', 'h1', { risk: 0.15 })], shadows: [shadow('vm1-s1', 'vm1', 'h1'), shadow('vm2-s1', 'vm2', 'h2')], hosts: [...HOSTS.slice(0, 1), host('h2', 'a', { alive: false }), ...HOSTS.slice(2)] });
    expect(kinds(p)).toEqual(['retire:vm2:vm2-s1:host_lost', 'keep:vm1:vm1-s1', 'refresh:vm1:vm1-s1@h3:on_primary_host', 'create:vm2@h3:host_lost']);
    // vm1 had a shadow (on its own host) before vm2 had none, yet vm2 placed after: a shadow on the
    // primary's host counts as unprotected, and vm1's risk is higher.
  });

  it('keeps one of two independent shadows', () => {
    const p = plan({ vms: [vm('vm1', 'h1')], shadows: [shadow('vm1-s2', 'vm1', 'h3', { createdAtMs: NOW - 10 * MIN }), shadow('vm1-s1', 'vm1', 'h4', { state: 'lagging' })] });
    expect(kinds(p)).toEqual(['retire:vm1:vm1-s1:duplicate', 'keep:vm1:vm1-s2']);
  });

  it('is deterministic whatever the input order', () => {
    const input = { vms: [vm('b', 'h1'), vm('a', 'h2'), vm('c', 'h3', { risk: 0.5 })], shadows: [shadow('z', 'zz', 'h2')] };
    const p = plan(input);
    const q = plan({ vms: [...input.vms].reverse(), shadows: input.shadows, hosts: [...HOSTS].reverse() });
    expect(kinds(q)).toEqual(kinds(p));
  });
});
