import { describe, expect, it } from 'vitest';
import type { AgentRow, ObservedVm, VmRow } from '../store/store.js';
import { observeVmStatus } from './vm-status.js';

const vm = { id: 'vm-1', spec: { host: 'h1', vcpus: 1, memoryMiB: 128, labels: {} } } as Pick<VmRow, 'id' | 'spec'>;
const agent = (leaseExpiresAt: number, observed: ObservedVm[] = []) =>
  ({ name: 'h1', leaseExpiresAt, lastSeenAt: 500, observed }) as unknown as AgentRow;
const running: ObservedVm = { id: 'vm-1', state: 'running', pid: 42, endpoint: 'http://h1:8080', lastError: null };

describe('observeVmStatus', () => {
  it('takes state, pid and endpoint from what the live host reports', () => {
    expect(observeVmStatus(vm, agent(2000, [running]), 1000)).toEqual({
      state: 'running',
      host: 'h1',
      pid: 42,
      endpoint: 'http://h1:8080',
      observedAt: 500,
      lastError: null,
    });
  });

  it('says host_lost once the lease has run out, keeping what was last seen', () => {
    expect(observeVmStatus(vm, agent(1000, [running]), 1000)).toMatchObject({ state: 'host_lost', pid: 42, endpoint: 'http://h1:8080' });
    expect(observeVmStatus(vm, agent(999), 1000)).toMatchObject({ state: 'host_lost', pid: null });
  });

  it('says host_unknown without an agent of that name', () => {
    expect(observeVmStatus(vm, undefined, 1000)).toMatchObject({ state: 'host_unknown', observedAt: null });
  });

  it('tells pending, absent and failed apart by the last ensure', () => {
    expect(observeVmStatus(vm, agent(2000), 1000).state).toBe('pending');
    expect(observeVmStatus(vm, agent(2000), 1000, { at: 900, error: null }).state).toBe('absent');
    const error = { code: 'VM_START_FAILED', message: 'qemu exited', stderrTail: 'could not open disk' };
    expect(observeVmStatus(vm, agent(2000), 1000, { at: 900, error })).toMatchObject({ state: 'failed', lastError: error });
    // What the host reports wins over the server's memory of an ensure.
    expect(observeVmStatus(vm, agent(2000, [running]), 1000, { at: 900, error }).state).toBe('running');
  });
});

describe('observeVmStatus of a promoted instance', () => {
  it('reads the agent report under the instance id', async () => {
    const { observeVmStatus } = await import('./vm-status.js');
    const agent = {
      name: 'h2', apiUrl: 'http://h2', address: 'h2', labels: {}, capacity: { cores: 2, memoryMiB: 4096 },
      registeredAt: 0, lastSeenAt: 900, leaseExpiresAt: 10_000,
      observed: [{ id: 'vm1-s1', state: 'running', pid: 77, endpoint: 'http://h2:9', lastError: null }],
    };
    const st = observeVmStatus({ id: 'vm1', spec: { vcpus: 1, memoryMiB: 128, host: 'h2', labels: {}, instance: 'vm1-s1' } }, agent, 1000);
    expect(st).toMatchObject({ state: 'running', host: 'h2', pid: 77, endpoint: 'http://h2:9' });
  });
});
