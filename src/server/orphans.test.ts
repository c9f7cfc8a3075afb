import { describe, expect, it } from 'vitest';
import type { AgentRow, VmRow } from '../store/store.js';
import { findOrphans, OrphanTracker } from './orphans.js';

const agent = (name: string, ids: string[], lease = 10_000): AgentRow => ({
  name, apiUrl: `http://${name}`, address: name, labels: {}, capacity: { cores: 2, memoryMiB: 1024 }, registeredAt: 0, lastSeenAt: 0, leaseExpiresAt: lease,
  observed: ids.map((id) => ({ id, state: 'paused', pid: 1, endpoint: null, lastError: null })),
});
const vm = (id: string, host: string, instance?: string): VmRow => ({
  id, role: 'primary', generation: 1, createdAt: 0,
  spec: { vcpus: 1, memoryMiB: 128, host, labels: {}, ...(instance ? { instance } : {}) },
  status: { state: 'running', host, pid: 1, endpoint: null, observedAt: 0, lastError: null },
});

describe('findOrphans', () => {
  it('the old primary on a host that came back after its VM failed over is an orphan; the promoted instance and shadows are not', () => {
    const agents = [agent('h1', ['vm1']), agent('h2', ['vm1-s1', 'vm1-s2']), agent('h3', ['vm9'], 0)];
    const vms = [vm('vm1', 'h2', 'vm1-s1')];
    expect(findOrphans(agents, vms, [{ id: 'vm1-s2' }], 1000)).toEqual([{ host: 'h1', id: 'vm1' }]);
  });
});

describe('OrphanTracker', () => {
  it('due only after the grace period, and only while still seen', () => {
    const t = new OrphanTracker(10_000);
    const o = { host: 'h1', id: 'vm1' };
    expect(t.due([o], 0)).toEqual([]);
    expect(t.due([o], 9_999)).toEqual([]);
    expect(t.due([o], 10_000)).toEqual([o]);
    expect(t.due([], 11_000)).toEqual([]);
    expect(t.due([o], 12_000)).toEqual([]); // seen again: the grace starts over
  });
});
