import { describe, expect, it } from 'vitest';
import { hostLayout, labLayout, MAX_LAB_HOSTS } from './layout.js';

describe('labLayout', () => {
  it('names hosts, namespaces, veths and addresses deterministically and places VMs round-robin', () => {
    const l = labLayout(2, 3);
    expect(l.network).toEqual({ bridge: 'umbra-br0', bridgeAddress: '10.213.0.1', prefix: 24 });
    expect(l.hosts).toEqual([
      { name: 'h1', netns: 'umbra-h1', address: '10.213.0.11', vethRoot: 'umbra-h1-br', vethNs: 'umbra-h1-ns' },
      { name: 'h2', netns: 'umbra-h2', address: '10.213.0.12', vethRoot: 'umbra-h2-br', vethNs: 'umbra-h2-ns' },
    ]);
    expect(l.vms).toEqual([
      { id: 'vm1', host: 'h1' },
      { id: 'vm2', host: 'h2' },
      { id: 'vm3', host: 'h1' },
    ]);
  });

  it('keeps interface names within the 15-byte Linux limit up to the largest lab', () => {
    const h = hostLayout(MAX_LAB_HOSTS);
    expect(h.address).toBe('10.213.0.99');
    expect(h.vethRoot.length).toBeLessThanOrEqual(15);
    expect(h.vethNs.length).toBeLessThanOrEqual(15);
  });

  it('rejects counts out of range with a USAGE error', () => {
    expect(() => labLayout(0, 1)).toThrow(/--hosts must be an integer from 1 to 89/);
    expect(() => labLayout(90, 1)).toThrow(/--hosts/);
    expect(() => labLayout(1.5, 1)).toThrow(/--hosts/);
    expect(() => labLayout(1, -1)).toThrow(/--vms/);
    try {
      labLayout(0, 0);
    } catch (e) {
      expect((e as { code: string; context: { step: string } }).code).toBe('USAGE');
      expect((e as { context: { step: string } }).context.step).toBe('args');
    }
  });
});
