import { describe, expect, it } from 'vitest';
import type { AgentRow, VmRow } from '../store/store.js';
import { hostLoads, placeVm, type HostLoad } from './placement.js';

const host = (name: string, cores: number, memoryMiB: number, used: [number, number, number] = [0, 0, 0], alive = true): HostLoad => ({
  name,
  alive,
  capacity: { cores, memoryMiB },
  used: { vcpus: used[0], memoryMiB: used[1], vms: used[2] },
});
const exact = { cpuOvercommit: 1, memoryOvercommit: 1 };

describe('placeVm', () => {
  it('picks the live host whose larger share after placement is smallest', () => {
    // After adding 1 vCPU / 512 MiB: a = max(3/4, 1536/4096) = 0.75; b = max(2/4, 2560/4096) = 0.625.
    const hosts = [host('a', 4, 4096, [2, 1024, 2]), host('b', 4, 4096, [1, 2048, 1])];
    expect(placeVm({ vcpus: 1, memoryMiB: 512 }, hosts, exact)).toBe('b');
    // With 4× CPU overcommit the CPU share shrinks: a = max(3/16, 0.375) = 0.375 < b = 0.625.
    expect(placeVm({ vcpus: 1, memoryMiB: 512 }, hosts, { cpuOvercommit: 4, memoryOvercommit: 1 })).toBe('a');
  });

  it('breaks ties by fewer VMs, then by name', () => {
    expect(placeVm({ vcpus: 1, memoryMiB: 128 }, [host('b', 2, 1024), host('a', 2, 1024)], exact)).toBe('a');
    expect(placeVm({ vcpus: 1, memoryMiB: 128 }, [host('a', 2, 1024, [0, 0, 1]), host('b', 2, 1024)], exact)).toBe('b');
  });

  it('skips hosts that are not alive or have no room, and says why when none fits', () => {
    const hosts = [host('a', 1, 1024, [1, 128, 1]), host('b', 8, 8192, [0, 0, 0], false), host('c', 2, 256, [0, 200, 1])];
    expect(() => placeVm({ vcpus: 1, memoryMiB: 128 }, hosts, exact)).toThrow(
      expect.objectContaining({ code: 'NO_CAPACITY', message: expect.stringContaining('a: 0 vCPU, 896 MiB free; c: 2 vCPU, 56 MiB free') }),
    );
    expect(placeVm({ vcpus: 1, memoryMiB: 56 }, hosts, exact)).toBe('c');
    expect(() => placeVm({ vcpus: 1, memoryMiB: 1 }, [host('b', 8, 8192, [0, 0, 0], false)], exact)).toThrow(expect.objectContaining({ code: 'NO_CAPACITY', message: expect.stringContaining('no live host') }));
  });

  it('honours a requested host or says what is wrong with it', () => {
    const hosts = [host('a', 2, 1024), host('b', 2, 1024, [2, 0, 2]), host('d', 2, 1024, [0, 0, 0], false)];
    expect(placeVm({ vcpus: 2, memoryMiB: 1024, host: 'a' }, hosts, exact)).toBe('a');
    expect(() => placeVm({ vcpus: 1, memoryMiB: 1, host: 'b' }, hosts, exact)).toThrow(expect.objectContaining({ code: 'NO_CAPACITY' }));
    expect(() => placeVm({ vcpus: 1, memoryMiB: 1, host: 'd' }, hosts, exact)).toThrow(expect.objectContaining({ code: 'NO_CAPACITY', message: expect.stringContaining('not alive') }));
    expect(() => placeVm({ vcpus: 1, memoryMiB: 1, host: 'zz' }, hosts, exact)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});

describe('hostLoads', () => {
  it('sums the specs placed on each host and judges the lease at now', () => {
    const agent = (name: string, leaseExpiresAt: number) => ({ name, capacity: { cores: 2, memoryMiB: 1024 }, leaseExpiresAt }) as AgentRow;
    const vm = (id: string, h: string, vcpus: number, memoryMiB: number) => ({ id, spec: { host: h, vcpus, memoryMiB, labels: {} } }) as unknown as VmRow;
    const loads = hostLoads([agent('a', 1000), agent('b', 999)], [vm('1', 'a', 1, 128), vm('2', 'a', 2, 256), vm('3', 'x', 1, 1)], 999);
    expect(loads.map((l) => [l.name, l.alive, l.used])).toEqual([
      ['a', true, { vcpus: 3, memoryMiB: 384, vms: 2 }],
      ['b', false, { vcpus: 0, memoryMiB: 0, vms: 0 }],
    ]);
    // Shadows reserve their size on their host.
    const withShadow = hostLoads([agent('a', 1000), agent('b', 1000)], [vm('1', 'a', 1, 128)], 999, [{ host: 'b', size: { vcpus: 2, memoryMiB: 256 } }]);
    expect(withShadow.map((l) => [l.name, l.used])).toEqual([
      ['a', { vcpus: 1, memoryMiB: 128, vms: 1 }],
      ['b', { vcpus: 2, memoryMiB: 256, vms: 1 }],
    ]);
  });
});
